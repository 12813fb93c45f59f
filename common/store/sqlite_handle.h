// Small RAII wrappers over the SQLite C API, used by the store and by its tests to inspect a
// database file directly. No exceptions: failures come back as ff::Error.
//
// Threading: a connection and its statements are used by one thread at a time (the store opens
// its connection with SQLITE_OPEN_NOMUTEX and does no locking of its own).
#pragma once

#include <sqlite3.h>

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/json/json.h"

namespace ff::store::sqlite {

// nullopt on success. (Result<void> does not exist.)
using Status = std::optional<Error>;

struct DbClose {
  void operator()(sqlite3* db) const noexcept { sqlite3_close_v2(db); }
};
using Db = std::unique_ptr<sqlite3, DbClose>;

// Maps a SQLite result code to a stable Error code, looking at errno for I/O failures:
//   "full"     SQLITE_FULL, or an I/O error with ENOSPC/EDQUOT/EFBIG
//   "readonly" SQLITE_READONLY*, SQLITE_PERM, or an open/I/O error with EROFS/EACCES/EPERM
//   "corrupt"  SQLITE_CORRUPT*, SQLITE_NOTADB
//   "busy"     SQLITE_BUSY*, SQLITE_LOCKED*
//   "io"       other SQLITE_IOERR*/SQLITE_CANTOPEN
//   "sqlite"   anything else
// `db` may be null (then only the code is used); the message names `what` and SQLite's text.
Error make_error(sqlite3* db, int rc, std::string_view what);

// True for the result codes that mean the file's content is damaged or not a database.
bool is_corruption(int rc);

// Opens `filename` (a path, or a file: URI when `flags` has SQLITE_OPEN_URI) with extended
// result codes enabled. The handle is closed on failure.
Result<Db> open(const std::string& filename, int flags);

// Runs one or more statements that return no rows the caller needs.
Status exec(sqlite3* db, const char* sql);

// Runs a statement and returns the first column of every row as text (PRAGMAs).
Result<std::vector<std::string>> column_text(sqlite3* db, const char* sql);

// An owned prepared statement. Prepared once and reused; each execution goes through a Query.
class Stmt {
 public:
  Stmt() = default;
  // `persistent`: the statement lives as long as the connection (SQLITE_PREPARE_PERSISTENT).
  static Result<Stmt> prepare(sqlite3* db, std::string_view sql, bool persistent = true);
  sqlite3_stmt* get() const { return s_.get(); }
  explicit operator bool() const { return s_ != nullptr; }

 private:
  struct Finalize {
    void operator()(sqlite3_stmt* s) const noexcept { sqlite3_finalize(s); }
  };
  std::unique_ptr<sqlite3_stmt, Finalize> s_;
};

// One execution of a Stmt. The destructor resets the statement (which ends the implicit read
// it may hold, so checkpoints are not blocked) and clears its bindings. Bound text and blobs
// are copied (SQLITE_TRANSIENT), so temporaries are safe to bind. A bind failure is remembered
// and returned by the next step().
class Query {
 public:
  explicit Query(const Stmt& s) : s_(s.get()) {}
  ~Query() {
    sqlite3_reset(s_);
    sqlite3_clear_bindings(s_);
  }
  Query(const Query&) = delete;
  Query& operator=(const Query&) = delete;

  Query& bind(int index, std::int64_t v) { return track(sqlite3_bind_int64(s_, index, v)); }
  Query& bind_text(int index, std::string_view v) {
    return track(sqlite3_bind_text64(s_, index, v.data(), v.size(), SQLITE_TRANSIENT, SQLITE_UTF8));
  }
  Query& bind_blob(int index, std::string_view v) {
    // A zero-length blob must not be bound from a null pointer (that would bind NULL).
    static const char kEmpty = 0;
    return track(
        sqlite3_bind_blob64(s_, index, v.empty() ? &kEmpty : v.data(), v.size(), SQLITE_TRANSIENT));
  }

  // SQLITE_ROW, SQLITE_DONE, or an error code.
  int step() { return bind_rc_ != SQLITE_OK ? bind_rc_ : sqlite3_step(s_); }

  // Column accessors for the current row; views stay valid until the next step or reset.
  std::int64_t int64(int col) const { return sqlite3_column_int64(s_, col); }
  std::string_view text(int col) const {
    const auto* p = reinterpret_cast<const char*>(sqlite3_column_text(s_, col));
    return p ? std::string_view(p, static_cast<std::size_t>(sqlite3_column_bytes(s_, col)))
             : std::string_view();
  }
  std::string_view blob(int col) const {
    const auto* p = static_cast<const char*>(sqlite3_column_blob(s_, col));
    return p ? std::string_view(p, static_cast<std::size_t>(sqlite3_column_bytes(s_, col)))
             : std::string_view();
  }

 private:
  Query& track(int rc) {
    if (rc != SQLITE_OK && bind_rc_ == SQLITE_OK) bind_rc_ = rc;
    return *this;
  }
  sqlite3_stmt* s_;
  int bind_rc_ = SQLITE_OK;
};

// An explicit transaction. Rolled back by the destructor unless commit() succeeded, also when
// SQLite has already rolled back on its own (SQLITE_FULL/IOERR may do that).
class Transaction {
 public:
  enum class Kind { kDeferred, kImmediate };
  static Result<Transaction> begin(sqlite3* db, Kind kind);

  Transaction(Transaction&& o) noexcept : db_(o.db_) { o.db_ = nullptr; }
  Transaction& operator=(Transaction&&) = delete;
  Transaction(const Transaction&) = delete;
  ~Transaction() { rollback(); }

  Status commit();
  void rollback() noexcept;

 private:
  explicit Transaction(sqlite3* db) : db_(db) {}
  sqlite3* db_;
};

}  // namespace ff::store::sqlite
