// An in-memory ff::store::Store for other components' tests. It follows the same contract as
// the SQLite store (a save returns true only when the value differs from what is stored, and a
// failed save changes nothing), and has switches to make saves or loads fail.
//
// Thread-safe (a mutex per call), so a test may inspect it while an agent thread saves.
#pragma once

#include <cstdint>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "common/store/store.h"

namespace ff::testing {

class MemoryStore final : public store::Store {
 public:
  // Error codes a real store returns: "full", "readonly", "io", "corrupt", "busy".
  static Error make_error(const std::string& code) {
    return Error{code, "injected failure (" + code + ")", ""};
  }

  // The next save_* call (of any kind) fails with `code` and stores nothing.
  void fail_next_save(std::string code = "full") {
    std::lock_guard<std::mutex> l(mu_);
    fail_next_save_ = std::move(code);
  }
  // Every save fails with `code` until called again with an empty code.
  void fail_saves(std::string code = "readonly") {
    std::lock_guard<std::mutex> l(mu_);
    fail_saves_ = std::move(code);
  }
  // The next load_* call fails with `code`.
  void fail_next_load(std::string code = "corrupt") {
    std::lock_guard<std::mutex> l(mu_);
    fail_next_load_ = std::move(code);
  }

  // Preloads state as if an earlier run had saved it (counts as no save).
  void seed(store::CachedEvaluations e) {
    std::lock_guard<std::mutex> l(mu_);
    evaluations_ = std::move(e);
  }
  void seed(store::CachedDefinitions d) {
    std::lock_guard<std::mutex> l(mu_);
    definitions_ = std::move(d);
  }
  void seed(store::SyncRecord r) {
    std::lock_guard<std::mutex> l(mu_);
    sync_ = std::move(r);
  }
  void seed(const store::CanaryRecord& r) {
    std::lock_guard<std::mutex> l(mu_);
    canary_.emplace(std::make_pair(r.flag_key, r.variant), r.first_seen_ms);
  }

  // What is stored now.
  std::optional<store::CachedEvaluations> evaluations() const {
    std::lock_guard<std::mutex> l(mu_);
    return evaluations_;
  }
  std::optional<store::CachedDefinitions> definitions() const {
    std::lock_guard<std::mutex> l(mu_);
    return definitions_;
  }
  store::SyncRecord sync() const {
    std::lock_guard<std::mutex> l(mu_);
    return sync_;
  }
  std::vector<store::CanaryRecord> canary_history() const {
    std::lock_guard<std::mutex> l(mu_);
    return canary_list();
  }

  struct Counters {
    int save_calls = 0;  // every save_* call, including failed and unchanged ones
    int writes = 0;      // saves that changed something (returned true)
    int failures = 0;    // saves that returned an Error
  };
  Counters counters() const {
    std::lock_guard<std::mutex> l(mu_);
    return counters_;
  }

  Result<std::optional<store::CachedEvaluations>> load_evaluations() override {
    std::lock_guard<std::mutex> l(mu_);
    if (auto err = take_load_failure()) return *err;
    return evaluations_;
  }
  Result<bool> save_evaluations(const store::CachedEvaluations& e) override {
    std::lock_guard<std::mutex> l(mu_);
    if (auto err = take_save_failure()) return *err;
    if (!e.flags.is_object()) {
      ++counters_.failures;
      return Error{"invalid_argument", "flags must be a JSON object", "/flags"};
    }
    if (evaluations_ && evaluations_->context_hash == e.context_hash &&
        evaluations_->synced_at_ms == e.synced_at_ms && evaluations_->flags == e.flags) {
      return false;
    }
    evaluations_ = e;
    ++counters_.writes;
    return true;
  }
  Result<std::optional<store::CachedDefinitions>> load_definitions() override {
    std::lock_guard<std::mutex> l(mu_);
    if (auto err = take_load_failure()) return *err;
    return definitions_;
  }
  Result<bool> save_definitions(const store::CachedDefinitions& d) override {
    std::lock_guard<std::mutex> l(mu_);
    if (auto err = take_save_failure()) return *err;
    if (definitions_ && definitions_->source == d.source && definitions_->body == d.body &&
        definitions_->etag == d.etag && definitions_->fetched_at_ms == d.fetched_at_ms) {
      return false;
    }
    definitions_ = d;
    ++counters_.writes;
    return true;
  }
  Result<store::SyncRecord> load_sync() override {
    std::lock_guard<std::mutex> l(mu_);
    if (auto err = take_load_failure()) return *err;
    return sync_;
  }
  Result<bool> save_sync(const store::SyncRecord& r) override {
    std::lock_guard<std::mutex> l(mu_);
    if (auto err = take_save_failure()) return *err;
    if (sync_.etag == r.etag && sync_.last_attempt_ms == r.last_attempt_ms &&
        sync_.last_success_ms == r.last_success_ms && sync_.last_error == r.last_error &&
        sync_.revision == r.revision) {
      return false;
    }
    sync_ = r;
    ++counters_.writes;
    return true;
  }
  Result<std::vector<store::CanaryRecord>> load_canary_history() override {
    std::lock_guard<std::mutex> l(mu_);
    if (auto err = take_load_failure()) return *err;
    return canary_list();
  }
  Result<bool> record_canary(const store::CanaryRecord& r) override {
    std::lock_guard<std::mutex> l(mu_);
    if (auto err = take_save_failure()) return *err;
    if (!canary_.emplace(std::make_pair(r.flag_key, r.variant), r.first_seen_ms).second) {
      return false;
    }
    ++counters_.writes;
    return true;
  }

 private:
  std::vector<store::CanaryRecord> canary_list() const {
    std::vector<store::CanaryRecord> out;
    for (const auto& [k, ms] : canary_) out.push_back(store::CanaryRecord{k.first, k.second, ms});
    return out;
  }

  std::optional<Error> take_save_failure() {
    ++counters_.save_calls;
    std::string code;
    if (!fail_next_save_.empty()) {
      code = std::exchange(fail_next_save_, std::string());
    } else if (!fail_saves_.empty()) {
      code = fail_saves_;
    } else {
      return std::nullopt;
    }
    ++counters_.failures;
    return make_error(code);
  }
  std::optional<Error> take_load_failure() {
    if (fail_next_load_.empty()) return std::nullopt;
    return make_error(std::exchange(fail_next_load_, std::string()));
  }

  mutable std::mutex mu_;
  std::optional<store::CachedEvaluations> evaluations_;
  std::optional<store::CachedDefinitions> definitions_;
  store::SyncRecord sync_;
  std::map<std::pair<std::string, std::string>, std::int64_t> canary_;  // ordered as SQLite's
  std::string fail_next_save_;
  std::string fail_saves_;
  std::string fail_next_load_;
  Counters counters_;
};

}  // namespace ff::testing
