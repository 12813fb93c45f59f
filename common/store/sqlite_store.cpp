// The SQLite implementation of ff::store::Store.
//
// One connection, used by one thread at a time (the agent's sync thread): it is opened with
// SQLITE_OPEN_NOMUTEX and the store adds no locking. Other processes (a second agent, the
// sqlite3 shell) are handled by SQLite's own file locking and the busy timeout.
//
// Durability: WAL with synchronous=NORMAL. A process crash loses nothing that was committed;
// a power loss may lose the last commits but never leaves a mix of two saves (each save is one
// transaction). Loads read inside one transaction, so they see one snapshot.

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <exception>
#include <filesystem>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

#include "common/store/sqlite_handle.h"
#include "common/store/store.h"

namespace ff::store {

namespace {

using sqlite::Query;
using sqlite::Status;
using sqlite::Stmt;
using sqlite::Transaction;

constexpr int kBusyTimeoutMs = 5000;
// After a checkpoint the WAL is truncated back to this size, so one large save (a big
// definitions body) does not leave a large -wal file behind for good.
constexpr const char* kJournalSizeLimit = "PRAGMA journal_size_limit = 4194304";
// The agent reads the store once at start and writes a few rows per change: a 256 KiB page
// cache (default 2 MiB) is plenty, and the agent's memory target is 15 MiB in total.
constexpr const char* kCacheSize = "PRAGMA cache_size = -256";
// Values deeper than this are refused by save (and by load): whatever walks them later recurses.
constexpr std::size_t kMaxDepth = 128;
// Rows are our own serialisation, but the file may have been damaged or edited.
constexpr json::Limits kRowLimits{std::size_t{1} << 30, kMaxDepth};

// Schema migrations, applied in order, each in its own transaction together with
// `PRAGMA user_version = <version>`. Never edit a shipped migration: append one (planned:
// rollout reports).
struct Migration {
  int version;
  const char* sql;
};

constexpr Migration kMigrations[] = {
    {1, R"sql(
-- Answers for this host's context: one header row, one row per flag.
-- flag_count and digest cover the flag rows, so that silent damage to a page that
-- quick_check does not look into (overflow content) is still detected on load.
CREATE TABLE evaluation_context (
  id            INTEGER PRIMARY KEY CHECK (id = 1),
  context_hash  TEXT    NOT NULL,
  synced_at_ms  INTEGER NOT NULL,
  flag_count    INTEGER NOT NULL,
  digest        INTEGER NOT NULL
);
CREATE TABLE evaluation_flag (
  context_id  INTEGER NOT NULL REFERENCES evaluation_context (id) ON DELETE CASCADE,
  flag_key    TEXT    NOT NULL,
  answer      TEXT    NOT NULL,  -- JSON object
  PRIMARY KEY (context_id, flag_key)
);
-- The last successfully fetched flagd definitions (definitions mode).
CREATE TABLE definitions (
  id             INTEGER PRIMARY KEY CHECK (id = 1),
  source         TEXT    NOT NULL,
  body           BLOB    NOT NULL,
  etag           TEXT    NOT NULL,
  fetched_at_ms  INTEGER NOT NULL,
  digest         INTEGER NOT NULL
);
CREATE TABLE sync_state (
  id               INTEGER PRIMARY KEY CHECK (id = 1),
  etag             TEXT    NOT NULL,
  last_attempt_ms  INTEGER NOT NULL,
  last_success_ms  INTEGER NOT NULL,
  last_error       TEXT    NOT NULL,
  revision         INTEGER NOT NULL  -- uint64 stored as its int64 bit pattern
);
)sql"},
    {2, R"sql(
-- Canary fatigue: when this host was first served each canary variant of each flag.
CREATE TABLE canary_history (
  flag_key       TEXT    NOT NULL,
  variant        TEXT    NOT NULL,
  first_seen_ms  INTEGER NOT NULL,
  PRIMARY KEY (flag_key, variant)
) WITHOUT ROWID;
)sql"},
};

constexpr int kSchemaVersion = kMigrations[std::size(kMigrations) - 1].version;

// FNV-1a, 64 bit: not cryptographic, only to notice damaged rows.
std::uint64_t fnv1a(std::string_view a, std::uint64_t h = 0xcbf29ce484222325ull) {
  for (unsigned char c : a) {
    h ^= c;
    h *= 0x100000001b3ull;
  }
  return h;
}

// Order-independent digest of the flag rows (rows are read back in any order).
std::uint64_t row_digest(std::string_view key, std::string_view text) {
  return fnv1a(text, fnv1a(std::string_view("\0", 1), fnv1a(key)));
}

std::int64_t to_db(std::uint64_t v) {
  return static_cast<std::int64_t>(v);
}
std::uint64_t from_db(std::int64_t v) {
  return static_cast<std::uint64_t>(v);
}

bool file_exists(const std::string& path) {
  struct stat st {};
  return ::lstat(path.c_str(), &st) == 0;
}

Error with_context(std::string_view what, Error e) {
  e.message = std::string(what) + ": " + e.message;
  return e;
}

// Refuses what would not load back equal: numbers that JSON cannot hold and nesting deeper
// than load accepts. (Invalid UTF-8 is caught when dumping.)
Status check_storable(const Json& v, std::size_t depth, const std::string& path) {
  if (v.is_number_float() && !std::isfinite(v.get<double>())) {
    return Error{"invalid_argument", "non-finite number cannot be stored", path};
  }
  if (!v.is_structured()) return std::nullopt;
  if (depth + 1 > kMaxDepth) {
    return Error{"invalid_argument", "nesting deeper than " + std::to_string(kMaxDepth), path};
  }
  if (v.is_object()) {
    for (auto it = v.begin(); it != v.end(); ++it) {
      if (auto err = check_storable(*it, depth + 1, path + "/" + json::pointer_token(it.key()))) {
        return err;
      }
    }
  } else {
    std::size_t i = 0;
    for (const auto& child : v) {
      if (auto err = check_storable(child, depth + 1, path + "/" + std::to_string(i++))) {
        return err;
      }
    }
  }
  return std::nullopt;
}

// Percent-encodes a path for a file: URI.
std::string file_uri(const std::string& path, std::string_view query) {
  static const char kHex[] = "0123456789ABCDEF";
  std::string out = "file:";
  for (unsigned char c : path) {
    const bool plain = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                       c == '/' || c == '.' || c == '-' || c == '_';
    if (plain) {
      out += static_cast<char>(c);
    } else {
      out += '%';
      out += kHex[c >> 4];
      out += kHex[c & 15];
    }
  }
  out += '?';
  out += query;
  return out;
}

struct Statements {
  Stmt sel_context, sel_flags, put_context, put_flag, del_flag;
  Stmt sel_defs, put_defs;
  Stmt sel_sync, put_sync;
  Stmt sel_canary, put_canary;

