// Definitions upstream: the flagd definitions document itself, from a file or over HTTP(S), for
// local evaluation (flagd-notes §4d). Every returned document has been checked to load with
// flags::load; a structurally broken one is an error and the caller keeps what it has.
//
// Files: the ETag is the content ETag of the bytes. A fetch whose (device, inode, size, mtime,
// ctime) equal those of the last successful read and whose ETag argument equals the last one
// returns not_modified without reading; otherwise the file is read, and identical content is
// still not_modified. An empty file is an error (flagd would publish {}; the agent keeps the
// last good flags instead).
// HTTP: GET with Accept: application/json and If-None-Match (server ETags only); 304 is not
// modified; without a server ETag the content ETag is used as for files.
// YAML is not supported yet: .yaml/.yml paths are refused by make_upstream, and a response
// whose Content-Type says YAML is an error.
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <optional>
#include <utility>

#include "agent/sync/upstream_internal.h"
#include "agent/sync/wire.h"
#include "common/flags/model.h"

namespace ff::sync::detail {

namespace {

int hex_digit(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

// file:///p or file://localhost/p -> /p (percent-decoded); a plain path is returned as is.
Result<std::string> file_path(const std::string& url) {
  if (!starts_with_icase(url, "file://")) return url;
  std::string rest = url.substr(7);
  if (rest.compare(0, 9, "localhost") == 0) rest.erase(0, 9);
  if (rest.empty() || rest.front() != '/') {
    return Error{"config", "file URL must be file:///absolute/path", {}};
  }
  std::string out;
  for (std::size_t i = 0; i < rest.size(); ++i) {
    if (rest[i] == '%' && i + 2 < rest.size() && hex_digit(rest[i + 1]) >= 0 &&
        hex_digit(rest[i + 2]) >= 0) {
      const char c = static_cast<char>(hex_digit(rest[i + 1]) * 16 + hex_digit(rest[i + 2]));
      if (c == '\0') return Error{"config", "file URL contains %00", {}};
      out += c;
      i += 2;
    } else {
      out += rest[i];
    }
  }
  return out;
}

struct FileStamp {
  dev_t dev = 0;
  ino_t ino = 0;
  off_t size = 0;
  std::int64_t mtime_ns = 0;
  std::int64_t ctime_ns = 0;
  bool operator==(const FileStamp&) const = default;
};

FileStamp stamp_of(const struct stat& st) {
  FileStamp s;
  s.dev = st.st_dev;
  s.ino = st.st_ino;
  s.size = st.st_size;
  s.mtime_ns = static_cast<std::int64_t>(st.st_mtim.tv_sec) * 1000000000 + st.st_mtim.tv_nsec;
  s.ctime_ns = static_cast<std::int64_t>(st.st_ctim.tv_sec) * 1000000000 + st.st_ctim.tv_nsec;
  return s;
}

class DefinitionsUpstream final : public Upstream {
 public:
  DefinitionsUpstream(UpstreamConfig config, std::string path)
      : config_(std::move(config)), path_(std::move(path)), client_(config_.tls) {}

  Mode mode() const override { return Mode::kDefinitions; }
  std::string describe() const override {
    return path_.empty() ? "definitions " + redact_url(config_.url) : "definitions file " + path_;
  }

  FetchOutcome fetch(const Json& /*context*/, const std::string& etag) override {
    return path_.empty() ? fetch_http(etag) : fetch_file(etag);
  }

 private:
  FetchOutcome error(std::string message, int status = 0) const {
    FetchError e;
    e.message = describe() + ": " + std::move(message);
    e.http_status = status;
    return failed(std::move(e));
  }

  // Checks that `text` loads; on success returns the outcome carrying it.
  FetchOutcome accept(std::string text, std::string new_etag, int status) const {
    flags::LoadOptions options;
    options.limits.max_bytes = config_.max_body;
    auto set = flags::load(text, options);
    if (!set) return error("refused: " + set.error().to_string(), status);
    FetchOutcome out;
    out.ok = true;
    out.fetched.definitions = std::move(text);
    out.fetched.etag = std::move(new_etag);
    return out;
  }

  static FetchOutcome not_modified(std::string etag) {
    FetchOutcome out;
    out.ok = true;
    out.fetched.not_modified = true;
    out.fetched.etag = std::move(etag);
    return out;
  }

  FetchOutcome fetch_file(const std::string& etag) {
    // O_NONBLOCK: a FIFO planted at the path must not hang the sync thread.
    const int fd = ::open(path_.c_str(), O_RDONLY | O_CLOEXEC | O_NONBLOCK);
    if (fd < 0) return error(std::string("cannot open: ") + std::strerror(errno));
    struct stat st {};
    if (::fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
      ::close(fd);
      return error("not a regular file");
    }
    const FileStamp stamp = stamp_of(st);
    if (!etag.empty() && last_ && last_->first == stamp && last_->second == etag) {
      ::close(fd);
      return not_modified(etag);
    }
    if (static_cast<std::uint64_t>(st.st_size) > config_.max_body) {
      ::close(fd);
      return error("file is larger than " + std::to_string(config_.max_body) + " bytes");
    }
    std::string text;
    text.reserve(static_cast<std::size_t>(st.st_size));
    char buf[65536];
    ssize_t n = 0;
    while ((n = ::read(fd, buf, sizeof buf)) > 0) {
      text.append(buf, static_cast<std::size_t>(n));
      if (text.size() > config_.max_body) break;
    }
    const int read_errno = errno;
    ::close(fd);
    if (n < 0) return error(std::string("read failed: ") + std::strerror(read_errno));
    if (text.size() > config_.max_body) {
      return error("file is larger than " + std::to_string(config_.max_body) + " bytes");
    }
    if (text.find_first_not_of(" \t\r\n") == std::string::npos) return error("file is empty");
    std::string new_etag = content_etag(text);
    if (new_etag == etag) {
      last_.emplace(stamp, new_etag);
      return not_modified(std::move(new_etag));
    }
    FetchOutcome out = accept(std::move(text), new_etag, 0);
    if (out.ok) last_.emplace(stamp, std::move(new_etag));
    return out;
  }

  FetchOutcome fetch_http(const std::string& etag) {
    auto extra = common_headers(config_);
    if (!extra) {
      FetchError e;
      e.message = describe() + ": " + extra.error().message;
      e.auth = true;
      return failed(std::move(e));
    }
    http::Request req = make_request(config_, "GET", config_.url);
    req.cancel = &cancel_flag();
    req.headers = {{"Accept", "application/json"}};
    const bool conditional = !etag.empty() && !is_content_etag(etag);
    if (conditional) req.headers.emplace_back("If-None-Match", etag);
    req.headers.insert(req.headers.end(), extra->begin(), extra->end());
    auto res = client_.request(req);
    if (!res) return failed(transport_error(describe(), res.error()));
    if (res->status == 304) {
      if (!conditional) return error("HTTP 304 without If-None-Match", 304);
      return not_modified(res->header("ETag").value_or(etag));
    }
    if (res->status != 200) return failed(status_error(describe(), config_.url, *res));
    const std::string type = res->header("Content-Type").value_or("");
    if (type.find("yaml") != std::string::npos || type.find("YAML") != std::string::npos) {
      return error("YAML definitions are not supported yet (Content-Type " + type + ")", 200);
    }
    if (res->body.find_first_not_of(" \t\r\n") == std::string::npos) {
      return error("empty response body", 200);
    }
    const auto server_etag = res->header("ETag");
    std::string new_etag =
        server_etag && !server_etag->empty() ? *server_etag : content_etag(res->body);
    if (is_content_etag(new_etag) && new_etag == etag) return not_modified(std::move(new_etag));
    return accept(std::move(res->body), std::move(new_etag), 200);
  }

  UpstreamConfig config_;
  std::string path_;  // empty for http(s)
  http::Client client_;
  std::optional<std::pair<FileStamp, std::string>> last_;
};

}  // namespace

Result<std::unique_ptr<Upstream>> make_definitions(const UpstreamConfig& config) {
  const std::string& url = config.url;
  if (is_http_url(url)) return std::unique_ptr<Upstream>(new DefinitionsUpstream(config, ""));
  auto path = file_path(url);
  if (!path) return path.error();
  if (path->empty()) return Error{"config", "definitions path is empty", {}};
  return std::unique_ptr<Upstream>(new DefinitionsUpstream(config, std::move(*path)));
}

}  // namespace ff::sync::detail
