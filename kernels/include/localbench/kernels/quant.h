// Quantized weight formats (issue 15) and their CPU kernels.
//
// Weights only: activations, KV cache, gradients and optimizer state stay in
// 16/32-bit. A quantized matrix is row-major [rows, cols] with every row made
// of whole blocks (cols a multiple of QuantBlockSize), so a GEMV reads each
// output row's blocks once, in order.
//
// Layouts (written from the published ideas, no code copied):
//  - Q8_0: blocks of 32 weights, each {f16 scale d, 32 x int8 q}, 34 bytes;
//    w = d * q. Like llama.cpp's Q8_0.
//  - Q4_0: blocks of 32 weights, each {f16 scale d, 16 bytes of nibbles},
//    18 bytes; byte j holds weight j in its low nibble and weight j + 16 in
//    its high nibble, both stored as q + 8 with q in [-8, 7]; w = d * q. Like
//    llama.cpp's Q4_0 in spirit; d is chosen so that every weight is within
//    d/2 of its level (see quant.cc), which the bound tests rely on.
//  - NF4 (QLoRA): blocks of 64 weights, 4-bit indices into the 16 NormalFloat
//    levels, scaled by the block's absmax; the absmaxes are themselves
//    quantized to 8 bits in groups of 256 blocks with one fp32 scale per
//    group ("double quantization"). Tensor layout: fp32 group scales, then
//    one uint8 scale code per block, then the packed nibbles (byte j of a
//    block: weight j low, weight j + 32 high).
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

namespace localbench::kernels {

class ThreadPool;

// A quantized weight storage format.
enum class QuantFormat : std::uint8_t {
  kQ8_0,  // 8-bit linear, blocks of 32, f16 scale
  kQ4_0,  // 4-bit linear, blocks of 32, f16 scale
  kNf4,   // 4-bit NormalFloat, blocks of 64, double-quantized scales
};

// Short lower-case name, the kernels-side precision name: "q8_0", "q4_0", "nf4".
std::string_view QuantFormatName(QuantFormat format);

// Parses a name from QuantFormatName (untrusted input: clear error).
absl::StatusOr<QuantFormat> ParseQuantFormat(std::string_view name);

// Weights per block: 32 (Q8_0, Q4_0) or 64 (NF4).
std::int64_t QuantBlockSize(QuantFormat format);

// Blocks of NF4 sharing one fp32 second-level scale.
inline constexpr std::int64_t kNf4ScaleGroup = 256;

// The 16 NormalFloat levels of QLoRA (Dettmers et al. 2023, appendix E):
// quantiles of N(0, 1) normalised to [-1, 1], with an exact zero.
inline constexpr std::array<float, 16> kNf4Levels = {
    -1.0f,
    -0.6961928009986877f,
    -0.5250730514526367f,
    -0.39491748809814453f,
    -0.28444138169288635f,
    -0.18477343022823334f,
    -0.09105003625154495f,
    0.0f,
    0.07958029955625534f,
    0.16093020141124725f,
    0.24611230194568634f,
    0.33791524171829224f,
    0.44070982933044434f,
    0.5626170039176941f,
    0.7229568362236023f,
    1.0f};

// OK when a [rows, cols] matrix can be stored in `format`: positive sizes,
// cols a whole number of blocks. The error names the offending dimension.
absl::Status CheckQuantShape(QuantFormat format, std::int64_t rows, std::int64_t cols);

// Exact bytes of a quantized [rows, cols] matrix, scales included. The shape
// must pass CheckQuantShape (crashes otherwise: callers validate first).
std::uint64_t QuantizedBytes(QuantFormat format, std::int64_t rows, std::int64_t cols);

// Quantizes fp32 `src` [rows, cols] into `dst` (QuantizedBytes bytes),
// rounding each weight to its nearest level.
void Quantize(QuantFormat format, const float* src, std::int64_t rows, std::int64_t cols, void* dst);

// Dequantizes rows [row_begin, row_end) of a quantized [rows, cols] matrix
// into `dst` ((row_end - row_begin) * cols floats).
void DequantizeRows(QuantFormat format, const void* src, std::int64_t rows, std::int64_t cols,
                    std::int64_t row_begin, std::int64_t row_end, float* dst);

// Dequantizes a whole matrix: the fp32 reference every kernel is checked against.
void Dequantize(QuantFormat format, const void* src, std::int64_t rows, std::int64_t cols, float* dst);

// The scale of block `block` (its index in the flattened block sequence of
// the matrix) as the kernels apply it: d for Q8_0/Q4_0, the dequantized
// absmax for NF4. Tests state their error bounds with it.
float QuantBlockScale(QuantFormat format, const void* src, std::int64_t rows, std::int64_t cols,
                      std::int64_t block);

// Rows of x a fused GEMV takes at once (decode batches); larger products go
// through QuantGemm.
inline constexpr std::int64_t kQuantGemvMaxRows = 8;

// Decode: y[m, n] = x[m, k] * W^T + beta * y for a quantized W [n, k], m <=
// kQuantGemvMaxRows (beta == 0 ignores y's old contents). Fused:
// dequantizes in registers, reading each weight block once
// (bandwidth-bound). AVX2+FMA where the CPU has it unless `force_portable`;
// split over n on `pool` (null: calling thread only). On AVX2 every format
// also rounds x to int8 per block of 32 (scale amax / 127, in a stack tile,
// no extra memory) and takes exact integer block dots, which adds at most
// sum over blocks of (amax_b / 254) * sum |w| to the error against the
// dequantized fp32 product; NF4 there uses its levels rounded to int8
// (round(127 * level)), which moves each weight by at most scale / 254 more
// (tests/kernels/quant_test.cc states the whole bound). The portable path
// keeps fp32 x.
void QuantGemv(QuantFormat format, const float* x, std::int64_t m, const void* w, std::int64_t n,
               std::int64_t k, float* y, const ThreadPool* pool, float beta = 0.0f,
               bool force_portable = false);

// Weight rows QuantGemm dequantizes per panel: as many as fit in
// kGemmPanelBudgetBytes of fp32, at most n.
std::int64_t QuantGemmPanelRows(std::int64_t n, std::int64_t k);

// Workspace bytes QuantGemm needs for W [n, k]: one fp32 panel.
std::uint64_t QuantGemmWorkspaceBytes(std::int64_t n, std::int64_t k);

// Prefill: y[m, n] = x[m, k] * W^T + beta * y. Dequantizes W panel by
// panel into `workspace` (QuantGemmWorkspaceBytes) and runs OpenBLAS sgemm
// on it, split over the panel's rows on `pool` (null: calling thread only).
void QuantGemm(QuantFormat format, const float* x, std::int64_t m, const void* w, std::int64_t n,
               std::int64_t k, float* y, float* workspace, const ThreadPool* pool, float beta = 0.0f);

// The backward product through a frozen quantized weight (QLoRA):
// dx[m, k] = dy[m, n] * W + beta * dx, W [n, k] dequantized panel by panel
// into `workspace` (QuantGemmWorkspaceBytes), sgemm split over k.
void QuantGemmBackward(QuantFormat format, const float* dy, std::int64_t m, const void* w, std::int64_t n,
                       std::int64_t k, float* dx, float* workspace, const ThreadPool* pool, float beta);

// Workspace bytes of one product through a quantized W [n, k] with m rows of
// activations: none for the fused GEMV (trans_w and m <= kQuantGemvMaxRows),
// one panel otherwise.
std::uint64_t QuantLinearWorkspaceBytes(bool trans_w, std::int64_t m, std::int64_t n, std::int64_t k);

}  // namespace localbench::kernels
