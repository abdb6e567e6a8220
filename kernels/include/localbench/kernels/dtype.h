// Storage data types of the workload engine and their host conversions.
//
// Compute is always fp32 (fp64 in the CPU reference's gradient checks); the
// DType says how a buffer is stored. Conversions round to nearest, ties to
// even, like the hardware converters on GPUs, so CPU and GPU agree bit for bit
// on stored values.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string_view>

#include "absl/status/statusor.h"

namespace localbench::kernels {

// How a tensor's elements are stored.
enum class DType : std::uint8_t {
  kF32,   // IEEE binary32
  kF16,   // IEEE binary16
  kBF16,  // bfloat16: the top 16 bits of a binary32
};

// Bytes per element of `dtype`.
std::size_t DTypeSize(DType dtype);

// Short lower-case name: "f32", "f16", "bf16".
std::string_view DTypeName(DType dtype);

// Parses "f32"/"fp32", "f16"/"fp16", "bf16" (untrusted input: clear error).
absl::StatusOr<DType> ParseDType(std::string_view name);

// fp32 -> bf16 bits, round to nearest even; NaN stays NaN (quiet).
std::uint16_t FloatToBf16(float value);
// bf16 bits -> fp32 (exact).
float Bf16ToFloat(std::uint16_t bits);
// fp32 -> IEEE half bits, round to nearest even; overflow gives infinity,
// tiny values become subnormals or zero.
std::uint16_t FloatToF16(float value);
// IEEE half bits -> fp32 (exact).
float F16ToFloat(std::uint16_t bits);

// Converts `count` host elements of `src_dtype` at `src` to fp32 at `dst`.
void ConvertToF32(DType src_dtype, const void* src, float* dst, std::size_t count);
// Converts `count` host fp32 values to `dst_dtype` at `dst`.
void ConvertFromF32(const float* src, DType dst_dtype, void* dst, std::size_t count);

}  // namespace localbench::kernels
