// Quantized weight formats (issue 15): sizes, quantize/dequantize error
// bounds, and every CPU kernel against the dequantized fp32 reference.
#include "localbench/kernels/quant.h"

#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <limits>
#include <random>
#include <vector>

#include "cpu/thread_pool.h"
#include "localbench/kernels/backend.h"
#include "quant/quant_testing.h"

namespace localbench::kernels {
namespace {

constexpr QuantFormat kAllFormats[] = {QuantFormat::kQ8_0, QuantFormat::kQ4_0, QuantFormat::kNf4};

// Seeded Gaussian weights with a few blocks that stress the scale choice:
// an all-zero block, a block with one large outlier, an all-positive block.
std::vector<float> Weights(std::int64_t count, std::uint32_t seed) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> normal(0.0f, 0.02f);
  std::vector<float> w(static_cast<std::size_t>(count));
  for (float& v : w) v = normal(rng);
  for (int i = 0; i < 64 && i < count; ++i) w[static_cast<std::size_t>(i)] = 0.0f;
  if (count >= 192) {
    w[70] = 3.0f;
    for (int i = 128; i < 192; ++i) w[static_cast<std::size_t>(i)] = std::fabs(w[static_cast<std::size_t>(i)]);
  }
  return w;
}

TEST(QuantFormat, NamesRoundTripAndUnknownNamesAreRejected) {
  for (QuantFormat f : kAllFormats) {
    auto parsed = ParseQuantFormat(QuantFormatName(f));
    ASSERT_TRUE(parsed.ok());
    EXPECT_EQ(*parsed, f);
  }
  const auto bad = ParseQuantFormat("q5_k");
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.status().message().find("quantized precision"), std::string_view::npos);
}

TEST(QuantFormat, ShapesMustBeWholeBlocks) {
  EXPECT_TRUE(CheckQuantShape(QuantFormat::kQ4_0, 3, 64).ok());
  EXPECT_FALSE(CheckQuantShape(QuantFormat::kQ4_0, 3, 48).ok());
  EXPECT_FALSE(CheckQuantShape(QuantFormat::kNf4, 3, 96).ok());  // 96 is not a multiple of 64
  EXPECT_FALSE(CheckQuantShape(QuantFormat::kQ8_0, 0, 32).ok());
  EXPECT_NE(CheckQuantShape(QuantFormat::kQ8_0, 2, 33).message().find("cols 33"), std::string_view::npos);
}

TEST(QuantFormat, BytesCountScalesExactly) {
  // 4 x 4096: 512 blocks of 32 / 256 blocks of 64.
  EXPECT_EQ(QuantizedBytes(QuantFormat::kQ8_0, 4, 4096), 512u * 34u);
  EXPECT_EQ(QuantizedBytes(QuantFormat::kQ4_0, 4, 4096), 512u * 18u);
  EXPECT_EQ(QuantizedBytes(QuantFormat::kNf4, 4, 4096), 1u * 4u + 256u + 256u * 32u);
  // 300 NF4 blocks: two second-level groups (256 + 44).
  EXPECT_EQ(QuantizedBytes(QuantFormat::kNf4, 3, 6400), 2u * 4u + 300u + 300u * 32u);
}

// Q8_0 and Q4_0: every weight is within d/2 of its dequantized value, and d
// is the smallest f16 scale that allows it (so a coarser scale fails too).
TEST(QuantFormat, LinearFormatsRoundToNearestWithinHalfAScale) {
  constexpr std::int64_t kRows = 6;
  constexpr std::int64_t kCols = 256;
  const std::vector<float> w = Weights(kRows * kCols, 7);
  for (QuantFormat f : {QuantFormat::kQ8_0, QuantFormat::kQ4_0}) {
    SCOPED_TRACE(QuantFormatName(f));
    std::vector<std::uint8_t> q(QuantizedBytes(f, kRows, kCols));
    Quantize(f, w.data(), kRows, kCols, q.data());
    std::vector<float> dq(w.size());
    Dequantize(f, q.data(), kRows, kCols, dq.data());
    for (std::int64_t b = 0; b < kRows * kCols / 32; ++b) {
      const float d = QuantBlockScale(f, q.data(), kRows, kCols, b);
      float neg = 0.0f, pos = 0.0f;
      for (std::int64_t i = b * 32; i < (b + 1) * 32; ++i) {
        const auto u = static_cast<std::size_t>(i);
        EXPECT_LE(std::fabs(w[u] - dq[u]), 0.5f * d * (1.0f + 1e-6f)) << "block " << b << " weight " << i;
        neg = std::max(neg, -w[u]);
        pos = std::max(pos, w[u]);
      }
      const float needed = f == QuantFormat::kQ8_0 ? std::max(neg, pos) / 127.0f : std::max(neg / 8.0f, pos / 7.5f);
      EXPECT_GE(d, needed) << "block " << b;
      EXPECT_LE(d, needed * (1.0f + 1.0f / 512.0f) + 6e-8f) << "block " << b << ": scale coarser than needed";
    }
    // The zero block stays exactly zero.
    for (int i = 0; i < 64; ++i) EXPECT_EQ(dq[static_cast<std::size_t>(i)], 0.0f);
  }
}