  Status prepare(sqlite3* db) {
    struct Item {
      Stmt* stmt;
      const char* sql;
    };
    const Item items[] = {
        {&sel_context,
         "SELECT context_hash, synced_at_ms, flag_count, digest FROM evaluation_context "
         "WHERE id = 1"},
        {&sel_flags, "SELECT flag_key, answer FROM evaluation_flag WHERE context_id = 1"},
        // An upsert, not INSERT OR REPLACE: REPLACE deletes the row first, which would cascade
        // to every flag row.
        {&put_context,
         "INSERT INTO evaluation_context (id, context_hash, synced_at_ms, flag_count, digest) "
         "VALUES (1, ?1, ?2, ?3, ?4) ON CONFLICT (id) DO UPDATE SET "
         "context_hash = excluded.context_hash, synced_at_ms = excluded.synced_at_ms, "
         "flag_count = excluded.flag_count, digest = excluded.digest"},
        {&put_flag,
         "INSERT INTO evaluation_flag (context_id, flag_key, answer) VALUES (1, ?1, ?2) "
         "ON CONFLICT (context_id, flag_key) DO UPDATE SET answer = excluded.answer"},
        {&del_flag, "DELETE FROM evaluation_flag WHERE context_id = 1 AND flag_key = ?1"},
        {&sel_defs,
         "SELECT source, body, etag, fetched_at_ms, digest FROM definitions WHERE id = 1"},
        {&put_defs,
         "INSERT INTO definitions (id, source, body, etag, fetched_at_ms, digest) "
         "VALUES (1, ?1, ?2, ?3, ?4, ?5) ON CONFLICT (id) DO UPDATE SET "
         "source = excluded.source, body = excluded.body, etag = excluded.etag, "
         "fetched_at_ms = excluded.fetched_at_ms, digest = excluded.digest"},
        {&sel_sync,
         "SELECT etag, last_attempt_ms, last_success_ms, last_error, revision FROM sync_state "
         "WHERE id = 1"},
        {&put_sync,
         "INSERT INTO sync_state (id, etag, last_attempt_ms, last_success_ms, last_error, "
         "revision) VALUES (1, ?1, ?2, ?3, ?4, ?5) ON CONFLICT (id) DO UPDATE SET "
         "etag = excluded.etag, last_attempt_ms = excluded.last_attempt_ms, "
         "last_success_ms = excluded.last_success_ms, last_error = excluded.last_error, "
         "revision = excluded.revision"},
        {&sel_canary,
         "SELECT flag_key, variant, first_seen_ms FROM canary_history ORDER BY flag_key, variant"},
        {&put_canary,
         "INSERT INTO canary_history (flag_key, variant, first_seen_ms) VALUES (?1, ?2, ?3) "
         "ON CONFLICT (flag_key, variant) DO NOTHING"},
    };
    for (const auto& item : items) {
      auto s = Stmt::prepare(db, item.sql);
      if (!s) return s.error();
      *item.stmt = std::move(*s);
    }
    return std::nullopt;
  }
};

struct Connection {
  sqlite::Db db;
  bool read_only = false;  // the file could only be opened for reading
  Statements st;
};

Result<int> user_version(sqlite3* db) {
  auto rows = sqlite::column_text(db, "PRAGMA user_version");
  if (!rows) return rows.error();
  if (rows->size() != 1) return Error{"sqlite", "PRAGMA user_version returned no row", ""};
  return std::atoi((*rows)[0].c_str());
}

Status migrate(sqlite3* db, bool read_only) {
  auto version = user_version(db);
  if (!version) return version.error();
  if (*version > kSchemaVersion) {
    return Error{"schema_too_new",
                 "database schema v" + std::to_string(*version) + " is newer than this agent (v" +
                     std::to_string(kSchemaVersion) + ")",
                 ""};
  }
  if (*version == 0) {
    // Every migration sets user_version in the same transaction as its DDL, so a database of
    // ours at version 0 is empty. Anything else at this path is not ours to extend.
    auto objects = sqlite::column_text(db, "SELECT count(*) FROM sqlite_schema");
    if (!objects) return objects.error();
    if (objects->empty() || (*objects)[0] != "0") {
      return Error{"corrupt", "not a fleetflag cache: user_version 0 with existing schema", ""};
    }
  }
  if (*version == kSchemaVersion) return std::nullopt;
  if (read_only) {
    return Error{"readonly",
                 "schema v" + std::to_string(*version) + " needs migrating to v" +
                     std::to_string(kSchemaVersion) + " but the database is read-only",
                 ""};
  }
  for (const auto& m : kMigrations) {
    if (m.version <= *version) continue;
    const std::string what = "migration to v" + std::to_string(m.version);
    auto txn = Transaction::begin(db, Transaction::Kind::kImmediate);
    if (!txn) return with_context(what, txn.error());
    if (auto err = sqlite::exec(db, m.sql)) return with_context(what, *err);
    const std::string set = "PRAGMA user_version = " + std::to_string(m.version);
    if (auto err = sqlite::exec(db, set.c_str())) return with_context(what, *err);
    if (auto err = txn->commit()) return with_context(what, *err);
  }
  return std::nullopt;
}

// Leaves the files as they are when this connection closes: no checkpoint into the main file
// and no deletion of the -wal, so that a damaged database is moved aside exactly as found.
void keep_files_on_close(sqlite3* db) {
  sqlite3_db_config(db, SQLITE_DBCONFIG_NO_CKPT_ON_CLOSE, 1, nullptr);
  int persist = 1;
  sqlite3_file_control(db, "main", SQLITE_FCNTL_PERSIST_WAL, &persist);
}

Status check_file(sqlite3* db, const std::string& path) {
  auto rows = sqlite::column_text(db, "PRAGMA quick_check");
  if (!rows) return rows.error();
  if (rows->size() != 1 || (*rows)[0] != "ok") {
    std::string detail = "quick_check:";
    for (std::size_t i = 0; i < rows->size() && i < 3; ++i) detail += " " + (*rows)[i] + ";";
    if (rows->size() > 3) detail += " (" + std::to_string(rows->size()) + " problems)";
    return Error{"corrupt", detail, ""};
  }
  // SQLite writes whole pages only. A partial last page is read as if zero-filled, which
  // quick_check does not notice when the page holds only row content (an overflow page).
  auto page_size = sqlite::column_text(db, "PRAGMA page_size");
  if (!page_size) return page_size.error();
  const long long page = page_size->empty() ? 0 : std::atoll((*page_size)[0].c_str());
  struct stat st {};
  if (page > 0 && ::stat(path.c_str(), &st) == 0 && st.st_size % page != 0) {
    return Error{"corrupt",
                 "truncated: file size " + std::to_string(st.st_size) +
                     " is not a whole number of " + std::to_string(page) + "-byte pages",
                 ""};
  }
  return std::nullopt;
}

// Configures one opened connection: pragmas, optional integrity check, migrations, prepared
// statements. Errors with code "corrupt" mean the file is damaged or is not our database (the
// caller may move it aside); anything else leaves the file alone.
Result<std::unique_ptr<Connection>> configure(sqlite::Db db, const std::string& path, bool check) {
  auto c = std::make_unique<Connection>();
  c->db = std::move(db);
  sqlite3* h = c->db.get();
  sqlite3_busy_timeout(h, kBusyTimeoutMs);
  c->read_only = sqlite3_db_readonly(h, "main") == 1;

  auto steps = [&]() -> Status {
    // The first statement that reads the file: a non-database fails here with SQLITE_NOTADB.
    auto mode =
        sqlite::column_text(h, c->read_only ? "PRAGMA journal_mode" : "PRAGMA journal_mode=WAL");
    if (!mode) return mode.error();
    if (!c->read_only && (mode->empty() || (*mode)[0] != "wal")) {
      return Error{"io",
                   "could not switch to WAL (journal_mode is " +
                       (mode->empty() ? std::string("?") : (*mode)[0]) + ")",
                   ""};
    }
    for (const char* pragma : {"PRAGMA synchronous = NORMAL", "PRAGMA foreign_keys = ON",
                               kJournalSizeLimit, kCacheSize}) {
      if (auto err = sqlite::exec(h, pragma)) return err;
    }
    if (check) {
      if (auto err = check_file(h, path)) return err;
    }
    if (auto err = migrate(h, c->read_only)) return err;
    if (auto err = c->st.prepare(h)) {
      if (err->code == "busy") return err;
      return Error{"corrupt",
                   "schema does not match v" + std::to_string(kSchemaVersion) + ": " + err->message,
                   ""};
    }
    return std::nullopt;
  };
  if (auto err = steps()) {
    if (err->code == "corrupt") keep_files_on_close(h);
    return *err;
  }
  return c;
}

// Opens `path` read-write (creating it if `create`), or read-only when that is all the file
// system allows.
Result<std::unique_ptr<Connection>> open_connection(const std::string& path, bool create,
                                                    bool check) {
  const int rw = SQLITE_OPEN_READWRITE | (create ? SQLITE_OPEN_CREATE : 0) | SQLITE_OPEN_NOMUTEX;
  const bool has_wal = file_exists(path + "-wal");
  auto db = sqlite::open(path, rw);
  std::optional<Error> first_error;
  if (db && sqlite3_db_readonly(db->get(), "main") == 1 && !has_wal) {
    // The file itself is not writable. Reading it normally would create a -shm file with the
    // database file's (read-only) mode, which would keep the database read-only for this and
    // later connections even after the file became writable again.
    first_error = Error{"readonly", "database file is not writable", ""};
  } else {
    auto c = db ? configure(std::move(*db), path, check)
                : Result<std::unique_ptr<Connection>>(db.error());
    if (c || c.error().code == "corrupt" || c.error().code == "busy") return c;
    first_error = c.error();
    if (!file_exists(path) || has_wal) return c;
  }
  // Without a -wal file the main file holds everything committed, so it can be read as
  // immutable (no locks, no -shm): loads keep working, and saves fail with "readonly" until a
  // save finds the file writable again. This also covers a read-only file system, where a
  // WAL database cannot be opened normally at all (the -shm cannot be created).
  auto ro = sqlite::open(file_uri(path, "immutable=1"),
                         SQLITE_OPEN_READONLY | SQLITE_OPEN_URI | SQLITE_OPEN_NOMUTEX);
  if (!ro) return *first_error;
  auto fallback = configure(std::move(*ro), path, check);
  if (fallback || fallback.error().code == "corrupt") return fallback;
  return *first_error;
}

// When nothing could be opened and there is no file, says whether that is because the
// directory is not writable (SQLite's own errno is that of its last, read-only, attempt).
Error explain_open_failure(const std::string& path, Error e) {
  if (e.code != "io" || file_exists(path)) return e;
  std::string dir = std::filesystem::path(path).parent_path().string();
  if (dir.empty()) dir = ".";
  if (::faccessat(AT_FDCWD, dir.c_str(), W_OK, AT_EACCESS) == 0) return e;
  const int why = errno;
  if (why == EACCES || why == EROFS || why == EPERM) {
    e.message += "; directory " + dir + " is not writable: " + std::strerror(why);
    e.code = "readonly";
  }
  return e;
}

// Moves a damaged database (and its -wal/-shm, which belong to it) aside. The side files must
// not stay next to the new database: SQLite would replay a leftover -wal into it.
Result<std::string> move_aside(const std::string& path, std::int64_t now_unix_ms) {
  const std::string base = path + ".corrupt-" + std::to_string(now_unix_ms);
  std::string dest = base;
  for (int n = 1; file_exists(dest) || file_exists(dest + "-wal"); ++n) {
    dest = base + "." + std::to_string(n);
  }
  if (std::rename(path.c_str(), dest.c_str()) != 0) {
    const int e = errno;
    return Error{e == EROFS || e == EACCES || e == EPERM ? "readonly" : "io",
                 "cannot move corrupt database aside to " + dest + ": " + std::strerror(e), ""};
  }
  for (const char* suffix : {"-wal", "-shm", "-journal"}) {
    const std::string from = path + suffix;
    const std::string to = dest + suffix;
    if (std::rename(from.c_str(), to.c_str()) == 0 || errno == ENOENT) continue;
    if (std::remove(from.c_str()) == 0 || errno == ENOENT) continue;
    return Error{"io", "cannot move " + from + " aside: " + std::strerror(errno), ""};
  }
  return dest;
}

class SqliteStore final : public Store {
 public:
  SqliteStore(std::string path, std::unique_ptr<Connection> conn)
      : path_(std::move(path)), conn_(std::move(conn)) {}

