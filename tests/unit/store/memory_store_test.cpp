// The in-memory fake's failure switches (its contract is checked in contract_test.cpp).

#include <gtest/gtest.h>

#include "store_test_util.h"
#include "tests/fakes/memory_store.h"

namespace ff::store::testing {
namespace {

using ff::testing::MemoryStore;

TEST(MemoryStore, FailNextSaveFailsOnceAndKeepsState) {
  MemoryStore m;
  ASSERT_TRUE(*m.save_evaluations(numbered_state(1)));
  m.fail_next_save("full");
  auto r = m.save_evaluations(numbered_state(2));
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code, "full");
  EXPECT_EQ(m.evaluations()->context_hash, "ctx-1");
  EXPECT_TRUE(*m.save_evaluations(numbered_state(2)));
  EXPECT_EQ(m.evaluations()->context_hash, "ctx-2");
  const auto n = m.counters();
  EXPECT_EQ(n.save_calls, 3);
  EXPECT_EQ(n.writes, 2);
  EXPECT_EQ(n.failures, 1);
}

TEST(MemoryStore, FailSavesUntilCleared) {
  MemoryStore m;
  m.fail_saves("readonly");
  EXPECT_EQ(m.save_sync(SyncRecord{"e", 1, 1, "", 1}).error().code, "readonly");
  EXPECT_EQ(m.save_definitions(numbered_definitions(1)).error().code, "readonly");
  EXPECT_FALSE(m.definitions().has_value());
  m.fail_saves("");
  EXPECT_TRUE(*m.save_definitions(numbered_definitions(1)));
}

TEST(MemoryStore, FailNextLoadAndSeed) {
  MemoryStore m;
  m.seed(numbered_state(7));
  m.fail_next_load("corrupt");
  auto bad = m.load_evaluations();
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.error().code, "corrupt");
  auto good = m.load_evaluations();
  ASSERT_TRUE(good.ok() && good->has_value());
  EXPECT_EQ((*good)->context_hash, "ctx-7");
  EXPECT_FALSE(*m.save_evaluations(numbered_state(7)));
  EXPECT_EQ(m.counters().writes, 0);
}

}  // namespace
}  // namespace ff::store::testing
