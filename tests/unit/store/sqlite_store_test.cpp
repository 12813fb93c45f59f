// The SQLite store's own behaviour: file format, schema, write-avoidance, refusal of values
// that would not load back equal, and detection of damaged rows.

#include <algorithm>
#include <chrono>
#include <cmath>
#include <iostream>
#include <limits>
#include <vector>

#include <gtest/gtest.h>

#include "store_test_util.h"

namespace ff::store::testing {
namespace {

TEST(SqliteStore, CreatesWalDatabaseAtSchemaVersion2) {
  TempDir dir;
  const std::string path = dir.file("cache.db");
  OpenReport report;
  auto store = must_open(path, 1000, &report);
  ASSERT_NE(store, nullptr);
  EXPECT_TRUE(report.created);
  EXPECT_FALSE(report.recovered);
  EXPECT_EQ(report.moved_to, "");

  RawDb raw(path);
  ASSERT_TRUE(raw);
  EXPECT_EQ(raw.scalar("PRAGMA journal_mode"), "wal");  // persistent in the file header
  EXPECT_EQ(raw.scalar("PRAGMA user_version"), "2");
  EXPECT_EQ(raw.scalar("SELECT group_concat(name, ',') FROM (SELECT name FROM sqlite_schema "
                       "WHERE type = 'table' ORDER BY name)"),
            "canary_history,definitions,evaluation_context,evaluation_flag,sync_state");
  store.reset();

  OpenReport again;
  store = must_open(path, 2000, &again);
  EXPECT_FALSE(again.created);
  EXPECT_FALSE(again.recovered);
}

TEST(SqliteStore, MigratesAnEmptyVersion0Database) {
  TempDir dir;
  const std::string path = dir.file("cache.db");
  {
    RawDb raw(path, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE);
    ASSERT_TRUE(raw.exec("PRAGMA user_version = 0; VACUUM;"));
  }
  OpenReport report;
  auto store = must_open(path, 1000, &report);
  ASSERT_NE(store, nullptr);
  EXPECT_FALSE(report.recovered);
  EXPECT_EQ(RawDb(path).scalar("PRAGMA user_version"), "2");
}

// The v1 schema exactly as the first release shipped it, with a row in each table.
constexpr const char* kSchemaV1 = R"sql(
CREATE TABLE evaluation_context (
  id INTEGER PRIMARY KEY CHECK (id = 1), context_hash TEXT NOT NULL,
  synced_at_ms INTEGER NOT NULL, flag_count INTEGER NOT NULL, digest INTEGER NOT NULL);
CREATE TABLE evaluation_flag (
  context_id INTEGER NOT NULL REFERENCES evaluation_context (id) ON DELETE CASCADE,
  flag_key TEXT NOT NULL, answer TEXT NOT NULL, PRIMARY KEY (context_id, flag_key));
CREATE TABLE definitions (
  id INTEGER PRIMARY KEY CHECK (id = 1), source TEXT NOT NULL, body BLOB NOT NULL,
  etag TEXT NOT NULL, fetched_at_ms INTEGER NOT NULL, digest INTEGER NOT NULL);
CREATE TABLE sync_state (
  id INTEGER PRIMARY KEY CHECK (id = 1), etag TEXT NOT NULL, last_attempt_ms INTEGER NOT NULL,
  last_success_ms INTEGER NOT NULL, last_error TEXT NOT NULL, revision INTEGER NOT NULL);
INSERT INTO sync_state VALUES (1, '"v1-etag"', 10, 9, 'old error', 41);
PRAGMA user_version = 1;
)sql";

TEST(SqliteStore, MigratesAVersion1DatabaseKeepingItsRows) {
  TempDir dir;
  const std::string path = dir.file("cache.db");
  {
    RawDb raw(path, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE);
    ASSERT_TRUE(raw.exec("PRAGMA journal_mode = WAL;"));
    ASSERT_TRUE(raw.exec(kSchemaV1));
  }
  OpenReport report;
  auto store = must_open(path, 1000, &report);
  ASSERT_NE(store, nullptr);
  EXPECT_FALSE(report.recovered);
  EXPECT_FALSE(report.created);
  const auto sync = store->load_sync();
  ASSERT_TRUE(sync.ok());
  EXPECT_EQ(sync->etag, "\"v1-etag\"");
  EXPECT_EQ(sync->revision, 41u);
  auto history = store->load_canary_history();
  ASSERT_TRUE(history.ok());
  EXPECT_TRUE(history->empty());
  EXPECT_TRUE(*store->record_canary(CanaryRecord{"kernel", "canary", 5}));
  store.reset();
  EXPECT_EQ(RawDb(path).scalar("PRAGMA user_version"), "2");
  EXPECT_EQ(RawDb(path).scalar("SELECT flag_key || '/' || variant || '@' || first_seen_ms "
                               "FROM canary_history"),
            "kernel/canary@5");
}

TEST(SqliteStore, CanaryHistorySurvivesReopenAndKeepsTheFirstSighting) {
  TempDir dir;
  const std::string path = dir.file("cache.db");
  {
    auto store = must_open(path);
    ASSERT_TRUE(*store->record_canary(CanaryRecord{"b", "canary", 200}));
    ASSERT_TRUE(*store->record_canary(CanaryRecord{"a", "wave2", 300}));
    ASSERT_TRUE(*store->record_canary(CanaryRecord{"a", "wave1", 100}));
  }
  auto store = must_open(path);
  EXPECT_FALSE(*store->record_canary(CanaryRecord{"a", "wave1", 999}));
  auto h = store->load_canary_history();
  ASSERT_TRUE(h.ok());
  ASSERT_EQ(h->size(), 3u);
  EXPECT_EQ((*h)[0].flag_key, "a");
  EXPECT_EQ((*h)[0].variant, "wave1");
  EXPECT_EQ((*h)[0].first_seen_ms, 100);
  EXPECT_EQ((*h)[1].variant, "wave2");
  EXPECT_EQ((*h)[2].flag_key, "b");
  EXPECT_EQ((*h)[2].first_seen_ms, 200);
}

TEST(SqliteStore, SurvivesReopen) {
  TempDir dir;
  const std::string path = dir.file("cache.db");
  const auto e = numbered_state(5);
  const auto d = numbered_definitions(5);
  SyncRecord r{"\"e\"", 1, 2, "boom", 77};
  {
    auto store = must_open(path);
    ASSERT_TRUE(*store->save_evaluations(e));
    ASSERT_TRUE(*store->save_definitions(d));
    ASSERT_TRUE(*store->save_sync(r));
  }
  EXPECT_FALSE(exists(path + "-wal"));  // closed cleanly: checkpointed into the main file
  auto store = must_open(path);
  auto le = store->load_evaluations();
  ASSERT_TRUE(le.ok() && le->has_value());
  EXPECT_EQ((*le)->flags, e.flags);
  EXPECT_EQ((*le)->context_hash, e.context_hash);
  EXPECT_EQ((*le)->synced_at_ms, e.synced_at_ms);
  auto ld = store->load_definitions();
  ASSERT_TRUE(ld.ok() && ld->has_value());
  EXPECT_EQ((*ld)->body, d.body);
  EXPECT_EQ(store->load_sync()->revision, 77u);
  EXPECT_FALSE(*store->save_evaluations(e));
  EXPECT_FALSE(*store->save_definitions(d));
  EXPECT_FALSE(*store->save_sync(r));
}

// PRAGMA data_version, read on another connection, changes exactly when someone else commits.
TEST(SqliteStore, UnchangedSaveWritesNothing) {
  TempDir dir;
  const std::string path = dir.file("cache.db");
  auto store = must_open(path);
  RawDb observer(path);
  ASSERT_TRUE(observer);
  const auto e = numbered_state(1);
  const auto d = numbered_definitions(1);
  const SyncRecord r{"x", 1, 1, "", 1};
  ASSERT_TRUE(*store->save_evaluations(e));
  ASSERT_TRUE(*store->save_definitions(d));
  ASSERT_TRUE(*store->save_sync(r));

  const std::string before = observer.scalar("PRAGMA data_version");
  const auto wal_before = std::filesystem::file_size(path + "-wal");
  for (int i = 0; i < 5; ++i) {
    EXPECT_FALSE(*store->save_evaluations(e));
    EXPECT_FALSE(*store->save_definitions(d));
    EXPECT_FALSE(*store->save_sync(r));
  }
  EXPECT_EQ(observer.scalar("PRAGMA data_version"), before);
  EXPECT_EQ(std::filesystem::file_size(path + "-wal"), wal_before);

  ASSERT_TRUE(*store->save_evaluations(numbered_state(2)));
  EXPECT_NE(observer.scalar("PRAGMA data_version"), before);
}

// A changed save rewrites only the rows that changed (checked through SQLite's changes()).
TEST(SqliteStore, ChangedSaveTouchesOnlyChangedRows) {
  TempDir dir;
  const std::string path = dir.file("cache.db");
  auto store = must_open(path);
  CachedEvaluations e = numbered_state(3, 200);
  ASSERT_TRUE(*store->save_evaluations(e));

  RawDb raw(path);
  // Triggers on the main table fire for the store's writes only if they are in the file's
  // schema, so install them there and drop them afterwards.
  ASSERT_TRUE(
      raw.exec("CREATE TABLE IF NOT EXISTS main.touch_log (k TEXT);"
               "CREATE TRIGGER main.t_upd AFTER UPDATE ON evaluation_flag BEGIN "
               "  INSERT INTO touch_log VALUES ('u:' || new.flag_key); END;"
               "CREATE TRIGGER main.t_ins AFTER INSERT ON evaluation_flag BEGIN "
               "  INSERT INTO touch_log VALUES ('i:' || new.flag_key); END;"
               "CREATE TRIGGER main.t_del AFTER DELETE ON evaluation_flag BEGIN "
               "  INSERT INTO touch_log VALUES ('d:' || old.flag_key); END;"));
  // The store's prepared statements notice the schema change and re-prepare themselves.
  e.flags["flag-7"]["value"] = "changed";
  e.flags.erase("flag-9");
  e.flags["brand-new"] = answer(1, "a", 1);
  ASSERT_TRUE(*store->save_evaluations(e));
  EXPECT_EQ(raw.scalar("SELECT group_concat(k, ',') FROM (SELECT k FROM touch_log ORDER BY k)"),
            "d:flag-9,i:brand-new,u:flag-7");
  auto loaded = store->load_evaluations();
  ASSERT_TRUE(loaded.ok() && loaded->has_value());
  EXPECT_EQ((*loaded)->flags, e.flags);
}

TEST(SqliteStore, RefusesValuesThatWouldNotLoadBackEqual) {
  TempDir dir;
  auto store = must_open(dir.file("cache.db"));
  ASSERT_TRUE(*store->save_evaluations(numbered_state(1)));

  CachedEvaluations nan = numbered_state(2);
  nan.flags["flag-0"]["value"] = std::nan("");
  auto r = store->save_evaluations(nan);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code, "invalid_argument");
  EXPECT_EQ(r.error().path, "/flags/flag-0/value");

