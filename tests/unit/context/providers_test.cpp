// Provider runner (real processes): success, failures of every kind, bounds, no leftovers.
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>

#include <cerrno>
#include <chrono>
#include <string>
#include <vector>

#include "agent/context/context.h"
#include "agent/context/internal.h"
#include "tests/unit/context/context_test_util.h"

namespace ff::context {
namespace {

using testing::TempDir;
using testing::wait_for;

// No child of this process is left, running or zombie.
bool no_children() {
  int status = 0;
  return ::waitpid(-1, &status, WNOHANG) == -1 && errno == ECHILD;
}

// The process is gone or a zombie (our PID 1 may not reap orphans).
bool dead(pid_t pid) {
  if (::kill(pid, 0) != 0) return true;
  std::ifstream stat("/proc/" + std::to_string(pid) + "/stat");
  std::string line;
  std::getline(stat, line);
  auto close = line.rfind(')');
  return close != std::string::npos && close + 2 < line.size() && line[close + 2] == 'Z';
}

class ProviderTest : public ::testing::Test {
 protected:
  detail::ProviderJob job(const std::string& name, const std::string& body,
                          const ProviderOptions& options = {}) {
    return {name, dir_.script(name, body), options};
  }
  detail::ProviderOutcome run_one(const std::string& body, const ProviderOptions& options = {}) {
    auto out = detail::run_providers({job("p", body, options)});
    EXPECT_EQ(out.size(), 1u);
    EXPECT_TRUE(no_children());
    return out.empty() ? detail::ProviderOutcome{} : out[0];
  }

