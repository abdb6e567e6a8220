// Quantized weights on the GPU (issue 15): the seeded fill, the fused
// dequantizing GEMV of decode, and the prefill / backward products that
// dequantize panels of W into the planned workspace and run the 16-bit GEMM
// path (cuBLASLt or our matrix-core tiles). One source for CUDA and HIP
// (vendor.h); quant.hip includes this file. Layouts: localbench/kernels/quant.h.
//
// Decode is bandwidth-bound: a token reads every weight once. A warp owns
// kGemvRowsPerWarp output rows; per step its lanes stage one warp's worth of
// consecutive blocks of each row into shared memory with 16-byte loads (the
// 34- and 18-byte blocks are not 16-byte aligned, so the rows are copied as
// byte ranges: aligned middle in vectors, head and tail bytewise), then each
// lane dequantizes one block per row in registers, multiplies it with the
// matching 32 or 64 columns of every row of x (fp32, loaded once and used for
// all the warp's rows), and the warp reduces with shuffles at the end.
//
// Prefill is compute-bound: W is dequantized panel by panel to bf16 (bf16
// rather than fp16: activations and, in QLoRA's backward, gradients scaled by
// 1/tokens keep fp32's range), the rows of x that meet the panel are
// converted to bf16 beside it, and the product runs on the tensor-core path
// with fp32 accumulation. bf16 rounds both operands (2^-9 relative each);
// the tests state that bound.
#include <algorithm>
#include <cmath>
#include <cstdint>

#include "ops.cuh"
#include "quant.cuh"
#include "random.cuh"
#include "status_macros.h"

