// Beast/Asio side of the API server: listeners, one Session per connection, blocking queries,
// limits and timeouts, drain on stop. Routing and JSON live in routes.cpp.
//
// Threading: every connection runs on its own strand (with one io thread, on the io_context's
// executor), so a session's handlers never run concurrently; `options.threads` io threads share
// the io_context. A slow or silent client only
// holds its own connection: every read and write is bounded by a deadline that closes the
// socket (one timer per session, re-armed only when it fires early or a deadline moves earlier,
// so that a request costs no timerfd_settime).
//
// Hot path: GET /v1/flags and GET /v1/flags/{key} over the Unix socket (HTTP/1.1, keep-alive,
// no query) are answered from a per-snapshot cache of rendered answers (status line, headers
// and body as bytes, built by handle() on first use), written as {bytes before the Age value,
// Age, bytes after it}: the Age value is the only part that depends on the clock. Everything
// else goes through handle() and Beast's serializer. The bytes are the same either way.
//
// Over max_connections, a connection is accepted and answered 503 (JSON, `Retry-After: 1`,
// `Connection: close`) without reading its request, then closed; it does not count as active.
#include "agent/api/server.h"

#include <grp.h>
#include <malloc.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <boost/asio.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <cctype>
#include <cerrno>
#include <charconv>
#include <condition_variable>
#include <cstdint>
#include <cstring>
#include <map>
#include <mutex>
#include <set>
#include <thread>
#include <type_traits>
#include <unordered_map>
#include <vector>

#include "agent/api/routes.h"

namespace ff::api {
namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using boost::system::error_code;
using Strand = asio::strand<asio::io_context::executor_type>;
// A connection's executor: its own strand, or with a single io thread (which serialises
// everything already) the io_context's executor, so that completions run without the strand's
// queue, lock and extra scheduler round trip.
using SessionExecutor = asio::any_io_executor;

// Pending StateHolder waiters of all sessions. Waiter callbacks run on the publishing thread and
// post to a session's strand; once `closed`, nothing is posted any more (the io_context may be
// gone), and close() cancels every waiter still registered.
struct WaitRegistry {
  std::mutex mu;
  bool closed = false;
  std::set<std::uint64_t> ids;
};

// An answer as bytes, split around the value of its Age header.
struct Rendered {
  std::string head;  // status line and the headers before Age, then "Age: "
  std::string tail;  // "\r\n", the headers after Age, Content-Length, the blank line, the body
  std::int64_t synced_at_ms = 0;  // of the snapshot it was rendered from (for Age)
};

// The HTTP/1.1 keep-alive bytes Beast's serializer writes for `r` (see to_beast()): status line,
// the headers in order, Content-Length, body.
std::shared_ptr<const Rendered> render(const Response& r, std::int64_t synced_at_ms) {
  auto out = std::make_shared<Rendered>();
  out->synced_at_ms = synced_at_ms;
  std::string* dst = &out->head;
  const auto reason = http::obsolete_reason(http::int_to_status(static_cast<unsigned>(r.status)));
  dst->append("HTTP/1.1 ")
      .append(std::to_string(r.status))
      .append(" ")
      .append(reason.data(), reason.size())
      .append("\r\n");
  for (const auto& [name, value] : r.headers) {
    if (dst == &out->head && name == "Age") {
      dst->append("Age: ");
      dst = &out->tail;
      dst->append("\r\n");
      continue;
    }
    dst->append(name).append(": ").append(value).append("\r\n");
  }
  dst->append("Content-Length: ").append(std::to_string(r.body.size())).append("\r\n\r\n");
  dst->append(r.body);
  return out;
}

// Targets whose answer depends only on the snapshot and the clock's Age (see routes.h):
// "/v1/flags" and "/v1/flags/{key}", without a query (a query may make it a blocking query).
bool renderable_target(std::string_view target) {
  return target.starts_with("/v1/flags") && (target.size() == 9 || target[9] == '/') &&
         target.find('?') == std::string_view::npos;
}

// Rendering an answer at least this large is followed by malloc_trim(0).
constexpr std::size_t kTrimAfterBytes = std::size_t{64} * 1024;

struct TargetHash {
  using is_transparent = void;
  std::size_t operator()(std::string_view s) const { return std::hash<std::string_view>{}(s); }
};

class SessionBase {
 public:
  virtual ~SessionBase() = default;
  // stop(): finish the request in progress (answer a blocking query now), then close.
  virtual void drain() = 0;
  // stop() after the drain period: close now.
  virtual void abort() = 0;
};

struct Core {
  Core(ServerOptions o, state::StateHolder& s, const Clock& c, OfrepBackend* b, Views v)
      : opts(std::move(o)),
        state(s),
        clock(c),
        backend(b),
        views(std::move(v)),
        // Concurrency hint 1: with one io thread Asio's scheduler skips some locking and
        // wake-ups; other threads (stop(), StateHolder waiters) still post safely.
        ioc(opts.threads <= 1 ? 1 : static_cast<int>(opts.threads)) {}

