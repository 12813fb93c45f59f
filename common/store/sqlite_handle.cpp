#include "common/store/sqlite_handle.h"

#include <cerrno>
#include <cstring>

namespace ff::store::sqlite {

namespace {

const char* code_for(int rc, int sys_errno) {
  switch (rc & 0xff) {
    case SQLITE_FULL:
      return "full";
    case SQLITE_READONLY:
    case SQLITE_PERM:
      return "readonly";
    case SQLITE_CORRUPT:
    case SQLITE_NOTADB:
      return "corrupt";
    case SQLITE_BUSY:
    case SQLITE_LOCKED:
      return "busy";
    case SQLITE_IOERR:
    case SQLITE_CANTOPEN:
      if (sys_errno == ENOSPC || sys_errno == EDQUOT || sys_errno == EFBIG) return "full";
      if (sys_errno == EROFS || sys_errno == EACCES || sys_errno == EPERM) return "readonly";
      return "io";
    default:
      return "sqlite";
  }
}

}  // namespace

Error make_error(sqlite3* db, int rc, std::string_view what) {
  // sqlite3_system_errno is only meaningful right after an I/O failure on this connection.
  const int primary = rc & 0xff;
  const bool io = primary == SQLITE_IOERR || primary == SQLITE_CANTOPEN;
  const int sys_errno = db != nullptr && io ? sqlite3_system_errno(db) : 0;
  std::string message(what);
  message += ": ";
  // sqlite3_errmsg describes the most recent failure on `db`, which may be an earlier one when
  // `rc` did not come from a call on this handle (e.g. a bind); prefer the code's own text then.
  if (db != nullptr && sqlite3_extended_errcode(db) == rc) {
    message += sqlite3_errmsg(db);
  } else {
    message += sqlite3_errstr(rc);
  }
  message += " (sqlite " + std::to_string(rc);
  if (sys_errno != 0) message += std::string(", ") + std::strerror(sys_errno);
  message += ")";
  return Error{code_for(rc, sys_errno), std::move(message), ""};
}

bool is_corruption(int rc) {
  const int primary = rc & 0xff;
  return primary == SQLITE_CORRUPT || primary == SQLITE_NOTADB;
}

Result<Db> open(const std::string& filename, int flags) {
  sqlite3* raw = nullptr;
  const int rc = sqlite3_open_v2(filename.c_str(), &raw, flags, nullptr);
  Db db(raw);  // sqlite3_open_v2 may return a handle even on failure; it must be closed
  if (rc != SQLITE_OK) {
    return make_error(db.get(), rc, "open " + filename);
  }
  sqlite3_extended_result_codes(db.get(), 1);
  return db;
}

Status exec(sqlite3* db, const char* sql) {
  const int rc = sqlite3_exec(db, sql, nullptr, nullptr, nullptr);
  if (rc != SQLITE_OK) return make_error(db, rc, sql);
  return std::nullopt;
}

Result<std::vector<std::string>> column_text(sqlite3* db, const char* sql) {
  auto stmt = Stmt::prepare(db, sql, /*persistent=*/false);
  if (!stmt) return stmt.error();
  Query q(*stmt);
  std::vector<std::string> rows;
  for (;;) {
    const int rc = q.step();
    if (rc == SQLITE_DONE) break;
    if (rc != SQLITE_ROW) return make_error(db, rc, sql);
    rows.emplace_back(q.text(0));
  }
  return rows;
}

Result<Stmt> Stmt::prepare(sqlite3* db, std::string_view sql, bool persistent) {
  sqlite3_stmt* raw = nullptr;
  const int rc = sqlite3_prepare_v3(db, sql.data(), static_cast<int>(sql.size()),
                                    persistent ? SQLITE_PREPARE_PERSISTENT : 0, &raw, nullptr);
  Stmt s;
  s.s_.reset(raw);
  if (rc != SQLITE_OK) return make_error(db, rc, "prepare " + std::string(sql));
  if (raw == nullptr) return Error{"sqlite", "prepare: empty statement", ""};
  return s;
}

Result<Transaction> Transaction::begin(sqlite3* db, Kind kind) {
  if (auto err = exec(db, kind == Kind::kImmediate ? "BEGIN IMMEDIATE" : "BEGIN")) return *err;
  return Transaction(db);
}

Status Transaction::commit() {
  if (db_ == nullptr) return Error{"sqlite", "commit: no transaction", ""};
  auto err = exec(db_, "COMMIT");
  if (!err) db_ = nullptr;
  return err;  // on failure the destructor rolls back
}

void Transaction::rollback() noexcept {
  if (db_ != nullptr && sqlite3_get_autocommit(db_) == 0) {
    sqlite3_exec(db_, "ROLLBACK", nullptr, nullptr, nullptr);
  }
  db_ = nullptr;
}

}  // namespace ff::store::sqlite
