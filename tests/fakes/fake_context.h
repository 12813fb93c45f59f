// A ContextBuilder driven by hand, for tests of what consumes a context (the agent). Time fields
// are UTC from the injected Clock (same keys as context::time_fields); a "provider" is modelled
// as values staged now and applied by the next refresh() once next_refresh() is due.
//
// Thread-safe (one mutex), so a test may change it while an agent thread reads it. The agent
// owns the builder: keep a raw pointer before handing the unique_ptr over.
#pragma once

#include <chrono>
#include <cstdint>
#include <cstdio>
#include <mutex>
#include <string>
#include <utility>

#include "agent/context/context.h"
#include "agent/state/clock.h"

namespace ff::testing {

class FakeContextBuilder final : public context::ContextBuilder {
 public:
  FakeContextBuilder(const Clock& clock, Json attributes) : clock_(clock) {
    context_ = std::move(attributes);
    if (!context_.contains("targetingKey")) context_["targetingKey"] = "fake-host";
    for (auto it = context_.begin(); it != context_.end(); ++it) sources_[it.key()] = "config";
  }

  // Changes an attribute now, as a reload that found a changed file would.
  void set(const std::string& key, Json value, const std::string& source = "config") {
    std::lock_guard<std::mutex> l(mu_);
    if (context_.contains(key) && context_[key] == value) return;
    context_[key] = std::move(value);
    sources_[key] = source;
    ++generation_;
  }
  // A provider's next answer: applied by the first refresh() at or after `due` (steady time).
  void stage(const std::string& key, Json value, std::chrono::steady_clock::time_point due) {
    std::lock_guard<std::mutex> l(mu_);
    staged_key_ = key;
    staged_value_ = std::move(value);
    next_refresh_ = due;
  }
  void set_errors(Json errors) {
    std::lock_guard<std::mutex> l(mu_);
    errors_ = std::move(errors);
  }
  int refresh_calls() const {
    std::lock_guard<std::mutex> l(mu_);
    return refresh_calls_;
  }
  int reload_calls() const {
    std::lock_guard<std::mutex> l(mu_);
    return reload_calls_;
  }
  context::ContextOptions last_options() const {
    std::lock_guard<std::mutex> l(mu_);
    return options_;
  }

  Result<bool> reload(context::ContextOptions options) override {
    std::lock_guard<std::mutex> l(mu_);
    ++reload_calls_;
    options_ = std::move(options);
    bool changed = false;
    if (options_.attributes.is_object()) {
      for (auto it = options_.attributes.begin(); it != options_.attributes.end(); ++it) {
        if (context_.contains(it.key()) && context_[it.key()] == it.value()) continue;
        context_[it.key()] = it.value();
        sources_[it.key()] = "config";
        changed = true;
      }
    }
    if (changed) ++generation_;
    return changed;
  }
  bool refresh() override {
    std::lock_guard<std::mutex> l(mu_);
    ++refresh_calls_;
    if (staged_key_.empty() || clock_.steady() < next_refresh_) return false;
    next_refresh_ = std::chrono::steady_clock::time_point::max();
    const std::string key = std::exchange(staged_key_, std::string());
    sources_[key] = "provider:fake";
    if (context_.contains(key) && context_[key] == staged_value_) return false;
    context_[key] = staged_value_;
    ++generation_;
    return true;
  }
  context::HostContext current() const override {
    std::lock_guard<std::mutex> l(mu_);
    context::HostContext h;
    h.context = context_;
    h.context["time"] = utc_fields(clock_.now());
    h.sources = sources_;
    h.sources["time"] = "time";
    h.errors = errors_;
    h.generation = generation_;
    return h;
  }
  std::chrono::steady_clock::time_point next_refresh() const override {
    std::lock_guard<std::mutex> l(mu_);
    return next_refresh_;
  }

  static Json utc_fields(std::chrono::system_clock::time_point now) {
    using namespace std::chrono;
    const auto secs = floor<seconds>(now);
    const auto day = floor<days>(secs);
    const year_month_day ymd{day};
    const weekday wd{day};
    const auto tod = duration_cast<minutes>(secs - day).count();
    static const char* const kNames[] = {"sun", "mon", "tue", "wed", "thu", "fri", "sat"};
    char date[16];
    std::snprintf(date, sizeof date, "%04d-%02u-%02u", static_cast<int>(ymd.year()),
                  static_cast<unsigned>(ymd.month()), static_cast<unsigned>(ymd.day()));
    return Json{{"zone", "UTC"},
                {"unix", secs.time_since_epoch().count()},
                {"date", date},
                {"weekday", kNames[wd.c_encoding()]},
                {"isoWeekday", wd.iso_encoding()},
                {"hour", tod / 60},
                {"minute", tod % 60},
                {"minuteOfDay", tod}};
  }

 private:
  const Clock& clock_;
  mutable std::mutex mu_;
  Json context_ = Json::object();
  Json sources_ = Json::object();
  Json errors_ = Json::array();
  std::uint64_t generation_ = 1;
  std::string staged_key_;
  Json staged_value_;
  std::chrono::steady_clock::time_point next_refresh_ =
      std::chrono::steady_clock::time_point::max();
  context::ContextOptions options_;
  int refresh_calls_ = 0;
  int reload_calls_ = 0;
};

}  // namespace ff::testing
