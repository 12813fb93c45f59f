// Helpers for the context tests: a temp dir that builds fake roots, attribute dirs and
// provider scripts, and a wait-for-condition.
#pragma once

#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <functional>
#include <sstream>
#include <stdexcept>
#include <string>
#include <thread>

#include "agent/state/clock.h"

namespace ff::context::testing {

class TempDir {
 public:
  TempDir() {
    char tmpl[] = "/tmp/ffctxXXXXXX";
    if (::mkdtemp(tmpl) == nullptr) throw std::runtime_error("mkdtemp failed");
    path_ = tmpl;
  }
  ~TempDir() {
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;

  const std::string& path() const { return path_; }
  std::string file(const std::string& rel) const { return path_ + "/" + rel; }
  // Writes `rel` (creating parent dirs) with `mode`; returns the absolute path.
  std::string write(const std::string& rel, const std::string& content, mode_t mode = 0644) const {
    std::filesystem::path p = file(rel);
    std::filesystem::create_directories(p.parent_path());
    {
      std::ofstream out(p, std::ios::binary | std::ios::trunc);
      out << content;
    }
    ::chmod(p.c_str(), mode);
    return p.string();
  }
  // An executable /bin/sh script.
  std::string script(const std::string& rel, const std::string& body) const {
    return write(rel, "#!/bin/sh\n" + body + "\n", 0755);
  }
  std::string mkdir(const std::string& rel) const {
    std::filesystem::create_directories(file(rel));
    return file(rel);
  }
  void remove(const std::string& rel) const {
    std::error_code ec;
    std::filesystem::remove(file(rel), ec);
  }
  std::string read(const std::string& rel) const {
    std::ifstream in(file(rel), std::ios::binary);
    std::stringstream ss;
    ss << in.rdbuf();
    return ss.str();
  }

 private:
  std::string path_;
};

inline bool wait_for(const std::function<bool()>& cond,
                     std::chrono::milliseconds limit = std::chrono::seconds(10)) {
  auto end = std::chrono::steady_clock::now() + limit;
  while (std::chrono::steady_clock::now() < end) {
    if (cond()) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  return cond();
}

inline std::chrono::system_clock::time_point unix_seconds(std::int64_t s) {
  return std::chrono::system_clock::time_point(std::chrono::seconds(s));
}

}  // namespace ff::context::testing
