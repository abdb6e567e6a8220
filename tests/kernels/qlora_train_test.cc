// Training options over quantized weights (issues 13 and 15): the chunked
// loss through a quantized untied LM head (tiny-quant) gives the whole
// loss's gradients; QLoRA with bf16 activations (bitsandbytes' setting)
// learns and tracks the fp32-activation run; plans equal arenas buffer by
// buffer.
#include <cmath>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "absl/strings/str_cat.h"
#include "localbench/kernels/cpu_backend.h"
#include "localbench/kernels/plan.h"
#include "localbench/kernels/workload.h"
#include "tiny_config.h"
#include "workload_testing.h"

namespace localbench::kernels {
namespace {

WorkloadConfig Qlora(QuantFormat format, std::int64_t loss_chunks, DType activations = DType::kF32) {
  WorkloadConfig c = test::TinyConfig(WorkloadKind::kTrainLora, "tiny-quant", DType::kBF16, 3);
  c.weight_format = format;
  c.train.loss_chunks = loss_chunks;
  c.train.activations = activations;
  return c;
}

// After one step (LoRA's B is live), the loss and every adapter gradient.
struct Result {
  double loss = 0;
  std::vector<std::vector<float>> grads;
};
Result RunOneStep(const WorkloadConfig& c) {
  CpuBackend backend;
  Result r;
  auto w = Workload::Create(backend, c);
  EXPECT_TRUE(w.ok()) << w.status();
  if (!w.ok()) return r;
  EXPECT_TRUE((*w)->Step().ok());
  EXPECT_TRUE(testing::TrainingGradients(**w).ok());
  r.loss = *testing::TrainingLoss(**w);
  for (std::int64_t l = 0; l < c.preset.layers; ++l)
    for (const char* p : {"q", "k", "v", "o", "gate", "up", "down"})
      for (const char* half : {"_a", "_b"}) {
        absl::StatusOr<Tensor> g = testing::NamedBuffer(**w, absl::StrCat("grad.layers.", l, ".lora_", p, half));
        EXPECT_TRUE(g.ok());
        if (!g.ok()) continue;
        std::vector<float> v(static_cast<std::size_t>(g->numel()));
        EXPECT_TRUE(backend.device().CopyDeviceToHost(v.data(), g->data, g->bytes()).ok());
        r.grads.push_back(std::move(v));
      }
  // Plan == arena, buffer by buffer, with the chunk-sized logits.
  const MemoryPlan plan = *PlanMemory(c);
  const Arena& arena = (*w)->arena();
  EXPECT_EQ(arena.high_water_bytes(), plan.total_bytes);
  EXPECT_EQ(arena.records().size(), plan.buffers.size());
  for (std::size_t i = 0; i < plan.buffers.size() && i < arena.records().size(); ++i) {
    EXPECT_EQ(arena.records()[i].name, plan.buffers[i].name);
    EXPECT_EQ(arena.records()[i].bytes, plan.buffers[i].bytes) << plan.buffers[i].name;
    if (plan.buffers[i].name == "logits") {
      EXPECT_EQ(plan.buffers[i].bytes,
                static_cast<std::uint64_t>(LossChunkRows(c.train, c.batch * c.sequence_tokens) * c.preset.vocab * 4));
    }
  }
  return r;
}

TEST(QloraTrain, ChunkedLossThroughAQuantizedUntiedHeadMatchesTheWholeLoss) {
  ASSERT_FALSE(FindPreset("tiny-quant")->tied_embeddings) << "the head must be a quantized weight of its own";
  for (QuantFormat format : {QuantFormat::kNf4, QuantFormat::kQ4_0}) {
    SCOPED_TRACE(std::string(QuantFormatName(format)));
    // 18 rows in 2 chunks of 9: every chunk takes the same panel product as
    // the whole 18 rows (more than 8 rows), so the results agree to the
    // rounding of sums in another order.
    const Result chunked = RunOneStep(Qlora(format, 2)), whole = RunOneStep(Qlora(format, 0));
    EXPECT_NEAR(chunked.loss, whole.loss, 1e-6 * std::fabs(whole.loss));
    ASSERT_EQ(chunked.grads.size(), whole.grads.size());
    ASSERT_FALSE(whole.grads.empty());
    for (std::size_t t = 0; t < whole.grads.size(); ++t) {
      float scale = 0;
      for (float x : whole.grads[t]) scale = std::max(scale, std::fabs(x));
      ASSERT_GT(scale, 0.0f) << "gradient " << t << " is zero: the comparison would prove nothing";
      for (std::size_t i = 0; i < whole.grads[t].size(); ++i)
        ASSERT_NEAR(chunked.grads[t][i], whole.grads[t][i], 1e-5 * scale) << "gradient " << t << "[" << i << "]";
    }
  }
}

TEST(QloraTrain, Bf16ActivationsOverQuantizedWeightsLearnAndTrackFp32) {
  for (QuantFormat format : {QuantFormat::kNf4, QuantFormat::kQ4_0})
    for (bool ckpt : {false, true}) {
      SCOPED_TRACE(absl::StrCat(std::string(QuantFormatName(format)), ckpt ? " checkpointing" : ""));
      WorkloadConfig bf16 = Qlora(format, 2, DType::kBF16), fp32 = Qlora(format, 2);
      bf16.train.gradient_checkpointing = fp32.train.gradient_checkpointing = ckpt;
      std::vector<double> losses[2];
      for (int run = 0; run < 2; ++run) {
        CpuBackend backend;
        auto w = Workload::Create(backend, run == 0 ? fp32 : bf16);
        ASSERT_TRUE(w.ok()) << w.status();
        for (int i = 0; i < 10; ++i) {
          ASSERT_TRUE((*w)->Step().ok());
          losses[run].push_back(*(*w)->last_loss());
        }
        if (run == 1) {
          // Plan == arena with the bf16 working set and QuantLinear's fp32 staging.
          const MemoryPlan plan = *PlanMemory(bf16);
          const Arena& arena = (*w)->arena();
          EXPECT_EQ(arena.high_water_bytes(), plan.total_bytes);
          ASSERT_EQ(arena.records().size(), plan.buffers.size());
          for (std::size_t i = 0; i < plan.buffers.size(); ++i) {
            EXPECT_EQ(arena.records()[i].name, plan.buffers[i].name);
            EXPECT_EQ(arena.records()[i].bytes, plan.buffers[i].bytes) << plan.buffers[i].name;
          }
          EXPECT_EQ(backend.cpu_device().allocated_bytes(), plan.total_bytes);
        }
      }
      // It learns the fixed batch, and (stated tolerance) every step's loss
      // stays within 1% of the fp32-activation run's.
      EXPECT_LT(losses[1].back(), losses[1].front() - 0.05);
      for (std::size_t i = 0; i < losses[0].size(); ++i)
        EXPECT_NEAR(losses[1][i], losses[0][i], 0.01 * losses[0][i]) << "step " << i;
      // About half the saved activations (tiny buffers round up to the
      // 256-byte alignment, the statistics stay fp32).
      EXPECT_LT(static_cast<double>(PlanMemory(bf16)->CategoryBytes(BufferCategory::kActivationsSaved)),
                0.55 * static_cast<double>(PlanMemory(fp32)->CategoryBytes(BufferCategory::kActivationsSaved)));
    }
}

}  // namespace
}  // namespace localbench::kernels
