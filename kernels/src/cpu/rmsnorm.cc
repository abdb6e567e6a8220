// CpuBackend's RMSNorm ops.
#include "cpu/rmsnorm.h"

#include "cpu/thread_pool.h"
#include "localbench/kernels/cpu_backend.h"

namespace localbench::kernels {
namespace {
float* F(const Tensor& t) { return static_cast<float*>(t.data); }
}  // namespace

absl::Status CpuBackend::RmsNormForwardImpl(const Tensor& x, const Tensor& weight, float eps, Tensor out,
                                            Tensor rstd) {
  cpu::WithElementType(weight.dtype, weight.data, [&](auto* w) {
    cpu::RmsNormForward(*pool_, F(x), w, static_cast<double>(eps), F(out), F(rstd), x.rows(), x.cols());
  });
  return absl::OkStatus();
}

absl::Status CpuBackend::RmsNormBackwardImpl(const Tensor& d_out, const Tensor& x, const Tensor& weight,
                                             const Tensor& rstd, Tensor d_x, Tensor d_weight) {
  cpu::WithElementType(weight.dtype, weight.data, [&](auto* w) {
    if (!d_weight.present()) {
      cpu::RmsNormBackward(*pool_, F(d_out), F(x), w, F(rstd), F(d_x), static_cast<float*>(nullptr), x.rows(),
                           x.cols());
      return;
    }
    cpu::WithElementType(d_weight.dtype, d_weight.data, [&](auto* dw) {
      cpu::RmsNormBackward(*pool_, F(d_out), F(x), w, F(rstd), F(d_x), dw, x.rows(), x.cols());
    });
  });
  return absl::OkStatus();
}

}  // namespace localbench::kernels