  Result<std::optional<CachedEvaluations>> load_evaluations() override {
    return guarded("load evaluations", [&]() { return do_load_evaluations(); });
  }
  Result<bool> save_evaluations(const CachedEvaluations& e) override {
    return guarded("save evaluations", [&]() { return do_save_evaluations(e); });
  }
  Result<std::optional<CachedDefinitions>> load_definitions() override {
    return guarded("load definitions", [&]() { return do_load_definitions(); });
  }
  Result<bool> save_definitions(const CachedDefinitions& d) override {
    return guarded("save definitions", [&]() { return do_save_definitions(d); });
  }
  Result<SyncRecord> load_sync() override {
    return guarded("load sync state", [&]() { return do_load_sync(); });
  }
  Result<bool> save_sync(const SyncRecord& r) override {
    return guarded("save sync state", [&]() { return do_save_sync(r); });
  }
  Result<std::vector<CanaryRecord>> load_canary_history() override {
    return guarded("load canary history", [&]() { return do_load_canary(); });
  }
  Result<bool> record_canary(const CanaryRecord& r) override {
    return guarded("record canary", [&]() { return do_record_canary(r); });
  }

 private:
  // No exception (bad_alloc, a JSON type error) leaves the store.
  template <typename F>
  static auto guarded(std::string_view what, F&& f) -> decltype(f()) {
    try {
      auto r = f();
      if (!r) return with_context(what, r.error());
      return r;
    } catch (const std::exception& ex) {
      return Error{"internal", std::string(what) + ": " + ex.what(), ""};
    }
  }

