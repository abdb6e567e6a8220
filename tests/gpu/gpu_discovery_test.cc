// Backend choice at run time. Runs everywhere: on a machine without a GPU a
// build with the GPU backends must find the CPU, report why no GPU was
// found, and not crash; on a GPU machine the GPU backends are listed.
#include <string>

#include <gtest/gtest.h>

#include "localbench/kernels/discover.h"
#include "localbench/kernels/gpu/gpu_backend.h"

namespace localbench::kernels {
namespace {

// How many backends are named `prefix`0, `prefix`1, ... in that order.
[[maybe_unused]] int CountNamed(const std::vector<std::unique_ptr<Backend>>& all, const std::string& prefix) {
  int n = 0;
  for (const auto& b : all) {
    if (b->name().rfind(prefix, 0) != 0) continue;
    EXPECT_EQ(b->name(), prefix + std::to_string(n)) << "out of order";
    ++n;
  }
  return n;
}

TEST(GpuDiscovery, CpuFirstThenEveryGpuWithoutCrashing) {
  DiscoverOptions options;
  options.cpu_threads = 1;
  std::vector<std::unique_ptr<Backend>> all = DiscoverBackends(options);
  ASSERT_FALSE(all.empty());
  EXPECT_EQ(all[0]->name(), "cpu");
  int gpus = 0;
#if LOCALBENCH_WITH_CUDA
  std::string why_cuda;
  const int n_cuda = cuda::DeviceCount(&why_cuda);
  // Discovery lists exactly the devices the runtime counts, as cuda:0..n-1.
  EXPECT_EQ(CountNamed(all, "cuda:"), n_cuda);
  if (n_cuda == 0) {
    EXPECT_FALSE(why_cuda.empty());
  }
  gpus += n_cuda;
#endif
#if LOCALBENCH_WITH_HIP
  std::string why_hip;
  const int n_hip = hip::DeviceCount(&why_hip);
  EXPECT_EQ(CountNamed(all, "hip:"), n_hip);
  if (n_hip == 0) {
    EXPECT_FALSE(why_hip.empty());
  }
  gpus += n_hip;
#endif
  EXPECT_EQ(static_cast<int>(all.size()), 1 + gpus);
  for (std::size_t i = 1; i < all.size(); ++i) {
    const std::string name = all[i]->name();
    EXPECT_TRUE(name.rfind("cuda:", 0) == 0 || name.rfind("hip:", 0) == 0) << name;
    EXPECT_NE(all[i]->device().kind(), DeviceKind::kCpu);
  }
  // GPUs only: the CPU is left out on request.
  options.include_cpu = false;
  EXPECT_EQ(static_cast<int>(DiscoverBackends(options).size()), gpus);
}

TEST(GpuDiscovery, MissingDeviceIsNotFound) {
#if LOCALBENCH_WITH_CUDA
  auto b = cuda::CreateBackend(1 << 20);
  ASSERT_FALSE(b.ok());
  EXPECT_TRUE(absl::IsNotFound(b.status())) << b.status();
#endif
#if LOCALBENCH_WITH_HIP
  auto h = hip::CreateBackend(-1);
  ASSERT_FALSE(h.ok());
  EXPECT_TRUE(absl::IsNotFound(h.status())) << h.status();
#endif
}

}  // namespace
}  // namespace localbench::kernels
