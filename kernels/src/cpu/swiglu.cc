// CpuBackend's SwiGLU ops.
#include "cpu/swiglu.h"

#include "cpu/thread_pool.h"
#include "localbench/kernels/cpu_backend.h"

namespace localbench::kernels {
namespace {
float* F(const Tensor& t) { return static_cast<float*>(t.data); }
}  // namespace

absl::Status CpuBackend::SwiGluForwardImpl(const Tensor& gate, const Tensor& up, Tensor out) {
  cpu::SwiGluForward(*pool_, F(gate), F(up), F(out), gate.numel());
  return absl::OkStatus();
}

absl::Status CpuBackend::SwiGluBackwardImpl(const Tensor& d_out, const Tensor& gate, const Tensor& up,
                                            Tensor d_gate, Tensor d_up) {
  cpu::SwiGluBackward(*pool_, F(d_out), F(gate), F(up), F(d_gate), F(d_up), gate.numel());
  return absl::OkStatus();
}

}  // namespace localbench::kernels
