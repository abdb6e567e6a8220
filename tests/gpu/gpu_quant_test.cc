// Quantized weights on the GPU (issue 15): the seeded fill is bit-identical
// to the CPU's; every product (decode GEMV, prefill panels, the backward
// through a frozen base; beta 0 and 1) matches the dequantized fp32
// reference and the CPU backend within stated bounds; plan == arena for
// quantized prefill, decode and QLoRA on the tiny preset; quantized logits
// track the CPU's; a QLoRA step on the GPU lowers the loss. Skips visibly
// without a GPU.
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <string>
#include <tuple>
#include <vector>

#include <gtest/gtest.h>

#include "gpu_test_util.h"
#include "localbench/kernels/plan.h"
#include "localbench/kernels/quant.h"
#include "localbench/kernels/workload.h"
#include "quant/quant_testing.h"
#include "workload_testing.h"

namespace localbench::kernels::gpu_test {
namespace {

constexpr QuantFormat kFormats[] = {QuantFormat::kQ8_0, QuantFormat::kQ4_0, QuantFormat::kNf4};

// Raw device bytes (a quantized matrix), freed on destruction.
class DeviceBytes {
 public:
  DeviceBytes(Backend& backend, std::uint64_t bytes) : backend_(backend), bytes_(bytes) {
    absl::StatusOr<void*> p = backend.device().Allocate(bytes);
    EXPECT_TRUE(p.ok()) << p.status();
    data = p.ok() ? *p : nullptr;
  }
  ~DeviceBytes() {
    if (data != nullptr) backend_.device().Free(data);
  }
  DeviceBytes(const DeviceBytes&) = delete;
  DeviceBytes& operator=(const DeviceBytes&) = delete;
  std::vector<std::uint8_t> Download() const {
    std::vector<std::uint8_t> v(bytes_);
    EXPECT_TRUE(backend_.device().Synchronize().ok());
    EXPECT_TRUE(backend_.device().CopyDeviceToHost(v.data(), data, bytes_).ok());
    return v;
  }
  void* data = nullptr;

