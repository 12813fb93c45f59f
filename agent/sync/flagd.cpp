// flagd.evaluation.v1 over the Connect protocol with JSON (flagd-notes §4b): ResolveAll for
// polling, EventStream for change notifications.
//
// The Connect unary protocol has no ETag. The ETag returned is the agent's content ETag of the
// canonical answers (keys sorted), and a fetch whose answers hash to the ETag passed in reports
// not_modified. Nothing is sent as If-None-Match.
#include <string>
#include <utility>

#include "agent/sync/connect_envelope.h"
#include "agent/sync/upstream_internal.h"
#include "agent/sync/wire.h"

namespace ff::sync {

namespace {

constexpr std::string_view kResolveAll = "/flagd.evaluation.v1.Service/ResolveAll";
constexpr std::string_view kEventStream = "/flagd.evaluation.v1.Service/EventStream";
// flagd sends keep_alive after 20 s of silence; three missed ones mean the stream is dead.
constexpr auto kStreamIdleTimeout = std::chrono::milliseconds(65000);
constexpr std::size_t kDiagnosticBytes = 4096;

class FlagdUpstream final : public Upstream {
 public:
  explicit FlagdUpstream(UpstreamConfig config)
      : config_(std::move(config)),
        endpoint_(detail::join_url(config_.url, kResolveAll)),
        client_(config_.tls) {}

  Mode mode() const override { return Mode::kFlagd; }
  std::string describe() const override { return "flagd " + detail::redact_url(config_.url); }

  FetchOutcome fetch(const Json& context, const std::string& etag) override {
    auto extra = detail::common_headers(config_);
    if (!extra) {
      FetchError e;
      e.message = "flagd: " + extra.error().message;
      e.auth = true;
      return detail::failed(std::move(e));
    }
    http::Request req = detail::make_request(config_, "POST", endpoint_);
    req.cancel = &cancel_flag();
    req.headers = {{"Content-Type", "application/json"},
                   {"Accept", "application/json"},
                   {"Connect-Protocol-Version", "1"},
                   {"Connect-Timeout-Ms", std::to_string(config_.timeout.count())}};
    req.headers.insert(req.headers.end(), extra->begin(), extra->end());
    req.body = detail::dump(Json{{"context", context.is_null() ? Json::object() : context}});

    auto res = client_.request(req);
    if (!res) return detail::failed(detail::transport_error("flagd", res.error()));
    if (res->status != 200) return detail::failed(detail::status_error("flagd", endpoint_, *res));
    auto answers = parse_flagd_resolve_all(res->body, config_.max_body);
    if (!answers) {
      FetchError e;
      e.http_status = 200;
      e.message = "flagd: unusable ResolveAll response from " + detail::redact_url(endpoint_) +
                  ": " + answers.error().message +
                  (answers.error().path.empty() ? "" : " at " + answers.error().path);
      return detail::failed(std::move(e));
    }
    FetchOutcome out;
    out.ok = true;
    out.fetched.etag = content_etag(detail::dump(*answers));
    if (out.fetched.etag == etag) {
      out.fetched.not_modified = true;
    } else {
      out.fetched.evaluations = std::move(*answers);
    }
    return out;
  }

 private:
  UpstreamConfig config_;
  std::string endpoint_;
  http::Client client_;
};

// Handles one stream message; returns an error message to end the stream with, or "".
std::string handle_message(const Envelope& e, const std::function<void(const std::string&)>& cb,
                           std::size_t max_bytes) {
  if (e.flags & EnvelopeParser::kCompressed) return "compressed message (none was negotiated)";
  json::Limits limits;
  limits.max_bytes = max_bytes;
  auto doc = json::parse(e.payload, limits);
  if (!doc) return "stream message is not JSON: " + doc.error().message;
  if (!doc->is_object()) return "stream message is not a JSON object";
  auto type = doc->find("type");
  if (type == doc->end() || !type->is_string() || type->get_ref<const std::string&>().empty()) {
    return "stream message has no type";
  }
  cb(type->get<std::string>());
  return "";
}

// The end-stream envelope: {} (clean end) or {"error":{"code","message"},"metadata"}.
std::string end_stream_message(const Envelope& e) {
  if (e.flags & EnvelopeParser::kCompressed) return "compressed end-stream message";
  json::Limits limits;
  limits.max_bytes = 64u << 10;
  auto doc = json::parse(e.payload, limits);
  if (!doc || !doc->is_object()) return "malformed end-stream message";
  auto error = doc->find("error");
  if (error == doc->end() || error->is_null()) return "ended by the server";
  const std::string detail = error_body_message(detail::dump(Json{{"error", *error}}));
  return "ended by the server with an error" + (detail.empty() ? "" : ": " + detail);
}

}  // namespace

namespace detail {

std::unique_ptr<Upstream> make_flagd(const UpstreamConfig& config) {
  return std::make_unique<FlagdUpstream>(config);
}

}  // namespace detail

FetchError run_event_stream(const UpstreamConfig& config, const std::atomic<bool>& cancel,
                            const std::function<void(const std::string& type)>& on_event) {
  const std::string url = detail::join_url(config.url, kEventStream);
  const std::string who = "flagd EventStream";
  auto extra = detail::common_headers(config);
  if (!extra) {
    FetchError e;
    e.message = who + ": " + extra.error().message;
    e.auth = true;
    return e;
  }
  http::Request req = detail::make_request(config, "POST", url);
  req.headers = {{"Content-Type", "application/connect+json"}, {"Connect-Protocol-Version", "1"}};
  req.headers.insert(req.headers.end(), extra->begin(), extra->end());
  req.body = EnvelopeParser::encode(0, "{}");

  EnvelopeParser parser(config.max_body);
  std::string head;  // first bytes, to explain a non-200 answer
  std::string failure;
  std::string ended;
  const auto on_data = [&](std::string_view data) {
    if (head.size() < kDiagnosticBytes) {
      head.append(data.substr(0, kDiagnosticBytes - head.size()));
    }
    auto envelopes = parser.feed(data);
    if (!envelopes) {
      failure = envelopes.error().message;
      return false;
    }
    for (const auto& e : *envelopes) {
      if (e.flags & EnvelopeParser::kEndStream) {
        ended = end_stream_message(e);
        return false;
      }
      failure = handle_message(e, on_event, config.max_body);
      if (!failure.empty()) return false;
    }
    return true;
  };

  http::Client client(config.tls);
  auto status = client.stream(req, on_data, cancel, kStreamIdleTimeout);
  FetchError out;
  if (!status) {
    if (status.error().code == "cancelled") {
      out.message = who + ": cancelled";
      return out;
    }
    return detail::transport_error(who, status.error());
  }
  if (*status != 200) {
    http::Response r;
    r.status = *status;
    r.body = head;
    return detail::status_error(who, url, r);
  }
  out.http_status = 0;
  if (!failure.empty()) {
    out.message = who + ": " + failure;
  } else if (!ended.empty()) {
    out.message = who + ": " + ended;
  } else if (cancel.load()) {
    out.message = who + ": cancelled";
  } else if (!parser.at_boundary()) {
    out.message = who + ": body ended inside a message";
  } else {
    out.message = who + ": body ended without an end-stream message";
  }
  return out;
}

}  // namespace ff::sync
