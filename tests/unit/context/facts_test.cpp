// Built-in facts from a fake root, os-release variants, machine-id and targetingKey.
#include <gtest/gtest.h>

#include <string>

#include "agent/context/context.h"
#include "agent/context/internal.h"
#include "tests/fakes/fake_clock.h"
#include "tests/unit/context/context_test_util.h"

namespace ff::context {
namespace {

using testing::TempDir;

void write_linux_basics(const TempDir& root) {
  root.write("proc/sys/kernel/hostname", "web-1\n");
  root.write("proc/sys/kernel/osrelease", "6.1.0-28-amd64\n");
  root.write("proc/sys/kernel/arch", "x86_64\n");
  root.write("sys/devices/system/cpu/online", "0-3,6\n");
  root.write("proc/meminfo", "MemTotal:        8048576 kB\nMemFree:  12 kB\n");
  root.write("proc/cpuinfo", "processor\t: 0\nflags\t\t: fpu vme de pse\n");
  root.write("etc/os-release",
             "PRETTY_NAME=\"Debian GNU/Linux 12 (bookworm)\"\nNAME=\"Debian GNU/Linux\"\n"
             "VERSION_ID=\"12\"\nVERSION_CODENAME=bookworm\nID=debian\n");
}

TEST(Facts, FromFakeRoot) {
  TempDir root;
  write_linux_basics(root);
  root.write("etc/hosts",
             "127.0.0.1 localhost\n# comment web-1\n127.0.1.1 web-1.prod.example.com web-1\n");
  Json host = detail::read_host_facts(root.path());
  EXPECT_EQ(host["hostname"], "web-1");
  EXPECT_EQ(host["fqdn"], "web-1.prod.example.com");
  EXPECT_EQ(host["kernel"], "6.1.0-28-amd64");
  EXPECT_EQ(host["arch"], "x86_64");
  EXPECT_EQ(host["cpus"], 5);
  EXPECT_EQ(host["memoryMb"], 7859);  // floor(8048576 / 1024)
  EXPECT_EQ(host["os"]["id"], "debian");
  EXPECT_EQ(host["os"]["version"], "12");
  EXPECT_EQ(host["os"]["family"], "debian");
  EXPECT_EQ(host["os"]["name"], "Debian GNU/Linux 12 (bookworm)");
  EXPECT_EQ(host["os"]["codename"], "bookworm");
  EXPECT_EQ(host["os"]["like"], Json::array());
  EXPECT_FALSE(host.contains("virtualization"));
  EXPECT_FALSE(host.contains("container"));
}

TEST(Facts, MissingFilesMeanMissingFacts) {
  TempDir root;
  Json host = detail::read_host_facts(root.path());
  EXPECT_FALSE(host.contains("hostname"));
  EXPECT_FALSE(host.contains("fqdn"));
  EXPECT_FALSE(host.contains("os"));
  EXPECT_FALSE(host.contains("kernel"));
  EXPECT_FALSE(host.contains("arch"));
  EXPECT_FALSE(host.contains("cpus"));
  EXPECT_FALSE(host.contains("memoryMb"));
  EXPECT_FALSE(host.contains("virtualization"));
  EXPECT_FALSE(host.contains("container"));
}

TEST(Facts, FqdnFallsBackToHostnameAndKeepsDottedHostname) {
  TempDir root;
  root.write("proc/sys/kernel/hostname", "db-2\n");
  root.write("etc/hosts", "127.0.1.1 db-2\n");  // no dotted name for it
  EXPECT_EQ(detail::read_host_facts(root.path())["fqdn"], "db-2");
  root.write("proc/sys/kernel/hostname", "db-2.example.org\n");
  EXPECT_EQ(detail::read_host_facts(root.path())["fqdn"], "db-2.example.org");
}

TEST(Facts, CpuCountFromCpuinfoWhenOnlineIsMissing) {
  TempDir root;
  root.write("proc/cpuinfo", "processor\t: 0\nflags : x\n\nprocessor\t: 1\nflags : x\n");
  EXPECT_EQ(detail::read_host_facts(root.path())["cpus"], 2);
}

TEST(Facts, OsReleaseVariants) {
  struct Case {
    const char* text;
    const char* id;
    const char* version;
    const char* family;
  };
  const Case cases[] = {
      {"ID=ubuntu\nID_LIKE=debian\nVERSION_ID=\"24.04\"\n", "ubuntu", "24.04", "debian"},
      {"ID=\"rocky\"\nID_LIKE=\"rhel centos fedora\"\nVERSION_ID=\"9.4\"\n", "rocky", "9.4",
       "rhel"},
      {"ID=fedora\nVERSION_ID=40\n", "fedora", "40", "rhel"},
      {"ID=\"opensuse-leap\"\nID_LIKE=\"suse opensuse\"\nVERSION_ID='15.6'\n", "opensuse-leap",
       "15.6", "suse"},
      {"ID=nixos\nVERSION_ID=\"24.05\"\n", "nixos", "24.05", "nixos"},
      {"ID=myos\nID_LIKE=\"weird base\"\n", "myos", "", "base"},
      {"NAME=Nothing\n", "linux", "", "linux"},  // os-release(5): ID defaults to "linux"
  };
  for (const auto& c : cases) {
    TempDir root;
    root.write("etc/os-release", c.text);
    Json os = detail::read_host_facts(root.path())["os"];
    EXPECT_EQ(os["id"], c.id) << c.text;
    EXPECT_EQ(os.value("version", ""), c.version) << c.text;
    EXPECT_EQ(os["family"], c.family) << c.text;
  }
}

TEST(Facts, OsReleaseFallbackAndQuoting) {
  TempDir root;
  root.write("usr/lib/os-release",
             "# a comment\nID=alpine\nPRETTY_NAME=\"Alpine \\\"Edge\\\" \\$HOME\"\n"
             "VERSION_ID='3.20 beta'\n  \nGARBAGE LINE\n");
  Json os = detail::read_host_facts(root.path())["os"];
  EXPECT_EQ(os["id"], "alpine");
  EXPECT_EQ(os["name"], "Alpine \"Edge\" $HOME");
  EXPECT_EQ(os["version"], "3.20 beta");
  EXPECT_EQ(os["family"], "alpine");
  // /etc/os-release wins over /usr/lib/os-release.
  root.write("etc/os-release", "ID=debian\n");
  EXPECT_EQ(detail::read_host_facts(root.path())["os"]["id"], "debian");
}

TEST(Facts, Virtualization) {
  {
    TempDir root;
    root.write("sys/class/dmi/id/sys_vendor", "QEMU\n");
    root.write("sys/class/dmi/id/product_name", "Standard PC (Q35 + ICH9, 2009)\n");
    EXPECT_EQ(detail::read_host_facts(root.path())["virtualization"], "qemu");
  }
  {
    TempDir root;
    root.write("sys/class/dmi/id/sys_vendor", "Microsoft Corporation\n");
    root.write("sys/class/dmi/id/product_name", "Virtual Machine\n");
    EXPECT_EQ(detail::read_host_facts(root.path())["virtualization"], "microsoft");
  }
  {
    TempDir root;
    root.write("sys/class/dmi/id/sys_vendor", "Amazon EC2\n");
    EXPECT_EQ(detail::read_host_facts(root.path())["virtualization"], "amazon");
  }
  {
    TempDir root;  // unknown vendor, but the CPU says hypervisor
    root.write("sys/class/dmi/id/sys_vendor", "Dell Inc.\n");
    root.write("proc/cpuinfo", "processor : 0\nflags : fpu hypervisor lm\n");
    EXPECT_EQ(detail::read_host_facts(root.path())["virtualization"], "vm-other");
  }
  {
    TempDir root;  // bare metal
    root.write("sys/class/dmi/id/sys_vendor", "Dell Inc.\n");
    root.write("proc/cpuinfo", "processor : 0\nflags : fpu lm\n");
    EXPECT_FALSE(detail::read_host_facts(root.path()).contains("virtualization"));
  }
}

TEST(Facts, Container) {
  {
    TempDir root;
    root.write("run/systemd/container", "systemd-nspawn\n");
    root.write(".dockerenv", "");
    EXPECT_EQ(detail::read_host_facts(root.path())["container"], "systemd-nspawn");
  }
  {
    TempDir root;
    root.write("run/.containerenv", "engine=\"podman\"\n");
    EXPECT_EQ(detail::read_host_facts(root.path())["container"], "podman");
  }
  {
    TempDir root;
    root.write(".dockerenv", "");
    EXPECT_EQ(detail::read_host_facts(root.path())["container"], "docker");
  }
}

TEST(Facts, RealHostHasTheBasics) {
  Json host = detail::read_host_facts("");
  EXPECT_FALSE(host.value("hostname", "").empty());
  EXPECT_FALSE(host.value("fqdn", "").empty());
  EXPECT_FALSE(host.value("kernel", "").empty());
  EXPECT_FALSE(host.value("arch", "").empty());
  EXPECT_GT(host.value("cpus", 0), 0);
  EXPECT_GT(host.value("memoryMb", 0), 0);
}

TEST(MachineId, Validation) {
  TempDir root;
  EXPECT_EQ(detail::read_machine_id(root.path(), "/etc/machine-id"), "");
  root.write("etc/machine-id", "0123456789ABCDEF0123456789abcdef\n");
  EXPECT_EQ(detail::read_machine_id(root.path(), "/etc/machine-id"),
            "0123456789abcdef0123456789abcdef");
  root.write("etc/machine-id", "uninitialized\n");
  EXPECT_EQ(detail::read_machine_id(root.path(), "/etc/machine-id"), "");
  root.write("etc/machine-id", std::string(32, '0') + "\n");
  EXPECT_EQ(detail::read_machine_id(root.path(), "/etc/machine-id"), "");
}

ContextOptions fake_root_options(const TempDir& root) {
  ContextOptions o;
  o.root = root.path();
  o.context_dir = root.file("context.d");
  o.providers_dir = root.file("providers.d");
  o.time_zone = "UTC";
  return o;
}

TEST(TargetingKey, MachineIdThenFqdnThenConfig) {
  ff::testing::FakeClock clock;
  TempDir root;
  write_linux_basics(root);
  root.write("etc/hosts", "127.0.1.1 web-1.prod.example.com web-1\n");

  auto b = ContextBuilder::create(fake_root_options(root), clock);
  ASSERT_TRUE(b.ok());
  EXPECT_EQ((*b)->current().context["targetingKey"], "web-1.prod.example.com");

  root.write("etc/machine-id", "4f2a9c0e5b7d4e1fa3c6b8d9e0f1a2b3\n");
  auto opts = fake_root_options(root);
  ASSERT_TRUE((*b)->reload(opts).ok());
  HostContext c = (*b)->current();
  EXPECT_EQ(c.context["targetingKey"], "4f2a9c0e5b7d4e1fa3c6b8d9e0f1a2b3");
  EXPECT_EQ(c.sources["targetingKey"], "builtin");
  // Stable: a second builder (an agent restart) derives the same key.
  auto again = ContextBuilder::create(opts, clock);
  ASSERT_TRUE(again.ok());
  EXPECT_EQ((*again)->current().context["targetingKey"], c.context["targetingKey"]);

  opts.targeting_key = "custom-key";
  ASSERT_TRUE((*b)->reload(opts).ok());
  c = (*b)->current();
  EXPECT_EQ(c.context["targetingKey"], "custom-key");
  EXPECT_EQ(c.sources["targetingKey"], "config");
}

TEST(TargetingKey, NothingAvailableIsAnError) {
  ff::testing::FakeClock clock;
  TempDir root;
  auto b = ContextBuilder::create(fake_root_options(root), clock);
  ASSERT_TRUE(b.ok());
  HostContext c = (*b)->current();
  EXPECT_EQ(c.context["targetingKey"], "");
  ASSERT_EQ(c.errors.size(), 1u);
  EXPECT_EQ(c.errors[0]["source"], "targetingKey");
}

TEST(HostFacts, NamespacedWithSources) {
  ff::testing::FakeClock clock;
  TempDir root;
  write_linux_basics(root);
  auto b = ContextBuilder::create(fake_root_options(root), clock);
  ASSERT_TRUE(b.ok());
  HostContext c = (*b)->current();
  EXPECT_EQ(c.context["host"]["hostname"], "web-1");
  EXPECT_EQ(c.sources["host.hostname"], "builtin");
  EXPECT_EQ(c.sources["host.os.id"], "builtin");
  EXPECT_EQ(c.sources["host.cpus"], "builtin");
  EXPECT_EQ(c.sources["time"], "time");
  EXPECT_EQ(c.context["time"]["zone"], "UTC");
}

}  // namespace
}  // namespace ff::context
