// Connect protocol envelopes (streaming RPCs): [flags:1][length:4, big-endian][payload].
// Flag 0x01 = compressed payload, 0x02 = end-stream message (connect-go protocol_connect.go).
// The parser is incremental (an envelope may be split across any number of reads) and bounded
// (a length above the limit fails before anything is buffered), and it has no I/O so that it
// can be fuzzed directly.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/json/json.h"

namespace ff::sync {

struct Envelope {
  std::uint8_t flags = 0;
  std::string payload;
};

class EnvelopeParser {
 public:
  static constexpr std::uint8_t kCompressed = 0x01;
  static constexpr std::uint8_t kEndStream = 0x02;

  explicit EnvelopeParser(std::size_t max_message) : max_message_(max_message) {}

  // Appends bytes and returns the envelopes they complete (possibly none). Errors ("too_large",
  // "bad_envelope": unknown flag bits, data after the end-stream envelope) are sticky: once
  // feed() failed, every later call fails the same way.
  Result<std::vector<Envelope>> feed(std::string_view bytes);

  // True when no partial envelope is buffered (a clean place for the stream to end).
  bool at_boundary() const { return buffer_.empty(); }
  bool ended() const { return ended_; }

  static std::string encode(std::uint8_t flags, std::string_view payload);

 private:
  std::size_t max_message_;
  std::string buffer_;  // bytes of the envelope in progress
  bool ended_ = false;
  std::optional<Error> error_;
};

}  // namespace ff::sync
