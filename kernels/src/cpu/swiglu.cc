// CpuBackend's SwiGLU ops: gate, up and out share one storage type, the
// gradients another (fp32 or a 16-bit training run's type; backend.h).
#include "cpu/swiglu.h"

#include <type_traits>

#include "cpu/thread_pool.h"
#include "localbench/kernels/cpu_backend.h"

namespace localbench::kernels {

absl::Status CpuBackend::SwiGluForwardImpl(const Tensor& gate, const Tensor& up, Tensor out) {
  cpu::WithElementType(gate.dtype, gate.data, [&](auto* g) {
    using X = std::remove_pointer_t<decltype(g)>;
    cpu::SwiGluForward(*pool_, g, static_cast<const X*>(up.data), static_cast<X*>(out.data), gate.numel());
  });
  return absl::OkStatus();
}

absl::Status CpuBackend::SwiGluBackwardImpl(const Tensor& d_out, const Tensor& gate, const Tensor& up,
                                            Tensor d_gate, Tensor d_up) {
  cpu::WithElementType(gate.dtype, gate.data, [&](auto* g) {
    using X = std::remove_pointer_t<decltype(g)>;
    cpu::WithElementType(d_out.dtype, d_out.data, [&](auto* dy) {
      using G = std::remove_pointer_t<decltype(dy)>;
      cpu::SwiGluBackward(*pool_, dy, g, static_cast<const X*>(up.data), static_cast<G*>(d_gate.data),
                          static_cast<G*>(d_up.data), gate.numel());
    });
  });
  return absl::OkStatus();
}

}  // namespace localbench::kernels
