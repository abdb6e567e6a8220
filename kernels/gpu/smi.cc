// NVML and rocm-smi through dlopen. The few entry points we call are
// declared here by hand (no nvml.h on build machines; the same for
// rocm_smi.h to keep both paths alike), with the ABI of the stable,
// versioned symbols: nvmlInit_v2, nvmlDeviceGetHandleByPciBusId_v2,
// nvmlDeviceGetComputeRunningProcesses_v3 (driver >= 510).
#include "smi.h"

#include <dlfcn.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <mutex>
#include <vector>

namespace localbench::kernels::gpu {
namespace {

// Resolves `name` in `lib` as a function of type Fn (null when missing).
template <typename Fn>
Fn Sym(void* lib, const char* name) {
  return reinterpret_cast<Fn>(dlsym(lib, name));
}

// ---- NVML -----------------------------------------------------------------
using nvmlReturn = int;  // nvmlReturn_t: 0 is NVML_SUCCESS
using nvmlDevice = void*;
constexpr nvmlReturn kNvmlSuccess = 0;
constexpr nvmlReturn kNvmlInsufficientSize = 7;
constexpr unsigned int kNvmlClockSm = 1;

// nvmlProcessInfo_v2_t, the element type of the _v3 process query.
struct NvmlProcessInfo {
  unsigned int pid;
  unsigned long long used_gpu_memory;
  unsigned int gpu_instance_id;
  unsigned int compute_instance_id;
};

struct NvmlApi {
  void* lib = nullptr;
  nvmlReturn (*init)() = nullptr;
  nvmlReturn (*by_pci)(const char*, nvmlDevice*) = nullptr;
  nvmlReturn (*processes)(nvmlDevice, unsigned int*, NvmlProcessInfo*) = nullptr;
  nvmlReturn (*graphics_processes)(nvmlDevice, unsigned int*, NvmlProcessInfo*) = nullptr;
  nvmlReturn (*clock)(nvmlDevice, unsigned int, unsigned int*) = nullptr;
  nvmlReturn (*throttle)(nvmlDevice, unsigned long long*) = nullptr;
  nvmlReturn (*driver_version)(char*, unsigned int) = nullptr;
  std::string error;
};

// Loads and initialises NVML once per process; NVML is reference counted
// and thread safe, and we never shut it down (the process exit does).
const NvmlApi& Nvml() {
  static NvmlApi api;
  static std::once_flag once;
  std::call_once(once, [] {
    api.lib = dlopen("libnvidia-ml.so.1", RTLD_NOW | RTLD_LOCAL);
    if (api.lib == nullptr) {
      api.error = "libnvidia-ml.so.1 not found";
      return;
    }
    api.init = Sym<nvmlReturn (*)()>(api.lib, "nvmlInit_v2");
    api.by_pci = Sym<nvmlReturn (*)(const char*, nvmlDevice*)>(api.lib, "nvmlDeviceGetHandleByPciBusId_v2");
    api.processes = Sym<nvmlReturn (*)(nvmlDevice, unsigned int*, NvmlProcessInfo*)>(
        api.lib, "nvmlDeviceGetComputeRunningProcesses_v3");
    api.graphics_processes = Sym<nvmlReturn (*)(nvmlDevice, unsigned int*, NvmlProcessInfo*)>(
        api.lib, "nvmlDeviceGetGraphicsRunningProcesses_v3");
    api.clock = Sym<nvmlReturn (*)(nvmlDevice, unsigned int, unsigned int*)>(api.lib, "nvmlDeviceGetClockInfo");
    api.throttle = Sym<nvmlReturn (*)(nvmlDevice, unsigned long long*)>(
        api.lib, "nvmlDeviceGetCurrentClocksEventReasons");
    api.driver_version = Sym<nvmlReturn (*)(char*, unsigned int)>(api.lib, "nvmlSystemGetDriverVersion");
    if (api.throttle == nullptr) {
      api.throttle = Sym<nvmlReturn (*)(nvmlDevice, unsigned long long*)>(
          api.lib, "nvmlDeviceGetCurrentClocksThrottleReasons");
    }
    if (api.init == nullptr || api.by_pci == nullptr) {
      api.error = "libnvidia-ml.so.1 lacks nvmlInit_v2 / nvmlDeviceGetHandleByPciBusId_v2";
      api.init = nullptr;
      return;
    }
    nvmlReturn r = api.init();
    if (r != kNvmlSuccess) {
      api.error = "nvmlInit_v2 failed with code " + std::to_string(r);
      api.init = nullptr;
    }
  });
  return api;
}

class NvmlSmi final : public Smi {
 public:
  explicit NvmlSmi(nvmlDevice dev) : dev_(dev) {}

