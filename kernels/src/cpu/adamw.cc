// CpuBackend's AdamW op.
#include "cpu/adamw.h"

#include "cpu/thread_pool.h"
#include "localbench/kernels/cpu_backend.h"

namespace localbench::kernels {

absl::Status CpuBackend::AdamWImpl(Tensor param, const Tensor& grad, Tensor m, Tensor v, const AdamWParams& p) {
  cpu::WithElementType(param.dtype, param.data, [&](auto* pp) {
    cpu::WithElementType(grad.dtype, grad.data, [&](auto* gp) {
      cpu::AdamW(*pool_, pp, gp, static_cast<float*>(m.data), static_cast<float*>(v.data), param.numel(),
                 p.learning_rate, p.beta1, p.beta2, p.epsilon, p.weight_decay, p.step);
    });
  });
  return absl::OkStatus();
}

}  // namespace localbench::kernels
