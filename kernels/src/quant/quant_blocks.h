// The block structs and tensor views of the quantized formats, shared by the
// format code (quant.cc) and the kernels (cpu/quant_gemv.cc). Private to the
// kernels library; the layouts are documented in localbench/kernels/quant.h.
#pragma once

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <type_traits>

#include "cpu/elements.h"
#include "localbench/kernels/quant.h"

// Broken invariants crash (callers validate untrusted shapes first with
// CheckQuantShape); Debian's abseil has no absl/log.
#define QUANT_CHECK(cond, what)                                                      \
  do {                                                                               \
    if (!(cond)) {                                                                   \
      std::fprintf(stderr, "localbench quant: %s (%s:%d)\n", what, __FILE__, __LINE__); \
      std::abort();                                                                  \
    }                                                                                \
  } while (false)

namespace localbench::kernels::quant {

inline constexpr int kQ8Block = 32;
inline constexpr int kQ4Block = 32;
inline constexpr int kNf4Block = 64;

// One Q8_0 block: f16 scale bits (bytes, so the struct packs to 34 bytes).
struct BlockQ8_0 {
  std::uint8_t d[2];
  std::int8_t q[kQ8Block];
};
static_assert(sizeof(BlockQ8_0) == 34);

// One Q4_0 block: f16 scale bits, then 16 bytes of nibble pairs.
struct BlockQ4_0 {
  std::uint8_t d[2];
  std::uint8_t qs[kQ4Block / 2];
};
static_assert(sizeof(BlockQ4_0) == 18);

// A block's f16 scale as fp32.
inline float BlockScale(const std::uint8_t (&d)[2]) {
  std::uint16_t bits;
  std::memcpy(&bits, d, 2);
  return cpu::F16BitsToF32(bits);
}

// Pointers into an NF4 tensor: fp32 group scales, uint8 block codes, packed
// nibbles, in that order (the scales first keeps them 4-byte aligned when
// the tensor is).
template <typename Byte>
struct Nf4ViewT {
  using Float = std::conditional_t<std::is_const_v<Byte>, const float, float>;
  std::int64_t blocks;
  std::int64_t groups;
  Float* group_scale;
  Byte* codes;
  Byte* packed;

  // Block b's dequantized absmax.
  float Scale(std::int64_t b) const {
    return static_cast<float>(codes[b]) * group_scale[b / kNf4ScaleGroup];
  }
};
using Nf4View = Nf4ViewT<std::uint8_t>;
using ConstNf4View = Nf4ViewT<const std::uint8_t>;

template <typename Base, typename Byte = std::conditional_t<std::is_const_v<Base>, const std::uint8_t, std::uint8_t>>
Nf4ViewT<Byte> Nf4Layout(std::int64_t rows, std::int64_t cols, Base* base) {
  Nf4ViewT<Byte> v{};
  v.blocks = rows * (cols / kNf4Block);
  v.groups = (v.blocks + kNf4ScaleGroup - 1) / kNf4ScaleGroup;
  v.group_scale = static_cast<typename Nf4ViewT<Byte>::Float*>(base);
  v.codes = reinterpret_cast<Byte*>(v.group_scale + v.groups);
  v.packed = v.codes + v.blocks;
  return v;
}

// Crashes on a shape CheckQuantShape rejects.
inline void QuantCheckShape(QuantFormat format, std::int64_t rows, std::int64_t cols) {
  const absl::Status status = CheckQuantShape(format, rows, cols);
  if (!status.ok()) {
    std::fprintf(stderr, "localbench quant: %s\n", std::string(status.message()).c_str());
    std::abort();
  }
}

// Quantizes `blocks` consecutive blocks of 32 fp32 weights at src (the
// format code, quant.cc; also the fused seeded fill of the CPU backend).
void QuantizeQ8Blocks(const float* src, std::int64_t blocks, BlockQ8_0* dst);
void QuantizeQ4Blocks(const float* src, std::int64_t blocks, BlockQ4_0* dst);

// Quantizes NF4 scale group `g` of the tensor `view` from its fp32 weights
// at src (the group's first weight; a last group may hold fewer than
// kNf4ScaleGroup blocks): the group's fp32 scale, its blocks' codes and
// nibbles. Groups are independent, so they can be filled in parallel.
void QuantizeNf4Group(const float* src, const Nf4View& view, std::int64_t g);

inline void DequantizeQ8Block(const BlockQ8_0* block, float* out) {
  const float d = BlockScale(block->d);
  for (int i = 0; i < kQ8Block; ++i) out[i] = d * static_cast<float>(block->q[i]);
}

inline void DequantizeQ4Block(const BlockQ4_0* block, float* out) {
  const float d = BlockScale(block->d);
  constexpr int kHalf = kQ4Block / 2;
  for (int j = 0; j < kHalf; ++j) {
    out[j] = d * static_cast<float>((block->qs[j] & 0x0f) - 8);
    out[j + kHalf] = d * static_cast<float>((block->qs[j] >> 4) - 8);
  }
}

inline void DequantizeNf4Block(const std::uint8_t* qs, float scale, float* out) {
  constexpr int kHalf = kNf4Block / 2;
  for (int j = 0; j < kHalf; ++j) {
    out[j] = kNf4Levels[qs[j] & 0x0f] * scale;
    out[j + kHalf] = kNf4Levels[qs[j] >> 4] * scale;
  }
}

}  // namespace localbench::kernels::quant
