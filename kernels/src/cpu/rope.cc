// CpuBackend's RoPE ops: the forward rotates by +angle, the backward by -angle
// (x of any storage type, rotated in fp32).
#include "cpu/rope.h"

#include "cpu/thread_pool.h"
#include "localbench/kernels/cpu_backend.h"

namespace localbench::kernels {

absl::Status CpuBackend::RopeForwardImpl(Tensor x, std::int64_t seq_len, std::int64_t position_offset,
                                         float theta) {
  cpu::WithElementType(x.dtype, x.data, [&](auto* xs) {
    cpu::Rope(*pool_, xs, x.dim(0), x.dim(1), x.dim(2), seq_len, position_offset, theta, 1.0);
  });
  return absl::OkStatus();
}

absl::Status CpuBackend::RopeBackwardImpl(Tensor d_x, std::int64_t seq_len, std::int64_t position_offset,
                                          float theta) {
  cpu::WithElementType(d_x.dtype, d_x.data, [&](auto* xs) {
    cpu::Rope(*pool_, xs, d_x.dim(0), d_x.dim(1), d_x.dim(2), seq_len, position_offset, theta, -1.0);
  });
  return absl::OkStatus();
}

}  // namespace localbench::kernels
