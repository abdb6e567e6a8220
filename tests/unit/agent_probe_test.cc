// Hardware probe parsers and the machine fingerprint.
#include <gtest/gtest.h>

#include "localbench/agent/probe.h"

namespace localbench::agent {
namespace {

constexpr char kCpuInfo[] =
    "processor\t: 0\nvendor_id\t: GenuineIntel\nmodel name\t: Intel(R) Xeon(R) CPU @ 2.20GHz\n"
    "physical id\t: 0\ncore id\t\t: 0\n\n"
    "processor\t: 1\nmodel name\t: Intel(R) Xeon(R) CPU @ 2.20GHz\nphysical id\t: 0\ncore id\t\t: 0\n\n"
    "processor\t: 2\nmodel name\t: Intel(R) Xeon(R) CPU @ 2.20GHz\nphysical id\t: 0\ncore id\t\t: 1\n\n"
    "processor\t: 3\nmodel name\t: Intel(R) Xeon(R) CPU @ 2.20GHz\nphysical id\t: 0\ncore id\t\t: 1\n";

TEST(AgentProbe, CpuInfoCountsCoresAndThreads) {
  auto cpu = ParseCpuInfo(kCpuInfo);
  EXPECT_EQ(cpu.model, "Intel(R) Xeon(R) CPU @ 2.20GHz");
  EXPECT_EQ(cpu.logical_cores, 4u);
  EXPECT_EQ(cpu.physical_cores, 2u);
}

TEST(AgentProbe, CpuInfoWithoutTopologyAssumesNoSmt) {
  auto cpu = ParseCpuInfo("processor : 0\nHardware : BCM2835\n\nprocessor : 1\n");
  EXPECT_EQ(cpu.model, "BCM2835");
  EXPECT_EQ(cpu.logical_cores, 2u);
  EXPECT_EQ(cpu.physical_cores, 2u);
}

TEST(AgentProbe, MemInfoAndOsRelease) {
  EXPECT_EQ(ParseMemTotalBytes("MemTotal:       24576000 kB\nMemFree: 1 kB\n"), 24576000ull * 1024);
  EXPECT_EQ(ParseMemTotalBytes("garbage"), 0u);
  EXPECT_EQ(ParseOsName("NAME=\"Debian GNU/Linux\"\nPRETTY_NAME=\"Debian GNU/Linux 12 (bookworm)\"\n"),
            "Debian GNU/Linux 12 (bookworm)");
  EXPECT_EQ(ParseOsName("NAME=Arch\nVERSION='rolling'\n"), "Arch rolling");
}

TEST(AgentProbe, ThisHostIsDescribed) {
  auto host = ProbeHost();
  EXPECT_FALSE(host.cpu_model().empty());
  EXPECT_GE(host.cpu_logical_cores(), 1u);
  EXPECT_GE(host.cpu_logical_cores(), host.cpu_physical_cores());
  EXPECT_GT(host.ram_total_bytes(), 64ull << 20);
  EXPECT_FALSE(host.os_kernel().empty());
}

TEST(AgentProbe, FingerprintIsStableAndPrivate) {
  v1::Host host;
  host.set_cpu_model("X");
  host.set_cpu_logical_cores(4);
  host.set_cpu_physical_cores(2);
  host.set_ram_total_bytes(24ull << 30);
  host.set_os_kernel("6.1.0-26-amd64");
  const std::string machine_id = "0123456789abcdef0123456789abcdef\n";
  const auto text = FingerprintText(host, machine_id);
  // The machine id appears only hashed.
  EXPECT_EQ(text.find("0123456789abcdef0123456789abcdef"), std::string::npos);
  EXPECT_NE(text.find("machine_id_sha256="), std::string::npos);
  // A kernel update or a few MiB of reserved memory do not move it.
  v1::Host host2 = host;
  host2.set_ram_total_bytes((24ull << 30) - (37ull << 20));
  host2.set_os_kernel("6.1.0-27-amd64");
  EXPECT_EQ(FingerprintText(host2, machine_id), text);
  // Another machine id or CPU gives another fingerprint.
  EXPECT_NE(FingerprintText(host, "ffff"), text);
  host2.set_cpu_model("Y");
  EXPECT_NE(FingerprintText(host2, machine_id), text);
  EXPECT_EQ(MachineFingerprint(host).size(), 64u);
  EXPECT_EQ(MachineFingerprint(host), MachineFingerprint(host));
}

}  // namespace
}  // namespace localbench::agent