  Error fail(int rc, std::string_view what) { return sqlite::make_error(db(), rc, what); }
  sqlite3* db() const { return conn_->db.get(); }

  // The open connection. One that could only be opened read-only is replaced before a write,
  // so that saves resume once the file or the file system is writable again. The old one is
  // closed first: connections of one process share SQLite's -shm mapping, and a read-only
  // mapping would make the new connection read-only too.
  //
  // A connection whose file was deleted is dropped too: SQLite would go on writing to the
  // unlinked file, and everything saved would be lost when it closes. Closing it first lets
  // SQLite remove the -wal/-shm that belong to it; the next connection creates a new file.
  // (A file replaced while the agent runs is not supported, as with any SQLite database: the
  // agent keeps using the file it has open.)
  Status connect(bool for_write) {
    if (conn_ && conn_->read_only && for_write) conn_.reset();
    if (conn_) {
      struct stat st {};
      if (::stat(path_.c_str(), &st) != 0 && errno == ENOENT) conn_.reset();
    }
    if (conn_) return std::nullopt;
    auto fresh = open_connection(path_, /*create=*/true, /*check=*/false);
    if (!fresh) return explain_open_failure(path_, fresh.error());
    conn_ = std::move(*fresh);
    return std::nullopt;
  }

  // Runs `body` in one transaction. `body` returns false when it found nothing to change (and
  // wrote nothing); the transaction then ends without a write.
  template <typename F>
  Result<bool> write(F&& body) {
    if (auto err = connect(/*for_write=*/true)) return *err;
    // A read-only connection cannot BEGIN IMMEDIATE; a deferred transaction still lets an
    // unchanged save succeed and makes a changed one fail with "readonly" at its first write.
    auto txn = Transaction::begin(
        db(), conn_->read_only ? Transaction::Kind::kDeferred : Transaction::Kind::kImmediate);
    if (!txn) return txn.error();
    Result<bool> changed = body(conn_->st);
    if (!changed) return changed;
    if (!*changed) {
      txn->rollback();
      return false;
    }
    if (auto err = txn->commit()) return *err;
    // Saves are rare and large (a whole definitions body): give the pages back rather than keep
    // them cached until the next save.
    sqlite3_db_release_memory(db());
    return true;
  }

