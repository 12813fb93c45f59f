// The only translation unit that includes Beast/Asio/OpenSSL for the client (they are slow to
// compile and must not leak into other TUs through client.h).
//
// One Exchange object per call: it owns its io_context, socket (plain or TLS) and a watchdog
// timer. It resolves the host (bounded by the deadline, see resolve()), then runs the do_x/on_x
// chain to completion on the calling thread. The watchdog enforces the whole-exchange deadline
// (and, for streams, cancellation and the idle timeout) by closing the socket; every handler
// first checks `done_` so that nothing runs after the outcome is decided.
#include "common/http/client.h"

#include <openssl/ssl.h>
#include <openssl/x509v3.h>

#include <algorithm>
#include <array>
#include <cctype>
#include <condition_variable>
#include <exception>
#include <limits>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

// GCC 12 with -fsanitize reports a false -Wmaybe-uninitialized inside Beast 1.74's
// basic_parser (boost::optional in content_length()); the pragma is scoped to Boost's headers.
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/address.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http.hpp>
#pragma GCC diagnostic pop

namespace ff::http {

namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace bhttp = boost::beast::http;
namespace ssl = boost::asio::ssl;
using tcp = asio::ip::tcp;
using SteadyClock = std::chrono::steady_clock;
using boost::system::error_code;

constexpr std::uint32_t kHeaderLimit = 64u << 10;
constexpr auto kWatchdogTick = std::chrono::milliseconds(100);
constexpr std::size_t kStreamChunk = 16u << 10;

bool iequals(std::string_view a, std::string_view b) {
  return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
           return std::tolower(static_cast<unsigned char>(x)) ==
                  std::tolower(static_cast<unsigned char>(y));
         });
}

Error make_error(std::string code, std::string message) {
  return Error{std::move(code), std::move(message), {}};
}

struct Target {
  bool tls = false;
  std::string host;  // without IPv6 brackets
  std::string port;
  std::string target;  // origin-form: /path?query
  std::string host_header;
  bool host_is_ip = false;
};

// Accepts http(s)://host[:port][/path][?query][#fragment]. Userinfo is refused (credentials
// belong in headers, and URLs end up in logs).
Result<Target> parse_url(std::string_view url) {
  for (char c : url) {
    const auto u = static_cast<unsigned char>(c);
    if (u <= 0x20 || u == 0x7f) return make_error("bad_url", "URL contains a space or control");
  }
  Target t;
  const auto sep = url.find("://");
  if (sep == std::string_view::npos) return make_error("bad_url", "URL has no scheme");
  const std::string_view scheme = url.substr(0, sep);
  if (iequals(scheme, "https")) {
    t.tls = true;
  } else if (!iequals(scheme, "http")) {
    return make_error("bad_url", "unsupported URL scheme (http or https)");
  }
  std::string_view rest = url.substr(sep + 3);
  const auto auth_end = rest.find_first_of("/?#");
  std::string_view authority = rest.substr(0, auth_end);
  std::string_view path = auth_end == std::string_view::npos ? "" : rest.substr(auth_end);
  if (authority.find('@') != std::string_view::npos) {
    return make_error("bad_url", "credentials in URLs are not supported");
  }
  std::string_view host;
  std::string_view port;
  if (!authority.empty() && authority.front() == '[') {
    const auto close = authority.find(']');
    if (close == std::string_view::npos) return make_error("bad_url", "unterminated IPv6 host");
    host = authority.substr(1, close - 1);
    std::string_view after = authority.substr(close + 1);
    if (!after.empty()) {
      if (after.front() != ':') return make_error("bad_url", "junk after IPv6 host");
      port = after.substr(1);
    }
    error_code ec;
    asio::ip::make_address_v6(std::string(host), ec);
    if (ec) return make_error("bad_url", "invalid IPv6 address");
    t.host_is_ip = true;
  } else {
    const auto colon = authority.rfind(':');
    host = authority.substr(0, colon);
    if (colon != std::string_view::npos) port = authority.substr(colon + 1);
    for (char c : host) {
      if (!std::isalnum(static_cast<unsigned char>(c)) && c != '-' && c != '.' && c != '_') {
        return make_error("bad_url", "invalid character in host name");
      }
    }
    error_code ec;
    asio::ip::make_address_v4(std::string(host), ec);
    t.host_is_ip = !ec;
  }
  if (host.empty()) return make_error("bad_url", "URL has no host");
  if (!port.empty() || authority.find(':') != std::string_view::npos) {
    if (port.empty() || port.size() > 5 || !std::all_of(port.begin(), port.end(), [](char c) {
          return std::isdigit(static_cast<unsigned char>(c));
        })) {
      return make_error("bad_url", "invalid port");
    }
    const int p = std::stoi(std::string(port));
    if (p < 1 || p > 65535) return make_error("bad_url", "port out of range");
  }
  t.host = std::string(host);
  const bool default_port = port.empty() || (t.tls && port == "443") || (!t.tls && port == "80");
  t.port = port.empty() ? (t.tls ? "443" : "80") : std::string(port);
  t.host_header = t.host.find(':') != std::string::npos ? "[" + t.host + "]" : t.host;
  if (!default_port) t.host_header += ":" + t.port;
  if (const auto hash = path.find('#'); hash != std::string_view::npos) path = path.substr(0, hash);
  if (path.empty()) {
    t.target = "/";
  } else if (path.front() == '?') {
    t.target = "/" + std::string(path);
  } else {
    t.target = std::string(path);
  }
  return t;
}

