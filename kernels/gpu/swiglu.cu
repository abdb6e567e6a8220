// The SwiGLU activation silu(gate) * up and its gradient.
// One source for CUDA and HIP (vendor.h); swiglu.hip includes this file.
#include <cmath>
#include <cstdint>

#include "ops.cuh"

namespace localbench::kernels::LB_GPU_NS {
namespace {

__device__ __forceinline__ float Sigmoid(float g) { return 1.f / (1.f + expf(-g)); }

__global__ void SwiGluForwardKernel(DevBuf gate, DevBuf up, DevBuf out, std::int64_t n) {
  for (std::int64_t i = GlobalThread(); i < n; i += GridStride()) {
    const float g = gate.Get(i);
    out.Set(i, g * Sigmoid(g) * up.Get(i));
  }
}

__global__ void SwiGluBackwardKernel(DevBuf d_out, DevBuf gate, DevBuf up, DevBuf d_gate, DevBuf d_up, std::int64_t n) {
  for (std::int64_t i = GlobalThread(); i < n; i += GridStride()) {
    const float g = gate.Get(i), u = up.Get(i), dy = d_out.Get(i);
    const float sg = Sigmoid(g);
    const float silu = g * sg;
    d_gate.Set(i, dy * u * sg * (1.f + g * (1.f - sg)));
    d_up.Set(i, dy * silu);
  }
}

}  // namespace

absl::Status LaunchSwiGluForward(DevBuf gate, DevBuf up, DevBuf out, std::int64_t n, gpuStream_t s) {
  if (n == 0) return absl::OkStatus();
  SwiGluForwardKernel<<<GridFor(n), kThreads, 0, s>>>(gate, up, out, n);
  return LaunchStatus("SwiGluForwardKernel");
}

absl::Status LaunchSwiGluBackward(DevBuf d_out, DevBuf gate, DevBuf up, DevBuf d_gate, DevBuf d_up, std::int64_t n,
                                  gpuStream_t s) {
  if (n == 0) return absl::OkStatus();
  SwiGluBackwardKernel<<<GridFor(n), kThreads, 0, s>>>(d_out, gate, up, d_gate, d_up, n);
  return LaunchStatus("SwiGluBackwardKernel");
}

}  // namespace localbench::kernels::LB_GPU_NS