// NF4: each weight maps to the level nearest to w / s, where s is the
// block's double-quantized absmax, and s covers the absmax (|w / s| <= 1)
// while exceeding it by at most one step of the 8-bit code.
TEST(QuantFormat, Nf4PicksTheNearestLevelOfTheDoubleQuantizedScale) {
  constexpr std::int64_t kRows = 5;
  constexpr std::int64_t kCols = 64 * 64;  // 320 blocks: two groups of scales
  const std::vector<float> w = Weights(kRows * kCols, 11);
  std::vector<std::uint8_t> q(QuantizedBytes(QuantFormat::kNf4, kRows, kCols));
  Quantize(QuantFormat::kNf4, w.data(), kRows, kCols, q.data());
  std::vector<float> dq(w.size());
  Dequantize(QuantFormat::kNf4, q.data(), kRows, kCols, dq.data());
  const float* group_scale = reinterpret_cast<const float*>(q.data());
  for (std::int64_t b = 0; b < kRows * kCols / 64; ++b) {
    const float s = QuantBlockScale(QuantFormat::kNf4, q.data(), kRows, kCols, b);
    float absmax = 0.0f;
    for (std::int64_t i = b * 64; i < (b + 1) * 64; ++i) absmax = std::max(absmax, std::fabs(w[static_cast<std::size_t>(i)]));
    EXPECT_GE(s, absmax) << "block " << b;
    EXPECT_LE(s, absmax + group_scale[b / kNf4ScaleGroup] * 1.0001f) << "block " << b;
    if (s == 0.0f) continue;
    for (std::int64_t i = b * 64; i < (b + 1) * 64; ++i) {
      const auto u = static_cast<std::size_t>(i);
      const float v = w[u] / s;
      const float chosen = std::fabs(v - dq[u] / s);
      for (float level : kNf4Levels) EXPECT_LE(chosen, std::fabs(v - level) + 1e-6f) << "weight " << i;
    }
  }
}

// Reference: y = x * W^T in double over the dequantized weights, and the
// bound of fp32 accumulation in any order: |err| <= k * 2^-23 * sum |x w|
// (Higham's gamma_k, doubled for the separate per-block scale multiply).
// With `int8_activations` (the AVX2 decode of Q8_0/Q4_0) x is also rounded
// to int8 per block of 32 with da = amax / 127, so each x moves by at most
// da / 2 = amax / 254 and the product by at most
// sum over blocks of (amax_b / 254) * sum_{j in b} |w_j|; the integer block
// dots are exact, and the fp32 term then covers the scale products and the
// sums (with 1e-4 relative slack for the rounding of 127 / amax).
// NF4 on the int8 path also rounds its levels to round(127 * level) / 127,
// moving each weight by at most s / 254 (s: its block's scale, the level
// error is at most half of 1/127): the product moves by at most
// sum over blocks of (s_b / 254) * sum_{j in b} |x_j| more, and the
// activation term takes those moved weights, |w_j| + s_b / 254.
void ExpectMatchesReference(QuantFormat f, const std::vector<float>& x, std::int64_t m, const std::vector<std::uint8_t>& q,
                            std::int64_t n, std::int64_t k, const std::vector<float>& y,
                            bool int8_activations = false) {
  std::vector<float> wd(static_cast<std::size_t>(n * k));
  Dequantize(f, q.data(), n, k, wd.data());
  const double unit = std::ldexp(1.0, -23);
  for (std::int64_t r = 0; r < m; ++r) {
    for (std::int64_t j = 0; j < n; ++j) {
      double ref = 0.0, mag = 0.0, act = 0.0, levels = 0.0;
      for (std::int64_t b = 0; b < k; b += 32) {
        double amax = 0.0, wsum = 0.0, xsum = 0.0;
        for (std::int64_t i = b; i < b + 32; ++i) {
          const double xi = x[static_cast<std::size_t>(r * k + i)];
          const double p = xi * wd[static_cast<std::size_t>(j * k + i)];
          ref += p;
          mag += std::fabs(p);
          amax = std::max(amax, std::fabs(xi));
          wsum += std::fabs(wd[static_cast<std::size_t>(j * k + i)]);
          xsum += std::fabs(xi);
        }
        if (int8_activations && f == QuantFormat::kNf4) {
          const double level_step = QuantBlockScale(f, q.data(), n, k, (j * k + b) / 64) / 254.0;
          levels += level_step * xsum;
          wsum += 32.0 * level_step;
        }
        act += amax / 254.0 * wsum;
      }
      const double bound = int8_activations ? k * unit * (mag + act + levels) + (act + levels) * (1.0 + 1e-4)
                                            : k * unit * mag;
      ASSERT_NEAR(y[static_cast<std::size_t>(r * n + j)], ref, bound + 1e-30)
          << QuantFormatName(f) << " row " << r << " col " << j;
    }
  }
}

