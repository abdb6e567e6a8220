#include "localbench/kernels/pcie.h"

#include <cctype>
#include <cstdlib>
#include <fstream>

namespace localbench::kernels {
namespace {

std::string FirstLine(const std::string& path) {
  std::ifstream in(path);
  std::string line;
  std::getline(in, line);
  return line;
}

std::uint32_t Number(const std::string& text) {
  char* end = nullptr;
  const unsigned long v = std::strtoul(text.c_str(), &end, 10);
  return end != text.c_str() && v <= 64 ? static_cast<std::uint32_t>(v) : 0;
}

}  // namespace

std::uint32_t PcieGenerationOfSpeed(const std::string& speed) {
  // Transfer rate per lane of each generation (PCIe 1.0 .. 6.0).
  const double gts = std::strtod(speed.c_str(), nullptr);
  static constexpr double kRates[] = {2.5, 5.0, 8.0, 16.0, 32.0, 64.0};
  for (std::uint32_t g = 0; g < 6; ++g) {
    if (gts > kRates[g] * 0.9 && gts < kRates[g] * 1.1) return g + 1;
  }
  return 0;
}

PcieLink ReadPcieLink(const std::string& bus_id, const std::string& sysfs_root) {
  PcieLink link;
  if (bus_id.empty()) return link;
  std::string id = bus_id;
  for (char& c : id) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  // CUDA writes an 8-digit domain ("00000000:65:00.0"); sysfs uses four.
  if (id.size() == 16 && id.compare(0, 4, "0000") == 0) id = id.substr(4);
  const std::string dir = sysfs_root + "/" + id + "/";
  link.generation_current = PcieGenerationOfSpeed(FirstLine(dir + "current_link_speed"));
  link.generation_max = PcieGenerationOfSpeed(FirstLine(dir + "max_link_speed"));
  link.width_current = Number(FirstLine(dir + "current_link_width"));
  link.width_max = Number(FirstLine(dir + "max_link_width"));
  return link;
}

}  // namespace localbench::kernels
