// The AdamW update with decoupled weight decay, any parameter and gradient
// storage type, fp32 moments.
// One source for CUDA and HIP (vendor.h); adamw.hip includes this file.
#include <cmath>
#include <cstdint>

#include "ops.cuh"

namespace localbench::kernels::LB_GPU_NS {
namespace {

__global__ void AdamWKernel(void* param, Elem pe, const void* grad, Elem ge, float* m, float* v, std::int64_t n,
                            float lr, float beta1, float beta2, float eps, float wd, float c1, float c2) {
  for (std::int64_t i = GlobalThread(); i < n; i += GridStride()) {
    const float g = LoadF(grad, ge, i);
    const float mi = beta1 * m[i] + (1.f - beta1) * g;
    const float vi = beta2 * v[i] + (1.f - beta2) * g * g;
    m[i] = mi;
    v[i] = vi;
    const float p = LoadF(param, pe, i);
    const float update = (mi / c1) / (sqrtf(vi / c2) + eps) + wd * p;
    StoreF(param, pe, i, p - lr * update);
  }
}

}  // namespace

absl::Status LaunchAdamW(void* param, Elem pe, const void* grad, Elem ge, float* m, float* v, std::int64_t n,
                         float lr, float beta1, float beta2, float eps, float weight_decay, float c1, float c2,
                         gpuStream_t s) {
  if (n == 0) return absl::OkStatus();
  AdamWKernel<<<GridFor(n), kThreads, 0, s>>>(param, pe, grad, ge, m, v, n, lr, beta1, beta2, eps, weight_decay, c1,
                                              c2);
  return LaunchStatus("AdamWKernel");
}

}  // namespace localbench::kernels::LB_GPU_NS
