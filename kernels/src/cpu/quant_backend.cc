// CpuBackend's quantized-weight ops: the fused GEMV for decode-shaped
// products, panel-dequantizing sgemm otherwise (kernels/src/cpu/quant_gemv.cc).
#include <vector>

#include "cpu/thread_pool.h"
#include "localbench/kernels/cpu_backend.h"
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
  // The fp32 values live in a transient host buffer outside the arena (at
  // most one weight matrix): the memory plan counts what stays resident.
  std::vector<float> values(static_cast<std::size_t>(rows * cols));
  LB_RETURN_IF_ERROR(FillRandomUniformImpl(Tensor::Of(values.data(), DType::kF32, {rows, cols}), seed, scale));
  if (format == QuantFormat::kNf4) {  // second-level scales span rows: one pass
    Quantize(format, values.data(), rows, cols, w);
    return absl::OkStatus();
  }
  // Q8_0 / Q4_0 rows are independent: quantize row ranges in parallel.
  const std::uint64_t row_bytes = QuantizedBytes(format, 1, cols);
  pool_->For(rows, [&](std::int64_t r0, std::int64_t r1) {
    Quantize(format, values.data() + r0 * cols, r1 - r0, cols, static_cast<char*>(w) + static_cast<std::uint64_t>(r0) * row_bytes);
  }, 8);
  return absl::OkStatus();
}

}  // namespace localbench::kernels
