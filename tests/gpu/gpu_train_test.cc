// Gradient checkpointing on the GPU backends (issue 13): the recompute runs
// the same kernels on the same inputs, so every trainable gradient equals
// the one without checkpointing, for LoRA and full fine-tuning, with fp32
// and bf16 activations. Skips visibly without a GPU.
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "absl/strings/str_cat.h"
#include "gpu_test_util.h"
#include "localbench/kernels/workload.h"
#include "workload_testing.h"

namespace localbench::kernels::gpu_test {
namespace {

WorkloadConfig TrainConfig(WorkloadKind kind, DType act, bool ckpt) {
  WorkloadConfig c;
  c.kind = kind;
  c.preset = *FindPreset("tiny-llama");
  c.precision = DType::kBF16;
  c.batch = 2;
  c.sequence_tokens = 21;
  c.lora_rank = kind == WorkloadKind::kTrainLora ? 4 : 0;
  c.seed = 13;
  c.train.activations = act;
  c.train.gradient_checkpointing = ckpt;
  return c;
}

// The gradients' plan names of the trainable tensors.
std::vector<std::string> GradientNames(const WorkloadConfig& c) {
  std::vector<std::string> names;
  for (std::int64_t l = 0; l < c.preset.layers; ++l) {
    if (c.kind == WorkloadKind::kTrainLora) {
      for (const char* p : {"q", "k", "v", "o", "gate", "up", "down"})
        for (const char* half : {"_a", "_b"}) names.push_back(absl::StrCat("grad.layers.", l, ".lora_", p, half));
    } else {
      for (const char* w : {"attn_norm", "wq", "wk", "wv", "wo", "mlp_norm", "w_gate", "w_up", "w_down"})
        names.push_back(absl::StrCat("grad.layers.", l, ".", w));
    }
  }
  return names;
}

// One step (so LoRA's B and A both have gradients), then the gradients of
// the next batch without an update, copied to the host as fp32.
std::vector<std::vector<float>> Gradients(gpu::GpuBackend& gpu, const WorkloadConfig& c) {
  std::vector<std::vector<float>> out;
  auto w = Workload::Create(gpu, c);
  EXPECT_TRUE(w.ok()) << w.status();
  if (!w.ok()) return out;
  EXPECT_TRUE((*w)->Step().ok());
  EXPECT_TRUE(testing::TrainingGradients(**w).ok());
  EXPECT_TRUE(gpu.device().Synchronize().ok());
  for (const std::string& name : GradientNames(c)) {
    absl::StatusOr<Tensor> t = testing::NamedBuffer(**w, name);
    EXPECT_TRUE(t.ok()) << name;
    if (!t.ok()) continue;
    std::vector<float> v(static_cast<std::size_t>(t->numel()));
    if (t->dtype == DType::kF32) {
      EXPECT_TRUE(gpu.device().CopyDeviceToHost(v.data(), t->data, t->bytes()).ok());
    } else {
      std::vector<std::uint16_t> raw(v.size());
      EXPECT_TRUE(gpu.device().CopyDeviceToHost(raw.data(), t->data, t->bytes()).ok());
      ConvertToF32(t->dtype, raw.data(), v.data(), v.size());
    }
    out.push_back(std::move(v));
  }
  return out;
}

TEST(GpuTrain, CheckpointingGivesTheSameGradients) {
  LB_GPU_OR_SKIP(gpu);
  for (WorkloadKind kind : {WorkloadKind::kTrainLora, WorkloadKind::kTrainFull})
    for (DType act : {DType::kF32, DType::kBF16}) {
      SCOPED_TRACE(absl::StrCat(std::string(WorkloadKindName(kind)), " activations ", std::string(DTypeName(act))));
      const std::vector<std::vector<float>> on = Gradients(*gpu, TrainConfig(kind, act, true));
      const std::vector<std::vector<float>> off = Gradients(*gpu, TrainConfig(kind, act, false));
      const std::vector<std::string> names = GradientNames(TrainConfig(kind, act, true));
      ASSERT_EQ(on.size(), names.size());
      ASSERT_EQ(off.size(), names.size());
      for (std::size_t t = 0; t < names.size(); ++t) {
        // Same kernels on the same inputs: equal to rounding (a GEMM library
        // may pick another algorithm for the same shape; nothing else may
        // differ), and never all zero, or the comparison proves nothing.
        double diff = 0, norm = 0;
        for (std::size_t i = 0; i < off[t].size(); ++i) {
          diff += (static_cast<double>(on[t][i]) - off[t][i]) * (static_cast<double>(on[t][i]) - off[t][i]);
          norm += static_cast<double>(off[t][i]) * off[t][i];
        }
        EXPECT_GT(norm, 0.0) << names[t] << " has no gradient";
        EXPECT_LE(std::sqrt(diff / std::max(norm, 1e-30)), 1e-5) << names[t];
      }
    }
}

}  // namespace
}  // namespace localbench::kernels::gpu_test