bool valid_header_name(std::string_view name) {
  if (name.empty()) return false;
  static constexpr std::string_view kTokenExtras = "!#$%&'*+-.^_`|~";
  return std::all_of(name.begin(), name.end(), [](char c) {
    return std::isalnum(static_cast<unsigned char>(c)) ||
           kTokenExtras.find(c) != std::string_view::npos;
  });
}

bool valid_header_value(std::string_view value) {
  return std::none_of(value.begin(), value.end(),
                      [](char c) { return c == '\r' || c == '\n' || c == '\0'; });
}

// A fresh context per call: certificate/key/CA files may be rotated between calls (short-lived
// client certificates), and loading them costs milliseconds against poll intervals of seconds.
Result<std::unique_ptr<ssl::context>> make_tls_context(const TlsOptions& tls) {
  auto ctx = std::make_unique<ssl::context>(ssl::context::tls_client);
  ctx->set_options(ssl::context::default_workarounds | ssl::context::no_sslv2 |
                   ssl::context::no_sslv3 | ssl::context::no_tlsv1 | ssl::context::no_tlsv1_1);
  error_code ec;
  ctx->set_default_verify_paths(ec);
  if (ec) return make_error("tls", "cannot load the system CA store: " + ec.message());
  if (!tls.ca_file.empty()) {
    ctx->load_verify_file(tls.ca_file, ec);
    if (ec) return make_error("tls", "cannot load CA file " + tls.ca_file + ": " + ec.message());
  }
  if (tls.client_cert.empty() != tls.client_key.empty()) {
    return make_error("tls", "client certificate and key must be given together");
  }
  if (!tls.client_cert.empty()) {
    ctx->use_certificate_chain_file(tls.client_cert, ec);
    if (ec) {
      return make_error("tls",
                        "cannot load client certificate " + tls.client_cert + ": " + ec.message());
    }
    ctx->use_private_key_file(tls.client_key, ssl::context::pem, ec);
    if (ec) {
      return make_error("tls", "cannot load client key " + tls.client_key + ": " + ec.message());
    }
    if (SSL_CTX_check_private_key(ctx->native_handle()) != 1) {
      return make_error("tls", "client key " + tls.client_key + " does not match the certificate");
    }
  }
  ctx->set_verify_mode(tls.verify ? ssl::verify_peer : ssl::verify_none);
  return ctx;
}

