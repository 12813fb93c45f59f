// The Store contract, run against the SQLite store and the in-memory fake alike, so that other
// components' tests written against the fake hold for the real thing.

#include <cmath>
#include <limits>

#include <gtest/gtest.h>

#include "store_test_util.h"
#include "tests/fakes/memory_store.h"

namespace ff::store::testing {
namespace {

struct SqliteFactory {
  TempDir dir;
  std::unique_ptr<Store> make() { return must_open(dir.file("cache.db")); }
};

struct MemoryFactory {
  std::unique_ptr<Store> make() { return std::make_unique<ff::testing::MemoryStore>(); }
};

template <typename F>
class StoreContract : public ::testing::Test {
 protected:
  void SetUp() override {
    store_ = factory_.make();
    ASSERT_NE(store_, nullptr);
  }
  F factory_;
  std::unique_ptr<Store> store_;
};

using Factories = ::testing::Types<SqliteFactory, MemoryFactory>;
class FactoryNames {
 public:
  template <typename T>
  static std::string GetName(int) {
    return std::is_same_v<T, SqliteFactory> ? "Sqlite" : "Memory";
  }
};
TYPED_TEST_SUITE(StoreContract, Factories, FactoryNames);

CachedEvaluations rich_evaluations() {
  CachedEvaluations e;
  e.context_hash = "sha256:0f1e2d";
  e.synced_at_ms = 1'764'400'123'456;
  e.flags["bool-flag"] = answer(true, "on", 1'764'400'000'001, Json{{"flagSetId", "web"}});
  e.flags["int-flag"] = answer(-42, "neg", 2);
  e.flags["big-unsigned"] = answer(std::numeric_limits<std::uint64_t>::max(), "max", 3);
  e.flags["big-signed"] = answer(std::numeric_limits<std::int64_t>::min(), "min", 4);
  e.flags["float-flag"] = answer(0.1 + 0.2, "f", 5, Json{{"ratio", 1e-300}, {"big", 1.5e300}});
  e.flags["string-flag"] = answer("grüße, 世界 \"quoted\" \\ \n\t", "s", 6);
  e.flags["object-flag"] =
      answer(Json{{"nested", {{"list", {1, "two", nullptr, false, Json::array()}}}}}, "o", 7,
             Json{{"owner", "team-a"}, {"tags", {"x", "y"}}, {"version", 3}});
  e.flags["null-value"] = answer(nullptr, "n", 8);
  e.flags["errored"] = Json{{"reason", "ERROR"},
                            {"errorCode", "TYPE_MISMATCH"},
                            {"errorDetails", "wanted a boolean"},
                            {"metadata", Json::object()},
                            {"updatedAt", 9}};
  e.flags["key/with~odd chars é"] = answer(1, "k", 10);
  return e;
}

TYPED_TEST(StoreContract, EmptyStoreLoadsNothing) {
  auto e = this->store_->load_evaluations();
  ASSERT_TRUE(e.ok()) << e.error().to_string();
  EXPECT_FALSE(e->has_value());
  auto d = this->store_->load_definitions();
  ASSERT_TRUE(d.ok()) << d.error().to_string();
  EXPECT_FALSE(d->has_value());
  auto s = this->store_->load_sync();
  ASSERT_TRUE(s.ok()) << s.error().to_string();
  EXPECT_EQ(s->revision, 0u);
  EXPECT_EQ(s->etag, "");
  // Saving what load already answers is no change.
  auto saved = this->store_->save_sync(SyncRecord{});
  ASSERT_TRUE(saved.ok());
  EXPECT_FALSE(*saved);
}

TYPED_TEST(StoreContract, EvaluationsRoundTripExactly) {
  const CachedEvaluations e = rich_evaluations();
  auto saved = this->store_->save_evaluations(e);
  ASSERT_TRUE(saved.ok()) << saved.error().to_string();
  EXPECT_TRUE(*saved);

  auto loaded = this->store_->load_evaluations();
  ASSERT_TRUE(loaded.ok()) << loaded.error().to_string();
  ASSERT_TRUE(loaded->has_value());
  const CachedEvaluations& l = **loaded;
  EXPECT_EQ(l.context_hash, e.context_hash);
  EXPECT_EQ(l.synced_at_ms, e.synced_at_ms);
  EXPECT_EQ(l.flags, e.flags);
  EXPECT_EQ(l.flags.dump(), e.flags.dump());
  EXPECT_EQ(l.flags["float-flag"]["value"].get<double>(), 0.1 + 0.2);
  EXPECT_EQ(l.flags["big-unsigned"]["value"].get<std::uint64_t>(),
            std::numeric_limits<std::uint64_t>::max());
  EXPECT_EQ(l.flags["big-signed"]["value"].get<std::int64_t>(),
            std::numeric_limits<std::int64_t>::min());
}

TYPED_TEST(StoreContract, SaveWritesOnlyWhenSomethingChanged) {
  CachedEvaluations e = rich_evaluations();
  ASSERT_TRUE(*this->store_->save_evaluations(e));
  EXPECT_FALSE(*this->store_->save_evaluations(e));

  e.synced_at_ms += 1;  // header only
  EXPECT_TRUE(*this->store_->save_evaluations(e));
  EXPECT_FALSE(*this->store_->save_evaluations(e));

  e.flags["int-flag"]["metadata"]["note"] = "changed";  // one flag's metadata
  EXPECT_TRUE(*this->store_->save_evaluations(e));
  EXPECT_FALSE(*this->store_->save_evaluations(e));

  e.flags.erase("errored");  // a flag removed
  EXPECT_TRUE(*this->store_->save_evaluations(e));
  e.flags["new-flag"] = answer("x", "x", 11);  // a flag added
  EXPECT_TRUE(*this->store_->save_evaluations(e));
  e.context_hash = "sha256:other";
  EXPECT_TRUE(*this->store_->save_evaluations(e));

  auto loaded = this->store_->load_evaluations();
  ASSERT_TRUE(loaded.ok() && loaded->has_value());
  EXPECT_EQ((*loaded)->flags, e.flags);
  EXPECT_EQ((*loaded)->context_hash, "sha256:other");
}

TYPED_TEST(StoreContract, EmptyFlagSetIsAValidState) {
  CachedEvaluations e;
  e.context_hash = "h";
  ASSERT_TRUE(*this->store_->save_evaluations(e));
  EXPECT_FALSE(*this->store_->save_evaluations(e));
  auto loaded = this->store_->load_evaluations();
  ASSERT_TRUE(loaded.ok() && loaded->has_value());
  EXPECT_TRUE((*loaded)->flags.is_object());
  EXPECT_TRUE((*loaded)->flags.empty());

  ASSERT_TRUE(*this->store_->save_evaluations(rich_evaluations()));
  ASSERT_TRUE(*this->store_->save_evaluations(e));  // back to no flags at all
  loaded = this->store_->load_evaluations();
  ASSERT_TRUE(loaded.ok() && loaded->has_value());
  EXPECT_TRUE((*loaded)->flags.empty());
}

TYPED_TEST(StoreContract, DefinitionsRoundTripByteExact) {
  CachedDefinitions d;
  d.source = "/etc/fleetflag/flags.json";
  static const char kBody[] = "{\"flags\":{}}\0binary\xff\xfe tail";
  d.body.assign(kBody, sizeof kBody - 1);
  d.etag = "W/\"abc\"";
  d.fetched_at_ms = 17;
  ASSERT_TRUE(*this->store_->save_definitions(d));
  EXPECT_FALSE(*this->store_->save_definitions(d));
  auto loaded = this->store_->load_definitions();
  ASSERT_TRUE(loaded.ok() && loaded->has_value());
  EXPECT_EQ((*loaded)->source, d.source);
  EXPECT_EQ((*loaded)->body, d.body);
  EXPECT_EQ((*loaded)->body.size(), 26u);
  EXPECT_EQ((*loaded)->etag, d.etag);
  EXPECT_EQ((*loaded)->fetched_at_ms, 17);

  d.etag = "";
  EXPECT_TRUE(*this->store_->save_definitions(d));
  d.body.clear();
  EXPECT_TRUE(*this->store_->save_definitions(d));
  loaded = this->store_->load_definitions();
  ASSERT_TRUE(loaded.ok() && loaded->has_value());
  EXPECT_EQ((*loaded)->body, "");
  EXPECT_EQ((*loaded)->etag, "");
}

TYPED_TEST(StoreContract, SyncRecordRoundTrip) {
  SyncRecord r;
  r.etag = "\"v7\"";
  r.last_attempt_ms = 1'764'400'000'500;
  r.last_success_ms = -1;
  r.last_error = "connect: connection refused";
  r.revision = std::numeric_limits<std::uint64_t>::max();
  ASSERT_TRUE(*this->store_->save_sync(r));
  EXPECT_FALSE(*this->store_->save_sync(r));
  auto loaded = this->store_->load_sync();
  ASSERT_TRUE(loaded.ok());
  EXPECT_EQ(loaded->etag, r.etag);
  EXPECT_EQ(loaded->last_attempt_ms, r.last_attempt_ms);
  EXPECT_EQ(loaded->last_success_ms, r.last_success_ms);
  EXPECT_EQ(loaded->last_error, r.last_error);
  EXPECT_EQ(loaded->revision, r.revision);
  r.last_error.clear();
  EXPECT_TRUE(*this->store_->save_sync(r));
  EXPECT_EQ(this->store_->load_sync()->last_error, "");
}

TYPED_TEST(StoreContract, FlagsMustBeAnObject) {
  CachedEvaluations e;
  e.flags = Json::array({1, 2});
  auto saved = this->store_->save_evaluations(e);
  ASSERT_FALSE(saved.ok());
  EXPECT_EQ(saved.error().code, "invalid_argument");
  auto loaded = this->store_->load_evaluations();
  ASSERT_TRUE(loaded.ok());
  EXPECT_FALSE(loaded->has_value());
}

TYPED_TEST(StoreContract, CanaryRecordsKeepTheFirstSightingInOrder) {
  auto& s = *this->store_;
  auto empty = s.load_canary_history();
  ASSERT_TRUE(empty.ok());
  EXPECT_TRUE(empty->empty());
  EXPECT_TRUE(*s.record_canary(CanaryRecord{"zeta", "canary", 30}));
  EXPECT_TRUE(*s.record_canary(CanaryRecord{"alpha", "c2", 20}));
  EXPECT_TRUE(*s.record_canary(CanaryRecord{"alpha", "c1", 10}));
  EXPECT_FALSE(*s.record_canary(CanaryRecord{"alpha", "c1", 99})) << "first sighting wins";
  auto h = s.load_canary_history();
  ASSERT_TRUE(h.ok());
  ASSERT_EQ(h->size(), 3u);
  EXPECT_EQ((*h)[0].flag_key + "/" + (*h)[0].variant, "alpha/c1");
  EXPECT_EQ((*h)[0].first_seen_ms, 10);
  EXPECT_EQ((*h)[1].flag_key + "/" + (*h)[1].variant, "alpha/c2");
  EXPECT_EQ((*h)[2].flag_key + "/" + (*h)[2].variant, "zeta/canary");
  EXPECT_EQ((*h)[2].first_seen_ms, 30);
}

}  // namespace
}  // namespace ff::store::testing
