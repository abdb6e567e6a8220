// Test hook: caps the CPU GEMM's panel width so small test matrices exercise
// the multi-panel path (real shapes rarely need more than one panel).
#pragma once

#include <cstdint>

namespace localbench::kernels::cpu {

// 0 restores the default (GemmPanelColumns).
void SetGemmPanelCapForTesting(std::int64_t columns);

}  // namespace localbench::kernels::cpu
