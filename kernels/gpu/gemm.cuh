// GEMM on the GPU: the portable tiled kernels (the only path on AMD here,
// selectable on NVIDIA) and, in the CUDA build, cuBLASLt.
#pragma once

#include <cstdint>
#include <memory>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "common.cuh"

namespace localbench::kernels::LB_GPU_NS {

// C = alpha * op(A) * op(B) + beta * C, all row-major, fp32 accumulation.
// op(A) is M x K: A is stored M x K (lda >= K), or K x M when trans_a
// (lda >= M). op(B) is K x N: B is stored K x N (ldb >= N), or N x K when
// trans_b (ldb >= K): y = x W^T is trans_b with W stored [out, in].
// `batch` independent products use the element strides stride_*.
struct GemmArgs {
  int m = 0, n = 0, k = 0;
  const void* a = nullptr;
  Elem a_type = Elem::kF32;
  std::int64_t lda = 0;
  bool trans_a = false;
  const void* b = nullptr;
  Elem b_type = Elem::kF32;
  std::int64_t ldb = 0;
  bool trans_b = false;
  void* c = nullptr;
  Elem c_type = Elem::kF32;
  std::int64_t ldc = 0;
  float alpha = 1.f;
  float beta = 0.f;
  int batch = 1;
  std::int64_t stride_a = 0, stride_b = 0, stride_c = 0;
};

// Checks shapes and leading dimensions; InvalidArgument naming the field.
absl::Status ValidateGemm(const GemmArgs& g);

// The portable GEMM: matrix-core tiles where the vendor header has them and
// both inputs share a 16-bit type, a skinny kernel for M <= 8 (decode's
// matrix-vector products, bandwidth bound), SIMT tiles otherwise.
absl::Status GemmPortable(const GemmArgs& g, gpuStream_t stream);

// Forces the SIMT tile kernel (tests compare it with the others).
absl::Status GemmSimt(const GemmArgs& g, gpuStream_t stream);

#if !LB_GPU_IS_HIP
// cuBLASLt, NVIDIA's tuned GEMM. One per device and stream: owns the handle
// and a workspace allocated once (outside the workload arena; the device
// delta accounts for it).
class CublasLt {
 public:
  // Creates the handle and a `workspace_bytes` device workspace.
  static absl::StatusOr<std::unique_ptr<CublasLt>> Create(std::size_t workspace_bytes);
  ~CublasLt();
  CublasLt(const CublasLt&) = delete;
  CublasLt& operator=(const CublasLt&) = delete;
  // Runs `g` on `stream`. Unimplemented when cuBLASLt has no algorithm for
  // the combination (the caller falls back to the portable kernel).
  absl::Status Gemm(const GemmArgs& g, gpuStream_t stream);

 private:
  CublasLt() = default;
  void* handle_ = nullptr;
  void* workspace_ = nullptr;
  std::size_t workspace_bytes_ = 0;
};
#endif

}  // namespace localbench::kernels::LB_GPU_NS
