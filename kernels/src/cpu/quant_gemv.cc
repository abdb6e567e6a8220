// CPU kernels over quantized weights: the fused dequantizing GEMV of decode
// and the panel-dequantizing GEMM of prefill.
//
// Decode is bandwidth-bound: a token reads every weight once, so the GEMV
// dequantizes each block in registers and never writes fp32 weights
// anywhere. AVX2: Q8_0, Q4_0 and NF4 (through its levels rounded to int8)
// multiply int8 weights with int8-quantized activations (exact integer block
// dots). The portable path keeps fp32 activations. Prefill is compute-bound: it dequantizes a panel of
// weight rows into the planned workspace and hands it to OpenBLAS sgemm, so
// the quantized path runs at the fp32 GEMM's speed plus one pass of
// dequantization per panel.
#include <cblas.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <cmath>
#include <cstring>

#if defined(__x86_64__)
#include <immintrin.h>
#endif

#include "cpu/thread_pool.h"
#include "localbench/kernels/backend.h"
#include "localbench/kernels/quant.h"
#include "quant/quant_blocks.h"
#include "quant/quant_testing.h"

namespace localbench::kernels {

namespace {
std::atomic<std::int64_t> g_panel_cap{0};
}  // namespace

void quant::SetQuantPanelCapForTesting(std::int64_t rows) { g_panel_cap = rows; }

namespace {

// Output rows per parallel part: enough work to amortise the hand-off.
constexpr std::int64_t kGemvGrain = 16;

// y = v + beta * y, where beta == 0 ignores y (it may hold garbage).
inline void Store(float* y, float v, float beta) { *y = beta == 0.0f ? v : v + beta * *y; }

// y[r, n] for n in [n0, n1), portable: each block dequantized into a small
// buffer, then dotted with every row of x.
void GemvPortable(QuantFormat format, const float* x, std::int64_t m, const void* w, std::int64_t n,
                  std::int64_t k, std::int64_t n0, std::int64_t n1, float* y, float beta) {
  const std::int64_t block = QuantBlockSize(format);
  const std::int64_t per_row = k / block;
  float tmp[quant::kNf4Block];
  for (std::int64_t row = n0; row < n1; ++row) {
    double acc[kQuantGemvMaxRows] = {};
    for (std::int64_t b = 0; b < per_row; ++b) {
      const std::int64_t flat = row * per_row + b;
      switch (format) {
        case QuantFormat::kQ8_0:
          quant::DequantizeQ8Block(static_cast<const quant::BlockQ8_0*>(w) + flat, tmp);
          break;
        case QuantFormat::kQ4_0:
          quant::DequantizeQ4Block(static_cast<const quant::BlockQ4_0*>(w) + flat, tmp);
          break;
        case QuantFormat::kNf4: {
          const quant::ConstNf4View view = quant::Nf4Layout(n, k, w);
          quant::DequantizeNf4Block(view.packed + flat * (quant::kNf4Block / 2), view.Scale(flat), tmp);
          break;
        }
      }
      for (std::int64_t r = 0; r < m; ++r) {
        const float* xr = x + r * k + b * block;
        float part = 0.0f;
        for (std::int64_t i = 0; i < block; ++i) part += tmp[i] * xr[i];
        acc[r] += part;
      }
    }
    for (std::int64_t r = 0; r < m; ++r) Store(y + r * n + row, static_cast<float>(acc[r]), beta);
  }
}

#if defined(__x86_64__)
#define QUANT_AVX2 __attribute__((target("avx2,fma,f16c")))

QUANT_AVX2 inline float HorizontalSum(__m256 v) {
  __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
  s = _mm_add_ps(s, _mm_movehl_ps(s, s));
  s = _mm_add_ss(s, _mm_shuffle_ps(s, s, 1));
  return _mm_cvtss_f32(s);
}

// One output column's sums over a tile of activation blocks, for each of M
// rows of x (row stride n): the first tile applies beta, later tiles add
// their partial sums.
template <int M>
QUANT_AVX2 inline void StoreTileSums(const __m256 (&acc)[M][2], float* y, std::int64_t n, bool first_tile,
                                     float beta) {
  for (int r = 0; r < M; ++r) {
    float* out = y + r * n;
    const float v = HorizontalSum(_mm256_add_ps(acc[r][0], acc[r][1]));
    if (first_tile) {
      Store(out, v, beta);
    } else {
      *out += v;
    }
  }
}

// Decode over Q8_0 / Q4_0 quantizes the activations too, as llama.cpp does:
// each row of x becomes int8 per block of 32 (x ~= da * qa, da = amax / 127,
// so |x - da * qa| <= amax / 254), and a block's product is an exact int32
// dot product (maddubs + madd) times dw * da. Widening every weight to fp32
// made the kernel arithmetic-bound; this way a block costs a handful of
// integer ops and the GEMV runs at memory speed. NF4 joins below.
constexpr int kActBlock = 32;
// Blocks of x quantized at once into a stack tile (8 rows: 180 KiB), so no
// memory outside the planned arena is needed; k beyond a tile loops. 640
// blocks hold every preset's widest row (Qwen2.5 7B's 18944 columns) in one
// tile: with 128, rows longer than 4096 were read in strided chunks and
// their partial sums stored and added per tile, which made the 8B's decode
// GEMV a third slower (docs/BENCHMARKS.md).
constexpr std::int64_t kActTileBlocks = 640;

// Quantizes `blocks` blocks of 32 floats at x into qa (int8) and da (scales).
QUANT_AVX2 void QuantizeActivations(const float* x, std::int64_t blocks, std::int8_t* qa, float* da) {
  const __m256 abs_mask = _mm256_castsi256_ps(_mm256_set1_epi32(0x7fffffff));
  const __m256i order = _mm256_setr_epi32(0, 4, 1, 5, 2, 6, 3, 7);
  for (std::int64_t b = 0; b < blocks; ++b) {
    const float* xb = x + b * kActBlock;
    __m256 v[4];
    __m256 amax = _mm256_setzero_ps();
    for (int i = 0; i < 4; ++i) {
      v[i] = _mm256_loadu_ps(xb + 8 * i);
      amax = _mm256_max_ps(amax, _mm256_and_ps(v[i], abs_mask));
    }
    __m128 m4 = _mm_max_ps(_mm256_castps256_ps128(amax), _mm256_extractf128_ps(amax, 1));
    m4 = _mm_max_ps(m4, _mm_movehl_ps(m4, m4));
    m4 = _mm_max_ss(m4, _mm_shuffle_ps(m4, m4, 1));
    const float max_abs = _mm_cvtss_f32(m4);
    da[b] = max_abs / 127.0f;
    const __m256 inv = _mm256_set1_ps(max_abs > 0.0f ? 127.0f / max_abs : 0.0f);
    __m256i q[4];
    for (int i = 0; i < 4; ++i) q[i] = _mm256_cvtps_epi32(_mm256_mul_ps(v[i], inv));  // round to nearest
    // Packing interleaves the 128-bit lanes; the permute restores the order.
    const __m256i q16a = _mm256_packs_epi32(q[0], q[1]);
    const __m256i q16b = _mm256_packs_epi32(q[2], q[3]);
    const __m256i q8 = _mm256_permutevar8x32_epi32(_mm256_packs_epi16(q16a, q16b), order);
    _mm256_storeu_si256(reinterpret_cast<__m256i*>(qa + b * kActBlock), q8);
  }
}

// Sum over 32 int8 pairs as 8 int32 partial sums converted to fp32 (exact:
// |sum| <= 32 * 128 * 127 < 2^24). maddubs needs unsigned x signed, hence
// the sign trick: |w| * (a * sign(w)) == w * a.
QUANT_AVX2 inline __m256 DotI8(__m256i w, __m256i a) {
  const __m256i p16 = _mm256_maddubs_epi16(_mm256_sign_epi8(w, w), _mm256_sign_epi8(a, w));
  return _mm256_cvtepi32_ps(_mm256_madd_epi16(p16, _mm256_set1_epi16(1)));
}

// A block's f16 weight scale through the F16C converter.
QUANT_AVX2 inline float ScaleF32(const std::uint8_t (&d)[2]) {
  std::uint16_t bits;
  std::memcpy(&bits, d, 2);
  return _mm_cvtss_f32(_mm_cvtph_ps(_mm_cvtsi32_si128(bits)));
}

// A Q8_0 block's 32 signed weights.
struct LoadQ8 {
  QUANT_AVX2 static __m256i Weights(const quant::BlockQ8_0& b) {
    return _mm256_loadu_si256(reinterpret_cast<const __m256i*>(b.q));
  }
};

// A Q4_0 block's 32 weights as signed bytes: low nibbles (weights 0-15) in
// the low lane, high nibbles (weights 16-31) in the high lane, minus the bias 8.
struct LoadQ4 {
  QUANT_AVX2 static __m256i Weights(const quant::BlockQ4_0& b) {
    const __m128i raw = _mm_loadu_si128(reinterpret_cast<const __m128i*>(b.qs));
    const __m256i nibbles = _mm256_and_si256(_mm256_set_m128i(_mm_srli_epi16(raw, 4), raw), _mm256_set1_epi8(0x0f));
    return _mm256_sub_epi8(nibbles, _mm256_set1_epi8(8));
  }
};

template <int M, typename Block, typename Load>
QUANT_AVX2 void GemvInt8Avx2(const float* x, const Block* w, std::int64_t n, std::int64_t k, std::int64_t n0,
                             std::int64_t n1, float* y, float beta) {
  const std::int64_t per_row = k / kActBlock;
  alignas(32) std::int8_t qa[M * kActTileBlocks * kActBlock];
  float da[M * kActTileBlocks];
  for (std::int64_t t0 = 0; t0 < per_row; t0 += kActTileBlocks) {
    const std::int64_t nb = std::min(kActTileBlocks, per_row - t0);
    for (int r = 0; r < M; ++r) {
      QuantizeActivations(x + r * k + t0 * kActBlock, nb, qa + r * kActTileBlocks * kActBlock,
                          da + r * kActTileBlocks);
    }
    for (std::int64_t row = n0; row < n1; ++row) {
      const Block* blocks = w + row * per_row + t0;
      // Two accumulators per row of x (even and odd blocks) so consecutive
      // blocks' FMAs do not wait on each other.
      __m256 acc[M][2];
      for (int r = 0; r < M; ++r) acc[r][0] = acc[r][1] = _mm256_setzero_ps();
      const auto block = [&](std::int64_t b, int slot) QUANT_AVX2 {
        const __m256i wq = Load::Weights(blocks[b]);
        const float dw = ScaleF32(blocks[b].d);
        for (int r = 0; r < M; ++r) {
          const std::int64_t at = r * kActTileBlocks + b;
          const __m256i aq = _mm256_load_si256(reinterpret_cast<const __m256i*>(qa + at * kActBlock));
          acc[r][slot] = _mm256_fmadd_ps(_mm256_set1_ps(dw * da[at]), DotI8(wq, aq), acc[r][slot]);
        }
      };
      std::int64_t b = 0;
      for (; b + 1 < nb; b += 2) {
        block(b, 0);
        block(b + 1, 1);
      }
      if (b < nb) block(b, 0);
      StoreTileSums<M>(acc, y + row, n, /*first_tile=*/t0 == 0, beta);
    }
  }
}

// NF4 on the int8 path: the 16 levels as int8 (round(127 * level), so each
// weight moves by at most scale / 254), looked up 32 at a time with one
// byte shuffle, then the same exact int8 block dots as Q8_0/Q4_0. A block
// of 64 is two activation blocks: its low nibbles are weights 0-31, the
// high nibbles 32-63, each in order, so no reordering is needed.
QUANT_AVX2 inline __m256i Nf4Int8Table() {
  static const auto levels = [] {
    alignas(16) std::array<std::int8_t, 16> t{};
    for (std::size_t i = 0; i < t.size(); ++i) t[i] = static_cast<std::int8_t>(std::lround(127.0f * kNf4Levels[i]));
    return t;
  }();
  return _mm256_broadcastsi128_si256(_mm_load_si128(reinterpret_cast<const __m128i*>(levels.data())));
}

template <int M>
QUANT_AVX2 void GemvNf4Int8Avx2(const float* x, const quant::ConstNf4View& view, std::int64_t k, std::int64_t n,
                                std::int64_t n0, std::int64_t n1, float* y, float beta) {
  static_assert(kActTileBlocks % 2 == 0, "a tile holds whole NF4 blocks");
  const std::int64_t per_row = k / quant::kNf4Block;
  const std::int64_t act_blocks = k / kActBlock;
  alignas(32) std::int8_t qa[M * kActTileBlocks * kActBlock];
  float da[M * kActTileBlocks];
  const __m256i table = Nf4Int8Table();
  const __m256i low_mask = _mm256_set1_epi8(0x0f);
  for (std::int64_t t0 = 0; t0 < act_blocks; t0 += kActTileBlocks) {
    const std::int64_t nb = std::min(kActTileBlocks, act_blocks - t0);  // even: k is whole NF4 blocks
    for (int r = 0; r < M; ++r) {
      QuantizeActivations(x + r * k + t0 * kActBlock, nb, qa + r * kActTileBlocks * kActBlock,
                          da + r * kActTileBlocks);
    }
    for (std::int64_t row = n0; row < n1; ++row) {
      __m256 acc[M][2];
      for (int r = 0; r < M; ++r) acc[r][0] = acc[r][1] = _mm256_setzero_ps();
      for (std::int64_t b = 0; b < nb / 2; ++b) {
        const std::int64_t flat = row * per_row + t0 / 2 + b;
        const __m256i raw =
            _mm256_loadu_si256(reinterpret_cast<const __m256i*>(view.packed + flat * (quant::kNf4Block / 2)));
        const __m256i w0 = _mm256_shuffle_epi8(table, _mm256_and_si256(raw, low_mask));
        const __m256i w1 = _mm256_shuffle_epi8(table, _mm256_and_si256(_mm256_srli_epi16(raw, 4), low_mask));
        const float s = view.Scale(flat) * (1.0f / 127.0f);
        for (int r = 0; r < M; ++r) {
          const std::int64_t at = r * kActTileBlocks + 2 * b;
          const auto* a = reinterpret_cast<const __m256i*>(qa + at * kActBlock);
          acc[r][0] = _mm256_fmadd_ps(_mm256_set1_ps(s * da[at]), DotI8(w0, _mm256_load_si256(a)), acc[r][0]);
          acc[r][1] = _mm256_fmadd_ps(_mm256_set1_ps(s * da[at + 1]), DotI8(w1, _mm256_load_si256(a + 1)),
                                      acc[r][1]);
        }
      }
      StoreTileSums<M>(acc, y + row, n, /*first_tile=*/t0 == 0, beta);
    }
  }
}

template <int M>
void GemvAvx2(QuantFormat format, const float* x, const void* w, std::int64_t n, std::int64_t k, std::int64_t n0,
              std::int64_t n1, float* y, float beta) {
  switch (format) {
    case QuantFormat::kQ8_0:
      return GemvInt8Avx2<M, quant::BlockQ8_0, LoadQ8>(x, static_cast<const quant::BlockQ8_0*>(w), n, k, n0, n1,
                                                       y, beta);
    case QuantFormat::kQ4_0:
      return GemvInt8Avx2<M, quant::BlockQ4_0, LoadQ4>(x, static_cast<const quant::BlockQ4_0*>(w), n, k, n0, n1,
                                                       y, beta);
    case QuantFormat::kNf4:
      return GemvNf4Int8Avx2<M>(x, quant::Nf4Layout(n, k, w), k, n, n0, n1, y, beta);
  }
}

bool HasAvx2Fma() {
  static const bool has =
      __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma") && __builtin_cpu_supports("f16c");
  return has;
}

// One compiled kernel per row count of x.
void GemvAvx2Rows(QuantFormat format, const float* x, std::int64_t m, const void* w, std::int64_t n,
                  std::int64_t k, std::int64_t n0, std::int64_t n1, float* y, float beta) {
  switch (m) {
    case 1: return GemvAvx2<1>(format, x, w, n, k, n0, n1, y, beta);
    case 2: return GemvAvx2<2>(format, x, w, n, k, n0, n1, y, beta);
    case 3: return GemvAvx2<3>(format, x, w, n, k, n0, n1, y, beta);
    case 4: return GemvAvx2<4>(format, x, w, n, k, n0, n1, y, beta);
    case 5: return GemvAvx2<5>(format, x, w, n, k, n0, n1, y, beta);
    case 6: return GemvAvx2<6>(format, x, w, n, k, n0, n1, y, beta);
    case 7: return GemvAvx2<7>(format, x, w, n, k, n0, n1, y, beta);
    default: return GemvAvx2<8>(format, x, w, n, k, n0, n1, y, beta);
  }
}
#endif  // __x86_64__

// Runs fn over [0, n) on the pool, or inline without one.
template <typename Fn>
void Split(const ThreadPool* pool, std::int64_t n, Fn&& fn, std::int64_t grain) {
  if (pool == nullptr) {
    if (n > 0) fn(std::int64_t{0}, n);
    return;
  }
  pool->For(n, fn, grain);
}

}  // namespace

void QuantGemv(QuantFormat format, const float* x, std::int64_t m, const void* w, std::int64_t n, std::int64_t k,
               float* y, const ThreadPool* pool, float beta, bool force_portable) {
  quant::QuantCheckShape(format, n, k);
  QUANT_CHECK(m >= 1 && m <= kQuantGemvMaxRows, "QuantGemv: rows of x must be 1..kQuantGemvMaxRows");
#if defined(__x86_64__)
  if (!force_portable && HasAvx2Fma()) {
    Split(pool, n, [&](std::int64_t n0, std::int64_t n1) { GemvAvx2Rows(format, x, m, w, n, k, n0, n1, y, beta); },
          kGemvGrain);
    return;
  }
#endif
  (void)force_portable;
  Split(pool, n, [&](std::int64_t n0, std::int64_t n1) { GemvPortable(format, x, m, w, n, k, n0, n1, y, beta); },
        kGemvGrain);
}

std::int64_t QuantGemmPanelRows(std::int64_t n, std::int64_t k) {
  QUANT_CHECK(n > 0 && k > 0, "QuantGemmPanelRows: sizes must be positive");
  auto budget = static_cast<std::int64_t>(kGemmPanelBudgetBytes / sizeof(float)) / k;
  if (const std::int64_t cap = g_panel_cap; cap > 0) budget = std::min(budget, cap);
  return std::clamp<std::int64_t>(budget, 1, n);
}

std::uint64_t QuantGemmWorkspaceBytes(std::int64_t n, std::int64_t k) {
  return static_cast<std::uint64_t>(QuantGemmPanelRows(n, k)) * static_cast<std::uint64_t>(k) * sizeof(float);
}

void QuantGemm(QuantFormat format, const float* x, std::int64_t m, const void* w, std::int64_t n, std::int64_t k,
               float* y, float* workspace, const ThreadPool* pool, float beta) {
  quant::QuantCheckShape(format, n, k);
  QUANT_CHECK(m >= 1, "QuantGemm: rows of x must be positive");
  const std::int64_t panel = QuantGemmPanelRows(n, k);
  for (std::int64_t p0 = 0; p0 < n; p0 += panel) {
    const std::int64_t rows = std::min(panel, n - p0);
    Split(pool, rows, [&](std::int64_t r0, std::int64_t r1) {
      DequantizeRows(format, w, n, k, p0 + r0, p0 + r1, workspace + r0 * k);
    }, kGemvGrain);
    // y[:, p0 + r] = x * panel[r]^T, split over the panel's rows.
    Split(pool, rows, [&](std::int64_t r0, std::int64_t r1) {
      cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, static_cast<int>(m), static_cast<int>(r1 - r0),
                  static_cast<int>(k), 1.0f, x, static_cast<int>(k), workspace + r0 * k, static_cast<int>(k), beta,
                  y + p0 + r0, static_cast<int>(n));
    }, kGemvGrain);
  }
}

