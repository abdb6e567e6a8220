// One source, two vendors: the only place that names CUDA or HIP.
//
// Every .cu file in kernels/gpu/ is compiled twice: by nvcc for the CUDA
// backend and by Debian's HIP clang (through a one-line .hip file that
// includes the .cu) for the HIP backend. This header maps the few runtime
// names and device intrinsics the kernels use, so no vendor-only spelling
// appears anywhere else (the approach of llama.cpp's ggml-cuda vendors/).
//
// It also picks the C++ namespace: the same source defines
// localbench::kernels::cuda::* in the CUDA build and
// localbench::kernels::hip::* in the HIP build, so both link into one
// library without clashing.
#pragma once

#include <cstdint>
#include <type_traits>

#if defined(__HIPCC__)
#include <hip/hip_fp16.h>
#include <hip/hip_runtime.h>

#define LB_GPU_NS hip
#define LB_GPU_VENDOR_NAME "HIP"
#define LB_GPU_IS_HIP 1

using gpuError_t = hipError_t;
using gpuStream_t = hipStream_t;
using gpuEvent_t = hipEvent_t;
using gpuGraph_t = hipGraph_t;
using gpuGraphExec_t = hipGraphExec_t;
using gpuDeviceProp_t = hipDeviceProp_t;
#define gpuSuccess hipSuccess
#define gpuErrorMemoryAllocation hipErrorOutOfMemory
#define gpuGetErrorString hipGetErrorString
#define gpuGetErrorName hipGetErrorName
#define gpuGetLastError hipGetLastError
#define gpuPeekAtLastError hipPeekAtLastError
#define gpuGetDeviceCount hipGetDeviceCount
#define gpuGetDeviceProperties hipGetDeviceProperties
#define gpuSetDevice hipSetDevice
#define gpuGetDevice hipGetDevice
#define gpuMalloc hipMalloc
#define gpuFree hipFree
#define gpuMemcpy hipMemcpy
#define gpuMemcpyAsync hipMemcpyAsync
#define gpuMemsetAsync hipMemsetAsync
#define gpuMemcpyHostToDevice hipMemcpyHostToDevice
#define gpuMemcpyDeviceToHost hipMemcpyDeviceToHost
#define gpuMemcpyDeviceToDevice hipMemcpyDeviceToDevice
#define gpuMemGetInfo hipMemGetInfo
#define gpuStreamCreateWithFlags hipStreamCreateWithFlags
#define gpuStreamNonBlocking hipStreamNonBlocking
#define gpuStreamDestroy hipStreamDestroy
#define gpuStreamSynchronize hipStreamSynchronize
#define gpuStreamBeginCapture hipStreamBeginCapture
#define gpuStreamEndCapture hipStreamEndCapture
#define gpuStreamCaptureModeThreadLocal hipStreamCaptureModeThreadLocal
#define gpuGraphInstantiate(exec, graph) hipGraphInstantiate((exec), (graph), nullptr, nullptr, 0)
#define gpuGraphLaunch hipGraphLaunch
#define gpuGraphDestroy hipGraphDestroy
#define gpuGraphExecDestroy hipGraphExecDestroy
#define gpuEventCreate hipEventCreate
#define gpuEventDestroy hipEventDestroy
#define gpuEventRecord hipEventRecord
#define gpuEventSynchronize hipEventSynchronize
#define gpuEventElapsedTime hipEventElapsedTime
#define gpuDriverGetVersion hipDriverGetVersion
#define gpuRuntimeGetVersion hipRuntimeGetVersion
#define gpuHostAllocMapped(ptr, bytes) hipHostMalloc((ptr), (bytes), hipHostMallocMapped)
#define gpuHostGetDevicePointer hipHostGetDevicePointer
#define gpuFreeHost hipHostFree
#define gpuFuncSetMaxDynamicSharedMemory(func, bytes) \
  hipFuncSetAttribute(reinterpret_cast<const void*>(func), hipFuncAttributeMaxDynamicSharedMemorySize, (bytes))

// Wavefront width: 64 on CDNA (gfx9), 32 on RDNA (gfx10+). A compile-time
// constant in device code. Host code sees 64, the widest: launch sizes
// derived from it over-cover on a 32-wide device (surplus warps exit early),
// never under-cover; exact host logic asks the device properties.
#if defined(__HIP_DEVICE_COMPILE__)
#define LB_WARP_SIZE __AMDGCN_WAVEFRONT_SIZE
#else
#define LB_WARP_SIZE 64
#endif

// HIP 5.2 has no *_sync shuffles; its shuffles act on the whole wavefront.
template <typename T>
__device__ __forceinline__ T lb_shfl_xor(T v, int lane_mask) {
  return __shfl_xor(v, lane_mask);
}
// Lanes of a wavefront run in lock step; a compiler fence is enough.
__device__ __forceinline__ void lb_syncwarp() { __builtin_amdgcn_wave_barrier(); }

#else  // CUDA
#include <cuda_fp16.h>
#include <cuda_runtime.h>

#define LB_GPU_NS cuda
#define LB_GPU_VENDOR_NAME "CUDA"
#define LB_GPU_IS_HIP 0