  ServerOptions opts;
  state::StateHolder& state;
  const Clock& clock;
  OfrepBackend* backend;
  Views views;

  // Declared before the io_context: session destructors (run when the io_context destroys
  // pending handlers) unregister themselves here.
  mutable std::mutex mu;
  std::condition_variable cv;
  std::map<std::uint64_t, std::weak_ptr<SessionBase>> sessions;
  std::uint64_t next_session_id = 1;
  bool stopping = false;
  std::shared_ptr<WaitRegistry> waits = std::make_shared<WaitRegistry>();

  // Rendered answers of the snapshot `rendered_for` (compared by owner, so a snapshot freed
  // and another allocated at its address is never mistaken for it), by request target.
  std::mutex render_mu;
  std::weak_ptr<const state::Snapshot> rendered_for;
  std::unordered_map<std::string, std::shared_ptr<const Rendered>, TargetHash, std::equal_to<>>
      rendered;

  asio::io_context ioc;

  Context context() const { return context_for(state.current()); }

  SessionExecutor session_executor() {
    if (opts.threads <= 1) return ioc.get_executor();
    return asio::make_strand(ioc);
  }

  Context context_for(state::SnapshotPtr snapshot) const {
    Context c;
    c.snapshot = std::move(snapshot);
    c.clock = &clock;
    c.backend = backend;
    c.views = &views;
    c.max_wait = opts.max_wait;
    c.default_wait = opts.default_wait;
    return c;
  }

  // The answer to `GET target` as bytes, or null when `target` is not renderable. A 200
  // answer is kept for the current snapshot (at most one per flag plus a few spellings);
  // others (404, 503) are rendered for this request only.
  std::shared_ptr<const Rendered> render_get(std::string_view target) {
    if (!renderable_target(target)) return nullptr;
    state::SnapshotPtr snap = state.current();
    std::lock_guard<std::mutex> lock(render_mu);
    if (rendered_for.owner_before(snap) || snap.owner_before(rendered_for)) {
      rendered.clear();
      rendered_for = snap;
    }
    if (const auto it = rendered.find(target); it != rendered.end()) {
      return it->second;
    }
    Request req;
    req.method = "GET";
    req.target = std::string(target);
    Context ctx = context_for(snap);
    const Response r = handle(req, ctx);
    auto out = render(r, snap->synced_at_ms);
    if (r.status == 200 && rendered.size() < snap->flags.size() + 16) {
      rendered.emplace(std::move(req.target), out);
    }
    // A large answer (GET /v1/flags: ~190 KB for 1,000 flags) was built as a JSON tree several
    // times its size; once per snapshot, return that memory instead of keeping it in this
    // thread's malloc arena.
    if (r.body.size() >= kTrimAfterBytes) malloc_trim(0);
    return out;
  }

  void session_closed(std::uint64_t id) {
    std::lock_guard<std::mutex> lock(mu);
    sessions.erase(id);
    cv.notify_all();
  }
};

bool iequals(std::string_view a, std::string_view b) {
  return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
           return std::tolower(static_cast<unsigned char>(x)) ==
                  std::tolower(static_cast<unsigned char>(y));
         });
}

http::response<http::string_body> to_beast(Response r, unsigned version, bool keep_alive,
                                           bool head) {
  http::response<http::string_body> res;
  res.version(version);
  res.result(static_cast<unsigned>(r.status));
  for (auto& [name, value] : r.headers) res.set(name, value);
  res.keep_alive(keep_alive);
  if (head) {
    if (r.status != 304) res.content_length(r.body.size());
  } else {
    res.body() = std::move(r.body);
    res.prepare_payload();
  }
  return res;
}

// How long to keep reading (and discarding) after the last response before closing, so that a
// client still sending (e.g. the rest of a refused body) reads our answer instead of a reset.
std::chrono::milliseconds linger_time(const ServerOptions& o) {
  return std::min<std::chrono::milliseconds>(o.read_timeout, std::chrono::milliseconds(1000));
}

template <class Protocol>
class Session final : public SessionBase, public std::enable_shared_from_this<Session<Protocol>> {
 public:
  using Socket = asio::basic_stream_socket<Protocol, SessionExecutor>;
  // The TCP listener serves OFREP only (routes.h, Context::ofrep_only).
  static constexpr bool kOfrepOnly = std::is_same_v<Protocol, asio::ip::tcp>;

  Session(Core& core, Socket socket, std::uint64_t id)
      : core_(core),
        socket_(std::move(socket)),
        id_(id),
        deadline_(socket_.get_executor()),
        wait_timer_(socket_.get_executor()) {}

