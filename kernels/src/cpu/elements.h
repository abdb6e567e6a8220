// Element types of the CPU kernels: bf16/f16 wrappers with inline
// conversions, so templated kernels read any storage type as fp32 (or fp64 in
// the gradient-check instantiations) without a function call per element.
#pragma once

#include <cmath>
#include <cstdint>
#include <cstring>
#include <type_traits>

#include "localbench/kernels/dtype.h"

namespace localbench::kernels::cpu {

// fp32 -> bf16 bits, round to nearest even; NaN stays a quiet NaN.
inline std::uint16_t F32ToBf16Bits(float value) {
  std::uint32_t bits;
  std::memcpy(&bits, &value, 4);
  if ((bits & 0x7fffffffu) > 0x7f800000u) return static_cast<std::uint16_t>((bits >> 16) | 0x40u);
  bits += 0x7fffu + ((bits >> 16) & 1u);
  return static_cast<std::uint16_t>(bits >> 16);
}

// bf16 bits -> fp32 (exact).
inline float Bf16BitsToF32(std::uint16_t bits) {
  std::uint32_t wide = static_cast<std::uint32_t>(bits) << 16;
  float value;
  std::memcpy(&value, &wide, 4);
  return value;
}

// fp32 -> IEEE half bits, round to nearest even.
inline std::uint16_t F32ToF16Bits(float value) {
  std::uint32_t x;
  std::memcpy(&x, &value, 4);
  const std::uint32_t sign = (x >> 16) & 0x8000u;
  x &= 0x7fffffffu;
  if (x >= 0x7f800000u) return static_cast<std::uint16_t>(sign | (x > 0x7f800000u ? 0x7e00u : 0x7c00u));
  if (x >= 0x477ff000u) return static_cast<std::uint16_t>(sign | 0x7c00u);  // rounds to infinity
  if (x < 0x38800000u) {  // below the smallest normal half: subnormal or zero
    if (x < 0x33000000u) return static_cast<std::uint16_t>(sign);
    const std::uint32_t exponent = x >> 23;
    const std::uint32_t mantissa = (x & 0x7fffffu) | 0x800000u;
    const std::uint32_t shift = 126u - exponent;
    std::uint32_t half = mantissa >> shift;
    const std::uint32_t rest = mantissa & ((1u << shift) - 1u);
    const std::uint32_t halfway = 1u << (shift - 1u);
    if (rest > halfway || (rest == halfway && (half & 1u))) ++half;
    return static_cast<std::uint16_t>(sign | half);
  }
  std::uint32_t half = (x - 0x38000000u) >> 13;
  const std::uint32_t rest = x & 0x1fffu;
  if (rest > 0x1000u || (rest == 0x1000u && (half & 1u))) ++half;
  return static_cast<std::uint16_t>(sign | half);
}

// IEEE half bits -> fp32 (exact).
inline float F16BitsToF32(std::uint16_t h) {
  const std::uint32_t sign = static_cast<std::uint32_t>(h & 0x8000u) << 16;
  const std::uint32_t exponent = (h >> 10) & 0x1fu;
  const std::uint32_t mantissa = h & 0x3ffu;
  std::uint32_t bits;
  if (exponent == 0) {
    const float magnitude = std::ldexp(static_cast<float>(mantissa), -24);
    return sign ? -magnitude : magnitude;
  }
  if (exponent == 31) {
    bits = sign | 0x7f800000u | (mantissa << 13);
  } else {
    bits = sign | ((exponent + 112u) << 23) | (mantissa << 13);
  }
  float value;
  std::memcpy(&value, &bits, 4);
  return value;
}

// A bfloat16 in memory.
struct Bf16 {
  std::uint16_t bits;
};
// An IEEE half in memory.
struct F16 {
  std::uint16_t bits;
};

// Reads any element type as its compute type.
inline float Load(float v) { return v; }
inline double Load(double v) { return v; }
inline float Load(Bf16 v) { return Bf16BitsToF32(v.bits); }
inline float Load(F16 v) { return F16BitsToF32(v.bits); }

// Writes a compute value into any element type (rounding to nearest even).
inline void Store(float& d, double v) { d = static_cast<float>(v); }
inline void Store(double& d, double v) { d = v; }
inline void Store(Bf16& d, double v) { d.bits = F32ToBf16Bits(static_cast<float>(v)); }
inline void Store(F16& d, double v) { d.bits = F32ToF16Bits(static_cast<float>(v)); }
inline void Store(float& d, float v) { d = v; }
inline void Store(Bf16& d, float v) { d.bits = F32ToBf16Bits(v); }
inline void Store(F16& d, float v) { d.bits = F32ToF16Bits(v); }

// The compute type for activations stored as X: double in the gradient
// checks (X = double), fp32 for every storage type of the backend.
template <typename X>
using ComputeOf = std::conditional_t<std::is_same_v<X, double>, double, float>;

// Reads an element of any storage type as compute type T.
template <typename T, typename X>
inline T Ld(const X& v) {
  return static_cast<T>(Load(v));
}

// Calls fn(T*) with the tensor's pointer cast to its element type.
template <typename Fn>
decltype(auto) WithElementType(DType dtype, void* data, Fn&& fn) {
  switch (dtype) {
    case DType::kBF16: return fn(static_cast<Bf16*>(data));
    case DType::kF16: return fn(static_cast<F16*>(data));
    case DType::kF32: break;
  }
  return fn(static_cast<float*>(data));
}

// Converts elements [begin, end) between any two storage types (host memory).
inline void ConvertSpan(DType src_dtype, const void* src, DType dst_dtype, void* dst,
                        std::int64_t begin, std::int64_t end) {
  WithElementType(src_dtype, const_cast<void*>(src), [&](auto* s) {
    WithElementType(dst_dtype, dst, [&](auto* d) {
      for (std::int64_t i = begin; i < end; ++i) Store(d[i], Load(s[i]));
    });
  });
}

}  // namespace localbench::kernels::cpu
