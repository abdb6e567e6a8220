// CpuBackend's quantized-weight ops: the fused GEMV for decode-shaped
// products, panel-dequantizing sgemm otherwise (kernels/src/cpu/quant_gemv.cc).
#include <algorithm>
#include <vector>

#include "cpu/elementwise.h"
#include "cpu/thread_pool.h"
#include "localbench/kernels/cpu_backend.h"
#include "quant/quant_blocks.h"
#include "status_macros.h"

namespace localbench::kernels {

absl::Status CpuBackend::QuantLinearImpl(QuantFormat format, bool trans_w, const Tensor& x, const void* w,
                                         std::int64_t n, std::int64_t k, float beta, Tensor y, Tensor workspace) {
  const auto* xs = static_cast<const float*>(x.data);
  auto* ys = static_cast<float*>(y.data);
  auto* ws = static_cast<float*>(workspace.data);
  const std::int64_t m = x.rows();
  if (!trans_w) {
    QuantGemmBackward(format, xs, m, w, n, k, ys, ws, pool_.get(), beta);
  } else if (m <= kQuantGemvMaxRows) {
    QuantGemv(format, xs, m, w, n, k, ys, pool_.get(), beta);
  } else {
    QuantGemm(format, xs, m, w, n, k, ys, ws, pool_.get(), beta);
  }
  return absl::OkStatus();
}

absl::Status CpuBackend::FillRandomQuantizedImpl(QuantFormat format, void* w, std::int64_t rows, std::int64_t cols,
                                                 std::uint64_t seed, float scale) {
  // Fused and threaded: each part draws its weights from the counter-based
  // stream (HashUniform of the flat index, exactly what FillRandomUniform
  // gives an fp32 [rows, cols] tensor) into a small buffer and quantizes
  // them there, so no fp32 copy of the matrix is ever written. Blocks
  // (Q8_0/Q4_0) and NF4 scale groups are independent, so the bytes are those
  // of Quantize over the whole fp32 matrix, at any thread count.
  const std::int64_t blocks = rows * (cols / QuantBlockSize(format));
  const auto draw = [&](std::int64_t first, std::int64_t count, float* out) {
    for (std::int64_t i = 0; i < count; ++i)
      out[i] = cpu::HashUniform(seed, static_cast<std::uint64_t>(first + i), scale);
  };
  if (format == QuantFormat::kNf4) {
    const quant::Nf4View view = quant::Nf4Layout(rows, cols, w);
    constexpr std::int64_t kGroupWeights = kNf4ScaleGroup * quant::kNf4Block;
    pool_->For(view.groups, [&](std::int64_t g0, std::int64_t g1) {
      std::vector<float> values(kGroupWeights);  // 64 KiB per part, not per group
      for (std::int64_t g = g0; g < g1; ++g) {
        const std::int64_t first = g * kGroupWeights;
        draw(first, std::min(kGroupWeights, blocks * quant::kNf4Block - first), values.data());
        quant::QuantizeNf4Group(values.data(), view, g);
      }
    }, 4);
    return absl::OkStatus();
  }
  // Q8_0 / Q4_0: chunks of 128 blocks (4096 weights, 16 KiB on the stack).
  constexpr std::int64_t kChunkBlocks = 128;
  const std::int64_t chunks = (blocks + kChunkBlocks - 1) / kChunkBlocks;
  pool_->For(chunks, [&](std::int64_t c0, std::int64_t c1) {
    float values[kChunkBlocks * quant::kQ8Block];
    for (std::int64_t c = c0; c < c1; ++c) {
      const std::int64_t b0 = c * kChunkBlocks, nb = std::min(kChunkBlocks, blocks - b0);
      draw(b0 * quant::kQ8Block, nb * quant::kQ8Block, values);
      if (format == QuantFormat::kQ8_0) {
        quant::QuantizeQ8Blocks(values, nb, static_cast<quant::BlockQ8_0*>(w) + b0);
      } else {
        quant::QuantizeQ4Blocks(values, nb, static_cast<quant::BlockQ4_0*>(w) + b0);
      }
    }
  }, 16);
  return absl::OkStatus();
}

}  // namespace localbench::kernels
