#include <bit>
#include <cstring>

#include "common/eval/ops.h"

namespace ff::eval {
namespace {

// MurmurHash3_x86_32 by Austin Appleby (public domain), as used by flagd's fractional
// operator (twmb/murmur3 StringSum32, seed 0): 4-byte little-endian blocks, then the tail.

constexpr std::uint32_t kC1 = 0xcc9e2d51;
constexpr std::uint32_t kC2 = 0x1b873593;

std::uint32_t rotl(std::uint32_t x, int r) {
  return (x << r) | (x >> (32 - r));
}

std::uint32_t load_le32(const unsigned char* p) {
  std::uint32_t w = 0;
  std::memcpy(&w, p, 4);
  if constexpr (std::endian::native == std::endian::big) w = __builtin_bswap32(w);
  return w;
}

std::uint32_t mix_block(std::uint32_t h1, std::uint32_t k1) {
  k1 *= kC1;
  k1 = rotl(k1, 15);
  k1 *= kC2;
  h1 ^= k1;
  h1 = rotl(h1, 13);
  return h1 * 5 + 0xe6546b64;
}

// Hashes the blocks of `p[0..n)` into h1; returns the number of bytes left (< 4).
std::size_t mix_blocks(std::uint32_t& h1, const unsigned char* p, std::size_t n) {
  std::uint32_t h = h1;
  std::size_t i = 0;
  for (; i + 4 <= n; i += 4) h = mix_block(h, load_le32(p + i));
  h1 = h;
  return n - i;
}

std::uint32_t finish(std::uint32_t h1, const unsigned char* tail, std::size_t rest,
                     std::size_t len) {
  std::uint32_t k1 = 0;
  switch (rest) {
    case 3:
      k1 ^= static_cast<std::uint32_t>(tail[2]) << 16;
      [[fallthrough]];
    case 2:
      k1 ^= static_cast<std::uint32_t>(tail[1]) << 8;
      [[fallthrough]];
    case 1:
      k1 ^= tail[0];
      k1 *= kC1;
      k1 = rotl(k1, 15);
      k1 *= kC2;
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

const unsigned char* bytes(std::string_view s) {
  return reinterpret_cast<const unsigned char*>(s.data());
}

}  // namespace

std::uint32_t murmur3_x86_32(std::string_view data, std::uint32_t seed) {
  std::uint32_t h1 = seed;
  const std::size_t rest = mix_blocks(h1, bytes(data), data.size());
  return finish(h1, bytes(data) + data.size() - rest, rest, data.size());
}

namespace {

// murmur3_x86_32_concat once `first` has `rest` (1 to 3) bytes left after its blocks: the
// block that straddles both pieces, then `second`.
[[gnu::noinline]] std::uint32_t concat_straddle(std::uint32_t h1, std::string_view first,
                                                std::size_t rest, std::string_view second) {
  const std::size_t len = first.size() + second.size();
  unsigned char block[4] = {0, 0, 0, 0};
  std::size_t filled = 0;
  for (; filled < rest; ++filled) block[filled] = bytes(first)[first.size() - rest + filled];
  std::size_t used = 0;
  for (; filled < 4 && used < second.size(); ++filled, ++used) block[filled] = bytes(second)[used];
  if (filled < 4) return finish(h1, block, filled, len);
  h1 = mix_block(h1, load_le32(block));
  const std::size_t tail = mix_blocks(h1, bytes(second) + used, second.size() - used);
  return finish(h1, bytes(second) + second.size() - tail, tail, len);
}

}  // namespace

std::uint32_t murmur3_x86_32_concat(std::string_view first, std::string_view second,
                                    std::uint32_t seed) {
  std::uint32_t h1 = seed;
  const std::size_t rest = mix_blocks(h1, bytes(first), first.size());
  if (rest != 0) return concat_straddle(h1, first, rest, second);
  const std::size_t tail = mix_blocks(h1, bytes(second), second.size());
  return finish(h1, bytes(second) + second.size() - tail, tail, first.size() + second.size());
}

std::uint64_t fractional_bucket(std::uint32_t hash, std::uint64_t total_weight) {
  return (static_cast<std::uint64_t>(hash) * total_weight) >> 32;
}

}  // namespace ff::eval