namespace localbench::kernels::LB_GPU_NS {
namespace {

// Block geometry per format: weights per block and bytes per block (NF4:
// its packed nibbles; its scales live in the code and group-scale arrays).
template <QuantFormat F>
struct Fmt;
template <>
struct Fmt<QuantFormat::kQ8_0> {
  static constexpr int kWeights = 32, kBytes = 34;
};
template <>
struct Fmt<QuantFormat::kQ4_0> {
  static constexpr int kWeights = 32, kBytes = 18;
};
template <>
struct Fmt<QuantFormat::kNf4> {
  static constexpr int kWeights = 64, kBytes = 32;
};

// NF4's levels and the midpoints between neighbours, computed on the host as
// quant.cc computes them (0.5f * (a + b) in fp32) and passed by value.
struct Nf4Table {
  float level[16];
  float mid[15];
};

Nf4Table MakeNf4Table() {
  Nf4Table t{};
  for (int i = 0; i < 16; ++i) t.level[i] = kNf4Levels[static_cast<std::size_t>(i)];
  for (int i = 0; i < 15; ++i) t.mid[i] = 0.5f * (t.level[i] + t.level[i + 1]);
  return t;
}

// Pointers into an NF4 tensor: fp32 group scales, uint8 codes, packed nibbles.
struct Nf4Ptrs {
  float* group_scale;
  std::uint8_t* codes;
  std::uint8_t* packed;
  std::int64_t blocks;
};

__host__ __device__ inline Nf4Ptrs Nf4At(const void* base, std::int64_t rows, std::int64_t cols) {
  Nf4Ptrs v{};
  v.blocks = rows * (cols / Fmt<QuantFormat::kNf4>::kWeights);
  const std::int64_t groups = (v.blocks + kNf4ScaleGroup - 1) / kNf4ScaleGroup;
  v.group_scale = static_cast<float*>(const_cast<void*>(base));
  v.codes = reinterpret_cast<std::uint8_t*>(v.group_scale + groups);
  v.packed = v.codes + v.blocks;
  return v;
}

// ---- the CPU's rounding, replicated exactly (quant.cc) ----------------------
// std::max / std::min / std::clamp as the CPU evaluates them (first argument
// on ties, so signed zeros come out the same).
__device__ __forceinline__ float Max(float a, float b) { return a < b ? b : a; }
__device__ __forceinline__ float Min(float a, float b) { return b < a ? b : a; }
__device__ __forceinline__ float Clamp(float v, float lo, float hi) { return v < lo ? lo : (hi < v ? hi : v); }

// fp32 -> IEEE half bits, round to nearest even: cpu::F32ToF16Bits in
// integer operations, so no device conversion mode can differ.
__device__ __forceinline__ std::uint16_t F32ToF16Bits(float value) {
  std::uint32_t x = __float_as_uint(value);
  const std::uint32_t sign = (x >> 16) & 0x8000u;
  x &= 0x7fffffffu;
  if (x >= 0x7f800000u) return static_cast<std::uint16_t>(sign | (x > 0x7f800000u ? 0x7e00u : 0x7c00u));
  if (x >= 0x477ff000u) return static_cast<std::uint16_t>(sign | 0x7c00u);
  if (x < 0x38800000u) {
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

// The smallest f16 >= needed (quant.cc's F16AtLeast).
__device__ __forceinline__ std::uint16_t F16AtLeast(float needed) {
  std::uint16_t bits = F32ToF16Bits(needed);
  if (lb_half_to_float(bits) < needed) ++bits;
  return bits;
}

// Index of the NF4 level nearest to v: the count of midpoints <= v (the
// midpoints ascend, so this is quant.cc's upper_bound).
__device__ __forceinline__ int NearestNf4(const Nf4Table& t, float v) {
  int index = 0;
#pragma unroll
  for (int i = 0; i < 15; ++i) index += t.mid[i] <= v ? 1 : 0;
  return index;
}

// ---- seeded fill ------------------------------------------------------------
// One thread per Q8_0 block.
__global__ void FillQ8Kernel(std::uint8_t* w, std::int64_t blocks, std::uint64_t seed, float scale) {
  for (std::int64_t b = GlobalThread(); b < blocks; b += GridStride()) {
    float v[32];
    float amax = 0.0f;
#pragma unroll
    for (int i = 0; i < 32; ++i) {
      v[i] = SeededUniform(seed, b * 32 + i, scale);
      amax = Max(amax, fabsf(v[i]));
    }
    const std::uint16_t d_bits = F16AtLeast(amax / 127.0f);
    const float d = lb_half_to_float(d_bits);
    const float inv = d == 0.0f ? 0.0f : 1.0f / d;
    std::uint8_t* out = w + b * Fmt<QuantFormat::kQ8_0>::kBytes;
    out[0] = static_cast<std::uint8_t>(d_bits & 0xffu);
    out[1] = static_cast<std::uint8_t>(d_bits >> 8);
#pragma unroll
    for (int i = 0; i < 32; ++i) {
      const float q = Clamp(rintf(v[i] * inv), -127.0f, 127.0f);
      out[2 + i] = static_cast<std::uint8_t>(static_cast<std::int8_t>(q));
    }
  }
}

// One thread per Q4_0 block.
__global__ void FillQ4Kernel(std::uint8_t* w, std::int64_t blocks, std::uint64_t seed, float scale) {
  for (std::int64_t b = GlobalThread(); b < blocks; b += GridStride()) {
    float v[32];
    float neg = 0.0f, pos = 0.0f;
#pragma unroll
    for (int i = 0; i < 32; ++i) {
      v[i] = SeededUniform(seed, b * 32 + i, scale);
      neg = Max(neg, -v[i]);
      pos = Max(pos, v[i]);
    }
    const std::uint16_t d_bits = F16AtLeast(Max(neg / 8.0f, pos / 7.5f));
    const float d = lb_half_to_float(d_bits);
    const float inv = d == 0.0f ? 0.0f : 1.0f / d;
    std::uint8_t* out = w + b * Fmt<QuantFormat::kQ4_0>::kBytes;
    out[0] = static_cast<std::uint8_t>(d_bits & 0xffu);
    out[1] = static_cast<std::uint8_t>(d_bits >> 8);
#pragma unroll
    for (int j = 0; j < 16; ++j) {
      const int lo = static_cast<int>(Clamp(rintf(v[j] * inv), -8.0f, 7.0f)) + 8;
      const int hi = static_cast<int>(Clamp(rintf(v[j + 16] * inv), -8.0f, 7.0f)) + 8;
      out[2 + j] = static_cast<std::uint8_t>(lo | (hi << 4));
    }
  }
}

// One thread block of kNf4ScaleGroup threads per group of NF4 blocks: each
// thread takes one block's absmax, the block reduces them to the group's
// scale, then each thread quantizes its block. The values are regenerated
// from the hash in both passes instead of being stored.
constexpr int kNf4FillThreads = static_cast<int>(kNf4ScaleGroup);
__global__ void __launch_bounds__(kNf4FillThreads)
    FillNf4Kernel(std::uint8_t* w, std::int64_t rows, std::int64_t cols, std::uint64_t seed, float scale,
                  Nf4Table table) {
  __shared__ float scratch[kMaxWarpsPerBlock];
  const Nf4Ptrs v = Nf4At(w, rows, cols);
  const std::int64_t g = blockIdx.x;
  const std::int64_t b = g * kNf4ScaleGroup + threadIdx.x;
  const bool live = b < v.blocks;
  float a = 0.0f;
  if (live) {
    for (int i = 0; i < 64; ++i) a = Max(a, fabsf(SeededUniform(seed, b * 64 + i, scale)));
  }
  const float top = BlockMax(a, scratch);  // every thread takes part
  float c = top / 255.0f;
  if (c * 255.0f < top) c = __uint_as_float(__float_as_uint(c) + 1u);  // nextafter(c, +inf), c >= 0
  if (threadIdx.x == 0) v.group_scale[g] = c;
  if (!live) return;
  int code = c == 0.0f ? 0 : static_cast<int>(Min(255.0f, ceilf(a / c)));
  while (code < 255 && static_cast<float>(code) * c < a) ++code;
  v.codes[b] = static_cast<std::uint8_t>(code);
  const float s = static_cast<float>(code) * c;
  const float inv = s == 0.0f ? 0.0f : 1.0f / s;
  std::uint8_t* out = v.packed + b * Fmt<QuantFormat::kNf4>::kBytes;
  for (int j = 0; j < 32; ++j) {
    const int lo = NearestNf4(table, SeededUniform(seed, b * 64 + j, scale) * inv);
    const int hi = NearestNf4(table, SeededUniform(seed, b * 64 + j + 32, scale) * inv);
    out[j] = static_cast<std::uint8_t>(lo | (hi << 4));
  }
}

// ---- dequantizing a block ------------------------------------------------------
// A Q8_0 / Q4_0 block's f16 scale (bytes 0-1, little-endian).
__device__ __forceinline__ float BlockD(const std::uint8_t* blk) {
  return lb_half_to_float(static_cast<std::uint16_t>(blk[0] | (blk[1] << 8)));
}

// Weights [8 s, 8 s + 8) of a block before its scale: q for Q8_0 / Q4_0,
// the NF4 level (from `levels`, 16 floats) for NF4. `blk` is the block's
// first byte (NF4: its packed nibbles).
template <QuantFormat F>
__device__ __forceinline__ void DecodeSlice(const std::uint8_t* blk, int s, const float* levels, float (&wv)[8]) {
  if constexpr (F == QuantFormat::kQ8_0) {
#pragma unroll
    for (int j = 0; j < 8; ++j) wv[j] = static_cast<float>(static_cast<std::int8_t>(blk[2 + 8 * s + j]));
  } else if constexpr (F == QuantFormat::kQ4_0) {
    // Weight i < 16: low nibble of byte i; weight i >= 16: high nibble of byte i - 16.
    const std::uint8_t* q = blk + 2 + (s & 1) * 8;
    const bool high = s >= 2;
#pragma unroll
    for (int j = 0; j < 8; ++j) wv[j] = static_cast<float>((high ? q[j] >> 4 : q[j] & 0x0f) - 8);
  } else {
    // Weight i < 32: low nibble of byte i; weight i >= 32: high nibble of byte i - 32.
    const std::uint8_t* q = blk + (s & 3) * 8;
    const bool high = s >= 4;
#pragma unroll
    for (int j = 0; j < 8; ++j) wv[j] = levels[high ? q[j] >> 4 : q[j] & 0x0f];
  }
}

// Block `flat`'s scale: its f16 d, or NF4's code times its group's scale.
template <QuantFormat F>
__device__ __forceinline__ float BlockScale(const std::uint8_t* blk, const Nf4Ptrs& nf4, std::int64_t flat) {
  if constexpr (F == QuantFormat::kNf4) {
    return static_cast<float>(nf4.codes[flat]) * nf4.group_scale[flat / kNf4ScaleGroup];
  } else {
    (void)nf4;
    (void)flat;
    return BlockD(blk);
  }
}

// Where row `row`'s blocks start.
template <QuantFormat F>
__device__ __forceinline__ const std::uint8_t* RowBlocks(const std::uint8_t* w, const Nf4Ptrs& nf4, std::int64_t row,
                                                        std::int64_t per_row) {
  const std::uint8_t* base = F == QuantFormat::kNf4 ? nf4.packed : w;
  return base + row * per_row * Fmt<F>::kBytes;
}

// ---- decode GEMV ------------------------------------------------------------------
constexpr int kGemvWarps = 4;        // warps per thread block (as the launch counts them)
constexpr int kGemvRowsPerWarp = 2;  // output rows per warp: x is loaded once for both
// The widest warp of this vendor: stage buffers are sized for it.
constexpr int kWidestWarp = LB_GPU_IS_HIP ? 64 : 32;

// Shared bytes of one row's stage: a warp's blocks plus the misaligned head
// and the tail (a multiple of 16, so the next stage stays aligned).
template <QuantFormat F>
constexpr int kStageBytes = (kWidestWarp * Fmt<F>::kBytes + 32 + 15) / 16 * 16;
constexpr int kLevelBytes = 64;  // NF4 levels ahead of the stages

// Copies `len` bytes at `src` into shared memory so that src[i] lands at
// stage[head + i] with head = src % 16: the aligned middle in 16-byte
// vectors, the unaligned head and tail (under 16 bytes each) bytewise. Every
// lane of the warp calls it. Returns head.
__device__ __forceinline__ int StageWarp(const std::uint8_t* src, int len, std::uint8_t* stage, int lane) {
  const std::uintptr_t p = reinterpret_cast<std::uintptr_t>(src);
  const std::uintptr_t base = p & ~std::uintptr_t{15};
  const int head = static_cast<int>(p - base);
  const std::uintptr_t end = p + static_cast<std::uintptr_t>(len);
  const std::uintptr_t a0 = (p + 15) & ~std::uintptr_t{15};
  const std::uintptr_t a1 = end & ~std::uintptr_t{15};
  if (a1 > a0) {
    const int vectors = static_cast<int>((a1 - a0) / 16);
    const uint4* gv = reinterpret_cast<const uint4*>(a0);
    uint4* sv = reinterpret_cast<uint4*>(stage + (a0 - base));
    for (int i = lane; i < vectors; i += LB_WARP_SIZE) sv[i] = gv[i];
    const int lead = static_cast<int>(a0 - p), trail = static_cast<int>(end - a1);
    if (lane < lead) stage[head + lane] = src[lane];
    if (lane < trail) stage[(a1 - base) + lane] = reinterpret_cast<const std::uint8_t*>(a1)[lane];
  } else {
    for (int i = lane; i < len; i += LB_WARP_SIZE) stage[head + i] = src[i];
  }
  return head;
}

// y[r, row] for the warp's rows and every r < m (M >= m, a power of two).
template <QuantFormat F, int M>
__global__ void __launch_bounds__(kGemvWarps * kWidestWarp)
    QuantGemvKernel(const float* __restrict__ x, int m, const std::uint8_t* __restrict__ w, std::int64_t n,
                    std::int64_t k, float* __restrict__ y, float beta, bool x_vec, Nf4Table table) {
  using Q = Fmt<F>;
  constexpr int R = kGemvRowsPerWarp;
  constexpr int kSlices = Q::kWeights / 8;
  extern __shared__ uint4 gemv_smem[];
  float* levels = reinterpret_cast<float*>(gemv_smem);
  if constexpr (F == QuantFormat::kNf4) {
    if (threadIdx.x < 16) levels[threadIdx.x] = table.level[threadIdx.x];
    __syncthreads();
  }
  const int lane = static_cast<int>(threadIdx.x) % LB_WARP_SIZE;
  const int warp = static_cast<int>(threadIdx.x) / LB_WARP_SIZE;
  // A 32-wide AMD device runs twice the warps the launch counted: the extra
  // ones leave (whole warps, after the only block-wide barrier).
  if (warp >= kGemvWarps) return;
  const std::int64_t row0 = (static_cast<std::int64_t>(blockIdx.x) * kGemvWarps + warp) * R;
  if (row0 >= n) return;
  const std::int64_t per_row = k / Q::kWeights;
  const Nf4Ptrs nf4 = F == QuantFormat::kNf4 ? Nf4At(w, n, k) : Nf4Ptrs{};
  std::uint8_t* stage = reinterpret_cast<std::uint8_t*>(gemv_smem) + kLevelBytes + warp * R * kStageBytes<F>;

  float acc[R][M];
#pragma unroll
  for (int r = 0; r < R; ++r)
#pragma unroll
    for (int i = 0; i < M; ++i) acc[r][i] = 0.0f;

  for (std::int64_t b0 = 0; b0 < per_row; b0 += LB_WARP_SIZE) {
    const int nb = static_cast<int>(per_row - b0 < LB_WARP_SIZE ? per_row - b0 : LB_WARP_SIZE);
    int head[R];
#pragma unroll
    for (int r = 0; r < R; ++r) {
      head[r] = 0;
      if (row0 + r < n) {
        head[r] = StageWarp(RowBlocks<F>(w, nf4, row0 + r, per_row) + b0 * Q::kBytes, nb * Q::kBytes,
                            stage + r * kStageBytes<F>, lane);
      }
    }
    lb_syncwarp();
    if (lane < nb) {
      const std::int64_t col = (b0 + lane) * Q::kWeights;
      const std::uint8_t* blk[R];
      float part[R][M];
#pragma unroll
      for (int r = 0; r < R; ++r) {
        blk[r] = stage + r * kStageBytes<F> + head[r] + lane * Q::kBytes;
#pragma unroll
        for (int i = 0; i < M; ++i) part[r][i] = 0.0f;
      }
#pragma unroll
      for (int s = 0; s < kSlices; ++s) {
        float xv[M][8];
#pragma unroll
        for (int i = 0; i < M; ++i) {
          const float* xs = x + static_cast<std::int64_t>(i) * k + col + 8 * s;
          if (i >= m) {
#pragma unroll
            for (int j = 0; j < 8; ++j) xv[i][j] = 0.0f;
          } else if (x_vec) {
            const float4 lo = reinterpret_cast<const float4*>(xs)[0];
            const float4 hi = reinterpret_cast<const float4*>(xs)[1];
            xv[i][0] = lo.x, xv[i][1] = lo.y, xv[i][2] = lo.z, xv[i][3] = lo.w;
            xv[i][4] = hi.x, xv[i][5] = hi.y, xv[i][6] = hi.z, xv[i][7] = hi.w;
          } else {
#pragma unroll
            for (int j = 0; j < 8; ++j) xv[i][j] = xs[j];
          }
        }
#pragma unroll
        for (int r = 0; r < R; ++r) {
          if (row0 + r >= n) continue;
          float wv[8];
          DecodeSlice<F>(blk[r], s, levels, wv);
#pragma unroll
          for (int i = 0; i < M; ++i)
#pragma unroll
            for (int j = 0; j < 8; ++j) part[r][i] = fmaf(wv[j], xv[i][j], part[r][i]);
        }
      }
#pragma unroll
      for (int r = 0; r < R; ++r) {
        if (row0 + r >= n) continue;
        const float d = BlockScale<F>(blk[r], nf4, (row0 + r) * per_row + b0 + lane);
#pragma unroll
        for (int i = 0; i < M; ++i) acc[r][i] = fmaf(d, part[r][i], acc[r][i]);
      }
    }
    lb_syncwarp();  // the stage is rewritten next step
  }
#pragma unroll
  for (int r = 0; r < R; ++r) {
#pragma unroll
    for (int i = 0; i < M; ++i) {
      const float v = WarpSum(acc[r][i]);  // every lane takes part
      if (lane == 0 && i < m && row0 + r < n) {
        float* out = y + static_cast<std::int64_t>(i) * n + row0 + r;
        *out = beta == 0.0f ? v : v + beta * *out;
      }
    }
  }
}

template <QuantFormat F, int M>
absl::Status GemvAs(const float* x, int m, const void* w, std::int64_t n, std::int64_t k, float* y, float beta,
                    gpuStream_t s) {
  constexpr std::int64_t rows_per_block = kGemvWarps * kGemvRowsPerWarp;
  const unsigned int grid = CeilDiv(static_cast<std::size_t>(n), rows_per_block);
  const std::size_t shared = kLevelBytes + static_cast<std::size_t>(kGemvWarps) * kGemvRowsPerWarp * kStageBytes<F>;
  // Rows of x start 16-byte aligned when x does (k is whole blocks of 32).
  const bool x_vec = reinterpret_cast<std::uintptr_t>(x) % 16 == 0;
  QuantGemvKernel<F, M><<<grid, kGemvWarps * LB_WARP_SIZE, shared, s>>>(
      x, m, static_cast<const std::uint8_t*>(w), n, k, y, beta, x_vec, MakeNf4Table());
  return LaunchStatus("QuantGemvKernel");
}

template <QuantFormat F>
absl::Status GemvFormat(const float* x, int m, const void* w, std::int64_t n, std::int64_t k, float* y, float beta,
                        gpuStream_t s) {
  if (m <= 1) return GemvAs<F, 1>(x, m, w, n, k, y, beta, s);
  if (m <= 2) return GemvAs<F, 2>(x, m, w, n, k, y, beta, s);
  if (m <= 4) return GemvAs<F, 4>(x, m, w, n, k, y, beta, s);
  return GemvAs<F, 8>(x, m, w, n, k, y, beta, s);
}
static_assert(kQuantGemvMaxRows == 8, "GemvFormat instantiates M up to 8");

// ---- dequantizing panels to bf16 ---------------------------------------------------
// One thread per 8 consecutive weights of rows [row0, row0 + rows): one
// 16-byte store of bf16 bits each.
template <QuantFormat F>
__global__ void DequantBf16Kernel(const std::uint8_t* w, std::int64_t n, std::int64_t k, std::int64_t row0,
                                  std::int64_t rows, std::uint16_t* out, Nf4Table table) {
  using Q = Fmt<F>;
  __shared__ float levels[16];
  if (F == QuantFormat::kNf4 && threadIdx.x < 16) levels[threadIdx.x] = table.level[threadIdx.x];
  __syncthreads();
  const Nf4Ptrs nf4 = F == QuantFormat::kNf4 ? Nf4At(w, n, k) : Nf4Ptrs{};
  const std::int64_t per_row = k / Q::kWeights, eighths = k / 8, total = rows * eighths;
  for (std::int64_t i = GlobalThread(); i < total; i += GridStride()) {
    const std::int64_t r = i / eighths, c = (i % eighths) * 8;
    const std::int64_t flat = (row0 + r) * per_row + c / Q::kWeights;
    const std::uint8_t* blk = RowBlocks<F>(w, nf4, row0 + r, per_row) + (c / Q::kWeights) * Q::kBytes;
    const float d = BlockScale<F>(blk, nf4, flat);
    float wv[8];
    DecodeSlice<F>(blk, static_cast<int>((c % Q::kWeights) / 8), levels, wv);
    std::uint32_t packed[4];
#pragma unroll
    for (int j = 0; j < 4; ++j) {
      // d * q as the CPU's dequantization computes it, then rounded to bf16.
      packed[j] = static_cast<std::uint32_t>(lb_float_to_bf16(d * wv[2 * j])) |
                  (static_cast<std::uint32_t>(lb_float_to_bf16(d * wv[2 * j + 1])) << 16);
    }
    *reinterpret_cast<uint4*>(out + r * k + c) = make_uint4(packed[0], packed[1], packed[2], packed[3]);
  }
}

}  // namespace

absl::Status LaunchFillRandomQuantized(QuantFormat format, void* w, std::int64_t rows, std::int64_t cols,
                                       std::uint64_t seed, float scale, gpuStream_t s) {
  auto* bytes = static_cast<std::uint8_t*>(w);
  switch (format) {
    case QuantFormat::kQ8_0: {
      const std::int64_t blocks = rows * (cols / 32);
      FillQ8Kernel<<<GridFor(blocks), kThreads, 0, s>>>(bytes, blocks, seed, scale);
      return LaunchStatus("FillQ8Kernel");
    }
    case QuantFormat::kQ4_0: {
      const std::int64_t blocks = rows * (cols / 32);
      FillQ4Kernel<<<GridFor(blocks), kThreads, 0, s>>>(bytes, blocks, seed, scale);
      return LaunchStatus("FillQ4Kernel");
    }
    case QuantFormat::kNf4: {
      const std::int64_t blocks = rows * (cols / 64);
      const std::int64_t groups = (blocks + kNf4ScaleGroup - 1) / kNf4ScaleGroup;
      if (groups > INT32_MAX) return absl::InvalidArgumentError("FillRandomQuantized: too many NF4 groups");
      FillNf4Kernel<<<static_cast<unsigned int>(groups), kNf4FillThreads, 0, s>>>(bytes, rows, cols, seed, scale,
                                                                                 MakeNf4Table());
      return LaunchStatus("FillNf4Kernel");
    }
  }
  return absl::InvalidArgumentError("FillRandomQuantized: unknown format");
}

absl::Status LaunchQuantGemv(QuantFormat format, const float* x, std::int64_t m, const void* w, std::int64_t n,
                             std::int64_t k, float* y, float beta, gpuStream_t s) {
  if (m < 1 || m > kQuantGemvMaxRows) return absl::InvalidArgumentError("QuantGemv: rows of x must be 1..8");
  const int mi = static_cast<int>(m);
  switch (format) {
    case QuantFormat::kQ8_0:
      return GemvFormat<QuantFormat::kQ8_0>(x, mi, w, n, k, y, beta, s);
    case QuantFormat::kQ4_0:
      return GemvFormat<QuantFormat::kQ4_0>(x, mi, w, n, k, y, beta, s);
    case QuantFormat::kNf4:
      return GemvFormat<QuantFormat::kNf4>(x, mi, w, n, k, y, beta, s);
  }
  return absl::InvalidArgumentError("QuantGemv: unknown format");
}

absl::Status LaunchDequantizeRowsBf16(QuantFormat format, const void* w, std::int64_t n, std::int64_t k,
                                      std::int64_t row0, std::int64_t rows, std::uint16_t* out, gpuStream_t s) {
  if (reinterpret_cast<std::uintptr_t>(out) % 16 != 0) {
    return absl::InvalidArgumentError("DequantizeRowsBf16: output must be 16-byte aligned");
  }
  if (rows == 0) return absl::OkStatus();
  const auto* bytes = static_cast<const std::uint8_t*>(w);
  const unsigned int grid = GridFor(rows * (k / 8));
  switch (format) {
    case QuantFormat::kQ8_0:
      DequantBf16Kernel<QuantFormat::kQ8_0><<<grid, kThreads, 0, s>>>(bytes, n, k, row0, rows, out, MakeNf4Table());
      break;
    case QuantFormat::kQ4_0:
      DequantBf16Kernel<QuantFormat::kQ4_0><<<grid, kThreads, 0, s>>>(bytes, n, k, row0, rows, out, MakeNf4Table());
      break;
    case QuantFormat::kNf4:
      DequantBf16Kernel<QuantFormat::kNf4><<<grid, kThreads, 0, s>>>(bytes, n, k, row0, rows, out, MakeNf4Table());
      break;
  }
  return LaunchStatus("DequantBf16Kernel");
}

absl::Status QuantLinearTiled(QuantFormat format, bool trans_w, const float* x, std::int64_t m, const void* w,
                              std::int64_t n, std::int64_t k, float beta, float* y, void* workspace,
                              std::uint64_t workspace_bytes, const GemmRunner& gemm, gpuStream_t s) {
  if (m > INT32_MAX || n > INT32_MAX || k > INT32_MAX) return absl::InvalidArgumentError("QuantLinear: too large");
  // Rows of k bf16 values the workspace holds: half for the panel of W (its
  // rows), the rest for activations. The contract's size (one fp32 panel of
  // P rows) holds 2P such rows, so both halves hold at least P.
  const std::int64_t fit = static_cast<std::int64_t>(workspace_bytes / (2 * static_cast<std::uint64_t>(k)));
  if (fit < 2) return absl::InvalidArgumentError("QuantLinear: workspace too small for a bf16 panel");
  const std::int64_t panel = std::min(n, fit / 2);
  auto* w_panel = static_cast<std::uint16_t*>(workspace);
  std::uint16_t* x_part = w_panel + panel * k;
  const std::uint64_t x_bytes = workspace_bytes - static_cast<std::uint64_t>(panel * k) * 2;

  GemmArgs g;
  g.a_type = Elem::kBF16;
  g.b_type = Elem::kBF16;
  g.c_type = Elem::kF32;
  g.alpha = 1.0f;
  if (trans_w) {
    // y[:, p0:p0+rows] = x W[p0:p0+rows]^T; each tile of y is written once,
    // so beta applies once.
    const std::int64_t chunk = std::min<std::int64_t>(m, static_cast<std::int64_t>(x_bytes / (2 * k)));
    for (std::int64_t p0 = 0; p0 < n; p0 += panel) {
      const std::int64_t rows = std::min(panel, n - p0);
      LB_RETURN_IF_ERROR(LaunchDequantizeRowsBf16(format, w, n, k, p0, rows, w_panel, s));
      for (std::int64_t m0 = 0; m0 < m; m0 += chunk) {
        const std::int64_t mc = std::min(chunk, m - m0);
        // All of x fits: convert it once, for the first panel only.
        if (chunk < m || p0 == 0) {
          LB_RETURN_IF_ERROR(LaunchConvert2d(x + m0 * k, Elem::kF32, k, 0, x_part, Elem::kBF16, k, mc, k, s));
        }
        g.m = static_cast<int>(mc);
        g.n = static_cast<int>(rows);
        g.k = static_cast<int>(k);
        g.a = x_part;
        g.lda = k;
        g.trans_a = false;
        g.b = w_panel;
        g.ldb = k;
        g.trans_b = true;
        g.c = y + m0 * n + p0;
        g.ldc = n;
        g.beta = beta;
        LB_RETURN_IF_ERROR(gemm(g));
      }
    }
    return absl::OkStatus();
  }
  // Backward: y[m, k] (+)= x[:, p0:p0+rows] W[p0:p0+rows, :]; the first
  // panel applies beta, later ones accumulate.
  const std::int64_t chunk = std::min<std::int64_t>(m, static_cast<std::int64_t>(x_bytes / (2 * panel)));
  for (std::int64_t p0 = 0; p0 < n; p0 += panel) {
    const std::int64_t rows = std::min(panel, n - p0);
    LB_RETURN_IF_ERROR(LaunchDequantizeRowsBf16(format, w, n, k, p0, rows, w_panel, s));
    for (std::int64_t m0 = 0; m0 < m; m0 += chunk) {
      const std::int64_t mc = std::min(chunk, m - m0);
      LB_RETURN_IF_ERROR(LaunchConvert2d(x + m0 * n, Elem::kF32, n, p0, x_part, Elem::kBF16, rows, mc, rows, s));
      g.m = static_cast<int>(mc);
      g.n = static_cast<int>(k);
      g.k = static_cast<int>(rows);
      g.a = x_part;
      g.lda = rows;
      g.trans_a = false;
      g.b = w_panel;
      g.ldb = k;
      g.trans_b = false;
      g.c = y + m0 * k;
      g.ldc = k;
      g.beta = p0 == 0 ? beta : 1.0f;
      LB_RETURN_IF_ERROR(gemm(g));
    }
  }
  return absl::OkStatus();
}

}  // namespace localbench::kernels::LB_GPU_NS