  CachedEvaluations deep = numbered_state(2);
  Json v = 1;
  for (int i = 0; i < 200; ++i) v = Json::array({std::move(v)});
  deep.flags["flag-1"]["value"] = std::move(v);
  r = store->save_evaluations(deep);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code, "invalid_argument");

  CachedEvaluations bad_utf8 = numbered_state(2);
  bad_utf8.flags["flag-2"]["value"] = std::string("\xff\xfe");
  r = store->save_evaluations(bad_utf8);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code, "invalid_argument");
  EXPECT_EQ(r.error().path, "/flags/flag-2");

  auto loaded = store->load_evaluations();  // nothing of the refused saves got in
  ASSERT_TRUE(loaded.ok() && loaded->has_value());
  EXPECT_EQ((*loaded)->flags, numbered_state(1).flags);
}

TEST(SqliteStore, DamagedRowsAreReportedNotReturned) {
  TempDir dir;
  const std::string path = dir.file("cache.db");
  auto store = must_open(path);
  const auto e = numbered_state(4);
  ASSERT_TRUE(*store->save_evaluations(e));
  ASSERT_TRUE(*store->save_definitions(numbered_definitions(4)));
  RawDb raw(path);

  // Valid JSON, but not what was saved: the digest notices.
  ASSERT_TRUE(
      raw.exec("UPDATE evaluation_flag SET answer = '{\"value\":1}' "
               "WHERE flag_key = 'flag-3'"));
  auto loaded = store->load_evaluations();
  ASSERT_FALSE(loaded.ok());
  EXPECT_EQ(loaded.error().code, "corrupt");

  ASSERT_TRUE(raw.exec("UPDATE evaluation_flag SET answer = '{broken' WHERE flag_key = 'flag-3'"));
  loaded = store->load_evaluations();
  ASSERT_FALSE(loaded.ok());
  EXPECT_EQ(loaded.error().code, "corrupt");
  EXPECT_EQ(loaded.error().path, "/flags/flag-3");

  ASSERT_TRUE(raw.exec("DELETE FROM evaluation_flag WHERE flag_key = 'flag-4'"));
  ASSERT_TRUE(raw.exec("UPDATE evaluation_flag SET answer = '{}' WHERE flag_key = 'flag-3'"));
  loaded = store->load_evaluations();
  ASSERT_FALSE(loaded.ok());
  EXPECT_EQ(loaded.error().code, "corrupt");

  ASSERT_TRUE(raw.exec("UPDATE definitions SET body = CAST('tampered' AS BLOB)"));
  auto defs = store->load_definitions();
  ASSERT_FALSE(defs.ok());
  EXPECT_EQ(defs.error().code, "corrupt");

  // The next save of the real state repairs it.
  EXPECT_TRUE(*store->save_evaluations(e));
  loaded = store->load_evaluations();
  ASSERT_TRUE(loaded.ok()) << loaded.error().to_string();
  EXPECT_EQ((*loaded)->flags, e.flags);
  EXPECT_TRUE(*store->save_definitions(numbered_definitions(4)));
  EXPECT_TRUE(store->load_definitions().ok());
}

