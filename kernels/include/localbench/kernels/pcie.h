// The PCIe link of a device from Linux sysfs (works for NVIDIA and AMD
// alike): generation and lane width, now and at most. A GPU that idles
// drops its link to gen 1, so "current" is read while the run holds it.
#pragma once

#include <cstdint>
#include <string>

namespace localbench::kernels {

// 0 = unknown, for each field.
struct PcieLink {
  std::uint32_t generation_current = 0;
  std::uint32_t generation_max = 0;
  std::uint32_t width_current = 0;
  std::uint32_t width_max = 0;
};

// Reads <sysfs_root>/<bus_id>/{current,max}_link_{speed,width}; `bus_id` as
// the runtime writes it ("0000:65:00.0", any case). Unknown fields stay 0.
PcieLink ReadPcieLink(const std::string& bus_id, const std::string& sysfs_root = "/sys/bus/pci/devices");

// The generation of a sysfs link speed ("16.0 GT/s PCIe" -> 4); 0 unknown.
std::uint32_t PcieGenerationOfSpeed(const std::string& speed);

}  // namespace localbench::kernels
