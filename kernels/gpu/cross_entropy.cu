// Vocabulary-row ops, one block per row: softmax, cross-entropy with its
// gradient (a target outside the vocabulary is reported through IndexError,
// not trapped), argmax with the lowest index on ties.
// One source for CUDA and HIP (vendor.h); cross_entropy.hip includes this file.
#include <cmath>
#include <cstdint>

#include "ops.cuh"

namespace localbench::kernels::LB_GPU_NS {
namespace {

__global__ void SoftmaxKernel(const float* x, float* out, std::int64_t cols) {
  __shared__ float scratch[kMaxWarpsPerBlock];
  const float* xr = x + static_cast<std::int64_t>(blockIdx.x) * cols;
  float* orow = out + static_cast<std::int64_t>(blockIdx.x) * cols;
  float m = -INFINITY;
  for (std::int64_t c = threadIdx.x; c < cols; c += blockDim.x) m = fmaxf(m, xr[c]);
  m = BlockMax(m, scratch);
  float sum = 0.f;
  for (std::int64_t c = threadIdx.x; c < cols; c += blockDim.x) sum += expf(xr[c] - m);
  sum = BlockSum(sum, scratch);
  const float inv = 1.f / sum;
  for (std::int64_t c = threadIdx.x; c < cols; c += blockDim.x) orow[c] = expf(xr[c] - m) * inv;
}

constexpr int kCeThreads = 1024;
__global__ void __launch_bounds__(kCeThreads) CrossEntropyKernel(const float* logits, const std::int32_t* targets,
                                                                 float* losses, float* d_logits, float grad_scale,
                                                                 std::int64_t vocab, IndexError* err) {
  __shared__ float scratch[kMaxWarpsPerBlock];
  const std::int64_t row = blockIdx.x;
  const float* xr = logits + row * vocab;
  const std::int32_t t = targets[row];
  if (t < 0 || t >= vocab) {  // the whole block takes this branch: no barrier is skipped by some threads only
    if (threadIdx.x == 0) {
      ReportIndexError(err, IndexOp::kCrossEntropy, row, t, vocab);
      losses[row] = NAN;
    }
    return;
  }
  const float x_t = xr[t];  // read before an in-place gradient overwrites it
  float m = -INFINITY;
  for (std::int64_t c = threadIdx.x; c < vocab; c += blockDim.x) m = fmaxf(m, xr[c]);
  m = BlockMax(m, scratch);
  float sum = 0.f;
  for (std::int64_t c = threadIdx.x; c < vocab; c += blockDim.x) sum += expf(xr[c] - m);
  sum = BlockSum(sum, scratch);  // also a barrier: every thread has read x_t
  const float lse = m + logf(sum);
  if (threadIdx.x == 0) losses[row] = lse - x_t;
  if (d_logits != nullptr) {
    float* dr = d_logits + row * vocab;
    for (std::int64_t c = threadIdx.x; c < vocab; c += blockDim.x) {
      const float p = expf(xr[c] - lse);
      dr[c] = grad_scale * (p - (c == t ? 1.f : 0.f));
    }
  }
}

// (value, index) maximum with the lowest index winning ties.
__device__ __forceinline__ void ArgmaxMerge(float& v, int& i, float ov, int oi) {
  if (ov > v || (ov == v && oi < i)) {
    v = ov;
    i = oi;
  }
}

__global__ void ArgmaxKernel(const float* x, std::int32_t* out, std::int64_t cols) {
  __shared__ float sv[kMaxWarpsPerBlock];
  __shared__ int si[kMaxWarpsPerBlock];
  const float* xr = x + static_cast<std::int64_t>(blockIdx.x) * cols;
  float best = -INFINITY;
  int idx = 0x7fffffff;
  for (std::int64_t c = threadIdx.x; c < cols; c += blockDim.x) ArgmaxMerge(best, idx, xr[c], static_cast<int>(c));
#pragma unroll
  for (int m = LB_WARP_SIZE / 2; m > 0; m >>= 1) {
    const float ov = lb_shfl_xor(best, m);
    const int oi = lb_shfl_xor(idx, m);
    ArgmaxMerge(best, idx, ov, oi);
  }
  const int lane = static_cast<int>(threadIdx.x) % LB_WARP_SIZE, warp = static_cast<int>(threadIdx.x) / LB_WARP_SIZE;
  if (lane == 0) {
    sv[warp] = best;
    si[warp] = idx;
  }
  __syncthreads();
  if (threadIdx.x == 0) {
    const int nwarps = (static_cast<int>(blockDim.x) + LB_WARP_SIZE - 1) / LB_WARP_SIZE;
    float b = sv[0];
    int bi = si[0];
    for (int w = 1; w < nwarps; ++w) ArgmaxMerge(b, bi, sv[w], si[w]);
    // A row of NaNs (or -inf only) still names a valid index.
    out[blockIdx.x] = bi == 0x7fffffff ? 0 : bi;
  }
}

}  // namespace

absl::Status LaunchSoftmax(const float* x, float* out, std::int64_t rows, std::int64_t cols, gpuStream_t s) {
  if (rows == 0 || cols == 0) return absl::OkStatus();
  SoftmaxKernel<<<static_cast<unsigned int>(rows), kRowThreads, 0, s>>>(x, out, cols);
  return LaunchStatus("SoftmaxKernel");
}

absl::Status LaunchCrossEntropy(const float* logits, const std::int32_t* targets, float* losses, float* d_logits,
                                float grad_scale, std::int64_t rows, std::int64_t vocab, IndexError* err,
                                gpuStream_t s) {
  if (rows == 0) return absl::OkStatus();
  CrossEntropyKernel<<<static_cast<unsigned int>(rows), kCeThreads, 0, s>>>(logits, targets, losses, d_logits,
                                                                            grad_scale, vocab, err);
  return LaunchStatus("CrossEntropyKernel");
}

absl::Status LaunchArgmax(const float* x, std::int32_t* out, std::int64_t rows, std::int64_t cols, gpuStream_t s) {
  if (rows == 0) return absl::OkStatus();
  ArgmaxKernel<<<static_cast<unsigned int>(rows), kCeThreads, 0, s>>>(x, out, cols);
  return LaunchStatus("ArgmaxKernel");
}

}  // namespace localbench::kernels::LB_GPU_NS
