// Backend's quantized-weight ops: the argument checks of the public calls
// (the contract every backend relies on) and the Unimplemented defaults.
#include <string>

#include "absl/strings/str_cat.h"
#include "localbench/kernels/backend.h"
#include "status_macros.h"

namespace localbench::kernels {

namespace {

absl::Status Invalid(const std::string& what) { return absl::InvalidArgumentError(absl::StrCat("QuantLinear: ", what)); }

}  // namespace

absl::Status Backend::QuantLinear(QuantFormat format, bool trans_w, const Tensor& x, const void* w, std::int64_t n,
                                  std::int64_t k, float beta, Tensor y, Tensor workspace) {
  LB_RETURN_IF_ERROR(CheckQuantShape(format, n, k));
  if (w == nullptr) return Invalid("w is absent");
  if (!x.present() || !y.present()) return Invalid("x and y must be present");
  if (x.dtype != DType::kF32 || y.dtype != DType::kF32) return Invalid("x and y must be f32");
  const std::int64_t in = trans_w ? k : n, out = trans_w ? n : k;
  if (x.cols() != in) return Invalid(absl::StrCat("x has ", x.cols(), " columns, expected ", in));
  if (y.cols() != out || y.rows() != x.rows())
    return Invalid(absl::StrCat("y is [", y.rows(), ", ", y.cols(), "], expected [", x.rows(), ", ", out, "]"));
  const std::uint64_t need = QuantLinearWorkspaceBytes(trans_w, x.rows(), n, k);
  const std::uint64_t have = workspace.present() ? workspace.bytes() : 0;
  if (have < need) return Invalid(absl::StrCat("workspace has ", have, " bytes, needs ", need));
  return QuantLinearImpl(format, trans_w, x, w, n, k, beta, y, workspace);
}

absl::Status Backend::FillRandomQuantized(QuantFormat format, void* w, std::int64_t rows, std::int64_t cols,
                                          std::uint64_t seed, float scale) {
  LB_RETURN_IF_ERROR(CheckQuantShape(format, rows, cols));
  if (w == nullptr) return absl::InvalidArgumentError("FillRandomQuantized: w is absent");
  return FillRandomQuantizedImpl(format, w, rows, cols, seed, scale);
}

absl::Status Backend::QuantLinearImpl(QuantFormat format, bool, const Tensor&, const void*, std::int64_t,
                                      std::int64_t, float, Tensor, Tensor) {
  return absl::UnimplementedError(
      absl::StrCat(name(), ": no kernels for quantized weights (", std::string(QuantFormatName(format)), ")"));
}

absl::Status Backend::FillRandomQuantizedImpl(QuantFormat format, void*, std::int64_t, std::int64_t, std::uint64_t,
                                              float) {
  return absl::UnimplementedError(
      absl::StrCat(name(), ": no kernels for quantized weights (", std::string(QuantFormatName(format)), ")"));
}

}  // namespace localbench::kernels