  SmiSample Sample() override {
    const NvmlApi& api = Nvml();
    SmiSample s;
    // In a container NVML may report host PIDs; then ours is not found and
    // the reading stays absent rather than borrowing another's.
    const unsigned int self = static_cast<unsigned int>(getpid());
    std::vector<unsigned int> others;  // pids: a process may be in both lists
    std::uint64_t others_bytes = 0;
    bool listed = false;
    for (auto query : {api.processes, api.graphics_processes}) {
      std::vector<NvmlProcessInfo> procs;
      if (!List(query, &procs)) continue;
      listed = true;
      for (const NvmlProcessInfo& p : procs) {
        // ~0ull is NVML's "not available" (e.g. under some virtualisation).
        if (p.used_gpu_memory == ~0ull) continue;
        if (p.pid == self) {
          s.process_used_bytes = std::max<std::uint64_t>(s.process_used_bytes.value_or(0), p.used_gpu_memory);
        } else if (std::find(others.begin(), others.end(), p.pid) == others.end()) {
          others.push_back(p.pid);
          others_bytes += p.used_gpu_memory;
        }
      }
    }
    if (listed) {
      s.other_process_count = static_cast<std::uint32_t>(others.size());
      s.other_process_bytes = others_bytes;
    }
    unsigned int mhz = 0;
    if (api.clock != nullptr && api.clock(dev_, kNvmlClockSm, &mhz) == kNvmlSuccess) s.sm_clock_mhz = mhz;
    unsigned long long mask = 0;
    if (api.throttle != nullptr && api.throttle(dev_, &mask) == kNvmlSuccess) {
      s.throttle_mask = mask;
      s.throttle_reasons = DecodeNvmlThrottleReasons(mask);
    }
    return s;
  }
  std::string Source() const override { return "nvml"; }

 private:
  // One NVML process list, grown once when NVML says it is too short.
  bool List(nvmlReturn (*query)(nvmlDevice, unsigned int*, NvmlProcessInfo*), std::vector<NvmlProcessInfo>* out) {
    if (query == nullptr) return false;
    std::vector<NvmlProcessInfo> procs(16);
    unsigned int n = static_cast<unsigned int>(procs.size());
    nvmlReturn r = query(dev_, &n, procs.data());
    if (r == kNvmlInsufficientSize) {
      procs.resize(n + 8);
      n = static_cast<unsigned int>(procs.size());
      r = query(dev_, &n, procs.data());
    }
    if (r != kNvmlSuccess) return false;
    procs.resize(std::min<std::size_t>(n, procs.size()));
    *out = std::move(procs);
    return true;
  }

  nvmlDevice dev_;
};

// ---- rocm-smi -------------------------------------------------------------
using rsmiStatus = int;  // rsmi_status_t: 0 is RSMI_STATUS_SUCCESS
constexpr rsmiStatus kRsmiSuccess = 0;
constexpr int kRsmiClkTypeSys = 0;

// rsmi_process_info_t
struct RsmiProcessInfo {
  std::uint32_t process_id;
  std::uint32_t pasid;
  std::uint64_t vram_usage;
  std::uint64_t sdma_usage;
  std::uint32_t cu_occupancy;
};
// rsmi_frequencies_t
struct RsmiFrequencies {
  std::uint32_t num_supported;
  std::uint32_t current;
  std::uint64_t frequency[32];
};

struct RsmiApi {
  void* lib = nullptr;
  rsmiStatus (*num_devices)(std::uint32_t*) = nullptr;
  rsmiStatus (*pci_id)(std::uint32_t, std::uint64_t*) = nullptr;
  rsmiStatus (*proc_by_pid)(std::uint32_t, RsmiProcessInfo*) = nullptr;
  rsmiStatus (*clk)(std::uint32_t, int, RsmiFrequencies*) = nullptr;
  bool ok = false;
  std::string error;
};

const RsmiApi& Rsmi() {
  static RsmiApi api;
  static std::once_flag once;
  std::call_once(once, [] {
    api.lib = dlopen("librocm_smi64.so.1", RTLD_NOW | RTLD_LOCAL);
    if (api.lib == nullptr) api.lib = dlopen("librocm_smi64.so", RTLD_NOW | RTLD_LOCAL);
    if (api.lib == nullptr) {
      api.error = "librocm_smi64.so not found";
      return;
    }
    auto init = Sym<rsmiStatus (*)(std::uint64_t)>(api.lib, "rsmi_init");
    api.num_devices = Sym<rsmiStatus (*)(std::uint32_t*)>(api.lib, "rsmi_num_monitor_devices");
    api.pci_id = Sym<rsmiStatus (*)(std::uint32_t, std::uint64_t*)>(api.lib, "rsmi_dev_pci_id_get");
    api.proc_by_pid =
        Sym<rsmiStatus (*)(std::uint32_t, RsmiProcessInfo*)>(api.lib, "rsmi_compute_process_info_by_pid_get");
    api.clk = Sym<rsmiStatus (*)(std::uint32_t, int, RsmiFrequencies*)>(api.lib, "rsmi_dev_gpu_clk_freq_get");
    if (init == nullptr || api.num_devices == nullptr || api.pci_id == nullptr) {
      api.error = "librocm_smi64 lacks rsmi_init / rsmi_num_monitor_devices / rsmi_dev_pci_id_get";
      return;
    }
    rsmiStatus r = init(0);
    if (r != kRsmiSuccess) {
      api.error = "rsmi_init failed with code " + std::to_string(r);
      return;
    }
    api.ok = true;
  });
  return api;
}

class RocmSmi final : public Smi {
 public:
  explicit RocmSmi(std::uint32_t index) : index_(index) {}

