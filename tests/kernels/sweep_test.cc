// The sweep's OOM bracket, proven on a memory-limited CPU device.
#include <gtest/gtest.h>

#include <atomic>

#include "localbench/kernels/cpu_backend.h"
#include "localbench/kernels/memory_sampler.h"
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
  EXPECT_TRUE(result->threshold_proven);
  // 1, 2, 4 on the ladder (8 is past the plan), then 5 runs and 6 fails.
  std::vector<std::int64_t> batches;
  for (const SweepPoint& p : result->points) batches.push_back(p.batch_size);
  EXPECT_EQ(batches, (std::vector<std::int64_t>{1, 2, 4, 5, 6}));
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
  EXPECT_TRUE(result->threshold_proven);
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
  EXPECT_FALSE(result->threshold_proven);  // the cap, not the device, ended it
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

WorkloadConfig TinyDecode() {
  WorkloadConfig c;
  c.kind = WorkloadKind::kDecode;
  c.preset = *FindPreset("tiny-llama");
  c.precision = DType::kBF16;
  c.prompt_tokens = 4;
  c.generated_tokens = 1;
  return c;
}

// A GPU suite used to stop at batch 64 and never reach the decode threshold.
// Now the sweep doubles past 64 and, where the plan is wrong (a device that
// holds less than the budget claims), bisects down to the real bracket.
TEST(Sweep, ContinuesPast64AndBisectsToTheBracket) {
  const WorkloadConfig base = TinyDecode();
  CpuDeviceOptions options;
  options.memory_limit_bytes = (PlanBytes(base, 100) + PlanBytes(base, 101)) / 2;
  options.threads = 1;
  CpuBackend backend(options);
  SweepOptions sweep;
  sweep.repetitions = 1;
  sweep.warmup_steps = 0;
  // The plan is told of room for ~1.5x what the device has: batch 128 on
  // the ladder fails, and bisection between 64 and 128 finds 100/101.
  sweep.memory_budget_bytes = PlanBytes(base, 150);
  std::vector<std::int64_t> order;
  absl::StatusOr<SweepResult> result = RunSweep(backend, base, sweep, [&](const SweepEvent& e) {
    if (e.kind == SweepEvent::Kind::kPointStarted) order.push_back(e.batch_size);
  });
  ASSERT_TRUE(result.ok()) << result.status();
  EXPECT_GE(result->planned_max_batch, 128);
  EXPECT_EQ(result->largest_ok_batch, 100);
  EXPECT_EQ(result->smallest_failed_batch, 101);
  EXPECT_TRUE(result->threshold_proven);
  // Doubling through 64 to the first failure, then halving the gap: no
  // batch runs twice, and no walk one by one.
  EXPECT_EQ(order, (std::vector<std::int64_t>{1, 2, 4, 8, 16, 32, 64, 128, 96, 112, 104, 100, 102, 101}));
}

// A plan that is exact (the CPU arena) and no cap: the ladder passes 64 and
// the bracket is proven at the plan's figure.
TEST(Sweep, ContinuesPast64WithAnExactPlan) {
  const WorkloadConfig base = TinyDecode();
  CpuDeviceOptions options;
  options.memory_limit_bytes = (PlanBytes(base, 77) + PlanBytes(base, 78)) / 2;
  options.threads = 1;
  CpuBackend backend(options);
  SweepOptions sweep;
  sweep.repetitions = 1;
  sweep.warmup_steps = 0;
  absl::StatusOr<SweepResult> result = RunSweep(backend, base, sweep);
  ASSERT_TRUE(result.ok()) << result.status();
  EXPECT_EQ(result->planned_max_batch, 77);
  EXPECT_EQ(result->largest_ok_batch, 77);
  EXPECT_EQ(result->smallest_failed_batch, 78);
  EXPECT_TRUE(result->threshold_proven);
}

