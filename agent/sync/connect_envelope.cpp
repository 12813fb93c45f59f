#include "agent/sync/connect_envelope.h"

#include <algorithm>

namespace ff::sync {

namespace {
constexpr std::size_t kHeader = 5;
}

Result<std::vector<Envelope>> EnvelopeParser::feed(std::string_view bytes) {
  if (error_) return *error_;
  std::vector<Envelope> out;
  auto fail = [&](std::string code, std::string message) -> Result<std::vector<Envelope>> {
    error_ = Error{std::move(code), std::move(message), {}};
    buffer_.clear();
    return *error_;
  };
  while (!bytes.empty()) {
    if (ended_) return fail("bad_envelope", "data after the end-stream message");
    // Complete the 5-byte header first, then validate it before buffering any payload.
    if (buffer_.size() < kHeader) {
      const std::size_t take = std::min(kHeader - buffer_.size(), bytes.size());
      buffer_.append(bytes.substr(0, take));
      bytes.remove_prefix(take);
      if (buffer_.size() < kHeader) break;
      const auto flags = static_cast<std::uint8_t>(buffer_[0]);
      if ((flags & ~(kCompressed | kEndStream)) != 0) {
        return fail("bad_envelope", "unknown envelope flags " + std::to_string(flags));
      }
      std::uint32_t length = 0;
      for (std::size_t i = 1; i < kHeader; ++i) {
        length = (length << 8) | static_cast<std::uint8_t>(buffer_[i]);
      }
      if (length > max_message_) {
        return fail("too_large", "stream message of " + std::to_string(length) + " bytes exceeds " +
                                     std::to_string(max_message_));
      }
      buffer_.reserve(kHeader + length);
    }
    std::uint32_t length = 0;
    for (std::size_t i = 1; i < kHeader; ++i) {
      length = (length << 8) | static_cast<std::uint8_t>(buffer_[i]);
    }
    const std::size_t missing = kHeader + length - buffer_.size();
    const std::size_t take = std::min(missing, bytes.size());
    buffer_.append(bytes.substr(0, take));
    bytes.remove_prefix(take);
    if (take < missing) break;
    Envelope e;
    e.flags = static_cast<std::uint8_t>(buffer_[0]);
    e.payload = buffer_.substr(kHeader);
    buffer_.clear();
    if (e.flags & kEndStream) ended_ = true;
    out.push_back(std::move(e));
  }
  return out;
}

std::string EnvelopeParser::encode(std::uint8_t flags, std::string_view payload) {
  std::string out;
  out.reserve(kHeader + payload.size());
  out += static_cast<char>(flags);
  const auto n = static_cast<std::uint32_t>(payload.size());
  out += static_cast<char>((n >> 24) & 0xff);
  out += static_cast<char>((n >> 16) & 0xff);
  out += static_cast<char>((n >> 8) & 0xff);
  out += static_cast<char>(n & 0xff);
  out.append(payload);
  return out;
}

}  // namespace ff::sync
