#include "common/eval/ofrep.h"

namespace ff::eval {

Json to_ofrep(const Resolution& r) {
  Json out = Json::object();
  out["key"] = r.key;
  if (r.error != ErrorCode::kNone) {
    out["errorCode"] = to_string(r.error);
    out["errorDetails"] = r.error_details;
  } else {
    out["reason"] = to_string(r.reason);
    if (r.value != nullptr) {
      out["value"] = *r.value;
      if (r.variant != nullptr) out["variant"] = *r.variant;
    }
  }
  out["metadata"] = r.metadata != nullptr ? *r.metadata : Json::object();
  return out;
}

Json to_ofrep_bulk(const std::vector<Resolution>& rs, const Json& set_metadata) {
  Json flags = Json::array();
  for (const auto& r : rs) flags.push_back(to_ofrep(r));
  return Json{{"flags", std::move(flags)},
              {"metadata", set_metadata.is_object() ? set_metadata : Json::object()}};
}

int ofrep_status(const Resolution& r) {
  switch (r.error) {
    case ErrorCode::kNone:
      return 200;
    case ErrorCode::kFlagNotFound:
      return 404;
    default:
      return 400;
  }
}

}  // namespace ff::eval