  ~Session() override { core_.session_closed(id_); }

  void start() {
    asio::dispatch(socket_.get_executor(), [self = this->shared_from_this()] { self->do_read(); });
  }

  void drain() override {
    asio::post(socket_.get_executor(), [self = this->shared_from_this()] {
      self->draining_ = true;
      if (self->phase_ == Phase::kIdle) {
        self->close();
      } else if (self->phase_ == Phase::kWaiting) {
        self->finish_wait();
      }
    });
  }

  void abort() override {
    asio::post(socket_.get_executor(), [self = this->shared_from_this()] { self->close(); });
  }

 private:
  enum class Phase { kIdle, kReading, kWaiting, kWriting, kClosing, kClosed };

  // --- deadline: `deadline_at_` bounds whatever the session is doing; passing it closes the
  // socket. The timer is only moved when the deadline gets earlier than the armed expiry; when
  // it fires before the (since extended) deadline it is re-armed for it. disarm() only clears
  // the deadline: the pending wait then finds nothing to do.
  using SteadyClock = std::chrono::steady_clock;
  static constexpr SteadyClock::time_point kNever = SteadyClock::time_point::max();

  void arm(std::chrono::milliseconds d) {
    deadline_at_ = SteadyClock::now() + d;
    if (deadline_at_ < timer_expiry_) start_timer();
  }
  void disarm() { deadline_at_ = kNever; }

  void start_timer() {
    timer_expiry_ = deadline_at_;
    deadline_.expires_at(deadline_at_);  // cancels a pending wait (its generation is stale)
    deadline_.async_wait([self = this->shared_from_this(), gen = ++deadline_gen_](error_code) {
      self->on_deadline(gen);
    });
  }

  void on_deadline(std::uint64_t gen) {
    if (gen != deadline_gen_) return;  // superseded by start_timer()
    timer_expiry_ = kNever;
    if (phase_ == Phase::kClosed || deadline_at_ == kNever) return;
    if (SteadyClock::now() >= deadline_at_) return close();
    start_timer();
  }

  // --- reading a request
  void do_read() {
    if (phase_ == Phase::kClosed) return;
    if (draining_) return graceful_close();
    parser_.emplace();
    parser_->header_limit(
        static_cast<std::uint32_t>(std::min<std::size_t>(core_.opts.max_header_bytes, UINT32_MAX)));
    parser_->body_limit(static_cast<std::uint64_t>(core_.opts.max_body_bytes));
    if (buffer_.size() > 0) return parse_buffered();
    // Nothing buffered: wait for the first byte of the next request. A new connection gets
    // read_timeout for it, a kept-alive one idle_timeout.
    phase_ = Phase::kIdle;
    arm(first_request_ ? core_.opts.read_timeout : core_.opts.idle_timeout);
    socket_.async_read_some(buffer_.prepare(kReadSize),
                            [self = this->shared_from_this()](error_code ec, std::size_t n) {
                              self->on_first_bytes(ec, n);
                            });
  }

  void on_first_bytes(error_code ec, std::size_t n) {
    if (phase_ == Phase::kClosed) return;
    if (ec) return close();
    buffer_.commit(n);
    parse_buffered();
  }

  // Parses the buffered bytes in place (the usual case: the whole request head arrived in one
  // read), falling back to Beast's async read for the rest of the head when it is incomplete.
  void parse_buffered() {
    phase_ = Phase::kReading;
    arm(core_.opts.read_timeout);  // the whole request, from its first byte
    error_code ec;
    buffer_.consume(parser_->put(buffer_.data(), ec));
    if (ec == http::error::need_more) return read_header();
    if (ec) return on_read_error(ec);
    on_header(ec);
  }

  void read_header() {
    http::async_read_header(
        socket_, buffer_, *parser_,
        [self = this->shared_from_this()](error_code ec, std::size_t) { self->on_header(ec); });
  }

  void on_header(error_code ec) {
    if (phase_ == Phase::kClosed) return;
    if (ec) return on_read_error(ec);
    const auto& msg = parser_->get();
    const auto expect = msg[http::field::expect];
    if (!parser_->is_done() && msg.version() >= 11 && iequals(expect, "100-continue")) {
      // The body limit was already checked against Content-Length; ask for the body.
      static const std::string kContinue = "HTTP/1.1 100 Continue\r\n\r\n";
      asio::async_write(socket_, asio::buffer(kContinue),
                        [self = this->shared_from_this()](error_code wec, std::size_t) {
                          if (self->phase_ == Phase::kClosed) return;
                          if (wec) return self->close();
                          self->read_body();
                        });
      return;
    }
    read_body();
  }

