// Element-wise kernels: fills (the seeded uniform fill matches the CPU's
// counter hash), conversion, axpy, scale, bias add, the deterministic column
// sum behind the bias and norm-weight gradients, and the bandwidth probe.
// One source for CUDA and HIP (vendor.h); elementwise.hip includes this file.
#include <cmath>
#include <cstdint>

#include "ops.cuh"
#include "random.cuh"

namespace localbench::kernels::LB_GPU_NS {
namespace {

__global__ void FillKernel(void* x, Elem e, std::int64_t n, float value) {
  for (std::int64_t i = GlobalThread(); i < n; i += GridStride()) StoreF(x, e, i, value);
}

__global__ void FillRandomKernel(void* x, Elem e, std::int64_t n, std::uint64_t seed, float scale) {
  for (std::int64_t i = GlobalThread(); i < n; i += GridStride()) StoreF(x, e, i, SeededUniform(seed, i, scale));
}

__global__ void ConvertKernel(const void* src, Elem se, void* dst, Elem de, std::int64_t n) {
  for (std::int64_t i = GlobalThread(); i < n; i += GridStride()) StoreF(dst, de, i, LoadF(src, se, i));
}

__global__ void Convert2dKernel(const void* src, Elem se, std::int64_t src_ld, std::int64_t col0, void* dst, Elem de,
                                std::int64_t dst_ld, std::int64_t rows, std::int64_t cols) {
  const std::int64_t n = rows * cols;
  for (std::int64_t i = GlobalThread(); i < n; i += GridStride()) {
    const std::int64_t r = i / cols, c = i % cols;
    StoreF(dst, de, r * dst_ld + c, LoadF(src, se, r * src_ld + col0 + c));
  }
}

__global__ void AxpyKernel(float alpha, const void* x, Elem xe, void* y, Elem ye, std::int64_t n) {
  for (std::int64_t i = GlobalThread(); i < n; i += GridStride()) {
    StoreF(y, ye, i, LoadF(y, ye, i) + alpha * LoadF(x, xe, i));
  }
}

__global__ void ScaleKernel(void* x, Elem e, std::int64_t n, float alpha) {
  for (std::int64_t i = GlobalThread(); i < n; i += GridStride()) StoreF(x, e, i, LoadF(x, e, i) * alpha);
}

__global__ void AddBiasKernel(DevBuf x, const void* bias, Elem be, std::int64_t rows, std::int64_t cols) {
  const std::int64_t n = rows * cols;
  for (std::int64_t i = GlobalThread(); i < n; i += GridStride()) x.Set(i, x.Get(i) + LoadF(bias, be, i % cols));
}

// Column sums: a block owns 32 columns; its 8 row groups each sum a strided
// share of the rows, then the partial sums are added in row-group order.
constexpr int kColTile = 32, kRowGroups = 8;
__global__ void ColumnSumKernel(DevBuf d_out, DevBuf x, const float* rstd, void* d_bias, Elem be, std::int64_t rows,
                                std::int64_t cols) {
  __shared__ float partial[kRowGroups][kColTile];
  const int tc = static_cast<int>(threadIdx.x) % kColTile, tr = static_cast<int>(threadIdx.x) / kColTile;
  const std::int64_t c = static_cast<std::int64_t>(blockIdx.x) * kColTile + tc;
  float acc = 0.f;
  if (c < cols) {
    for (std::int64_t r = tr; r < rows; r += kRowGroups) {
      const std::int64_t i = r * cols + c;
      acc += x.p != nullptr ? d_out.Get(i) * x.Get(i) * rstd[r] : d_out.Get(i);
    }
  }
  partial[tr][tc] = acc;
  __syncthreads();
  if (tr == 0 && c < cols) {
    float total = 0.f;
    for (int g = 0; g < kRowGroups; ++g) total += partial[g][tc];
    StoreF(d_bias, be, c, LoadF(d_bias, be, c) + total);
  }
}

// 16-byte loads and stores, four in flight per thread.
__global__ void CopyKernel(uint4* dst, const uint4* src, std::int64_t n) {
  const std::int64_t stride = GridStride();
  std::int64_t i = GlobalThread();
  for (; i + 3 * stride < n; i += 4 * stride) {
    const uint4 a = src[i], b = src[i + stride], c = src[i + 2 * stride], d = src[i + 3 * stride];
    dst[i] = a;
    dst[i + stride] = b;
    dst[i + 2 * stride] = c;
    dst[i + 3 * stride] = d;
  }
  for (; i < n; i += stride) dst[i] = src[i];
}

}  // namespace

absl::Status LaunchFill(void* x, Elem e, std::int64_t n, float value, gpuStream_t s) {
  if (n == 0) return absl::OkStatus();
  FillKernel<<<GridFor(n), kThreads, 0, s>>>(x, e, n, value);
  return LaunchStatus("FillKernel");
}

absl::Status LaunchFillRandomUniform(void* x, Elem e, std::int64_t n, std::uint64_t seed, float scale,
                                     gpuStream_t s) {
  if (n == 0) return absl::OkStatus();
  FillRandomKernel<<<GridFor(n), kThreads, 0, s>>>(x, e, n, seed, scale);
  return LaunchStatus("FillRandomKernel");
}

absl::Status LaunchConvert(const void* src, Elem se, void* dst, Elem de, std::int64_t n, gpuStream_t s) {
  if (n == 0) return absl::OkStatus();
  ConvertKernel<<<GridFor(n), kThreads, 0, s>>>(src, se, dst, de, n);
  return LaunchStatus("ConvertKernel");
}

absl::Status LaunchConvert2d(const void* src, Elem se, std::int64_t src_ld, std::int64_t col0, void* dst, Elem de,
                             std::int64_t dst_ld, std::int64_t rows, std::int64_t cols, gpuStream_t s) {
  if (rows * cols == 0) return absl::OkStatus();
  Convert2dKernel<<<GridFor(rows * cols), kThreads, 0, s>>>(src, se, src_ld, col0, dst, de, dst_ld, rows, cols);
  return LaunchStatus("Convert2dKernel");
}

absl::Status LaunchAxpy(float alpha, const void* x, Elem xe, void* y, Elem ye, std::int64_t n, gpuStream_t s) {
  if (n == 0) return absl::OkStatus();
  AxpyKernel<<<GridFor(n), kThreads, 0, s>>>(alpha, x, xe, y, ye, n);
  return LaunchStatus("AxpyKernel");
}

absl::Status LaunchScale(void* x, Elem e, std::int64_t n, float alpha, gpuStream_t s) {
  if (n == 0) return absl::OkStatus();
  ScaleKernel<<<GridFor(n), kThreads, 0, s>>>(x, e, n, alpha);
  return LaunchStatus("ScaleKernel");
}

absl::Status LaunchAddBias(DevBuf x, const void* bias, Elem be, std::int64_t rows, std::int64_t cols,
                           gpuStream_t s) {
  if (rows * cols == 0) return absl::OkStatus();
  AddBiasKernel<<<GridFor(rows * cols), kThreads, 0, s>>>(x, bias, be, rows, cols);
  return LaunchStatus("AddBiasKernel");
}

absl::Status LaunchColumnSum(DevBuf d_out, DevBuf x, const float* rstd, void* d_bias, Elem be,
                             std::int64_t rows, std::int64_t cols, gpuStream_t s) {
  if (cols == 0) return absl::OkStatus();
  ColumnSumKernel<<<CeilDiv(cols, kColTile), kColTile * kRowGroups, 0, s>>>(d_out, x, rstd, d_bias, be, rows,
                                                                           cols);
  return LaunchStatus("ColumnSumKernel");
}

absl::Status LaunchCopy(void* dst, const void* src, std::uint64_t bytes, int sm_count, gpuStream_t s) {
  const std::int64_t n = static_cast<std::int64_t>(bytes / 16);
  if (n == 0) return absl::OkStatus();
  // Enough resident blocks to saturate memory, few enough that each thread
  // streams several vectors.
  std::int64_t blocks = static_cast<std::int64_t>(sm_count > 0 ? sm_count : 1) * 8;
  const std::int64_t needed = (n + kThreads - 1) / kThreads;
  if (blocks > needed) blocks = needed;
  CopyKernel<<<static_cast<unsigned int>(blocks), kThreads, 0, s>>>(static_cast<uint4*>(dst),
                                                                    static_cast<const uint4*>(src), n);
  return LaunchStatus("CopyKernel");
}

}  // namespace localbench::kernels::LB_GPU_NS
