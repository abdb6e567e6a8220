// AVX2 helpers shared by the CPU kernels' AVX2 paths: 8-lane loads of every
// storage type widened to fp32, and a horizontal sum. Each carries its own
// target attribute (the library is built for baseline x86-64); call them only
// from functions with the same target, chosen at run time (cpu/isa.h).
#pragma once

#if defined(__x86_64__)
#include <immintrin.h>

#include "cpu/elements.h"

#define LB_TARGET_AVX2 __attribute__((target("avx2,fma,f16c")))

namespace localbench::kernels::cpu {

LB_TARGET_AVX2 inline __m256 Load8(const float* p) { return _mm256_loadu_ps(p); }
LB_TARGET_AVX2 inline __m256 Load8(const Bf16* p) {
  const __m128i h = _mm_loadu_si128(reinterpret_cast<const __m128i*>(p));
  return _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_cvtepu16_epi32(h), 16));
}
LB_TARGET_AVX2 inline __m256 Load8(const F16* p) {
  return _mm256_cvtph_ps(_mm_loadu_si128(reinterpret_cast<const __m128i*>(p)));
}

LB_TARGET_AVX2 inline float HorizontalSum(__m256 v) {
  __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
  s = _mm_add_ps(s, _mm_movehl_ps(s, s));
  s = _mm_add_ss(s, _mm_shuffle_ps(s, s, 1));
  return _mm_cvtss_f32(s);
}

}  // namespace localbench::kernels::cpu

#endif  // __x86_64__