  TempDir dir_;
};

TEST_F(ProviderTest, GoodObject) {
  auto o = run_one(R"(echo '{"incident_open": true, "n": 3}')");
  ASSERT_TRUE(o.ok) << o.message;
  EXPECT_EQ(o.value, Json({{"incident_open", true}, {"n", 3}}));
}

TEST_F(ProviderTest, NonZeroExitIsAFailureEvenWithGoodOutput) {
  auto o = run_one("echo '{\"a\": 1}'; echo 'api unreachable' >&2; exit 3");
  EXPECT_FALSE(o.ok);
  EXPECT_NE(o.message.find("exit status 3"), std::string::npos) << o.message;
  EXPECT_NE(o.message.find("api unreachable"), std::string::npos) << o.message;
}

TEST_F(ProviderTest, KilledBySignal) {
  auto o = run_one("kill -TERM $$; sleep 5");
  EXPECT_FALSE(o.ok);
  EXPECT_NE(o.message.find("signal 15 (SIGTERM)"), std::string::npos) << o.message;
}

TEST_F(ProviderTest, GarbageAndNonObjectOutput) {
  auto garbage = run_one("echo 'hello world'");
  EXPECT_FALSE(garbage.ok);
  EXPECT_NE(garbage.message.find("invalid"), std::string::npos) << garbage.message;
  auto array = run_one("echo '[1, 2]'");
  EXPECT_FALSE(array.ok);
  EXPECT_NE(array.message.find("array"), std::string::npos) << array.message;
  auto empty = run_one("true");
  EXPECT_FALSE(empty.ok);
  auto deep = run_one(
      "printf '{\"a\":'; i=0; while [ $i -lt 40 ]; do printf '['; i=$((i+1)); "
      "done; i=0; while [ $i -lt 40 ]; do printf ']'; i=$((i+1)); done; echo '}'");
  EXPECT_FALSE(deep.ok);
  EXPECT_NE(deep.message.find("too_deep"), std::string::npos) << deep.message;
}

TEST_F(ProviderTest, OversizedOutputKillsTheGroup) {
  ProviderOptions opts;
  opts.max_output = 1000;
  auto sized = run_one("head -c 5000 /dev/zero | tr '\\0' a", opts);
  EXPECT_FALSE(sized.ok);
  EXPECT_NE(sized.message.find("larger than 1000 bytes"), std::string::npos) << sized.message;
  // Endless output is cut at the limit, not at the timeout.
  opts.timeout = std::chrono::minutes(5);
  auto endless = run_one("yes '{}'", opts);
  EXPECT_FALSE(endless.ok);
  EXPECT_NE(endless.message.find("larger than"), std::string::npos) << endless.message;
}

TEST_F(ProviderTest, HangPastTimeoutKillsTheWholeGroupAndReaps) {
  ProviderOptions opts;
  opts.timeout = std::chrono::milliseconds(300);
  opts.env["PIDFILE"] = dir_.file("grandchild.pid");
  auto start = std::chrono::steady_clock::now();
  auto o = run_one("sleep 1000 & echo $! > \"$PIDFILE\"; sleep 1000", opts);
  auto elapsed = std::chrono::steady_clock::now() - start;
  EXPECT_FALSE(o.ok);
  EXPECT_NE(o.message.find("timed out after 300 ms"), std::string::npos) << o.message;
  EXPECT_LT(elapsed, std::chrono::seconds(60));  // bounded: nowhere near the 1000 s sleep
  pid_t grandchild = std::stoi(dir_.read("grandchild.pid"));
  EXPECT_TRUE(wait_for([&] { return dead(grandchild); })) << grandchild;
}

TEST_F(ProviderTest, LeftoversAreKilledWhenTheProviderExits) {
  ProviderOptions opts;
  opts.env["PIDFILE"] = dir_.file("bg.pid");
  // The background sleep does not hold stdout (redirected), so the provider's own exit ends it.
  auto o = run_one("sleep 1000 >/dev/null 2>&1 & echo $! > \"$PIDFILE\"; echo '{\"x\": 1}'", opts);
  ASSERT_TRUE(o.ok) << o.message;
  pid_t bg = std::stoi(dir_.read("bg.pid"));
  EXPECT_TRUE(wait_for([&] { return dead(bg); })) << bg;
}

TEST_F(ProviderTest, ControlledEnvironmentAndStdin) {
  ProviderOptions opts;
  opts.env["EXTRA"] = "v";
  // stdin is /dev/null: `read` sees EOF at once instead of hanging on the test's stdin.
  auto o = run_one(
      "read line; echo \"{\\\"path\\\": \\\"$PATH\\\", \\\"home\\\": \\\"${HOME:-unset}\\\", "
      "\\\"extra\\\": \\\"$EXTRA\\\", \\\"name\\\": \\\"$FLEETFLAG_PROVIDER\\\", "
      "\\\"line\\\": \\\"$line\\\", \\\"cwd\\\": \\\"$(pwd)\\\"}\"",
      opts);
  ASSERT_TRUE(o.ok) << o.message;
  EXPECT_EQ(o.value["path"], "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin");
  EXPECT_EQ(o.value["home"], "unset");
  EXPECT_EQ(o.value["extra"], "v");
  EXPECT_EQ(o.value["name"], "p");
  EXPECT_EQ(o.value["line"], "");
  EXPECT_EQ(o.value["cwd"], "/");
}

TEST_F(ProviderTest, NoShellInterpretationOfThePath) {
  // A file name with shell metacharacters is executed as-is, not interpreted.
  auto j = job("a;touch pwned", "echo '{\"ok\": true}'");
  auto out = detail::run_providers({j});
  ASSERT_TRUE(out[0].ok) << out[0].message;
  EXPECT_FALSE(std::filesystem::exists("/pwned"));
  EXPECT_FALSE(std::filesystem::exists(dir_.file("pwned")));
}

TEST_F(ProviderTest, StartFailure) {
  detail::ProviderJob missing{"gone", dir_.file("gone"), {}};
  auto bad_interp = job("bad", "");
  dir_.write("bad", "#!/nonexistent/interpreter\n", 0755);
  auto out = detail::run_providers({missing, bad_interp});
  EXPECT_FALSE(out[0].ok);
  EXPECT_NE(out[0].message.find("cannot start"), std::string::npos) << out[0].message;
  EXPECT_FALSE(out[1].ok);
  EXPECT_TRUE(no_children());
}

TEST_F(ProviderTest, RunConcurrently) {
  // Each waits for the other's marker: they can only both succeed when they run at once.
  ProviderOptions opts;
  opts.timeout = std::chrono::seconds(20);
  opts.env["DIR"] = dir_.path();
  auto a = job("a",
               "touch \"$DIR/a.started\"; while [ ! -e \"$DIR/b.started\" ]; do sleep 0.02; "
               "done; echo '{\"a\": 1}'",
               opts);
  auto b = job("b",
               "touch \"$DIR/b.started\"; while [ ! -e \"$DIR/a.started\" ]; do sleep 0.02; "
               "done; echo '{\"b\": 1}'",
               opts);
  auto out = detail::run_providers({a, b});
  EXPECT_TRUE(out[0].ok) << out[0].message;
  EXPECT_TRUE(out[1].ok) << out[1].message;
  EXPECT_TRUE(no_children());
}

TEST_F(ProviderTest, ManyAtOnceMixedOutcomes) {
  ProviderOptions fast;
  fast.timeout = std::chrono::milliseconds(500);
  std::vector<detail::ProviderJob> jobs;
  for (int i = 0; i < 12; ++i) {
    std::string name = "p" + std::to_string(i);
    std::string body = i % 3 == 0   ? "echo '{\"i\": " + std::to_string(i) + "}'"
                       : i % 3 == 1 ? "exit 1"
                                    : "exec sleep 100";
    jobs.push_back(job(name, body, fast));
  }
  auto out = detail::run_providers(jobs);
  ASSERT_EQ(out.size(), jobs.size());
  for (int i = 0; i < 12; ++i) {
    EXPECT_EQ(out[i].ok, i % 3 == 0) << i << " " << out[i].message;
    if (i % 3 == 0) {
      EXPECT_EQ(out[i].value["i"], i);
    }
  }
  EXPECT_TRUE(no_children());
}

TEST(ProviderDiscovery, SkipsNonExecutablesDotfilesAndBackups) {
  TempDir dir;
  const std::string ok = "#!/bin/sh\necho '{}'\n";
  dir.write("b_good", ok, 0755);
  dir.write("a_good", ok, 0755);
  dir.write("not_exec", ok, 0644);
  dir.write(".hidden", ok, 0755);
  dir.write("old~", ok, 0755);
  dir.write("x.dpkg-old", ok, 0755);
  dir.write("x.dpkg-dist", ok, 0755);
  dir.write("x.rpmnew", ok, 0755);
  dir.write("x.rpmsave", ok, 0755);
  dir.write("x.ucf-old", ok, 0755);
  dir.write("x.bak", ok, 0755);
  dir.write("a_good.conf", "url=x\n", 0755);
  dir.mkdir("subdir");
  ::chmod(dir.file("subdir").c_str(), 0755);
  std::filesystem::create_symlink(dir.file("a_good"), dir.file("c_link"));
  std::filesystem::create_symlink(dir.file("missing"), dir.file("d_dangling"));
  EXPECT_EQ(detail::list_providers(dir.path()),
            (std::vector<std::string>{"a_good", "b_good", "c_link"}));
  EXPECT_TRUE(detail::list_providers(dir.file("nope")).empty());
}

}  // namespace
}  // namespace ff::context
