// The GEMM workspace contract shared by every backend and the memory plan.
#include <algorithm>

#include "localbench/kernels/backend.h"

namespace localbench::kernels {

std::int64_t GemmPanelColumns(std::int64_t m, std::int64_t n, std::int64_t k, DType b, DType c) {
  const std::int64_t per_column = (b != DType::kF32 ? k : 0) + (c != DType::kF32 ? m : 0);
  if (per_column == 0) return n;
  const std::int64_t budget = static_cast<std::int64_t>(kGemmPanelBudgetBytes / 4) / per_column;
  return std::max<std::int64_t>(1, std::min(n, std::max<std::int64_t>(64, budget)));
}

std::uint64_t GemmWorkspaceBytes(std::int64_t m, std::int64_t n, std::int64_t k, DType a, DType b,
                                 DType c) {
  const auto panel = static_cast<std::uint64_t>(GemmPanelColumns(m, n, k, b, c));
  std::uint64_t floats = 0;
  if (a != DType::kF32) floats += static_cast<std::uint64_t>(m) * static_cast<std::uint64_t>(k);
  if (b != DType::kF32) floats += panel * static_cast<std::uint64_t>(k);
  if (c != DType::kF32) floats += static_cast<std::uint64_t>(m) * panel;
  return floats * 4;
}

}  // namespace localbench::kernels
