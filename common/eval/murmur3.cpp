#include <cstring>

#include "common/eval/ops.h"

namespace ff::eval {

// MurmurHash3_x86_32 by Austin Appleby (public domain), as used by flagd's fractional
// operator (twmb/murmur3 StringSum32, seed 0). Little-endian block reads.
std::uint32_t murmur3_x86_32(std::string_view data, std::uint32_t seed) {
  constexpr std::uint32_t c1 = 0xcc9e2d51;
  constexpr std::uint32_t c2 = 0x1b873593;
  auto rotl = [](std::uint32_t x, int r) { return (x << r) | (x >> (32 - r)); };
  const auto* bytes = reinterpret_cast<const unsigned char*>(data.data());
  const std::size_t len = data.size();
  const std::size_t nblocks = len / 4;
  std::uint32_t h1 = seed;
  for (std::size_t i = 0; i < nblocks; ++i) {
    const unsigned char* p = bytes + i * 4;
    std::uint32_t k1 = static_cast<std::uint32_t>(p[0]) | (static_cast<std::uint32_t>(p[1]) << 8) |
                       (static_cast<std::uint32_t>(p[2]) << 16) |
                       (static_cast<std::uint32_t>(p[3]) << 24);
    k1 *= c1;
    k1 = rotl(k1, 15);
    k1 *= c2;
    h1 ^= k1;
    h1 = rotl(h1, 13);
    h1 = h1 * 5 + 0xe6546b64;
  }
  const unsigned char* tail = bytes + nblocks * 4;
  std::uint32_t k1 = 0;
  switch (len & 3) {
    case 3:
      k1 ^= static_cast<std::uint32_t>(tail[2]) << 16;
      [[fallthrough]];
    case 2:
      k1 ^= static_cast<std::uint32_t>(tail[1]) << 8;
      [[fallthrough]];
    case 1:
      k1 ^= tail[0];
      k1 *= c1;
      k1 = rotl(k1, 15);
      k1 *= c2;
      h1 ^= k1;
      break;
    default:
      break;
  }
  h1 ^= static_cast<std::uint32_t>(len);
  h1 ^= h1 >> 16;
  h1 *= 0x85ebca6b;
  h1 ^= h1 >> 13;
  h1 *= 0xc2b2ae35;
  h1 ^= h1 >> 16;
  return h1;
}

std::uint64_t fractional_bucket(std::uint32_t hash, std::uint64_t total_weight) {
  return (static_cast<std::uint64_t>(hash) * total_weight) >> 32;
}

}  // namespace ff::eval
