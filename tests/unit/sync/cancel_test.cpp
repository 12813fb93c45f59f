// Upstream::cancel(): the agent's shutdown must not wait for a slow upstream. Every HTTP mode is
// held by the test server's "slow" mode far longer than any test would wait, and the upstream's
// own timeout is a minute, so a fetch that returns at all was ended by cancel().
#include <gtest/gtest.h>

#include <string>
#include <thread>

#include "agent/sync/upstream.h"
#include "tests/unit/sync/sync_fixture.h"

using ff::Json;
using namespace ff::sync;
using namespace std::chrono_literals;

namespace {

Json host_context() {
  return Json{{"targetingKey", "host-1"}};
}

struct Case {
  const char* name;
  Mode mode;
  const char* path;  // the request the server is held on
};

class Cancel : public test_util::ServerTest, public ::testing::WithParamInterface<Case> {
 protected:
  UpstreamConfig slow_config() {
    EXPECT_TRUE(server_.set_mode(R"({"mode":"slow","delayMs":600000})").ok());
    UpstreamConfig c = config(GetParam().mode);
    if (GetParam().mode == Mode::kDefinitions) c.url = server_.url() + GetParam().path;
    c.timeout = 60s;
    return c;
  }
};

TEST_P(Cancel, EndsAFetchInFlight) {
  auto up = make(slow_config());
  ASSERT_TRUE(up);
  FetchOutcome out;
  std::thread fetcher([&] { out = up->fetch(host_context(), ""); });
  // Cancel once the request is being held, not before (that is the next test).
  const int seen = server_.wait_for_requests(GetParam().path, 1, 30s);
  up->cancel();
  fetcher.join();
  EXPECT_EQ(seen, 1);
  expect_failed_without_data(out);
  EXPECT_NE(out.error.message.find("cancelled"), std::string::npos) << out.error.message;
  EXPECT_EQ(out.error.http_status, 0);
}

TEST_P(Cancel, LaterFetchesFailWithoutARequest) {
  auto up = make(slow_config());
  ASSERT_TRUE(up);
  up->cancel();
  for (int i = 0; i < 2; ++i) {
    const auto out = up->fetch(host_context(), "");
    expect_failed_without_data(out);
    EXPECT_NE(out.error.message.find("cancelled"), std::string::npos) << out.error.message;
  }
  EXPECT_EQ(server_.request_count(GetParam().path), 0);
}

INSTANTIATE_TEST_SUITE_P(Modes, Cancel,
                         ::testing::Values(Case{"ofrep", Mode::kOfrep, "/ofrep/v1/evaluate/flags"},
                                           Case{"flagd", Mode::kFlagd,
                                                "/flagd.evaluation.v1.Service/ResolveAll"},
                                           Case{"definitions", Mode::kDefinitions, "/flags.json"}),
                         [](const ::testing::TestParamInfo<Case>& param_info) {
                           return std::string(param_info.param.name);
                         });

}  // namespace
