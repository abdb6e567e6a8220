// Quantized weight formats: names, sizes, quantize and dequantize. The block
// layouts are described in localbench/kernels/quant.h.
#include "localbench/kernels/quant.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <vector>

#include "absl/strings/str_cat.h"
#include "cpu/elements.h"
#include "quant/quant_blocks.h"

namespace localbench::kernels {

namespace {

// The smallest f16 value >= `needed` (needed >= 0), as bits. Rounding the
// scale up rather than to nearest keeps every weight inside the level range,
// so the d/2 bound holds without clipping.
std::uint16_t F16AtLeast(float needed) {
  std::uint16_t bits = cpu::F32ToF16Bits(needed);
  if (cpu::F16BitsToF32(bits) < needed) ++bits;
  QUANT_CHECK(std::isfinite(cpu::F16BitsToF32(bits)), "weight scale overflows f16");
  return bits;
}

// nearbyint(v) for |v| < 2^22 in the default rounding mode (to nearest,
// ties to even), without the library call: adding 1.5 * 2^23 leaves no
// fraction bits, so the FPU rounds, and subtracting it back is exact (IEEE
// arithmetic is never reassociated here: no -ffast-math). The quantizers
// only round |x / d| <= 128. The library's nearbyintf (baseline x86-64 has
// no SSE4.1 round instruction) cost more than the rest of quantizing.
inline float RoundToNearestEven(float v) {
  constexpr float kMagic = 12582912.0f;  // 1.5 * 2^23
  return (v + kMagic) - kMagic;
}

void QuantizeQ8Block(const float* x, quant::BlockQ8_0* block) {
  float amax = 0.0f;
  for (int i = 0; i < quant::kQ8Block; ++i) amax = std::max(amax, std::fabs(x[i]));
  // Levels -127..127: d >= amax / 127 keeps |x / d| <= 127.
  const std::uint16_t d_bits = F16AtLeast(amax / 127.0f);
  std::memcpy(block->d, &d_bits, 2);
  const float d = cpu::F16BitsToF32(d_bits);
  const float inv = d == 0.0f ? 0.0f : 1.0f / d;
  for (int i = 0; i < quant::kQ8Block; ++i) {
    const float q = RoundToNearestEven(x[i] * inv);
    block->q[i] = static_cast<std::int8_t>(std::clamp(q, -127.0f, 127.0f));
  }
}

void QuantizeQ4Block(const float* x, quant::BlockQ4_0* block) {
  float neg = 0.0f;
  float pos = 0.0f;
  for (int i = 0; i < quant::kQ4Block; ++i) {
    neg = std::max(neg, -x[i]);
    pos = std::max(pos, x[i]);
  }
  // Levels -8..7. The smallest d with every weight within d/2 of a level:
  // negatives reach -8d exactly, positives up to 7.5d (which rounds to 7 at
  // distance d/2). llama.cpp maps the largest magnitude to -8 instead, which
  // can leave a positive weight almost d away from level 7.
  const std::uint16_t d_bits = F16AtLeast(std::max(neg / 8.0f, pos / 7.5f));
  std::memcpy(block->d, &d_bits, 2);
  const float d = cpu::F16BitsToF32(d_bits);
  const float inv = d == 0.0f ? 0.0f : 1.0f / d;
  int q[quant::kQ4Block];
  for (int i = 0; i < quant::kQ4Block; ++i)
    q[i] = static_cast<int>(std::clamp(RoundToNearestEven(x[i] * inv), -8.0f, 7.0f)) + 8;
  constexpr int kHalf = quant::kQ4Block / 2;
  for (int j = 0; j < kHalf; ++j)
    block->qs[j] = static_cast<std::uint8_t>(q[j] | (q[j + kHalf] << 4));
}

// Index of the NF4 level nearest to v (v in [-1, 1]): the count of midpoints
// between consecutive levels below v.
int NearestNf4(float v) {
  static const std::array<float, 15> kMid = [] {
    std::array<float, 15> mid{};
    for (std::size_t i = 0; i < mid.size(); ++i) mid[i] = 0.5f * (kNf4Levels[i] + kNf4Levels[i + 1]);
    return mid;
  }();
  return static_cast<int>(std::upper_bound(kMid.begin(), kMid.end(), v) - kMid.begin());
}

void QuantizeNf4(const float* src, std::int64_t rows, std::int64_t cols, void* dst) {
  const quant::Nf4View view = quant::Nf4Layout(rows, cols, dst);
  for (std::int64_t g = 0; g < view.groups; ++g)
    quant::QuantizeNf4Group(src + g * kNf4ScaleGroup * quant::kNf4Block, view, g);
}

}  // namespace

namespace quant {

void QuantizeQ8Blocks(const float* src, std::int64_t blocks, BlockQ8_0* dst) {
  for (std::int64_t b = 0; b < blocks; ++b) QuantizeQ8Block(src + b * kQ8Block, dst + b);
}

void QuantizeQ4Blocks(const float* src, std::int64_t blocks, BlockQ4_0* dst) {
  for (std::int64_t b = 0; b < blocks; ++b) QuantizeQ4Block(src + b * kQ4Block, dst + b);
}

void QuantizeNf4Group(const float* src, const Nf4View& view, std::int64_t g) {
  const std::int64_t b0 = g * kNf4ScaleGroup;
  const std::int64_t b1 = std::min(view.blocks, b0 + kNf4ScaleGroup);
  // First level: each block's absmax.
  float absmax[kNf4ScaleGroup];
  float top = 0.0f;
  for (std::int64_t b = b0; b < b1; ++b) {
    float a = 0.0f;
    for (int i = 0; i < kNf4Block; ++i) a = std::max(a, std::fabs(src[(b - b0) * kNf4Block + i]));
    absmax[b - b0] = a;
    top = std::max(top, a);
  }
  // Second level: absmaxes as 8-bit codes times the group's fp32 scale,
  // rounded up so each block's scale still covers its absmax (|x / s| <= 1).
  float c = top / 255.0f;
  if (c * 255.0f < top) c = std::nextafter(c, INFINITY);
  view.group_scale[g] = c;
  for (std::int64_t b = b0; b < b1; ++b) {
    const float a = absmax[b - b0];
    int code = c == 0.0f ? 0 : static_cast<int>(std::min(255.0f, std::ceil(a / c)));
    while (code < 255 && static_cast<float>(code) * c < a) ++code;
    view.codes[b] = static_cast<std::uint8_t>(code);
  }
  for (std::int64_t b = b0; b < b1; ++b) {
    const float s = static_cast<float>(view.codes[b]) * c;
    const float inv = s == 0.0f ? 0.0f : 1.0f / s;
    const float* x = src + (b - b0) * kNf4Block;
    std::uint8_t* qs = view.packed + b * (kNf4Block / 2);
    constexpr int kHalf = kNf4Block / 2;
    for (int j = 0; j < kHalf; ++j) {
      const int lo = NearestNf4(x[j] * inv);
      const int hi = NearestNf4(x[j + kHalf] * inv);
      qs[j] = static_cast<std::uint8_t>(lo | (hi << 4));
    }
  }
}

}  // namespace quant

std::string_view QuantFormatName(QuantFormat format) {
  switch (format) {
    case QuantFormat::kQ8_0:
      return "q8_0";
    case QuantFormat::kQ4_0:
      return "q4_0";
    case QuantFormat::kNf4:
      return "nf4";
  }
  QUANT_CHECK(false, "unknown QuantFormat");
  return {};
}

absl::StatusOr<QuantFormat> ParseQuantFormat(std::string_view name) {
  for (QuantFormat f : {QuantFormat::kQ8_0, QuantFormat::kQ4_0, QuantFormat::kNf4})
    if (name == QuantFormatName(f)) return f;
  return absl::InvalidArgumentError(
      absl::StrCat("quantized precision: unknown name \"", std::string(name), "\" (want q8_0, q4_0 or nf4)"));
}

std::int64_t QuantBlockSize(QuantFormat format) {
  return format == QuantFormat::kNf4 ? quant::kNf4Block : quant::kQ8Block;
}

absl::Status CheckQuantShape(QuantFormat format, std::int64_t rows, std::int64_t cols) {
  if (rows <= 0) return absl::InvalidArgumentError(absl::StrCat("quantized weight: rows ", rows, " must be > 0"));
  const std::int64_t block = QuantBlockSize(format);
  if (cols <= 0 || cols % block != 0)
    return absl::InvalidArgumentError(absl::StrCat("quantized weight: cols ", cols, " must be a positive multiple of ",
                                                   block, " for ", std::string(QuantFormatName(format))));
  return absl::OkStatus();
}

std::uint64_t QuantizedBytes(QuantFormat format, std::int64_t rows, std::int64_t cols) {
  quant::QuantCheckShape(format, rows, cols);
  const auto blocks = static_cast<std::uint64_t>(rows * (cols / QuantBlockSize(format)));
  switch (format) {
    case QuantFormat::kQ8_0:
      return blocks * sizeof(quant::BlockQ8_0);
    case QuantFormat::kQ4_0:
      return blocks * sizeof(quant::BlockQ4_0);
    case QuantFormat::kNf4: {
      const std::uint64_t groups = (blocks + kNf4ScaleGroup - 1) / kNf4ScaleGroup;
      return groups * sizeof(float) + blocks + blocks * (quant::kNf4Block / 2);
    }
  }
  QUANT_CHECK(false, "unknown QuantFormat");
  return {};
}

void Quantize(QuantFormat format, const float* src, std::int64_t rows, std::int64_t cols, void* dst) {
  quant::QuantCheckShape(format, rows, cols);
  const std::int64_t blocks = rows * (cols / QuantBlockSize(format));
  switch (format) {
    case QuantFormat::kQ8_0: {
      quant::QuantizeQ8Blocks(src, blocks, static_cast<quant::BlockQ8_0*>(dst));
      return;
    }
    case QuantFormat::kQ4_0: {
      quant::QuantizeQ4Blocks(src, blocks, static_cast<quant::BlockQ4_0*>(dst));
      return;
    }
    case QuantFormat::kNf4:
      QuantizeNf4(src, rows, cols, dst);
      return;
  }
}

void DequantizeRows(QuantFormat format, const void* src, std::int64_t rows, std::int64_t cols,
                    std::int64_t row_begin, std::int64_t row_end, float* dst) {
  quant::QuantCheckShape(format, rows, cols);
  QUANT_CHECK(0 <= row_begin && row_begin <= row_end && row_end <= rows, "row range out of bounds");
  const std::int64_t per_row = cols / QuantBlockSize(format);
  for (std::int64_t b = row_begin * per_row; b < row_end * per_row; ++b) {
    float* out = dst + (b - row_begin * per_row) * QuantBlockSize(format);
    switch (format) {
      case QuantFormat::kQ8_0:
        quant::DequantizeQ8Block(static_cast<const quant::BlockQ8_0*>(src) + b, out);
        break;
      case QuantFormat::kQ4_0:
        quant::DequantizeQ4Block(static_cast<const quant::BlockQ4_0*>(src) + b, out);
        break;
      case QuantFormat::kNf4: {
        const quant::ConstNf4View view = quant::Nf4Layout(rows, cols, src);
        quant::DequantizeNf4Block(view.packed + b * (quant::kNf4Block / 2), view.Scale(b), out);
        break;
      }
    }
  }
}

void Dequantize(QuantFormat format, const void* src, std::int64_t rows, std::int64_t cols, float* dst) {
  DequantizeRows(format, src, rows, cols, 0, rows, dst);
}

float QuantBlockScale(QuantFormat format, const void* src, std::int64_t rows, std::int64_t cols,
                      std::int64_t block) {
  quant::QuantCheckShape(format, rows, cols);
  QUANT_CHECK(0 <= block && block < rows * (cols / QuantBlockSize(format)), "block out of range");
  switch (format) {
    case QuantFormat::kQ8_0:
      return quant::BlockScale(static_cast<const quant::BlockQ8_0*>(src)[block].d);
    case QuantFormat::kQ4_0:
      return quant::BlockScale(static_cast<const quant::BlockQ4_0*>(src)[block].d);
    case QuantFormat::kNf4:
      return quant::Nf4Layout(rows, cols, src).Scale(block);
  }
  QUANT_CHECK(false, "unknown QuantFormat");
  return {};
}

}  // namespace localbench::kernels
