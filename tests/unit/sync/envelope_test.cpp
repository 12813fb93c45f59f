#include "agent/sync/connect_envelope.h"

#include <gtest/gtest.h>

#include <random>
#include <string>

using ff::sync::Envelope;
using ff::sync::EnvelopeParser;

namespace {

std::string stream_of_three() {
  return EnvelopeParser::encode(0, R"({"type":"provider_ready","data":{}})") +
         EnvelopeParser::encode(0, "") + EnvelopeParser::encode(EnvelopeParser::kEndStream, "{}");
}

}  // namespace

TEST(Envelope, EncodesBigEndianLength) {
  const std::string e = EnvelopeParser::encode(0, "{}");
  ASSERT_EQ(e.size(), 7u);
  EXPECT_EQ(e, std::string("\x00\x00\x00\x00\x02{}", 7));
  const std::string big = EnvelopeParser::encode(2, std::string(0x010203, 'x'));
  EXPECT_EQ(static_cast<unsigned char>(big[0]), 2);
  EXPECT_EQ(static_cast<unsigned char>(big[1]), 0);
  EXPECT_EQ(static_cast<unsigned char>(big[2]), 1);
  EXPECT_EQ(static_cast<unsigned char>(big[3]), 2);
  EXPECT_EQ(static_cast<unsigned char>(big[4]), 3);
}

TEST(Envelope, ParsesWholeStream) {
  EnvelopeParser p(1024);
  auto r = p.feed(stream_of_three());
  ASSERT_TRUE(r.ok()) << r.error().to_string();
  ASSERT_EQ(r->size(), 3u);
  EXPECT_EQ((*r)[0].flags, 0);
  EXPECT_EQ((*r)[0].payload, R"({"type":"provider_ready","data":{}})");
  EXPECT_EQ((*r)[1].payload, "");
  EXPECT_EQ((*r)[2].flags, EnvelopeParser::kEndStream);
  EXPECT_TRUE(p.ended());
  EXPECT_TRUE(p.at_boundary());
}

TEST(Envelope, ByteByByteGivesTheSameMessages) {
  const std::string all = stream_of_three();
  EnvelopeParser p(1024);
  std::vector<Envelope> got;
  for (std::size_t i = 0; i < all.size(); ++i) {
    auto r = p.feed(std::string_view(all).substr(i, 1));
    ASSERT_TRUE(r.ok());
    EXPECT_LE(r->size(), 1u);
    for (const auto& e : *r) got.push_back(e);
  }
  ASSERT_EQ(got.size(), 3u);
  EXPECT_EQ(got[0].payload, R"({"type":"provider_ready","data":{}})");
  EXPECT_EQ(got[2].flags, EnvelopeParser::kEndStream);
}

TEST(Envelope, RandomSplitsAreEquivalent) {
  std::string all;
  for (int i = 0; i < 50; ++i) {
    all += EnvelopeParser::encode(0, std::string(static_cast<std::size_t>(i * 7), 'a' + i % 26));
  }
  std::mt19937 rng(42);
  for (int round = 0; round < 50; ++round) {
    EnvelopeParser p(4096);
    std::size_t pos = 0;
    int count = 0;
    while (pos < all.size()) {
      const std::size_t n = std::min<std::size_t>(all.size() - pos, rng() % 40);
      auto r = p.feed(std::string_view(all).substr(pos, n));
      ASSERT_TRUE(r.ok());
      for (const auto& e : *r) {
        EXPECT_EQ(e.payload.size(), static_cast<std::size_t>(count * 7));
        ++count;
      }
      pos += n;
    }
    EXPECT_EQ(count, 50);
    EXPECT_TRUE(p.at_boundary());
  }
}

TEST(Envelope, PartialMessageIsNotABoundary) {
  EnvelopeParser p(1024);
  const std::string e = EnvelopeParser::encode(0, "{\"type\":\"x\"}");
  auto r = p.feed(std::string_view(e).substr(0, 3));
  ASSERT_TRUE(r.ok());
  EXPECT_TRUE(r->empty());
  EXPECT_FALSE(p.at_boundary());
  r = p.feed(std::string_view(e).substr(3, 4));
  ASSERT_TRUE(r.ok());
  EXPECT_TRUE(r->empty());
  r = p.feed(std::string_view(e).substr(7));
  ASSERT_TRUE(r.ok());
  ASSERT_EQ(r->size(), 1u);
}

TEST(Envelope, OversizedLengthFailsBeforeBuffering) {
  EnvelopeParser p(100);
  // Header announcing 4 GiB - 1: refused from the 5 header bytes alone.
  auto r = p.feed(std::string("\x00\xff\xff\xff\xff", 5));
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code, "too_large");
  EXPECT_TRUE(p.at_boundary());
  // Sticky.
  r = p.feed(EnvelopeParser::encode(0, "{}"));
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code, "too_large");
}

TEST(Envelope, LengthAtTheLimitIsAccepted) {
  EnvelopeParser p(100);
  auto r = p.feed(EnvelopeParser::encode(0, std::string(100, 'x')));
  ASSERT_TRUE(r.ok());
  ASSERT_EQ(r->size(), 1u);
  r = p.feed(EnvelopeParser::encode(0, std::string(101, 'x')));
  EXPECT_FALSE(r.ok());
}

TEST(Envelope, UnknownFlagBitsAreRejected) {
  for (unsigned char flags : {0x04, 0x80, 0x7b /* '{': a JSON error body */}) {
    EnvelopeParser p(100);
    std::string e = EnvelopeParser::encode(0, "{}");
    e[0] = static_cast<char>(flags);
    auto r = p.feed(e);
    ASSERT_FALSE(r.ok()) << int(flags);
    EXPECT_EQ(r.error().code, "bad_envelope");
  }
  EnvelopeParser p(100);
  auto r = p.feed(EnvelopeParser::encode(EnvelopeParser::kCompressed, "zz"));
  ASSERT_TRUE(r.ok());  // the parser frames; refusing compression is the caller's business
  EXPECT_EQ((*r)[0].flags, EnvelopeParser::kCompressed);
}

TEST(Envelope, DataAfterEndStreamIsAnError) {
  EnvelopeParser p(100);
  auto r = p.feed(EnvelopeParser::encode(EnvelopeParser::kEndStream, "{}") + "x");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code, "bad_envelope");
}

TEST(Envelope, EmptyFeedIsFine) {
  EnvelopeParser p(100);
  auto r = p.feed("");
  ASSERT_TRUE(r.ok());
  EXPECT_TRUE(r->empty());
  EXPECT_TRUE(p.at_boundary());
}
