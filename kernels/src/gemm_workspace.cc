// The GEMM workspace contract shared by every backend and the memory plan.
#include <algorithm>

#include "localbench/kernels/backend.h"

namespace localbench::kernels {

std::uint64_t GemmWorkspaceBytes(std::int64_t m, std::int64_t n, std::int64_t k, DType a, DType b,
                                 DType c) {
  // fp32 copies: all of A, one panel of B (panel columns x K), one panel of C.
  const std::uint64_t panel = static_cast<std::uint64_t>(std::min<std::int64_t>(n, kGemmPanelColumns));
  std::uint64_t floats = 0;
  if (a != DType::kF32) floats += static_cast<std::uint64_t>(m) * static_cast<std::uint64_t>(k);
  if (b != DType::kF32) floats += panel * static_cast<std::uint64_t>(k);
  if (c != DType::kF32) floats += static_cast<std::uint64_t>(m) * panel;
  return floats * 4;
}

}  // namespace localbench::kernels
