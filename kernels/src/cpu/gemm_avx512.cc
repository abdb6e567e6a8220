// AVX-512 BF16 GEMV and 16-bit widening for the CPU GEMM (see gemm_avx512.h).
// Every function here carries its own target attribute; the file is compiled
// with the library's baseline flags, so nothing else in it may use AVX-512.
#include "cpu/gemm_avx512.h"

#include <vector>

#if defined(__x86_64__)
// GCC 12 warns that _mm512_undefined_* values are "maybe uninitialized"
// inside its own AVX-512 headers (GCC bug 105593); the warning's location is
// the header, so it is silenced for the header only.
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#endif
#include <immintrin.h>
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic pop
#endif
#endif

namespace localbench::kernels::cpu {

#if defined(__x86_64__)
#define LB_AVX512_BF16 __attribute__((target("avx512f,avx512bw,avx512vl,avx512bf16,avx2,fma,f16c")))

namespace {

// Elements per vdpbf16ps: 32 bf16 = 16 fp32 lanes, each lane summing one
// adjacent pair (2j, 2j+1).
constexpr std::int64_t kStep = 32;

// Splits x[0, kv) (kv a multiple of 16) into bf16 hi = RNE(x) and
// lo = RNE(x - hi); x - hi is exact in fp32 (Sterbenz), so hi + lo carries x
// to ~16 significant bits.
LB_AVX512_BF16 void SplitBf16(const float* x, std::int64_t kv, std::uint16_t* hi, std::uint16_t* lo) {
  for (std::int64_t i = 0; i < kv; i += 16) {
    const __m512 xv = _mm512_loadu_ps(x + i);
    const __m256bh h = _mm512_cvtneps_pbh(xv);
    const __m256i h_bits = __builtin_bit_cast(__m256i, h);
    const __m512 h_f32 = _mm512_castsi512_ps(_mm512_slli_epi32(_mm512_cvtepu16_epi32(h_bits), 16));
    const __m256bh l = _mm512_cvtneps_pbh(_mm512_sub_ps(xv, h_f32));
    _mm256_storeu_si256(reinterpret_cast<__m256i*>(hi + i), h_bits);
    _mm256_storeu_si256(reinterpret_cast<__m256i*>(lo + i), __builtin_bit_cast(__m256i, l));
  }
}

LB_AVX512_BF16 inline __m512bh LoadBh(const void* p) { return __builtin_bit_cast(__m512bh, _mm512_loadu_si512(p)); }

// M rows at once: every 64-byte weight load feeds 2 M dot products. Two
// accumulators per row (hi and lo) keep the dependency chains short.
template <int M>
LB_AVX512_BF16 void GemvRows(const float* x, const std::uint16_t* hi, const std::uint16_t* lo, const Bf16* w,
                             std::int64_t k, std::int64_t kv, std::int64_t n0, std::int64_t n1, float* y,
                             std::int64_t ldy, float alpha, float beta) {
  for (std::int64_t n = n0; n < n1; ++n) {
    const Bf16* wr = w + n * k;
    __m512 acc_hi[M], acc_lo[M];
    for (int r = 0; r < M; ++r) acc_hi[r] = acc_lo[r] = _mm512_setzero_ps();
    for (std::int64_t i = 0; i < kv; i += kStep) {
      const __m512bh wv = LoadBh(wr + i);
      for (int r = 0; r < M; ++r) {
        acc_hi[r] = _mm512_dpbf16_ps(acc_hi[r], wv, LoadBh(hi + r * kv + i));
        acc_lo[r] = _mm512_dpbf16_ps(acc_lo[r], wv, LoadBh(lo + r * kv + i));
      }
    }
    for (int r = 0; r < M; ++r) {
      float s = _mm512_reduce_add_ps(_mm512_add_ps(acc_hi[r], acc_lo[r]));
      for (std::int64_t i = kv; i < k; ++i) s += Load(wr[i]) * x[r * k + i];
      y[r * ldy + n] = alpha * s + (beta == 0.0f ? 0.0f : beta * y[r * ldy + n]);
    }
  }
}

}  // namespace

void GemvBf16Avx512(const float* x, std::int64_t m, const Bf16* w, std::int64_t k, std::int64_t n0,
                    std::int64_t n1, float* y, std::int64_t ldy, float alpha, float beta) {
  const std::int64_t kv = k / kStep * kStep;
  // Per-thread scratch for the split activations (m * kv each): each pool
  // part splits x itself, m * k work against its (n1 - n0) * k weight reads.
  thread_local std::vector<std::uint16_t> hi, lo;
  hi.resize(static_cast<std::size_t>(m * kv));
  lo.resize(static_cast<std::size_t>(m * kv));
  for (std::int64_t r = 0; r < m; ++r) SplitBf16(x + r * k, kv, hi.data() + r * kv, lo.data() + r * kv);
  switch (m) {
    case 1: GemvRows<1>(x, hi.data(), lo.data(), w, k, kv, n0, n1, y, ldy, alpha, beta); return;
    case 2: GemvRows<2>(x, hi.data(), lo.data(), w, k, kv, n0, n1, y, ldy, alpha, beta); return;
    case 3: GemvRows<3>(x, hi.data(), lo.data(), w, k, kv, n0, n1, y, ldy, alpha, beta); return;
    case 4: GemvRows<4>(x, hi.data(), lo.data(), w, k, kv, n0, n1, y, ldy, alpha, beta); return;
    case 5: GemvRows<5>(x, hi.data(), lo.data(), w, k, kv, n0, n1, y, ldy, alpha, beta); return;
    case 6: GemvRows<6>(x, hi.data(), lo.data(), w, k, kv, n0, n1, y, ldy, alpha, beta); return;
    case 7: GemvRows<7>(x, hi.data(), lo.data(), w, k, kv, n0, n1, y, ldy, alpha, beta); return;
    case 8: GemvRows<8>(x, hi.data(), lo.data(), w, k, kv, n0, n1, y, ldy, alpha, beta); return;
    default: __builtin_trap();  // the caller checks m (gemm.cc)
  }
}

LB_AVX512_BF16 std::int64_t ConvertBf16Avx512(const Bf16* src, float* dst, std::int64_t n) {
  const std::int64_t n16 = n / 16 * 16;
  for (std::int64_t i = 0; i < n16; i += 16) {
    const __m256i h = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(src + i));
    _mm512_storeu_ps(dst + i, _mm512_castsi512_ps(_mm512_slli_epi32(_mm512_cvtepu16_epi32(h), 16)));
  }
  return n16;
}

LB_AVX512_BF16 std::int64_t ConvertF16Avx512(const F16* src, float* dst, std::int64_t n) {
  const std::int64_t n16 = n / 16 * 16;
  for (std::int64_t i = 0; i < n16; i += 16) {
    _mm512_storeu_ps(dst + i, _mm512_cvtph_ps(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(src + i))));
  }
  return n16;
}

#undef LB_AVX512_BF16
#else  // not x86-64: never selected (ActiveIsa() is kPortable), kept linkable.

void GemvBf16Avx512(const float*, std::int64_t, const Bf16*, std::int64_t, std::int64_t, std::int64_t, float*,
                    std::int64_t, float, float) {
  __builtin_trap();
}
std::int64_t ConvertBf16Avx512(const Bf16*, float*, std::int64_t) { return 0; }
std::int64_t ConvertF16Avx512(const F16*, float*, std::int64_t) { return 0; }

#endif

}  // namespace localbench::kernels::cpu