  void read_body() {
    if (parser_->is_done()) return on_request();
    http::async_read(socket_, buffer_, *parser_,
                     [self = this->shared_from_this()](error_code ec, std::size_t) {
                       if (self->phase_ == Phase::kClosed) return;
                       if (ec) return self->on_read_error(ec);
                       self->on_request();
                     });
  }

  void on_read_error(error_code ec) {
    disarm();
    if (ec.category() != http::make_error_code(http::error::end_of_stream).category() ||
        ec == http::error::end_of_stream || ec == http::error::partial_message) {
      // I/O error, timeout (the deadline closed the socket) or the client went away.
      return close();
    }
    if (ec == http::error::body_limit) {
      return respond_error(413, "payload_too_large", "request body exceeds the limit");
    }
    if (ec == http::error::header_limit) {
      return respond_error(431, "header_too_large", "request header exceeds the limit");
    }
    respond_error(400, "bad_request", "malformed request: " + ec.message());
  }

  void respond_error(int status, std::string_view code, const std::string& message) {
    keep_alive_ = false;
    head_ = false;
    version_ = 11;
    Response r = error_response(status, code, message);
    Context ctx = core_.context();
    ctx.ofrep_only = kOfrepOnly;
    add_state_headers(r, ctx);
    write(std::move(r));
  }

  void on_request() {
    disarm();
    first_request_ = false;
    auto& msg = parser_->get();
    keep_alive_ = msg.keep_alive();
    version_ = msg.version();
    head_ = msg.method() == http::verb::head;
    if (!kOfrepOnly && msg.method() == http::verb::get && version_ == 11 && keep_alive_ &&
        !draining_) {
      if (auto rendered = core_.render_get(msg.target())) {
        parser_.reset();
        return write_rendered(std::move(rendered));
      }
    }
    request_.method = std::string(msg.method_string());
    request_.target = std::string(msg.target());
    request_.headers.clear();
    for (const auto& field : msg) {
      request_.headers.emplace_back(std::string(field.name_string()), std::string(field.value()));
    }
    request_.body = std::move(msg.body());
    parser_.reset();

    Context ctx = core_.context();
    ctx.ofrep_only = kOfrepOnly;
    const auto query = blocking_query(request_, ctx);
    if (query && !draining_ && ctx.snapshot->revision <= query->index && query->wait.count() > 0) {
      return start_wait(*query);
    }
    write(handle(request_, ctx));
  }

  // --- blocking query: answer on a newer revision, at the wait timeout, or on drain; close if
  // the client goes away meanwhile.
  void start_wait(const BlockingQuery& q) {
    phase_ = Phase::kWaiting;
    const auto gen = ++wait_gen_;
    std::weak_ptr<Session> weak = this->shared_from_this();
    auto registry = core_.waits;
    auto executor = socket_.get_executor();
    waiter_id_ =
        core_.state.wait_for(q.index, [registry, weak, executor, gen](const state::SnapshotPtr&) {
          std::lock_guard<std::mutex> lock(registry->mu);
          if (registry->closed) return;
          asio::post(executor, [weak, gen] {
            if (auto self = weak.lock(); self && self->wait_gen_ == gen) self->finish_wait();
          });
        });
    if (waiter_id_ != 0) {
      std::lock_guard<std::mutex> lock(registry->mu);
      if (registry->closed) {
        core_.state.cancel(waiter_id_);
      } else {
        registry->ids.insert(waiter_id_);
      }
    }
    wait_timer_.expires_after(q.wait);
    wait_timer_.async_wait([self = this->shared_from_this(), gen](error_code ec) {
      if (!ec && self->wait_gen_ == gen) self->finish_wait();
    });
    watch();
  }

  // A read while waiting, only to notice the client hanging up. Bytes that arrive are the next
  // (pipelined) request and are kept.
  void watch() {
    watch_pending_ = true;
    socket_.async_read_some(
        asio::buffer(scratch_),
        [self = this->shared_from_this()](error_code ec, std::size_t n) { self->on_watch(ec, n); });
  }

  void on_watch(error_code ec, std::size_t n) {
    watch_pending_ = false;
    if (phase_ == Phase::kClosed) return;
    if (n > 0) append(n);
    if (phase_ == Phase::kWaiting) {
      if (ec) {
        cancel_wait();
        return close();
      }
      if (buffer_.size() < core_.opts.max_header_bytes + core_.opts.max_body_bytes) watch();
      return;
    }
    if (read_after_watch_) {
      read_after_watch_ = false;
      do_read();
    }
  }

  void cancel_wait() {
    ++wait_gen_;
    wait_timer_.cancel();
    if (waiter_id_ != 0) {
      core_.state.cancel(waiter_id_);
      std::lock_guard<std::mutex> lock(core_.waits->mu);
      core_.waits->ids.erase(waiter_id_);
      waiter_id_ = 0;
    }
  }

