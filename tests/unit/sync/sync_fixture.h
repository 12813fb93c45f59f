// Shared fixture for the upstream tests: one node flagd test server per test, definitions with
// every value kind, and small helpers.
#pragma once

#include <gtest/gtest.h>

#include <string>

#include "agent/sync/upstream.h"
#include "tests/support/flagd_test_server.h"
#include "tests/unit/http/test_support.h"

namespace ff::sync::test_util {

inline constexpr const char* kFlags = R"({
  "flags": {
    "bool-flag": {"state": "ENABLED", "variants": {"on": true, "off": false},
                  "defaultVariant": "on"},
    "str-flag": {"state": "ENABLED", "variants": {"a": "alpha", "b": "beta"},
                 "defaultVariant": "a",
                 "targeting": {"if": [{"==": [{"var": "env"}, "prod"]}, "b", "a"]}},
    "int-flag": {"state": "ENABLED", "variants": {"ten": 10, "half": 0.5},
                 "defaultVariant": "ten"},
    "float-flag": {"state": "ENABLED", "variants": {"ten": 10, "half": 0.5},
                   "defaultVariant": "half"},
    "obj-flag": {"state": "ENABLED", "variants": {"o": {"x": 1, "s": "v"}},
                 "defaultVariant": "o", "metadata": {"owner": "ops"}},
    "off-flag": {"state": "DISABLED", "variants": {"on": true, "off": false},
                 "defaultVariant": "on"}
  },
  "metadata": {"flagSetId": "fleet"}
})";

class ServerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto port = server_.start(kFlags);
    ASSERT_TRUE(port.ok()) << port.error().to_string();
  }

  UpstreamConfig config(Mode mode) const {
    UpstreamConfig c;
    c.mode = mode;
    c.url = server_.url();
    c.timeout = std::chrono::milliseconds(5000);
    return c;
  }

  std::unique_ptr<Upstream> make(const UpstreamConfig& c) {
    auto u = make_upstream(c);
    EXPECT_TRUE(u.ok()) << u.error().to_string();
    return u.ok() ? std::move(*u) : nullptr;
  }

  // The last request the server saw on `path`: {"method","headers","body"}.
  Json last(const std::string& path) {
    auto s = server_.stats();
    if (!s.ok()) return Json();
    return (*s)["last"].value(path, Json());
  }

  static void expect_failed_without_data(const FetchOutcome& out) {
    EXPECT_FALSE(out.ok);
    EXPECT_FALSE(out.fetched.evaluations.has_value());
    EXPECT_FALSE(out.fetched.definitions.has_value());
    EXPECT_FALSE(out.fetched.not_modified);
    EXPECT_FALSE(out.error.message.empty());
  }

  ff::testing::FlagdTestServer server_;
  ff::testing::TempDir dir_;
};

}  // namespace ff::sync::test_util
