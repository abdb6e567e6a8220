// Test hooks. Caps the rows per dequantized panel of QuantGemm and
// QuantGemmBackward so small test matrices exercise the multi-panel path
// (the backward product accumulates across panels).
#pragma once

#include <cstdint>

namespace localbench::kernels::quant {

// 0 restores the default (the kGemmPanelBudgetBytes budget).
void SetQuantPanelCapForTesting(std::int64_t rows);

// The AVX2 decode GEMV's Q4_0 kernels (docs/BENCHMARKS.md compares them):
// one block per step with the sign trick (the first int8 kernel), two
// blocks per 256-bit register with precomputed scales (the default), and the
// same with unsigned nibbles and a per-row bias correction.
enum class Q4Kernel : int { kPerBlock, kPairs, kPairsBias };

// Picks the Q4_0 kernel for the tests and the benchmark (process-wide).
void SetQ4KernelForTesting(Q4Kernel kernel);

}  // namespace localbench::kernels::quant