  template <typename F>
  auto read(F&& body) -> decltype(body(std::declval<Statements&>())) {
    if (auto err = connect(/*for_write=*/false)) return *err;
    auto txn = Transaction::begin(db(), Transaction::Kind::kDeferred);
    if (!txn) return txn.error();
    auto r = body(conn_->st);
    txn->rollback();  // nothing was written; ends the read snapshot
    return r;
  }

  Result<std::optional<CachedEvaluations>> do_load_evaluations() {
    return read([&](Statements& st) -> Result<std::optional<CachedEvaluations>> {
      CachedEvaluations e;
      std::int64_t count = 0;
      std::uint64_t digest = 0;
      {
        Query q(st.sel_context);
        const int rc = q.step();
        if (rc == SQLITE_DONE) return std::optional<CachedEvaluations>();
        if (rc != SQLITE_ROW) return fail(rc, "read evaluation_context");
        e.context_hash = q.text(0);
        e.synced_at_ms = q.int64(1);
        count = q.int64(2);
        digest = from_db(q.int64(3));
      }
      Query q(st.sel_flags);
      std::int64_t seen = 0;
      std::uint64_t sum = 0;
      for (;;) {
        const int rc = q.step();
        if (rc == SQLITE_DONE) break;
        if (rc != SQLITE_ROW) return fail(rc, "read evaluation_flag");
        const std::string_view key = q.text(0);
        const std::string_view text = q.text(1);
        auto answer = json::parse(text, kRowLimits);
        if (!answer) {
          return Error{"corrupt", "stored answer is not valid JSON: " + answer.error().message,
                       "/flags/" + json::pointer_token(key)};
        }
        sum += row_digest(key, text);
        ++seen;
        e.flags[std::string(key)] = std::move(*answer);
      }
      if (seen != count || sum != digest) {
        return Error{"corrupt",
                     "stored flags do not match their digest (" + std::to_string(seen) +
                         " rows, header says " + std::to_string(count) + ")",
                     ""};
      }
      return std::optional<CachedEvaluations>(std::move(e));
    });
  }

