// Training options (issue 13) on tiny presets: the plan equals the arena for
// every option combination; accumulation over k micro-batches equals one
// batch k times larger; checkpointing and the chunked loss leave the
// gradients unchanged; full fine-tune accounting has the stated bytes.
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "localbench/kernels/cpu_backend.h"
#include "localbench/kernels/plan.h"
#include "localbench/kernels/workload.h"
#include "workload_testing.h"

namespace localbench::kernels {
namespace {

WorkloadConfig Train(WorkloadKind kind, const std::string& preset, DType precision, std::int64_t batch,
                     TrainOptions options = {}) {
  WorkloadConfig c;
  c.kind = kind;
  c.preset = *FindPreset(preset);
  c.precision = precision;
  c.batch = batch;
  c.sequence_tokens = 6;
  c.lora_rank = kind == WorkloadKind::kTrainLora ? 4 : 0;
  c.seed = 5;
  c.train = options;
  return c;
}

std::string Describe(const WorkloadConfig& c) {
  return absl::StrCat(std::string(WorkloadKindName(c.kind)), " ", c.preset.name, " ", std::string(DTypeName(c.precision)), " batch ", c.batch,
                      " accumulation ", c.train.accumulation_steps, " checkpointing ",
                      c.train.gradient_checkpointing, " loss_chunks ", c.train.loss_chunks, " accounting ",
                      std::string(FullFinetuneAccountingName(c.train.full_accounting)), " activations ",
                      std::string(DTypeName(c.train.activations)));
}

std::vector<float> Read(Backend& b, const Tensor& t) {
  std::vector<float> v(static_cast<std::size_t>(t.numel()));
  if (t.dtype == DType::kF32) {
    EXPECT_TRUE(b.device().CopyDeviceToHost(v.data(), t.data, t.bytes()).ok());
  } else {
    std::vector<std::uint16_t> raw(v.size());
    EXPECT_TRUE(b.device().CopyDeviceToHost(raw.data(), t.data, t.bytes()).ok());
    for (std::size_t i = 0; i < v.size(); ++i) v[i] = t.dtype == DType::kBF16 ? Bf16ToFloat(raw[i]) : F16ToFloat(raw[i]);
  }
  return v;
}

// The trainable tensors' names (their gradients are "grad." + name).
std::vector<std::string> Trainable(const WorkloadConfig& c) {
  std::vector<std::string> names;
  for (std::int64_t l = 0; l < c.preset.layers; ++l) {
    if (c.kind == WorkloadKind::kTrainLora) {
      for (const char* p : {"q", "k", "v", "o", "gate", "up", "down"})
        for (const char* half : {"_a", "_b"}) names.push_back(absl::StrCat("layers.", l, ".lora_", p, half));
    } else {
      for (const char* w : {"attn_norm", "wq", "wk", "wv", "wo", "mlp_norm", "w_gate", "w_up", "w_down"})
        names.push_back(absl::StrCat("layers.", l, ".", w));
    }
  }
  if (c.kind == WorkloadKind::kTrainFull) {
    names.push_back("tok_embeddings");
    names.push_back("final_norm");
    if (!c.preset.tied_embeddings) names.push_back("lm_head");
  }
  return names;
}

// Every trainable gradient after TrainingGradients, plus the loss.
struct Gradients {
  double loss = 0;
  std::vector<std::vector<float>> grads;
};
Gradients GradientsOf(const WorkloadConfig& c, bool after_one_step) {
  CpuBackend backend;
  auto w = Workload::Create(backend, c);
  EXPECT_TRUE(w.ok()) << w.status();
  Gradients out;
  if (!w.ok()) return out;
  // LoRA's B starts at zero (A's gradient is zero): one step makes both live.
  if (after_one_step) {
    EXPECT_TRUE((*w)->Step().ok());
  }
  EXPECT_TRUE(testing::TrainingGradients(**w).ok());
  out.loss = *testing::TrainingLoss(**w);
  for (const std::string& name : Trainable(c)) {
    absl::StatusOr<Tensor> g = testing::NamedBuffer(**w, "grad." + name);
    EXPECT_TRUE(g.ok()) << name;
    if (g.ok()) out.grads.push_back(Read(backend, *g));
  }
  return out;
}

// |a - b| <= atol + rtol * max|b| per tensor (rounding of sums in another order).
void ExpectClose(const Gradients& a, const Gradients& b, double rtol, const std::vector<std::string>& names) {
  EXPECT_NEAR(a.loss, b.loss, 1e-6 * std::fabs(b.loss));
  ASSERT_EQ(a.grads.size(), b.grads.size());
  for (std::size_t t = 0; t < a.grads.size(); ++t) {
    float scale = 0;
    for (float x : b.grads[t]) scale = std::max(scale, std::fabs(x));
    ASSERT_GT(scale, 0.0f) << names[t] << " has no gradient: the comparison would prove nothing";
    for (std::size_t i = 0; i < a.grads[t].size(); ++i)
      ASSERT_NEAR(a.grads[t][i], b.grads[t][i], 1e-7 + rtol * scale) << names[t] << "[" << i << "]";
  }
}

TEST(TrainOptions, PlanEqualsArenaForEveryCombination) {
  int cases = 0;
  for (WorkloadKind kind : {WorkloadKind::kTrainLora, WorkloadKind::kTrainFull})
    for (const char* preset : {"tiny-llama", "tiny-qwen"})
      for (DType precision : {DType::kF32, DType::kBF16})
        for (std::int64_t steps : {1, 3})
          for (bool ckpt : {false, true})
            for (std::int64_t chunks : {0, 4})
              for (FullFinetuneAccounting acc : {FullFinetuneAccounting::kMixed, FullFinetuneAccounting::kLean})
                for (DType act : {DType::kF32, DType::kBF16}) {
                if (kind == WorkloadKind::kTrainLora && acc != FullFinetuneAccounting::kMixed) continue;
                if (act != DType::kF32 && act != precision) continue;
                TrainOptions o;
                o.activations = act;
                o.accumulation_steps = steps;
                o.gradient_checkpointing = ckpt;
                o.loss_chunks = chunks;
                o.full_accounting = acc;
                const WorkloadConfig c = Train(kind, preset, precision, 2, o);
                SCOPED_TRACE(Describe(c));
                CpuBackend backend;
                auto w = Workload::Create(backend, c);
                ASSERT_TRUE(w.ok()) << w.status();
                ASSERT_TRUE((*w)->Step().ok());
                ASSERT_TRUE((*w)->Step().ok());
                ASSERT_TRUE(std::isfinite(*(*w)->last_loss()));
                EXPECT_EQ((*w)->tokens_per_step(), steps * 2 * 6);  // the effective batch
                const MemoryPlan plan = *PlanMemory(c);
                const Arena& arena = (*w)->arena();
                EXPECT_EQ(arena.high_water_bytes(), plan.total_bytes);
                ASSERT_EQ(arena.records().size(), plan.buffers.size());
                for (std::size_t i = 0; i < plan.buffers.size(); ++i) {
                  ASSERT_EQ(arena.records()[i].name, plan.buffers[i].name) << i;
                  ASSERT_EQ(arena.records()[i].bytes, plan.buffers[i].bytes) << plan.buffers[i].name;
                }
                ++cases;
              }
  // (LoRA 1 + full 2 accountings) x 2 presets x 2 x 2 x 2 x (f32: 1 + bf16: 2).
  EXPECT_EQ(cases, 3 * 2 * 2 * 2 * 2 * 3);
}

TEST(TrainOptions, AccumulationEqualsOneLargeBatch) {
  for (WorkloadKind kind : {WorkloadKind::kTrainLora, WorkloadKind::kTrainFull}) {
    TrainOptions k3;
    k3.accumulation_steps = 3;
    const WorkloadConfig large = Train(kind, "tiny-qwen", DType::kF32, 3);
    const WorkloadConfig micro = Train(kind, "tiny-qwen", DType::kF32, 1, k3);
    SCOPED_TRACE(Describe(micro));
    // Before and after one step (the update used the accumulated gradient
    // once); LoRA's A has a gradient only after a step.
    for (bool after_step : {kind == WorkloadKind::kTrainLora, true})
      ExpectClose(GradientsOf(micro, after_step), GradientsOf(large, after_step), 1e-5, Trainable(micro));
    // The plan adds only the extra micro-batches' ids, targets and losses.
    const std::uint64_t extra = PlanMemory(micro)->total_bytes - PlanMemory(Train(kind, "tiny-qwen", DType::kF32, 1))->total_bytes;
    EXPECT_LE(extra, 3u * 3 * Device::kAlignment);
  }
}

TEST(TrainOptions, AccumulationChangesTheGradientOfASingleMicroBatch) {
  // The check above could pass with accumulation ignored only if the data
  // of the micro-batches were equal; it is not.
  TrainOptions k3;
  k3.accumulation_steps = 3;
  const Gradients one = GradientsOf(Train(WorkloadKind::kTrainFull, "tiny-qwen", DType::kF32, 1), false);
  const Gradients three = GradientsOf(Train(WorkloadKind::kTrainFull, "tiny-qwen", DType::kF32, 1, k3), false);
  EXPECT_GT(std::fabs(one.loss - three.loss), 1e-4);
}

TEST(TrainOptions, CheckpointingGivesIdenticalGradients) {
  for (WorkloadKind kind : {WorkloadKind::kTrainLora, WorkloadKind::kTrainFull})
    for (DType precision : {DType::kF32, DType::kBF16}) {
      TrainOptions on;
      on.gradient_checkpointing = true;
      const WorkloadConfig c = Train(kind, "tiny-llama", precision, 2, on);
      SCOPED_TRACE(Describe(c));
      // The recompute runs the same ops on the same inputs: the same bits.
      const Gradients a = GradientsOf(c, true), b = GradientsOf(Train(kind, "tiny-llama", precision, 2), true);
      EXPECT_EQ(a.loss, b.loss);
      ASSERT_EQ(a.grads.size(), b.grads.size());
      for (std::size_t t = 0; t < a.grads.size(); ++t) EXPECT_EQ(a.grads[t], b.grads[t]) << Trainable(c)[t];
    }
}

TEST(TrainOptions, SixteenBitActivationsMatchFp32WithinTolerance) {
  // Same weights (the run's 16-bit type), saved activations 16-bit against
  // fp32. Stated tolerance: the loss within 1%; f16 activations (11-bit
  // mantissa): every gradient tensor within 1% (relative L2); bf16 (8-bit
  // mantissa): all gradients together within 3% and each tensor within 25%
  // (the last layer's LoRA A gradients are small sums of cancelling terms,
  // where 2^-9 relative rounding of their inputs shows most).
  for (DType act : {DType::kF16, DType::kBF16})
    for (WorkloadKind kind : {WorkloadKind::kTrainLora, WorkloadKind::kTrainFull})
      for (bool ckpt : {false, true}) {
        TrainOptions low;
        low.activations = act;
        low.gradient_checkpointing = ckpt;
        TrainOptions fp32;
        fp32.gradient_checkpointing = ckpt;
        const WorkloadConfig c = Train(kind, "tiny-qwen", act, 2, low);
        SCOPED_TRACE(Describe(c));
        const Gradients a = GradientsOf(c, true), b = GradientsOf(Train(kind, "tiny-qwen", act, 2, fp32), true);
        EXPECT_NEAR(a.loss, b.loss, 0.01 * std::fabs(b.loss));
        ASSERT_EQ(a.grads.size(), b.grads.size());
        double worst = 0, diff_all = 0, norm_all = 0;
        for (std::size_t t = 0; t < a.grads.size(); ++t) {
          double diff = 0, norm = 0;
          for (std::size_t i = 0; i < a.grads[t].size(); ++i) {
            const double d = static_cast<double>(a.grads[t][i]) - b.grads[t][i];
            diff += d * d;
            norm += static_cast<double>(b.grads[t][i]) * b.grads[t][i];
          }
          worst = std::max(worst, std::sqrt(diff / norm));
          diff_all += diff;
          norm_all += norm;
        }
        const double all = std::sqrt(diff_all / norm_all);
        std::printf("%s: gradients %.4f overall, worst tensor %.4f (relative L2)\n", Describe(c).c_str(), all, worst);
        EXPECT_GT(all, 0.0) << "16-bit activations changed nothing: were they used?";
        EXPECT_LT(worst, act == DType::kF16 ? 0.01 : 0.25);
        EXPECT_LT(all, act == DType::kF16 ? 0.01 : 0.03);
      }
  // Half the saved activations, but for the fp32 statistics (rstd, lse).
  WorkloadConfig big = Train(WorkloadKind::kTrainLora, "llama-3.2-1b", DType::kBF16, 1);
  big.sequence_tokens = 512;
  const std::uint64_t f32 = PlanMemory(big)->CategoryBytes(BufferCategory::kActivationsSaved);
  big.train.activations = DType::kBF16;
  const std::uint64_t b16 = PlanMemory(big)->CategoryBytes(BufferCategory::kActivationsSaved);
  EXPECT_LT(static_cast<double>(b16), 0.51 * static_cast<double>(f32));
  std::printf("llama-3.2-1b LoRA, 512 tokens: saved activations %.1f MiB fp32, %.1f MiB bf16\n",
              static_cast<double>(f32) / (1 << 20), static_cast<double>(b16) / (1 << 20));
}

TEST(TrainOptions, SixteenBitRunsKeepTheWorkingSetInTheirType) {
  // Buffer by buffer against the fp32-activation plan of the same run: every
  // activation (saved, recomputed or working) is 16-bit but the statistics;
  // activation gradients are bf16 in a bf16 run and fp32 in an f16 run; the
  // residual gradient d_x and the weights' gradients keep their type.
  for (DType act : {DType::kBF16, DType::kF16})
    for (WorkloadKind kind : {WorkloadKind::kTrainLora, WorkloadKind::kTrainFull})
      for (bool ckpt : {false, true}) {
        TrainOptions o;
        o.gradient_checkpointing = ckpt;
        const MemoryPlan wide = *PlanMemory(Train(kind, "tiny-llama", act, 2, o));
        o.activations = act;
        const WorkloadConfig c = Train(kind, "tiny-llama", act, 2, o);
        SCOPED_TRACE(Describe(c));
        const MemoryPlan narrow = *PlanMemory(c);
        ASSERT_EQ(narrow.buffers.size(), wide.buffers.size());
        int halved = 0;
        for (std::size_t i = 0; i < narrow.buffers.size(); ++i) {
          const PlannedBuffer &n = narrow.buffers[i], &w = wide.buffers[i];
          ASSERT_EQ(n.name, w.name);
          auto ends = [&](const char* suffix) { return absl::EndsWith(n.name, suffix); };
          bool half = false;
          if (n.category == BufferCategory::kActivationsSaved) {
            half = !ends("rstd") && !ends(".lse");
          } else if (n.category == BufferCategory::kGradients) {
            half = act == DType::kBF16 && absl::StartsWith(n.name, "d_") && n.name != "d_x";
          }
          if (n.name == "gemm_workspace") continue;  // grows: 16-bit operands convert through it
          EXPECT_EQ(n.bytes, half ? w.bytes / 2 : w.bytes) << n.name;
          halved += half ? 1 : 0;
        }
        EXPECT_GT(halved, 10);
      }
}

TEST(TrainOptions, CheckpointingKeepsAThirdOrLessOfTheActivations) {
  WorkloadConfig c = Train(WorkloadKind::kTrainLora, "llama-3.2-1b", DType::kBF16, 1);
  c.sequence_tokens = 512;
  const std::uint64_t off = PlanMemory(c)->CategoryBytes(BufferCategory::kActivationsSaved);
  c.train.gradient_checkpointing = true;
  const std::uint64_t on = PlanMemory(c)->CategoryBytes(BufferCategory::kActivationsSaved);
  EXPECT_GT(static_cast<double>(off), 3.0 * static_cast<double>(on));
}

TEST(TrainOptions, ChunkedLossGivesTheSameGradients) {
  for (WorkloadKind kind : {WorkloadKind::kTrainLora, WorkloadKind::kTrainFull})
    for (const char* preset : {"tiny-llama", "tiny-qwen"}) {
      TrainOptions chunked;
      chunked.loss_chunks = 5;  // 12 rows: chunks of 3, the last one short
      const WorkloadConfig c = Train(kind, preset, DType::kF32, 2, chunked);
      SCOPED_TRACE(Describe(c));
      ExpectClose(GradientsOf(c, true), GradientsOf(Train(kind, preset, DType::kF32, 2), true), 1e-5,
                  Trainable(c));
      const MemoryPlan plan = *PlanMemory(c);
      for (const PlannedBuffer& b : plan.buffers)
        if (b.name == "logits") {
          EXPECT_EQ(b.bytes, 3u * static_cast<std::uint64_t>(c.preset.vocab) * 4);
        }
    }
}

TEST(TrainOptions, FullFineTuneAccountingBytesPerParameter) {
  WorkloadConfig c = Train(WorkloadKind::kTrainFull, "llama-3.1-8b", DType::kBF16, 1);
  c.sequence_tokens = 512;
  const double params = static_cast<double>(c.preset.ParameterCount());
  auto per_param = [&](FullFinetuneAccounting a) {
    c.train.full_accounting = a;
    const MemoryPlan plan = *PlanMemory(c);
    return static_cast<double>(plan.CategoryBytes(BufferCategory::kWeights) +
                               plan.CategoryBytes(BufferCategory::kOptimizerState)) /
               params +
           static_cast<double>(plan.CategoryBytes(BufferCategory::kGradients)) / params;
  };
  // Gradients include the (small) activation gradients: a little above.
  EXPECT_NEAR(per_param(FullFinetuneAccounting::kMixed), 18.0, 0.05);
  EXPECT_NEAR(per_param(FullFinetuneAccounting::kLean), 12.0, 0.05);
}

TEST(TrainOptions, MixedAccountingLearnsAndMatchesLeanInFp32) {
  // bf16 weights with an fp32 master: the loss falls.
  {
    CpuBackend backend;
    auto w = Workload::Create(backend, Train(WorkloadKind::kTrainFull, "tiny-llama", DType::kBF16, 2));
    ASSERT_TRUE(w.ok()) << w.status();
    std::vector<double> losses;
    for (int i = 0; i < 8; ++i) {
      ASSERT_TRUE((*w)->Step().ok());
      losses.push_back(*(*w)->last_loss());
    }
    EXPECT_LT(losses.back(), losses.front() - 0.05);
  }
  // fp32 runs: mixed has no master copy and fp32 gradients, as lean does.
  TrainOptions lean;
  lean.full_accounting = FullFinetuneAccounting::kLean;
  EXPECT_EQ(PlanMemory(Train(WorkloadKind::kTrainFull, "tiny-llama", DType::kF32, 2))->total_bytes,
            PlanMemory(Train(WorkloadKind::kTrainFull, "tiny-llama", DType::kF32, 2, lean))->total_bytes);
}

TEST(TrainOptions, InvalidOptionsNameTheField) {
  TrainOptions o;
  o.accumulation_steps = 0;
  absl::Status s = PlanMemory(Train(WorkloadKind::kTrainLora, "tiny-llama", DType::kF32, 1, o)).status();
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(s.message().find("accumulation_steps"), std::string::npos) << s;
  o = {};
  o.loss_chunks = -1;
  s = PlanMemory(Train(WorkloadKind::kTrainLora, "tiny-llama", DType::kF32, 1, o)).status();
  EXPECT_NE(s.message().find("loss_chunks"), std::string::npos) << s;
  o = {};
  o.full_accounting = FullFinetuneAccounting::kLean;
  s = PlanMemory(Train(WorkloadKind::kTrainLora, "tiny-llama", DType::kF32, 1, o)).status();
  EXPECT_NE(s.message().find("full_accounting"), std::string::npos) << s;
  WorkloadConfig prefill;
  prefill.kind = WorkloadKind::kPrefill;
  prefill.preset = *FindPreset("tiny-llama");
  prefill.prompt_tokens = 4;
  prefill.train.gradient_checkpointing = true;
  EXPECT_EQ(PlanMemory(prefill).status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(ParseFullFinetuneAccounting("mixed").value(), FullFinetuneAccounting::kMixed);
  EXPECT_FALSE(ParseFullFinetuneAccounting("fp8").ok());
}

}  // namespace
}  // namespace localbench::kernels