// True where QuantGemv quantizes the activations: AVX2 decode of every format.
bool Int8Activations(QuantFormat f, bool portable) {
  (void)f;
#if defined(__x86_64__)
  return !portable && __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma") &&
         __builtin_cpu_supports("f16c");
#else
  (void)portable;
  return false;
#endif
}

struct GemvCase {
  std::int64_t m, n, k;
};

TEST(QuantKernels, GemvMatchesDequantizedReferenceOnEveryPath) {
  ThreadPool pool(2);
  for (QuantFormat f : kAllFormats) {
    for (const GemvCase c : {GemvCase{1, 37, 512}, GemvCase{3, 21, 256}, GemvCase{8, 40, 128},
                             GemvCase{2, 9, 20544}}) {  // more than one activation tile (640 blocks)
      SCOPED_TRACE(testing::Message() << QuantFormatName(f) << " m=" << c.m << " n=" << c.n << " k=" << c.k);
      const std::vector<float> w = Weights(c.n * c.k, 3);
      std::vector<std::uint8_t> q(QuantizedBytes(f, c.n, c.k));
      Quantize(f, w.data(), c.n, c.k, q.data());
      std::mt19937 rng(5);
      std::uniform_real_distribution<float> uni(-1.0f, 1.0f);
      std::vector<float> x(static_cast<std::size_t>(c.m * c.k));
      for (float& v : x) v = uni(rng);
      for (bool portable : {false, true}) {
        for (const ThreadPool* p : {static_cast<const ThreadPool*>(nullptr), static_cast<const ThreadPool*>(&pool)}) {
          std::vector<float> y(static_cast<std::size_t>(c.m * c.n), std::numeric_limits<float>::quiet_NaN());
          QuantGemv(f, x.data(), c.m, q.data(), c.n, c.k, y.data(), p, 0.0f, portable);
          ExpectMatchesReference(f, x, c.m, q, c.n, c.k, y, Int8Activations(f, portable));
        }
      }
    }
  }
}

TEST(QuantKernels, PrefillGemmMatchesDequantizedReference) {
  ThreadPool pool(2);
  constexpr std::int64_t kM = 19, kN = 45, kK = 128;
  for (QuantFormat f : kAllFormats) {
    SCOPED_TRACE(QuantFormatName(f));
    const std::vector<float> w = Weights(kN * kK, 9);
    std::vector<std::uint8_t> q(QuantizedBytes(f, kN, kK));
    Quantize(f, w.data(), kN, kK, q.data());
    std::mt19937 rng(13);
    std::uniform_real_distribution<float> uni(-1.0f, 1.0f);
    std::vector<float> x(static_cast<std::size_t>(kM * kK));
    for (float& v : x) v = uni(rng);
    std::vector<float> workspace(QuantGemmWorkspaceBytes(kN, kK) / sizeof(float));
    std::vector<float> y(static_cast<std::size_t>(kM * kN), std::numeric_limits<float>::quiet_NaN());
    QuantGemm(f, x.data(), kM, q.data(), kN, kK, y.data(), workspace.data(), &pool);
    ExpectMatchesReference(f, x, kM, q, kN, kK, y);
  }
}

