// The sweep's OOM bracket, proven on a memory-limited CPU device.
#include <gtest/gtest.h>

#include "localbench/kernels/cpu_backend.h"
#include "localbench/kernels/plan.h"
#include "localbench/kernels/sweep.h"

namespace localbench::kernels {
namespace {

WorkloadConfig LoraConfig() {
  WorkloadConfig c;
  c.kind = WorkloadKind::kTrainLora;
  c.preset = *FindPreset("tiny-llama");
  c.precision = DType::kBF16;
  c.sequence_tokens = 8;
  c.lora_rank = 2;
  return c;
}

std::uint64_t PlanBytes(WorkloadConfig c, std::int64_t batch) {
  c.batch = batch;
  return PlanMemory(c)->total_bytes;
}

TEST(Sweep, OomBracketIsProvenOnTheDevice) {
  const WorkloadConfig base = LoraConfig();
  // Room for batch 5 but not 6: the plan predicts 5, the device must agree.
  const std::uint64_t limit = (PlanBytes(base, 5) + PlanBytes(base, 6)) / 2;
  CpuDeviceOptions options;
  options.memory_limit_bytes = limit;
  CpuBackend backend(options);
  SweepOptions sweep;
  sweep.warmup_steps = 1;
  sweep.repetitions = 2;
  int started = 0, steps = 0, finished = 0;
  absl::StatusOr<SweepResult> result = RunSweep(backend, base, sweep, [&](const SweepEvent& e) {
    if (e.kind == SweepEvent::Kind::kPointStarted) ++started;
    if (e.kind == SweepEvent::Kind::kStepFinished) ++steps;
    if (e.kind == SweepEvent::Kind::kPointFinished) ++finished;
  });
  ASSERT_TRUE(result.ok()) << result.status();
  EXPECT_EQ(result->planned_max_batch, 5);
  EXPECT_EQ(result->largest_ok_batch, 5);
  EXPECT_EQ(result->smallest_failed_batch, 6);
  // 1, 2, 4 on the ladder, 8 skipped by the plan, then 5 runs and 6 fails.
  std::vector<std::int64_t> batches;
  for (const SweepPoint& p : result->points) batches.push_back(p.batch_size);
  EXPECT_EQ(batches, (std::vector<std::int64_t>{1, 2, 4, 5, 6, 8}));
  for (const SweepPoint& p : result->points) {
    SCOPED_TRACE(p.batch_size);
    if (p.batch_size <= 5) {
      EXPECT_EQ(p.status, PointStatus::kOk) << p.error_message;
      EXPECT_EQ(p.repetitions, 2);
      EXPECT_EQ(p.arena_peak_bytes, p.planned_bytes);
      EXPECT_EQ(p.device_delta_bytes, p.planned_bytes);
      // The third measurement: the device's own count of what this process
      // holds while the workload lives (NVML's role on a GPU).
      EXPECT_EQ(p.process_memory_bytes, p.planned_bytes);
      // A CPU has no clock or throttle source: unknown, not 0.
      EXPECT_FALSE(p.sm_clock_mhz.has_value());
      EXPECT_FALSE(p.throttle_reasons.has_value());
      EXPECT_GT(p.tokens_per_second_median, 0);
      EXPECT_LE(p.tokens_per_second_min, p.tokens_per_second_median);
      EXPECT_GE(p.tokens_per_second_max, p.tokens_per_second_median);
      EXPECT_LE(p.step_seconds_min, p.step_seconds_mean);
    } else if (p.batch_size == 6) {
      EXPECT_EQ(p.status, PointStatus::kOom);
      EXPECT_NE(p.error_message.find("out of memory"), std::string::npos) << p.error_message;
      // Never sampled: absent, not 0.
      EXPECT_FALSE(p.process_memory_bytes.has_value());
      EXPECT_FALSE(p.device_delta_bytes.has_value());
    } else {
      EXPECT_EQ(p.status, PointStatus::kSkippedWontFit);
    }
  }
  EXPECT_EQ(started, 5);             // 1, 2, 4, 5, 6
  EXPECT_EQ(finished, 5);
  EXPECT_EQ(steps, 4 * 3);           // four runnable points x (1 warm-up + 2 timed)
  EXPECT_EQ(backend.cpu_device().allocated_bytes(), 0u);  // every point released its arena
}

// A budget that disagrees with the device (as when other processes hold
// memory, or a driver reserves some): the sweep walks until the bracket is
// real instead of trusting the plan.
TEST(Sweep, WalksDownWhenThePlanIsOptimistic) {
  const WorkloadConfig base = LoraConfig();
  CpuDeviceOptions options;
  options.memory_limit_bytes = PlanBytes(base, 3) + 1024;
  CpuBackend backend(options);
  SweepOptions sweep;
  sweep.repetitions = 1;
  sweep.warmup_steps = 0;
  sweep.memory_budget_bytes = PlanBytes(base, 5) + 1024;  // claims room for 5
  absl::StatusOr<SweepResult> result = RunSweep(backend, base, sweep);
  ASSERT_TRUE(result.ok()) << result.status();
  EXPECT_EQ(result->planned_max_batch, 5);
  EXPECT_EQ(result->largest_ok_batch, 3);
  EXPECT_EQ(result->smallest_failed_batch, 4);
}

TEST(Sweep, WalksUpWhenThePlanIsPessimistic) {
  const WorkloadConfig base = LoraConfig();
  CpuDeviceOptions options;
  options.memory_limit_bytes = PlanBytes(base, 4) + 1024;
  CpuBackend backend(options);
  SweepOptions sweep;
  sweep.repetitions = 1;
  sweep.warmup_steps = 0;
  sweep.memory_budget_bytes = PlanBytes(base, 2) + 1024;  // claims room for 2 only
  absl::StatusOr<SweepResult> result = RunSweep(backend, base, sweep);
  ASSERT_TRUE(result.ok()) << result.status();
  EXPECT_EQ(result->planned_max_batch, 2);
  EXPECT_EQ(result->largest_ok_batch, 4);
  EXPECT_EQ(result->smallest_failed_batch, 5);
  for (const SweepPoint& p : result->points) {
    if (p.batch_size <= 4) {
      EXPECT_EQ(p.status, PointStatus::kOk) << p.batch_size;
    }
  }
}

TEST(Sweep, CapStopsBeforeTheBracket) {
  CpuBackend backend;
  SweepOptions sweep;
  sweep.repetitions = 1;
  sweep.warmup_steps = 0;
  sweep.max_batch = 2;
  absl::StatusOr<SweepResult> result = RunSweep(backend, LoraConfig(), sweep);
  ASSERT_TRUE(result.ok());
  EXPECT_EQ(result->largest_ok_batch, 2);
  EXPECT_EQ(result->smallest_failed_batch, 0);
  EXPECT_EQ(result->points.size(), 2u);
}

TEST(Sweep, NothingFits) {
  CpuDeviceOptions options;
  options.memory_limit_bytes = 4096;
  CpuBackend backend(options);
  absl::StatusOr<SweepResult> result = RunSweep(backend, LoraConfig(), SweepOptions{});
  ASSERT_TRUE(result.ok());
  EXPECT_EQ(result->planned_max_batch, 0);
  EXPECT_EQ(result->largest_ok_batch, 0);
  ASSERT_FALSE(result->points.empty());
  EXPECT_EQ(result->points[0].status, PointStatus::kSkippedWontFit);
}

TEST(Sweep, SequenceSweepMovesTheThreshold) {
  const WorkloadConfig base = LoraConfig();
  WorkloadConfig longer = base;
  longer.sequence_tokens = 16;
  // A budget where sequences of 8 fit batch 3 and longer ones fit less.
  CpuDeviceOptions options;
  options.memory_limit_bytes = PlanBytes(base, 3) + 1024;
  CpuBackend backend(options);
  SweepOptions sweep;
  sweep.repetitions = 1;
  sweep.warmup_steps = 0;
  absl::StatusOr<std::vector<SweepResult>> results = RunSequenceSweep(backend, base, {8, 16}, sweep);
  ASSERT_TRUE(results.ok()) << results.status();
  ASSERT_EQ(results->size(), 2u);
  EXPECT_EQ((*results)[0].workload.sequence_tokens, 8);
  EXPECT_EQ((*results)[1].workload.sequence_tokens, 16);
  EXPECT_EQ((*results)[0].largest_ok_batch, 3);
  EXPECT_EQ((*results)[0].smallest_failed_batch, 4);
  EXPECT_LT((*results)[1].largest_ok_batch, 3);
  EXPECT_EQ((*results)[1].smallest_failed_batch, (*results)[1].largest_ok_batch + 1);
  EXPECT_LE(PlanBytes(longer, (*results)[1].largest_ok_batch), options.memory_limit_bytes);
}

TEST(Sweep, RejectsBadOptions) {
  CpuBackend backend;
  SweepOptions sweep;
  sweep.repetitions = 0;
  EXPECT_EQ(RunSweep(backend, LoraConfig(), sweep).status().code(), absl::StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace localbench::kernels