  void finish_wait() {
    if (phase_ != Phase::kWaiting) return;
    cancel_wait();
    if (watch_pending_) {
      error_code ignored;
      socket_.cancel(ignored);  // the watch read completes with operation_aborted
    }
    Context ctx = core_.context();
    ctx.ofrep_only = kOfrepOnly;
    write(handle(request_, ctx));
  }

  // --- writing a response
  void write(Response r) {
    phase_ = Phase::kWriting;
    response_ = to_beast(std::move(r), version_, keep_alive_ && !draining_, head_);
    keep_ = response_.keep_alive();
    arm(core_.opts.read_timeout);  // a client that does not read its answer is dropped
    http::async_write(
        socket_, response_,
        [self = this->shared_from_this()](error_code ec, std::size_t) { self->on_write(ec); });
  }

  // A rendered answer (HTTP/1.1, keep-alive) with the current Age: one gathered write.
  void write_rendered(std::shared_ptr<const Rendered> rendered) {
    phase_ = Phase::kWriting;
    rendered_ = std::move(rendered);
    keep_ = true;
    const std::int64_t age = age_seconds(core_.clock.now_unix_ms(), rendered_->synced_at_ms);
    const auto [end, ec] = std::to_chars(age_.data(), age_.data() + age_.size(), age);
    const std::size_t age_len = ec == std::errc() ? static_cast<std::size_t>(end - age_.data()) : 0;
    arm(core_.opts.read_timeout);
    const std::array<asio::const_buffer, 3> bufs{asio::buffer(rendered_->head),
                                                 asio::buffer(age_.data(), age_len),
                                                 asio::buffer(rendered_->tail)};
    asio::async_write(
        socket_, bufs,
        [self = this->shared_from_this()](error_code wec, std::size_t) { self->on_write(wec); });
  }

  void on_write(error_code ec) {
    if (phase_ == Phase::kClosed) return;
    disarm();
    if (ec) return close();
    const bool keep = keep_;
    if (rendered_) {
      rendered_.reset();
    } else {
      response_ = {};
    }
    if (!keep) return graceful_close();
    if (watch_pending_) {
      read_after_watch_ = true;  // the cancelled watch read must complete first
      return;
    }
    do_read();
  }

  // --- closing
  void graceful_close() {
    if (phase_ == Phase::kClosed) return;
    if (watch_pending_) return close();
    phase_ = Phase::kClosing;
    error_code ignored;
    socket_.shutdown(asio::socket_base::shutdown_send, ignored);
    arm(linger_time(core_.opts));
    discard();
  }

  void discard() {
    socket_.async_read_some(asio::buffer(scratch_),
                            [self = this->shared_from_this()](error_code ec, std::size_t) {
                              if (self->phase_ == Phase::kClosed) return;
                              if (ec) return self->close();
                              self->discard();
                            });
  }

  void close() {
    if (phase_ == Phase::kClosed) return;
    phase_ = Phase::kClosed;
    cancel_wait();
    disarm();
    deadline_.cancel();  // releases the pending wait's reference to the session
    error_code ignored;
    socket_.shutdown(asio::socket_base::shutdown_both, ignored);
    socket_.close(ignored);
  }

  void append(std::size_t n) {
    auto dst = buffer_.prepare(n);
    asio::buffer_copy(dst, asio::buffer(scratch_.data(), n));
    buffer_.commit(n);
  }

  static constexpr std::size_t kReadSize = 4096;

  Core& core_;
  Socket socket_;
  std::uint64_t id_;
  asio::steady_timer deadline_;
  std::uint64_t deadline_gen_ = 0;
  SteadyClock::time_point deadline_at_ = kNever;   // when the session is closed
  SteadyClock::time_point timer_expiry_ = kNever;  // when the pending wait fires (kNever: none)
  asio::steady_timer wait_timer_;
  std::uint64_t wait_gen_ = 0;
  std::uint64_t waiter_id_ = 0;

  Phase phase_ = Phase::kIdle;
  bool first_request_ = true;
  bool draining_ = false;
  bool watch_pending_ = false;
  bool read_after_watch_ = false;

  beast::flat_buffer buffer_;
  std::array<char, 4096> scratch_{};
  std::optional<http::request_parser<http::string_body>> parser_;
  Request request_;
  bool keep_alive_ = false;
  bool head_ = false;
  unsigned version_ = 11;
  bool keep_ = false;  // keep the connection after the response being written
  http::response<http::string_body> response_;
  std::shared_ptr<const Rendered> rendered_;  // or this, when the answer was rendered
  std::array<char, 24> age_{};
};

// Answers 503 to a connection over the limit and closes it, without reading its request.
template <class Protocol>
class Rejection final : public std::enable_shared_from_this<Rejection<Protocol>> {
 public:
  using Socket = asio::basic_stream_socket<Protocol, SessionExecutor>;

