// Executable context providers: discovery and a bounded, shell-free, concurrent runner.
// Contract in context.h ("Providers"). The agent must not set SIGCHLD to SIG_IGN nor reap with
// waitpid(-1): the runner reaps its own children by pid.
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <filesystem>
#include <string>
#include <string_view>
#include <system_error>
#include <vector>

#include "agent/context/internal.h"

namespace ff::context::detail {
namespace {

using SteadyClock = std::chrono::steady_clock;

constexpr std::size_t kMaxStderr = 4096;
constexpr std::size_t kMaxProviderDepth = 32;

bool ends_with(std::string_view s, std::string_view suffix) {
  return s.size() >= suffix.size() && s.substr(s.size() - suffix.size()) == suffix;
}

std::string errno_text(int err) {
  return std::error_code(err, std::generic_category()).message();
}

struct Child {
  pid_t pid = -1;
  int out_fd = -1;
  int err_fd = -1;
  int pid_fd = -1;  // readable once the child exits; -1 without pidfd support
  SteadyClock::time_point deadline;
  std::size_t max_output = 0;
  std::string out;
  std::string err;
  bool exited = false;  // reaped; `status` valid unless lost
  bool lost = false;    // someone else reaped it (ECHILD)
  int status = 0;
  bool timed_out = false;
  bool too_big = false;
  std::string spawn_error;

