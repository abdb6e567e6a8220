// Quantized weights on the GPU (issue 15): launchers of kernels/gpu/quant.cu.
// Formats and layouts are those of localbench/kernels/quant.h, byte for byte,
// so a tensor filled on one backend is valid on the other. Arguments are
// already checked by the op contract (kernels/src/quant/quant_backend.cc).
#pragma once

#include <cstdint>
#include <functional>

#include "absl/status/status.h"
#include "common.cuh"
#include "gemm.cuh"
#include "localbench/kernels/quant.h"

namespace localbench::kernels::LB_GPU_NS {

// Stores at `w` the blocks the CPU backend's FillRandomQuantized stores for
// the same (seed, scale), bit for bit: the fp32 values are regenerated from
// the counter hash of the dense fill and quantized with the CPU's rounding
// (scales rounded up to an f16 that keeps every weight within d/2; NF4's
// group scales, codes and nearest levels), without a temporary buffer.
absl::Status LaunchFillRandomQuantized(QuantFormat format, void* w, std::int64_t rows, std::int64_t cols,
                                       std::uint64_t seed, float scale, gpuStream_t s);

// Decode: y[m, n] = x[m, k] W^T + beta y for W [n, k] quantized and
// 1 <= m <= kQuantGemvMaxRows; beta == 0 ignores y. Fused: each weight block
// is read once (staged through shared memory with 16-byte loads),
// dequantized in registers and multiplied with every row of x in fp32.
absl::Status LaunchQuantGemv(QuantFormat format, const float* x, std::int64_t m, const void* w, std::int64_t n,
                             std::int64_t k, float* y, float beta, gpuStream_t s);

// Dequantizes rows [row0, row0 + rows) of W [n, k] into `out` as bf16 bits
// ([rows, k], row-major).
absl::Status LaunchDequantizeRowsBf16(QuantFormat format, const void* w, std::int64_t n, std::int64_t k,
                                      std::int64_t row0, std::int64_t rows, std::uint16_t* out, gpuStream_t s);

// Runs one 16-bit GEMM (the backend's path: cuBLASLt or the portable tiles).
using GemmRunner = std::function<absl::Status(const GemmArgs&)>;

// Prefill and the backward through a frozen base: the products QuantGemv
// does not take. trans_w: y[m, n] = x[m, k] W^T + beta y; otherwise
// y[m, k] = x[m, n] W + beta y. W is dequantized panel by panel into
// `workspace` as bf16, the matching block of x converted to bf16 next to it,
// and `gemm` multiplies them with fp32 accumulation into y. Needs
// workspace_bytes >= QuantLinearWorkspaceBytes(trans_w, m, n, k) (the CPU's
// fp32 panel, which holds a bf16 panel of the same rows plus as many rows of
// x), and uses all of it when given more.
absl::Status QuantLinearTiled(QuantFormat format, bool trans_w, const float* x, std::int64_t m, const void* w,
                              std::int64_t n, std::int64_t k, float beta, float* y, void* workspace,
                              std::uint64_t workspace_bytes, const GemmRunner& gemm, gpuStream_t s);

}  // namespace localbench::kernels::LB_GPU_NS