// One HTTP exchange (request or stream). Not reusable; run_*() is called once.
class Exchange {
 public:
  Exchange(Target target, const Request& req) : target_(std::move(target)), request_(req) {}

  Result<Response> run_request(const TlsOptions& tls) {
    streaming_ = false;
    cancel_ = request_.cancel;
    full_.emplace();
    full_->header_limit(kHeaderLimit);
    full_->body_limit(static_cast<std::uint64_t>(request_.max_body));
    if (auto e = start(tls)) return *e;
    ioc_.run();
    if (error_) return *error_;
    auto& msg = full_->get();
    Response r;
    r.status = static_cast<int>(msg.result_int());
    collect_headers(msg, r.headers);
    r.body = std::move(msg.body());
    return r;
  }

  Result<int> run_stream(const TlsOptions& tls,
                         const std::function<bool(std::string_view)>& on_data,
                         const std::atomic<bool>& cancel, std::chrono::milliseconds idle) {
    streaming_ = true;
    on_data_ = &on_data;
    cancel_ = &cancel;
    idle_ = idle;
    part_.emplace();
    part_->header_limit(kHeaderLimit);
    // Unlimited (the consumer bounds what it keeps). Not boost::none: Beast 1.74 compares
    // `len_ > body_limit_`, which is true for an empty optional.
    part_->body_limit(std::numeric_limits<std::uint64_t>::max());
    if (auto e = start(tls)) return *e;
    ioc_.run();
    if (error_) return *error_;
    return status_;
  }

 private:
  // Calls f with the concrete stream (TLS or plain): the Beast algorithms are templates.
  template <typename F>
  void with_stream(F&& f) {
    if (tls_) {
      f(*tls_);
    } else {
      f(*plain_);
    }
  }
  tcp::socket& socket() { return tls_ ? tls_->next_layer() : *plain_; }

  std::optional<Error> start(const TlsOptions& tls) {
    if (cancel_ != nullptr && cancel_->load()) {
      return make_error("cancelled", "cancelled before connecting to " + target_.host_header);
    }
    req_.version(11);
    const auto verb = bhttp::string_to_verb(request_.method);
    if (verb == bhttp::verb::unknown) {
      if (!valid_header_name(request_.method)) {
        return make_error("bad_request", "invalid method");
      }
      req_.method_string(request_.method);
    } else {
      req_.method(verb);
    }
    req_.target(target_.target);
    req_.set(bhttp::field::host, target_.host_header);
    req_.set(bhttp::field::user_agent, "fleetflag/0.1");
    req_.set(bhttp::field::connection, "close");
    for (const auto& [name, value] : request_.headers) {
      if (!valid_header_name(name) || !valid_header_value(value)) {
        return make_error("bad_request", "invalid header " + name);
      }
      req_.set(name, value);
    }
    req_.body() = request_.body;
    if (!request_.body.empty() || verb == bhttp::verb::post || verb == bhttp::verb::put) {
      req_.prepare_payload();
    }

    if (target_.tls) {
      auto ctx = make_tls_context(tls);
      if (!ctx) return ctx.error();
      ctx_ = std::move(*ctx);
      tls_.emplace(ioc_, *ctx_);
    } else {
      plain_.emplace(ioc_);
    }
    deadline_ = SteadyClock::now() + request_.timeout;
    if (auto e = resolve()) return e;
    arm_watchdog();
    do_connect();
    return std::nullopt;
  }

  // ---- watchdog: deadline, cancellation, idle timeout ----

  void arm_watchdog() {
    auto next = SteadyClock::now() + kWatchdogTick;
    if (!body_phase_) next = std::min(next, deadline_);
    watchdog_.expires_at(next);
    watchdog_.async_wait([this](error_code ec) {
      if (done_ || ec == asio::error::operation_aborted) return;
      on_watchdog();
    });
  }

