// The PCIe link from sysfs: a fake sysfs tree stands in for a GPU's.
#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>

#include "localbench/kernels/pcie.h"

namespace localbench::kernels {
namespace {

TEST(Pcie, GenerationFromTheLinkSpeed) {
  EXPECT_EQ(PcieGenerationOfSpeed("2.5 GT/s PCIe"), 1u);
  EXPECT_EQ(PcieGenerationOfSpeed("8.0 GT/s PCIe"), 3u);
  EXPECT_EQ(PcieGenerationOfSpeed("16.0 GT/s PCIe"), 4u);
  EXPECT_EQ(PcieGenerationOfSpeed("32.0 GT/s PCIe"), 5u);
  EXPECT_EQ(PcieGenerationOfSpeed("Unknown"), 0u);
  EXPECT_EQ(PcieGenerationOfSpeed(""), 0u);
}

TEST(Pcie, ReadsCurrentAndMaximumFromSysfs) {
  char tmpl[] = "/tmp/lbpcie-XXXXXX";
  ASSERT_NE(mkdtemp(tmpl), nullptr);
  const std::filesystem::path root(tmpl);
  const std::filesystem::path dev = root / "0000:65:00.0";
  std::filesystem::create_directories(dev);
  auto put = [&](const char* name, const char* text) { std::ofstream(dev / name) << text << "\n"; };
  put("current_link_speed", "2.5 GT/s PCIe");  // an idle card drops to gen 1
  put("max_link_speed", "16.0 GT/s PCIe");
  put("current_link_width", "16");
  put("max_link_width", "16");
  // CUDA's 8-digit domain and upper case find the same directory.
  const PcieLink link = ReadPcieLink("00000000:65:00.0", root.string());
  EXPECT_EQ(link.generation_current, 1u);
  EXPECT_EQ(link.generation_max, 4u);
  EXPECT_EQ(link.width_current, 16u);
  EXPECT_EQ(link.width_max, 16u);
  // Unknown device or no address: every field unknown (0), no error.
  const PcieLink none = ReadPcieLink("0000:ff:1f.7", root.string());
  EXPECT_EQ(none.generation_current + none.generation_max + none.width_current + none.width_max, 0u);
  EXPECT_EQ(ReadPcieLink("", root.string()).width_max, 0u);
  std::filesystem::remove_all(root);
}

}  // namespace
}  // namespace localbench::kernels
