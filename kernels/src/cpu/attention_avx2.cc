// AVX2 decode attention (see attention_avx2.h). The scalar template in
// attention.h sums each q.k dot product in one fp32 chain and runs ~1/8 of
// the machine's width; in a decode step it ran single-file for a few percent
// of the token's time between the GEMVs. Softmax stays scalar (std::exp on
// group * length values per task, small next to the dot products).
#include "cpu/attention_avx2.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <vector>

#include "cpu/simd_avx2.h"
#include "cpu/thread_pool.h"

namespace localbench::kernels::cpu {

#if defined(__x86_64__)
namespace {

// Chunks of 8 lanes held in registers at once (d = 64 fits in one block).
constexpr std::int64_t kBlock = 8;

// s[j] (+)= q . k_j for j < length over lanes [c0, c0 + 8 nc) of one head.
template <typename W>
LB_TARGET_AVX2 void Scores(const float* qr, const W* kc, std::int64_t row_stride, std::int64_t length,
                           std::int64_t c0, std::int64_t nc, bool first, float* s) {
  __m256 qv[kBlock];
  for (std::int64_t c = 0; c < nc; ++c) qv[c] = _mm256_loadu_ps(qr + c0 + 8 * c);
  for (std::int64_t j = 0; j < length; ++j) {
    const W* kr = kc + j * row_stride + c0;
    __m256 a0 = _mm256_setzero_ps(), a1 = _mm256_setzero_ps();
    std::int64_t c = 0;
    for (; c + 1 < nc; c += 2) {
      a0 = _mm256_fmadd_ps(qv[c], Load8(kr + 8 * c), a0);
      a1 = _mm256_fmadd_ps(qv[c + 1], Load8(kr + 8 * (c + 1)), a1);
    }
    if (c < nc) a0 = _mm256_fmadd_ps(qv[c], Load8(kr + 8 * c), a0);
    const float dot = HorizontalSum(_mm256_add_ps(a0, a1));
    s[j] = first ? dot : s[j] + dot;
  }
}

// o[c0, c0 + 8 nc) = sum_j p[j] v_j over the same lanes.
template <typename W>
LB_TARGET_AVX2 void Mix(const float* p, const W* vc, std::int64_t row_stride, std::int64_t length, std::int64_t c0,
                        std::int64_t nc, float* o) {
  __m256 acc[kBlock];
  for (std::int64_t c = 0; c < nc; ++c) acc[c] = _mm256_setzero_ps();
  for (std::int64_t j = 0; j < length; ++j) {
    const __m256 pj = _mm256_set1_ps(p[j]);
    const W* vr = vc + j * row_stride + c0;
    for (std::int64_t c = 0; c < nc; ++c) acc[c] = _mm256_fmadd_ps(pj, Load8(vr + 8 * c), acc[c]);
  }
  for (std::int64_t c = 0; c < nc; ++c) _mm256_storeu_ps(o + c0 + 8 * c, acc[c]);
}

}  // namespace

template <typename W>
void AttentionDecodeAvx2(const ThreadPool& pool, const float* q, const W* kc, const W* vc, float* out,
                         std::int64_t batch, std::int64_t hq, std::int64_t hkv, std::int64_t d, std::int64_t t_max,
                         std::int64_t length) {
  const std::int64_t group = hq / hkv;
  const float scale = static_cast<float>(1.0 / std::sqrt(static_cast<double>(d)));
  const std::int64_t row_stride = hkv * d;  // consecutive positions of one kv head
  pool.For(batch * hkv, [&](std::int64_t w0, std::int64_t w1) {
    std::vector<float> s(static_cast<std::size_t>(length));
    for (std::int64_t w = w0; w < w1; ++w) {
      const std::int64_t b = w / hkv, g = w % hkv;
      const W* kb = kc + (b * t_max * hkv + g) * d;
      const W* vb = vc + (b * t_max * hkv + g) * d;
      for (std::int64_t hh = 0; hh < group; ++hh) {
        const std::int64_t head = b * hq + g * group + hh;
        for (std::int64_t c0 = 0; c0 < d; c0 += 8 * kBlock) {
          Scores(q + head * d, kb, row_stride, length, c0, std::min(kBlock, (d - c0) / 8), c0 == 0, s.data());
        }
        float mx = -std::numeric_limits<float>::infinity();
        for (std::int64_t j = 0; j < length; ++j) {
          s[static_cast<std::size_t>(j)] *= scale;
          mx = std::max(mx, s[static_cast<std::size_t>(j)]);
        }
        float sum = 0;
        for (std::int64_t j = 0; j < length; ++j) {
          float& e = s[static_cast<std::size_t>(j)];
          e = std::exp(e - mx);
          sum += e;
        }
        const float inv = 1.0f / sum;
        for (std::int64_t j = 0; j < length; ++j) s[static_cast<std::size_t>(j)] *= inv;
        for (std::int64_t c0 = 0; c0 < d; c0 += 8 * kBlock) {
          Mix(s.data(), vb, row_stride, length, c0, std::min(kBlock, (d - c0) / 8), out + head * d);
        }
      }
    }
  }, 1);
}

#else  // not x86-64: never selected (ActiveIsa() is kPortable).

template <typename W>
void AttentionDecodeAvx2(const ThreadPool&, const float*, const W*, const W*, float*, std::int64_t, std::int64_t,
                         std::int64_t, std::int64_t, std::int64_t, std::int64_t) {
  __builtin_trap();
}

#endif

template void AttentionDecodeAvx2<float>(const ThreadPool&, const float*, const float*, const float*, float*,
                                         std::int64_t, std::int64_t, std::int64_t, std::int64_t, std::int64_t,
                                         std::int64_t);
template void AttentionDecodeAvx2<Bf16>(const ThreadPool&, const float*, const Bf16*, const Bf16*, float*,
                                        std::int64_t, std::int64_t, std::int64_t, std::int64_t, std::int64_t,
                                        std::int64_t);
template void AttentionDecodeAvx2<F16>(const ThreadPool&, const float*, const F16*, const F16*, float*, std::int64_t,
                                       std::int64_t, std::int64_t, std::int64_t, std::int64_t, std::int64_t);

}  // namespace localbench::kernels::cpu
