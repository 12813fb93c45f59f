// Built-in facts (`host.*`) and the machine-id. Everything is read from files under `root`
// (all world-readable, no root privileges needed); only with an empty root do syscalls fill in
// what the files did not give (uname(), getaddrinfo() for the FQDN, sysconf() for CPUs).
//
// host.hostname      /proc/sys/kernel/hostname (uname nodename)
// host.fqdn          hostname if it has a dot, else the canonical name of the /etc/hosts line
//                    naming it, else (empty root) getaddrinfo(AI_CANONNAME), else the hostname.
//                    The DNS step can take the resolver's timeout when DNS is down; it runs at
//                    create()/reload() only.
// host.os.{id,version,family,like,name,codename}   /etc/os-release, else /usr/lib/os-release
//                    (ID, VERSION_ID, see os_family(), ID_LIKE words, PRETTY_NAME,
//                    VERSION_CODENAME)
// host.kernel        /proc/sys/kernel/osrelease (uname release)
// host.arch          /proc/sys/kernel/arch (uname machine), e.g. "x86_64", "aarch64"
// host.cpus          /sys/devices/system/cpu/online, else /proc/cpuinfo (sysconf)
// host.memoryMb      MemTotal of /proc/meminfo / 1024
// host.virtualization  systemd-detect-virt style names from /sys/class/dmi/id and
//                    /sys/hypervisor/type; "vm-other" when /proc/cpuinfo only shows the
//                    hypervisor flag; absent when nothing was detected
// host.container     /run/systemd/container, /run/host/container-manager, /run/.containerenv
//                    ("podman"), /.dockerenv ("docker"); absent when nothing was detected
#include <netdb.h>
#include <sys/utsname.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cstring>
#include <fstream>
#include <sstream>
#include <string>
#include <string_view>
#include <vector>

#include "agent/context/internal.h"

