// Every Backend op on the GPU against the CPU reference, on awkward shapes
// (sizes not multiples of 8/32/64, single tokens, GQA ratios 1, 4 and 7),
// with tolerances per storage dtype. Skips visibly without a GPU.
#include <cmath>
#include <cstdint>
#include <string>
#include <tuple>
#include <vector>

#include <gtest/gtest.h>

#include "gpu_test_util.h"

namespace localbench::kernels::gpu_test {
namespace {

const DType kDTypes[] = {DType::kF32, DType::kBF16, DType::kF16};

std::string Name(DType d) { return std::string(DTypeName(d)); }

TEST(GpuOps, FillAndRandomFillMatchCpuExactly) {
  LB_GPU_OR_SKIP(gpu);
  for (DType d : kDTypes) {
    Dual x(*gpu, d, {1001}, std::vector<float>(1001, 0.f));
    ASSERT_TRUE(SharedCpu().FillRandomUniform(x.cpu.t, 42, 0.02f).ok());
    ASSERT_TRUE(gpu->FillRandomUniform(x.gpu.t, 42, 0.02f).ok());
    ExpectClose(x.cpu.Download(), x.gpu.Download(), 0, 0, "FillRandomUniform " + Name(d));
    ASSERT_TRUE(SharedCpu().Fill(x.cpu.t, -1.25f).ok());
    ASSERT_TRUE(gpu->Fill(x.gpu.t, -1.25f).ok());
    ExpectClose(x.cpu.Download(), x.gpu.Download(), 0, 0, "Fill " + Name(d));
  }
}

TEST(GpuOps, ConvertRoundsLikeCpu) {
  LB_GPU_OR_SKIP(gpu);
  std::vector<float> v = Random(777, 1, 3.f);
  v[0] = 1e-6f;   // f16 subnormal
  v[1] = 70000.f; // f16 overflow
  for (DType from : kDTypes) {
    for (DType to : kDTypes) {
      Dual src(*gpu, from, {777}, v);
      Dual dst(*gpu, to, {777}, std::vector<float>(777, 0.f));
      ASSERT_TRUE(SharedCpu().Convert(src.cpu.t, dst.cpu.t).ok());
      ASSERT_TRUE(gpu->Convert(src.gpu.t, dst.gpu.t).ok());
      ExpectClose(dst.cpu.Download(), dst.gpu.Download(), 0, 0, "Convert " + Name(from) + "->" + Name(to));
    }
  }
}

TEST(GpuOps, AxpyScaleBias) {
  LB_GPU_OR_SKIP(gpu);
  CpuBackend& cpu = SharedCpu();
  for (DType d : kDTypes) {
    Dual x(*gpu, DType::kF32, {13, 45}, Random(13 * 45, 2));
    Dual y(*gpu, d, {13, 45}, Random(13 * 45, 3));
    ASSERT_TRUE(cpu.Axpy(0.37f, x.cpu.t, y.cpu.t).ok());
    ASSERT_TRUE(gpu->Axpy(0.37f, x.gpu.t, y.gpu.t).ok());
    ExpectClose(y.cpu.Download(), y.gpu.Download(), 1e-6, RelTol(d), "Axpy " + Name(d));
    ASSERT_TRUE(cpu.Scale(y.cpu.t, -1.5f).ok());
    ASSERT_TRUE(gpu->Scale(y.gpu.t, -1.5f).ok());
    ExpectClose(y.cpu.Download(), y.gpu.Download(), 1e-6, RelTol(d), "Scale " + Name(d));
    Dual bias(*gpu, d, {45}, Random(45, 4));
    ASSERT_TRUE(cpu.AddBias(x.cpu.t, bias.cpu.t).ok());
    ASSERT_TRUE(gpu->AddBias(x.gpu.t, bias.gpu.t).ok());
    ExpectClose(x.cpu.Download(), x.gpu.Download(), 1e-6, 1e-6, "AddBias " + Name(d));
    Dual d_out(*gpu, DType::kF32, {131, 45}, Random(131 * 45, 5));
    ASSERT_TRUE(cpu.BiasBackward(d_out.cpu.t, bias.cpu.t).ok());
    ASSERT_TRUE(gpu->BiasBackward(d_out.gpu.t, bias.gpu.t).ok());
    ExpectClose(bias.cpu.Download(), bias.gpu.Download(), 1e-4, RelTol(d), "BiasBackward " + Name(d));
  }
}

TEST(GpuOps, Embedding) {
  LB_GPU_OR_SKIP(gpu);
  CpuBackend& cpu = SharedCpu();
  const std::int64_t vocab = 97, hidden = 45, n = 23;
  std::vector<std::int32_t> ids(n);
  for (std::int64_t i = 0; i < n; ++i) ids[static_cast<std::size_t>(i)] = static_cast<std::int32_t>((i * 7) % 11);  // repeats
  ids[3] = 96;
  IntBuf ids_cpu(cpu, ids), ids_gpu(*gpu, ids);
  for (DType d : kDTypes) {
    Dual table(*gpu, d, {vocab, hidden}, Random(vocab * hidden, 6));
    Dual out(*gpu, DType::kF32, {n, hidden}, std::vector<float>(n * hidden, 0.f));
    ASSERT_TRUE(cpu.EmbeddingForward(table.cpu.t, ids_cpu.data, out.cpu.t).ok());
    ASSERT_TRUE(gpu->EmbeddingForward(table.gpu.t, ids_gpu.data, out.gpu.t).ok());
    ExpectClose(out.cpu.Download(), out.gpu.Download(), 0, 0, "EmbeddingForward " + Name(d));
    Dual d_out(*gpu, DType::kF32, {n, hidden}, Random(n * hidden, 7));
    ASSERT_TRUE(cpu.EmbeddingBackward(d_out.cpu.t, ids_cpu.data, table.cpu.t).ok());
    ASSERT_TRUE(gpu->EmbeddingBackward(d_out.gpu.t, ids_gpu.data, table.gpu.t).ok());
    // Same order of additions on both: equal up to the last rounding.
    ExpectClose(table.cpu.Download(), table.gpu.Download(), 1e-6, RelTol(d), "EmbeddingBackward " + Name(d));
  }
}

TEST(GpuOps, RmsNorm) {
  LB_GPU_OR_SKIP(gpu);
  CpuBackend& cpu = SharedCpu();
  for (std::int64_t hidden : {77, 1000, 2051}) {
    for (DType d : kDTypes) {
      const std::int64_t n = 13;
      const std::string tag = Name(d) + " H=" + std::to_string(hidden);
      Dual x(*gpu, DType::kF32, {n, hidden}, Random(n * hidden, 8, 2.f));
      Dual w(*gpu, d, {hidden}, Random(hidden, 9));
      Dual out(*gpu, DType::kF32, {n, hidden}, std::vector<float>(n * hidden, 0.f));
      Dual rstd(*gpu, DType::kF32, {n}, std::vector<float>(n, 0.f));
      ASSERT_TRUE(cpu.RmsNormForward(x.cpu.t, w.cpu.t, 1e-5f, out.cpu.t, rstd.cpu.t).ok());
      ASSERT_TRUE(gpu->RmsNormForward(x.gpu.t, w.gpu.t, 1e-5f, out.gpu.t, rstd.gpu.t).ok());
      ExpectClose(out.cpu.Download(), out.gpu.Download(), 1e-5, 1e-4, "RmsNormForward out " + tag);
      ExpectClose(rstd.cpu.Download(), rstd.gpu.Download(), 0, 1e-5, "RmsNormForward rstd " + tag);
      Dual d_out(*gpu, DType::kF32, {n, hidden}, Random(n * hidden, 10));
      Dual d_x(*gpu, DType::kF32, {n, hidden}, Random(n * hidden, 11));  // accumulates
      Dual d_w(*gpu, d, {hidden}, Random(hidden, 12));
      ASSERT_TRUE(cpu.RmsNormBackward(d_out.cpu.t, x.cpu.t, w.cpu.t, rstd.cpu.t, d_x.cpu.t, d_w.cpu.t).ok());
      ASSERT_TRUE(gpu->RmsNormBackward(d_out.gpu.t, x.gpu.t, w.gpu.t, rstd.gpu.t, d_x.gpu.t, d_w.gpu.t).ok());
      ExpectClose(d_x.cpu.Download(), d_x.gpu.Download(), 1e-5, 1e-4, "RmsNormBackward d_x " + tag);
      ExpectClose(d_w.cpu.Download(), d_w.gpu.Download(), 1e-4, RelTol(d), "RmsNormBackward d_w " + tag);
      // Frozen weight: no d_weight.
      ASSERT_TRUE(gpu->RmsNormBackward(d_out.gpu.t, x.gpu.t, w.gpu.t, rstd.gpu.t, d_x.gpu.t, Tensor{}).ok());
    }
  }
}

TEST(GpuOps, RopeForwardAndBackward) {
  LB_GPU_OR_SKIP(gpu);
  CpuBackend& cpu = SharedCpu();
  struct Case {
    std::int64_t rows, heads, dim, seq_len, offset;
    float theta;
  };
  for (const Case& c : {Case{37, 3, 24, 5, 7, 10000.f}, Case{6, 8, 128, 6, 4090, 500000.f},
                        Case{3, 14, 64, 1, 1000, 1000000.f}}) {
    const std::int64_t n = c.rows * c.heads * c.dim;
    const std::string tag = "D=" + std::to_string(c.dim) + " offset=" + std::to_string(c.offset);
    Dual x(*gpu, DType::kF32, {c.rows, c.heads, c.dim}, Random(static_cast<std::size_t>(n), 13));
    ASSERT_TRUE(cpu.RopeForward(x.cpu.t, c.seq_len, c.offset, c.theta).ok());
    ASSERT_TRUE(gpu->RopeForward(x.gpu.t, c.seq_len, c.offset, c.theta).ok());
    ExpectClose(x.cpu.Download(), x.gpu.Download(), 2e-6, 1e-5, "RopeForward " + tag);
    ASSERT_TRUE(cpu.RopeBackward(x.cpu.t, c.seq_len, c.offset, c.theta).ok());
    ASSERT_TRUE(gpu->RopeBackward(x.gpu.t, c.seq_len, c.offset, c.theta).ok());
    ExpectClose(x.cpu.Download(), x.gpu.Download(), 2e-6, 1e-5, "RopeBackward " + tag);
  }
}

// (B, T, Hq, Hkv, D): GQA ratios 1, 4 and 7; T = 1; sizes off every multiple.
using AttnCase = std::tuple<int, int, int, int, int>;
class GpuAttention : public ::testing::TestWithParam<AttnCase> {};

TEST_P(GpuAttention, ForwardAndBackwardMatchCpu) {
  LB_GPU_OR_SKIP(gpu);
  CpuBackend& cpu = SharedCpu();
  const auto [b, t, hq, hkv, d] = GetParam();
  const std::int64_t nq = std::int64_t{b} * t * hq * d, nk = std::int64_t{b} * t * hkv * d;
  Dual q(*gpu, DType::kF32, {b, t, hq, d}, Random(nq, 20, 2.f));
  Dual k(*gpu, DType::kF32, {b, t, hkv, d}, Random(nk, 21, 2.f));
  Dual v(*gpu, DType::kF32, {b, t, hkv, d}, Random(nk, 22));
  Dual out(*gpu, DType::kF32, {b, t, hq, d}, std::vector<float>(nq, 0.f));
  Dual lse(*gpu, DType::kF32, {b, hq, t}, std::vector<float>(std::int64_t{b} * hq * t, 0.f));
  ASSERT_TRUE(cpu.AttentionForward(q.cpu.t, k.cpu.t, v.cpu.t, out.cpu.t, lse.cpu.t).ok());
  ASSERT_TRUE(gpu->AttentionForward(q.gpu.t, k.gpu.t, v.gpu.t, out.gpu.t, lse.gpu.t).ok());
  ExpectClose(out.cpu.Download(), out.gpu.Download(), 1e-5, 1e-4, "attention out");
  ExpectClose(lse.cpu.Download(), lse.gpu.Download(), 1e-5, 1e-5, "attention lse");

  Dual d_out(*gpu, DType::kF32, {b, t, hq, d}, Random(nq, 23));
  Dual d_q(*gpu, DType::kF32, {b, t, hq, d}, Random(nq, 24));  // overwritten
  Dual d_k(*gpu, DType::kF32, {b, t, hkv, d}, Random(nk, 25));
  Dual d_v(*gpu, DType::kF32, {b, t, hkv, d}, Random(nk, 26));
  ASSERT_TRUE(cpu.AttentionBackward(q.cpu.t, k.cpu.t, v.cpu.t, out.cpu.t, lse.cpu.t, d_out.cpu.t, d_q.cpu.t, d_k.cpu.t,
                                    d_v.cpu.t)
                  .ok());
  ASSERT_TRUE(gpu->AttentionBackward(q.gpu.t, k.gpu.t, v.gpu.t, out.gpu.t, lse.gpu.t, d_out.gpu.t, d_q.gpu.t,
                                     d_k.gpu.t, d_v.gpu.t)
                  .ok());
  ExpectClose(d_q.cpu.Download(), d_q.gpu.Download(), 1e-4, 1e-3, "attention d_q");
  ExpectClose(d_k.cpu.Download(), d_k.gpu.Download(), 1e-4, 1e-3, "attention d_k");
  ExpectClose(d_v.cpu.Download(), d_v.gpu.Download(), 1e-4, 1e-3, "attention d_v");
}

INSTANTIATE_TEST_SUITE_P(Shapes, GpuAttention,
                         ::testing::Values(AttnCase{2, 37, 4, 4, 40}, AttnCase{1, 1, 8, 2, 64},
                                           AttnCase{2, 70, 8, 2, 64}, AttnCase{1, 45, 7, 1, 128},
                                           AttnCase{3, 19, 14, 2, 24}, AttnCase{1, 33, 4, 1, 256}));

// (B, Tmax, length, Hq, Hkv, D, cache dtype).
using DecodeCase = std::tuple<int, int, int, int, int, int, DType>;
class GpuDecode : public ::testing::TestWithParam<DecodeCase> {};

TEST_P(GpuDecode, CacheWriteAndDecodeMatchCpu) {
  LB_GPU_OR_SKIP(gpu);
  CpuBackend& cpu = SharedCpu();
  const auto [b, t_max, length, hq, hkv, d, dt] = GetParam();
  const std::int64_t nc = std::int64_t{b} * t_max * hkv * d;
  Dual kc(*gpu, dt, {b, t_max, hkv, d}, Random(nc, 30, 2.f));
  Dual vc(*gpu, dt, {b, t_max, hkv, d}, Random(nc, 31));
  // The newest position arrives through KvCacheWrite, as in decode.
  const std::int64_t ns = std::int64_t{b} * hkv * d;
  Dual k_new(*gpu, DType::kF32, {b, 1, hkv, d}, Random(ns, 32, 2.f));
  Dual v_new(*gpu, DType::kF32, {b, 1, hkv, d}, Random(ns, 33));
  ASSERT_TRUE(cpu.KvCacheWrite(k_new.cpu.t, kc.cpu.t, length - 1).ok());
  ASSERT_TRUE(cpu.KvCacheWrite(v_new.cpu.t, vc.cpu.t, length - 1).ok());
  ASSERT_TRUE(gpu->KvCacheWrite(k_new.gpu.t, kc.gpu.t, length - 1).ok());
  ASSERT_TRUE(gpu->KvCacheWrite(v_new.gpu.t, vc.gpu.t, length - 1).ok());
  ExpectClose(kc.cpu.Download(), kc.gpu.Download(), 0, 0, "KvCacheWrite");
  const std::int64_t nq = std::int64_t{b} * hq * d;
  Dual q(*gpu, DType::kF32, {b, hq, d}, Random(nq, 34, 2.f));
  Dual out(*gpu, DType::kF32, {b, hq, d}, std::vector<float>(nq, 0.f));
  ASSERT_TRUE(cpu.AttentionDecode(q.cpu.t, kc.cpu.t, vc.cpu.t, length, out.cpu.t).ok());
  ASSERT_TRUE(gpu->AttentionDecode(q.gpu.t, kc.gpu.t, vc.gpu.t, length, out.gpu.t).ok());
  ExpectClose(out.cpu.Download(), out.gpu.Download(), 1e-5, 1e-4, "AttentionDecode");
}

INSTANTIATE_TEST_SUITE_P(Shapes, GpuDecode,
                         ::testing::Values(DecodeCase{3, 50, 1, 4, 4, 64, DType::kF32},
                                           DecodeCase{2, 50, 33, 8, 2, 128, DType::kBF16},
                                           DecodeCase{1, 70, 70, 7, 1, 40, DType::kF16},
                                           DecodeCase{2, 1000, 999, 14, 2, 64, DType::kBF16}));

TEST(GpuOps, SoftmaxCrossEntropyArgmax) {
  LB_GPU_OR_SKIP(gpu);
  CpuBackend& cpu = SharedCpu();
  for (std::int64_t vocab : {3, 1001, 50021}) {
    const std::int64_t n = 7;
    const std::string tag = "V=" + std::to_string(vocab);
    std::vector<float> logits = Random(n * vocab, 40, 8.f);
    logits[static_cast<std::size_t>(vocab - 1)] = 100.f;  // a tie in row 0, lowest index must win
    logits[0] = 100.f;
    Dual x(*gpu, DType::kF32, {n, vocab}, logits);
    Dual sm(*gpu, DType::kF32, {n, vocab}, std::vector<float>(n * vocab, 0.f));
    ASSERT_TRUE(cpu.Softmax(x.cpu.t, sm.cpu.t).ok());
    ASSERT_TRUE(gpu->Softmax(x.gpu.t, sm.gpu.t).ok());
    ExpectClose(sm.cpu.Download(), sm.gpu.Download(), 1e-7, 1e-3, "Softmax " + tag);

    std::vector<std::int32_t> targets(n);
    for (std::int64_t i = 0; i < n; ++i) targets[static_cast<std::size_t>(i)] = static_cast<std::int32_t>((i * 31) % vocab);
    IntBuf tc(cpu, targets), tg(*gpu, targets);
    Dual losses(*gpu, DType::kF32, {n}, std::vector<float>(n, 0.f));
    Dual grad(*gpu, DType::kF32, {n, vocab}, std::vector<float>(n * vocab, 0.f));
    ASSERT_TRUE(cpu.CrossEntropy(x.cpu.t, tc.data, losses.cpu.t, grad.cpu.t, 0.125f).ok());
    ASSERT_TRUE(gpu->CrossEntropy(x.gpu.t, tg.data, losses.gpu.t, grad.gpu.t, 0.125f).ok());
    // The CPU sums up to 50k exponentials in sequence, the GPU as a tree:
    // the log-sum-exp agrees to about 1e-4.
    ExpectClose(losses.cpu.Download(), losses.gpu.Download(), 1e-3, 1e-5, "CrossEntropy loss " + tag);
    ExpectClose(grad.cpu.Download(), grad.gpu.Download(), 1e-7, 1e-3, "CrossEntropy grad " + tag);

    IntBuf ac(cpu, std::vector<std::int32_t>(n, -1)), ag(*gpu, std::vector<std::int32_t>(n, -1));
    ASSERT_TRUE(cpu.Argmax(x.cpu.t, ac.data).ok());
    ASSERT_TRUE(gpu->Argmax(x.gpu.t, ag.data).ok());
    EXPECT_EQ(ac.Download(), ag.Download()) << "Argmax " + tag;

    // In place: the gradient overwrites the logits; losses without a gradient.
    ASSERT_TRUE(cpu.CrossEntropy(x.cpu.t, tc.data, losses.cpu.t, x.cpu.t, 1.f).ok());
    ASSERT_TRUE(gpu->CrossEntropy(x.gpu.t, tg.data, losses.gpu.t, x.gpu.t, 1.f).ok());
    ExpectClose(x.cpu.Download(), x.gpu.Download(), 1e-7, 1e-3, "CrossEntropy in place " + tag);
    ExpectClose(losses.cpu.Download(), losses.gpu.Download(), 1e-3, 1e-5, "CrossEntropy in-place loss " + tag);
    ASSERT_TRUE(gpu->CrossEntropy(grad.gpu.t, tg.data, losses.gpu.t, Tensor{}, 1.f).ok());
  }
}

TEST(GpuOps, SwiGlu) {
  LB_GPU_OR_SKIP(gpu);
  CpuBackend& cpu = SharedCpu();
  const std::int64_t n = 1001;
  Dual gate(*gpu, DType::kF32, {7, 143}, Random(n, 50, 6.f));
  Dual up(*gpu, DType::kF32, {7, 143}, Random(n, 51));
  Dual out(*gpu, DType::kF32, {7, 143}, std::vector<float>(n, 0.f));
  ASSERT_TRUE(cpu.SwiGluForward(gate.cpu.t, up.cpu.t, out.cpu.t).ok());
  ASSERT_TRUE(gpu->SwiGluForward(gate.gpu.t, up.gpu.t, out.gpu.t).ok());
  ExpectClose(out.cpu.Download(), out.gpu.Download(), 1e-6, 1e-5, "SwiGluForward");
  Dual d_out(*gpu, DType::kF32, {7, 143}, Random(n, 52));
  Dual d_gate(*gpu, DType::kF32, {7, 143}, std::vector<float>(n, 0.f));
  Dual d_up(*gpu, DType::kF32, {7, 143}, std::vector<float>(n, 0.f));
  ASSERT_TRUE(cpu.SwiGluBackward(d_out.cpu.t, gate.cpu.t, up.cpu.t, d_gate.cpu.t, d_up.cpu.t).ok());
  ASSERT_TRUE(gpu->SwiGluBackward(d_out.gpu.t, gate.gpu.t, up.gpu.t, d_gate.gpu.t, d_up.gpu.t).ok());
  ExpectClose(d_gate.cpu.Download(), d_gate.gpu.Download(), 1e-6, 1e-5, "SwiGluBackward d_gate");
  ExpectClose(d_up.cpu.Download(), d_up.gpu.Download(), 1e-6, 1e-5, "SwiGluBackward d_up");
}

TEST(GpuOps, AdamW) {
  LB_GPU_OR_SKIP(gpu);
  CpuBackend& cpu = SharedCpu();
  for (DType pd : kDTypes) {
    for (DType gd : {DType::kF32, DType::kBF16}) {
      const std::int64_t n = 999;
      const std::string tag = "param " + Name(pd) + " grad " + Name(gd);
      Dual p(*gpu, pd, {n}, Random(n, 60));
      Dual g(*gpu, gd, {n}, Random(n, 61, 0.1f));
      Dual m(*gpu, DType::kF32, {n}, Random(n, 62, 0.01f));
      Dual v(*gpu, DType::kF32, {n}, Random(n, 63, 0.001f));
      ASSERT_TRUE(cpu.Scale(v.cpu.t, 0.f).ok());  // second moments start at 0 (non-negative)
      ASSERT_TRUE(gpu->Scale(v.gpu.t, 0.f).ok());
      for (std::int64_t step = 1; step <= 3; ++step) {
        AdamWParams ap;
        ap.learning_rate = 1e-2f;
        ap.weight_decay = 0.1f;
        ap.step = step;
        ASSERT_TRUE(cpu.AdamW(p.cpu.t, g.cpu.t, m.cpu.t, v.cpu.t, ap).ok());
        ASSERT_TRUE(gpu->AdamW(p.gpu.t, g.gpu.t, m.gpu.t, v.gpu.t, ap).ok());
      }
      ExpectClose(p.cpu.Download(), p.gpu.Download(), 1e-6, RelTol(pd), "AdamW param " + tag);
      ExpectClose(m.cpu.Download(), m.gpu.Download(), 1e-7, 1e-5, "AdamW m " + tag);
      ExpectClose(v.cpu.Download(), v.gpu.Download(), 1e-9, 1e-5, "AdamW v " + tag);
    }
  }
}

// ---- GEMM: every path, dtype combination and transposition ------------------
// (path, input dtype, output dtype, M, N, K)
using GemmCase = std::tuple<gpu::GemmPath, DType, DType, int, int, int>;
class GpuGemm : public ::testing::TestWithParam<GemmCase> {};

TEST_P(GpuGemm, MatchesCpu) {
  LB_GPU_OR_SKIP(gpu);
  CpuBackend& cpu = SharedCpu();
  const auto [path, in, out_t, m, n, k] = GetParam();
  const gpu::GemmPath saved = gpu->gemm_path();
  gpu->SetGemmPath(path);
  // A vendor case without the vendor library would quietly test the
  // portable path under the vendor's name: skip it, visibly, instead.
  if (gpu->gemm_path() != path) {
    const gpu::GemmPath taken = gpu->gemm_path();
    gpu->SetGemmPath(saved);
    ASSERT_EQ(path, gpu::GemmPath::kVendor) << "only the vendor path may be unavailable";
    GTEST_SKIP() << "the vendor GEMM (cuBLASLt) is not available on " << gpu->name() << " (this backend would use "
                 << gpu::GemmPathName(taken) << ")";
  }
  for (bool ta : {false, true}) {
    for (bool tb : {false, true}) {
      for (float beta : {0.f, 0.5f}) {
        const std::string tag = std::string(gpu::GemmPathName(path)) + " " + Name(in) + "->" + Name(out_t) +
                                " ta=" + std::to_string(ta) + " tb=" + std::to_string(tb) +
                                " beta=" + std::to_string(beta);
        Dual a(*gpu, in, ta ? std::vector<std::int64_t>{k, m} : std::vector<std::int64_t>{m, k},
               Random(static_cast<std::size_t>(m) * k, 70));
        Dual b(*gpu, in, tb ? std::vector<std::int64_t>{n, k} : std::vector<std::int64_t>{k, n},
               Random(static_cast<std::size_t>(k) * n, 71));
        Dual c(*gpu, out_t, {m, n}, Random(static_cast<std::size_t>(m) * n, 72));
        const std::uint64_t ws_bytes = GemmWorkspaceBytes(m, n, k, in, in, out_t);
        Buf ws_cpu(cpu, DType::kF32, {static_cast<std::int64_t>(ws_bytes / 4 + 1)});
        ASSERT_TRUE(cpu.Gemm(ta, tb, 0.75f, a.cpu.t, b.cpu.t, beta, c.cpu.t, ws_bytes ? ws_cpu.t : Tensor{}).ok());
        absl::Status s = gpu->Gemm(ta, tb, 0.75f, a.gpu.t, b.gpu.t, beta, c.gpu.t, Tensor{});
        ASSERT_TRUE(s.ok()) << tag << ": " << s;
        // fp32 sums of k products of values below 1: order differences stay
        // far below 1e-5 * k.
        ExpectClose(c.cpu.Download(), c.gpu.Download(), 1e-5 * k, RelTol(out_t), tag);
      }
    }
  }
  gpu->SetGemmPath(saved);
}

std::vector<GemmCase> GemmCases() {
  std::vector<GemmCase> cases;
  const int shapes[][3] = {{1, 77, 130}, {5, 33, 17}, {67, 129, 95}, {130, 200, 64}, {257, 129, 301}, {8, 1000, 264}};
  for (gpu::GemmPath p : {gpu::GemmPath::kVendor, gpu::GemmPath::kPortable, gpu::GemmPath::kSimt}) {
    for (DType in : kDTypes) {
      for (const auto& s : shapes) cases.emplace_back(p, in, DType::kF32, s[0], s[1], s[2]);
      if (in != DType::kF32) cases.emplace_back(p, in, in, 67, 129, 95);  // 16-bit output
    }
  }
  return cases;
}

std::string GemmCaseName(const ::testing::TestParamInfo<GemmCase>& param_info) {
  const GemmCase& c = param_info.param;
  return std::string(gpu::GemmPathName(std::get<0>(c))) + "_" + Name(std::get<1>(c)) + "_" + Name(std::get<2>(c)) +
         "_" + std::to_string(std::get<3>(c)) + "x" + std::to_string(std::get<4>(c)) + "x" +
         std::to_string(std::get<5>(c));
}

INSTANTIATE_TEST_SUITE_P(Paths, GpuGemm, ::testing::ValuesIn(GemmCases()), GemmCaseName);

TEST(GpuOps, MixedDtypeGemmFallsBackToPortable) {
  LB_GPU_OR_SKIP(gpu);
  CpuBackend& cpu = SharedCpu();
  const int m = 9, n = 70, k = 33;
  Dual a(*gpu, DType::kF32, {m, k}, Random(m * k, 80));
  Dual b(*gpu, DType::kBF16, {n, k}, Random(n * k, 81));
  Dual c(*gpu, DType::kF32, {m, n}, std::vector<float>(m * n, 0.f));
  const std::uint64_t ws_bytes = GemmWorkspaceBytes(m, n, k, DType::kF32, DType::kBF16, DType::kF32);
  Buf ws(cpu, DType::kF32, {static_cast<std::int64_t>(ws_bytes / 4 + 1)});
  ASSERT_TRUE(cpu.Gemm(false, true, 1.f, a.cpu.t, b.cpu.t, 0.f, c.cpu.t, ws_bytes ? ws.t : Tensor{}).ok());
  ASSERT_TRUE(gpu->Gemm(false, true, 1.f, a.gpu.t, b.gpu.t, 0.f, c.gpu.t, Tensor{}).ok());
  ExpectClose(c.cpu.Download(), c.gpu.Download(), 1e-5 * k, 1e-4, "mixed f32 x bf16");
}

// With the planned workspace, fp32 activations times 16-bit weights are
// staged to the weight's type in row blocks and run on matrix cores: equal
// to the CPU's exact product up to the rounding of A to 16 bits.
TEST(GpuOps, MixedGemmStagesActivationsThroughWorkspace) {
  LB_GPU_OR_SKIP(gpu);
  CpuBackend& cpu = SharedCpu();
  const gpu::GemmPath saved = gpu->gemm_path();
  struct Case {
    int m, n, k;
    bool ta, tb;
    bool small_ws;  // a workspace of 20 rows: several blocks
  };
  bool vendor_missing = false;
  for (gpu::GemmPath path : {gpu::GemmPath::kVendor, gpu::GemmPath::kPortable}) {
    gpu->SetGemmPath(path);
    if (gpu->gemm_path() != path) {  // no cuBLASLt: not the vendor path under its name
      ASSERT_EQ(path, gpu::GemmPath::kVendor);
      vendor_missing = true;
      continue;
    }
    for (DType wd : {DType::kBF16, DType::kF16}) {
      for (const Case& cs : {Case{67, 129, 95, false, true, false}, Case{300, 64, 130, false, false, true},
                             Case{45, 77, 40, true, true, true}, Case{129, 33, 64, true, false, false}}) {
        const std::string tag = std::string(gpu::GemmPathName(path)) + " " + Name(wd) + " " + std::to_string(cs.m) +
                                "x" + std::to_string(cs.n) + "x" + std::to_string(cs.k) +
                                (cs.small_ws ? " blocks" : "");
        Dual a(*gpu, DType::kF32, cs.ta ? std::vector<std::int64_t>{cs.k, cs.m} : std::vector<std::int64_t>{cs.m, cs.k},
               Random(static_cast<std::size_t>(cs.m) * cs.k, 90));
        Dual b(*gpu, wd, cs.tb ? std::vector<std::int64_t>{cs.n, cs.k} : std::vector<std::int64_t>{cs.k, cs.n},
               Random(static_cast<std::size_t>(cs.k) * cs.n, 91));
        Dual c(*gpu, DType::kF32, {cs.m, cs.n}, Random(static_cast<std::size_t>(cs.m) * cs.n, 92));
        const std::uint64_t planned = GemmWorkspaceBytes(cs.m, cs.n, cs.k, DType::kF32, wd, DType::kF32);
        const std::uint64_t ws_bytes = cs.small_ws ? static_cast<std::uint64_t>(cs.k) * 2 * 20 : planned;
        Buf ws_cpu(cpu, DType::kF32, {static_cast<std::int64_t>(planned / 4 + 1)});
        Buf ws_gpu(*gpu, DType::kF32, {static_cast<std::int64_t>(ws_bytes / 4)});
        ASSERT_TRUE(cpu.Gemm(cs.ta, cs.tb, 1.f, a.cpu.t, b.cpu.t, 0.25f, c.cpu.t, planned ? ws_cpu.t : Tensor{}).ok());
        absl::Status st = gpu->Gemm(cs.ta, cs.tb, 1.f, a.gpu.t, b.gpu.t, 0.25f, c.gpu.t, ws_gpu.t);
        ASSERT_TRUE(st.ok()) << tag << ": " << st;
        const double per_element = wd == DType::kBF16 ? 4e-3 : 5e-4;  // A rounded to the weight type
        ExpectClose(c.cpu.Download(), c.gpu.Download(), per_element * std::sqrt(static_cast<double>(cs.k)), 1e-3, tag);
      }
    }
  }
  gpu->SetGemmPath(saved);
  if (vendor_missing) GTEST_SKIP() << "portable path checked; the vendor GEMM (cuBLASLt) is not available";
}

}  // namespace
}  // namespace localbench::kernels::gpu_test
