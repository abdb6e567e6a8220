// RMSNorm forward and input gradient, one block per row with block
// reductions (the weight gradient is LaunchColumnSum in elementwise.cu).
// One source for CUDA and HIP (vendor.h); rmsnorm.hip includes this file.
#include <cmath>
#include <cstdint>

#include "ops.cuh"

namespace localbench::kernels::LB_GPU_NS {
namespace {

__global__ void RmsNormForwardKernel(const float* x, const void* w, Elem we, float eps, float* out, float* rstd,
                                     std::int64_t hidden) {
  __shared__ float scratch[kMaxWarpsPerBlock];
  const std::int64_t row = blockIdx.x;
  const float* xr = x + row * hidden;
  float ss = 0.f;
  for (std::int64_t h = threadIdx.x; h < hidden; h += blockDim.x) ss += xr[h] * xr[h];
  ss = BlockSum(ss, scratch);
  const float r = rsqrtf(ss / static_cast<float>(hidden) + eps);
  if (threadIdx.x == 0) rstd[row] = r;
  float* orow = out + row * hidden;
  for (std::int64_t h = threadIdx.x; h < hidden; h += blockDim.x) orow[h] = xr[h] * r * LoadF(w, we, h);
}

__global__ void RmsNormBackwardXKernel(const float* d_out, const float* x, const void* w, Elem we,
                                       const float* rstd, float* d_x, std::int64_t hidden) {
  __shared__ float scratch[kMaxWarpsPerBlock];
  const std::int64_t row = blockIdx.x;
  const float* xr = x + row * hidden;
  const float* dyr = d_out + row * hidden;
  float dot = 0.f;  // sum_j d_out_j * w_j * x_j
  for (std::int64_t h = threadIdx.x; h < hidden; h += blockDim.x) dot += dyr[h] * LoadF(w, we, h) * xr[h];
  dot = BlockSum(dot, scratch);
  const float r = rstd[row];
  const float coef = r * r * dot / static_cast<float>(hidden);
  float* dxr = d_x + row * hidden;
  for (std::int64_t h = threadIdx.x; h < hidden; h += blockDim.x) {
    dxr[h] += r * (dyr[h] * LoadF(w, we, h) - xr[h] * coef);
  }
}

}  // namespace

absl::Status LaunchRmsNormForward(const float* x, const void* w, Elem we, float eps, float* out, float* rstd,
                                  std::int64_t rows, std::int64_t hidden, gpuStream_t s) {
  if (rows == 0) return absl::OkStatus();
  RmsNormForwardKernel<<<static_cast<unsigned int>(rows), kRowThreads, 0, s>>>(x, w, we, eps, out, rstd, hidden);
  return LaunchStatus("RmsNormForwardKernel");
}

absl::Status LaunchRmsNormBackwardX(const float* d_out, const float* x, const void* w, Elem we,
                                    const float* rstd, float* d_x, std::int64_t rows, std::int64_t hidden,
                                    gpuStream_t s) {
  if (rows == 0) return absl::OkStatus();
  RmsNormBackwardXKernel<<<static_cast<unsigned int>(rows), kRowThreads, 0, s>>>(d_out, x, w, we, rstd, d_x,
                                                                                 hidden);
  return LaunchStatus("RmsNormBackwardXKernel");
}

}  // namespace localbench::kernels::LB_GPU_NS
