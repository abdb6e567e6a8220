// Every Backend op on the GPU against the CPU reference, driven by one
// table of cases (test-backend-ops style): op, shape, storage dtype and
// tolerance per row, so adding a shape or a dtype is one line. Shapes are
// awkward on purpose (sizes off every multiple of 8/32/64, single tokens,
// GQA ratios 1, 4 and 7). A case whose op has no runner fails; nothing is
// skipped except, visibly, everything when there is no GPU. GEMM has its
// own table in gpu_gemm_test.cc (path x dtypes x shapes x transpositions).
#include <cmath>
#include <cstdint>
#include <functional>
#include <map>
#include <ostream>
#include <set>
#include <string>
#include <tuple>
#include <vector>

#include <gtest/gtest.h>

#include "gpu_test_util.h"

namespace localbench::kernels::gpu_test {
namespace {

const DType kDTypes[] = {DType::kF32, DType::kBF16, DType::kF16};

std::string Name(DType d) { return std::string(DTypeName(d)); }

// One row of the table. `shape` is read by the op's runner as documented
// in kRunners; `dtype` is the storage type of the op's parameter-like
// operand; `act` that of the activations and their gradients where the op
// accepts 16-bit ones (a 16-bit training run's working set, issue 13);
// outputs are compared as |cpu - gpu| <= atol + rtol |cpu|.
struct OpCase {
  std::string op;
  std::vector<std::int64_t> shape;
  DType dtype;
  double atol, rtol;
  DType act = DType::kF32;
};

using Runner = std::function<void(gpu::GpuBackend&, const OpCase&)>;

std::string Tag(const OpCase& c) {
  std::string t = c.op + " " + Name(c.dtype);
  if (c.act != DType::kF32) t += " act " + Name(c.act);
  for (std::int64_t d : c.shape) t += " " + std::to_string(d);
  return t;
}

// gtest and ctest print each case's parameter; without this they print the
// struct as raw bytes ("80-byte object <...>").
void PrintTo(const OpCase& c, std::ostream* os) {
  *os << Tag(c) << " atol " << c.atol << " rtol " << c.rtol;
}

// shape {n}: Fill and FillRandomUniform are bit-exact.
void RunFill(gpu::GpuBackend& g, const OpCase& c) {
  const std::int64_t n = c.shape[0];
  Dual x(g, c.dtype, {n}, std::vector<float>(static_cast<std::size_t>(n), 0.f));
  ASSERT_TRUE(SharedCpu().FillRandomUniform(x.cpu.t, 42, 0.02f).ok());
  ASSERT_TRUE(g.FillRandomUniform(x.gpu.t, 42, 0.02f).ok());
  ExpectClose(x.cpu.Download(), x.gpu.Download(), c.atol, c.rtol, "FillRandomUniform " + Tag(c));
  ASSERT_TRUE(SharedCpu().Fill(x.cpu.t, -1.25f).ok());
  ASSERT_TRUE(g.Fill(x.gpu.t, -1.25f).ok());
  ExpectClose(x.cpu.Download(), x.gpu.Download(), c.atol, c.rtol, "Fill " + Tag(c));
}

// shape {n}: dtype -> every dtype, with an f16 subnormal and overflow.
void RunConvert(gpu::GpuBackend& g, const OpCase& c) {
  const std::int64_t n = c.shape[0];
  std::vector<float> v = Random(static_cast<std::size_t>(n), 1, 3.f);
  v[0] = 1e-6f;    // f16 subnormal
  v[1] = 70000.f;  // f16 overflow
  for (DType to : kDTypes) {
    Dual src(g, c.dtype, {n}, v);
    Dual dst(g, to, {n}, std::vector<float>(static_cast<std::size_t>(n), 0.f));
    ASSERT_TRUE(SharedCpu().Convert(src.cpu.t, dst.cpu.t).ok());
    ASSERT_TRUE(g.Convert(src.gpu.t, dst.gpu.t).ok());
    ExpectClose(dst.cpu.Download(), dst.gpu.Download(), c.atol, c.rtol, Tag(c) + "->" + Name(to));
  }
}

// shape {rows, cols}: Axpy, Scale into `dtype`; AddBias/BiasBackward with a `dtype` bias.
void RunAxpyScaleBias(gpu::GpuBackend& g, const OpCase& c) {
  CpuBackend& cpu = SharedCpu();
  const std::int64_t r = c.shape[0], n = c.shape[1];
  const std::size_t rn = static_cast<std::size_t>(r * n);
  Dual x(g, DType::kF32, {r, n}, Random(rn, 2));
  Dual y(g, c.dtype, {r, n}, Random(rn, 3));
  ASSERT_TRUE(cpu.Axpy(0.37f, x.cpu.t, y.cpu.t).ok());
  ASSERT_TRUE(g.Axpy(0.37f, x.gpu.t, y.gpu.t).ok());
  ExpectClose(y.cpu.Download(), y.gpu.Download(), c.atol, c.rtol, "Axpy " + Tag(c));
  ASSERT_TRUE(cpu.Scale(y.cpu.t, -1.5f).ok());
  ASSERT_TRUE(g.Scale(y.gpu.t, -1.5f).ok());
  ExpectClose(y.cpu.Download(), y.gpu.Download(), c.atol, c.rtol, "Scale " + Tag(c));
  Dual bias(g, c.dtype, {n}, Random(static_cast<std::size_t>(n), 4));
  Dual xa(g, c.act, {r, n}, Random(rn, 2));
  ASSERT_TRUE(cpu.AddBias(xa.cpu.t, bias.cpu.t).ok());
  ASSERT_TRUE(g.AddBias(xa.gpu.t, bias.gpu.t).ok());
  ExpectClose(xa.cpu.Download(), xa.gpu.Download(), 1e-6, 1e-6, "AddBias " + Tag(c));
  Dual d_out(g, c.act, {131, n}, Random(static_cast<std::size_t>(131 * n), 5));
  ASSERT_TRUE(cpu.BiasBackward(d_out.cpu.t, bias.cpu.t).ok());
  ASSERT_TRUE(g.BiasBackward(d_out.gpu.t, bias.gpu.t).ok());
  ExpectClose(bias.cpu.Download(), bias.gpu.Download(), 1e-4, c.rtol, "BiasBackward " + Tag(c));
}

// shape {vocab, hidden, rows}: ids with repeats and the last id.
void RunEmbedding(gpu::GpuBackend& g, const OpCase& c) {
  CpuBackend& cpu = SharedCpu();
  const std::int64_t vocab = c.shape[0], hidden = c.shape[1], n = c.shape[2];
  std::vector<std::int32_t> ids(static_cast<std::size_t>(n));
  for (std::int64_t i = 0; i < n; ++i) ids[static_cast<std::size_t>(i)] = static_cast<std::int32_t>((i * 7) % 11);
  ids[3 % n] = static_cast<std::int32_t>(vocab - 1);
  IntBuf ids_cpu(cpu, ids), ids_gpu(g, ids);
  Dual table(g, c.dtype, {vocab, hidden}, Random(static_cast<std::size_t>(vocab * hidden), 6));
  Dual out(g, c.act, {n, hidden}, std::vector<float>(static_cast<std::size_t>(n * hidden), 0.f));
  ASSERT_TRUE(cpu.EmbeddingForward(table.cpu.t, ids_cpu.data, out.cpu.t).ok());
  ASSERT_TRUE(g.EmbeddingForward(table.gpu.t, ids_gpu.data, out.gpu.t).ok());
  ExpectClose(out.cpu.Download(), out.gpu.Download(), 0, 0, "EmbeddingForward " + Tag(c));
  Dual d_out(g, DType::kF32, {n, hidden}, Random(static_cast<std::size_t>(n * hidden), 7));
  ASSERT_TRUE(cpu.EmbeddingBackward(d_out.cpu.t, ids_cpu.data, table.cpu.t).ok());
  ASSERT_TRUE(g.EmbeddingBackward(d_out.gpu.t, ids_gpu.data, table.gpu.t).ok());
  // Same order of additions on both: equal up to the last rounding.
  ExpectClose(table.cpu.Download(), table.gpu.Download(), c.atol, c.rtol, "EmbeddingBackward " + Tag(c));
}

// shape {vocab, hidden, rows}: an id outside the table is the contract's
// InvalidArgument, reported at the next synchronisation (no trap), and the
// device stays usable.
void RunEmbeddingBadId(gpu::GpuBackend& g, const OpCase& c) {
  const std::int64_t vocab = c.shape[0], hidden = c.shape[1], n = c.shape[2];
  std::vector<std::int32_t> ids(static_cast<std::size_t>(n), 0);
  ids[static_cast<std::size_t>(n - 1)] = static_cast<std::int32_t>(vocab);
  IntBuf ids_gpu(g, ids);
  Buf table(g, c.dtype, {vocab, hidden});
  Buf out(g, DType::kF32, {n, hidden});
  ASSERT_TRUE(g.EmbeddingForward(table.t, ids_gpu.data, out.t).ok());  // queued; checked on the device
  const absl::Status s = g.device().Synchronize();
  EXPECT_EQ(s, IndexOutOfRange("EmbeddingForward", "ids", n - 1, vocab, vocab));
  EXPECT_FALSE(g.faulted());
  EXPECT_TRUE(g.device().Synchronize().ok()) << "the error is reported once and the device stays usable";
}

// shape {rows, hidden}: forward, backward with and without d_weight.
void RunRmsNorm(gpu::GpuBackend& g, const OpCase& c) {
  CpuBackend& cpu = SharedCpu();
  const std::int64_t n = c.shape[0], hidden = c.shape[1];
  const std::size_t nh = static_cast<std::size_t>(n * hidden);
  Dual x(g, c.act, {n, hidden}, Random(nh, 8, 2.f));
  Dual w(g, c.dtype, {hidden}, Random(static_cast<std::size_t>(hidden), 9));
  Dual out(g, c.act, {n, hidden}, std::vector<float>(nh, 0.f));
  // A 16-bit output may differ by its last bit (one rounding of two fp32 sums).
  const double out_rtol = c.act == DType::kBF16 ? 8e-3 : (c.act == DType::kF16 ? 1e-3 : 1e-4);
  Dual rstd(g, DType::kF32, {n}, std::vector<float>(static_cast<std::size_t>(n), 0.f));
  ASSERT_TRUE(cpu.RmsNormForward(x.cpu.t, w.cpu.t, 1e-5f, out.cpu.t, rstd.cpu.t).ok());
  ASSERT_TRUE(g.RmsNormForward(x.gpu.t, w.gpu.t, 1e-5f, out.gpu.t, rstd.gpu.t).ok());
  ExpectClose(out.cpu.Download(), out.gpu.Download(), 1e-5, out_rtol, "RmsNormForward out " + Tag(c));
  ExpectClose(rstd.cpu.Download(), rstd.gpu.Download(), 0, 1e-5, "RmsNormForward rstd " + Tag(c));
  Dual d_out(g, c.act, {n, hidden}, Random(nh, 10));
  Dual d_x(g, DType::kF32, {n, hidden}, Random(nh, 11));  // accumulates
  Dual d_w(g, c.dtype, {hidden}, Random(static_cast<std::size_t>(hidden), 12));
  ASSERT_TRUE(cpu.RmsNormBackward(d_out.cpu.t, x.cpu.t, w.cpu.t, rstd.cpu.t, d_x.cpu.t, d_w.cpu.t).ok());
  ASSERT_TRUE(g.RmsNormBackward(d_out.gpu.t, x.gpu.t, w.gpu.t, rstd.gpu.t, d_x.gpu.t, d_w.gpu.t).ok());
  ExpectClose(d_x.cpu.Download(), d_x.gpu.Download(), 1e-5, 1e-4, "RmsNormBackward d_x " + Tag(c));
  ExpectClose(d_w.cpu.Download(), d_w.gpu.Download(), c.atol, c.rtol, "RmsNormBackward d_w " + Tag(c));
  // Frozen weight: no d_weight.
  ASSERT_TRUE(g.RmsNormBackward(d_out.gpu.t, x.gpu.t, w.gpu.t, rstd.gpu.t, d_x.gpu.t, Tensor{}).ok());
}

// shape {rows, heads, dim, seq_len, offset, theta}.
void RunRope(gpu::GpuBackend& g, const OpCase& c) {
  CpuBackend& cpu = SharedCpu();
  const std::int64_t rows = c.shape[0], heads = c.shape[1], dim = c.shape[2], seq = c.shape[3], off = c.shape[4];
  const float theta = static_cast<float>(c.shape[5]);
  Dual x(g, c.act, {rows, heads, dim}, Random(static_cast<std::size_t>(rows * heads * dim), 13));
  ASSERT_TRUE(cpu.RopeForward(x.cpu.t, seq, off, theta).ok());
  ASSERT_TRUE(g.RopeForward(x.gpu.t, seq, off, theta).ok());
  ExpectClose(x.cpu.Download(), x.gpu.Download(), c.atol, c.rtol, "RopeForward " + Tag(c));
  ASSERT_TRUE(cpu.RopeBackward(x.cpu.t, seq, off, theta).ok());
  ASSERT_TRUE(g.RopeBackward(x.gpu.t, seq, off, theta).ok());
  ExpectClose(x.cpu.Download(), x.gpu.Download(), c.atol, c.rtol, "RopeBackward " + Tag(c));
}

// shape {B, T, Hq, Hkv, D}: forward (out, lse) and backward.
void RunAttention(gpu::GpuBackend& g, const OpCase& c) {
  CpuBackend& cpu = SharedCpu();
  const std::int64_t b = c.shape[0], t = c.shape[1], hq = c.shape[2], hkv = c.shape[3], d = c.shape[4];
  const std::size_t nq = static_cast<std::size_t>(b * t * hq * d), nk = static_cast<std::size_t>(b * t * hkv * d);
  Dual q(g, c.act, {b, t, hq, d}, Random(nq, 20, 2.f));
  Dual k(g, c.act, {b, t, hkv, d}, Random(nk, 21, 2.f));
  Dual v(g, c.act, {b, t, hkv, d}, Random(nk, 22));
  Dual out(g, c.act, {b, t, hq, d}, std::vector<float>(nq, 0.f));
  const double out_rtol = c.act == DType::kBF16 ? 8e-3 : (c.act == DType::kF16 ? 1e-3 : 1e-4);
  Dual lse(g, DType::kF32, {b, hq, t}, std::vector<float>(static_cast<std::size_t>(b * hq * t), 0.f));
  ASSERT_TRUE(cpu.AttentionForward(q.cpu.t, k.cpu.t, v.cpu.t, out.cpu.t, lse.cpu.t).ok());
  ASSERT_TRUE(g.AttentionForward(q.gpu.t, k.gpu.t, v.gpu.t, out.gpu.t, lse.gpu.t).ok());
  ExpectClose(out.cpu.Download(), out.gpu.Download(), 1e-5, out_rtol, "attention out " + Tag(c));
  ExpectClose(lse.cpu.Download(), lse.gpu.Download(), 1e-5, 1e-5, "attention lse " + Tag(c));
  Dual d_out(g, c.act, {b, t, hq, d}, Random(nq, 23));
  Dual d_q(g, c.act, {b, t, hq, d}, Random(nq, 24));  // overwritten
  Dual d_k(g, c.act, {b, t, hkv, d}, Random(nk, 25));
  Dual d_v(g, c.act, {b, t, hkv, d}, Random(nk, 26));
  ASSERT_TRUE(cpu.AttentionBackward(q.cpu.t, k.cpu.t, v.cpu.t, out.cpu.t, lse.cpu.t, d_out.cpu.t, d_q.cpu.t,
                                    d_k.cpu.t, d_v.cpu.t)
                  .ok());
  ASSERT_TRUE(g.AttentionBackward(q.gpu.t, k.gpu.t, v.gpu.t, out.gpu.t, lse.gpu.t, d_out.gpu.t, d_q.gpu.t, d_k.gpu.t,
                                  d_v.gpu.t)
                  .ok());
  ExpectClose(d_q.cpu.Download(), d_q.gpu.Download(), c.atol, c.rtol, "attention d_q " + Tag(c));
  ExpectClose(d_k.cpu.Download(), d_k.gpu.Download(), c.atol, c.rtol, "attention d_k " + Tag(c));
  ExpectClose(d_v.cpu.Download(), d_v.gpu.Download(), c.atol, c.rtol, "attention d_v " + Tag(c));
}

// shape {B, Tmax, length, Hq, Hkv, D}; dtype is the cache's.
void RunDecode(gpu::GpuBackend& g, const OpCase& c) {
  CpuBackend& cpu = SharedCpu();
  const std::int64_t b = c.shape[0], t_max = c.shape[1], length = c.shape[2], hq = c.shape[3], hkv = c.shape[4],
                     d = c.shape[5];
  const std::size_t nc = static_cast<std::size_t>(b * t_max * hkv * d);
  Dual kc(g, c.dtype, {b, t_max, hkv, d}, Random(nc, 30, 2.f));
  Dual vc(g, c.dtype, {b, t_max, hkv, d}, Random(nc, 31));
  // The newest position arrives through KvCacheWrite, as in decode.
  const std::size_t ns = static_cast<std::size_t>(b * hkv * d);
  Dual k_new(g, DType::kF32, {b, 1, hkv, d}, Random(ns, 32, 2.f));
  Dual v_new(g, DType::kF32, {b, 1, hkv, d}, Random(ns, 33));
  ASSERT_TRUE(cpu.KvCacheWrite(k_new.cpu.t, kc.cpu.t, length - 1).ok());
  ASSERT_TRUE(cpu.KvCacheWrite(v_new.cpu.t, vc.cpu.t, length - 1).ok());
  ASSERT_TRUE(g.KvCacheWrite(k_new.gpu.t, kc.gpu.t, length - 1).ok());
  ASSERT_TRUE(g.KvCacheWrite(v_new.gpu.t, vc.gpu.t, length - 1).ok());
  ExpectClose(kc.cpu.Download(), kc.gpu.Download(), 0, 0, "KvCacheWrite " + Tag(c));
  const std::size_t nq = static_cast<std::size_t>(b * hq * d);
  Dual q(g, DType::kF32, {b, hq, d}, Random(nq, 34, 2.f));
  Dual out(g, DType::kF32, {b, hq, d}, std::vector<float>(nq, 0.f));
  ASSERT_TRUE(cpu.AttentionDecode(q.cpu.t, kc.cpu.t, vc.cpu.t, length, out.cpu.t).ok());
  ASSERT_TRUE(g.AttentionDecode(q.gpu.t, kc.gpu.t, vc.gpu.t, length, out.gpu.t).ok());
  ExpectClose(out.cpu.Download(), out.gpu.Download(), c.atol, c.rtol, "AttentionDecode " + Tag(c));
}

// shape {rows, vocab}: softmax, cross-entropy (with and without a separate
// gradient, in place), argmax with a tie that the lowest index must win.
void RunLoss(gpu::GpuBackend& g, const OpCase& c) {
  CpuBackend& cpu = SharedCpu();
  const std::int64_t n = c.shape[0], vocab = c.shape[1];
  const std::size_t nv = static_cast<std::size_t>(n * vocab);
  std::vector<float> logits = Random(nv, 40, 8.f);
  logits[static_cast<std::size_t>(vocab - 1)] = 100.f;  // a tie in row 0, lowest index must win
  logits[0] = 100.f;
  Dual x(g, DType::kF32, {n, vocab}, logits);
  Dual sm(g, DType::kF32, {n, vocab}, std::vector<float>(nv, 0.f));
  ASSERT_TRUE(cpu.Softmax(x.cpu.t, sm.cpu.t).ok());
  ASSERT_TRUE(g.Softmax(x.gpu.t, sm.gpu.t).ok());
  ExpectClose(sm.cpu.Download(), sm.gpu.Download(), 1e-7, 1e-3, "Softmax " + Tag(c));
  std::vector<std::int32_t> targets(static_cast<std::size_t>(n));
  for (std::int64_t i = 0; i < n; ++i) targets[static_cast<std::size_t>(i)] = static_cast<std::int32_t>((i * 31) % vocab);
  IntBuf tc(cpu, targets), tg(g, targets);
  Dual losses(g, DType::kF32, {n}, std::vector<float>(static_cast<std::size_t>(n), 0.f));
  Dual grad(g, DType::kF32, {n, vocab}, std::vector<float>(nv, 0.f));
  ASSERT_TRUE(cpu.CrossEntropy(x.cpu.t, tc.data, losses.cpu.t, grad.cpu.t, 0.125f).ok());
  ASSERT_TRUE(g.CrossEntropy(x.gpu.t, tg.data, losses.gpu.t, grad.gpu.t, 0.125f).ok());
  // The CPU sums up to 50k exponentials in sequence, the GPU as a tree:
  // the log-sum-exp agrees to about 1e-4 (the case's tolerance).
  ExpectClose(losses.cpu.Download(), losses.gpu.Download(), c.atol, c.rtol, "CrossEntropy loss " + Tag(c));
  ExpectClose(grad.cpu.Download(), grad.gpu.Download(), 1e-7, 1e-3, "CrossEntropy grad " + Tag(c));
  IntBuf ac(cpu, std::vector<std::int32_t>(static_cast<std::size_t>(n), -1));
  IntBuf ag(g, std::vector<std::int32_t>(static_cast<std::size_t>(n), -1));
  ASSERT_TRUE(cpu.Argmax(x.cpu.t, ac.data).ok());
  ASSERT_TRUE(g.Argmax(x.gpu.t, ag.data).ok());
  EXPECT_EQ(ac.Download(), ag.Download()) << "Argmax " + Tag(c);
  // In place: the gradient overwrites the logits; losses without a gradient.
  ASSERT_TRUE(cpu.CrossEntropy(x.cpu.t, tc.data, losses.cpu.t, x.cpu.t, 1.f).ok());
  ASSERT_TRUE(g.CrossEntropy(x.gpu.t, tg.data, losses.gpu.t, x.gpu.t, 1.f).ok());
  ExpectClose(x.cpu.Download(), x.gpu.Download(), 1e-7, 1e-3, "CrossEntropy in place " + Tag(c));
  ExpectClose(losses.cpu.Download(), losses.gpu.Download(), c.atol, c.rtol, "CrossEntropy in-place loss " + Tag(c));
  ASSERT_TRUE(g.CrossEntropy(grad.gpu.t, tg.data, losses.gpu.t, Tensor{}, 1.f).ok());
}

// shape {rows, vocab}: a target outside the vocabulary is the contract's
// InvalidArgument at the next synchronisation, device still usable.
void RunLossBadTarget(gpu::GpuBackend& g, const OpCase& c) {
  const std::int64_t n = c.shape[0], vocab = c.shape[1];
  std::vector<std::int32_t> targets(static_cast<std::size_t>(n), 0);
  targets[0] = -1;
  IntBuf tg(g, targets);
  Buf x(g, DType::kF32, {n, vocab});
  Buf losses(g, DType::kF32, {n});
  ASSERT_TRUE(g.Fill(x.t, 0.f).ok());
  ASSERT_TRUE(g.CrossEntropy(x.t, tg.data, losses.t, Tensor{}, 1.f).ok());
  EXPECT_EQ(g.device().Synchronize(), IndexOutOfRange("CrossEntropy", "targets", 0, -1, vocab));
  EXPECT_FALSE(g.faulted());
  EXPECT_TRUE(g.device().Synchronize().ok());
}

// shape {rows, cols}: SwiGLU forward and backward.
void RunSwiGlu(gpu::GpuBackend& g, const OpCase& c) {
  CpuBackend& cpu = SharedCpu();
  const std::int64_t r = c.shape[0], cols = c.shape[1];
  const std::size_t n = static_cast<std::size_t>(r * cols);
  Dual gate(g, c.act, {r, cols}, Random(n, 50, 6.f));
  Dual up(g, c.act, {r, cols}, Random(n, 51));
  Dual out(g, c.act, {r, cols}, std::vector<float>(n, 0.f));
  ASSERT_TRUE(cpu.SwiGluForward(gate.cpu.t, up.cpu.t, out.cpu.t).ok());
  ASSERT_TRUE(g.SwiGluForward(gate.gpu.t, up.gpu.t, out.gpu.t).ok());
  ExpectClose(out.cpu.Download(), out.gpu.Download(), c.atol, c.rtol, "SwiGluForward " + Tag(c));
  Dual d_out(g, c.act, {r, cols}, Random(n, 52));
  Dual d_gate(g, c.act, {r, cols}, std::vector<float>(n, 0.f));
  Dual d_up(g, c.act, {r, cols}, std::vector<float>(n, 0.f));
  ASSERT_TRUE(cpu.SwiGluBackward(d_out.cpu.t, gate.cpu.t, up.cpu.t, d_gate.cpu.t, d_up.cpu.t).ok());
  ASSERT_TRUE(g.SwiGluBackward(d_out.gpu.t, gate.gpu.t, up.gpu.t, d_gate.gpu.t, d_up.gpu.t).ok());
  ExpectClose(d_gate.cpu.Download(), d_gate.gpu.Download(), c.atol, c.rtol, "SwiGluBackward d_gate " + Tag(c));
  ExpectClose(d_up.cpu.Download(), d_up.gpu.Download(), c.atol, c.rtol, "SwiGluBackward d_up " + Tag(c));
}

// shape {n}: three AdamW steps on a `dtype` parameter, f32 and bf16 gradients.
void RunAdamW(gpu::GpuBackend& g, const OpCase& c) {
  CpuBackend& cpu = SharedCpu();
  const std::int64_t n = c.shape[0];
  const std::size_t un = static_cast<std::size_t>(n);
  for (DType gd : {DType::kF32, DType::kBF16}) {
    const std::string tag = Tag(c) + " grad " + Name(gd);
    Dual p(g, c.dtype, {n}, Random(un, 60));
    Dual gr(g, gd, {n}, Random(un, 61, 0.1f));
    Dual m(g, DType::kF32, {n}, Random(un, 62, 0.01f));
    Dual v(g, DType::kF32, {n}, Random(un, 63, 0.001f));
    ASSERT_TRUE(cpu.Scale(v.cpu.t, 0.f).ok());  // second moments start at 0 (non-negative)
    ASSERT_TRUE(g.Scale(v.gpu.t, 0.f).ok());
    for (std::int64_t step = 1; step <= 3; ++step) {
      AdamWParams ap;
      ap.learning_rate = 1e-2f;
      ap.weight_decay = 0.1f;
      ap.step = step;
      ASSERT_TRUE(cpu.AdamW(p.cpu.t, gr.cpu.t, m.cpu.t, v.cpu.t, ap).ok());
      ASSERT_TRUE(g.AdamW(p.gpu.t, gr.gpu.t, m.gpu.t, v.gpu.t, ap).ok());
    }
    ExpectClose(p.cpu.Download(), p.gpu.Download(), c.atol, c.rtol, "AdamW param " + tag);
    ExpectClose(m.cpu.Download(), m.gpu.Download(), 1e-7, 1e-5, "AdamW m " + tag);
    ExpectClose(v.cpu.Download(), v.gpu.Download(), 1e-9, 1e-5, "AdamW v " + tag);
  }
}

// Every op family's runner, by the name the table uses.
const std::map<std::string, Runner>& Runners() {
  static const std::map<std::string, Runner> runners = {
      {"Fill", RunFill},           {"Convert", RunConvert},       {"AxpyScaleBias", RunAxpyScaleBias},
      {"Embedding", RunEmbedding}, {"EmbeddingBadId", RunEmbeddingBadId},
      {"RmsNorm", RunRmsNorm},     {"Rope", RunRope},             {"Attention", RunAttention},
      {"Decode", RunDecode},       {"Loss", RunLoss},             {"LossBadTarget", RunLossBadTarget},
      {"SwiGlu", RunSwiGlu},       {"AdamW", RunAdamW},
  };
  return runners;
}

constexpr DType kF32 = DType::kF32, kBF16 = DType::kBF16, kF16 = DType::kF16;

// The table: one line per case.
const std::vector<OpCase>& Cases() {
  static const std::vector<OpCase> cases = {
      {"Fill", {1001}, kF32, 0, 0},
      {"Fill", {1001}, kBF16, 0, 0},
      {"Fill", {1001}, kF16, 0, 0},
      {"Convert", {777}, kF32, 0, 0},
      {"Convert", {777}, kBF16, 0, 0},
      {"Convert", {777}, kF16, 0, 0},
      {"AxpyScaleBias", {13, 45}, kF32, 1e-6, 1e-4},
      {"AxpyScaleBias", {13, 45}, kBF16, 1e-6, 1.6e-2},
      {"AxpyScaleBias", {13, 45}, kF16, 1e-6, 2e-3},
      {"Embedding", {97, 45, 23}, kF32, 1e-6, 1e-4},
      {"Embedding", {97, 45, 23}, kBF16, 1e-6, 1.6e-2},
      {"Embedding", {97, 45, 23}, kF16, 1e-6, 2e-3},
      {"EmbeddingBadId", {97, 45, 23}, kF32, 0, 0},
      {"RmsNorm", {13, 77}, kF32, 1e-4, 1e-4},
      {"RmsNorm", {13, 1000}, kBF16, 1e-4, 1.6e-2},
      {"RmsNorm", {13, 2051}, kF16, 1e-4, 2e-3},
      {"RmsNorm", {13, 2051}, kBF16, 1e-4, 1.6e-2},
      {"Rope", {37, 3, 24, 5, 7, 10000}, kF32, 2e-6, 1e-5},
      {"Rope", {6, 8, 128, 6, 4090, 500000}, kF32, 2e-6, 1e-5},
      {"Rope", {3, 14, 64, 1, 1000, 1000000}, kF32, 2e-6, 1e-5},
      {"Attention", {2, 37, 4, 4, 40}, kF32, 1e-4, 1e-3},
      {"Attention", {1, 1, 8, 2, 64}, kF32, 1e-4, 1e-3},
      {"Attention", {2, 70, 8, 2, 64}, kF32, 1e-4, 1e-3},
      {"Attention", {1, 45, 7, 1, 128}, kF32, 1e-4, 1e-3},
      {"Attention", {3, 19, 14, 2, 24}, kF32, 1e-4, 1e-3},
      {"Attention", {1, 33, 4, 1, 256}, kF32, 1e-4, 1e-3},
      {"Decode", {3, 50, 1, 4, 4, 64}, kF32, 1e-5, 1e-4},
      {"Decode", {2, 50, 33, 8, 2, 128}, kBF16, 1e-5, 1e-4},
      {"Decode", {1, 70, 70, 7, 1, 40}, kF16, 1e-5, 1e-4},
      {"Decode", {2, 1000, 999, 14, 2, 64}, kBF16, 1e-5, 1e-4},
      {"Loss", {7, 3}, kF32, 1e-3, 1e-5},
      {"Loss", {7, 1001}, kF32, 1e-3, 1e-5},
      {"Loss", {7, 50021}, kF32, 1e-3, 1e-5},
      {"LossBadTarget", {5, 1001}, kF32, 0, 0},
      {"SwiGlu", {7, 143}, kF32, 1e-6, 1e-5},
      {"AdamW", {999}, kF32, 1e-6, 1e-4},
      {"AdamW", {999}, kBF16, 1e-6, 1.6e-2},
      {"AdamW", {999}, kF16, 1e-6, 2e-3},
      // 16-bit activations and gradients (a 16-bit training run's working
      // set): both sides compute in fp32 and round once, so outputs agree to
      // about one 16-bit ulp.
      {"AxpyScaleBias", {13, 45}, kBF16, 1e-3, 1.6e-2, kBF16},
      {"Embedding", {97, 45, 23}, kBF16, 1e-6, 1.6e-2, kBF16},
      {"RmsNorm", {13, 1000}, kBF16, 1e-3, 1.6e-2, kBF16},
      {"RmsNorm", {13, 2051}, kF16, 1e-3, 4e-3, kF16},
      {"Rope", {37, 3, 24, 5, 7, 10000}, kF32, 1e-3, 1.6e-2, kBF16},
      {"Rope", {6, 8, 128, 6, 4090, 500000}, kF32, 1e-3, 4e-3, kF16},
      {"Attention", {2, 37, 4, 4, 40}, kF32, 1e-2, 3e-2, kBF16},
      {"Attention", {2, 70, 8, 2, 64}, kF32, 1e-2, 3e-2, kBF16},
      {"Attention", {1, 45, 7, 1, 128}, kF32, 2e-3, 5e-3, kF16},
      {"SwiGlu", {7, 143}, kF32, 1e-3, 1.6e-2, kBF16},
      {"SwiGlu", {7, 143}, kF32, 1e-3, 4e-3, kF16},
  };
  return cases;
}

class GpuOp : public ::testing::TestWithParam<OpCase> {};

TEST_P(GpuOp, MatchesCpu) {
  const OpCase& c = GetParam();
  auto it = Runners().find(c.op);
  ASSERT_NE(it, Runners().end()) << "no runner for op " << c.op;  // fails, never skips
  LB_GPU_OR_SKIP(gpu);
  it->second(*gpu, c);
}

std::string OpCaseName(const ::testing::TestParamInfo<OpCase>& info) {
  std::string name = std::to_string(info.index) + "_" + info.param.op + "_" + Name(info.param.dtype);
  if (info.param.act != DType::kF32) name += "_act_" + Name(info.param.act);
  for (std::int64_t d : info.param.shape) name += "_" + std::to_string(d);
  return name;
}

INSTANTIATE_TEST_SUITE_P(Table, GpuOp, ::testing::ValuesIn(Cases()), OpCaseName);

// Runs without a GPU too: every runner has at least one row in the table.
TEST(GpuOpTable, EveryRunnerHasCases) {
  std::set<std::string> covered;
  for (const OpCase& c : Cases()) covered.insert(c.op);
  for (const auto& [op, runner] : Runners()) EXPECT_TRUE(covered.count(op)) << op << " has no case in the table";
}

}  // namespace
}  // namespace localbench::kernels::gpu_test