  Rejection(Socket socket, Response r)
      : socket_(std::move(socket)), timer_(socket_.get_executor()) {
    response_ = to_beast(std::move(r), 11, false, false);
  }

  void start() {
    asio::dispatch(socket_.get_executor(), [self = this->shared_from_this()] {
      self->timer_.expires_after(std::chrono::seconds(1));
      self->timer_.async_wait([self](error_code ec) {
        if (!ec) self->close();
      });
      http::async_write(self->socket_, self->response_, [self](error_code ec, std::size_t) {
        if (ec) return self->close();
        // Read and drop the unread request until the client closes (or the timer fires), so
        // the client sees the 503 rather than a reset.
        error_code ignored;
        self->socket_.shutdown(asio::socket_base::shutdown_send, ignored);
        self->discard();
      });
    });
  }

 private:
  void discard() {
    socket_.async_read_some(asio::buffer(scratch_),
                            [self = this->shared_from_this()](error_code ec, std::size_t) {
                              if (ec) return self->close();
                              self->discard();
                            });
  }

  void close() {
    error_code ignored;
    timer_.cancel();
    socket_.close(ignored);
  }

  Socket socket_;
  asio::steady_timer timer_;
  http::response<http::string_body> response_;
  std::array<char, 1024> scratch_{};
};

class ListenerBase {
 public:
  virtual ~ListenerBase() = default;
  virtual void run() = 0;
  virtual void close() = 0;
};

template <class Protocol>
class Listener final : public ListenerBase,
                       public std::enable_shared_from_this<Listener<Protocol>> {
 public:
  using Acceptor = asio::basic_socket_acceptor<Protocol, Strand>;

  explicit Listener(Core& core)
      : core_(core), acceptor_(asio::make_strand(core.ioc)), retry_(acceptor_.get_executor()) {}

  Acceptor& acceptor() { return acceptor_; }

  void run() override {
    asio::dispatch(acceptor_.get_executor(),
                   [self = this->shared_from_this()] { self->do_accept(); });
  }

  void close() override {
    asio::post(acceptor_.get_executor(), [self = this->shared_from_this()] {
      error_code ignored;
      self->closed_ = true;
      self->acceptor_.close(ignored);
      self->retry_.cancel();
    });
  }

 private:
  void do_accept() {
    if (closed_) return;
    acceptor_.async_accept(core_.session_executor(),
                           [self = this->shared_from_this()](
                               error_code ec, typename Session<Protocol>::Socket socket) {
                             self->on_accept(ec, std::move(socket));
                           });
  }

  void on_accept(error_code ec, typename Session<Protocol>::Socket socket) {
    if (closed_ || ec == asio::error::operation_aborted) return;
    if (ec) {
      // EMFILE/ENFILE/ENOBUFS and the like: try again shortly instead of spinning.
      retry_.expires_after(std::chrono::milliseconds(100));
      retry_.async_wait([self = this->shared_from_this()](error_code wec) {
        if (!wec) self->do_accept();
      });
      return;
    }
    admit(std::move(socket));
    do_accept();
  }

  void admit(typename Session<Protocol>::Socket socket) {
    std::unique_lock<std::mutex> lock(core_.mu);
    if (!core_.stopping && core_.sessions.size() < core_.opts.max_connections) {
      const auto id = core_.next_session_id++;
      auto session = std::make_shared<Session<Protocol>>(core_, std::move(socket), id);
      core_.sessions.emplace(id, session);
      lock.unlock();
      return session->start();
    }
    lock.unlock();
    Response r = error_response(503, "too_many_connections", "connection limit reached");
    r.headers.emplace_back("Retry-After", "1");
    const Context ctx = core_.context();
    add_state_headers(r, ctx);
    std::make_shared<Rejection<Protocol>>(std::move(socket), std::move(r))->start();
  }

  Core& core_;
  Acceptor acceptor_;
  asio::steady_timer retry_;
  bool closed_ = false;
};

std::string parent_dir(const std::string& path) {
  const auto slash = path.rfind('/');
  if (slash == std::string::npos) return ".";
  if (slash == 0) return "/";
  return path.substr(0, slash);
}

Error sys_error(const char* code, const std::string& what, int err) {
  return Error{code, what + ": " + std::strerror(err), ""};
}

// Whether a process is accepting on the Unix socket at `path`. ECONNREFUSED means a socket file
// nobody listens on (left by a crash): stale. EAGAIN means a full backlog: live.
Result<bool> socket_is_live(const std::string& path) {
  // Non-blocking, so a live but hung server with a full backlog answers EAGAIN instead of
  // blocking start().
  const int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
  if (fd < 0) return sys_error("bind", "socket()", errno);
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  std::memcpy(addr.sun_path, path.c_str(), path.size() + 1);
  const int rc = ::connect(fd, reinterpret_cast<const sockaddr*>(&addr), sizeof(addr));
  const int err = errno;
  ::close(fd);
  if (rc == 0 || err == EAGAIN) return true;
  if (err == ECONNREFUSED || err == ENOENT) return false;
  return sys_error("bind", "probing existing socket " + path, err);
}

