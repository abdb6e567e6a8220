// RMSNorm forward and input gradient, one block per row with block
// reductions (the weight gradient is LaunchColumnSum in elementwise.cu).
// One source for CUDA and HIP (vendor.h); rmsnorm.hip includes this file.
#include <cmath>
#include <cstdint>

#include "ops.cuh"

namespace localbench::kernels::LB_GPU_NS {
namespace {

__global__ void RmsNormForwardKernel(DevBuf x, const void* w, Elem we, float eps, DevBuf out, float* rstd,
                                     std::int64_t hidden) {
  __shared__ float scratch[kMaxWarpsPerBlock];
  const std::int64_t row = blockIdx.x;
  const std::int64_t base = row * hidden;
  float ss = 0.f;
  for (std::int64_t h = threadIdx.x; h < hidden; h += blockDim.x) {
    const float xv = x.Get(base + h);
    ss += xv * xv;
  }
  ss = BlockSum(ss, scratch);
  const float r = rsqrtf(ss / static_cast<float>(hidden) + eps);
  if (threadIdx.x == 0) rstd[row] = r;
  for (std::int64_t h = threadIdx.x; h < hidden; h += blockDim.x) out.Set(base + h, x.Get(base + h) * r * LoadF(w, we, h));
}

__global__ void RmsNormBackwardXKernel(DevBuf d_out, DevBuf x, const void* w, Elem we, const float* rstd, float* d_x,
                                       std::int64_t hidden) {
  __shared__ float scratch[kMaxWarpsPerBlock];
  const std::int64_t row = blockIdx.x;
  const std::int64_t base = row * hidden;
  float dot = 0.f;  // sum_j d_out_j * w_j * x_j
  for (std::int64_t h = threadIdx.x; h < hidden; h += blockDim.x) {
    dot += d_out.Get(base + h) * LoadF(w, we, h) * x.Get(base + h);
  }
  dot = BlockSum(dot, scratch);
  const float r = rstd[row];
  const float coef = r * r * dot / static_cast<float>(hidden);
  float* dxr = d_x + row * hidden;
  for (std::int64_t h = threadIdx.x; h < hidden; h += blockDim.x) {
    dxr[h] += r * (d_out.Get(base + h) * LoadF(w, we, h) - x.Get(base + h) * coef);
  }
}

}  // namespace

absl::Status LaunchRmsNormForward(DevBuf x, const void* w, Elem we, float eps, DevBuf out, float* rstd,
                                  std::int64_t rows, std::int64_t hidden, gpuStream_t s) {
  if (rows == 0) return absl::OkStatus();
  RmsNormForwardKernel<<<static_cast<unsigned int>(rows), kRowThreads, 0, s>>>(x, w, we, eps, out, rstd, hidden);
  return LaunchStatus("RmsNormForwardKernel");
}

absl::Status LaunchRmsNormBackwardX(DevBuf d_out, DevBuf x, const void* w, Elem we,
                                    const float* rstd, float* d_x, std::int64_t rows, std::int64_t hidden,
                                    gpuStream_t s) {
  if (rows == 0) return absl::OkStatus();
  RmsNormBackwardXKernel<<<static_cast<unsigned int>(rows), kRowThreads, 0, s>>>(d_out, x, w, we, rstd, d_x,
                                                                                 hidden);
  return LaunchStatus("RmsNormBackwardXKernel");
}

}  // namespace localbench::kernels::LB_GPU_NS