  SmiSample Sample() override {
    const RsmiApi& api = Rsmi();
    SmiSample s;
    RsmiProcessInfo info{};
    if (api.proc_by_pid != nullptr &&
        api.proc_by_pid(static_cast<std::uint32_t>(getpid()), &info) == kRsmiSuccess) {
      s.process_used_bytes = info.vram_usage;
    }
    RsmiFrequencies f{};
    if (api.clk != nullptr && api.clk(index_, kRsmiClkTypeSys, &f) == kRsmiSuccess && f.current < f.num_supported &&
        f.current < 32) {
      s.sm_clock_mhz = static_cast<std::uint32_t>(f.frequency[f.current] / 1000000u);  // Hz -> MHz
    }
    return s;
  }
  std::string Source() const override { return "rocm-smi"; }

 private:
  std::uint32_t index_;
};

}  // namespace

std::string DecodeNvmlThrottleReasons(std::uint64_t mask) {
  // Bit values from NVML's documented nvmlClocksEventReason* constants.
  static constexpr struct {
    std::uint64_t bit;
    const char* name;
  } kReasons[] = {
      {0x1, "gpu_idle"},          {0x2, "applications_clocks"}, {0x4, "sw_power_cap"},
      {0x8, "hw_slowdown"},       {0x10, "sync_boost"},         {0x20, "sw_thermal"},
      {0x40, "hw_thermal"},       {0x80, "hw_power_brake"},     {0x100, "display_clocks"},
  };
  if (mask == 0) return "none";
  std::string out;
  std::uint64_t known = 0;
  for (const auto& r : kReasons) {
    known |= r.bit;
    if ((mask & r.bit) != 0) {
      if (!out.empty()) out += ',';
      out += r.name;
    }
  }
  if ((mask & ~known) != 0) {
    char buf[32];
    std::snprintf(buf, sizeof(buf), "0x%llx", static_cast<unsigned long long>(mask & ~known));
    if (!out.empty()) out += ',';
    out += "other:";
    out += buf;
  }
  return out;
}

std::string NvmlDriverVersion() {
  const NvmlApi& api = Nvml();
  if (api.init == nullptr || api.driver_version == nullptr) return "";
  char buf[96] = {};
  if (api.driver_version(buf, sizeof(buf)) != kNvmlSuccess) return "";
  return std::string(buf);
}

std::unique_ptr<Smi> OpenNvml(const std::string& pci_bus_id, std::string* why) {
  const NvmlApi& api = Nvml();
  if (api.init == nullptr) {
    *why = api.error;
    return nullptr;
  }
  nvmlDevice dev = nullptr;
  nvmlReturn r = api.by_pci(pci_bus_id.c_str(), &dev);
  if (r != kNvmlSuccess) {
    *why = "NVML does not know PCI device " + pci_bus_id + " (code " + std::to_string(r) + ")";
    return nullptr;
  }
  return std::make_unique<NvmlSmi>(dev);
}

std::unique_ptr<Smi> OpenRocmSmi(std::uint32_t pci_domain, std::uint32_t pci_bus, std::uint32_t pci_device,
                                 std::string* why) {
  const RsmiApi& api = Rsmi();
  if (!api.ok) {
    *why = api.error;
    return nullptr;
  }
  std::uint32_t n = 0;
  if (api.num_devices(&n) != kRsmiSuccess) {
    *why = "rsmi_num_monitor_devices failed";
    return nullptr;
  }
  // rocm-smi's BDF id: domain in bits 32+, bus in 15:8, device in 7:3.
  for (std::uint32_t i = 0; i < n; ++i) {
    std::uint64_t bdf = 0;
    if (api.pci_id(i, &bdf) != kRsmiSuccess) continue;
    const std::uint64_t dom = bdf >> 32, bus = (bdf >> 8) & 0xff, dev = (bdf >> 3) & 0x1f;
    if (dom == pci_domain && bus == pci_bus && dev == pci_device) return std::make_unique<RocmSmi>(i);
  }
  *why = "rocm-smi does not list the device's PCI address";
  return nullptr;
}

}  // namespace localbench::kernels::gpu