Result<gid_t> lookup_group(const std::string& name) {
  std::vector<char> buf(16384);
  group grp{};
  group* found = nullptr;
  const int rc = ::getgrnam_r(name.c_str(), &grp, buf.data(), buf.size(), &found);
  if (rc == 0 && found) return found->gr_gid;
  if (!name.empty() && name.find_first_not_of("0123456789") == std::string::npos &&
      name.size() < 10) {
    return static_cast<gid_t>(std::stoul(name));
  }
  return Error{"chgrp", "unknown group '" + name + "'", ""};
}

}  // namespace

struct Server::Impl : Core {
  using Core::Core;

  std::optional<asio::executor_work_guard<asio::io_context::executor_type>> work;
  std::vector<std::thread> threads;
  std::shared_ptr<Listener<asio::local::stream_protocol>> unix_listener;
  std::shared_ptr<Listener<asio::ip::tcp>> tcp_listener;
  std::uint16_t port = 0;
  bool socket_bound = false;
  dev_t socket_dev = 0;
  ino_t socket_ino = 0;
  bool running = false;

  Result<bool> bind_unix();
  Result<bool> bind_tcp();
  void unlink_socket();
  // Start-up failed after binding the Unix socket (no io thread runs yet).
  void abandon_unix() {
    unix_listener.reset();
    unlink_socket();
  }
};

Result<bool> Server::Impl::bind_unix() {
  const std::string& path = opts.socket_path;
  if (path.empty() || path.size() >= sizeof(sockaddr_un{}.sun_path)) {
    return Error{"bind", "socket path is empty or longer than the system limit", ""};
  }
  struct stat st {};
  const std::string dir = parent_dir(path);
  if (::stat(dir.c_str(), &st) != 0 || !S_ISDIR(st.st_mode)) {
    return Error{"bind", "socket directory " + dir + " does not exist", ""};
  }
  if (::lstat(path.c_str(), &st) == 0) {
    if (!S_ISSOCK(st.st_mode)) {
      return Error{"bind", path + " exists and is not a socket", ""};
    }
    auto live = socket_is_live(path);
    if (!live) return live.error();
    if (*live) return Error{"socket_in_use", "another process is serving " + path, ""};
    if (::unlink(path.c_str()) != 0 && errno != ENOENT) {
      return sys_error("bind", "removing stale socket " + path, errno);
    }
  }

  unix_listener = std::make_shared<Listener<asio::local::stream_protocol>>(*this);
  auto& acc = unix_listener->acceptor();
  error_code ec;
  acc.open(asio::local::stream_protocol(), ec);
  if (!ec) acc.bind(asio::local::stream_protocol::endpoint(path), ec);
  if (ec) {
    unix_listener.reset();
    if (ec == asio::error::address_in_use) {
      return Error{"socket_in_use", path + " appeared while binding", ""};
    }
    return Error{"bind", "binding " + path + ": " + ec.message(), ""};
  }
  socket_bound = true;
  if (::lstat(path.c_str(), &st) == 0) {
    socket_dev = st.st_dev;
    socket_ino = st.st_ino;
  }
  // Nobody can connect before listen(), so the mode and group are right before anyone can use
  // the socket (no process-wide umask games needed).
  if (::chmod(path.c_str(), static_cast<mode_t>(opts.socket_mode)) != 0) {
    const int err = errno;
    abandon_unix();
    return sys_error("chmod", "chmod " + path, err);
  }
  if (!opts.socket_group.empty()) {
    auto gid = lookup_group(opts.socket_group);
    if (!gid) {
      abandon_unix();
      return gid.error();
    }
    if (::chown(path.c_str(), static_cast<uid_t>(-1), *gid) != 0) {
      const int err = errno;
      abandon_unix();
      return sys_error("chgrp", "chgrp " + opts.socket_group + " " + path, err);
    }
  }
  acc.listen(asio::socket_base::max_listen_connections, ec);
  if (ec) {
    abandon_unix();
    return Error{"listen", "listen on " + path + ": " + ec.message(), ""};
  }
  return true;
}

