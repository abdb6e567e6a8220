// 16-bit activations in the ops (issue 13: a 16-bit training run's working
// set). Each op that accepts 16-bit activations runs twice on the CPU on the
// same inputs (values exactly representable in the 16-bit type): once with
// fp32 tensors, once with 16-bit ones. The 16-bit path must compute in fp32
// and round once when it stores, so every 16-bit output is the fp32 output
// rounded: within the unit roundoff (2^-8 relative for bf16, 2^-11 for
// f16). fp32-only operands (rstd,
// lse, RMSNorm's d_x) must match the fp32 run to fp32 rounding.
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <initializer_list>
#include <random>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "localbench/kernels/cpu_backend.h"

namespace localbench::kernels {
namespace {

// Host memory tensor of any dtype (the CPU device's memory is host memory).
struct HostTensor {
  HostTensor(DType dtype, std::initializer_list<std::int64_t> shape, const std::vector<float>& values) {
    t = Tensor::Of(nullptr, dtype, shape);
    bytes.resize(static_cast<std::size_t>(t.numel()) * DTypeSize(dtype));
    EXPECT_EQ(values.size(), static_cast<std::size_t>(t.numel()));
    ConvertFromF32(values.data(), dtype, bytes.data(), values.size());
    t.data = bytes.data();
  }
  std::vector<float> Values() const {
    std::vector<float> v(static_cast<std::size_t>(t.numel()));
    ConvertToF32(t.dtype, bytes.data(), v.data(), v.size());
    return v;
  }
  std::vector<unsigned char> bytes;
  Tensor t;
};

// n values in [-scale, scale), rounded to `dtype` so both runs see equal inputs.
std::vector<float> Inputs(std::size_t n, std::uint32_t seed, DType dtype, float scale = 1.0f) {
  std::mt19937 gen(seed);
  std::uniform_real_distribution<float> dist(-scale, scale);
  std::vector<float> v(n);
  for (float& x : v) x = dist(gen);
  std::vector<unsigned char> tmp(n * DTypeSize(dtype));
  ConvertFromF32(v.data(), dtype, tmp.data(), n);
  ConvertToF32(dtype, tmp.data(), v.data(), n);
  return v;
}

// The unit roundoff of the 16-bit type: rounding to nearest moves a value by
// at most this much relative (8 significant bits for bf16, 11 for f16).
double HalfUlp(DType d) { return d == DType::kBF16 ? std::ldexp(1.0, -8) : std::ldexp(1.0, -11); }

// Every element of `low` is `ref` rounded once (|low - ref| <= half ulp |ref| + atol).
void ExpectRoundedOnce(const std::vector<float>& ref, const std::vector<float>& low, DType d, double atol,
                       const std::string& what) {
  ASSERT_EQ(ref.size(), low.size()) << what;
  int bad = 0;
  double nonzero = 0;
  for (std::size_t i = 0; i < ref.size(); ++i) {
    if (ref[i] != 0.0f) ++nonzero;
    // f16 subnormals (below 2^-14) have a fixed spacing of 2^-24.
    const double subnormal = d == DType::kF16 ? std::ldexp(1.0, -25) : 0.0;
    const double tol = std::max(HalfUlp(d) * std::fabs(ref[i]) * (1 + 1e-6), subnormal) + atol;
    if (std::fabs(static_cast<double>(low[i]) - ref[i]) > tol && bad++ < 3)
      ADD_FAILURE() << what << "[" << i << "]: fp32 " << ref[i] << ", " << DTypeName(d) << " " << low[i];
  }
  EXPECT_GT(nonzero, 0.5 * static_cast<double>(ref.size())) << what << ": mostly zero, the check proves little";
}

void ExpectSame(const std::vector<float>& ref, const std::vector<float>& got, double rtol, const std::string& what) {
  ASSERT_EQ(ref.size(), got.size()) << what;
  for (std::size_t i = 0; i < ref.size(); ++i)
    ASSERT_NEAR(got[i], ref[i], rtol * std::fabs(ref[i]) + 1e-7) << what << "[" << i << "]";
}

class Act16 : public ::testing::TestWithParam<DType> {
 protected:
  CpuBackend cpu_;
};

TEST_P(Act16, RmsNormRoundsOnceAndKeepsStatisticsFp32) {
  const DType d = GetParam();
  const std::int64_t n = 5, h = 67;
  const std::vector<float> x = Inputs(n * h, 1, d, 2.0f), w = Inputs(h, 2, d), dy = Inputs(n * h, 3, d);
  const std::vector<float> dx0 = Inputs(n * h, 4, DType::kF32);
  std::vector<float> outs[2], rstds[2], dxs[2], dws[2];
  for (int run = 0; run < 2; ++run) {
    const DType a = run == 0 ? DType::kF32 : d;
    HostTensor xt(a, {n, h}, x), wt(DType::kF32, {h}, w), out(a, {n, h}, std::vector<float>(n * h, 0.f));
    HostTensor rstd(DType::kF32, {n}, std::vector<float>(n, 0.f)), dyt(a, {n, h}, dy);
    HostTensor dx(DType::kF32, {n, h}, dx0), dw(DType::kF32, {h}, std::vector<float>(h, 0.f));
    ASSERT_TRUE(cpu_.RmsNormForward(xt.t, wt.t, 1e-5f, out.t, rstd.t).ok());
    ASSERT_TRUE(cpu_.RmsNormBackward(dyt.t, xt.t, wt.t, rstd.t, dx.t, dw.t).ok());
    outs[run] = out.Values();
    rstds[run] = rstd.Values();
    dxs[run] = dx.Values();
    dws[run] = dw.Values();
  }
  ExpectRoundedOnce(outs[0], outs[1], d, 0, "RmsNormForward out");
  ExpectSame(rstds[0], rstds[1], 0, "rstd");  // same inputs, same fp32 sums: bit-equal
  ExpectSame(dxs[0], dxs[1], 0, "RmsNormBackward d_x (fp32)");
  ExpectSame(dws[0], dws[1], 0, "RmsNormBackward d_weight");
}

TEST_P(Act16, RopeSwiGluAndBiasRoundOnce) {
  const DType d = GetParam();
  const std::int64_t rows = 6, heads = 3, dim = 16, n = rows * heads * dim;
  const std::vector<float> x = Inputs(n, 5, d), up = Inputs(n, 6, d), dy = Inputs(n, 7, d), bias = Inputs(dim, 8, d);
  std::vector<float> rope[2], sw[2], dg[2], du[2], biased[2], db[2];
  for (int run = 0; run < 2; ++run) {
    const DType a = run == 0 ? DType::kF32 : d;
    HostTensor r(a, {rows, heads, dim}, x);
    ASSERT_TRUE(cpu_.RopeForward(r.t, 4, 3, 10000.0f).ok());
    rope[run] = r.Values();
    HostTensor gate(a, {rows * heads, dim}, x), upt(a, {rows * heads, dim}, up), out(a, {rows * heads, dim}, x);
    HostTensor dyt(a, {rows * heads, dim}, dy), dgt(a, {rows * heads, dim}, x), dut(a, {rows * heads, dim}, x);
    ASSERT_TRUE(cpu_.SwiGluForward(gate.t, upt.t, out.t).ok());
    ASSERT_TRUE(cpu_.SwiGluBackward(dyt.t, gate.t, upt.t, dgt.t, dut.t).ok());
    sw[run] = out.Values();
    dg[run] = dgt.Values();
    du[run] = dut.Values();
    HostTensor b(DType::kF32, {dim}, bias), xb(a, {rows * heads, dim}, x), dbt(DType::kF32, {dim}, bias);
    ASSERT_TRUE(cpu_.AddBias(xb.t, b.t).ok());
    ASSERT_TRUE(cpu_.BiasBackward(dyt.t, dbt.t).ok());
    biased[run] = xb.Values();
    db[run] = dbt.Values();
  }
  ExpectRoundedOnce(rope[0], rope[1], d, 0, "RopeForward");
  ExpectRoundedOnce(sw[0], sw[1], d, 0, "SwiGluForward");
  ExpectRoundedOnce(dg[0], dg[1], d, 0, "SwiGluBackward d_gate");
  ExpectRoundedOnce(du[0], du[1], d, 0, "SwiGluBackward d_up");
  ExpectRoundedOnce(biased[0], biased[1], d, 0, "AddBias");
  ExpectSame(db[0], db[1], 0, "BiasBackward (fp32 d_bias from 16-bit d_out)");
}

TEST_P(Act16, AttentionRoundsOnceWithFp32LogSumExp) {
  const DType d = GetParam();
  const std::int64_t b = 2, t = 9, hq = 4, hkv = 2, dim = 8;
  const std::int64_t nq = b * t * hq * dim, nk = b * t * hkv * dim;
  const std::vector<float> q = Inputs(nq, 9, d, 2.0f), k = Inputs(nk, 10, d, 2.0f), v = Inputs(nk, 11, d),
                           dy = Inputs(nq, 12, d);
  std::vector<float> outs[2], lses[2], dqs[2], dks[2], dvs[2];
  for (int run = 0; run < 2; ++run) {
    const DType a = run == 0 ? DType::kF32 : d;
    HostTensor qt(a, {b, t, hq, dim}, q), kt(a, {b, t, hkv, dim}, k), vt(a, {b, t, hkv, dim}, v);
    HostTensor out(a, {b, t, hq, dim}, q), lse(DType::kF32, {b, hq, t}, std::vector<float>(b * hq * t, 0.f));
    ASSERT_TRUE(cpu_.AttentionForward(qt.t, kt.t, vt.t, out.t, lse.t).ok());
    outs[run] = out.Values();
    lses[run] = lse.Values();
  }
  // The backward reads `out`: both runs get the 16-bit run's rounded
  // output, so the comparison isolates the backward's own rounding.
  for (int run = 0; run < 2; ++run) {
    const DType a = run == 0 ? DType::kF32 : d;
    HostTensor qt(a, {b, t, hq, dim}, q), kt(a, {b, t, hkv, dim}, k), vt(a, {b, t, hkv, dim}, v);
    HostTensor ot(a, {b, t, hq, dim}, outs[1]), dyt(a, {b, t, hq, dim}, dy);
    HostTensor lse(DType::kF32, {b, hq, t}, lses[0]);
    HostTensor dq(a, {b, t, hq, dim}, q), dk(a, {b, t, hkv, dim}, k), dv(a, {b, t, hkv, dim}, v);
    ASSERT_TRUE(cpu_.AttentionBackward(qt.t, kt.t, vt.t, ot.t, lse.t, dyt.t, dq.t, dk.t, dv.t).ok());
    dqs[run] = dq.Values();
    dks[run] = dk.Values();
    dvs[run] = dv.Values();
  }
  ExpectRoundedOnce(outs[0], outs[1], d, 0, "AttentionForward out");
  ExpectSame(lses[0], lses[1], 0, "lse (fp32)");
  ExpectRoundedOnce(dqs[0], dqs[1], d, 0, "AttentionBackward d_q");
  ExpectRoundedOnce(dks[0], dks[1], d, 0, "AttentionBackward d_k");
  ExpectRoundedOnce(dvs[0], dvs[1], d, 0, "AttentionBackward d_v");
}

TEST_P(Act16, EmbeddingWritesTheTableValueRounded) {
  const DType d = GetParam();
  const std::int64_t vocab = 11, h = 9, n = 7;
  const std::vector<float> table = Inputs(vocab * h, 13, DType::kF32);
  std::vector<std::int32_t> ids = {3, 0, 10, 3, 7, 1, 2};
  HostTensor tab(DType::kF32, {vocab, h}, table), out32(DType::kF32, {n, h}, std::vector<float>(n * h, 0.f)),
      out16(d, {n, h}, std::vector<float>(n * h, 0.f));
  ASSERT_TRUE(cpu_.EmbeddingForward(tab.t, ids.data(), out32.t).ok());
  ASSERT_TRUE(cpu_.EmbeddingForward(tab.t, ids.data(), out16.t).ok());
  ExpectRoundedOnce(out32.Values(), out16.Values(), d, 0, "EmbeddingForward");
}

INSTANTIATE_TEST_SUITE_P(Types, Act16, ::testing::Values(DType::kBF16, DType::kF16),
                         [](const ::testing::TestParamInfo<DType>& param) {
                           return std::string(DTypeName(param.param));
                         });

}  // namespace
}  // namespace localbench::kernels
