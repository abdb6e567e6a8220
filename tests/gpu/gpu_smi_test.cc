// The management-library layer (NVML / rocm-smi through dlopen): absent or
// unknown devices are reported, never fatal; throttle masks decode. Runs
// everywhere (no GPU needed).
#include <string>

#include <gtest/gtest.h>

#include "smi.h"

namespace localbench::kernels::gpu {
namespace {

TEST(GpuSmi, ThrottleReasonsDecode) {
  EXPECT_EQ(DecodeNvmlThrottleReasons(0), "none");
  EXPECT_EQ(DecodeNvmlThrottleReasons(0x4 | 0x40), "sw_power_cap,hw_thermal");
  EXPECT_EQ(DecodeNvmlThrottleReasons(0x1 | 0x10000), "gpu_idle,other:0x10000");
}

TEST(GpuSmi, UnknownDeviceOrMissingLibraryIsGraceful) {
  // Either the library is missing (no driver) or it does not know this
  // address: both give no handle and a reason, never a crash.
  std::string why;
  EXPECT_EQ(OpenNvml("0000:ff:1f.7", &why), nullptr);
  EXPECT_FALSE(why.empty());
  why.clear();
  EXPECT_EQ(OpenRocmSmi(0xffff, 0xff, 0x1f, &why), nullptr);
  EXPECT_FALSE(why.empty());
}

}  // namespace
}  // namespace localbench::kernels::gpu