  bool done() const { return pid < 0 || (exited && out_fd < 0 && err_fd < 0); }
};

void close_fd(int& fd) {
  if (fd >= 0) ::close(fd);
  fd = -1;
}

// Kills the group while the leader is still unreaped (so its pid, which is the group id, cannot
// have been reused), then reaps the leader.
void kill_and_reap(Child& c) {
  if (c.exited || c.pid < 0) return;
  ::killpg(c.pid, SIGKILL);
  int status = 0;
  pid_t r = 0;
  do {
    r = ::waitpid(c.pid, &status, 0);
  } while (r < 0 && errno == EINTR);
  c.exited = true;
  if (r < 0) c.lost = true;
  c.status = status;
  close_fd(c.pid_fd);
}

// True when the child has exited (not reaped yet: WNOWAIT keeps its pid reserved).
bool has_exited(const Child& c) {
  siginfo_t info{};
  int r = ::waitid(P_PID, static_cast<id_t>(c.pid), &info, WEXITED | WNOHANG | WNOWAIT);
  if (r < 0) return errno == ECHILD;
  return info.si_pid == c.pid;
}

// Reads what is available; closes the fd at EOF or error. Returns bytes read.
void drain(int& fd, std::string& into, std::size_t keep_limit, bool& over_limit) {
  char buf[8192];
  while (fd >= 0) {
    ssize_t n = ::read(fd, buf, sizeof(buf));
    if (n < 0) {
      if (errno == EINTR) continue;
      if (errno == EAGAIN) return;
      close_fd(fd);
      return;
    }
    if (n == 0) {
      close_fd(fd);
      return;
    }
    std::size_t room = keep_limit + 1 > into.size() ? keep_limit + 1 - into.size() : 0;
    into.append(buf, std::min(room, static_cast<std::size_t>(n)));
    if (into.size() > keep_limit) over_limit = true;
  }
}

void spawn(const ProviderJob& job, Child& c) {
  int out[2] = {-1, -1};
  int err[2] = {-1, -1};
  if (::pipe2(out, O_CLOEXEC | O_NONBLOCK) != 0) {
    c.spawn_error = "pipe: " + errno_text(errno);
    return;
  }
  if (::pipe2(err, O_CLOEXEC | O_NONBLOCK) != 0) {
    c.spawn_error = "pipe: " + errno_text(errno);
    ::close(out[0]);
    ::close(out[1]);
    return;
  }
  // The child's ends must be blocking (a provider may not expect EAGAIN on stdout).
  ::fcntl(out[1], F_SETFL, 0);
  ::fcntl(err[1], F_SETFL, 0);

  posix_spawn_file_actions_t fa;
  posix_spawn_file_actions_init(&fa);
  posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
  posix_spawn_file_actions_adddup2(&fa, out[1], 1);
  posix_spawn_file_actions_adddup2(&fa, err[1], 2);
  posix_spawn_file_actions_addclosefrom_np(&fa, 3);
  posix_spawn_file_actions_addchdir_np(&fa, "/");

  posix_spawnattr_t attr;
  posix_spawnattr_init(&attr);
  sigset_t none;
  sigemptyset(&none);
  sigset_t all;
  sigfillset(&all);
  sigdelset(&all, SIGKILL);
  sigdelset(&all, SIGSTOP);
  posix_spawnattr_setsigmask(&attr, &none);
  posix_spawnattr_setsigdefault(&attr, &all);
  posix_spawnattr_setpgroup(&attr, 0);
  posix_spawnattr_setflags(&attr,
                           POSIX_SPAWN_SETPGROUP | POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF);

  std::vector<std::string> env = {
      "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
      "LANG=C.UTF-8",
      "FLEETFLAG_PROVIDER=" + job.name,
  };
  for (const auto& [k, v] : job.options.env) {
    std::string entry = k;
    entry += '=';
    entry += v;
    env.push_back(std::move(entry));
  }
  std::vector<char*> envp;
  envp.reserve(env.size() + 1);
  for (auto& e : env) envp.push_back(e.data());
  envp.push_back(nullptr);
  std::string path = job.path;
  char* argv[] = {path.data(), nullptr};

  pid_t pid = -1;
  int rc = ::posix_spawn(&pid, path.c_str(), &fa, &attr, argv, envp.data());
  posix_spawn_file_actions_destroy(&fa);
  posix_spawnattr_destroy(&attr);
  ::close(out[1]);
  ::close(err[1]);
  if (rc != 0) {
    ::close(out[0]);
    ::close(err[0]);
    c.spawn_error = "cannot start: " + errno_text(rc);
    return;
  }
  c.pid = pid;
  c.out_fd = out[0];
  c.err_fd = err[0];
  c.pid_fd = static_cast<int>(::syscall(SYS_pidfd_open, pid, 0));
  c.max_output = job.options.max_output;
  c.deadline = SteadyClock::now() + job.options.timeout;
}

std::string first_stderr_line(const std::string& err) {
  auto b = err.find_first_not_of(" \t\r\n");
  if (b == std::string::npos) return "";
  std::string line = err.substr(b, err.find('\n', b) - b);
  if (line.size() > 300) line = line.substr(0, 300) + "...";
  return ": " + line;
}

ProviderOutcome outcome(const ProviderJob& job, const Child& c) {
  ProviderOutcome o;
  if (!c.spawn_error.empty()) {
    o.message = c.spawn_error;
    return o;
  }
  if (c.too_big) {
    o.message = "output larger than " + std::to_string(job.options.max_output) +
                " bytes (process group killed)";
    return o;
  }
  if (c.timed_out) {
    o.message = "timed out after " + std::to_string(job.options.timeout.count()) +
                " ms (process group killed)";
    return o;
  }
  if (c.lost) {
    o.message = "exit status lost (child reaped elsewhere)";
    return o;
  }
  if (WIFSIGNALED(c.status)) {
    const char* abbrev = ::sigabbrev_np(WTERMSIG(c.status));
    o.message = "killed by signal " + std::to_string(WTERMSIG(c.status)) +
                (abbrev != nullptr ? std::string(" (SIG") + abbrev + ")" : std::string()) +
                first_stderr_line(c.err);
    return o;
  }
  if (!WIFEXITED(c.status) || WEXITSTATUS(c.status) != 0) {
    o.message = "exit status " + std::to_string(WEXITSTATUS(c.status)) + first_stderr_line(c.err);
    return o;
  }
  json::Limits limits;
  limits.max_bytes = job.options.max_output;
  limits.max_depth = kMaxProviderDepth;
  auto parsed = json::parse(c.out, limits);
  if (!parsed.ok()) {
    o.message = "invalid output (" + parsed.error().code + "): " + parsed.error().message;
    return o;
  }
  if (!parsed->is_object()) {
    o.message = std::string("printed a JSON ") + parsed->type_name() + ", not an object";
    return o;
  }
  o.ok = true;
  o.value = std::move(*parsed);
  return o;
}

}  // namespace

bool skipped_provider_name(std::string_view name) {
  if (name.empty() || name.front() == '.' || name.back() == '~') return true;
  for (std::string_view infix : {".dpkg-", ".ucf-"}) {
    if (name.find(infix) != std::string_view::npos) return true;
  }
  for (std::string_view suffix :
       {".rpmnew", ".rpmsave", ".rpmorig", ".bak", ".swp", ".orig", ".disabled", ".conf"}) {
    if (ends_with(name, suffix)) return true;
  }
  return false;
}

std::vector<std::string> list_providers(const std::string& dir) {
  std::vector<std::string> names;
  std::error_code ec;
  std::filesystem::directory_iterator it(dir, ec);
  if (ec) return names;
  for (; it != std::filesystem::directory_iterator(); it.increment(ec)) {
    std::string name = it->path().filename().string();
    if (skipped_provider_name(name)) continue;
    std::string path = dir;
    path += '/';
    path += name;
    struct stat st {};
    if (::stat(path.c_str(), &st) != 0 || !S_ISREG(st.st_mode)) continue;
    if (::access(path.c_str(), X_OK) != 0) continue;
    names.push_back(name);
  }
  std::sort(names.begin(), names.end());
  return names;
}

std::vector<ProviderOutcome> run_providers(const std::vector<ProviderJob>& jobs) {
  std::vector<Child> children(jobs.size());
  for (std::size_t i = 0; i < jobs.size(); ++i) spawn(jobs[i], children[i]);

  for (;;) {
    std::vector<pollfd> fds;
    auto now = SteadyClock::now();
    auto wait = std::chrono::milliseconds::max();
    bool busy_poll = false;  // a child without a pidfd: its exit has to be polled for
    for (auto& c : children) {
      if (c.done()) continue;
      if (c.out_fd >= 0) fds.push_back({c.out_fd, POLLIN, 0});
      if (c.err_fd >= 0) fds.push_back({c.err_fd, POLLIN, 0});
      if (!c.exited) {
        if (c.pid_fd >= 0) {
          fds.push_back({c.pid_fd, POLLIN, 0});
        } else {
          busy_poll = true;
        }
      }
      wait = std::min(wait, std::chrono::duration_cast<std::chrono::milliseconds>(
                                c.deadline - now + std::chrono::microseconds(999)));
    }
    if (wait == std::chrono::milliseconds::max()) break;  // all done
    wait = std::max(wait, std::chrono::milliseconds(0));
    if (busy_poll) wait = std::min(wait, std::chrono::milliseconds(10));
    int r = ::poll(fds.data(), fds.size(), static_cast<int>(wait.count()));
    if (r < 0 && errno != EINTR) {
      // Cannot wait any more: kill what is left rather than leak it.
      for (auto& c : children) {
        if (!c.done()) {
          c.timed_out = !c.exited;
          kill_and_reap(c);
          close_fd(c.out_fd);
          close_fd(c.err_fd);
        }
      }
      break;
    }
    now = SteadyClock::now();
    for (auto& c : children) {
      if (c.done()) continue;
      bool over = false;
      drain(c.out_fd, c.out, c.max_output, over);
      if (over && !c.too_big) {
        c.too_big = true;
        kill_and_reap(c);
        close_fd(c.out_fd);
        close_fd(c.err_fd);
        continue;
      }
      bool err_over = false;
      drain(c.err_fd, c.err, kMaxStderr, err_over);  // keeps reading past the limit, drops it
      if (!c.exited && has_exited(c)) {
        // Leader done: whatever it left in its group goes too (a provider is not a daemon).
        kill_and_reap(c);
      }
      if (!c.done() && now >= c.deadline) {
        c.timed_out = !c.exited || c.out_fd >= 0;
        kill_and_reap(c);
        close_fd(c.out_fd);
        close_fd(c.err_fd);
      }
    }
  }

  std::vector<ProviderOutcome> outcomes;
  outcomes.reserve(jobs.size());
  for (std::size_t i = 0; i < jobs.size(); ++i) {
    close_fd(children[i].pid_fd);
    outcomes.push_back(outcome(jobs[i], children[i]));
  }
  return outcomes;
}

}  // namespace ff::context::detail
