#include "agent/cli/online.h"

#include <algorithm>
#include <cctype>
#include <cstdio>
#include <iostream>
#include <map>
#include <thread>
#include <utility>
#include <vector>

#include "agent/cli/offline.h"
#include "agent/cli/socket_client.h"
#include "common/json/json.h"

namespace ff::cli {
namespace {

constexpr std::chrono::milliseconds kTimeout{10000};

std::string url_escape(const std::string& s) {
  std::string out;
  for (unsigned char c : s) {
    if (std::isalnum(c) || c == '-' || c == '_' || c == '.' || c == '~') {
      out += static_cast<char>(c);
    } else {
      char buf[4];
      std::snprintf(buf, sizeof buf, "%%%02X", c);
      out += buf;
    }
  }
  return out;
}

Result<Json> get_json(const std::string& socket, const std::string& target, int* status,
                      std::chrono::milliseconds timeout = kTimeout) {
  auto r = socket_request(socket, "GET", target, "", timeout);
  if (!r) return r.error();
  if (status != nullptr) *status = r->status;
  auto j = json::parse(r->body);
  if (!j)
    return Error{"protocol", "agent answered non-JSON (HTTP " + std::to_string(r->status) + ")",
                 ""};
  return *j;
}

std::string render(const Json& v) {
  if (v.is_string()) return v.get<std::string>();
  return v.dump();
}

}  // namespace

int run_get(const std::string& socket, const std::string& key,
            const std::optional<std::string>& default_value, bool as_json, std::ostream& out,
            std::ostream& err) {
  int status = 0;
  auto j = get_json(socket, "/v1/flags/" + url_escape(key), &status);
  auto fallback = [&](const std::string& why) {
    if (default_value) {
      err << "fleetflag: " << key << ": " << why << "; using the default\n";
      out << *default_value << "\n";
      return kExitOk;
    }
    err << "fleetflag: " << key << ": " << why << "\n";
    return kExitUsage;
  };
  if (!j) return fallback(j.error().message);
  if (as_json) {
    out << j->dump(2) << "\n";
    return status == 200 ? kExitOk : kExitUsage;
  }
  if (status != 200 || !j->contains("value")) {
    std::string why = j->value("errorCode", std::string());
    if (why.empty()) why = "no value (reason " + j->value("reason", std::string("?")) + ")";
    if (j->contains("errorDetails")) why += ": " + (*j)["errorDetails"].get<std::string>();
    return fallback(why);
  }
  if (j->value("stale", false)) {
    err << "fleetflag: note: " << key << " is served from the cache (upstream unreachable)\n";
  }
  out << render((*j)["value"]) << "\n";
  return kExitOk;
}

int run_enabled(const std::string& socket, const std::string& key, std::ostream& err) {
  int status = 0;
  auto j = get_json(socket, "/v1/flags/" + url_escape(key), &status);
  if (!j) {
    err << "fleetflag: " << j.error().message << "\n";
    return kExitUsage;
  }
  if (status != 200 || !j->contains("value")) {
    err << "fleetflag: " << key << ": " << j->value("errorCode", std::string("no value")) << "\n";
    return kExitUsage;
  }
  const Json& v = (*j)["value"];
  return v.is_boolean() && v.get<bool>() ? kExitOk : kExitInvalid;
}

int run_list(const std::string& socket, bool as_json, std::ostream& out, std::ostream& err) {
  int status = 0;
  auto j = get_json(socket, "/v1/flags", &status);
  if (!j) {
    err << "fleetflag: " << j.error().message << "\n";
    return kExitUsage;
  }
  if (as_json || status != 200) {
    out << j->dump(2) << "\n";
    return status == 200 ? kExitOk : kExitUsage;
  }
  char line[512];
  std::snprintf(line, sizeof line, "%-32s %-20s %-16s %-16s %s\n", "FLAG", "VALUE", "VARIANT",
                "REASON", "SOURCE");
  out << line;
  for (auto it = (*j)["flags"].begin(); it != (*j)["flags"].end(); ++it) {
    const Json& f = it.value();
    std::string value = f.contains("value") ? render(f["value"]) : "-";
    if (value.size() > 20) value = value.substr(0, 17) + "...";
    std::snprintf(line, sizeof line, "%-32s %-20s %-16s %-16s %s\n", it.key().c_str(),
                  value.c_str(), f.value("variant", std::string("-")).c_str(),
                  f.contains("errorCode") ? f["errorCode"].get<std::string>().c_str()
                                          : f.value("reason", std::string("-")).c_str(),
                  f.value("source", std::string("-")).c_str());
    out << line;
  }
  out << "revision " << j->value("revision", 0) << ", source " << j->value("source", std::string())
      << (j->value("stale", false) ? " (stale)" : "") << "\n";
  return kExitOk;
}

int run_status(const std::string& socket, bool as_json, std::ostream& out, std::ostream& err) {
  int status = 0;
  auto j = get_json(socket, "/v1/status", &status);
  if (!j) {
    err << "fleetflag: " << j.error().message << "\n";
    return kExitUsage;
  }
  if (as_json) {
    out << j->dump(2) << "\n";
  } else {
    out << "ready:       " << (j->value("ready", false) ? "yes" : "no") << "\n"
        << "mode:        " << j->value("mode", std::string()) << "\n"
        << "upstream:    " << j->value("upstream", std::string()) << "\n"
        << "source:      " << j->value("source", std::string())
        << (j->value("stale", false) ? " (stale)" : "") << "\n"
        << "revision:    " << j->value("revision", 0) << "\n"
        << "flags:       " << j->value("flagCount", 0) << "\n";
    if (j->contains("lastError") && (*j)["lastError"].is_string() &&
        !(*j)["lastError"].get<std::string>().empty()) {
      out << "last error:  " << (*j)["lastError"].get<std::string>() << "\n";
    }
  }
  return j->value("ready", false) ? kExitOk : kExitInvalid;
}

namespace {

// Nested objects become dotted rows (host.os.id); arrays and scalars are one row each.
void flatten(const Json& v, const std::string& path,
             std::vector<std::pair<std::string, Json>>& rows) {
  if (v.is_object() && !v.empty()) {
    for (auto it = v.begin(); it != v.end(); ++it) {
      flatten(it.value(), path.empty() ? it.key() : path + "." + it.key(), rows);
    }
    return;
  }
  rows.emplace_back(path, v);
}

// The source of `path`: its own entry, else that of its closest listed parent.
std::string source_of(const Json& sources, std::string path) {
  if (!sources.is_object()) return "-";
  while (true) {
    const auto it = sources.find(path);
    if (it != sources.end()) return it->is_string() ? it->get<std::string>() : it->dump();
    const auto dot = path.rfind('.');
    if (dot == std::string::npos) return "-";
    path.resize(dot);
  }
}

}  // namespace

void print_context(const Json& view, std::ostream& out) {
  std::vector<std::pair<std::string, Json>> rows;
  if (view.contains("context")) flatten(view["context"], "", rows);
  const Json sources = view.value("sources", Json::object());
  std::size_t width = 9;
  for (const auto& r : rows) width = std::max(width, r.first.size());
  width = std::min<std::size_t>(width, 40);
  auto pad = [](std::string s, std::size_t w) {
    if (s.size() < w) s.append(w - s.size(), ' ');
    return s;
  };
  out << pad("ATTRIBUTE", width) << "  " << pad("VALUE", 32) << "  SOURCE\n";
  for (const auto& [path, value] : rows) {
    std::string v = render(value);
    if (v.size() > 32) v = v.substr(0, 29) + "...";
    out << pad(path, width) << "  " << pad(v, 32) << "  " << source_of(sources, path) << "\n";
  }
  const Json errors = view.value("errors", Json::array());
  if (errors.is_array() && !errors.empty()) {
    out << "\nerrors:\n";
    for (const auto& e : errors) {
      out << "  " << e.value("source", std::string("?")) << ": "
          << e.value("message", std::string("?"));
      if (e.contains("at")) out << " (at " << render(e["at"]) << ")";
      out << "\n";
    }
  }
}

int run_context(const std::string& socket, bool as_json, std::ostream& out, std::ostream& err) {
  int status = 0;
  auto j = get_json(socket, "/v1/context", &status);
  if (!j) {
    err << "fleetflag: " << j.error().message << "\n";
    return kExitUsage;
  }
  if (as_json || status != 200) {
    out << j->dump(2) << "\n";
  } else {
    print_context(*j, out);
  }
  return status == 200 ? kExitOk : kExitUsage;
}

int run_watch(const std::string& socket, const std::optional<std::string>& key,
              unsigned max_changes, std::ostream& out, std::ostream& err) {
  std::uint64_t index = 0;
  std::map<std::string, std::string> last;
  bool first = true;
  unsigned printed = 0;
  while (true) {
    int status = 0;
    auto j = get_json(socket, "/v1/flags?index=" + std::to_string(index) + "&wait=60s", &status,
                      std::chrono::milliseconds(75000));
    if (!j) {
      err << "fleetflag: " << j.error().message << "\n";
      return kExitUsage;
    }
    if (status != 200) {
      std::this_thread::sleep_for(std::chrono::seconds(1));
      continue;
    }
    index = j->value("revision", index);
    const Json& flags = (*j)["flags"];
    for (auto it = flags.begin(); it != flags.end(); ++it) {
      if (key && it.key() != *key) continue;
      const std::string now = it.value().contains("value") ? render(it.value()["value"]) : "-";
      const auto prev = last.find(it.key());
      if (prev == last.end() || prev->second != now) {
        out << "rev " << index << " " << it.key() << " = " << now
            << (first ? "" : (prev == last.end() ? " (new)" : " (was " + prev->second + ")"))
            << " [" << it.value().value("source", std::string()) << "]\n";
        out.flush();
        last[it.key()] = now;
        if (!first && max_changes != 0 && ++printed >= max_changes) return kExitOk;
      }
    }
    first = false;
  }
}

}  // namespace ff::cli