using gpuError_t = cudaError_t;
using gpuStream_t = cudaStream_t;
using gpuEvent_t = cudaEvent_t;
using gpuGraph_t = cudaGraph_t;
using gpuGraphExec_t = cudaGraphExec_t;
using gpuDeviceProp_t = cudaDeviceProp;
#define gpuSuccess cudaSuccess
#define gpuErrorMemoryAllocation cudaErrorMemoryAllocation
#define gpuGetErrorString cudaGetErrorString
#define gpuGetErrorName cudaGetErrorName
#define gpuGetLastError cudaGetLastError
#define gpuPeekAtLastError cudaPeekAtLastError
#define gpuGetDeviceCount cudaGetDeviceCount
#define gpuGetDeviceProperties cudaGetDeviceProperties
#define gpuSetDevice cudaSetDevice
#define gpuGetDevice cudaGetDevice
#define gpuMalloc cudaMalloc
#define gpuFree cudaFree
#define gpuMemcpy cudaMemcpy
#define gpuMemcpyAsync cudaMemcpyAsync
#define gpuMemsetAsync cudaMemsetAsync
#define gpuMemcpyHostToDevice cudaMemcpyHostToDevice
#define gpuMemcpyDeviceToHost cudaMemcpyDeviceToHost
#define gpuMemcpyDeviceToDevice cudaMemcpyDeviceToDevice
#define gpuMemGetInfo cudaMemGetInfo
#define gpuStreamCreateWithFlags cudaStreamCreateWithFlags
#define gpuStreamNonBlocking cudaStreamNonBlocking
#define gpuStreamDestroy cudaStreamDestroy
#define gpuStreamSynchronize cudaStreamSynchronize
#define gpuStreamBeginCapture cudaStreamBeginCapture
#define gpuStreamEndCapture cudaStreamEndCapture
#define gpuStreamCaptureModeThreadLocal cudaStreamCaptureModeThreadLocal
#define gpuGraphInstantiate(exec, graph) cudaGraphInstantiate((exec), (graph), 0)
#define gpuGraphLaunch cudaGraphLaunch
#define gpuGraphDestroy cudaGraphDestroy
#define gpuGraphExecDestroy cudaGraphExecDestroy
#define gpuEventCreate cudaEventCreate
#define gpuEventDestroy cudaEventDestroy
#define gpuEventRecord cudaEventRecord
#define gpuEventSynchronize cudaEventSynchronize
#define gpuEventElapsedTime cudaEventElapsedTime
#define gpuDriverGetVersion cudaDriverGetVersion
#define gpuRuntimeGetVersion cudaRuntimeGetVersion
#define gpuHostAllocMapped(ptr, bytes) cudaHostAlloc((ptr), (bytes), cudaHostAllocMapped)
#define gpuHostGetDevicePointer cudaHostGetDevicePointer
#define gpuFreeHost cudaFreeHost
#define gpuFuncSetMaxDynamicSharedMemory(func, bytes) \
  cudaFuncSetAttribute((func), cudaFuncAttributeMaxDynamicSharedMemorySize, (bytes))

// Every NVIDIA GPU has 32-lane warps.
#define LB_WARP_SIZE 32

template <typename T>
__device__ __forceinline__ T lb_shfl_xor(T v, int lane_mask) {
  return __shfl_xor_sync(0xffffffffu, v, lane_mask);
}
// Independent thread scheduling (sm_70+) needs an explicit warp barrier.
__device__ __forceinline__ void lb_syncwarp() { __syncwarp(); }
#endif

// Matrix-core tiles for the portable GEMM: 16x16x16 products of 16-bit
// inputs with fp32 accumulation. NVIDIA (sm_80+) gets them from WMMA; the
// HIP build sets LB_HAVE_MMA 0 and the GEMM uses its SIMT kernel (Debian's
// HIP 5.2 ships no rocWMMA).
#if !LB_GPU_IS_HIP
#include <cuda_bf16.h>
#include <mma.h>
#define LB_HAVE_MMA 1
template <bool kBf16, bool kARowMajor, bool kBRowMajor>
struct LbMma16 {
  using T = typename std::conditional<kBf16, __nv_bfloat16, __half>::type;
  using LA = typename std::conditional<kARowMajor, nvcuda::wmma::row_major, nvcuda::wmma::col_major>::type;
  using LB = typename std::conditional<kBRowMajor, nvcuda::wmma::row_major, nvcuda::wmma::col_major>::type;
  using FragA = nvcuda::wmma::fragment<nvcuda::wmma::matrix_a, 16, 16, 16, T, LA>;
  using FragB = nvcuda::wmma::fragment<nvcuda::wmma::matrix_b, 16, 16, 16, T, LB>;
  using FragC = nvcuda::wmma::fragment<nvcuda::wmma::accumulator, 16, 16, 16, float>;
  __device__ static void Zero(FragC& c) { nvcuda::wmma::fill_fragment(c, 0.0f); }
  __device__ static void LoadA(FragA& a, const uint16_t* p, unsigned ld) {
    nvcuda::wmma::load_matrix_sync(a, reinterpret_cast<const T*>(p), ld);
  }
  __device__ static void LoadB(FragB& b, const uint16_t* p, unsigned ld) {
    nvcuda::wmma::load_matrix_sync(b, reinterpret_cast<const T*>(p), ld);
  }
  __device__ static void Mma(FragC& c, const FragA& a, const FragB& b) { nvcuda::wmma::mma_sync(c, a, b, c); }
  // Stores the accumulator row-major (element (r, c) at p[r * ld + c]).
  __device__ static void StoreC(float* p, const FragC& c, unsigned ld) {
    nvcuda::wmma::store_matrix_sync(p, c, ld, nvcuda::wmma::mem_row_major);
  }
};
#else
#define LB_HAVE_MMA 0
#endif

// 16-bit floats travel as raw bits (uint16_t) through every kernel, so no
// kernel depends on either vendor's bf16 struct (HIP 5.2's hip_bfloat16 and
// CUDA's __nv_bfloat16 differ). fp16 uses the hardware conversions both
// vendors spell the same way.
__device__ __forceinline__ float lb_half_to_float(uint16_t bits) {
  return __half2float(__ushort_as_half(bits));
}
__device__ __forceinline__ uint16_t lb_float_to_half(float v) {
  return __half_as_ushort(__float2half_rn(v));
}
