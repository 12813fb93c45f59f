// Damaged files at open: moved aside to "<path>.corrupt-<now_ms>" (with their -wal/-shm), a
// fresh database takes their place, and OpenReport says what happened. Every case uses a real
// file: garbage, truncated databases, databases with pages overwritten by random bytes.

#include <unistd.h>

#include <gtest/gtest.h>

#include "store_test_util.h"

namespace ff::store::testing {
namespace {

constexpr std::int64_t kNow = 1'764'400'999'000;

// Writes a real database with some content and closes it (so all of it is in the main file).
void make_database(const std::string& path) {
  auto store = must_open(path);
  ASSERT_NE(store, nullptr);
  ASSERT_TRUE(*store->save_evaluations(numbered_state(1, 300)));
  ASSERT_TRUE(*store->save_definitions(numbered_definitions(1, 20000)));
  ASSERT_TRUE(*store->save_sync(SyncRecord{"e", 1, 1, "", 3}));
}

void remove_moved(const std::string& path) {
  for (const char* suffix : {"", "-wal", "-shm"}) {
    std::filesystem::remove(path + ".corrupt-" + std::to_string(kNow) + suffix);
  }
}

// Opens `path`, expects a recovery and a working fresh database.
void expect_recovered(const std::string& path, const std::string& original_bytes) {
  OpenReport report;
  auto store = must_open(path, kNow, &report);
  ASSERT_NE(store, nullptr);
  EXPECT_TRUE(report.recovered);
  EXPECT_FALSE(report.created);
  EXPECT_EQ(report.moved_to, path + ".corrupt-" + std::to_string(kNow));
  EXPECT_FALSE(report.detail.empty());
  EXPECT_TRUE(read_file(report.moved_to) == original_bytes);  // kept for a post-mortem

  auto loaded = store->load_evaluations();
  ASSERT_TRUE(loaded.ok()) << loaded.error().to_string();
  EXPECT_FALSE(loaded->has_value());
  ASSERT_TRUE(*store->save_evaluations(numbered_state(9)));
  EXPECT_EQ((*store->load_evaluations())->flags, numbered_state(9).flags);
  store.reset();
  EXPECT_EQ(integrity(path), "ok");
}

TEST(StoreCorruption, RandomBytesAreNotADatabase) {
  TempDir dir;
  const std::string path = dir.file("cache.db");
  const std::string garbage = random_bytes(10000, 1);
  write_file(path, garbage);
  OpenReport report;
  { auto store = must_open(path, kNow, &report); }
  EXPECT_NE(report.detail.find("not a database"), std::string::npos) << report.detail;
  // Same file again: checked by the helper from scratch.
  write_file(path, garbage);
  remove_moved(path);
  expect_recovered(path, garbage);
}

TEST(StoreCorruption, TextFileIsNotADatabase) {
  TempDir dir;
  const std::string path = dir.file("cache.db");
  const std::string text = "flags:\n  - this is yaml, not sqlite\n";
  write_file(path, text);
  expect_recovered(path, text);
}

TEST(StoreCorruption, GarbageWithSideFilesMovesThemToo) {
  TempDir dir;
  const std::string path = dir.file("cache.db");
  write_file(path, random_bytes(8192, 2));
  write_file(path + "-wal", random_bytes(4096, 3));
  write_file(path + "-shm", random_bytes(32768, 4));
  OpenReport report;
  auto store = must_open(path, kNow, &report);
  ASSERT_NE(store, nullptr);
  ASSERT_TRUE(report.recovered);
  // Moved exactly as found: closing the failed connection neither checkpointed nor deleted.
  EXPECT_TRUE(read_file(report.moved_to) == random_bytes(8192, 2));
  EXPECT_TRUE(read_file(report.moved_to + "-wal") == random_bytes(4096, 3));
  // The -shm is only an index SQLite rebuilds (it reinitialises it on open); it must not stay.
  EXPECT_TRUE(exists(report.moved_to + "-shm"));
}

TEST(StoreCorruption, SecondRecoveryInTheSameMillisecondGetsItsOwnName) {
  TempDir dir;
  const std::string path = dir.file("cache.db");
  write_file(path, "junk one");
  OpenReport first;
  must_open(path, kNow, &first);
  write_file(path, "junk two");
  OpenReport second;
  must_open(path, kNow, &second);
  ASSERT_TRUE(first.recovered && second.recovered);
  EXPECT_NE(first.moved_to, second.moved_to);
  EXPECT_EQ(read_file(first.moved_to), "junk one");
  EXPECT_EQ(read_file(second.moved_to), "junk two");
}

TEST(StoreCorruption, TruncatedDatabases) {
  TempDir dir;
  const std::string path = dir.file("cache.db");
  make_database(path);
  const std::string whole = read_file(path);
  ASSERT_GT(whole.size(), 40000u);
  const std::size_t page = 4096;
  ASSERT_EQ(whole.size() % page, 0u);

  // Cut inside the header, right after it, inside the first page, at half, inside the last
  // page, and one page short.
  for (std::size_t cut : {std::size_t{50}, std::size_t{100}, std::size_t{1000}, whole.size() / 2,
                          whole.size() - 1000, whole.size() - page}) {
    SCOPED_TRACE("truncated to " + std::to_string(cut) + " of " + std::to_string(whole.size()));
    write_file(path, whole.substr(0, cut));
    expect_recovered(path, whole.substr(0, cut));
    remove_moved(path);
  }
}

TEST(StoreCorruption, ZeroLengthFileIsAnEmptyDatabase) {
  // SQLite treats an empty file as an empty database; nothing is lost by using it.
  TempDir dir;
  const std::string path = dir.file("cache.db");
  write_file(path, "");
  OpenReport report;
  auto store = must_open(path, kNow, &report);
  ASSERT_NE(store, nullptr);
  EXPECT_FALSE(report.recovered);
  EXPECT_FALSE(report.created);
  EXPECT_TRUE(*store->save_evaluations(numbered_state(1)));
}

TEST(StoreCorruption, OverwrittenHeaderPage) {
  TempDir dir;
  const std::string path = dir.file("cache.db");
  make_database(path);
  std::string bytes = read_file(path);
  bytes.replace(0, 4096, random_bytes(4096, 5));
  write_file(path, bytes);
  expect_recovered(path, bytes);
}

TEST(StoreCorruption, OverwrittenTablePages) {
  TempDir dir;
  const std::string path = dir.file("cache.db");
  make_database(path);
  std::string bytes = read_file(path);
  // Every page after the first: all b-tree pages of our tables are among them.
  bytes.replace(4096, bytes.size() - 4096, random_bytes(bytes.size() - 4096, 6));
  write_file(path, bytes);
  expect_recovered(path, bytes);
}

// One random page overwritten with random bytes, many times over. quick_check catches damage
// to b-tree pages; damage to content it does not look into (overflow pages, free pages) is
// caught by the stored digests or is harmless. What must never happen is a load returning
// something other than what was saved.
TEST(StoreCorruption, RandomPageOverwritesNeverYieldWrongData) {
  TempDir dir;
  const std::string path = dir.file("cache.db");
  make_database(path);
  const std::string whole = read_file(path);
  const std::size_t pages = whole.size() / 4096;
  const auto expected_flags = numbered_state(1, 300).flags;
  const auto expected_defs = numbered_definitions(1, 20000);

  int recovered = 0, load_errors = 0, intact = 0;
  for (std::uint32_t seed = 100; seed < 140; ++seed) {
    SCOPED_TRACE("seed " + std::to_string(seed));
    std::mt19937 rng(seed);
    const std::size_t victim = 1 + rng() % (pages - 1);  // page 1 is the header (tested above)
    std::string bytes = whole;
    if (seed % 2 == 0) {
      bytes.replace(victim * 4096, 4096, random_bytes(4096, seed));
    } else {  // a smaller hit somewhere inside the page
      const std::size_t len = 16 + rng() % 256;
      const std::size_t off = rng() % (4096 - len);
      bytes.replace(victim * 4096 + off, len, random_bytes(len, seed));
    }
    remove_moved(path);
    write_file(path, bytes);

    OpenReport report;
    auto store = must_open(path, kNow, &report);
    ASSERT_NE(store, nullptr);
    if (report.recovered) {
      ++recovered;
      auto e = store->load_evaluations();
      ASSERT_TRUE(e.ok());
      EXPECT_FALSE(e->has_value());
      continue;
    }
    auto e = store->load_evaluations();
    auto d = store->load_definitions();
    if (e.ok()) {
      ASSERT_TRUE(e->has_value());
      EXPECT_EQ((*e)->flags, expected_flags);
    } else {
      EXPECT_EQ(e.error().code, "corrupt") << e.error().to_string();
    }
    if (d.ok()) {
      ASSERT_TRUE(d->has_value());
      EXPECT_EQ((*d)->body, expected_defs.body);
    } else {
      EXPECT_EQ(d.error().code, "corrupt") << d.error().to_string();
    }
    (e.ok() && d.ok()) ? ++intact : ++load_errors;
  }
  std::cout << "[ figures  ] random page overwrites: " << recovered << " recovered at open, "
            << load_errors << " refused at load, " << intact << " harmless\n";
  EXPECT_GT(recovered, 0);
}

// Damage inside row content passes quick_check (it checks structure, not content); the digests
// stored with the rows catch it, so a load reports "corrupt" instead of returning wrong data.
TEST(StoreCorruption, DamagedRowContentIsCaughtAtLoad) {
  TempDir dir;
  const std::string path = dir.file("cache.db");
  make_database(path);
  std::string bytes = read_file(path);
  // numbered_definitions(1) pads its body with 'b'; the body spans several overflow pages.
  const std::size_t body = bytes.find(std::string(3000, 'b'));
  ASSERT_NE(body, std::string::npos);
  bytes[body + 1500] = 'X';
  // One flag's answer, inside its row on a b-tree leaf page.
  const std::string answer_text = "\"value\":1042";  // numbered_state(1): flag-42
  const std::size_t flag = bytes.find(answer_text);
  ASSERT_NE(flag, std::string::npos);
  bytes[flag + answer_text.size() - 1] = '7';
  write_file(path, bytes);

  OpenReport report;
  auto store = must_open(path, kNow, &report);
  ASSERT_NE(store, nullptr);
  EXPECT_FALSE(report.recovered) << report.detail;
  auto d = store->load_definitions();
  ASSERT_FALSE(d.ok());
  EXPECT_EQ(d.error().code, "corrupt");
  auto e = store->load_evaluations();
  ASSERT_FALSE(e.ok());
  EXPECT_EQ(e.error().code, "corrupt");
  EXPECT_TRUE(store->load_sync().ok());

  // Saving the current state again repairs the rows.
  EXPECT_TRUE(*store->save_definitions(numbered_definitions(1, 20000)));
  EXPECT_TRUE(*store->save_evaluations(numbered_state(1, 300)));
  EXPECT_TRUE(store->load_definitions().ok());
  auto again = store->load_evaluations();
  ASSERT_TRUE(again.ok() && again->has_value());
  EXPECT_EQ((*again)->flags, numbered_state(1, 300).flags);
}

TEST(StoreCorruption, GarbageWalNextToAGoodDatabaseIsIgnored) {
  // WAL frames carry checksums and salts; a -wal that does not match is not replayed.
  TempDir dir;
  const std::string path = dir.file("cache.db");
  make_database(path);
  write_file(path + "-wal", random_bytes(50000, 7));
  OpenReport report;
  auto store = must_open(path, kNow, &report);
  ASSERT_NE(store, nullptr);
  EXPECT_FALSE(report.recovered);
  auto e = store->load_evaluations();
  ASSERT_TRUE(e.ok() && e->has_value());
  EXPECT_EQ((*e)->flags, numbered_state(1, 300).flags);
}

TEST(StoreCorruption, ForeignDatabaseIsMovedAsideNotExtended) {
  TempDir dir;
  const std::string path = dir.file("cache.db");
  {
    RawDb raw(path, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE);
    ASSERT_TRUE(
        raw.exec("CREATE TABLE invoices (id INTEGER PRIMARY KEY, total REAL);"
                 "INSERT INTO invoices VALUES (1, 9.5);"));
  }
  OpenReport report;
  auto store = must_open(path, kNow, &report);
  ASSERT_NE(store, nullptr);
  EXPECT_TRUE(report.recovered);
  EXPECT_NE(report.detail.find("not a fleetflag cache"), std::string::npos) << report.detail;
  EXPECT_EQ(RawDb(report.moved_to).scalar("SELECT total FROM invoices"), "9.5");
}

TEST(StoreCorruption, MissingTablesAtCurrentVersion) {
  TempDir dir;
  const std::string path = dir.file("cache.db");
  make_database(path);
  ASSERT_TRUE(RawDb(path).exec("DROP TABLE sync_state;"));
  OpenReport report;
  auto store = must_open(path, kNow, &report);
  ASSERT_NE(store, nullptr);
  EXPECT_TRUE(report.recovered);
  EXPECT_NE(report.detail.find("schema does not match"), std::string::npos) << report.detail;
  EXPECT_TRUE(*store->save_sync(SyncRecord{"e", 1, 1, "", 1}));
}

TEST(StoreCorruption, NewerSchemaIsLeftAlone) {
  // A downgraded agent must not destroy a newer agent's cache: it refuses to use it instead.
  TempDir dir;
  const std::string path = dir.file("cache.db");
  make_database(path);
  ASSERT_TRUE(RawDb(path).exec("PRAGMA user_version = 99;"));
  const std::string before = read_file(path);
  OpenReport report;
  auto store = open_sqlite(path, kNow, &report);
  ASSERT_FALSE(store.ok());
  EXPECT_EQ(store.error().code, "schema_too_new");
  EXPECT_FALSE(report.recovered);
  EXPECT_EQ(read_file(path), before);
  EXPECT_FALSE(exists(path + ".corrupt-" + std::to_string(kNow)));
}

}  // namespace
}  // namespace ff::store::testing