TEST(SqliteStore, OpenFailsCleanlyWithoutAUsablePath) {
  TempDir dir;
  auto missing_dir = open_sqlite(dir.file("no/such/dir/cache.db"), 1);
  ASSERT_FALSE(missing_dir.ok());
  EXPECT_EQ(missing_dir.error().code, "io") << missing_dir.error().to_string();

  auto is_dir = open_sqlite(dir.path(), 1);
  ASSERT_FALSE(is_dir.ok());
  EXPECT_FALSE(exists(dir.path() + ".corrupt-1"));  // never "recovers" something it can't open
}

// An operator may delete the cache to reset it while the agent runs. SQLite alone would keep
// using the unlinked file, and every later save would be lost when it closes.
TEST(SqliteStore, DeletedFileIsRecreatedBySaves) {
  for (const bool side_files_too : {true, false}) {
    SCOPED_TRACE(side_files_too ? "deleted with -wal/-shm" : "only the main file deleted");
    TempDir dir;
    const std::string path = dir.file("cache.db");
    auto store = must_open(path);
    ASSERT_TRUE(*store->save_evaluations(numbered_state(1)));
    ASSERT_TRUE(*store->save_sync(SyncRecord{"e", 1, 1, "", 1}));
    std::filesystem::remove(path);
    if (side_files_too) {
      std::filesystem::remove(path + "-wal");
      std::filesystem::remove(path + "-shm");
    }

    auto loaded = store->load_evaluations();
    ASSERT_TRUE(loaded.ok()) << loaded.error().to_string();
    EXPECT_FALSE(loaded->has_value());
    EXPECT_EQ(store->load_sync()->revision, 0u);
    ASSERT_TRUE(*store->save_evaluations(numbered_state(2)));
    store.reset();
    ASSERT_TRUE(exists(path));
    EXPECT_EQ(integrity(path), "ok");
    auto again = must_open(path);
    EXPECT_EQ((*again->load_evaluations())->context_hash, "ctx-2");
  }
}

