// Run-time instruction-set dispatch of the CPU GEMM (cpu/isa.h): the choice
// is reported and can be capped, and every path the CPU supports computes the
// same products (AVX-512 BF16 against AVX2 against a double reference), and
// the AVX2 decode attention matches the portable one.
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <ostream>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "cpu/isa.h"
#include "localbench/kernels/cpu_backend.h"

namespace localbench::kernels {
namespace {

using cpu::Isa;

// Removes the cap when a test ends, pass or fail.
struct IsaCapGuard {
  ~IsaCapGuard() { cpu::SetIsaCapForTesting(std::nullopt); }
};

TEST(CpuIsa, ReportNamesThePathAndTheFlags) {
  const std::string report = cpu::IsaReport();
  std::printf("%s\n", report.c_str());  // visible in the test log: which path this host ran
  EXPECT_NE(report.find(std::string("cpu kernels: ") + std::string(cpu::IsaName(cpu::ActiveIsa()))),
            std::string::npos);
  EXPECT_NE(report.find("avx512bf16"), std::string::npos);
#if defined(__x86_64__)
  const bool avx512bf16 = __builtin_cpu_supports("avx512bf16");
  EXPECT_EQ(report.find("no avx512bf16") == std::string::npos, avx512bf16) << report;
  EXPECT_EQ(cpu::BestSupportedIsa() == Isa::kAvx512Bf16,
            avx512bf16 && __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
                __builtin_cpu_supports("avx512vl"));
#endif
}

TEST(CpuIsa, CapLowersThePathButNeverRaisesIt) {
  IsaCapGuard guard;
  const Isa best = cpu::BestSupportedIsa();
  cpu::SetIsaCapForTesting(Isa::kPortable);
  EXPECT_EQ(cpu::ActiveIsa(), Isa::kPortable);
  cpu::SetIsaCapForTesting(Isa::kAvx512Bf16);
  EXPECT_EQ(cpu::ActiveIsa(), best);  // a cap above the CPU's best is no promotion
  cpu::SetIsaCapForTesting(std::nullopt);
  if (std::getenv("LOCALBENCH_CPU_ISA") == nullptr) {
    EXPECT_EQ(cpu::ActiveIsa(), best);
  }
}

// y = x W^T through the backend under a given cap; W is [n, k] in `wtype`.
std::vector<float> GemvUnder(Isa cap, std::int64_t m, std::int64_t n, std::int64_t k, DType wtype,
                             std::vector<float>* x_out, std::vector<float>* w_out) {
  IsaCapGuard guard;
  cpu::SetIsaCapForTesting(cap);
  CpuBackend backend;
  Device& dev = backend.device();
  Tensor x = Tensor::Of(*dev.Allocate(static_cast<std::uint64_t>(m * k * 4)), DType::kF32, {m, k});
  Tensor w = Tensor::Of(nullptr, wtype, {n, k});
  w.data = *dev.Allocate(w.bytes());
  Tensor y = Tensor::Of(*dev.Allocate(static_cast<std::uint64_t>(m * n * 4)), DType::kF32, {m, n});
  // Seeded, fixed: the same operands under every cap.
  EXPECT_TRUE(backend.FillRandomUniform(x, 21, 1.0f).ok());
  EXPECT_TRUE(backend.FillRandomUniform(w, 22, 1.0f).ok());
  const std::uint64_t ws_bytes = GemmWorkspaceBytes(m, n, k, DType::kF32, wtype, DType::kF32);
  void* ws_data = *dev.Allocate(ws_bytes + 4);
  Tensor ws = Tensor::Of(ws_data, DType::kF32, {static_cast<std::int64_t>(ws_bytes / 4) + 1});
  EXPECT_TRUE(backend.Gemm(false, true, 1.0f, x, w, 0.0f, y, ws).ok());
  auto read = [&](const Tensor& t) {
    std::vector<char> raw(t.bytes());
    EXPECT_TRUE(dev.CopyDeviceToHost(raw.data(), t.data, t.bytes()).ok());
    std::vector<float> out(static_cast<std::size_t>(t.numel()));
    ConvertToF32(t.dtype, raw.data(), out.data(), out.size());
    return out;
  };
  std::vector<float> out = read(y);
  if (x_out != nullptr) *x_out = read(x);
  if (w_out != nullptr) *w_out = read(w);
  for (void* p : {x.data, w.data, y.data, ws_data}) dev.Free(p);
  return out;
}

// The bound every path must meet: |got - ref| <= 1e-4 * sum_i |x_i w_i|.
// Rounding x to bf16 hi + lo leaves a relative error below 2^-17 per term, the
// products are exact, and fp32 sums over k <= 600 terms add at most
// k * 2^-24 (< 4e-5) of the absolute sum; plain bf16 rounding of x (2^-9,
// about 2e-3) would fail it, so the test also catches a lost lo half.
constexpr double kRelToAbsSum = 1e-4;

struct Shape {
  std::int64_t m, n, k;
};
// Readable parameters in gtest output (instead of raw bytes).
void PrintTo(const Shape& s, std::ostream* os) { *os << "m=" << s.m << " n=" << s.n << " k=" << s.k; }

// y = x W^T in double for the operands a path saw, with sum_i |x_i w_i| for
// the bound, row-major [m, n].
struct Reference {
  double value = 0, abs_sum = 0;
};
std::vector<Reference> DoubleReference(const Shape& s, const std::vector<float>& x, const std::vector<float>& w) {
  std::vector<Reference> out(static_cast<std::size_t>(s.m * s.n));
  for (std::int64_t r = 0; r < s.m; ++r) {
    for (std::int64_t c = 0; c < s.n; ++c) {
      Reference& ref = out[static_cast<std::size_t>(r * s.n + c)];
      for (std::int64_t i = 0; i < s.k; ++i) {
        const double p = static_cast<double>(x[static_cast<std::size_t>(r * s.k + i)]) *
                         static_cast<double>(w[static_cast<std::size_t>(c * s.k + i)]);
        ref.value += p;
        ref.abs_sum += std::fabs(p);
      }
    }
  }
  return out;
}

class GemvIsaTest : public ::testing::TestWithParam<Shape> {};

TEST_P(GemvIsaTest, Avx512Bf16MatchesAvx2AndDoubleReference) {
  if (cpu::BestSupportedIsa() != Isa::kAvx512Bf16) {
    GTEST_SKIP() << "this CPU has no AVX-512 BF16 (" << cpu::IsaReport() << "); the vdpbf16ps path cannot run here";
  }
  const Shape s = GetParam();
  std::vector<float> x, w;
  const std::vector<float> y512 = GemvUnder(Isa::kAvx512Bf16, s.m, s.n, s.k, DType::kBF16, &x, &w);
  const std::vector<float> y2 = GemvUnder(Isa::kAvx2, s.m, s.n, s.k, DType::kBF16, nullptr, nullptr);
  const std::vector<Reference> refs = DoubleReference(s, x, w);
  for (std::int64_t r = 0; r < s.m; ++r) {
    for (std::int64_t c = 0; c < s.n; ++c) {
      const std::size_t at = static_cast<std::size_t>(r * s.n + c);
      const double ref = refs[at].value, abs_sum = refs[at].abs_sum;
      ASSERT_NEAR(y512[at], ref, kRelToAbsSum * abs_sum) << "avx512bf16 at " << r << "," << c;
      ASSERT_NEAR(y2[at], ref, kRelToAbsSum * abs_sum) << "avx2 at " << r << "," << c;
      ASSERT_NEAR(y512[at], y2[at], 2 * kRelToAbsSum * abs_sum) << "avx512bf16 vs avx2 at " << r << "," << c;
    }
  }
}

// The AVX2 fallback against the same reference on any AVX2 host (the path an
// AVX-512 machine runs under LOCALBENCH_CPU_ISA=avx2).
TEST_P(GemvIsaTest, Avx2MatchesDoubleReference) {
  if (cpu::BestSupportedIsa() < Isa::kAvx2) GTEST_SKIP() << "no AVX2 on this CPU (" << cpu::IsaReport() << ")";
  const Shape s = GetParam();
  std::vector<float> x, w;
  const std::vector<float> y2 = GemvUnder(Isa::kAvx2, s.m, s.n, s.k, DType::kBF16, &x, &w);
  const std::vector<float> yp = GemvUnder(Isa::kPortable, s.m, s.n, s.k, DType::kBF16, nullptr, nullptr);
  const std::vector<Reference> refs = DoubleReference(s, x, w);
  for (std::int64_t r = 0; r < s.m; ++r) {
    for (std::int64_t c = 0; c < s.n; ++c) {
      const std::size_t at = static_cast<std::size_t>(r * s.n + c);
      const double ref = refs[at].value, abs_sum = refs[at].abs_sum;
      ASSERT_NEAR(y2[at], ref, kRelToAbsSum * abs_sum) << "avx2 at " << r << "," << c;
      ASSERT_NEAR(yp[at], ref, kRelToAbsSum * abs_sum) << "portable at " << r << "," << c;
    }
  }
}

// k: a multiple of 32 (no tail), 31 (tail only), odd widths with a tail after
// full 32-element steps; m from 1 to the decode batch limit of 8.
INSTANTIATE_TEST_SUITE_P(Shapes, GemvIsaTest,
                         ::testing::Values(Shape{1, 70, 64}, Shape{1, 33, 31}, Shape{2, 40, 517}, Shape{4, 65, 96},
                                           Shape{5, 19, 129}, Shape{8, 37, 600}),
                         [](const ::testing::TestParamInfo<Shape>& param) {
                           const Shape& s = param.param;
                           return "m" + std::to_string(s.m) + "_n" + std::to_string(s.n) + "_k" + std::to_string(s.k);
                         });

// Decode attention: the AVX2 kernel (attention_avx2.cc) against the portable
// template on the same cache, for head widths of 1, 3 and 9 8-lane chunks
// (9: more than one register block) and 3 query heads per kv head.
struct AttnCase {
  std::int64_t d;
  DType cache;
};
void PrintTo(const AttnCase& c, std::ostream* os) { *os << "d=" << c.d << " cache=" << DTypeName(c.cache); }

class AttentionDecodeIsaTest : public ::testing::TestWithParam<AttnCase> {};

std::vector<float> AttentionDecodeUnder(Isa cap, const AttnCase& c) {
  IsaCapGuard guard;
  cpu::SetIsaCapForTesting(cap);
  CpuBackend backend;
  Device& dev = backend.device();
  const std::int64_t B = 2, Hq = 6, Hkv = 2, T = 37, length = 29;
  auto make = [&](DType t, std::initializer_list<std::int64_t> dims, std::uint64_t seed) {
    Tensor x = Tensor::Of(nullptr, t, dims);
    x.data = *dev.Allocate(x.bytes());
    EXPECT_TRUE(backend.FillRandomUniform(x, seed, 2.0f).ok());
    return x;
  };
  Tensor q = make(DType::kF32, {B, Hq, c.d}, 31);
  Tensor kc = make(c.cache, {B, T, Hkv, c.d}, 32);
  Tensor vc = make(c.cache, {B, T, Hkv, c.d}, 33);
  Tensor out = make(DType::kF32, {B, Hq, c.d}, 34);
  EXPECT_TRUE(backend.AttentionDecode(q, kc, vc, length, out).ok());
  std::vector<float> host(static_cast<std::size_t>(out.numel()));
  EXPECT_TRUE(dev.CopyDeviceToHost(host.data(), out.data, out.bytes()).ok());
  for (void* p : {q.data, kc.data, vc.data, out.data}) dev.Free(p);
  return host;
}

TEST_P(AttentionDecodeIsaTest, Avx2MatchesPortable) {
  if (cpu::BestSupportedIsa() < Isa::kAvx2) GTEST_SKIP() << "no AVX2 on this CPU (" << cpu::IsaReport() << ")";
  const std::vector<float> fast = AttentionDecodeUnder(Isa::kAvx2, GetParam());
  const std::vector<float> ref = AttentionDecodeUnder(Isa::kPortable, GetParam());
  ASSERT_EQ(fast.size(), ref.size());
  // Outputs are convex mixes of values in [-2, 2]; only the fp32 summation
  // order differs between the two.
  for (std::size_t i = 0; i < ref.size(); ++i) ASSERT_NEAR(fast[i], ref[i], 2e-5) << "at " << i;
}

INSTANTIATE_TEST_SUITE_P(Widths, AttentionDecodeIsaTest,
                         ::testing::Values(AttnCase{8, DType::kF32}, AttnCase{24, DType::kBF16},
                                           AttnCase{64, DType::kBF16}, AttnCase{72, DType::kF16}),
                         [](const ::testing::TestParamInfo<AttnCase>& param) {
                           return "d" + std::to_string(param.param.d) + "_" +
                                  std::string(DTypeName(param.param.cache));
                         });

}  // namespace
}  // namespace localbench::kernels
