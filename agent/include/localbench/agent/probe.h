// Hardware probe: the host around the device (CPU, RAM, OS, kernel) and a
// stable, privacy-respecting machine fingerprint. The device itself comes
// from the kernels' DeviceInfo (see runner.h).
#ifndef LOCALBENCH_AGENT_PROBE_H_
#define LOCALBENCH_AGENT_PROBE_H_

#include <cstdint>
#include <string>
#include <string_view>

#include "localbench/v1/results.pb.h"

namespace localbench::agent {

// Parsers over the text of the system files, so tests can feed them any
// machine's files.
struct CpuInfo {
  std::string model;            // "model name" (x86) or "Processor"/"Hardware" elsewhere
  std::uint32_t physical_cores = 0;  // distinct (physical id, core id) pairs
  std::uint32_t logical_cores = 0;   // "processor" entries
};
// From the text of /proc/cpuinfo.
CpuInfo ParseCpuInfo(std::string_view cpuinfo);
// MemTotal from the text of /proc/meminfo, in bytes (0 when absent).
std::uint64_t ParseMemTotalBytes(std::string_view meminfo);
// PRETTY_NAME (else NAME VERSION) from the text of /etc/os-release.
std::string ParseOsName(std::string_view os_release);

// Probes this machine's host: /proc/cpuinfo, sysconf, /proc/meminfo,
// /etc/os-release and uname. Fields it cannot read stay empty / zero.
v1::Host ProbeHost();

// The canonical text the fingerprint hashes: stable properties of the
// machine only (CPU model and core counts, RAM rounded to GiB, and a hash of
// /etc/machine-id). Never serial numbers, nothing that changes on reboot or
// driver update, and not the device: one machine with two GPUs is one
// machine (the collector keeps devices apart), and enrolment happens before
// a device is chosen.
std::string FingerprintText(const v1::Host& host, std::string_view machine_id);

// Hex SHA-256 of FingerprintText with this machine's /etc/machine-id.
std::string MachineFingerprint(const v1::Host& host);

}  // namespace localbench::agent

#endif  // LOCALBENCH_AGENT_PROBE_H_
