// StateHolder: revisions, quiet replacement and blocking-query waiters, on real threads where
// the contract mentions them.
#include "agent/state/state_holder.h"

#include <gtest/gtest.h>

#include <atomic>
#include <thread>
#include <vector>

namespace ff::state {
namespace {

Snapshot ready(std::string color) {
  Snapshot s;
  s.ready = true;
  s.source = Source::kLive;
  FlagAnswer a;
  a.value = color;
  a.has_value = true;
  a.variant = std::move(color);
  a.reason = "STATIC";
  s.flags["color"] = std::move(a);
  return s;
}

TEST(StateHolder, StartsEmptyAndNotReady) {
  StateHolder h;
  const auto s = h.current();
  ASSERT_TRUE(s);
  EXPECT_FALSE(s->ready);
  EXPECT_EQ(s->revision, 0u);
  EXPECT_EQ(s->source, Source::kDefault);
  EXPECT_TRUE(s->flags.empty());
  EXPECT_EQ(s->flag_set_metadata, Json::object());
}

TEST(StateHolder, PublishBumpsTheRevisionAndKeepsOldSnapshotsIntact) {
  StateHolder h;
  auto s = ready("blue");
  s.revision = 42;  // overwritten
  s.flag_set_metadata = Json{{"flagSetId", "fleet"}};
  h.publish(s);
  const auto first = h.current();
  EXPECT_EQ(first->revision, 1u);
  EXPECT_EQ(first->flag_set_metadata, (Json{{"flagSetId", "fleet"}}));
  h.publish(ready("red"));
  EXPECT_EQ(h.current()->revision, 2u);
  EXPECT_EQ(h.current()->flags.at("color").value, "red");
  EXPECT_EQ(first->flags.at("color").value, "blue") << "readers keep what they hold";
}

TEST(StateHolder, ReplaceQuietlyKeepsTheRevisionAndWakesNoOne) {
  StateHolder h;
  h.publish(ready("blue"));
  int fired = 0;
  const auto id = h.wait_for(1, [&](const SnapshotPtr&) { ++fired; });
  EXPECT_NE(id, 0u);
  auto s = ready("blue");
  s.sync.last_error = "timeout";
  h.replace_quietly(s);
  EXPECT_EQ(h.current()->revision, 1u);
  EXPECT_EQ(h.current()->sync.last_error, "timeout");
  EXPECT_EQ(fired, 0);
  h.publish(ready("red"));
  EXPECT_EQ(fired, 1);
  EXPECT_FALSE(h.cancel(id)) << "already fired";
}

TEST(StateHolder, WaitForAnOlderRevisionFiresAtOnce) {
  StateHolder h;
  h.publish(ready("blue"));
  std::uint64_t seen = 0;
  EXPECT_EQ(h.wait_for(0, [&](const SnapshotPtr& s) { seen = s->revision; }), 0u);
  EXPECT_EQ(seen, 1u);
}

TEST(StateHolder, CancelledWaitersNeverFire) {
  StateHolder h;
  int fired = 0;
  const auto id = h.wait_for(0, [&](const SnapshotPtr&) { ++fired; });
  EXPECT_TRUE(h.cancel(id));
  EXPECT_FALSE(h.cancel(id));
  h.publish(ready("blue"));
  EXPECT_EQ(fired, 0);
}

TEST(StateHolder, ConcurrentReadersAndPublisher) {
  StateHolder h;
  h.publish(ready("blue"));
  std::atomic<bool> stop{false};
  std::atomic<int> bad{0};
  std::vector<std::thread> readers;
  readers.reserve(3);
  for (int i = 0; i < 3; ++i) {
    readers.emplace_back([&] {
      std::uint64_t last = 0;
      while (!stop) {
        const auto s = h.current();
        if (s->revision < last || s->flags.size() != 1) ++bad;
        last = s->revision;
      }
    });
  }
  for (int i = 0; i < 2000; ++i) h.publish(ready(i % 2 ? "red" : "blue"));
  stop = true;
  for (auto& t : readers) t.join();
  EXPECT_EQ(bad, 0);
  EXPECT_EQ(h.current()->revision, 2001u);
}

}  // namespace
}  // namespace ff::state