namespace ff::context::detail {
namespace {

std::string trim(std::string_view s) {
  auto b = s.find_first_not_of(" \t\r\n");
  if (b == std::string_view::npos) return "";
  auto e = s.find_last_not_of(" \t\r\n");
  return std::string(s.substr(b, e - b + 1));
}

std::vector<std::string> split_ws(std::string_view s) {
  std::vector<std::string> out;
  std::istringstream in{std::string(s)};
  std::string word;
  while (in >> word) out.push_back(word);
  return out;
}

// First line of a small file, trimmed; "" when unreadable.
std::string first_line(const std::string& path) {
  auto text = read_file(path, 4096);
  if (!text.ok()) return "";
  std::string_view v = *text;
  return trim(v.substr(0, v.find('\n')));
}

bool exists(const std::string& path) {
  return ::access(path.c_str(), F_OK) == 0;
}

std::string lower(std::string s) {
  std::transform(s.begin(), s.end(), s.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return s;
}

// A stable, coarse family for rules ("debian" covers Ubuntu, Mint...; "rhel" covers Fedora,
// CentOS, Rocky, Alma...), from ID and ID_LIKE; else the last ID_LIKE word (the root-most
// ancestor), else ID.
std::string os_family(const std::string& id, const std::vector<std::string>& like) {
  std::vector<std::string> names = like;
  names.push_back(id);
  struct Family {
    const char* family;
    std::vector<std::string_view> members;
  };
  static const std::vector<Family> kFamilies = {
      {"debian", {"debian", "ubuntu"}},
      {"rhel", {"rhel", "fedora", "centos"}},
      {"suse", {"suse", "opensuse", "sles"}},
      {"arch", {"arch"}},
      {"alpine", {"alpine"}},
      {"gentoo", {"gentoo"}},
  };
  for (const auto& f : kFamilies) {
    for (const auto& n : names) {
      if (std::find(f.members.begin(), f.members.end(), n) != f.members.end()) return f.family;
    }
  }
  return like.empty() ? id : like.back();
}

std::string fqdn_from_hosts(const std::string& root, const std::string& hostname) {
  auto text = read_file(root + "/etc/hosts", 1u << 20);
  if (!text.ok()) return "";
  std::istringstream in(*text);
  std::string line;
  while (std::getline(in, line)) {
    line = line.substr(0, line.find('#'));
    auto words = split_ws(line);
    if (words.size() < 2) continue;
    if (std::find(words.begin() + 1, words.end(), hostname) == words.end()) continue;
    // glibc reports the first name of the line as the canonical one.
    if (words[1].find('.') != std::string::npos) return words[1];
    return "";
  }
  return "";
}

std::string fqdn_from_dns(const std::string& hostname) {
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_flags = AI_CANONNAME;
  addrinfo* res = nullptr;
  if (::getaddrinfo(hostname.c_str(), nullptr, &hints, &res) != 0 || res == nullptr) return "";
  std::string name = res->ai_canonname != nullptr ? res->ai_canonname : "";
  ::freeaddrinfo(res);
  return name.find('.') != std::string::npos ? name : "";
}

// "0-3,6,8-9" -> 7; 0 when malformed.
long count_cpu_list(const std::string& list) {
  long total = 0;
  std::istringstream in(list);
  std::string part;
  while (std::getline(in, part, ',')) {
    part = trim(part);
    if (part.empty()) continue;
    char* end = nullptr;
    long a = std::strtol(part.c_str(), &end, 10);
    long b = a;
    if (*end == '-') b = std::strtol(end + 1, &end, 10);
    if (*end != '\0' || b < a || a < 0) return 0;
    total += b - a + 1;
  }
  return total;
}

std::string detect_virtualization(const std::string& root, const std::string& cpuinfo) {
  std::string vendor = first_line(root + "/sys/class/dmi/id/sys_vendor");
  std::string product = first_line(root + "/sys/class/dmi/id/product_name");
  std::string board = first_line(root + "/sys/class/dmi/id/board_vendor");
  // systemd's DMI table (src/basic/virt.c), prefixes matched against vendor, product, board.
  static const std::vector<std::pair<std::string_view, const char*>> kDmi = {
      {"KVM", "kvm"},
      {"OpenStack", "kvm"},
      {"KubeVirt", "kvm"},
      {"Amazon EC2", "amazon"},
      {"QEMU", "qemu"},
      {"VMware", "vmware"},
      {"VMW", "vmware"},
      {"innotek GmbH", "oracle"},
      {"VirtualBox", "oracle"},
      {"Oracle Corporation", "oracle"},
      {"Xen", "xen"},
      {"Bochs", "bochs"},
      {"Parallels", "parallels"},
      {"BHYVE", "bhyve"},
      {"Hyper-V", "microsoft"},
      {"Apple Virtualization", "apple"},
      {"Google Compute Engine", "google"},
  };
  for (const std::string* field : {&vendor, &product, &board}) {
    for (const auto& [prefix, name] : kDmi) {
      if (field->rfind(prefix, 0) == 0) {
        // VirtualBox also uses "Oracle Corporation" for bare-metal boards: only trust it as a
        // VM with a VirtualBox product name.
        if (prefix == "Oracle Corporation" && product.find("VirtualBox") == std::string::npos) {
          continue;
        }
        return name;
      }
    }
  }
  if (vendor == "Microsoft Corporation" && product == "Virtual Machine") return "microsoft";
  std::string hv = first_line(root + "/sys/hypervisor/type");
  if (hv == "xen") return "xen";
  // The CPUID hypervisor bit, as the kernel shows it in every processor's "flags" line.
  std::istringstream in(cpuinfo);
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind("flags", 0) != 0) continue;
    auto words =
        split_ws(line.substr(line.find(':') == std::string::npos ? 0 : line.find(':') + 1));
    if (std::find(words.begin(), words.end(), "hypervisor") != words.end()) return "vm-other";
    break;
  }
  return "";
}

std::string detect_container(const std::string& root) {
  for (const char* file : {"/run/systemd/container", "/run/host/container-manager"}) {
    std::string name = first_line(root + file);
    if (!name.empty()) return name;
  }
  if (exists(root + "/run/.containerenv")) return "podman";
  if (exists(root + "/.dockerenv")) return "docker";
  return "";
}

}  // namespace

Result<std::string> read_file(const std::string& path, std::size_t max_bytes) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    int err = errno;
    return Error{err == ENOENT || err == ENOTDIR ? "missing" : "io",
                 path + ": " + std::strerror(err), ""};  // NOLINT(concurrency-mt-unsafe)
  }
  // /proc and /sys files report size 0: read in chunks rather than trusting the size.
  std::string out;
  char buf[16384];
  while (out.size() <= max_bytes) {
    std::size_t want = std::min(sizeof(buf), max_bytes + 1 - out.size());
    in.read(buf, static_cast<std::streamsize>(want));
    out.append(buf, static_cast<std::size_t>(in.gcount()));
    if (!in) break;
  }
  if (in.bad()) return Error{"io", path + ": read failed", ""};
  return out;
}