void QuantGemmBackward(QuantFormat format, const float* dy, std::int64_t m, const void* w, std::int64_t n,
                       std::int64_t k, float* dx, float* workspace, const ThreadPool* pool, float beta) {
  quant::QuantCheckShape(format, n, k);
  QUANT_CHECK(m >= 1, "QuantGemmBackward: rows of dy must be positive");
  const std::int64_t panel = QuantGemmPanelRows(n, k);
  for (std::int64_t p0 = 0; p0 < n; p0 += panel) {
    const std::int64_t rows = std::min(panel, n - p0);
    Split(pool, rows, [&](std::int64_t r0, std::int64_t r1) {
      DequantizeRows(format, w, n, k, p0 + r0, p0 + r1, workspace + r0 * k);
    }, kGemvGrain);
    // dx[:, c] (+)= dy[:, p0:p0+rows] * panel[:, c]; later panels accumulate.
    const float b = p0 == 0 ? beta : 1.0f;
    Split(pool, k, [&](std::int64_t c0, std::int64_t c1) {
      cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, static_cast<int>(m), static_cast<int>(c1 - c0),
                  static_cast<int>(rows), 1.0f, dy + p0, static_cast<int>(n), workspace + c0, static_cast<int>(k), b,
                  dx + c0, static_cast<int>(k));
    }, kGemvGrain);
  }
}

std::uint64_t QuantLinearWorkspaceBytes(bool trans_w, std::int64_t m, std::int64_t n, std::int64_t k) {
  if (trans_w && m <= kQuantGemvMaxRows) return 0;
  return QuantGemmWorkspaceBytes(n, k);
}

}  // namespace localbench::kernels
