// The second pass of the agent (issue 14): the CPU suite's memory budget
// follows the machine, the time budget reserves batch 1 of prefill and decode
// and records what it cuts as skipped for time, thresholds are marked proven
// or planned, and the GPU suite's estimate on a 24 GB card.
#include <gtest/gtest.h>

#include <cstdio>

#include "localbench/agent/estimate.h"
#include "localbench/agent/runner.h"
#include "localbench/agent/suite.h"
#include "localbench/kernels/plan.h"
#include "localbench/test_support/tiny_bracket.h"

namespace localbench::agent {
namespace {

constexpr std::uint64_t kGiB = 1024ull * 1024 * 1024;

TEST(AgentBudget, CpuMemoryFollowsTheMachineWithAMargin) {
  const Suite cpu = CpuSuite();
  EXPECT_EQ(cpu.cpu_memory_limit_bytes, 0u);  // the rule, not a fixed figure
  // 10% of what is available, but at least 1 GiB, stays with the OS.
  EXPECT_EQ(CpuMemoryBudget(cpu, 20 * kGiB), 18 * kGiB);
  EXPECT_EQ(CpuMemoryBudget(cpu, 4 * kGiB), 3 * kGiB);
  // Nearly nothing free: a small budget (presets won't fit), never a wrap.
  EXPECT_EQ(CpuMemoryBudget(cpu, kGiB / 2), 64ull << 20);
  // --memory-limit (a fixed limit) wins over the rule.
  Suite fixed = cpu;
  fixed.cpu_memory_limit_bytes = 2 * kGiB;
  EXPECT_EQ(CpuMemoryBudget(fixed, 20 * kGiB), 2 * kGiB);
}

TEST(AgentBudget, CanonicalTextCoversTheRule) {
  const Suite cpu = CpuSuite2027();
  EXPECT_EQ(cpu.version, "2027.01-cpu");
  EXPECT_NE(cpu.CanonicalText().find("cpu_memory_rule=MemAvailable minus max(0.1 x MemAvailable, 1073741824"),
            std::string::npos)
      << cpu.CanonicalText();
  EXPECT_NE(cpu.CanonicalText().find("time_budget_rule=default 600 s"), std::string::npos);
  // The scheduling rule the runner enforces is stated (and so hashed).
  EXPECT_NE(cpu.CanonicalText().find("batch 1 of prefill and decode reserved per preset, largest presets give way"),
            std::string::npos);
  Suite other = cpu;
  other.cpu_memory_margin_fraction = 0.2;
  EXPECT_NE(other.Hash(), cpu.Hash());
  other = cpu;
  other.time_budget_seconds = 300;
  EXPECT_NE(other.Hash(), cpu.Hash());
  // Both standard suites sweep without a batch cap now.
  EXPECT_EQ(cpu.max_batch, 0u);
  EXPECT_EQ(GpuSuite().max_batch, 0u);
}

// Rates of a slow CPU: 20 GFLOP/s, 4 GB/s, creation at 1 GB/s.
DeviceRates SlowCpu() {
  DeviceRates r;
  r.flops_per_second = 20e9;
  r.bytes_per_second = 4e9;
  r.fill_bytes_per_second = 1e9;
  r.point_overhead_seconds = 0.02;
  return r;
}

// Suite 2027.01's quantized block (issue 15): Q4_0 and Q8_0 decode of every
// CPU preset, run with quantized projections and bf16 for the rest; the
// 4-bit Llama 3.1 8B plans well under its bf16 size.
TEST(AgentBudget, QuantizedDecodeItemsPlanQuantizedWeights) {
  const Suite cpu = CpuSuite2027();
  int q4 = 0, q8 = 0;
  for (const SuiteItem& item : Expand(cpu)) {
    if (item.shape.precision == v1::PRECISION_Q4_0) ++q4;
    if (item.shape.precision == v1::PRECISION_Q8_0) ++q8;
    if (item.preset != "llama-3.1-8b" || item.shape.kind != v1::WORKLOAD_KIND_DECODE) continue;
    auto config = ConfigOf(item);
    ASSERT_TRUE(config.ok()) << config.status();
    auto plan = kernels::PlanMemory(*config);
    ASSERT_TRUE(plan.ok()) << plan.status();
    const std::uint64_t weights = plan->CategoryBytes(kernels::BufferCategory::kWeights);
    if (item.shape.precision == v1::PRECISION_Q4_0) {
      ASSERT_TRUE(config->weight_format.has_value());
      EXPECT_EQ(*config->weight_format, kernels::QuantFormat::kQ4_0);
      EXPECT_EQ(config->precision, kernels::DType::kBF16);
      EXPECT_GT(weights, 5'000'000'000u);  // bf16 embeddings (1.05 GB) + 4.5 bits per weight
      EXPECT_LT(weights, 5'700'000'000u);
    }
    if (item.shape.precision == v1::PRECISION_BF16) {
      EXPECT_GT(weights, 16'000'000'000u);
    }
  }
  EXPECT_EQ(q4, 4);  // one per CPU preset
  EXPECT_EQ(q8, 4);
}

TEST(AgentBudget, ReservesBatchOneAndTheLargestPresetGivesWay) {
  const Suite cpu = CpuSuite2027();
  auto e = EstimateSuite(cpu, 20 * kGiB, SlowCpu(), 600);
  ASSERT_TRUE(e.ok()) << e.status();
  ASSERT_EQ(e->sweeps.size(), 20u);  // 4 presets x prefill, decode, LoRA, decode q4_0 and q8_0
  for (const auto& s : e->sweeps) {
    SCOPED_TRACE(s.item.preset + " " + std::string(WorkloadName(s.item.shape.kind)));
    ASSERT_GT(s.planned_max_batch, 0);  // all of them fit 18 GiB at batch 1
    if (!s.essential) continue;
    if (s.item.preset == "llama-3.1-8b") continue;
    // Every smaller preset's prefill and decode get batch 1 at least.
    EXPECT_FALSE(s.skipped_for_time);
    EXPECT_GE(s.points_in_budget, 1);
  }
  EXPECT_LE(e->total_seconds, 600);
  EXPECT_GT(e->unbounded_seconds, 600);  // the budget does cut
  EXPECT_GT(e->points_skipped_for_time, 0);
  // A budget too small for the 8B's batch-1 prefill: the 8B gives way first.
  auto tight = EstimateSuite(cpu, 20 * kGiB, SlowCpu(), 120);
  ASSERT_TRUE(tight.ok());
  bool eight_skipped = false, one_b_kept = false;
  for (const auto& s : tight->sweeps) {
    if (s.item.preset == "llama-3.1-8b" && s.essential) eight_skipped |= s.skipped_for_time;
    if (s.item.preset == "llama-3.2-1b" && s.essential) one_b_kept |= !s.skipped_for_time && s.points_in_budget >= 1;
  }
  EXPECT_TRUE(eight_skipped);
  EXPECT_TRUE(one_b_kept);
  const std::string text = DescribeEstimate(*tight);
  EXPECT_NE(text.find("llama-3.1-8b prefill: skipped for time"), std::string::npos) << text;
}

// The first pass in the estimate: batch-1 points in preset order, and the
// ones late in the budget say how much slower than calibrated the machine
// may run before they give way (a shared machine's honest warning).
TEST(AgentBudget, EstimateRunsBatchOneFirstAndWarnsWhereItIsLate) {
  const Suite cpu = CpuSuite();
  auto unbounded = EstimateSuite(cpu, 20 * kGiB, SlowCpu(), 1e9);
  ASSERT_TRUE(unbounded.ok());
  double reserved = 0;
  for (const auto& s : unbounded->sweeps) {
    EXPECT_EQ(s.batch_one_first, s.essential);
    if (s.batch_one_first) {
      EXPECT_GT(s.batch_one_end_seconds, reserved);  // in suite order
      reserved = s.batch_one_end_seconds;
    }
  }
  // A budget 10% above the reservations: every batch 1 is in, the last one
  // late, and no extra batch runs before any batch 1.
  auto e = EstimateSuite(cpu, 20 * kGiB, SlowCpu(), reserved * 1.1);
  ASSERT_TRUE(e.ok());
  const std::string text = DescribeEstimate(*e);
  EXPECT_NE(text.find("llama-3.1-8b decode: batch 1 only if the run is at most 10% slower than calibrated"),
            std::string::npos)
      << text;
  EXPECT_EQ(text.find("qwen2.5-0.5b prefill: batch 1 only if"), std::string::npos) << text;
  for (const auto& s : e->sweeps) {
    if (s.essential) {
      EXPECT_FALSE(s.skipped_for_time);
    }
  }
  EXPECT_LE(e->total_seconds, reserved * 1.1);
}

// A run whose budget cannot hold the 8B's batch 1: that sweep is recorded as
// SKIPPED_FOR_TIME (not a failure, not attempted) with its threshold planned,
// while the tiny preset runs; a cap leaves its threshold planned too, and a
// bracket the device showed is marked proven.
TEST(AgentBudget, SkippedForTimeAndPlannedVersusProvenInTheSubmission) {
  auto backends = FindBackends(64 * kGiB);  // a counter, not an allocation
  auto cpu = SelectBackend(backends, "cpu");
  ASSERT_TRUE(cpu.ok()) << cpu.status();
  Suite suite = CpuSuite();
  suite.presets = {"tiny-llama", "llama-3.1-8b"};
  suite.templates = {{v1::WORKLOAD_KIND_PREFILL, v1::PRECISION_BF16, 16, 0, 0, 0, {}}};
  suite.max_batch = 4;
  suite.repetitions = 1;
  std::FILE* sink = std::tmpfile();
  Progress progress(sink, false);
  RunBudget budget;
  budget.seconds = 20;
  budget.rates = SlowCpu();  // 8B prefill of 16 tokens: ~32 s create + 2 x 13 s steps
  budget.rates->fill_bytes_per_second = 0.5e9;
  auto run = RunSuite(**cpu, suite, progress, {}, budget);
  std::fclose(sink);
  ASSERT_TRUE(run.ok()) << run.status();
  const v1::Submission& s = run->submission;
  EXPECT_DOUBLE_EQ(s.time_budget_seconds(), 20);
  EXPECT_GT(s.estimated_seconds(), 0);
  EXPECT_LE(s.estimated_seconds(), 20);
  ASSERT_EQ(s.sweeps_size(), 2);
  const v1::Sweep& tiny = s.sweeps(0);
  EXPECT_EQ(tiny.largest_ok_batch(), 4u);
  EXPECT_EQ(tiny.oom_threshold_source(), v1::OOM_THRESHOLD_SOURCE_PLANNED);  // the cap stopped it
  for (const auto& p : tiny.points()) EXPECT_EQ(p.status(), v1::POINT_STATUS_OK);
  const v1::Sweep& big = s.sweeps(1);
  ASSERT_EQ(big.points_size(), 1);
  EXPECT_EQ(big.points(0).status(), v1::POINT_STATUS_SKIPPED_FOR_TIME);
  EXPECT_EQ(big.points(0).batch_size(), 1u);
  EXPECT_EQ(big.points(0).repetitions(), 0u);  // not attempted
  EXPECT_NE(big.points(0).error_message().find("time budget"), std::string::npos);
  EXPECT_GT(big.planned_max_batch(), 0u);
  EXPECT_EQ(big.oom_threshold_source(), v1::OOM_THRESHOLD_SOURCE_PLANNED);
  EXPECT_EQ(big.largest_ok_batch(), 0u);

  // Without the cap and with a limit at the bracket (6, 7): proven.
  auto limited = FindBackends(test_support::LimitForBracketAtSix());
  auto small = SelectBackend(limited, "cpu");
  ASSERT_TRUE(small.ok());
  suite.presets = {"tiny-llama"};
  suite.templates = {{v1::WORKLOAD_KIND_PREFILL, v1::PRECISION_FP32, 16, 0, 0, 0, {}}};
  suite.max_batch = 0;
  std::FILE* sink2 = std::tmpfile();
  Progress progress2(sink2, false);
  auto proven = RunSuite(**small, suite, progress2, {}, budget);
  std::fclose(sink2);
  ASSERT_TRUE(proven.ok()) << proven.status();
  const v1::Sweep& sw = proven->submission.sweeps(0);
  EXPECT_EQ(sw.largest_ok_batch(), 6u);
  EXPECT_EQ(sw.smallest_failed_batch(), 7u);
  EXPECT_EQ(sw.oom_threshold_source(), v1::OOM_THRESHOLD_SOURCE_PROVEN);
  for (const auto& p : sw.points()) {
    if (p.status() != v1::POINT_STATUS_OK) continue;
    EXPECT_TRUE(p.has_process_peak_bytes());
    EXPECT_TRUE(p.has_runtime_memory_bytes());
  }
}

// The scheduling rule: batch 1 of prefill and decode of every preset runs
// first, preset by preset, and only then do sweeps go further, so a small
// preset's sweep that could eat the whole budget (no cap, memory for batches
// in the hundreds of thousands) cannot squeeze out a later preset's batch 1.
// Only extra batches are recorded as skipped for time.
TEST(AgentBudget, BatchOneOfEveryPresetRunsBeforeAnyExtraBatch) {
  auto backends = FindBackends(64 * kGiB);  // a counter, not an allocation
  auto cpu = SelectBackend(backends, "cpu");
  ASSERT_TRUE(cpu.ok()) << cpu.status();
  Suite suite = CpuSuite();
  suite.presets = {"tiny-llama", "tiny-qwen"};
  suite.templates = {{v1::WORKLOAD_KIND_PREFILL, v1::PRECISION_FP32, 8, 0, 0, 0, {}},
                     {v1::WORKLOAD_KIND_DECODE, v1::PRECISION_FP32, 8, 2, 0, 0, {}}};
  suite.repetitions = 1;
  RunBudget budget;
  budget.seconds = 2;  // the first sweep alone would double for much longer
  budget.rates = SlowCpu();
  std::vector<v1::Submission> checkpoints;
  std::FILE* sink = std::tmpfile();
  Progress progress(sink, false);
  auto run = RunSuite(
      **cpu, suite, progress,
      [&](const v1::Submission& partial) {
        checkpoints.push_back(partial);
        return absl::OkStatus();
      },
      budget);
  std::fclose(sink);
  ASSERT_TRUE(run.ok()) << run.status();
  ASSERT_TRUE(run->stopped.ok()) << run->stopped;

  // The first checkpoint comes after the first pass: every sweep has its
  // batch 1 measured and nothing else yet, its threshold only planned.
  ASSERT_FALSE(checkpoints.empty());
  const v1::Submission& first = checkpoints.front();
  ASSERT_EQ(first.sweeps_size(), 4);
  for (const auto& sweep : first.sweeps()) {
    SCOPED_TRACE(sweep.workload().model_preset() + " " + std::string(WorkloadName(sweep.workload().kind())));
    ASSERT_EQ(sweep.points_size(), 1);
    EXPECT_EQ(sweep.points(0).batch_size(), 1u);
    EXPECT_EQ(sweep.points(0).status(), v1::POINT_STATUS_OK) << sweep.points(0).error_message();
    EXPECT_EQ(sweep.oom_threshold_source(), v1::OOM_THRESHOLD_SOURCE_PLANNED);
  }

  const v1::Submission& s = run->submission;
  ASSERT_EQ(s.sweeps_size(), 4);
  int skipped = 0;
  for (int i = 0; i < s.sweeps_size(); ++i) {
    const v1::Sweep& sweep = s.sweeps(i);
    SCOPED_TRACE(sweep.workload().model_preset() + " " + std::string(WorkloadName(sweep.workload().kind())));
    ASSERT_GE(sweep.points_size(), 1);
    EXPECT_EQ(sweep.points(0).batch_size(), 1u);
    EXPECT_EQ(sweep.points(0).status(), v1::POINT_STATUS_OK);
    // The sweep reused its first-pass point rather than running batch 1 again.
    EXPECT_EQ(sweep.points(0).step_seconds_median(), first.sweeps(i).points(0).step_seconds_median());
    for (const auto& p : sweep.points()) {
      if (p.status() != v1::POINT_STATUS_SKIPPED_FOR_TIME) continue;
      ++skipped;
      EXPECT_GT(p.batch_size(), 1u);  // only extra batches give way
      EXPECT_EQ(p.repetitions(), 0u);
    }
    EXPECT_EQ(sweep.oom_threshold_source(), v1::OOM_THRESHOLD_SOURCE_PLANNED);
  }
  // The budget did cut: the doubling sweep of the first preset went past
  // batch 1 and stopped for time, not at a bracket.
  EXPECT_GT(skipped, 0);
  EXPECT_GT(s.sweeps(0).largest_ok_batch(), 1u);
  EXPECT_EQ(s.sweeps(0).smallest_failed_batch(), 0u);
}

// A batch 1 the estimate gave up still runs when the presets before it left
// the time: here the estimate assumes one second per point, so the second
// preset's reservation does not fit 1.5 s, but the first preset's batch 1
// takes milliseconds and the second's then fits at the measured pace.
TEST(AgentBudget, BatchOneTheEstimateGaveUpRunsWhenTimeIsLeft) {
  auto backends = FindBackends(64 * kGiB);  // a counter, not an allocation
  auto cpu = SelectBackend(backends, "cpu");
  ASSERT_TRUE(cpu.ok()) << cpu.status();
  Suite suite = CpuSuite();
  suite.presets = {"tiny-llama", "tiny-qwen"};
  suite.templates = {{v1::WORKLOAD_KIND_PREFILL, v1::PRECISION_FP32, 8, 0, 0, 0, {}}};
  suite.repetitions = 1;
  suite.max_batch = 4;  // the extras stay short
  RunBudget budget;
  budget.seconds = 1.5;
  budget.rates = DeviceRates{1e15, 1e15, 1e15, 1.0};  // every point: about 1 s
  auto e = EstimateSuite(suite, 64 * kGiB, *budget.rates, budget.seconds);
  ASSERT_TRUE(e.ok());
  ASSERT_EQ(e->sweeps.size(), 2u);
  EXPECT_FALSE(e->sweeps[0].skipped_for_time);
  ASSERT_TRUE(e->sweeps[1].skipped_for_time);  // 2 x 1 s of reservations > 1.5 s
  EXPECT_NE(DescribeEstimate(*e).find("it still runs if the presets before it leave that long"), std::string::npos);

  std::FILE* sink = std::tmpfile();
  Progress progress(sink, false);
  auto run = RunSuite(**cpu, suite, progress, {}, budget);
  std::fclose(sink);
  ASSERT_TRUE(run.ok()) << run.status();
  const v1::Submission& s = run->submission;
  ASSERT_EQ(s.sweeps_size(), 2);
  const v1::Sweep& qwen = s.sweeps(1);
  EXPECT_EQ(qwen.workload().model_preset(), "tiny-qwen");
  ASSERT_GE(qwen.points_size(), 1);
  EXPECT_EQ(qwen.points(0).batch_size(), 1u);
  EXPECT_EQ(qwen.points(0).status(), v1::POINT_STATUS_OK) << qwen.points(0).error_message();
  EXPECT_GE(qwen.largest_ok_batch(), 1u);
}

// docs/BENCHMARKS.md: what the GPU suite costs on an RTX 4090-class card
// (24 GB, ~1 TB/s, ~165 dense bf16 TFLOP/s) at the efficiencies
// AssumedGpuRates states, every sweep to its bracket. Printed for the doc.
TEST(AgentBudget, GpuSuiteOnA4090ClassCardFitsTenMinutes) {
  const DeviceRates rates = AssumedGpuRates(165e12, 1.0e12);
  const std::uint64_t free_bytes = 23ull * kGiB;  // 24 GB less the context and display
  auto e = EstimateSuite(GpuSuite(), free_bytes, rates, 600);
  ASSERT_TRUE(e.ok()) << e.status();
  std::printf("| preset | workload | planned threshold | points | seconds |\n|---|---|---|---|---|\n");
  int bracketed = 0, fitting = 0;
  for (const auto& s : e->sweeps) {
    double seconds = 0;
    for (int k = 0; k < s.points_in_budget; ++k) seconds += s.point_seconds[static_cast<std::size_t>(k)];
    std::printf("| %s | %s | %lld | %d/%zu | %.1f |\n", s.item.preset.c_str(),
                std::string(WorkloadName(s.item.shape.kind)).c_str(), static_cast<long long>(s.planned_max_batch),
                s.points_in_budget, s.batches.size(), seconds);
    if (s.planned_max_batch > 0) ++fitting;
    if (s.planned_max_batch > 0 && s.points_in_budget == static_cast<int>(s.batches.size())) ++bracketed;
  }
  std::printf("total %.1f s of budget %.0f s; unbounded %.1f s; %d points\n", e->total_seconds, e->budget_seconds,
              e->unbounded_seconds, e->points);
  EXPECT_LE(e->total_seconds, 600);
  // Every sweep that fits reaches its bracket within the budget.
  EXPECT_EQ(bracketed, fitting);
  // Decode of Llama 3.2 1B goes far past the old cap of 64.
  for (const auto& s : e->sweeps) {
    if (s.item.preset == "llama-3.2-1b" && s.item.shape.kind == v1::WORKLOAD_KIND_DECODE) {
      EXPECT_GT(s.planned_max_batch, 64);
    }
  }
}

}  // namespace
}  // namespace localbench::agent