Result<bool> Server::Impl::bind_tcp() {
  error_code ec;
  const std::string host = opts.tcp_address == "localhost" ? "127.0.0.1" : opts.tcp_address;
  const auto addr = asio::ip::make_address(host, ec);
  if (ec) return Error{"bind", "tcp_address '" + opts.tcp_address + "' is not an IP address", ""};
  if (!addr.is_loopback()) {
    return Error{"bind", "tcp_address must be a loopback address (the API has no auth)", ""};
  }
  tcp_listener = std::make_shared<Listener<asio::ip::tcp>>(*this);
  auto& acc = tcp_listener->acceptor();
  const asio::ip::tcp::endpoint ep(addr, opts.tcp_port);
  acc.open(ep.protocol(), ec);
  if (!ec) acc.set_option(asio::socket_base::reuse_address(true), ec);
  if (!ec) acc.bind(ep, ec);
  if (ec) {
    tcp_listener.reset();
    return Error{"bind",
                 "binding " + host + ":" + std::to_string(opts.tcp_port) + ": " + ec.message(), ""};
  }
  acc.listen(asio::socket_base::max_listen_connections, ec);
  if (ec) {
    tcp_listener.reset();
    return Error{"listen", "listen on tcp: " + ec.message(), ""};
  }
  port = acc.local_endpoint(ec).port();
  return true;
}

void Server::Impl::unlink_socket() {
  if (!socket_bound) return;
  socket_bound = false;
  // Only remove the file if it is still ours (a successor may have replaced it).
  struct stat st {};
  if (::lstat(opts.socket_path.c_str(), &st) == 0 && st.st_dev == socket_dev &&
      st.st_ino == socket_ino) {
    ::unlink(opts.socket_path.c_str());
  }
}

Server::Server(ServerOptions options, state::StateHolder& state, const Clock& clock,
               OfrepBackend* backend, Views views)
    : impl_(std::make_unique<Impl>(std::move(options), state, clock, backend, std::move(views))) {}

Server::~Server() {
  try {
    stop(std::chrono::milliseconds(0));
  } catch (...) {
    // Only thread/mutex system errors can get here; nothing useful to do in a destructor.
  }
}

Result<bool> Server::start() {
  Impl& d = *impl_;
  if (d.running) return Error{"bind", "server already started", ""};
  if (auto r = d.bind_unix(); !r) return r;
  if (!d.opts.tcp_address.empty()) {
    if (auto r = d.bind_tcp(); !r) {
      d.abandon_unix();
      return r;
    }
  }
  {
    std::lock_guard<std::mutex> lock(d.mu);
    d.stopping = false;
  }
  d.waits = std::make_shared<WaitRegistry>();
  d.ioc.restart();
  d.work.emplace(d.ioc.get_executor());
  d.unix_listener->run();
  if (d.tcp_listener) d.tcp_listener->run();
  const unsigned n = std::max(1u, d.opts.threads);
  for (unsigned i = 0; i < n; ++i) {
    d.threads.emplace_back([&d] {
      // Handlers do not throw (routes catch, Beast reports error codes); should one anyway
      // (e.g. bad_alloc), the thread keeps serving.
      for (;;) {
        try {
          d.ioc.run();
          return;
        } catch (...) {
        }
      }
    });
  }
  d.running = true;
  return true;
}

void Server::stop(std::chrono::milliseconds drain) {
  Impl& d = *impl_;
  if (!d.running) return;
  d.running = false;

  std::vector<std::shared_ptr<SessionBase>> live;
  {
    std::lock_guard<std::mutex> lock(d.mu);
    d.stopping = true;
    for (auto& [id, weak] : d.sessions) {
      if (auto s = weak.lock()) live.push_back(std::move(s));
    }
  }
  d.unix_listener->close();
  if (d.tcp_listener) d.tcp_listener->close();
  d.unlink_socket();  // new clients get ENOENT instead of waiting in a dead backlog
  for (auto& s : live) s->drain();
  live.clear();

  std::unique_lock<std::mutex> lock(d.mu);
  d.cv.wait_for(lock, drain, [&d] { return d.sessions.empty(); });
  for (auto& [id, weak] : d.sessions) {
    if (auto s = weak.lock()) live.push_back(std::move(s));
  }
  lock.unlock();
  for (auto& s : live) s->abort();
  live.clear();
  lock.lock();
  // Aborted sessions close at once; the bound only matters if an io thread is stuck in a view.
  d.cv.wait_for(lock, std::chrono::seconds(2), [&d] { return d.sessions.empty(); });
  lock.unlock();

  d.work.reset();
  d.ioc.stop();
  for (auto& t : d.threads) t.join();
  d.threads.clear();
  {
    std::lock_guard<std::mutex> wlock(d.waits->mu);
    d.waits->closed = true;
    for (const auto id : d.waits->ids) d.state.cancel(id);
    d.waits->ids.clear();
  }
  d.unix_listener.reset();
  d.tcp_listener.reset();
  d.port = 0;
}

std::uint16_t Server::tcp_port() const {
  return impl_->port;
}

std::size_t Server::active_connections() const {
  std::lock_guard<std::mutex> lock(impl_->mu);
  return impl_->sessions.size();
}

}  // namespace ff::api