// The time budget: a point expected to end past the deadline is not started,
// it is recorded as skipped for time (not a failure), the sweep ends there
// and its threshold is only planned.
TEST(Sweep, TimeBudgetSkipsPointsAndLeavesThePlannedThreshold) {
  const WorkloadConfig base = LoraConfig();
  CpuDeviceOptions options;
  options.memory_limit_bytes = (PlanBytes(base, 5) + PlanBytes(base, 6)) / 2;
  CpuBackend backend(options);
  // A fake clock: each point "takes" 10 s per sequence, as the estimate says.
  auto t = SweepOptions::Clock::time_point{};
  SweepOptions sweep;
  sweep.repetitions = 1;
  sweep.warmup_steps = 0;
  sweep.now = [&] { return t; };
  sweep.deadline = t + std::chrono::seconds(35);
  sweep.estimate_point_seconds = [](std::int64_t batch) { return 10.0 * static_cast<double>(batch); };
  absl::StatusOr<SweepResult> result = RunSweep(backend, base, sweep, [&](const SweepEvent& e) {
    if (e.kind == SweepEvent::Kind::kPointStarted) t += std::chrono::seconds(10 * e.batch_size);
  });
  ASSERT_TRUE(result.ok()) << result.status();
  // Batch 1 ends at 10 s, batch 2 at 30 s; batch 4 would end at 70 s.
  ASSERT_EQ(result->points.size(), 3u);
  EXPECT_EQ(result->points[0].status, PointStatus::kOk);
  EXPECT_EQ(result->points[1].status, PointStatus::kOk);
  EXPECT_EQ(result->points[2].batch_size, 4);
  EXPECT_EQ(result->points[2].status, PointStatus::kSkippedForTime);
  EXPECT_NE(result->points[2].error_message.find("time budget"), std::string::npos);
  EXPECT_EQ(result->points[2].repetitions, 0);
  EXPECT_EQ(result->largest_ok_batch, 2);
  EXPECT_EQ(result->smallest_failed_batch, 0);  // a skip bounds nothing
  EXPECT_FALSE(result->threshold_proven);
  EXPECT_EQ(result->planned_max_batch, 5);      // what the threshold is then
}

// The process's peak while the steps ran: on the CPU the resident set,
// which must hold at least the weights the workload filled, and the runtime's
// share (the resident set before the workload existed) beside it.
TEST(Sweep, ProcessPeakIsTheResidentSetDuringTheSteps) {
  WorkloadConfig base = TinyDecode();
  // A tiny model with a wide vocabulary: ~130 MB of bf16 embeddings, far
  // above the resident set's noise, filled in well under a second.
  base.preset.name = "tiny-wide-vocab";
  base.preset.vocab = 32000;
  base.preset.hidden = 1024;
  base.preset.intermediate = 1024;
  base.preset.heads = 16;
  base.preset.kv_heads = 8;
  base.preset.head_dim = 64;
  base.preset.tied_embeddings = false;
  CpuDeviceOptions options;
  options.threads = 1;
  CpuBackend backend(options);
  SweepOptions sweep;
  sweep.repetitions = 1;
  sweep.warmup_steps = 0;
  sweep.batches = {1};
  absl::StatusOr<SweepResult> result = RunSweep(backend, base, sweep);
  ASSERT_TRUE(result.ok()) << result.status();
  ASSERT_EQ(result->points.size(), 1u);
  const SweepPoint& p = result->points[0];
  ASSERT_EQ(p.status, PointStatus::kOk) << p.error_message;
  WorkloadConfig one = base;
  one.batch = 1;
  const std::uint64_t weights = PlanMemory(one)->CategoryBytes(BufferCategory::kWeights);
  ASSERT_TRUE(p.process_peak_bytes.has_value());
  ASSERT_TRUE(p.runtime_memory_bytes.has_value());
  EXPECT_GT(*p.runtime_memory_bytes, 0u);
  EXPECT_GE(*p.process_peak_bytes, *p.runtime_memory_bytes + weights);
  // Freed at once: the pages went back to the OS with the arena.
  std::optional<std::uint64_t> after = ProcessResidentBytes();
  ASSERT_TRUE(after.has_value());
  EXPECT_LT(*after, *p.runtime_memory_bytes + weights / 2);
}

TEST(PeakSampler, KeepsTheLargestReading) {
  std::atomic<int> calls{0};
  PeakSampler sampler(
      [&]() -> std::optional<std::uint64_t> {
        const int n = calls.fetch_add(1);
        if (n == 0) return std::nullopt;  // a source that could not tell once
        return n == 1 ? 500u : 100u;
      },
      std::chrono::microseconds(100));
  const std::optional<std::uint64_t> peak = sampler.Stop();
  ASSERT_TRUE(peak.has_value());
  EXPECT_EQ(*peak, 500u);  // a first reading, then at least the final one
  EXPECT_GE(sampler.samples(), 2);
  EXPECT_EQ(sampler.Stop(), peak);  // idempotent
}

TEST(PeakSampler, AbsentWhenTheSourceNeverTells) {
  PeakSampler sampler([] { return std::optional<std::uint64_t>(); }, std::chrono::microseconds(100));
  EXPECT_FALSE(sampler.Stop().has_value());
}

TEST(Sweep, RejectsBadOptions) {
  CpuBackend backend;
  SweepOptions sweep;
  sweep.repetitions = 0;
  EXPECT_EQ(RunSweep(backend, LoraConfig(), sweep).status().code(), absl::StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace localbench::kernels