  void on_watchdog() {
    const auto now = SteadyClock::now();
    if (cancel_ != nullptr && cancel_->load()) {
      if (body_phase_) return finish();
      return fail("cancelled",
                  std::string("cancelled (") + phase_ + ") talking to " + target_.host_header);
    }
    if (body_phase_) {
      if (now - last_data_ >= idle_) {
        return fail("timeout", "no data from " + target_.host_header + " for " +
                                   std::to_string(idle_.count()) + " ms");
      }
    } else if (now >= deadline_) {
      return fail("timeout", std::string("timed out (") + phase_ + ") after " +
                                 std::to_string(request_.timeout.count()) + " ms talking to " +
                                 target_.host_header);
    }
    arm_watchdog();
  }

  // ---- resolve / connect / handshake / write / read ----

  // getaddrinfo cannot be cancelled, and an outstanding Asio async_resolve keeps
  // io_context::run() (and the io_context destructor) waiting for it, past any deadline. So
  // names are resolved on a detached thread that this call waits for only until the deadline
  // (or `cancel`); a late answer is dropped. IP literals need no lookup.
  std::optional<Error> resolve() {
    phase_ = "resolve";
    if (target_.host_is_ip) {
      error_code ec;
      const auto address = asio::ip::make_address(target_.host, ec);
      if (ec) return make_error("bad_url", "invalid IP address " + target_.host);
      endpoints_.emplace_back(address, static_cast<unsigned short>(std::stoi(target_.port)));
      return std::nullopt;
    }
    struct Lookup {
      std::mutex mu;
      std::condition_variable cv;
      bool done = false;
      error_code ec;
      std::vector<tcp::endpoint> endpoints;
    };
    auto lookup = std::make_shared<Lookup>();
    std::thread([lookup, host = target_.host, port = target_.port] {
      error_code ec;
      std::vector<tcp::endpoint> endpoints;
      try {
        asio::io_context ioc;
        tcp::resolver resolver(ioc);
        for (const auto& entry : resolver.resolve(host, port, ec)) {
          endpoints.push_back(entry.endpoint());
        }
      } catch (...) {
        ec = asio::error::no_memory;
      }
      std::lock_guard<std::mutex> l(lookup->mu);
      lookup->ec = ec;
      lookup->endpoints = std::move(endpoints);
      lookup->done = true;
      lookup->cv.notify_all();
    }).detach();
    std::unique_lock<std::mutex> l(lookup->mu);
    while (!lookup->done) {
      if (cancel_ != nullptr && cancel_->load()) {
        return make_error("cancelled", "cancelled while resolving " + target_.host);
      }
      const auto now = SteadyClock::now();
      if (now >= deadline_) {
        return make_error("timeout", "timed out (resolve) after " +
                                         std::to_string(request_.timeout.count()) +
                                         " ms resolving " + target_.host);
      }
      lookup->cv.wait_until(l, std::min(deadline_, now + kWatchdogTick));
    }
    if (lookup->ec) {
      return make_error("resolve", "cannot resolve " + target_.host + ": " + lookup->ec.message());
    }
    if (lookup->endpoints.empty()) return make_error("resolve", "no address for " + target_.host);
    endpoints_ = std::move(lookup->endpoints);
    return std::nullopt;
  }

  void do_connect() {
    phase_ = "connect";
    asio::async_connect(socket(), endpoints_,
                        [this](error_code ec, const tcp::endpoint&) { on_connect(ec); });
  }

  void on_connect(error_code ec) {
    if (done_) return;
    if (ec)
      return fail("connect", "cannot connect to " + target_.host_header + ": " + ec.message());
    if (tls_) return do_handshake();
    do_write();
  }

