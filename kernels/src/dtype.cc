// Host conversions between fp32 and the 16-bit storage types.
#include "localbench/kernels/dtype.h"

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "cpu/elements.h"

namespace localbench::kernels {

std::size_t DTypeSize(DType dtype) {
  switch (dtype) {
    case DType::kF32: return 4;
    case DType::kF16: return 2;
    case DType::kBF16: return 2;
  }
  return 0;
}

std::string_view DTypeName(DType dtype) {
  switch (dtype) {
    case DType::kF32: return "f32";
    case DType::kF16: return "f16";
    case DType::kBF16: return "bf16";
  }
  return "?";
}

absl::StatusOr<DType> ParseDType(std::string_view name) {
  if (name == "f32" || name == "fp32") return DType::kF32;
  if (name == "f16" || name == "fp16") return DType::kF16;
  if (name == "bf16") return DType::kBF16;
  return absl::InvalidArgumentError(
      absl::StrCat("unknown dtype \"", std::string(name), "\" (expected f32, f16 or bf16)"));
}

std::uint16_t FloatToBf16(float value) { return cpu::F32ToBf16Bits(value); }
float Bf16ToFloat(std::uint16_t bits) { return cpu::Bf16BitsToF32(bits); }
std::uint16_t FloatToF16(float value) { return cpu::F32ToF16Bits(value); }
float F16ToFloat(std::uint16_t bits) { return cpu::F16BitsToF32(bits); }

void ConvertToF32(DType src_dtype, const void* src, float* dst, std::size_t count) {
  cpu::ConvertSpan(src_dtype, src, DType::kF32, dst, 0, static_cast<std::int64_t>(count));
}

void ConvertFromF32(const float* src, DType dst_dtype, void* dst, std::size_t count) {
  cpu::ConvertSpan(DType::kF32, src, dst_dtype, dst, 0, static_cast<std::int64_t>(count));
}

}  // namespace localbench::kernels
