// A scripted sync::Upstream and outcome builders shared by the agent's tests.
#pragma once

#include <chrono>
#include <deque>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "agent/sync/upstream.h"

namespace ff::testing {

// An Upstream that answers from a script; once the script is empty it repeats the last entry.
class ScriptedUpstream final : public sync::Upstream {
 public:
  explicit ScriptedUpstream(sync::Mode mode) : mode_(mode) {}
  sync::Mode mode() const override { return mode_; }
  std::string describe() const override { return "scripted"; }
  sync::FetchOutcome fetch(const Json& context, const std::string& etag) override {
    contexts.push_back(context);
    etags.push_back(etag);
    if (script.size() > 1) {
      auto o = script.front();
      script.pop_front();
      return o;
    }
    return script.front();
  }
  std::deque<sync::FetchOutcome> script;
  std::vector<Json> contexts;
  std::vector<std::string> etags;

 private:
  sync::Mode mode_;
};

inline sync::FetchOutcome evaluations(Json flags, std::string etag = "") {
  sync::FetchOutcome o;
  o.ok = true;
  o.fetched.evaluations = std::move(flags);
  o.fetched.etag = std::move(etag);
  return o;
}

inline sync::FetchOutcome definitions(std::string text) {
  sync::FetchOutcome o;
  o.ok = true;
  o.fetched.definitions = std::move(text);
  o.fetched.etag = "defs-etag";
  return o;
}

inline sync::FetchOutcome failure(std::string message, int status = 0,
                                  std::optional<std::chrono::seconds> retry_after = std::nullopt) {
  sync::FetchOutcome o;
  o.error.message = std::move(message);
  o.error.http_status = status;
  o.error.retry_after = retry_after;
  return o;
}

inline sync::FetchOutcome not_modified() {
  sync::FetchOutcome o;
  o.ok = true;
  o.fetched.not_modified = true;
  return o;
}

}  // namespace ff::testing