Json parse_os_release(std::string_view text) {
  Json out = Json::object();
  std::istringstream in{std::string(text)};
  std::string line;
  while (std::getline(in, line)) {
    line = trim(line);
    if (line.empty() || line[0] == '#') continue;
    auto eq = line.find('=');
    if (eq == std::string::npos || eq == 0) continue;
    std::string key = line.substr(0, eq);
    std::string raw = line.substr(eq + 1);
    std::string value;
    // Shell-compatible subset (os-release(5)): one quoted or unquoted word, backslash escapes
    // in double quotes and unquoted text, nothing escaped in single quotes.
    char quote = 0;
    for (std::size_t i = 0; i < raw.size(); ++i) {
      char c = raw[i];
      if (quote == '\'') {
        if (c == '\'')
          quote = 0;
        else
          value += c;
      } else if (c == '\\' && i + 1 < raw.size()) {
        value += raw[++i];
      } else if (quote == '"') {
        if (c == '"')
          quote = 0;
        else
          value += c;
      } else if (c == '"' || c == '\'') {
        quote = c;
      } else {
        value += c;
      }
    }
    out[key] = value;
  }
  return out;
}

std::string read_machine_id(const std::string& root, const std::string& path) {
  std::string id = lower(first_line(root + path));
  if (id.size() != 32) return "";
  for (char c : id) {
    if (std::isxdigit(static_cast<unsigned char>(c)) == 0) return "";
  }
  // All zeroes is not a real id (unset in some images).
  if (id == std::string(32, '0')) return "";
  return id;
}

Json read_host_facts(const std::string& root) {
  const bool real_host = root.empty();
  utsname uts{};
  bool have_uts = real_host && ::uname(&uts) == 0;
  Json host = Json::object();

  std::string hostname = first_line(root + "/proc/sys/kernel/hostname");
  if (hostname.empty() && have_uts) hostname = uts.nodename;
  if (!hostname.empty()) {
    host["hostname"] = hostname;
    std::string fqdn;
    if (hostname.find('.') != std::string::npos) fqdn = hostname;
    if (fqdn.empty()) fqdn = fqdn_from_hosts(root, hostname);
    if (fqdn.empty() && real_host) fqdn = fqdn_from_dns(hostname);
    host["fqdn"] = fqdn.empty() ? hostname : fqdn;
  }

  auto os_text = read_file(root + "/etc/os-release");
  if (!os_text.ok()) os_text = read_file(root + "/usr/lib/os-release");
  if (os_text.ok()) {
    Json rel = parse_os_release(*os_text);
    auto get = [&rel](const char* key) {
      return rel.contains(key) ? rel[key].get<std::string>() : std::string();
    };
    Json os = Json::object();
    std::string id = get("ID").empty() ? "linux" : lower(get("ID"));  // os-release(5) default
    std::vector<std::string> like = split_ws(lower(get("ID_LIKE")));
    os["id"] = id;
    if (!get("VERSION_ID").empty()) os["version"] = get("VERSION_ID");
    os["family"] = os_family(id, like);
    os["like"] = like;
    if (!get("PRETTY_NAME").empty()) os["name"] = get("PRETTY_NAME");
    if (!get("VERSION_CODENAME").empty()) os["codename"] = get("VERSION_CODENAME");
    host["os"] = os;
  }

  std::string kernel = first_line(root + "/proc/sys/kernel/osrelease");
  if (kernel.empty() && have_uts) kernel = uts.release;
  if (!kernel.empty()) host["kernel"] = kernel;
  std::string arch = first_line(root + "/proc/sys/kernel/arch");
  if (arch.empty() && have_uts) arch = uts.machine;
  if (!arch.empty()) host["arch"] = arch;

  auto cpuinfo = read_file(root + "/proc/cpuinfo", 4u << 20);
  std::string cpuinfo_text = cpuinfo.ok() ? *cpuinfo : "";
  long cpus = count_cpu_list(first_line(root + "/sys/devices/system/cpu/online"));
  if (cpus == 0) {
    std::istringstream in(cpuinfo_text);
    std::string line;
    while (std::getline(in, line)) {
      if (line.rfind("processor", 0) == 0) ++cpus;
    }
  }
  if (cpus == 0 && real_host) cpus = ::sysconf(_SC_NPROCESSORS_ONLN);
  if (cpus > 0) host["cpus"] = cpus;

  auto meminfo = read_file(root + "/proc/meminfo");
  if (meminfo.ok()) {
    std::istringstream in(*meminfo);
    std::string line;
    while (std::getline(in, line)) {
      if (line.rfind("MemTotal:", 0) != 0) continue;
      long long kb = std::atoll(line.c_str() + std::strlen("MemTotal:"));
      if (kb > 0) host["memoryMb"] = kb / 1024;
      break;
    }
  }

  if (auto virt = detect_virtualization(root, cpuinfo_text); !virt.empty()) {
    host["virtualization"] = virt;
  }
  if (auto container = detect_container(root); !container.empty()) host["container"] = container;
  return host;
}

}  // namespace ff::context::detail
