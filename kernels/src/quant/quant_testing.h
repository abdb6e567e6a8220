// Test hook: caps the rows per dequantized panel of QuantGemm and
// QuantGemmBackward so small test matrices exercise the multi-panel path
// (the backward product accumulates across panels).
#pragma once

#include <cstdint>

namespace localbench::kernels::quant {

// 0 restores the default (the kGemmPanelBudgetBytes budget).
void SetQuantPanelCapForTesting(std::int64_t rows);

}  // namespace localbench::kernels::quant