// beta accumulates into y on every path (the workload's residual adds), and
// the backward product dx = dy W accumulates across dequantized panels.
TEST(QuantKernels, BetaAndBackwardProductMatchTheReference) {
  ThreadPool pool(2);
  constexpr std::int64_t kM = 11, kN = 40, kK = 128;
  // Three panels: 16 + 16 + 8 rows; restored even when an assertion returns early.
  struct PanelCap {
    PanelCap() { quant::SetQuantPanelCapForTesting(16); }
    ~PanelCap() { quant::SetQuantPanelCapForTesting(0); }
  } cap;
  for (QuantFormat f : kAllFormats) {
    SCOPED_TRACE(QuantFormatName(f));
    const std::vector<float> w = Weights(kN * kK, 17);
    std::vector<std::uint8_t> q(QuantizedBytes(f, kN, kK));
    Quantize(f, w.data(), kN, kK, q.data());
    std::vector<float> wd(w.size());
    Dequantize(f, q.data(), kN, kK, wd.data());
    std::mt19937 rng(19);
    std::uniform_real_distribution<float> uni(-1.0f, 1.0f);
    std::vector<float> x(static_cast<std::size_t>(kM * kK)), dy(static_cast<std::size_t>(kM * kN));
    for (float& v : x) v = uni(rng);
    for (float& v : dy) v = uni(rng);
    std::vector<float> workspace(QuantGemmWorkspaceBytes(kN, kK) / sizeof(float));
    EXPECT_EQ(workspace.size(), 16u * kK);

    // Forward with beta = 1 over y = 2: the result is 2 + x W^T.
    for (std::int64_t m : {std::int64_t{4}, kM}) {
      std::vector<float> y(static_cast<std::size_t>(m * kN), 2.0f);
      if (m <= kQuantGemvMaxRows) {
        QuantGemv(f, x.data(), m, q.data(), kN, kK, y.data(), &pool, 1.0f);
      } else {
        QuantGemm(f, x.data(), m, q.data(), kN, kK, y.data(), workspace.data(), &pool, 1.0f);
      }
      for (float& v : y) v -= 2.0f;
      ExpectMatchesReference(f, x, m, q, kN, kK, y, m <= kQuantGemvMaxRows && Int8Activations(f, false));
    }

    // Backward: dx = 0.5 * dx + dy W with dx = 4 beforehand.
    std::vector<float> dx(static_cast<std::size_t>(kM * kK), 4.0f);
    QuantGemmBackward(f, dy.data(), kM, q.data(), kN, kK, dx.data(), workspace.data(), &pool, 0.5f);
    const double unit = std::ldexp(1.0, -23);
    for (std::int64_t r = 0; r < kM; ++r) {
      for (std::int64_t c = 0; c < kK; ++c) {
        double ref = 2.0, mag = 2.0;
        for (std::int64_t j = 0; j < kN; ++j) {
          const double p = static_cast<double>(dy[static_cast<std::size_t>(r * kN + j)]) * wd[static_cast<std::size_t>(j * kK + c)];
          ref += p;
          mag += std::fabs(p);
        }
        ASSERT_NEAR(dx[static_cast<std::size_t>(r * kK + c)], ref, static_cast<double>(kN + 1) * unit * mag)
            << "row " << r << " col " << c;
      }
    }
  }
}

TEST(QuantKernels, GemmWorkspaceIsOnePanelWithinTheBudget) {
  EXPECT_EQ(QuantLinearWorkspaceBytes(true, 8, 45, 128), 0u);  // fused GEMV: no panel
  EXPECT_EQ(QuantLinearWorkspaceBytes(true, 9, 45, 128), 45u * 128u * 4u);
  EXPECT_EQ(QuantLinearWorkspaceBytes(false, 1, 45, 128), 45u * 128u * 4u);
  EXPECT_EQ(QuantGemmPanelRows(45, 128), 45);
  EXPECT_EQ(QuantGemmWorkspaceBytes(45, 128), 45u * 128u * 4u);
  // Llama-sized FFN weight: the 64 MiB budget holds 4096 rows of 4096 floats.
  EXPECT_EQ(QuantGemmPanelRows(11008, 4096), 4096);
  EXPECT_EQ(QuantGemmWorkspaceBytes(11008, 4096), kGemmPanelBudgetBytes);
}

}  // namespace
}  // namespace localbench::kernels