  void do_handshake() {
    phase_ = "tls";
    SSL* ssl = tls_->native_handle();
    // SNI is for names only (RFC 6066); IP literals are verified against IP SANs.
    if (!target_.host_is_ip) SSL_set_tlsext_host_name(ssl, target_.host.c_str());
    if (SSL_get_verify_mode(ssl) & SSL_VERIFY_PEER) {
      const int ok = target_.host_is_ip
                         ? X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(ssl), target_.host.c_str())
                         : SSL_set1_host(ssl, target_.host.c_str());
      if (ok != 1) return fail("tls", "cannot set the expected peer name " + target_.host);
    }
    tls_->async_handshake(ssl::stream_base::client, [this](error_code e) { on_handshake(e); });
  }

  void on_handshake(error_code ec) {
    if (done_) return;
    if (ec) {
      std::string msg = "TLS handshake with " + target_.host_header + " failed: " + ec.message();
      const long verify = SSL_get_verify_result(tls_->native_handle());
      if (verify != X509_V_OK) {
        msg += std::string(" (certificate verification: ") + X509_verify_cert_error_string(verify) +
               ")";
      }
      return fail("tls", std::move(msg));
    }
    do_write();
  }

  void do_write() {
    phase_ = "write";
    with_stream([this](auto& s) {
      bhttp::async_write(s, req_, [this](error_code ec, std::size_t) { on_write(ec); });
    });
  }

  void on_write(error_code ec) {
    if (done_) return;
    if (ec) return fail("io", "cannot send the request: " + ec.message());
    phase_ = "read";
    if (streaming_) return do_read_stream_header();
    // Header first, then the body: Beast 1.74's eager parse (async_read) drops the body_limit
    // error that finish_header reports for a too-large Content-Length when the header and body
    // bytes arrive in one read, and would then buffer the whole body.
    with_stream([this](auto& s) {
      bhttp::async_read_header(s, buf_, *full_,
                               [this](error_code e, std::size_t) { on_read_header(e); });
    });
  }

  void on_read_header(error_code ec) {
    if (done_) return;
    if (ec) return fail_read(ec);  // includes body_limit for a too-large Content-Length
    if (full_->is_done()) return finish();
    with_stream([this](auto& s) {
      bhttp::async_read(s, buf_, *full_, [this](error_code e, std::size_t) { on_read(e); });
    });
  }

  void on_read(error_code ec) {
    if (done_) return;
    if (ec) return fail_read(ec);
    finish();
  }

  void do_read_stream_header() {
    with_stream([this](auto& s) {
      bhttp::async_read_header(s, buf_, *part_,
                               [this](error_code e, std::size_t) { on_read_stream_header(e); });
    });
  }

  void on_read_stream_header(error_code ec) {
    if (done_) return;
    if (ec) return fail_read(ec);
    status_ = static_cast<int>(part_->get().result_int());
    body_phase_ = true;
    last_data_ = SteadyClock::now();
    if (part_->is_done()) return finish();
    do_read_stream_body();
  }

  void do_read_stream_body() {
    auto& body = part_->get().body();
    body.data = chunk_.data();
    body.size = chunk_.size();
    with_stream([this](auto& s) {
      bhttp::async_read_some(s, buf_, *part_,
                             [this](error_code e, std::size_t) { on_read_stream_body(e); });
    });
  }

  void on_read_stream_body(error_code ec) {
    if (done_) return;
    if (ec == bhttp::error::need_buffer) ec = {};
    const std::size_t got = chunk_.size() - part_->get().body().size;
    if (got > 0) {
      last_data_ = SteadyClock::now();
      if (!(*on_data_)(std::string_view(chunk_.data(), got))) return finish();
      if (cancel_->load()) return finish();
    }
    if (ec) return fail_read(ec);
    if (part_->is_done()) return finish();
    do_read_stream_body();
  }

  void fail_read(error_code ec) {
    if (ec == bhttp::error::body_limit) {
      return fail("too_large",
                  "response body exceeds " + std::to_string(request_.max_body) + " bytes");
    }
    if (ec == bhttp::error::header_limit) return fail("too_large", "response header too large");
    if (ec == bhttp::error::end_of_stream) {
      return fail("io", "connection closed before a response from " + target_.host_header);
    }
    if (ec == bhttp::error::partial_message || ec == ssl::error::stream_truncated) {
      return fail("io", "truncated response from " + target_.host_header);
    }
    if (ec.category() == bhttp::make_error_code(bhttp::error::bad_version).category()) {
      return fail("io", "malformed response from " + target_.host_header + ": " + ec.message());
    }
    fail("io", "reading from " + target_.host_header + " failed: " + ec.message());
  }

  // ---- outcome ----

  void fail(std::string code, std::string message) {
    if (done_) return;
    error_ = make_error(std::move(code), std::move(message));
    finish();
  }

  // Decides the outcome once; closing the socket makes every pending operation complete (with
  // operation_aborted), after which io_context::run() returns.
  void finish() {
    if (done_) return;
    done_ = true;
    error_code ignored;
    if (tls_ || plain_) socket().close(ignored);
    watchdog_.cancel();
  }

  template <typename Message>
  static void collect_headers(const Message& msg, Headers& out) {
    for (const auto& field : msg) {
      out.emplace_back(std::string(field.name_string()), std::string(field.value()));
    }
  }

  Target target_;
  const Request& request_;

  // Declared first so it is destroyed last: I/O objects must not outlive their io_context.
  asio::io_context ioc_;
  asio::steady_timer watchdog_{ioc_};
  std::unique_ptr<ssl::context> ctx_;
  std::optional<ssl::stream<tcp::socket>> tls_;
  std::optional<tcp::socket> plain_;

  bhttp::request<bhttp::string_body> req_;
  beast::flat_buffer buf_;
  std::optional<bhttp::response_parser<bhttp::string_body>> full_;
  std::optional<bhttp::response_parser<bhttp::buffer_body>> part_;
  std::vector<tcp::endpoint> endpoints_;
  std::array<char, kStreamChunk> chunk_{};

  bool streaming_ = false;
  bool body_phase_ = false;  // streaming: headers received, idle timeout applies
  const std::function<bool(std::string_view)>* on_data_ = nullptr;
  const std::atomic<bool>* cancel_ = nullptr;
  std::chrono::milliseconds idle_{0};
  SteadyClock::time_point deadline_;
  SteadyClock::time_point last_data_;
  const char* phase_ = "start";
  int status_ = 0;

  bool done_ = false;
  std::optional<Error> error_;
};

}  // namespace

