// Helpers shared by the store tests: temp directories, sample data, raw access to a database
// file, and running a scenario in a forked child (for SIGKILL, dropped privileges, mount
// namespaces and file-size limits, none of which may leak into the test process).
#pragma once

#include <fcntl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <functional>
#include <iterator>
#include <random>
#include <sstream>
#include <string>

#include <gtest/gtest.h>

#include "common/store/sqlite_handle.h"
#include "common/store/store.h"

namespace ff::store::testing {

class TempDir {
 public:
  TempDir() {
    char tmpl[] = "/tmp/ffstore.XXXXXX";
    const char* p = ::mkdtemp(tmpl);
    if (p == nullptr) std::abort();
    path_ = p;
  }
  ~TempDir() {
    // Tests chmod things read-only; put write permission back so removal works for non-root.
    std::error_code ec;
    std::filesystem::permissions(path_, std::filesystem::perms::owner_all,
                                 std::filesystem::perm_options::add, ec);
    std::filesystem::remove_all(path_, ec);
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;

  const std::string& path() const { return path_; }
  std::string file(const std::string& name) const { return path_ + "/" + name; }

 private:
  std::string path_;
};

inline bool exists(const std::string& p) {
  struct stat st {};
  return ::lstat(p.c_str(), &st) == 0;
}

inline std::string read_file(const std::string& p) {
  std::ifstream in(p, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

inline void write_file(const std::string& p, const std::string& bytes) {
  std::ofstream out(p, std::ios::binary | std::ios::trunc);
  out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
}

inline std::string random_bytes(std::size_t n, std::uint32_t seed) {
  std::mt19937 rng(seed);
  std::string s(n, '\0');
  for (auto& c : s) c = static_cast<char>(rng() & 0xff);
  return s;
}

// A flag answer as the agent stores it.
inline Json answer(const Json& value, const std::string& variant, std::int64_t updated_at,
                   Json metadata = Json::object()) {
  return Json{{"value", value},
              {"variant", variant},
              {"reason", "TARGETING_MATCH"},
              {"metadata", std::move(metadata)},
              {"updatedAt", updated_at}};
}

// A complete evaluation set numbered `k`: the flag set, every value and the header all depend
// on k, so a mix of two states never equals any single one.
inline CachedEvaluations numbered_state(std::int64_t k, int base_count = 50) {
  CachedEvaluations e;
  e.context_hash = "ctx-" + std::to_string(k);
  e.synced_at_ms = 1'764'400'000'000 + k;
  const int count = base_count + static_cast<int>(k % 17);
  for (int i = 0; i < count; ++i) {
    e.flags["flag-" + std::to_string(i)] =
        answer(k * 1000 + i, "v" + std::to_string((k + i) % 3), e.synced_at_ms,
               Json{{"state", k}, {"flagSetId", "fleet"}});
  }
  e.flags["extra-" + std::to_string(k % 7)] = answer(Json{{"k", k}}, "obj", e.synced_at_ms);
  return e;
}

inline CachedDefinitions numbered_definitions(std::int64_t k, std::size_t body_bytes = 2000) {
  CachedDefinitions d;
  d.source = "https://flags.example.test/defs/" + std::to_string(k);
  d.body = "{\"state\":" + std::to_string(k) + ",\"pad\":\"" +
           std::string(body_bytes, static_cast<char>('a' + k % 26)) + "\"}";
  d.etag = "\"etag-" + std::to_string(k) + "\"";
  d.fetched_at_ms = 1'764'400'000'000 + k;
  return d;
}

// A second, raw connection to a database file, to look at what the store wrote.
class RawDb {
 public:
  explicit RawDb(const std::string& path, int flags = SQLITE_OPEN_READWRITE) {
    auto db = sqlite::open(path, flags);
    if (db) db_ = std::move(*db);
  }
  explicit operator bool() const { return db_ != nullptr; }
  sqlite3* get() const { return db_.get(); }
  // First column of the first row, or "<error: ...>".
  std::string scalar(const char* sql) const {
    auto rows = sqlite::column_text(db_.get(), sql);
    if (!rows) return "<error: " + rows.error().message + ">";
    return rows->empty() ? "<no row>" : (*rows)[0];
  }
  bool exec(const char* sql) const { return !sqlite::exec(db_.get(), sql); }

 private:
  sqlite::Db db_;
};

// Opens read-write on purpose: a process killed mid-transaction leaves a hot rollback journal
// (or WAL) that only a writer may roll back; a read-only open reports SQLITE_READONLY_ROLLBACK
// instead of the state every real opener would see.
inline std::string integrity(const std::string& path) {
  RawDb raw(path, SQLITE_OPEN_READWRITE);
  if (!raw) return "<cannot open>";
  return raw.scalar("PRAGMA integrity_check");
}

inline std::unique_ptr<Store> must_open(const std::string& path, std::int64_t now = 1000,
                                        OpenReport* report = nullptr) {
  auto s = open_sqlite(path, now, report);
  EXPECT_TRUE(s.ok()) << (s.ok() ? "" : s.error().to_string());
  return s.ok() ? std::move(*s) : nullptr;
}

// Collects failures inside a forked child, where gtest assertions would not reach the parent.
class ChildChecks {
 public:
  void check(bool ok, int line, const std::string& what) {
    if (!ok) out_ << "line " << line << ": " << what << "\n";
  }
  void skip(const std::string& why) { skip_ = why; }
  std::string result() const { return skip_.empty() ? out_.str() : "SKIP: " + skip_; }

 private:
  std::ostringstream out_;
  std::string skip_;
};
#define CHILD_CHECK(checks, cond, msg) \
  (checks).check(static_cast<bool>(cond), __LINE__, std::string(#cond) + " -- " + (msg))

// Runs `fn` in a forked child and returns what it reported: "" when everything held,
// "SKIP: why" when the environment lacks something, otherwise the failures.
inline std::string run_in_child(const std::function<void(ChildChecks&)>& fn) {
  int fds[2];
  if (::pipe(fds) != 0) return "pipe failed";
  const pid_t pid = ::fork();
  if (pid < 0) return "fork failed";
  if (pid == 0) {
    ::close(fds[0]);
    ChildChecks checks;
    fn(checks);
    const std::string out = checks.result();
    std::size_t off = 0;
    while (off < out.size()) {
      const ssize_t n = ::write(fds[1], out.data() + off, out.size() - off);
      if (n <= 0) break;
      off += static_cast<std::size_t>(n);
    }
    ::_exit(0);
  }
  ::close(fds[1]);
  std::string out;
  char buf[4096];
  for (;;) {
    const ssize_t n = ::read(fds[0], buf, sizeof buf);
    if (n <= 0) break;
    out.append(buf, static_cast<std::size_t>(n));
  }
  ::close(fds[0]);
  int status = 0;
  ::waitpid(pid, &status, 0);
  if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
    out += "child did not exit cleanly (status " + std::to_string(status) + ")\n";
  }
  return out;
}

#define EXPECT_CHILD_OK(result)                                   \
  do {                                                            \
    const std::string r_ = (result);                              \
    if (r_.rfind("SKIP: ", 0) == 0) GTEST_SKIP() << r_.substr(6); \
    EXPECT_EQ(r_, "");                                            \
  } while (0)

}  // namespace ff::store::testing
