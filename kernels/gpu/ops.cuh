// Launchers of every op family's kernels, grouped by the file that defines
// them (kernels/gpu/<family>.cu). Raw pointers, arguments already checked by
// the op contract (kernels/src/backend.cc), every launch on `s`. Activations
// that may be 16-bit in training are `DevBuf` (pointer + Elem); fp32-only ones
// `float*`; parameter-like operands carry their storage type (Elem).
#pragma once

#include <cstdint>

#include "absl/status/status.h"
#include "common.cuh"

namespace localbench::kernels::LB_GPU_NS {

// ---- elementwise.cu -------------------------------------------------------------
// x[i] = value for i < n.
absl::Status LaunchFill(void* x, Elem e, std::int64_t n, float value, gpuStream_t s);
// x[i] = uniform [-scale, scale) from the counter hash of (seed, i).
absl::Status LaunchFillRandomUniform(void* x, Elem e, std::int64_t n, std::uint64_t seed, float scale,
                                     gpuStream_t s);
// dst[i] = src[i] converted.
absl::Status LaunchConvert(const void* src, Elem se, void* dst, Elem de, std::int64_t n, gpuStream_t s);
// dst[r * dst_ld + c] = src[r * src_ld + col0 + c] for r < rows, c < cols,
// converted: a strided block of a matrix, packed (GEMM operand staging).
absl::Status LaunchConvert2d(const void* src, Elem se, std::int64_t src_ld, std::int64_t col0, void* dst, Elem de,
                             std::int64_t dst_ld, std::int64_t rows, std::int64_t cols, gpuStream_t s);
// y[i] += alpha * x[i].
absl::Status LaunchAxpy(float alpha, const void* x, Elem xe, void* y, Elem ye, std::int64_t n, gpuStream_t s);
// x[i] *= alpha.
absl::Status LaunchScale(void* x, Elem e, std::int64_t n, float alpha, gpuStream_t s);
// x[n, c] += bias[c].
absl::Status LaunchAddBias(DevBuf x, const void* bias, Elem be, std::int64_t rows, std::int64_t cols,
                           gpuStream_t s);
// d_bias[c] += sum_n d_out[n, c]; with `x` and `rstd` non-null the summand
// is d_out[n, c] * x[n, c] * rstd[n] (RMSNorm's weight gradient; x.p null
// otherwise).
absl::Status LaunchColumnSum(DevBuf d_out, DevBuf x, const float* rstd, void* d_bias, Elem be,
                             std::int64_t rows, std::int64_t cols, gpuStream_t s);
// Streaming copy of `bytes` (multiple of 16, aligned): the bandwidth probe.
absl::Status LaunchCopy(void* dst, const void* src, std::uint64_t bytes, int sm_count, gpuStream_t s);

// ---- embedding.cu -------------------------------------------------------------------
// out[n, :] = table[ids[n], :] for ids in [0, vocab); another id is recorded
// in `err` and its row zeroed.
absl::Status LaunchEmbeddingForward(const void* table, Elem te, std::int64_t vocab, const std::int32_t* ids,
                                    DevBuf out, std::int64_t rows, std::int64_t hidden, IndexError* err,
                                    gpuStream_t s);
// d_table[ids[n], :] += d_out[n, :], n ascending per column: deterministic;
// an id outside [0, vocab) is recorded in `err` and skipped.
absl::Status LaunchEmbeddingBackward(const float* d_out, const std::int32_t* ids, void* d_table, Elem te,
                                     std::int64_t vocab, std::int64_t rows, std::int64_t hidden, IndexError* err,
                                     gpuStream_t s);

// ---- rmsnorm.cu ----------------------------------------------------------------------
// RMSNorm forward: out, rstd.
absl::Status LaunchRmsNormForward(DevBuf x, const void* w, Elem we, float eps, DevBuf out, float* rstd,
                                  std::int64_t rows, std::int64_t hidden, gpuStream_t s);
// RMSNorm input gradient, accumulated into d_x.
absl::Status LaunchRmsNormBackwardX(DevBuf d_out, DevBuf x, const void* w, Elem we,
                                    const float* rstd, float* d_x, std::int64_t rows, std::int64_t hidden,
                                    gpuStream_t s);
// ---- rope.cu ---------------------------------------------------------------------------
// Rotate-half RoPE in place over x [rows, heads, dim]; `sign` -1 undoes it.
absl::Status LaunchRope(DevBuf x, std::int64_t rows, std::int64_t heads, std::int64_t dim, std::int64_t seq_len,
                        std::int64_t position_offset, float theta, float sign, gpuStream_t s);
// ---- swiglu.cu --------------------------------------------------------------------------
// out = silu(gate) * up.
absl::Status LaunchSwiGluForward(DevBuf gate, DevBuf up, DevBuf out, std::int64_t n, gpuStream_t s);
// d_gate, d_up from d_out.
absl::Status LaunchSwiGluBackward(DevBuf d_out, DevBuf gate, DevBuf up, DevBuf d_gate, DevBuf d_up, std::int64_t n,
                                  gpuStream_t s);
// ---- cross_entropy.cu --------------------------------------------------------------------
// Row-wise softmax.
absl::Status LaunchSoftmax(const float* x, float* out, std::int64_t rows, std::int64_t cols, gpuStream_t s);
// Cross-entropy rows; d_logits may be null or alias logits. A target
// outside [0, vocab) is recorded in `err` and its loss set to NaN.
absl::Status LaunchCrossEntropy(const float* logits, const std::int32_t* targets, float* losses, float* d_logits,
                                float grad_scale, std::int64_t rows, std::int64_t vocab, IndexError* err,
                                gpuStream_t s);
// Row-wise argmax, lowest index on ties.
absl::Status LaunchArgmax(const float* x, std::int32_t* out, std::int64_t rows, std::int64_t cols, gpuStream_t s);
// ---- adamw.cu ---------------------------------------------------------------------------------
// AdamW over n elements; bias corrections precomputed: c1 = 1 - beta1^t,
// c2 = 1 - beta2^t.
absl::Status LaunchAdamW(void* param, Elem pe, const void* grad, Elem ge, float* m, float* v, std::int64_t n,
                         float lr, float beta1, float beta2, float eps, float weight_decay, float c1, float c2,
                         gpuStream_t s);
// ---- attention.cu -------------------------------------------------------------------------
// cache[b, position + t, :] = src[b, t, :] with rows of `row` elements.
absl::Status LaunchKvCacheWrite(const float* src, void* cache, Elem ce, std::int64_t batch, std::int64_t t,
                                std::int64_t t_max, std::int64_t row, std::int64_t position, gpuStream_t s);
// Causal GQA forward: q [B, T, Hq, D], k/v [B, T, Hkv, D], out like q, lse [B, Hq, T].
absl::Status LaunchAttentionForward(DevBuf q, DevBuf k, DevBuf v, DevBuf out, float* lse,
                                    int batch, int t, int hq, int hkv, int d, gpuStream_t s);
// Its gradients (overwritten); q, k, v, out share one Elem, d_out, d_q,
// d_k, d_v another.
absl::Status LaunchAttentionBackward(DevBuf q, DevBuf k, DevBuf v, DevBuf out, const float* lse, DevBuf d_out, DevBuf d_q, DevBuf d_k,
                                     DevBuf d_v,
                                     int batch, int t, int hq, int hkv, int d, gpuStream_t s);
// Decode: q [B, Hq, D] against caches [B, Tmax, Hkv, D] (storage `ce`), first `length` positions.
absl::Status LaunchAttentionDecode(const float* q, const void* k_cache, const void* v_cache, Elem ce,
                                   float* out, int batch, int t_max, int length, int hq, int hkv, int d,
                                   gpuStream_t s);

}  // namespace localbench::kernels::LB_GPU_NS