  Result<bool> do_save_evaluations(const CachedEvaluations& e) {
    if (!e.flags.is_object()) {
      return Error{"invalid_argument", "flags must be a JSON object", "/flags"};
    }
    // Serialised before the transaction starts, so the write lock is held only for SQL.
    struct Row {
      const std::string* key;
      std::string text;
    };
    std::vector<Row> rows;
    rows.reserve(e.flags.size());
    std::uint64_t digest = 0;
    for (auto it = e.flags.begin(); it != e.flags.end(); ++it) {
      const std::string path = "/flags/" + json::pointer_token(it.key());
      if (auto err = check_storable(*it, 0, path)) return *err;
      Row row{&it.key(), {}};
      try {
        row.text = it->dump();
      } catch (const Json::exception& ex) {  // invalid UTF-8 in a string
        return Error{"invalid_argument", ex.what(), path};
      }
      digest += row_digest(*row.key, row.text);
      rows.push_back(std::move(row));
    }

    return write([&](Statements& st) -> Result<bool> {
      bool header_same = false;
      {
        Query q(st.sel_context);
        const int rc = q.step();
        if (rc == SQLITE_ROW) {
          header_same = q.text(0) == e.context_hash && q.int64(1) == e.synced_at_ms &&
                        q.int64(2) == static_cast<std::int64_t>(rows.size()) &&
                        from_db(q.int64(3)) == digest;
        } else if (rc != SQLITE_DONE) {
          return fail(rc, "read evaluation_context");
        }
      }
      std::unordered_map<std::string, std::string> stored;
      {
        Query q(st.sel_flags);
        for (;;) {
          const int rc = q.step();
          if (rc == SQLITE_DONE) break;
          if (rc != SQLITE_ROW) return fail(rc, "read evaluation_flag");
          stored.emplace(q.text(0), q.text(1));
        }
      }
      std::vector<const Row*> upserts;
      for (const Row& row : rows) {
        auto it = stored.find(*row.key);
        if (it == stored.end() || it->second != row.text) upserts.push_back(&row);
        if (it != stored.end()) stored.erase(it);
      }
      // `stored` now holds only the keys that are gone.
      if (header_same && upserts.empty() && stored.empty()) return false;

      {
        Query q(st.put_context);
        q.bind_text(1, e.context_hash)
            .bind(2, e.synced_at_ms)
            .bind(3, static_cast<std::int64_t>(rows.size()))
            .bind(4, to_db(digest));
        if (const int rc = q.step(); rc != SQLITE_DONE) return fail(rc, "write evaluation_context");
      }
      for (const auto& [key, text] : stored) {
        Query q(st.del_flag);
        q.bind_text(1, key);
        if (const int rc = q.step(); rc != SQLITE_DONE) return fail(rc, "delete evaluation_flag");
      }
      for (const Row* row : upserts) {
        Query q(st.put_flag);
        q.bind_text(1, *row->key).bind_text(2, row->text);
        if (const int rc = q.step(); rc != SQLITE_DONE) return fail(rc, "write evaluation_flag");
      }
      return true;
    });
  }

