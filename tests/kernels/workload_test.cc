// Workloads on tiny presets: the plan equals the arena buffer by buffer,
// training learns and is bit-reproducible, plans of real presets add up.
#include <cmath>
#include <string>
#include <tuple>
#include <vector>

#include <gtest/gtest.h>

#include "localbench/kernels/cpu_backend.h"
#include "localbench/kernels/plan.h"
#include "localbench/kernels/workload.h"
#include "tiny_config.h"
#include "workload_testing.h"

namespace localbench::kernels {
namespace {

using test::TinyConfig;

using PlanCase = std::tuple<WorkloadKind, std::string, DType>;
class PlanEqualsArena : public ::testing::TestWithParam<PlanCase> {};

TEST_P(PlanEqualsArena, BufferByBuffer) {
  const auto& [kind, preset, precision] = GetParam();
  const WorkloadConfig config = TinyConfig(kind, preset, precision, 3);
  CpuBackend backend;
  absl::StatusOr<std::unique_ptr<Workload>> w = Workload::Create(backend, config);
  ASSERT_TRUE(w.ok()) << w.status();
  ASSERT_TRUE((*w)->Step().ok());
  ASSERT_TRUE((*w)->Step().ok());
  absl::StatusOr<MemoryPlan> plan = PlanMemory(config);
  ASSERT_TRUE(plan.ok());
  const Arena& arena = (*w)->arena();
  EXPECT_EQ(arena.high_water_bytes(), plan->total_bytes);
  EXPECT_EQ(arena.capacity_bytes(), plan->total_bytes);
  ASSERT_EQ(arena.records().size(), plan->buffers.size());
  for (std::size_t i = 0; i < plan->buffers.size(); ++i) {
    EXPECT_EQ(arena.records()[i].name, plan->buffers[i].name) << i;
    EXPECT_EQ(arena.records()[i].bytes, plan->buffers[i].bytes) << plan->buffers[i].name;
  }
  EXPECT_EQ(backend.cpu_device().allocated_bytes(), plan->total_bytes);
  if (kind == WorkloadKind::kTrainLora || kind == WorkloadKind::kTrainFull) {
    ASSERT_TRUE((*w)->last_loss().has_value());
    EXPECT_TRUE(std::isfinite(*(*w)->last_loss()));
  } else {
    // Inference produced real logits, and not all the same.
    absl::StatusOr<Tensor> logits = testing::NamedBuffer(**w, "logits");
    ASSERT_TRUE(logits.ok());
    std::vector<float> v(static_cast<std::size_t>(logits->numel()));
    ASSERT_TRUE(backend.device().CopyDeviceToHost(v.data(), logits->data, logits->bytes()).ok());
    float lo = v[0], hi = v[0];
    for (float x : v) {
      ASSERT_TRUE(std::isfinite(x));
      lo = std::min(lo, x);
      hi = std::max(hi, x);
    }
    EXPECT_GT(hi - lo, 0.1f);
  }
}

INSTANTIATE_TEST_SUITE_P(
    AllWorkloads, PlanEqualsArena,
    ::testing::Combine(::testing::Values(WorkloadKind::kPrefill, WorkloadKind::kDecode, WorkloadKind::kTrainLora,
                                         WorkloadKind::kTrainFull),
                       ::testing::Values("tiny-llama", "tiny-qwen"),
                       ::testing::Values(DType::kF32, DType::kBF16, DType::kF16)),
    [](const auto& param_info) {
      std::string name = std::string(WorkloadKindName(std::get<0>(param_info.param))) + "_" + std::get<1>(param_info.param) +
                         "_" + std::string(DTypeName(std::get<2>(param_info.param)));
      for (char& ch : name)
        if (ch == '-' || ch == '.') ch = '_';
      return name;
    });

std::vector<double> TrainLosses(WorkloadKind kind, DType precision, int steps, int threads) {
  CpuDeviceOptions options;
  options.threads = threads;
  CpuBackend backend(options);
  auto w = Workload::Create(backend, TinyConfig(kind, "tiny-llama", precision, 2));
  EXPECT_TRUE(w.ok()) << w.status();
  std::vector<double> losses;
  for (int i = 0; i < steps; ++i) {
    EXPECT_TRUE((*w)->Step().ok());
    losses.push_back(*(*w)->last_loss());
  }
  return losses;
}

TEST(Training, LoraLossFallsAndRunsAreBitIdentical) {
  const std::vector<double> a = TrainLosses(WorkloadKind::kTrainLora, DType::kBF16, 10, 2);
  const std::vector<double> b = TrainLosses(WorkloadKind::kTrainLora, DType::kBF16, 10, 2);
  ASSERT_EQ(a.size(), 10u);
  EXPECT_LT(a.back(), a.front() - 0.05) << "first " << a.front() << " last " << a.back();
  for (std::size_t i = 0; i < a.size(); ++i) EXPECT_EQ(a[i], b[i]) << "step " << i;  // bit-identical
}

TEST(Training, LoraIsIndependentOfThreadCount) {
  // Static partitioning with no cross-thread reductions: one thread and two
  // threads give the same bits.
  EXPECT_EQ(TrainLosses(WorkloadKind::kTrainLora, DType::kF32, 3, 1),
            TrainLosses(WorkloadKind::kTrainLora, DType::kF32, 3, 2));
}

TEST(Training, FullFineTuneLossFalls) {
  const std::vector<double> a = TrainLosses(WorkloadKind::kTrainFull, DType::kF32, 8, 2);
  EXPECT_LT(a.back(), a.front() - 0.05) << "first " << a.front() << " last " << a.back();
}

TEST(Plan, RealPresetsAddUp) {
  for (const ModelPreset& preset : AllPresets()) {
    WorkloadConfig c;
    c.kind = WorkloadKind::kDecode;
    c.preset = preset;
    c.precision = DType::kBF16;
    c.batch = 4;
    c.prompt_tokens = 512;
    c.generated_tokens = 128;
    absl::StatusOr<MemoryPlan> plan = PlanMemory(c);
    ASSERT_TRUE(plan.ok()) << preset.name << ": " << plan.status();
    std::uint64_t weights = 0, kv = 0;
    for (const PlannedBuffer& b : plan->buffers) {
      if (b.category == BufferCategory::kWeights) weights += b.bytes;
      if (b.category == BufferCategory::kKvCache) kv += b.bytes;
    }
    EXPECT_EQ(weights, static_cast<std::uint64_t>(preset.ParameterCount()) * 2) << preset.name;
    EXPECT_EQ(kv, static_cast<std::uint64_t>(2 * preset.layers * 4 * 640 * preset.kv_dim() * 2)) << preset.name;
  }
  // Llama 3.2 1B has about 1.24 billion parameters.
  EXPECT_NEAR(static_cast<double>(FindPreset("llama-3.2-1b")->ParameterCount()), 1.236e9, 0.01e9);
  EXPECT_NEAR(static_cast<double>(FindPreset("llama-3.1-8b")->ParameterCount()), 8.03e9, 0.01e9);
}

TEST(Plan, MaxBatchForBudgetBracketsTheBudget) {
  WorkloadConfig c = TinyConfig(WorkloadKind::kTrainLora, "llama-3.1-8b", DType::kBF16, 1);
  c.sequence_tokens = 512;
  const std::uint64_t budget = std::uint64_t{24} << 30;
  absl::StatusOr<std::int64_t> max = MaxBatchForBudget(c, budget);
  ASSERT_TRUE(max.ok());
  ASSERT_GE(*max, 1);
  c.batch = *max;
  EXPECT_LE(PlanMemory(c)->total_bytes, budget);
  c.batch = *max + 1;
  EXPECT_GT(PlanMemory(c)->total_bytes, budget);
  EXPECT_EQ(*MaxBatchForBudget(c, 1000), 0);
  EXPECT_EQ(*MaxBatchForBudget(c, budget, 1), 1);
}

TEST(Plan, InvalidConfigsAreRejected) {
  WorkloadConfig c = TinyConfig(WorkloadKind::kDecode, "tiny-llama", DType::kBF16, 1);
  c.generated_tokens = 0;
  EXPECT_EQ(PlanMemory(c).status().code(), absl::StatusCode::kInvalidArgument);
  c = TinyConfig(WorkloadKind::kPrefill, "tiny-llama", DType::kBF16, 0);
  EXPECT_EQ(PlanMemory(c).status().code(), absl::StatusCode::kInvalidArgument);
  c = TinyConfig(WorkloadKind::kTrainFull, "tiny-llama", DType::kBF16, 1);
  c.lora_rank = 8;
  EXPECT_EQ(PlanMemory(c).status().code(), absl::StatusCode::kInvalidArgument);
  c = TinyConfig(WorkloadKind::kPrefill, "tiny-llama", DType::kBF16, 1);
  c.preset.kv_heads = 3;  // 4 heads are not a multiple of 3
  EXPECT_EQ(PlanMemory(c).status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(FindPreset("gpt-5").status().code(), absl::StatusCode::kNotFound);
  // Sizes whose buffers would overflow 64 bits are refused, not wrapped.
  c = TinyConfig(WorkloadKind::kPrefill, "tiny-llama", DType::kBF16, 1);
  c.preset.vocab = std::int64_t{1} << 40;
  EXPECT_EQ(PlanMemory(c).status().code(), absl::StatusCode::kInvalidArgument);
  c = TinyConfig(WorkloadKind::kPrefill, "tiny-llama", DType::kBF16, 1 << 20);
  c.prompt_tokens = 1 << 20;
  EXPECT_EQ(PlanMemory(c).status().code(), absl::StatusCode::kInvalidArgument);
  // ... and the batch search stops at that bound instead of failing.
  c.batch = 1;
  c.prompt_tokens = 4096;
  absl::StatusOr<std::int64_t> max = MaxBatchForBudget(c, ~std::uint64_t{0});
  ASSERT_TRUE(max.ok()) << max.status();
  EXPECT_EQ(*max, (1 << 24) / 4096);
}

// Prefill's logits for the last prompt position do not depend on the batch
// the prompt shares a step with: rows are independent.
TEST(Workload, PrefillRowsAreIndependentOfBatch) {
  CpuBackend backend;
  auto one = Workload::Create(backend, TinyConfig(WorkloadKind::kPrefill, "tiny-qwen", DType::kF32, 1));
  auto three = Workload::Create(backend, TinyConfig(WorkloadKind::kPrefill, "tiny-qwen", DType::kF32, 3));
  ASSERT_TRUE(one.ok() && three.ok());
  ASSERT_TRUE((*one)->Step().ok());
  ASSERT_TRUE((*three)->Step().ok());
  // Both draw their prompts from the same seeded stream: sequence 0 is the same.
  const Tensor l1 = *testing::NamedBuffer(**one, "logits");
  const Tensor l3 = *testing::NamedBuffer(**three, "logits");
  std::vector<float> a(static_cast<std::size_t>(l1.numel())), b(static_cast<std::size_t>(l3.numel()));
  ASSERT_TRUE(backend.device().CopyDeviceToHost(a.data(), l1.data, l1.bytes()).ok());
  ASSERT_TRUE(backend.device().CopyDeviceToHost(b.data(), l3.data, l3.bytes()).ok());
  for (std::size_t i = 0; i < a.size(); ++i) EXPECT_NEAR(a[i], b[i], 1e-4f * std::max(1.0f, std::fabs(a[i])));
}

TEST(Workload, TokensPerStep) {
  CpuBackend backend;
  auto decode = Workload::Create(backend, TinyConfig(WorkloadKind::kDecode, "tiny-qwen", DType::kBF16, 3));
  ASSERT_TRUE(decode.ok());
  EXPECT_EQ((*decode)->tokens_per_step(), 3 * 3);
  EXPECT_FALSE((*decode)->last_loss().has_value());
  auto prefill = Workload::Create(backend, TinyConfig(WorkloadKind::kPrefill, "tiny-qwen", DType::kBF16, 2));
  ASSERT_TRUE(prefill.ok());
  EXPECT_EQ((*prefill)->tokens_per_step(), 2 * 7);
}

}  // namespace
}  // namespace localbench::kernels
