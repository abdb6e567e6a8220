// Shared device helpers for the GPU kernels: element types, loads and stores
// with fp32 accumulation, warp and block reductions, launch checking.
// Vendor-neutral: everything vendor-specific comes from vendor.h.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>

#include "absl/status/status.h"
#include "vendor.h"

namespace localbench::kernels::LB_GPU_NS {

// Storage type of a device buffer. 16-bit types are stored as raw bits and
// converted to fp32 at every load; arithmetic is always fp32.
enum class Elem : int { kF32 = 0, kBF16 = 1, kF16 = 2 };

// Bytes per element of `e`.
__host__ __device__ inline constexpr std::size_t ElemBytes(Elem e) { return e == Elem::kF32 ? 4 : 2; }

__device__ __forceinline__ float lb_bf16_to_float(uint16_t bits) {
  return __uint_as_float(static_cast<uint32_t>(bits) << 16);
}

// Round to nearest even, NaN kept quiet: the same rounding the CPU
// reference uses for bf16.
__device__ __forceinline__ uint16_t lb_float_to_bf16(float v) {
  uint32_t u = __float_as_uint(v);
  if ((u & 0x7fffffffu) > 0x7f800000u) return static_cast<uint16_t>((u >> 16) | 0x40u);
  u += 0x7fffu + ((u >> 16) & 1u);
  return static_cast<uint16_t>(u >> 16);
}

// Loads element i of a buffer of type `e` as fp32.
__device__ __forceinline__ float LoadF(const void* p, Elem e, std::size_t i) {
  switch (e) {
    case Elem::kF32:
      return static_cast<const float*>(p)[i];
    case Elem::kBF16:
      return lb_bf16_to_float(static_cast<const uint16_t*>(p)[i]);
    default:
      return lb_half_to_float(static_cast<const uint16_t*>(p)[i]);
  }
}

// Stores fp32 `v` as element i of a buffer of type `e`.
__device__ __forceinline__ void StoreF(void* p, Elem e, std::size_t i, float v) {
  switch (e) {
    case Elem::kF32:
      static_cast<float*>(p)[i] = v;
      break;
    case Elem::kBF16:
      static_cast<uint16_t*>(p)[i] = lb_float_to_bf16(v);
      break;
    default:
      static_cast<uint16_t*>(p)[i] = lb_float_to_half(v);
      break;
  }
}

// Compile-time typed load/store for kernels templated on the storage type.
template <Elem E>
__device__ __forceinline__ float Ld(const void* p, std::size_t i) {
  if constexpr (E == Elem::kF32) {
    return static_cast<const float*>(p)[i];
  } else if constexpr (E == Elem::kBF16) {
    return lb_bf16_to_float(static_cast<const uint16_t*>(p)[i]);
  } else {
    return lb_half_to_float(static_cast<const uint16_t*>(p)[i]);
  }
}
template <Elem E>
__device__ __forceinline__ void St(void* p, std::size_t i, float v) {
  if constexpr (E == Elem::kF32) {
    static_cast<float*>(p)[i] = v;
  } else if constexpr (E == Elem::kBF16) {
    static_cast<uint16_t*>(p)[i] = lb_float_to_bf16(v);
  } else {
    static_cast<uint16_t*>(p)[i] = lb_float_to_half(v);
  }
}

// A device buffer with its storage type: activations (and their gradients)
// may be 16-bit in a 16-bit training run (backend.h). Loads give fp32,
// stores round once.
struct DevBuf {
  void* p;
  Elem e;
  __device__ __forceinline__ float Get(std::size_t i) const { return LoadF(p, e, i); }
  __device__ __forceinline__ void Set(std::size_t i, float v) const { StoreF(p, e, i, v); }
};

// Sum over the warp (wavefront); every lane gets the result.
__device__ __forceinline__ float WarpSum(float v) {
#pragma unroll
  for (int m = LB_WARP_SIZE / 2; m > 0; m >>= 1) v += lb_shfl_xor(v, m);
  return v;
}
// Maximum over the warp; every lane gets the result.
__device__ __forceinline__ float WarpMax(float v) {
#pragma unroll
  for (int m = LB_WARP_SIZE / 2; m > 0; m >>= 1) v = fmaxf(v, lb_shfl_xor(v, m));
  return v;
}

// Most warps a block can hold: 1024 threads over the narrowest warp (32).
inline constexpr int kMaxWarpsPerBlock = 32;

// Sum over the whole block; every thread gets the result. Every thread of
// the block must call it (it synchronises). `scratch` holds
// kMaxWarpsPerBlock floats of shared memory and may be reused after return.
__device__ __forceinline__ float BlockSum(float v, float* scratch) {
  const int lane = static_cast<int>(threadIdx.x) % LB_WARP_SIZE;
  const int warp = static_cast<int>(threadIdx.x) / LB_WARP_SIZE;
  const int nwarps = (static_cast<int>(blockDim.x) + LB_WARP_SIZE - 1) / LB_WARP_SIZE;
  v = WarpSum(v);
  __syncthreads();  // scratch may still be read by a previous call
  if (lane == 0) scratch[warp] = v;
  __syncthreads();
  float total = 0.f;
  for (int w = 0; w < nwarps; ++w) total += scratch[w];
  return total;
}
// Maximum over the whole block; same contract as BlockSum.
__device__ __forceinline__ float BlockMax(float v, float* scratch) {
  const int lane = static_cast<int>(threadIdx.x) % LB_WARP_SIZE;
  const int warp = static_cast<int>(threadIdx.x) / LB_WARP_SIZE;
  const int nwarps = (static_cast<int>(blockDim.x) + LB_WARP_SIZE - 1) / LB_WARP_SIZE;
  v = WarpMax(v);
  __syncthreads();
  if (lane == 0) scratch[warp] = v;
  __syncthreads();
  float m = -INFINITY;
  for (int w = 0; w < nwarps; ++w) m = fmaxf(m, scratch[w]);
  return m;
}

// Turns a runtime error into a Status naming the call site.
inline absl::Status GpuStatus(gpuError_t err, const char* what) {
  if (err == gpuSuccess) return absl::OkStatus();
  std::string msg = std::string(LB_GPU_VENDOR_NAME " ") + what + ": " + gpuGetErrorName(err) + " (" +
                    gpuGetErrorString(err) + ")";
  if (err == gpuErrorMemoryAllocation) return absl::ResourceExhaustedError(msg);
  return absl::InternalError(msg);
}

// Checks the launch just made (configuration errors surface here; faults
// surface at the next synchronisation).
inline absl::Status LaunchStatus(const char* kernel) {
  return GpuStatus(gpuGetLastError(), kernel);
}

// Blocks of `threads` needed to cover n items.
inline unsigned int CeilDiv(std::size_t n, std::size_t d) { return static_cast<unsigned int>((n + d - 1) / d); }

// Launch shapes of the element-wise and row kernels.
inline constexpr int kThreads = 256;
inline constexpr int kRowThreads = 256;
inline constexpr std::int64_t kMaxBlocks = 1 << 20;

// Blocks for a grid-stride loop over n items.
inline unsigned int GridFor(std::int64_t n) {
  const std::int64_t b = (n + kThreads - 1) / kThreads;
  return static_cast<unsigned int>(b < 1 ? 1 : (b > kMaxBlocks ? kMaxBlocks : b));
}
__device__ __forceinline__ std::int64_t GlobalThread() {
  return static_cast<std::int64_t>(blockIdx.x) * blockDim.x + threadIdx.x;
}
__device__ __forceinline__ std::int64_t GridStride() { return static_cast<std::int64_t>(gridDim.x) * blockDim.x; }

// Which op found an index outside its range (IndexError::op).
enum class IndexOp : int { kNone = 0, kEmbeddingForward = 1, kEmbeddingBackward = 2, kCrossEntropy = 3 };

// The first out-of-range index (token id, target) a kernel met. Input
// errors are not traps: a trap kills the context (sticky on CUDA), and ids in
// device memory are an input the host could not check without a
// synchronising copy. The kernel records the index here, in host-mapped
// memory the host reads after the next synchronisation without a copy (so
// graph capture still works), skips the row, and the context turns it into
// the contract's IndexOutOfRange error (context.cu), device still usable.
struct IndexError {
  int set;  // 0 until the first report
  int op;   // IndexOp
  long long row;
  long long value;
  long long limit;
};

// Records (op, row, value, limit) unless an earlier index was recorded.
__device__ __forceinline__ void ReportIndexError(IndexError* e, IndexOp op, std::int64_t row, std::int64_t value,
                                                 std::int64_t limit) {
  if (atomicCAS(&e->set, 0, 1) != 0) return;
  e->op = static_cast<int>(op);
  e->row = row;
  e->value = value;
  e->limit = limit;
  __threadfence_system();
}

}  // namespace localbench::kernels::LB_GPU_NS
