// CpuBackend's RMSNorm ops. x, out and d_out may be 16-bit (a 16-bit
// training run's working set); rstd and d_x (the residual stream's
// gradient) are fp32 (backend.h).
#include "cpu/rmsnorm.h"

#include <type_traits>

#include "cpu/thread_pool.h"
#include "localbench/kernels/cpu_backend.h"

namespace localbench::kernels {
namespace {
float* F(const Tensor& t) { return static_cast<float*>(t.data); }
}  // namespace

absl::Status CpuBackend::RmsNormForwardImpl(const Tensor& x, const Tensor& weight, float eps, Tensor out,
                                            Tensor rstd) {
  cpu::WithElementType(x.dtype, x.data, [&](auto* xs) {
    using X = std::remove_pointer_t<decltype(xs)>;
    cpu::WithElementType(weight.dtype, weight.data, [&](auto* w) {
      cpu::RmsNormForward(*pool_, xs, w, static_cast<double>(eps), static_cast<X*>(out.data), F(rstd), x.rows(),
                          x.cols());
    });
  });
  return absl::OkStatus();
}

absl::Status CpuBackend::RmsNormBackwardImpl(const Tensor& d_out, const Tensor& x, const Tensor& weight,
                                             const Tensor& rstd, Tensor d_x, Tensor d_weight) {
  cpu::WithElementType(x.dtype, x.data, [&](auto* xs) {
    cpu::WithElementType(d_out.dtype, d_out.data, [&](auto* dy) {
      cpu::WithElementType(weight.dtype, weight.data, [&](auto* w) {
        if (!d_weight.present()) {
          cpu::RmsNormBackward(*pool_, dy, xs, w, F(rstd), F(d_x), static_cast<float*>(nullptr), x.rows(), x.cols());
          return;
        }
        cpu::WithElementType(d_weight.dtype, d_weight.data, [&](auto* dw) {
          cpu::RmsNormBackward(*pool_, dy, xs, w, F(rstd), F(d_x), dw, x.rows(), x.cols());
        });
      });
    });
  });
  return absl::OkStatus();
}

}  // namespace localbench::kernels
