// System-management readings for a GPU, from the vendor's management
// library loaded at run time: NVML (libnvidia-ml.so.1) on NVIDIA, rocm-smi
// (librocm_smi64.so) on AMD. Neither library is needed to build or to run:
// when it is missing, or the driver refuses, every reading is absent and the
// benchmark says so instead of failing. Plain C++ (no GPU compiler needed).
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>

namespace localbench::kernels::gpu {

// One reading. Each field is absent when the library could not tell.
struct SmiSample {
  // Device memory this process uses, as the driver accounts it (includes the
  // runtime's context, not only our allocations).
  std::optional<std::uint64_t> process_used_bytes;
  // Current shader (SM) clock in MHz.
  std::optional<std::uint32_t> sm_clock_mhz;
  // Vendor bit mask of active clock throttle reasons (NVML only) and its
  // decoding, e.g. "sw_power_cap,hw_thermal"; "none" when nothing throttles.
  std::optional<std::uint64_t> throttle_mask;
  std::string throttle_reasons;
  // The other processes holding memory on this GPU (NVML's compute and
  // graphics lists, this process left out): how many and their sum. Absent
  // where the lists are not available (rocm-smi here, or no permission).
  std::optional<std::uint32_t> other_process_count;
  std::optional<std::uint64_t> other_process_bytes;
};

// An open handle on one GPU in the management library.
class Smi {
 public:
  virtual ~Smi() = default;
  // Reads the current values; never fails (absent fields instead).
  virtual SmiSample Sample() = 0;
  // "nvml" or "rocm-smi": where the readings come from.
  virtual std::string Source() const = 0;
};

// Opens NVML for the GPU at `pci_bus_id` (as cudaDeviceGetPCIBusId writes
// it, e.g. "0000:65:00.0"). Returns null with `why` set when NVML is absent
// or does not know the device.
std::unique_ptr<Smi> OpenNvml(const std::string& pci_bus_id, std::string* why);

// Opens rocm-smi for the GPU at PCI domain/bus/device (hipDeviceProp_t's
// pciDomainID, pciBusID, pciDeviceID). Null with `why` set when absent.
std::unique_ptr<Smi> OpenRocmSmi(std::uint32_t pci_domain, std::uint32_t pci_bus, std::uint32_t pci_device,
                                 std::string* why);

// The NVIDIA driver's version string (e.g. "580.65.06") from NVML; empty
// when NVML is unavailable.
std::string NvmlDriverVersion();

// Decodes an NVML throttle-reason mask into comma-separated names ("none"
// for 0). Exposed for tests.
std::string DecodeNvmlThrottleReasons(std::uint64_t mask);

}  // namespace localbench::kernels::gpu
