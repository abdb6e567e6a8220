// Rotary position embedding, rotate-half pairing as Llama and Qwen.
// One source for CUDA and HIP (vendor.h); rope.hip includes this file.
#include <cmath>
#include <cstdint>

#include "ops.cuh"

namespace localbench::kernels::LB_GPU_NS {
namespace {

// One thread per (row, head, pair i < D/2): rotates (x[i], x[i + D/2]).
// The angle is formed in double and reduced modulo 2*pi before the fp32
// sine/cosine, so long positions keep full precision.
__global__ void RopeKernel(DevBuf x, std::int64_t rows, std::int64_t heads, std::int64_t dim, std::int64_t seq_len,
                           std::int64_t position_offset, float theta, float sign) {
  const std::int64_t half = dim / 2;
  const std::int64_t n = rows * heads * half;
  for (std::int64_t idx = GlobalThread(); idx < n; idx += GridStride()) {
    const std::int64_t i = idx % half;
    const std::int64_t rh = idx / half;  // row * heads + head
    const std::int64_t row = rh / heads;
    const std::int64_t pos = position_offset + row % seq_len;
    const double inv_freq = pow(static_cast<double>(theta), -2.0 * static_cast<double>(i) / static_cast<double>(dim));
    const double angle = fmod(static_cast<double>(pos) * inv_freq, 6.283185307179586476925286766559);
    float sn, cs;
    sincosf(static_cast<float>(angle), &sn, &cs);
    sn *= sign;
    const std::int64_t base = rh * dim;
    const float x1 = x.Get(base + i), x2 = x.Get(base + i + half);
    x.Set(base + i, x1 * cs - x2 * sn);
    x.Set(base + i + half, x2 * cs + x1 * sn);
  }
}

}  // namespace

absl::Status LaunchRope(DevBuf x, std::int64_t rows, std::int64_t heads, std::int64_t dim, std::int64_t seq_len,
                        std::int64_t position_offset, float theta, float sign, gpuStream_t s) {
  const std::int64_t n = rows * heads * (dim / 2);
  if (n == 0) return absl::OkStatus();
  RopeKernel<<<GridFor(n), kThreads, 0, s>>>(x, rows, heads, dim, seq_len, position_offset, theta, sign);
  return LaunchStatus("RopeKernel");
}

}  // namespace localbench::kernels::LB_GPU_NS
