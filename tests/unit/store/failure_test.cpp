// Full disk and read-only storage, produced for real by the kernel, each in a forked child so
// nothing leaks into the test process:
//  - full: a size-limited tmpfs in a private mount namespace, filled up (ENOSPC); and
//    RLIMIT_FSIZE, which makes the kernel refuse writes past a file size (EFBIG) and needs no
//    privilege at all.
//  - read-only: a database file without write permission, opened by an unprivileged user (the
//    tests run as root, which ignores permission bits, so the child drops to uid/gid 65534);
//    and a read-only bind mount (EROFS applies to root too).
// In every case: saves fail with an Error, nothing stored is lost, and saves work again once
// the cause is gone. Mount-namespace cases are skipped where unshare/mount are not permitted.

#include <grp.h>
#include <sched.h>
#include <signal.h>
#include <sys/mount.h>
#include <sys/resource.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include <gtest/gtest.h>

#include "store_test_util.h"

namespace ff::store::testing {
namespace {

bool enter_private_mount_namespace(ChildChecks& c) {
  if (::unshare(CLONE_NEWNS) != 0) {
    c.skip(std::string("unshare(CLONE_NEWNS): ") + std::strerror(errno));
    return false;
  }
  if (::mount(nullptr, "/", nullptr, MS_REC | MS_PRIVATE, nullptr) != 0) {
    c.skip(std::string("mount --make-rprivate /: ") + std::strerror(errno));
    return false;
  }
  return true;
}

// The part every "disk full" variant shares once the child has a store on a nearly full file
// system: `make_full` takes space away, `make_room` gives it back.
// `codes`: the error codes acceptable for this way of running out of space.
void full_disk_scenario(ChildChecks& c, const std::string& path, const std::string& codes,
                        const std::function<void()>& make_full,
                        const std::function<void()>& make_room) {
  auto code_ok = [&](const Error& e) {
    return codes.find("|" + e.code + "|") != std::string::npos;
  };
  auto opened = open_sqlite(path, 1);
  CHILD_CHECK(c, opened.ok(), opened.ok() ? "" : opened.error().to_string());
  if (!opened.ok()) return;
  Store& s = **opened;
  const auto a = numbered_state(1);
  const auto a_defs = numbered_definitions(1);
  CHILD_CHECK(c, s.save_evaluations(a).ok(), "save A");
  CHILD_CHECK(c, s.save_definitions(a_defs).ok(), "save A definitions");

  make_full();
  const auto b = numbered_state(2, 3000);  // several hundred KB of rows
  const auto b_defs = numbered_definitions(2, 400000);
  auto r = s.save_evaluations(b);
  CHILD_CHECK(c, !r.ok(), "big evaluations save must fail on a full disk");
  if (!r.ok()) CHILD_CHECK(c, code_ok(r.error()), r.error().to_string());
  auto rd = s.save_definitions(b_defs);
  CHILD_CHECK(c, !rd.ok(), "big definitions save must fail on a full disk");
  if (!rd.ok()) CHILD_CHECK(c, code_ok(rd.error()), rd.error().to_string());

  auto le = s.load_evaluations();
  CHILD_CHECK(c, le.ok() && le->has_value() && (*le)->flags == a.flags,
              "A still loads after failed saves");
  auto ld = s.load_definitions();
  CHILD_CHECK(c, ld.ok() && ld->has_value() && (*ld)->body == a_defs.body,
              "A definitions still load");

  make_room();
  r = s.save_evaluations(b);
  CHILD_CHECK(c, r.ok() && *r, r.ok() ? "" : r.error().to_string());
  rd = s.save_definitions(b_defs);
  CHILD_CHECK(c, rd.ok() && *rd, rd.ok() ? "" : rd.error().to_string());
  le = s.load_evaluations();
  CHILD_CHECK(c, le.ok() && le->has_value() && (*le)->flags == b.flags, "B loads");
  opened->reset();

  CHILD_CHECK(c, integrity(path) == "ok", integrity(path));
  auto again = open_sqlite(path, 2);
  CHILD_CHECK(c, again.ok(), "reopen");
  if (!again.ok()) return;
  le = (*again)->load_evaluations();
  CHILD_CHECK(c, le.ok() && le->has_value() && (*le)->flags == b.flags, "B after reopen");
}

TEST(StoreFailure, FullTmpfs) {
  TempDir dir;
  EXPECT_CHILD_OK(run_in_child([&](ChildChecks& c) {
    if (!enter_private_mount_namespace(c)) return;
    if (::mount("tmpfs", dir.path().c_str(), "tmpfs", 0, "size=2m") != 0) {
      c.skip(std::string("mount tmpfs: ") + std::strerror(errno));
      return;
    }
    const std::string filler = dir.file("filler");
    full_disk_scenario(
        c, dir.file("cache.db"), "|full|",
        [&] {
          // Fill every free byte.
          const int fd = ::open(filler.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
          const std::string chunk(4096, 'x');
          while (::write(fd, chunk.data(), chunk.size()) > 0) {
          }
          CHILD_CHECK(c, errno == ENOSPC, std::strerror(errno));
          ::close(fd);
        },
        [&] { ::unlink(filler.c_str()); });
  }));
}

TEST(StoreFailure, FileSizeLimit) {
  TempDir dir;
  EXPECT_CHILD_OK(run_in_child([&](ChildChecks& c) {
    ::signal(SIGXFSZ, SIG_IGN);  // else the kernel kills the process instead of failing write()
    struct rlimit old {};
    ::getrlimit(RLIMIT_FSIZE, &old);
    const std::string path = dir.file("cache.db");
    // SQLite reports ENOSPC as SQLITE_FULL but EFBIG as a plain write error.
    full_disk_scenario(
        c, path, "|full|io|",
        [&] {
          // Room for what exists plus a little, far less than the big saves need.
          std::uintmax_t biggest = 0;
          for (const char* s : {"", "-wal", "-shm"}) {
            std::error_code ec;
            const std::uintmax_t size = std::filesystem::file_size(path + s, ec);
            if (!ec) biggest = std::max(biggest, size);
          }
          struct rlimit lim = old;
          lim.rlim_cur = biggest + 16384;
          CHILD_CHECK(c, ::setrlimit(RLIMIT_FSIZE, &lim) == 0, std::strerror(errno));
        },
        [&] { CHILD_CHECK(c, ::setrlimit(RLIMIT_FSIZE, &old) == 0, std::strerror(errno)); });
  }));
}

// Drops to an unprivileged user inside the child (root ignores permission bits).
bool drop_privileges(ChildChecks& c) {
  if (::geteuid() != 0) return true;
  if (::setgroups(0, nullptr) != 0 || ::setgid(65534) != 0 || ::setuid(65534) != 0) {
    c.skip(std::string("cannot drop to uid 65534: ") + std::strerror(errno));
    return false;
  }
  return true;
}

TEST(StoreFailure, ReadOnlyFile) {
  TempDir dir;
  if (::geteuid() == 0) {
    ASSERT_EQ(::chown(dir.path().c_str(), 65534, 65534), 0) << std::strerror(errno);
  }
  EXPECT_CHILD_OK(run_in_child([&](ChildChecks& c) {
    if (!drop_privileges(c)) return;
    const std::string path = dir.file("cache.db");
    const auto a = numbered_state(1);
    const auto b = numbered_state(2);
    {
      auto s = open_sqlite(path, 1);
      CHILD_CHECK(c, s.ok(), s.ok() ? "" : s.error().to_string());
      if (!s.ok()) return;
      CHILD_CHECK(c, (*s)->save_evaluations(a).ok(), "save A");
    }
    CHILD_CHECK(c, ::chmod(path.c_str(), 0444) == 0, std::strerror(errno));
    CHILD_CHECK(c, ::access(path.c_str(), W_OK) != 0, "the file must really be read-only now");

    OpenReport report;
    auto opened = open_sqlite(path, 2, &report);
    CHILD_CHECK(c, opened.ok(), opened.ok() ? "" : opened.error().to_string());
    if (!opened.ok()) return;
    CHILD_CHECK(c, !report.recovered, "a read-only file is not corrupt");
    Store& s = **opened;
    auto le = s.load_evaluations();
    CHILD_CHECK(c, le.ok() && le->has_value() && (*le)->flags == a.flags, "A loads read-only");
    auto same = s.save_evaluations(a);
    CHILD_CHECK(c, same.ok() && !*same, "an unchanged save needs no write and succeeds");
    auto r = s.save_evaluations(b);
    CHILD_CHECK(c, !r.ok(), "changed save must fail");
    if (!r.ok()) CHILD_CHECK(c, r.error().code == "readonly", r.error().to_string());
    auto rs = s.save_sync(SyncRecord{"e", 1, 1, "", 1});
    CHILD_CHECK(c, !rs.ok() && rs.error().code == "readonly", "sync save must fail");
    le = s.load_evaluations();
    CHILD_CHECK(c, le.ok() && le->has_value() && (*le)->flags == a.flags, "A still loads");

    CHILD_CHECK(c, ::chmod(path.c_str(), 0644) == 0, std::strerror(errno));
    r = s.save_evaluations(b);
    CHILD_CHECK(c, r.ok() && *r, r.ok() ? "" : r.error().to_string());
    le = s.load_evaluations();
    CHILD_CHECK(c, le.ok() && le->has_value() && (*le)->flags == b.flags, "B loads");
    opened->reset();
    auto again = open_sqlite(path, 3);
    CHILD_CHECK(c, again.ok() && (*again)->load_evaluations()->value().flags == b.flags,
                "B after reopen");
  }));
}

TEST(StoreFailure, ReadOnlyDirectoryWithoutADatabase) {
  TempDir dir;
  if (::geteuid() == 0) {
    ASSERT_EQ(::chown(dir.path().c_str(), 65534, 65534), 0) << std::strerror(errno);
  }
  EXPECT_CHILD_OK(run_in_child([&](ChildChecks& c) {
    if (!drop_privileges(c)) return;
    CHILD_CHECK(c, ::chmod(dir.path().c_str(), 0555) == 0, std::strerror(errno));
    auto s = open_sqlite(dir.file("cache.db"), 1);
    CHILD_CHECK(c, !s.ok(), "no database can be had");
    if (!s.ok()) CHILD_CHECK(c, s.error().code == "readonly", s.error().to_string());
    CHILD_CHECK(c, !exists(dir.file("cache.db")), "nothing created");
  }));
}

TEST(StoreFailure, ReadOnlyFileSystem) {
  TempDir dir;
  EXPECT_CHILD_OK(run_in_child([&](ChildChecks& c) {
    if (!enter_private_mount_namespace(c)) return;
    const std::string path = dir.file("cache.db");
    const auto a = numbered_state(1);
    const auto a_defs = numbered_definitions(1);
    const auto b = numbered_state(2);
    {
      auto s = open_sqlite(path, 1);
      CHILD_CHECK(c, s.ok(), "create");
      if (!s.ok()) return;
      CHILD_CHECK(c, (*s)->save_evaluations(a).ok(), "save A");
      CHILD_CHECK(c, (*s)->save_definitions(a_defs).ok(), "save A definitions");
    }
    write_file(dir.file("garbage.db"), "not a database at all");
    if (::mount(dir.path().c_str(), dir.path().c_str(), nullptr, MS_BIND, nullptr) != 0 ||
        ::mount(nullptr, dir.path().c_str(), nullptr, MS_REMOUNT | MS_BIND | MS_RDONLY, nullptr) !=
            0) {
      c.skip(std::string("read-only bind mount: ") + std::strerror(errno));
      return;
    }
    CHILD_CHECK(c, ::access(dir.path().c_str(), W_OK) != 0 && errno == EROFS, "EROFS expected");

    // No database can be created here, and a corrupt one cannot be moved aside.
    auto none = open_sqlite(dir.file("new.db"), 2);
    CHILD_CHECK(c, !none.ok() && none.error().code == "readonly",
                none.ok() ? "opened?" : none.error().to_string());
    auto garbage = open_sqlite(dir.file("garbage.db"), 2);
    CHILD_CHECK(c, !garbage.ok() && garbage.error().code == "readonly",
                garbage.ok() ? "opened?" : garbage.error().to_string());
    CHILD_CHECK(c, read_file(dir.file("garbage.db")) == "not a database at all", "untouched");

    // The existing cache is still served.
    OpenReport report;
    auto opened = open_sqlite(path, 2, &report);
    CHILD_CHECK(c, opened.ok(), opened.ok() ? "" : opened.error().to_string());
    if (!opened.ok()) return;
    CHILD_CHECK(c, !report.recovered, "not corrupt");
    Store& s = **opened;
    auto le = s.load_evaluations();
    CHILD_CHECK(c, le.ok() && le->has_value() && (*le)->flags == a.flags,
                le.ok() ? "A loads" : le.error().to_string());
    auto ld = s.load_definitions();
    CHILD_CHECK(c, ld.ok() && ld->has_value() && (*ld)->body == a_defs.body, "A defs load");
    auto same = s.save_evaluations(a);
    CHILD_CHECK(c, same.ok() && !*same, same.ok() ? "" : same.error().to_string());
    auto r = s.save_evaluations(b);
    CHILD_CHECK(c, !r.ok() && r.error().code == "readonly",
                r.ok() ? "saved?" : r.error().to_string());

    if (::mount(nullptr, dir.path().c_str(), nullptr, MS_REMOUNT | MS_BIND, nullptr) != 0) {
      CHILD_CHECK(c, false, std::string("remount rw: ") + std::strerror(errno));
      return;
    }
    r = s.save_evaluations(b);
    CHILD_CHECK(c, r.ok() && *r, r.ok() ? "" : r.error().to_string());
    le = s.load_evaluations();
    CHILD_CHECK(c, le.ok() && le->has_value() && (*le)->flags == b.flags, "B loads");
    ld = s.load_definitions();
    CHILD_CHECK(c, ld.ok() && ld->has_value() && (*ld)->body == a_defs.body, "defs kept");
  }));
}

}  // namespace
}  // namespace ff::store::testing
