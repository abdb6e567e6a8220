#include "localbench/agent/probe.h"

#include <sys/utsname.h>
#include <unistd.h>

#include <charconv>
#include <set>
#include <sstream>
#include <utility>

#include "localbench/agent/outbox.h"
#include "localbench/common/crypto.h"

namespace localbench::agent {
namespace {

std::string_view Trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t' || s.back() == '\r')) s.remove_suffix(1);
  return s;
}

// Splits "key : value" lines; calls f(key, value) for each.
template <typename F>
void ForEachKeyValue(std::string_view text, char sep, F&& f) {
  std::size_t pos = 0;
  while (pos <= text.size()) {
    auto end = text.find('\n', pos);
    if (end == std::string_view::npos) end = text.size();
    const auto line = text.substr(pos, end - pos);
    const auto colon = line.find(sep);
    if (colon != std::string_view::npos) f(Trim(line.substr(0, colon)), Trim(line.substr(colon + 1)));
    else f(Trim(line), std::string_view());
    pos = end + 1;
  }
}

std::string Unquote(std::string_view v) {
  if (v.size() >= 2 && (v.front() == '"' || v.front() == '\'') && v.back() == v.front()) {
    v = v.substr(1, v.size() - 2);
  }
  return std::string(v);
}

std::string ReadOrEmpty(const char* path) {
  auto text = ReadFile(path);
  return text.ok() ? *text : std::string();
}

constexpr std::uint64_t kGiB = 1024ull * 1024 * 1024;

}  // namespace

CpuInfo ParseCpuInfo(std::string_view cpuinfo) {
  CpuInfo info;
  std::set<std::pair<std::string, std::string>> cores;
  std::string physical_id, core_id;
  std::string fallback_model;
  auto flush = [&] {
    if (!core_id.empty()) cores.emplace(physical_id, core_id);
    physical_id.clear();
    core_id.clear();
  };
  ForEachKeyValue(cpuinfo, ':', [&](std::string_view key, std::string_view value) {
    if (key.empty()) {
      flush();  // a blank line ends one processor's block
    } else if (key == "processor") {
      ++info.logical_cores;
    } else if (key == "model name" && info.model.empty()) {
      info.model = value;
    } else if ((key == "Hardware" || key == "Processor" || key == "cpu model") && fallback_model.empty()) {
      fallback_model = value;
    } else if (key == "physical id") {
      physical_id = value;
    } else if (key == "core id") {
      core_id = value;
    }
  });
  flush();
  if (info.model.empty()) info.model = fallback_model;
  info.physical_cores = static_cast<std::uint32_t>(cores.size());
  // Virtual machines often hide the topology: then assume no SMT.
  if (info.physical_cores == 0) info.physical_cores = info.logical_cores;
  return info;
}

std::uint64_t ParseMemTotalBytes(std::string_view meminfo) {
  std::uint64_t bytes = 0;
  ForEachKeyValue(meminfo, ':', [&](std::string_view key, std::string_view value) {
    if (key != "MemTotal") return;
    std::uint64_t kib = 0;
    auto [ptr, ec] = std::from_chars(value.data(), value.data() + value.size(), kib);
    if (ec == std::errc()) bytes = kib * 1024;  // /proc/meminfo's "kB" is KiB
  });
  return bytes;
}

std::string ParseOsName(std::string_view os_release) {
  std::string pretty, name, version;
  ForEachKeyValue(os_release, '=', [&](std::string_view key, std::string_view value) {
    if (key == "PRETTY_NAME") pretty = Unquote(value);
    else if (key == "NAME") name = Unquote(value);
    else if (key == "VERSION") version = Unquote(value);
  });
  if (!pretty.empty()) return pretty;
  if (!version.empty()) return name + " " + version;
  return name;
}

v1::Host ProbeHost() {
  v1::Host host;
  const auto cpu = ParseCpuInfo(ReadOrEmpty("/proc/cpuinfo"));
  host.set_cpu_model(cpu.model);
  host.set_cpu_physical_cores(cpu.physical_cores);
  const long online = ::sysconf(_SC_NPROCESSORS_ONLN);
  host.set_cpu_logical_cores(online > 0 ? static_cast<std::uint32_t>(online) : cpu.logical_cores);
  if (host.cpu_physical_cores() == 0 || host.cpu_physical_cores() > host.cpu_logical_cores()) {
    host.set_cpu_physical_cores(host.cpu_logical_cores());
  }
  host.set_ram_total_bytes(ParseMemTotalBytes(ReadOrEmpty("/proc/meminfo")));
  if (host.ram_total_bytes() == 0) {
    const long pages = ::sysconf(_SC_PHYS_PAGES), page = ::sysconf(_SC_PAGESIZE);
    if (pages > 0 && page > 0) host.set_ram_total_bytes(static_cast<std::uint64_t>(pages) * static_cast<std::uint64_t>(page));
  }
  host.set_os_name(ParseOsName(ReadOrEmpty("/etc/os-release")));
  struct utsname uts {};
  if (::uname(&uts) == 0) host.set_os_kernel(uts.release);
  return host;
}

std::string FingerprintText(const v1::Host& host, std::string_view machine_id) {
  std::ostringstream out;
  // Rounded to GiB: the kernel's MemTotal moves by a few MiB across
  // updates, the hardware does not.
  out << "localbench-fingerprint-v1\n"
      << "cpu_model=" << host.cpu_model() << "\n"
      << "cpu_physical_cores=" << host.cpu_physical_cores() << "\n"
      << "cpu_logical_cores=" << host.cpu_logical_cores() << "\n"
      << "ram_gib=" << (host.ram_total_bytes() + kGiB / 2) / kGiB << "\n"
      // The machine id is itself a unique identifier: only its hash goes in.
      << "machine_id_sha256=" << (machine_id.empty() ? std::string() : Sha256Hex(Trim(machine_id))) << "\n";
  return out.str();
}

std::string MachineFingerprint(const v1::Host& host) {
  std::string machine_id = ReadOrEmpty("/etc/machine-id");
  if (machine_id.empty()) machine_id = ReadOrEmpty("/var/lib/dbus/machine-id");
  return Sha256Hex(FingerprintText(host, machine_id));
}

}  // namespace localbench::agent
