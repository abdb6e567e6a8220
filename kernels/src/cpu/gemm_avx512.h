// AVX-512 BF16 kernels of the CPU GEMM (gemm.cc). Compiled with per-function
// target attributes, never global -mavx512 flags: call them only when
// cpu::ActiveIsa() == Isa::kAvx512Bf16 (cpu/isa.h), or they fault with an
// illegal instruction.
#pragma once

#include <cstdint>

#include "cpu/elements.h"

namespace localbench::kernels::cpu {

// Rows the AVX-512 GEMV handles at once (the decode batch), as in gemm.cc.
inline constexpr std::int64_t kAvx512MaxGemvRows = 8;

// y[r, n] = alpha * dot(x[r, :], w[n, :]) + beta * y[r, n] for r < m and n in
// [n0, n1); x is [m, k] fp32 (row stride k), w is [N, k] bf16, y has row
// stride ldy. beta == 0 ignores y's old contents (NaN included).
//
// vdpbf16ps multiplies bf16 pairs and accumulates into fp32 lanes, so x is
// split into two bf16 parts, hi = bf16(x) and lo = bf16(x - hi), and the
// weight row is dotted with both: x is kept to ~16 significant bits (relative
// error <= 2^-16, against 2^-8 for plain bf16 rounding), each bf16 x bf16
// product is exact in fp32, and the sums are fp32 as on the AVX2 path. The
// weights are read once either way; decode is bound by those bytes, so the
// second dot product costs no time.
// Requires 1 <= m <= kAvx512MaxGemvRows.
void GemvBf16Avx512(const float* x, std::int64_t m, const Bf16* w, std::int64_t k, std::int64_t n0,
                    std::int64_t n1, float* y, std::int64_t ldy, float alpha, float beta);

// Widens a prefix of n 16-bit values to fp32, 16 per instruction; returns the
// prefix length (a multiple of 16). The caller converts the rest.
std::int64_t ConvertBf16Avx512(const Bf16* src, float* dst, std::int64_t n);
std::int64_t ConvertF16Avx512(const F16* src, float* dst, std::int64_t n);

}  // namespace localbench::kernels::cpu
