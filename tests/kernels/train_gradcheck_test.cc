// The whole backward of the training workloads against finite differences
// of the loss: checks the wiring (residuals, tied embeddings, q/k/v bias,
// LoRA paths) that the per-op checks cannot see. fp32 end to end, so the
// step is large and the tolerance loose; a wrong or missing term is off by
// far more than that.
#include <cmath>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "localbench/kernels/cpu_backend.h"
#include "localbench/kernels/workload.h"
#include "workload_testing.h"

namespace localbench::kernels {
namespace {

std::vector<float> Read(Backend& b, const Tensor& t) {
  std::vector<float> v(static_cast<std::size_t>(t.numel()));
  EXPECT_TRUE(b.device().CopyDeviceToHost(v.data(), t.data, t.bytes()).ok());
  return v;
}

void SetElement(Backend& b, const Tensor& t, std::size_t i, float value) {
  EXPECT_TRUE(b.device().CopyHostToDevice(static_cast<float*>(t.data) + i, &value, 4).ok());
}

// For the element with the largest gradient of each named parameter and 48
// evenly spaced ones (which reach the embedding rows of the input tokens),
// compares the analytic gradient with a central difference.
void CheckParameters(Backend& backend, Workload& w, const std::vector<std::string>& names) {
  ASSERT_TRUE(testing::TrainingGradients(w).ok());
  for (const std::string& name : names) {
    SCOPED_TRACE(name);
    absl::StatusOr<Tensor> param = testing::NamedBuffer(w, name);
    absl::StatusOr<Tensor> grad = testing::NamedBuffer(w, "grad." + name);
    ASSERT_TRUE(param.ok() && grad.ok()) << name;
    ASSERT_EQ(param->dtype, DType::kF32);
    const std::vector<float> g = Read(backend, *grad);
    std::size_t best = 0;
    for (std::size_t i = 1; i < g.size(); ++i)
      if (std::fabs(g[i]) > std::fabs(g[best])) best = i;
    ASSERT_GT(std::fabs(g[best]), 1e-4f) << "gradient is (almost) zero everywhere";
    std::vector<std::size_t> elements = {best};
    for (std::size_t j = 0; j < 48 && j < g.size(); ++j) elements.push_back(j * g.size() / 48);
    for (std::size_t i : elements) {
      const float saved = Read(backend, *param)[i];
      const float h = 1e-2f;
      SetElement(backend, *param, i, saved + h);
      const double up = *testing::TrainingLoss(w);
      SetElement(backend, *param, i, saved - h);
      const double down = *testing::TrainingLoss(w);
      SetElement(backend, *param, i, saved);
      const double numeric = (up - down) / (2.0 * h);
      EXPECT_NEAR(g[i], numeric, 2e-4 + 0.03 * std::fabs(numeric)) << "element " << i;
    }
  }
}

WorkloadConfig Train(WorkloadKind kind, const std::string& preset) {
  WorkloadConfig c;
  c.kind = kind;
  c.preset = *FindPreset(preset);
  c.precision = DType::kF32;
  c.batch = 2;
  c.sequence_tokens = 5;
  c.lora_rank = kind == WorkloadKind::kTrainLora ? 3 : 0;
  c.seed = 11;
  return c;
}

TEST(TrainGradCheck, FullFineTuneTiedLlama) {
  CpuBackend backend;
  auto w = Workload::Create(backend, Train(WorkloadKind::kTrainFull, "tiny-llama"));
  ASSERT_TRUE(w.ok()) << w.status();
  CheckParameters(backend, **w,
                  {"tok_embeddings", "final_norm", "layers.0.attn_norm", "layers.0.wq", "layers.0.wk", "layers.0.wv",
                   "layers.0.wo", "layers.1.mlp_norm", "layers.1.w_gate", "layers.1.w_up", "layers.1.w_down"});
}

TEST(TrainGradCheck, FullFineTuneUntiedQwenWithBias) {
  CpuBackend backend;
  auto w = Workload::Create(backend, Train(WorkloadKind::kTrainFull, "tiny-qwen"));
  ASSERT_TRUE(w.ok()) << w.status();
  CheckParameters(backend, **w,
                  {"tok_embeddings", "lm_head", "layers.0.bq", "layers.0.bk", "layers.0.bv", "layers.1.wk",
                   "layers.1.w_down"});
}

TEST(TrainGradCheck, LoraAdapters) {
  CpuBackend backend;
  auto w = Workload::Create(backend, Train(WorkloadKind::kTrainLora, "tiny-qwen"));
  ASSERT_TRUE(w.ok()) << w.status();
  // One step first: B starts at zero (so A's gradient is zero); afterwards
  // both halves of every adapter have gradients.
  ASSERT_TRUE((*w)->Step().ok());
  std::vector<std::string> names;
  for (const char* proj : {"q", "k", "v", "o", "gate", "up", "down"}) {
    names.push_back(std::string("layers.0.lora_") + proj + "_a");
    names.push_back(std::string("layers.1.lora_") + proj + "_b");
  }
  CheckParameters(backend, **w, names);
}

TEST(TrainGradCheck, EveryTrainingOptionTogether) {
  // Accumulation (the loss is the mean over both micro-batches),
  // checkpointing (the backward recomputes) and the chunked loss (the head's
  // gradient leaves during the forward): the gradient is still the loss's.
  CpuBackend backend;
  WorkloadConfig c = Train(WorkloadKind::kTrainFull, "tiny-qwen");
  c.train.accumulation_steps = 2;
  c.train.gradient_checkpointing = true;
  c.train.loss_chunks = 3;
  auto w = Workload::Create(backend, c);
  ASSERT_TRUE(w.ok()) << w.status();
  CheckParameters(backend, **w, {"tok_embeddings", "lm_head", "layers.0.bq", "layers.0.wq", "layers.1.w_up"});
}

}  // namespace
}  // namespace localbench::kernels
