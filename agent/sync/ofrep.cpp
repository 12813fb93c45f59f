// OFREP bulk evaluation upstream (shared/reference/ofrep/openapi.yaml).
//
// ETags: the server's ETag is kept and sent back as If-None-Match; 304 is "not modified". When
// the server sends no ETag, the agent's own content ETag (hash of the canonical answers) is
// returned instead and a 200 whose answers hash the same is reported as not modified too; such
// ETags are never sent. A 304 to a request that carried no If-None-Match is an error.
// Caution (flagd-notes §4a): a server 304 may be computed from the flag configuration only, so
// the caller must not send an ETag obtained under a different context (the agent clears it on
// context changes).
#include <utility>

#include "agent/sync/upstream_internal.h"
#include "agent/sync/wire.h"

namespace ff::sync::detail {

namespace {

class OfrepUpstream final : public Upstream {
 public:
  explicit OfrepUpstream(UpstreamConfig config)
      : config_(std::move(config)),
        endpoint_(join_url(config_.url, "/ofrep/v1/evaluate/flags")),
        client_(config_.tls) {}

  Mode mode() const override { return Mode::kOfrep; }
  std::string describe() const override { return "ofrep " + redact_url(config_.url); }

  FetchOutcome fetch(const Json& context, const std::string& etag) override {
    auto extra = common_headers(config_);
    if (!extra) {
      FetchError e;
      e.message = "ofrep: " + extra.error().message;
      e.auth = true;
      return failed(std::move(e));
    }
    http::Request req = make_request(config_, "POST", endpoint_);
    req.cancel = &cancel_flag();
    req.headers = {{"Content-Type", "application/json"}, {"Accept", "application/json"}};
    const bool conditional = !etag.empty() && !is_content_etag(etag);
    if (conditional) req.headers.emplace_back("If-None-Match", etag);
    req.headers.insert(req.headers.end(), extra->begin(), extra->end());
    req.body = dump(Json{{"context", context.is_null() ? Json::object() : context}});

    auto res = client_.request(req);
    if (!res) return failed(transport_error("ofrep", res.error()));
    FetchOutcome out;
    if (res->status == 304) {
      if (!conditional) {
        FetchError e;
        e.http_status = 304;
        e.message = "ofrep: HTTP 304 from " + redact_url(endpoint_) + " without If-None-Match";
        return failed(std::move(e));
      }
      out.ok = true;
      out.fetched.not_modified = true;
      out.fetched.etag = res->header("ETag").value_or(etag);
      return out;
    }
    if (res->status != 200) return failed(status_error("ofrep", endpoint_, *res));
    auto answers = parse_ofrep_bulk(res->body, config_.max_body);
    if (!answers) {
      FetchError e;
      e.http_status = 200;
      e.message = "ofrep: unusable bulk response from " + redact_url(endpoint_) + ": " +
                  answers.error().message +
                  (answers.error().path.empty() ? "" : " at " + answers.error().path);
      return failed(std::move(e));
    }
    out.ok = true;
    const auto server_etag = res->header("ETag");
    if (server_etag && !server_etag->empty()) {
      out.fetched.etag = *server_etag;
    } else {
      out.fetched.etag = content_etag(dump(*answers));
      if (out.fetched.etag == etag) {
        out.fetched.not_modified = true;
        return out;
      }
    }
    out.fetched.evaluations = std::move(*answers);
    return out;
  }

 private:
  UpstreamConfig config_;
  std::string endpoint_;
  http::Client client_;
};

}  // namespace

std::unique_ptr<Upstream> make_ofrep(const UpstreamConfig& config) {
  return std::make_unique<OfrepUpstream>(config);
}

}  // namespace ff::sync::detail