 private:
  Backend& backend_;
  std::uint64_t bytes_;
};

// Caps the panel rows (and so the contract's workspace) for one scope, so
// small matrices take several panels and several blocks of x.
class PanelCap {
 public:
  explicit PanelCap(std::int64_t rows) { quant::SetQuantPanelCapForTesting(rows); }
  ~PanelCap() { quant::SetQuantPanelCapForTesting(0); }
};

// Shapes: 100 rows (not a multiple of a thread block's 8 rows); 1088 columns
// = 34 blocks of 32 (a warp's stage plus a tail of 2) = 17 NF4 blocks; Q4_0
// rows of 612 bytes, so rows start off 16-byte boundaries and the staging
// takes its bytewise head and tail. 100 x 17 NF4 blocks = 7 scale groups.
constexpr std::int64_t kN = 100, kK = 1088;

TEST(GpuQuant, FillIsBitIdenticalToTheCpu) {
  LB_GPU_OR_SKIP(gpu);
  for (QuantFormat f : kFormats) {
    SCOPED_TRACE(QuantFormatName(f));
    const std::uint64_t bytes = QuantizedBytes(f, kN, kK);
    std::vector<std::uint8_t> want(bytes);
    ASSERT_TRUE(SharedCpu().FillRandomQuantized(f, want.data(), kN, kK, 1234, 0.03f).ok());
    DeviceBytes got(*gpu, bytes);
    ASSERT_TRUE(gpu->FillRandomQuantized(f, got.data, kN, kK, 1234, 0.03f).ok());
    const std::vector<std::uint8_t> g = got.Download();
    const auto diff = std::mismatch(want.begin(), want.end(), g.begin());
    EXPECT_TRUE(diff.first == want.end()) << "first differing byte " << (diff.first - want.begin()) << " of "
                                          << bytes;
  }
}

// One product y = x op(W) + beta y on both backends from the same blocks,
// checked against the double-precision product of the dequantized weights.
struct ProductCase {
  QuantFormat format;
  bool trans_w;
  std::int64_t m;
  float beta;
};

std::string CaseName(const ProductCase& c) {
  return std::string(QuantFormatName(c.format)) + (c.trans_w ? "_forward" : "_backward") + "_m" +
         std::to_string(c.m) + (c.beta == 0.0f ? "_beta0" : "_beta1");
}

class GpuQuantProduct : public ::testing::TestWithParam<ProductCase> {};

TEST_P(GpuQuantProduct, MatchesReferenceAndCpu) {
  LB_GPU_OR_SKIP(gpu);
  const ProductCase& c = GetParam();
  const bool gemv = c.trans_w && c.m <= kQuantGemvMaxRows;
  const std::int64_t in = c.trans_w ? kK : kN, out = c.trans_w ? kN : kK;
  PanelCap cap(16);  // W in panels of 16 rows; the GPU's bf16 x in blocks of 16 rows
  const std::uint64_t ws_bytes = QuantLinearWorkspaceBytes(c.trans_w, c.m, kN, kK);
  EXPECT_EQ(ws_bytes == 0, gemv);

  std::vector<std::uint8_t> w(QuantizedBytes(c.format, kN, kK));
  ASSERT_TRUE(SharedCpu().FillRandomQuantized(c.format, w.data(), kN, kK, 99, 0.05f).ok());
  DeviceBytes wg(*gpu, w.size());
  ASSERT_TRUE(gpu->device().CopyHostToDevice(wg.data, w.data(), w.size()).ok());
  std::vector<float> wf(static_cast<std::size_t>(kN * kK));
  Dequantize(c.format, w.data(), kN, kK, wf.data());

  const std::vector<float> x = Random(static_cast<std::size_t>(c.m * in), 5, 1.0f);
  const std::vector<float> y0 = Random(static_cast<std::size_t>(c.m * out), 6, 1.0f);
  Dual xd(*gpu, DType::kF32, {c.m, in}, x);
  Dual yd(*gpu, DType::kF32, {c.m, out}, y0);
  const std::int64_t ws_floats = std::max<std::int64_t>(1, static_cast<std::int64_t>(ws_bytes / 4));
  Buf ws_cpu(SharedCpu(), DType::kF32, {ws_floats});
  Buf ws_gpu(*gpu, DType::kF32, {ws_floats});
  const Tensor wsc = ws_bytes == 0 ? Tensor{} : ws_cpu.t, wsg = ws_bytes == 0 ? Tensor{} : ws_gpu.t;
  ASSERT_TRUE(SharedCpu().QuantLinear(c.format, c.trans_w, xd.cpu.t, w.data(), kN, kK, c.beta, yd.cpu.t, wsc).ok());
  ASSERT_TRUE(gpu->QuantLinear(c.format, c.trans_w, xd.gpu.t, wg.data, kN, kK, c.beta, yd.gpu.t, wsg).ok());
  const std::vector<float> cpu = yd.cpu.Download(), got = yd.gpu.Download();

  // Bounds, per element, in units of mag = sum |x w| (+ |beta y0|):
  //  GEMV: fp32 accumulation in any order, (in + 2) 2^-23.
  //  Panels: x and W each rounded to bf16 (2^-8 relative each) before the
  //  fp32-accumulated product: 2 2^-8 + 2^-16 + (in + 2) 2^-23.
  //  CPU: its own test's bound, (in + 2) 2^-23 (mag + act) + act, where act,
  //  for the AVX2 decode of Q8_0 / Q4_0 (int8 activations), is the sum over
  //  blocks of amax/254 sum |w| (0 elsewhere).
  const double unit = std::ldexp(1.0, -23);
  const double gpu_rel = gemv ? (in + 2) * unit : 2 * std::ldexp(1.0, -8) + std::ldexp(1.0, -16) + (in + 2) * unit;
  const bool int8_cpu = gemv && c.format != QuantFormat::kNf4;
  int bad = 0;
  for (std::int64_t r = 0; r < c.m; ++r) {
    for (std::int64_t j = 0; j < out; ++j) {
      double ref = 0.0, mag = 0.0, act = 0.0;
      for (std::int64_t i = 0; i < in; ++i) {
        const double wv = c.trans_w ? wf[static_cast<std::size_t>(j * kK + i)] : wf[static_cast<std::size_t>(i * kK + j)];
        const double xv = x[static_cast<std::size_t>(r * in + i)];
        ref += xv * wv;
        mag += std::fabs(xv * wv);
      }
      if (int8_cpu) {
        for (std::int64_t b = 0; b < in; b += 32) {
          double amax = 0.0, wsum = 0.0;
          for (std::int64_t i = b; i < b + 32; ++i) {
            amax = std::max(amax, std::fabs(static_cast<double>(x[static_cast<std::size_t>(r * in + i)])));
            wsum += std::fabs(static_cast<double>(wf[static_cast<std::size_t>(j * kK + i)]));
          }
          act += amax / 254.0 * wsum;
        }
      }
      const std::size_t at = static_cast<std::size_t>(r * out + j);
      if (c.beta != 0.0f) {
        ref += static_cast<double>(c.beta) * y0[at];
        mag += std::fabs(static_cast<double>(c.beta) * y0[at]);
      }
      const double gpu_bound = gpu_rel * mag + 1e-30;
      const double cpu_bound = (in + 2) * unit * (mag + act) + act * (1.0 + 1e-4) + 1e-30;
      if (bad < 5) {
        EXPECT_NEAR(got[at], ref, gpu_bound) << "reference, y[" << r << ", " << j << "]";
        EXPECT_NEAR(got[at], cpu[at], gpu_bound + cpu_bound) << "CPU backend, y[" << r << ", " << j << "]";
      }
      if (std::fabs(got[at] - ref) > gpu_bound || std::fabs(got[at] - cpu[at]) > gpu_bound + cpu_bound) ++bad;
    }
  }
  EXPECT_EQ(bad, 0) << "elements out of bound (first 5 reported)";
}

std::vector<ProductCase> ProductCases() {
  std::vector<ProductCase> cases;
  for (QuantFormat f : kFormats) {
    for (float beta : {0.0f, 1.0f}) {
      for (std::int64_t m : {1, 3, 8, 9, 70}) cases.push_back({f, true, m, beta});  // GEMV up to 8, then panels
      for (std::int64_t m : {5, 70}) cases.push_back({f, false, m, beta});          // QLoRA's backward product
    }
  }
  return cases;
}

INSTANTIATE_TEST_SUITE_P(EveryFormatAndPath, GpuQuantProduct, ::testing::ValuesIn(ProductCases()),
                         [](const auto& param_info) { return CaseName(param_info.param); });

// ---- workloads ----------------------------------------------------------------
WorkloadConfig QuantConfig(WorkloadKind kind, QuantFormat format, std::int64_t batch) {
  WorkloadConfig c;
  c.kind = kind;
  c.preset = *FindPreset("tiny-quant");
  c.precision = DType::kBF16;
  c.batch = batch;
  switch (kind) {
    case WorkloadKind::kPrefill:
      c.prompt_tokens = 7;
      break;
    case WorkloadKind::kDecode:
      c.prompt_tokens = 5;
      c.generated_tokens = 3;
      break;
    default:
      c.sequence_tokens = 6;
      c.lora_rank = 4;
      break;
  }
  c.weight_format = format;
  c.seed = 7;
  return c;
}

// Decode batch 3 takes the GEMV, batch 9 the panels; prefill the panels;
// QLoRA the panels forward and backward.
using PlanCase = std::tuple<WorkloadKind, QuantFormat, std::int64_t>;
class GpuQuantPlanEqualsArena : public ::testing::TestWithParam<PlanCase> {};

TEST_P(GpuQuantPlanEqualsArena, BufferByBuffer) {
  LB_GPU_OR_SKIP(gpu);
  const auto& [kind, format, batch] = GetParam();
  const WorkloadConfig config = QuantConfig(kind, format, batch);
  absl::StatusOr<std::unique_ptr<Workload>> w = Workload::Create(*gpu, config);
  ASSERT_TRUE(w.ok()) << w.status();
  ASSERT_TRUE((*w)->Step().ok());
  ASSERT_TRUE((*w)->Step().ok());
  ASSERT_TRUE(gpu->device().Synchronize().ok());
  absl::StatusOr<MemoryPlan> plan = PlanMemory(config);
  ASSERT_TRUE(plan.ok()) << plan.status();
  const Arena& arena = (*w)->arena();
  EXPECT_EQ(arena.high_water_bytes(), plan->total_bytes);
  ASSERT_EQ(arena.records().size(), plan->buffers.size());
  for (std::size_t i = 0; i < plan->buffers.size(); ++i) {
    EXPECT_EQ(arena.records()[i].name, plan->buffers[i].name) << i;
    EXPECT_EQ(arena.records()[i].bytes, plan->buffers[i].bytes) << plan->buffers[i].name;
  }
  if (kind == WorkloadKind::kTrainLora) {
    EXPECT_TRUE(std::isfinite(*(*w)->last_loss()));
  }
}

INSTANTIATE_TEST_SUITE_P(
    QuantizedWorkloads, GpuQuantPlanEqualsArena,
    ::testing::Values(PlanCase{WorkloadKind::kPrefill, QuantFormat::kQ4_0, 3},
                      PlanCase{WorkloadKind::kPrefill, QuantFormat::kQ8_0, 3},
                      PlanCase{WorkloadKind::kPrefill, QuantFormat::kNf4, 3},
                      PlanCase{WorkloadKind::kDecode, QuantFormat::kQ4_0, 3},
                      PlanCase{WorkloadKind::kDecode, QuantFormat::kQ8_0, 3},
                      PlanCase{WorkloadKind::kDecode, QuantFormat::kNf4, 3},
                      PlanCase{WorkloadKind::kDecode, QuantFormat::kQ4_0, 9},
                      PlanCase{WorkloadKind::kTrainLora, QuantFormat::kNf4, 3},
                      PlanCase{WorkloadKind::kTrainLora, QuantFormat::kQ4_0, 3}),
    [](const auto& param_info) {
      std::string name = std::string(WorkloadKindName(std::get<0>(param_info.param))) + "_" +
                         std::string(QuantFormatName(std::get<1>(param_info.param))) + "_b" +
                         std::to_string(std::get<2>(param_info.param));
      for (char& ch : name)
        if (ch == '-') ch = '_';
      return name;
    });

std::vector<float> Logits(Backend& backend, Workload& w) {
  const Tensor t = *testing::NamedBuffer(w, "logits");
  std::vector<float> v(static_cast<std::size_t>(t.numel()));
  EXPECT_TRUE(backend.device().Synchronize().ok());
  EXPECT_TRUE(backend.device().CopyDeviceToHost(v.data(), t.data, t.bytes()).ok());
  return v;
}

// The same seeded quantized model gives the CPU's logits: within 5% of the
// largest logit (the panels round activations to bf16 per layer, the CPU's
// AVX2 decode rounds them to int8 per block; both far below the 25% a 4-bit
// model differs from its fp32 original on this preset, and the 5% the bf16
// GPU-vs-CPU test allows).
TEST(GpuQuantWorkload, LogitsTrackTheCpu) {
  LB_GPU_OR_SKIP(gpu);
  for (WorkloadKind kind : {WorkloadKind::kPrefill, WorkloadKind::kDecode}) {
    for (QuantFormat f : kFormats) {
      SCOPED_TRACE(std::string(WorkloadKindName(kind)) + " " + std::string(QuantFormatName(f)));
      WorkloadConfig config = QuantConfig(kind, f, 2);
      if (kind == WorkloadKind::kDecode) config.generated_tokens = 1;  // no near-tie argmax can diverge
      auto c = Workload::Create(SharedCpu(), config);
      auto g = Workload::Create(*gpu, config);
      ASSERT_TRUE(c.ok()) << c.status();
      ASSERT_TRUE(g.ok()) << g.status();
      ASSERT_TRUE((*c)->Step().ok());
      ASSERT_TRUE((*g)->Step().ok());
      const std::vector<float> want = Logits(SharedCpu(), **c), got = Logits(*gpu, **g);
      ASSERT_EQ(want.size(), got.size());
      double spread = 0.0, worst = 0.0;
      for (std::size_t i = 0; i < want.size(); ++i) {
        spread = std::max(spread, std::fabs(static_cast<double>(want[i])));
        worst = std::max(worst, std::fabs(static_cast<double>(got[i]) - want[i]));
      }
      ASSERT_GT(spread, 0.1);
      EXPECT_LT(worst, 0.05 * spread);
    }
  }
}

// QLoRA on the GPU: fp32 adapters and AdamW over the frozen NF4 base learn
// the fixed batch, as on the CPU.
TEST(GpuQuantWorkload, QloraLossFallsOverTenSteps) {
  LB_GPU_OR_SKIP(gpu);
  auto w = Workload::Create(*gpu, QuantConfig(WorkloadKind::kTrainLora, QuantFormat::kNf4, 2));
  ASSERT_TRUE(w.ok()) << w.status();
  std::vector<double> losses;
  for (int i = 0; i < 10; ++i) {
    ASSERT_TRUE((*w)->Step().ok());
    ASSERT_TRUE((*w)->last_loss().has_value());
    losses.push_back(*(*w)->last_loss());
  }
  EXPECT_LT(losses.back(), losses.front() - 0.05) << "first " << losses.front() << " last " << losses.back();
}

}  // namespace
}  // namespace localbench::kernels::gpu_test