std::optional<std::string> Response::header(std::string_view name) const {
  for (const auto& [k, v] : headers) {
    if (iequals(k, name)) return v;
  }
  return std::nullopt;
}

struct Client::Impl {
  TlsOptions tls;
};

Client::Client(TlsOptions tls) : impl_(new Impl{std::move(tls)}) {}
Client::~Client() {
  delete impl_;
}

Result<Response> Client::request(const Request& req) {
  try {
    auto target = parse_url(req.url);
    if (!target) return target.error();
    Exchange ex(std::move(*target), req);
    return ex.run_request(impl_->tls);
  } catch (const std::exception& e) {
    return make_error("io", std::string("HTTP client failure: ") + e.what());
  } catch (...) {
    return make_error("io", "HTTP client failure");
  }
}

Result<int> Client::stream(const Request& req, const std::function<bool(std::string_view)>& on_data,
                           const std::atomic<bool>& cancel,
                           std::chrono::milliseconds idle_timeout) {
  try {
    auto target = parse_url(req.url);
    if (!target) return target.error();
    Exchange ex(std::move(*target), req);
    return ex.run_stream(impl_->tls, on_data, cancel, idle_timeout);
  } catch (const std::exception& e) {
    return make_error("io", std::string("HTTP client failure: ") + e.what());
  } catch (...) {
    return make_error("io", "HTTP client failure");
  }
}

}  // namespace ff::http
