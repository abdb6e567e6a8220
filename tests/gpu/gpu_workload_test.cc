// Workloads on the GPU: the plan equals the arena's high-water mark for every
// workload, training losses and prefill/decode logits agree with the CPU
// reference, the decode step replays as a graph with the CPU's results,
// device memory is measured, and the OOM bracket is proven on real device
// memory. Skips visibly without a GPU.
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <string>
#include <tuple>
#include <vector>

#include <gtest/gtest.h>

#include "gpu_test_util.h"
#include "localbench/kernels/plan.h"
#include "localbench/kernels/sweep.h"
#include "localbench/kernels/workload.h"
#include "workload_testing.h"

namespace localbench::kernels::gpu_test {
namespace {

WorkloadConfig Config(WorkloadKind kind, const std::string& preset, DType precision, std::int64_t batch) {
  WorkloadConfig c;
  c.kind = kind;
  c.preset = *FindPreset(preset);
  c.precision = precision;
  c.batch = batch;
  switch (kind) {
    case WorkloadKind::kPrefill:
      c.prompt_tokens = 37;
      break;
    case WorkloadKind::kDecode:
      c.prompt_tokens = 19;
      c.generated_tokens = 5;
      break;
    case WorkloadKind::kTrainLora:
      c.sequence_tokens = 21;
      c.lora_rank = 4;
      break;
    case WorkloadKind::kTrainFull:
      c.sequence_tokens = 21;
      break;
  }
  c.seed = 11;
  return c;
}

using PlanCase = std::tuple<WorkloadKind, std::string, DType>;
class GpuPlanEqualsArena : public ::testing::TestWithParam<PlanCase> {};

TEST_P(GpuPlanEqualsArena, AndDeviceDeltaCoversIt) {
  LB_GPU_OR_SKIP(gpu);
  const auto& [kind, preset, precision] = GetParam();
  const WorkloadConfig config = Config(kind, preset, precision, 3);
  absl::StatusOr<MemoryInfo> before = gpu->device().GetMemoryInfo();
  ASSERT_TRUE(before.ok()) << before.status();
  absl::StatusOr<std::unique_ptr<Workload>> w = Workload::Create(*gpu, config);
  ASSERT_TRUE(w.ok()) << w.status();
  ASSERT_TRUE((*w)->Step().ok());
  ASSERT_TRUE((*w)->Step().ok());
  ASSERT_TRUE(gpu->device().Synchronize().ok());
  absl::StatusOr<MemoryInfo> after = gpu->device().GetMemoryInfo();
  ASSERT_TRUE(after.ok()) << after.status();
  absl::StatusOr<MemoryPlan> plan = PlanMemory(config);
  ASSERT_TRUE(plan.ok()) << plan.status();
  EXPECT_EQ((*w)->arena_high_water_bytes(), plan->total_bytes);
  EXPECT_EQ((*w)->arena().capacity_bytes(), plan->total_bytes);
  // The driver hands out whole pages: the delta is at least the arena.
  EXPECT_GE(before->free_bytes - after->free_bytes, plan->total_bytes);
  if (kind == WorkloadKind::kTrainLora || kind == WorkloadKind::kTrainFull) {
    ASSERT_TRUE((*w)->last_loss().has_value());
    EXPECT_TRUE(std::isfinite(*(*w)->last_loss()));
  }
}

INSTANTIATE_TEST_SUITE_P(
    AllWorkloads, GpuPlanEqualsArena,
    ::testing::Combine(::testing::Values(WorkloadKind::kPrefill, WorkloadKind::kDecode, WorkloadKind::kTrainLora,
                                         WorkloadKind::kTrainFull),
                       ::testing::Values("tiny-llama", "tiny-qwen"),
                       ::testing::Values(DType::kF32, DType::kBF16, DType::kF16)),
    [](const auto& param_info) {
      std::string name = std::string(WorkloadKindName(std::get<0>(param_info.param))) + "_" +
                         std::get<1>(param_info.param) + "_" + std::string(DTypeName(std::get<2>(param_info.param)));
      for (char& ch : name) {
        if (ch == '-' || ch == '.') ch = '_';
      }
      return name;
    });

// Same seeded weights and tokens on both backends: the losses of the first
// training steps agree to fp32 rounding.
TEST(GpuWorkload, TrainingLossesMatchCpu) {
  LB_GPU_OR_SKIP(gpu);
  for (WorkloadKind kind : {WorkloadKind::kTrainLora, WorkloadKind::kTrainFull}) {
    const WorkloadConfig config = Config(kind, "tiny-llama", DType::kF32, 2);
    auto wc = Workload::Create(SharedCpu(), config);
    auto wg = Workload::Create(*gpu, config);
    ASSERT_TRUE(wc.ok()) << wc.status();
    ASSERT_TRUE(wg.ok()) << wg.status();
    for (int step = 0; step < 3; ++step) {
      ASSERT_TRUE((*wc)->Step().ok());
      ASSERT_TRUE((*wg)->Step().ok());
      ASSERT_TRUE((*wc)->last_loss().has_value() && (*wg)->last_loss().has_value());
      const double lc = *(*wc)->last_loss(), lg = *(*wg)->last_loss();
      EXPECT_NEAR(lg, lc, 1e-3 * std::fabs(lc)) << WorkloadKindName(kind) << " step " << step;
    }
  }
}

// Training options (issue 13) on the GPU: the plan equals the arena, and
// every option together (accumulation, checkpointing, chunked loss, 16-bit
// activations) gives the CPU's losses; checkpointing on and off agree.
TEST(GpuWorkload, TrainingOptionsMatchCpuAndThePlan) {
  LB_GPU_OR_SKIP(gpu);
  for (WorkloadKind kind : {WorkloadKind::kTrainLora, WorkloadKind::kTrainFull}) {
    for (bool ckpt : {false, true}) {
      WorkloadConfig config = Config(kind, "tiny-qwen", DType::kBF16, 2);
      config.train.accumulation_steps = 2;
      config.train.gradient_checkpointing = ckpt;
      config.train.loss_chunks = 5;
      config.train.activations = DType::kBF16;
      SCOPED_TRACE(std::string(WorkloadKindName(kind)) + (ckpt ? " checkpointing" : ""));
      auto wc = Workload::Create(SharedCpu(), config);
      auto wg = Workload::Create(*gpu, config);
      ASSERT_TRUE(wc.ok()) << wc.status();
      ASSERT_TRUE(wg.ok()) << wg.status();
      for (int step = 0; step < 2; ++step) {
        ASSERT_TRUE((*wc)->Step().ok());
        ASSERT_TRUE((*wg)->Step().ok());
        const double lc = *(*wc)->last_loss(), lg = *(*wg)->last_loss();
        EXPECT_NEAR(lg, lc, 1e-2 * std::fabs(lc)) << "step " << step;
      }
      ASSERT_TRUE(gpu->device().Synchronize().ok());
      EXPECT_EQ((*wg)->arena_high_water_bytes(), PlanMemory(config)->total_bytes);
      EXPECT_EQ((*wg)->tokens_per_step(), 2 * 2 * 21);
    }
  }
}

// A workload buffer (by its plan name) copied to the host.
template <typename T>
std::vector<T> Fetch(Backend& backend, Workload& w, const std::string& name) {
  absl::StatusOr<Tensor> t = testing::NamedBuffer(w, name);
  EXPECT_TRUE(t.ok()) << name << ": " << t.status();
  if (!t.ok()) return {};
  std::vector<T> v(static_cast<std::size_t>(t->bytes() / sizeof(T)));
  EXPECT_TRUE(backend.device().CopyDeviceToHost(v.data(), t->data, v.size() * sizeof(T)).ok()) << name;
  return v;
}

// ||got - want|| / ||want||: the error measure for outputs that went through
// 16-bit storage and several layers (element-wise bounds would be guesses).
double RelativeError(const std::vector<float>& want, const std::vector<float>& got) {
  double diff = 0, norm = 0;
  for (std::size_t i = 0; i < want.size() && i < got.size(); ++i) {
    diff += (static_cast<double>(got[i]) - want[i]) * (static_cast<double>(got[i]) - want[i]);
    norm += static_cast<double>(want[i]) * want[i];
  }
  return std::sqrt(diff / std::max(norm, 1e-30));
}

// The decode step is pure device work, so it records into a graph that
// replays (the benchmark times it this way where the vendor supports graphs).
// The replays compute what the CPU computes: the same greedy tokens and the
// same logits after four steps (one eager, three replayed).
TEST(GpuWorkload, DecodeStepReplaysAsGraphAndMatchesCpu) {
  LB_GPU_OR_SKIP(gpu);
  const WorkloadConfig config = Config(WorkloadKind::kDecode, "tiny-qwen", DType::kF32, 2);
  auto w = Workload::Create(*gpu, config);
  ASSERT_TRUE(w.ok()) << w.status();
  ASSERT_TRUE((*w)->Step().ok());  // warm-up outside capture (cuBLASLt picks its algorithms)
  ASSERT_TRUE(gpu->device().Synchronize().ok());
  absl::StatusOr<std::unique_ptr<gpu::GpuGraph>> graph = gpu->Capture([&] { return (*w)->Step(); });
  ASSERT_TRUE(graph.ok()) << graph.status();
  for (int i = 0; i < 3; ++i) ASSERT_TRUE((*graph)->Launch().ok());
  ASSERT_TRUE(gpu->device().Synchronize().ok());

  auto ref = Workload::Create(SharedCpu(), config);
  ASSERT_TRUE(ref.ok()) << ref.status();
  for (int i = 0; i < 4; ++i) ASSERT_TRUE((*ref)->Step().ok());
  ASSERT_TRUE(SharedCpu().device().Synchronize().ok());
  const auto want_logits = Fetch<float>(SharedCpu(), **ref, "logits");
  ExpectClose(want_logits, Fetch<float>(*gpu, **w, "logits"), 1e-4, 1e-3, "decode logits after graph replays");
  // Each step's last greedy tokens feed the next: equal tokens mean all 4 x 5
  // generated tokens followed the CPU's path.
  EXPECT_EQ(Fetch<std::int32_t>(SharedCpu(), **ref, "token_ids"), Fetch<std::int32_t>(*gpu, **w, "token_ids"));
}

// Prefill and decode produce the CPU's logits (and decode its tokens) for
// every storage precision: fp32 element-wise; 16-bit by relative error, as
// the GPU rounds activations to the weight type for matrix cores.
using InferenceCase = std::tuple<WorkloadKind, std::string, DType>;
class GpuInferenceMatchesCpu : public ::testing::TestWithParam<InferenceCase> {};

TEST_P(GpuInferenceMatchesCpu, Logits) {
  LB_GPU_OR_SKIP(gpu);
  const auto& [kind, preset, precision] = GetParam();
  WorkloadConfig config = Config(kind, preset, precision, 3);
  // 16-bit decode: one token, so a near-tie argmax cannot send the GPU down
  // another path than the CPU (fp32 follows all five).
  if (kind == WorkloadKind::kDecode && precision != DType::kF32) config.generated_tokens = 1;
  auto g = Workload::Create(*gpu, config);
  auto c = Workload::Create(SharedCpu(), config);
  ASSERT_TRUE(g.ok()) << g.status();
  ASSERT_TRUE(c.ok()) << c.status();
  ASSERT_TRUE((*g)->Step().ok());
  ASSERT_TRUE((*c)->Step().ok());
  ASSERT_TRUE(gpu->device().Synchronize().ok());
  const auto want = Fetch<float>(SharedCpu(), **c, "logits");
  const auto got = Fetch<float>(*gpu, **g, "logits");
  ASSERT_EQ(want.size(), static_cast<std::size_t>(config.batch * config.preset.vocab));
  if (precision == DType::kF32) {
    ExpectClose(want, got, 1e-4, 1e-3, "logits");
  } else {
    EXPECT_LT(RelativeError(want, got), precision == DType::kBF16 ? 5e-2 : 1e-2);
  }
  if (kind == WorkloadKind::kDecode && precision == DType::kF32) {
    EXPECT_EQ(Fetch<std::int32_t>(SharedCpu(), **c, "token_ids"), Fetch<std::int32_t>(*gpu, **g, "token_ids"));
  }
}

INSTANTIATE_TEST_SUITE_P(
    PrefillAndDecode, GpuInferenceMatchesCpu,
    ::testing::Combine(::testing::Values(WorkloadKind::kPrefill, WorkloadKind::kDecode),
                       ::testing::Values("tiny-llama", "tiny-qwen"),
                       ::testing::Values(DType::kF32, DType::kBF16, DType::kF16)),
    [](const auto& param_info) {
      std::string name = std::string(WorkloadKindName(std::get<0>(param_info.param))) + "_" +
                         std::get<1>(param_info.param) + "_" + std::string(DTypeName(std::get<2>(param_info.param)));
      for (char& ch : name) {
        if (ch == '-' || ch == '.') ch = '_';
      }
      return name;
    });

TEST(GpuDevice, OutOfMemoryIsRecoverable) {
  LB_GPU_OR_SKIP(gpu);
  absl::StatusOr<MemoryInfo> mem = gpu->device().GetMemoryInfo();
  ASSERT_TRUE(mem.ok()) << mem.status();
  absl::StatusOr<void*> huge = gpu->device().Allocate(mem->total_bytes * 2);
  ASSERT_FALSE(huge.ok());
  EXPECT_TRUE(absl::IsResourceExhausted(huge.status())) << huge.status();
  // The device is still usable: allocate, run a kernel, read back.
  Buf x(*gpu, DType::kF32, {1000});
  ASSERT_TRUE(gpu->Fill(x.t, 3.f).ok());
  EXPECT_EQ(x.Download(), std::vector<float>(1000, 3.f));
  EXPECT_FALSE(gpu->faulted());
}

TEST(GpuDevice, TimersCopiesAndTelemetry) {
  LB_GPU_OR_SKIP(gpu);
  const std::uint64_t bytes = 64ull << 20;
  Buf src(*gpu, DType::kF32, {static_cast<std::int64_t>(bytes / 4)});
  Buf dst(*gpu, DType::kF32, {static_cast<std::int64_t>(bytes / 4)});
  ASSERT_TRUE(gpu->FillRandomUniform(src.t, 5, 1.f).ok());
  auto timer = gpu->device().CreateTimer();
  ASSERT_TRUE(timer.ok()) << timer.status();
  ASSERT_TRUE((*timer)->RecordStart().ok());
  ASSERT_TRUE(gpu->CopyKernel(dst.t.data, src.t.data, bytes).ok());
  ASSERT_TRUE((*timer)->RecordStop().ok());
  absl::StatusOr<double> secs = (*timer)->ElapsedSeconds();
  ASSERT_TRUE(secs.ok()) << secs.status();
  EXPECT_GT(*secs, 0.0);
  EXPECT_EQ(src.Download(), dst.Download());
  const gpu::GpuTelemetry t = gpu->Telemetry();
  ::testing::Test::RecordProperty("telemetry_source", t.source.empty() ? "none: " + t.unavailable_reason : t.source);
  if (t.source == "nvml") {
    EXPECT_TRUE(t.has_sm_clock_mhz);
    EXPECT_GT(t.sm_clock_mhz, 0u);
  }
  const DeviceInfo& info = gpu->device().info();
  EXPECT_FALSE(info.name.empty());
  EXPECT_GT(info.memory_total_bytes, 0u);
  EXPECT_TRUE(info.warp_size == 32 || info.warp_size == 64);
}

// The sweep's OOM bracket on real device memory: a ballast allocation leaves
// room for about 12 batches of a real model's prefill; the sweep must run the
// largest batch that fits and see the next one fail to allocate, and the
// device must stay usable afterwards.
TEST(GpuSweep, OomBracketOnDeviceMemory) {
  LB_GPU_OR_SKIP(gpu);
  WorkloadConfig base;
  base.kind = WorkloadKind::kPrefill;
  base.preset = *FindPreset("llama-3.2-1b");
  base.precision = DType::kBF16;
  base.prompt_tokens = 128;
  base.seed = 3;
  WorkloadConfig one = base, two = base;
  one.batch = 1;
  two.batch = 2;
  auto p1 = PlanMemory(one);
  auto p2 = PlanMemory(two);
  ASSERT_TRUE(p1.ok() && p2.ok());
  const std::uint64_t per_batch = p2->total_bytes - p1->total_bytes;
  const std::uint64_t want_free = p1->total_bytes + 12 * per_batch;
  auto mem = gpu->device().GetMemoryInfo();
  ASSERT_TRUE(mem.ok()) << mem.status();
  ASSERT_GT(mem->free_bytes, want_free + (256ull << 20)) << "device too small for this test";
  const std::uint64_t ballast_bytes = mem->free_bytes - want_free;
  auto ballast = gpu->device().Allocate(ballast_bytes);
  ASSERT_TRUE(ballast.ok()) << ballast.status();

  SweepOptions options;
  options.warmup_steps = 0;
  options.repetitions = 1;
  options.prove_oom_bracket = true;
  absl::StatusOr<SweepResult> r = RunSweep(*gpu, base, options);
  gpu->device().Free(*ballast);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_GE(r->largest_ok_batch, 1);
  EXPECT_EQ(r->smallest_failed_batch, r->largest_ok_batch + 1);
  bool saw_oom = false;
  for (const SweepPoint& p : r->points) {
    if (p.batch_size == r->smallest_failed_batch) {
      EXPECT_EQ(p.status, PointStatus::kOom) << p.error_message;
      saw_oom = true;
    }
    if (p.status == PointStatus::kOk) {
      EXPECT_EQ(p.arena_peak_bytes, p.planned_bytes) << "batch " << p.batch_size;
      ASSERT_TRUE(p.device_delta_bytes.has_value()) << "batch " << p.batch_size;
      EXPECT_GE(*p.device_delta_bytes, p.arena_peak_bytes) << "batch " << p.batch_size;
    }
  }
  EXPECT_TRUE(saw_oom);
  EXPECT_FALSE(gpu->faulted());
  Buf x(*gpu, DType::kF32, {7});
  ASSERT_TRUE(gpu->Fill(x.t, 1.f).ok());
  EXPECT_EQ(x.Download(), std::vector<float>(7, 1.f));
}

}  // namespace
}  // namespace localbench::kernels::gpu_test