  Result<std::optional<CachedDefinitions>> do_load_definitions() {
    return read([&](Statements& st) -> Result<std::optional<CachedDefinitions>> {
      Query q(st.sel_defs);
      const int rc = q.step();
      if (rc == SQLITE_DONE) return std::optional<CachedDefinitions>();
      if (rc != SQLITE_ROW) return fail(rc, "read definitions");
      CachedDefinitions d;
      d.source = q.text(0);
      d.body = q.blob(1);
      d.etag = q.text(2);
      d.fetched_at_ms = q.int64(3);
      if (fnv1a(d.body) != from_db(q.int64(4))) {
        return Error{"corrupt", "stored definitions do not match their digest", ""};
      }
      return std::optional<CachedDefinitions>(std::move(d));
    });
  }

  Result<bool> do_save_definitions(const CachedDefinitions& d) {
    return write([&](Statements& st) -> Result<bool> {
      {
        Query q(st.sel_defs);
        const int rc = q.step();
        if (rc == SQLITE_ROW) {
          if (q.text(0) == d.source && q.blob(1) == d.body && q.text(2) == d.etag &&
              q.int64(3) == d.fetched_at_ms) {
            return false;
          }
        } else if (rc != SQLITE_DONE) {
          return fail(rc, "read definitions");
        }
      }
      Query q(st.put_defs);
      q.bind_text(1, d.source)
          .bind_blob(2, d.body)
          .bind_text(3, d.etag)
          .bind(4, d.fetched_at_ms)
          .bind(5, to_db(fnv1a(d.body)));
      if (const int rc = q.step(); rc != SQLITE_DONE) return fail(rc, "write definitions");
      return true;
    });
  }

