// Crash safety: a child process saves in a loop and is SIGKILLed at a random moment, 100 times
// over on the same file. After each kill the database passes integrity_check, opens without a
// recovery, and every load is exactly one of the states that were saved (never a mix), and
// never older than what the previous round already found (a kill loses nothing committed).

#include <signal.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <iostream>
#include <random>

#include <gtest/gtest.h>

#include "store_test_util.h"

namespace ff::store::testing {
namespace {

constexpr int kRounds = 100;
constexpr std::int64_t kPerRound = 1'000'000;  // round r saves states r*kPerRound + 1, + 2, ...

std::int64_t number_after(const std::string& s, const std::string& prefix) {
  if (s.rfind(prefix, 0) != 0) return -1;
  return std::stoll(s.substr(prefix.size()));
}

SyncRecord numbered_sync(std::int64_t k) {
  return SyncRecord{"\"" + std::to_string(k) + "\"", k, k - 1, "err " + std::to_string(k),
                    static_cast<std::uint64_t>(k)};
}

[[noreturn]] void saver(const std::string& path, int round, int ready_fd) {
  ::prctl(PR_SET_PDEATHSIG, SIGKILL);
  ::alarm(60);  // never outlive a broken parent
  auto opened = open_sqlite(path, 1);
  if (!opened.ok()) ::_exit(3);
  Store& s = **opened;
  for (std::int64_t k = round * kPerRound + 1;; ++k) {
    if (!s.save_evaluations(numbered_state(k, 100)).ok()) ::_exit(4);
    if (!s.save_definitions(numbered_definitions(k)).ok()) ::_exit(5);
    if (!s.save_sync(numbered_sync(k)).ok()) ::_exit(6);
    if (ready_fd >= 0) {
      const char one = 1;
      if (::write(ready_fd, &one, 1) != 1) ::_exit(7);
      ::close(ready_fd);
      ready_fd = -1;
    }
  }
}

TEST(StoreCrash, SigkillDuringSavesLeavesOneCompleteState) {
  TempDir dir;
  const std::string path = dir.file("cache.db");
  std::mt19937 rng(20261129);
  std::int64_t last_eval = 0, last_defs = 0, last_sync = 0;
  int rounds_with_progress = 0;

  for (int round = 1; round <= kRounds; ++round) {
    SCOPED_TRACE("round " + std::to_string(round));
    // Even rounds kill after the child has saved at least once (so kills land among saves);
    // odd rounds kill at any moment from the fork on, open and migration included.
    const bool wait_for_first_save = round % 2 == 0;
    int fds[2];
    ASSERT_EQ(::pipe(fds), 0);
    const pid_t pid = ::fork();
    ASSERT_GE(pid, 0);
    if (pid == 0) {
      ::close(fds[0]);
      saver(path, round, fds[1]);
    }
    ::close(fds[1]);
    if (wait_for_first_save) {
      char one = 0;
      ASSERT_EQ(::read(fds[0], &one, 1), 1) << "child never completed a save";
    }
    ::usleep(static_cast<useconds_t>(rng() % 15000));
    ::kill(pid, SIGKILL);
    int status = 0;
    ASSERT_EQ(::waitpid(pid, &status, 0), pid);
    ::close(fds[0]);
    ASSERT_TRUE(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL)
        << "child ended on its own with status " << status << " (a save failed)";

    // Killed before SQLite created the file: nothing was saved yet.
    if (exists(path))
      ASSERT_EQ(integrity(path), "ok");
    else
      ASSERT_EQ(last_eval, 0);
    OpenReport report;
    auto store = must_open(path, 1, &report);
    ASSERT_NE(store, nullptr);
    ASSERT_FALSE(report.recovered) << report.detail;

    auto e = store->load_evaluations();
    ASSERT_TRUE(e.ok()) << e.error().to_string();
    if (e->has_value()) {
      const std::int64_t k = number_after((*e)->context_hash, "ctx-");
      const CachedEvaluations want = numbered_state(k, 100);
      ASSERT_EQ((*e)->synced_at_ms, want.synced_at_ms);
      ASSERT_EQ((*e)->flags, want.flags) << "state " << k << " is not complete";
      ASSERT_GE(k, last_eval);
      if (k > last_eval) ++rounds_with_progress;
      last_eval = k;
    } else {
      ASSERT_EQ(last_eval, 0) << "a saved state disappeared";
    }

    auto d = store->load_definitions();
    ASSERT_TRUE(d.ok()) << d.error().to_string();
    if (d->has_value()) {
      const std::int64_t k = number_after((*d)->source, "https://flags.example.test/defs/");
      const CachedDefinitions want = numbered_definitions(k);
      ASSERT_EQ((*d)->body, want.body);
      ASSERT_EQ((*d)->etag, want.etag);
      ASSERT_EQ((*d)->fetched_at_ms, want.fetched_at_ms);
      ASSERT_GE(k, last_defs);
      last_defs = k;
    }

    auto s = store->load_sync();
    ASSERT_TRUE(s.ok()) << s.error().to_string();
    if (s->revision != 0) {
      const SyncRecord want = numbered_sync(static_cast<std::int64_t>(s->revision));
      ASSERT_EQ(s->etag, want.etag);
      ASSERT_EQ(s->last_attempt_ms, want.last_attempt_ms);
      ASSERT_EQ(s->last_success_ms, want.last_success_ms);
      ASSERT_EQ(s->last_error, want.last_error);
      ASSERT_GE(static_cast<std::int64_t>(s->revision), last_sync);
      last_sync = static_cast<std::int64_t>(s->revision);
    }
    // The three saves are separate transactions, written in this order.
    if (last_sync != 0) {
      ASSERT_GE(last_eval, last_sync);
      ASSERT_GE(last_defs, last_sync);
    }
  }
  std::cout << "[ figures  ] " << kRounds << " kills, " << rounds_with_progress
            << " rounds found a newer complete state; last state " << last_eval << "\n";
  EXPECT_GE(rounds_with_progress, kRounds / 2);  // every even round saved at least once
}

}  // namespace
}  // namespace ff::store::testing
