// Test helpers shared by test_http and test_sync: temp dirs, a throwaway PKI made with the
// `openssl` CLI, and a child process (node) that prints {"port":N} when it is ready.
#pragma once

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

namespace ff::testing {

class TempDir {
 public:
  TempDir() {
    char tmpl[] = "/tmp/ffsyncXXXXXX";
    if (::mkdtemp(tmpl) != nullptr) path_ = tmpl;
  }
  ~TempDir() {
    std::error_code ec;
    if (!path_.empty()) std::filesystem::remove_all(path_, ec);
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  const std::string& path() const { return path_; }
  std::string file(const std::string& name) const { return path_ + "/" + name; }
  std::string write(const std::string& name, const std::string& content) const {
    std::ofstream(file(name), std::ios::binary | std::ios::trunc) << content;
    return file(name);
  }

 private:
  std::string path_;
};

inline std::string read_text(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

inline std::string node_binary() {
  const char* env = std::getenv("FF_NODE");
  return env != nullptr && *env != '\0' ? env : "node";
}

// A throwaway CA, a server certificate for localhost/127.0.0.1, a server certificate for a
// name that does not match (wrong.invalid), a client certificate, and a second unrelated CA.
struct Pki {
  std::string ca, ca_key, other_ca, server_cert, server_key, wrong_cert, wrong_key, client_cert,
      client_key;
};

inline bool make_pki(const TempDir& dir, Pki& pki) {
  const std::string d = dir.path();
  dir.write("server.ext",
            "subjectAltName=DNS:localhost,IP:127.0.0.1\nbasicConstraints=CA:FALSE\n"
            "extendedKeyUsage=serverAuth\n");
  dir.write("wrong.ext",
            "subjectAltName=DNS:wrong.invalid\nbasicConstraints=CA:FALSE\n"
            "extendedKeyUsage=serverAuth\n");
  dir.write("client.ext", "basicConstraints=CA:FALSE\nextendedKeyUsage=clientAuth\n");
  const std::string ec = " -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes ";
  const std::string ca_ext =
      " -addext basicConstraints=critical,CA:TRUE -addext keyUsage=critical,keyCertSign,cRLSign ";
  std::vector<std::string> cmds = {
      "openssl req -x509" + ec + "-keyout ca.key -out ca.pem -days 2 -subj /CN=ff-test-ca" + ca_ext,
      "openssl req -x509" + ec + "-keyout other.key -out other.pem -days 2 -subj /CN=ff-other-ca" +
          ca_ext,
  };
  for (const std::string name : {"server", "wrong", "client"}) {
    cmds.push_back("openssl req" + ec + "-keyout " + name + ".key -out " + name +
                   ".csr -subj /CN=ff-" + name);
    cmds.push_back("openssl x509 -req -in " + name + ".csr -CA ca.pem -CAkey ca.key " +
                   "-CAcreateserial -days 2 -out " + name + ".pem -extfile " + name + ".ext");
  }
  for (const auto& c : cmds) {
    const std::string full = "cd " + d + " && " + c + " >>openssl.log 2>&1";
    if (std::system(full.c_str()) != 0) return false;
  }
  pki.ca = d + "/ca.pem";
  pki.ca_key = d + "/ca.key";
  pki.other_ca = d + "/other.pem";
  pki.server_cert = d + "/server.pem";
  pki.server_key = d + "/server.key";
  pki.wrong_cert = d + "/wrong.pem";
  pki.wrong_key = d + "/wrong.key";
  pki.client_cert = d + "/client.pem";
  pki.client_key = d + "/client.key";
  return true;
}

// Runs a child whose first stdout line is {"port":N}. The child's stdin is a pipe we keep open;
// the helper scripts exit when it closes, so they die with the test even on a crash.
class PortProcess {
 public:
  PortProcess() = default;
  ~PortProcess() { stop(); }
  PortProcess(const PortProcess&) = delete;
  PortProcess& operator=(const PortProcess&) = delete;

  // Returns the port, or 0 on failure (after 20 s at most).
  int start(const std::vector<std::string>& argv) {
    int out[2];
    int in[2];
    if (::pipe2(out, O_CLOEXEC) != 0) return 0;
    if (::pipe2(in, O_CLOEXEC) != 0) return 0;
    // Built before fork(): only async-signal-safe calls may run in the child of a threaded
    // process.
    std::vector<char*> args;
    for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
    args.push_back(nullptr);
    pid_ = ::fork();
    if (pid_ == 0) {
      ::dup2(out[1], 1);
      ::dup2(in[0], 0);
      ::execvp(args[0], args.data());
      ::_exit(127);
    }
    ::close(out[1]);
    ::close(in[0]);
    stdin_ = in[1];
    std::string line;
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
    while (line.find('\n') == std::string::npos && std::chrono::steady_clock::now() < deadline) {
      pollfd p{out[0], POLLIN, 0};
      if (::poll(&p, 1, 100) <= 0) continue;
      char buf[256];
      const ssize_t n = ::read(out[0], buf, sizeof buf);
      if (n <= 0) break;
      line.append(buf, static_cast<std::size_t>(n));
    }
    ::close(out[0]);
    const auto pos = line.find("\"port\":");
    if (pos == std::string::npos) return 0;
    return std::atoi(line.c_str() + pos + 7);
  }

  void stop() {
    if (stdin_ >= 0) ::close(stdin_);
    stdin_ = -1;
    if (pid_ > 0) {
      ::kill(pid_, SIGTERM);
      int status = 0;
      ::waitpid(pid_, &status, 0);
    }
    pid_ = -1;
  }

 private:
  pid_t pid_ = -1;
  int stdin_ = -1;
};

}  // namespace ff::testing