  Result<SyncRecord> do_load_sync() {
    return read([&](Statements& st) -> Result<SyncRecord> {
      Query q(st.sel_sync);
      const int rc = q.step();
      SyncRecord r;
      if (rc == SQLITE_DONE) return r;
      if (rc != SQLITE_ROW) return fail(rc, "read sync_state");
      r.etag = q.text(0);
      r.last_attempt_ms = q.int64(1);
      r.last_success_ms = q.int64(2);
      r.last_error = q.text(3);
      r.revision = from_db(q.int64(4));
      return r;
    });
  }

  Result<bool> do_save_sync(const SyncRecord& r) {
    return write([&](Statements& st) -> Result<bool> {
      {
        Query q(st.sel_sync);
        const int rc = q.step();
        if (rc == SQLITE_ROW) {
          if (q.text(0) == r.etag && q.int64(1) == r.last_attempt_ms &&
              q.int64(2) == r.last_success_ms && q.text(3) == r.last_error &&
              from_db(q.int64(4)) == r.revision) {
            return false;
          }
        } else if (rc == SQLITE_DONE) {
          // load_sync answers a default record when nothing is stored, so saving one is no
          // change either.
          if (r.etag.empty() && r.last_attempt_ms == 0 && r.last_success_ms == 0 &&
              r.last_error.empty() && r.revision == 0) {
            return false;
          }
        } else {
          return fail(rc, "read sync_state");
        }
      }
      Query q(st.put_sync);
      q.bind_text(1, r.etag)
          .bind(2, r.last_attempt_ms)
          .bind(3, r.last_success_ms)
          .bind_text(4, r.last_error)
          .bind(5, to_db(r.revision));
      if (const int rc = q.step(); rc != SQLITE_DONE) return fail(rc, "write sync_state");
      return true;
    });
  }

  Result<std::vector<CanaryRecord>> do_load_canary() {
    return read([&](Statements& st) -> Result<std::vector<CanaryRecord>> {
      std::vector<CanaryRecord> out;
      Query q(st.sel_canary);
      for (;;) {
        const int rc = q.step();
        if (rc == SQLITE_DONE) break;
        if (rc != SQLITE_ROW) return fail(rc, "read canary_history");
        out.push_back(CanaryRecord{std::string(q.text(0)), std::string(q.text(1)), q.int64(2)});
      }
      return out;
    });
  }

  Result<bool> do_record_canary(const CanaryRecord& r) {
    return write([&](Statements& st) -> Result<bool> {
      Query q(st.put_canary);
      q.bind_text(1, r.flag_key).bind_text(2, r.variant).bind(3, r.first_seen_ms);
      if (const int rc = q.step(); rc != SQLITE_DONE) return fail(rc, "write canary_history");
      return sqlite3_changes(db()) > 0;
    });
  }

  std::string path_;
  std::unique_ptr<Connection> conn_;
};

}  // namespace

Result<std::unique_ptr<Store>> open_sqlite(const std::string& path, std::int64_t now_unix_ms,
                                           OpenReport* report) {
  try {
    OpenReport local;
    OpenReport& rep = report != nullptr ? *report : local;
    rep = OpenReport{};
    rep.created = !file_exists(path);

    auto c = open_connection(path, /*create=*/true, /*check=*/true);
    if (!c && c.error().code == "corrupt") {
      auto moved = move_aside(path, now_unix_ms);
      if (!moved) {
        return with_context(
            "open " + path,
            Error{moved.error().code, c.error().message + "; " + moved.error().message, ""});
      }
      rep.recovered = true;
      rep.moved_to = *moved;
      rep.detail = c.error().message;
      c = open_connection(path, /*create=*/true, /*check=*/true);
    }
    if (!c) return with_context("open " + path, explain_open_failure(path, c.error()));
    return std::unique_ptr<Store>(std::make_unique<SqliteStore>(path, std::move(*c)));
  } catch (const std::exception& ex) {
    return Error{"internal", "open " + path + ": " + ex.what(), ""};
  }
}

}  // namespace ff::store
