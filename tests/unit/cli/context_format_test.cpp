// `fleetflag context`'s table, from a /v1/context body (no agent needed).
#include <gtest/gtest.h>

#include <sstream>

#include "agent/cli/online.h"
#include "common/json/json.h"

namespace {

using ff::Json;

TEST(ContextTable, ShowsEveryAttributeWithItsSourceThenTheErrors) {
  const Json view = Json::parse(R"({
    "context": {"targetingKey": "0123abcd", "tier": "paying",
                "host": {"os": {"id": "debian"}, "cpus": 8},
                "time": {"zone": "Europe/Paris", "hour": 9},
                "canary": {"count": 1, "active": 0, "daysSinceLast": 12}},
    "sources": {"targetingKey": "builtin", "tier": "context.d/10-tier.json",
                "host.os.id": "builtin", "host.cpus": "builtin", "time": "time",
                "canary": "canary"},
    "errors": [{"source": "provider:gpu", "message": "exit status 1", "at": "2026-11-29T10:00:00Z"}]
  })");
  std::ostringstream out;
  ff::cli::print_context(view, out);
  const std::string text = out.str();
  auto line_of = [&](const std::string& attr) {
    const auto at = text.find("\n" + attr + " ");
    if (at == std::string::npos) return std::string();
    return text.substr(at + 1, text.find('\n', at + 1) - at - 1);
  };
  EXPECT_EQ(text.rfind("ATTRIBUTE", 0), 0u) << text;
  EXPECT_NE(line_of("tier").find("context.d/10-tier.json"), std::string::npos) << text;
  EXPECT_NE(line_of("tier").find("paying"), std::string::npos) << text;
  EXPECT_NE(line_of("host.os.id").find("debian"), std::string::npos) << text;
  EXPECT_NE(line_of("host.os.id").find("builtin"), std::string::npos) << text;
  EXPECT_NE(line_of("time.zone").find("Europe/Paris"), std::string::npos) << text;
  EXPECT_NE(line_of("time.zone").find("time"), std::string::npos) << "parent's source";
  EXPECT_NE(line_of("canary.daysSinceLast").find("12"), std::string::npos) << text;
  EXPECT_NE(line_of("canary.daysSinceLast").find("canary"), std::string::npos) << text;
  const auto errors = text.find("errors:");
  ASSERT_NE(errors, std::string::npos) << text;
  EXPECT_GT(errors, text.find("canary.count"));
  EXPECT_NE(text.find("provider:gpu: exit status 1 (at 2026-11-29T10:00:00Z)"), std::string::npos)
      << text;
}

TEST(ContextTable, NoErrorsNoErrorSection) {
  std::ostringstream out;
  ff::cli::print_context(Json{{"context", {{"targetingKey", "h"}}}, {"sources", Json::object()}},
                         out);
  EXPECT_EQ(out.str().find("errors"), std::string::npos);
  EXPECT_NE(out.str().find("targetingKey"), std::string::npos);
}

}  // namespace
