// Issue 14: the process's device-memory peak sampled on a background thread
// during the steps (NVML / rocm-smi) and the runtime's share before the
// workload exists. Needs a GPU and its management library; skips visibly
// otherwise.
#include <gtest/gtest.h>

#include "gpu_test_util.h"
#include "localbench/kernels/plan.h"
#include "localbench/kernels/sweep.h"

namespace localbench::kernels {
namespace {

TEST(GpuPeak, SampledPeakCoversTheArenaAndTheRuntime) {
  LB_GPU_OR_SKIP(gpu);
  if (!gpu->SampleTelemetry().process_memory_bytes) {
    GTEST_SKIP() << "the management library does not report this process's memory: "
                 << gpu->Telemetry().unavailable_reason;
  }
  WorkloadConfig c;
  c.kind = WorkloadKind::kDecode;
  c.preset = *FindPreset("qwen2.5-0.5b");
  c.precision = DType::kBF16;
  c.prompt_tokens = 64;
  c.generated_tokens = 8;
  SweepOptions options;
  options.batches = {4};
  options.repetitions = 2;
  options.sample_period = std::chrono::microseconds(1000);
  absl::StatusOr<SweepResult> r = RunSweep(*gpu, c, options);
  ASSERT_TRUE(r.ok()) << r.status();
  ASSERT_EQ(r->points.size(), 1u);
  const SweepPoint& p = r->points[0];
  ASSERT_EQ(p.status, PointStatus::kOk) << p.error_message;
  ASSERT_TRUE(p.process_peak_bytes.has_value());
  ASSERT_TRUE(p.runtime_memory_bytes.has_value());
  // The driver counts the context as well as our arena: the peak holds both,
  // and the runtime's share is what was there before the arena.
  EXPECT_GE(*p.process_peak_bytes, p.arena_peak_bytes);
  EXPECT_GE(*p.process_peak_bytes, *p.runtime_memory_bytes + p.arena_peak_bytes / 2);
  EXPECT_GT(*p.runtime_memory_bytes, 0u);
}

}  // namespace
}  // namespace localbench::kernels