TEST(SqliteStore, TwoConnectionsSeeOneAnother) {
  // Not how the agent works (one store, one thread), but the CLI or a second agent instance may
  // open the same file; SQLite's locking and the busy timeout keep that correct.
  TempDir dir;
  const std::string path = dir.file("cache.db");
  auto a = must_open(path);
  auto b = must_open(path);
  ASSERT_TRUE(*a->save_evaluations(numbered_state(1)));
  auto seen = b->load_evaluations();
  ASSERT_TRUE(seen.ok() && seen->has_value());
  EXPECT_EQ((*seen)->context_hash, "ctx-1");
  EXPECT_FALSE(*b->save_evaluations(numbered_state(1)));
  EXPECT_TRUE(*b->save_evaluations(numbered_state(2)));
  EXPECT_EQ((*a->load_evaluations())->context_hash, "ctx-2");
}

// Measures, never asserts on time: prints the figures for the report.
TEST(SqliteStore, ThousandFlags) {
  using Clock = std::chrono::steady_clock;
  constexpr int kRuns = 7;
  const char* names[] = {"first save", "unchanged save", "one-flag change", "all changed", "load"};
  std::vector<double> times[5];
  for (int run = 0; run < kRuns; ++run) {
    TempDir dir;
    auto store = must_open(dir.file("cache.db"));
    CachedEvaluations e = numbered_state(1, 1000);
    CachedEvaluations all = numbered_state(2, 1000);
    std::vector<Clock::time_point> t{Clock::now()};
    ASSERT_TRUE(*store->save_evaluations(e));
    t.push_back(Clock::now());
    ASSERT_FALSE(*store->save_evaluations(e));
    t.push_back(Clock::now());
    e.flags["flag-500"]["value"] = "one change";
    ASSERT_TRUE(*store->save_evaluations(e));
    t.push_back(Clock::now());
    ASSERT_TRUE(*store->save_evaluations(all));
    t.push_back(Clock::now());
    auto loaded = store->load_evaluations();
    t.push_back(Clock::now());
    ASSERT_TRUE(loaded.ok() && loaded->has_value());
    EXPECT_EQ((*loaded)->flags, all.flags);
    for (int i = 0; i < 5; ++i) {
      times[i].push_back(std::chrono::duration<double, std::milli>(t[i + 1] - t[i]).count());
    }
  }
  // Min and median: the machine running the tests may be busy; no assertion on either.
  std::cout << "[ figures  ] 1000+ flags, min/median of " << kRuns << " runs (ms):";
  for (int i = 0; i < 5; ++i) {
    std::sort(times[i].begin(), times[i].end());
    const double median = times[i][kRuns / 2];
    std::cout << " " << names[i] << " " << times[i][0] << "/" << median << (i < 4 ? ";" : "\n");
    RecordProperty(std::string(names[i]) + " ms", std::to_string(median));
  }
}

}  // namespace
}  // namespace ff::store::testing
