// CpuBackend's embedding ops (ids were range-checked by the contract).
#include "cpu/embedding.h"

#include "cpu/thread_pool.h"
#include "localbench/kernels/cpu_backend.h"

namespace localbench::kernels {

absl::Status CpuBackend::EmbeddingForwardImpl(const Tensor& table, const std::int32_t* ids, Tensor out) {
  cpu::WithElementType(table.dtype, table.data, [&](auto* t) {
    cpu::WithElementType(out.dtype, out.data, [&](auto* o) {
      cpu::EmbeddingForward(*pool_, t, ids, o, out.rows(), out.cols());
    });
  });
  return absl::OkStatus();
}

absl::Status CpuBackend::EmbeddingBackwardImpl(const Tensor& d_out, const std::int32_t* ids, Tensor d_table) {
  cpu::WithElementType(d_table.dtype, d_table.data, [&](auto* t) {
    cpu::EmbeddingBackward(*pool_, static_cast<const float*>(d_out.data), ids, t, d_out.rows(), d_out.cols());
  });
  return absl::OkStatus();
}

}  // namespace localbench::kernels
