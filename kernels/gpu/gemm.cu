// Portable tiled GEMM (one source for CUDA and HIP). Three kernels:
//  - MmaGemm: 128x128x32 block tiles of 16-bit inputs in shared memory,
//    8 warps of 64x32 each made of 16x16x16 matrix-core tiles (vendor.h),
//    the next K tile prefetched into registers while the current one is
//    multiplied. NVIDIA only (LB_HAVE_MMA).
//  - SkinnyGemm: M <= 8 rows against a [N, K] weight (decode): one warp per
//    output column, 16-byte loads along K, so the weight is read once at
//    full bandwidth.
//  - SimtGemm: 64x64x16 tiles, 256 threads of 4x4 register blocks, any
//    input types; the general fallback and AMD's tile path.
// Every kernel accumulates in fp32 and bounds-checks every load and store,
// so no shape needs padding.
#include <cstdint>
#include <string>

#include "gemm.cuh"

namespace localbench::kernels::LB_GPU_NS {
namespace {

// ---- SIMT tiles ------------------------------------------------------------
constexpr int kSimtBM = 64, kSimtBN = 64, kSimtBK = 16, kSimtThreads = 256;

__global__ void __launch_bounds__(kSimtThreads) SimtGemmKernel(GemmArgs g) {
  __shared__ float as[kSimtBK][kSimtBM];
  __shared__ float bs[kSimtBK][kSimtBN];
  const int tid = static_cast<int>(threadIdx.x);
  const int tx = tid % 16, ty = tid / 16;
  const int m0 = static_cast<int>(blockIdx.y) * kSimtBM, n0 = static_cast<int>(blockIdx.x) * kSimtBN;
  const std::size_t z = blockIdx.z;
  const char* a_base = static_cast<const char*>(g.a) + z * g.stride_a * ElemBytes(g.a_type);
  const char* b_base = static_cast<const char*>(g.b) + z * g.stride_b * ElemBytes(g.b_type);
  float acc[4][4] = {};
  for (int k0 = 0; k0 < g.k; k0 += kSimtBK) {
#pragma unroll
    for (int r = 0; r < (kSimtBM * kSimtBK) / kSimtThreads; ++r) {
      const int e = tid + r * kSimtThreads;
      int mm, kk;
      if (!g.trans_a) {
        mm = e / kSimtBK;
        kk = e % kSimtBK;
      } else {
        kk = e / kSimtBM;
        mm = e % kSimtBM;
      }
      const int gm = m0 + mm, gk = k0 + kk;
      float v = 0.f;
      if (gm < g.m && gk < g.k) {
        const std::size_t idx = g.trans_a ? static_cast<std::size_t>(gk) * g.lda + gm
                                          : static_cast<std::size_t>(gm) * g.lda + gk;
        v = LoadF(a_base, g.a_type, idx);
      }
      as[kk][mm] = v;
    }
#pragma unroll
    for (int r = 0; r < (kSimtBN * kSimtBK) / kSimtThreads; ++r) {
      const int e = tid + r * kSimtThreads;
      int nn, kk;
      if (g.trans_b) {
        nn = e / kSimtBK;
        kk = e % kSimtBK;
      } else {
        kk = e / kSimtBN;
        nn = e % kSimtBN;
      }
      const int gn = n0 + nn, gk = k0 + kk;
      float v = 0.f;
      if (gn < g.n && gk < g.k) {
        const std::size_t idx = g.trans_b ? static_cast<std::size_t>(gn) * g.ldb + gk
                                          : static_cast<std::size_t>(gk) * g.ldb + gn;
        v = LoadF(b_base, g.b_type, idx);
      }
      bs[kk][nn] = v;
    }
    __syncthreads();
#pragma unroll
    for (int kk = 0; kk < kSimtBK; ++kk) {
      float av[4], bv[4];
#pragma unroll
      for (int i = 0; i < 4; ++i) av[i] = as[kk][ty + 16 * i];
#pragma unroll
      for (int j = 0; j < 4; ++j) bv[j] = bs[kk][tx + 16 * j];
#pragma unroll
      for (int i = 0; i < 4; ++i)
#pragma unroll
        for (int j = 0; j < 4; ++j) acc[i][j] = fmaf(av[i], bv[j], acc[i][j]);
    }
    __syncthreads();
  }
  char* c_base = static_cast<char*>(g.c) + z * g.stride_c * ElemBytes(g.c_type);
#pragma unroll
  for (int i = 0; i < 4; ++i) {
    const int gm = m0 + ty + 16 * i;
    if (gm >= g.m) continue;
#pragma unroll
    for (int j = 0; j < 4; ++j) {
      const int gn = n0 + tx + 16 * j;
      if (gn >= g.n) continue;
      const std::size_t idx = static_cast<std::size_t>(gm) * g.ldc + gn;
      float v = g.alpha * acc[i][j];
      if (g.beta != 0.f) v += g.beta * LoadF(c_base, g.c_type, idx);
      StoreF(c_base, g.c_type, idx, v);
    }
  }
}

// ---- skinny (M <= 8) -------------------------------------------------------
constexpr int kSkinnyMaxM = 8, kSkinnyThreads = 256;

// One warp per output column n: dot products of the M rows of A with row n
// of B (stored [N, K]). kVec: B is 16-bit with 16-byte aligned rows, read 8
// elements per load.
template <bool kVec>
__global__ void __launch_bounds__(kSkinnyThreads) SkinnyGemmKernel(GemmArgs g) {
  const int lane = static_cast<int>(threadIdx.x) % LB_WARP_SIZE;
  const int warps = kSkinnyThreads / LB_WARP_SIZE;
  const int n = static_cast<int>(blockIdx.x) * warps + static_cast<int>(threadIdx.x) / LB_WARP_SIZE;
  if (n >= g.n) return;  // whole warp leaves together: no shuffle is skipped
  const std::size_t z = blockIdx.z;
  const char* a_base = static_cast<const char*>(g.a) + z * g.stride_a * ElemBytes(g.a_type);
  const char* b_base = static_cast<const char*>(g.b) + z * g.stride_b * ElemBytes(g.b_type);
  const std::size_t brow = static_cast<std::size_t>(n) * g.ldb;
  float acc[kSkinnyMaxM] = {};
  if constexpr (kVec) {
    const uint16_t* brow_p = reinterpret_cast<const uint16_t*>(b_base) + brow;
    const bool bf16 = g.b_type == Elem::kBF16;
    const int k_vec = (g.k / 8) * 8;
    for (int k = lane * 8; k < k_vec; k += LB_WARP_SIZE * 8) {
      const uint4 raw = *reinterpret_cast<const uint4*>(brow_p + k);
      const uint16_t* h = reinterpret_cast<const uint16_t*>(&raw);
      float w[8];
#pragma unroll
      for (int t = 0; t < 8; ++t) w[t] = bf16 ? lb_bf16_to_float(h[t]) : lb_half_to_float(h[t]);
#pragma unroll
      for (int m = 0; m < kSkinnyMaxM; ++m) {
        if (m < g.m) {
          const std::size_t arow = static_cast<std::size_t>(m) * g.lda + k;
#pragma unroll
          for (int t = 0; t < 8; ++t) acc[m] = fmaf(LoadF(a_base, g.a_type, arow + t), w[t], acc[m]);
        }
      }
    }
    for (int k = k_vec + lane; k < g.k; k += LB_WARP_SIZE) {
      const float w = LoadF(b_base, g.b_type, brow + k);
      for (int m = 0; m < g.m; ++m) acc[m] = fmaf(LoadF(a_base, g.a_type, static_cast<std::size_t>(m) * g.lda + k), w, acc[m]);
    }
  } else {
    for (int k = lane; k < g.k; k += LB_WARP_SIZE) {
      const float w = LoadF(b_base, g.b_type, brow + k);
#pragma unroll
      for (int m = 0; m < kSkinnyMaxM; ++m) {
        if (m < g.m) acc[m] = fmaf(LoadF(a_base, g.a_type, static_cast<std::size_t>(m) * g.lda + k), w, acc[m]);
      }
    }
  }
  char* c_base = static_cast<char*>(g.c) + z * g.stride_c * ElemBytes(g.c_type);
#pragma unroll
  for (int m = 0; m < kSkinnyMaxM; ++m) {
    const float s = WarpSum(acc[m]);  // every lane takes part, even for m >= M
    if (m < g.m && lane == 0) {
      const std::size_t idx = static_cast<std::size_t>(m) * g.ldc + n;
      float v = g.alpha * s;
      if (g.beta != 0.f) v += g.beta * LoadF(c_base, g.c_type, idx);
      StoreF(c_base, g.c_type, idx, v);
    }
  }
}

#if LB_HAVE_MMA
// ---- matrix-core tiles -----------------------------------------------------
constexpr int kMmaBM = 128, kMmaBN = 128, kMmaBK = 32, kMmaThreads = 256, kMmaPad = 8;
// Shared tile sizes in 16-bit elements: the larger of the two layouts.
constexpr int kMmaTileElems = kMmaBM * (kMmaBK + kMmaPad);
static_assert(kMmaBK * (kMmaBM + kMmaPad) <= kMmaTileElems, "tile layouts");

// One operand tile in flight: 512 vectors of 8 elements, 2 per thread.
// Rows of the tile run along the operand's strided dimension, columns along
// its contiguous one (so loads coalesce whatever the transposition).
struct TileRegs {
  uint4 v[2];
};

// Loads a tile whose contiguous dimension has `cols` elements (32 or 128)
// and strided dimension `rows` (128 or 32): element (r, c) of the tile is
// p[(row0 + r) * ld + col0 + c], zero outside [row_end, col_end).
__device__ __forceinline__ void LoadTile(TileRegs& t, const uint16_t* p, std::int64_t ld, int row0, int col0,
                                         int row_end, int col_end, int cols, bool vec_ok) {
  const int vpr = cols / 8;
#pragma unroll
  for (int r = 0; r < 2; ++r) {
    const int v = static_cast<int>(threadIdx.x) + r * kMmaThreads;
    const int row = row0 + v / vpr, col = col0 + (v % vpr) * 8;
    uint16_t h[8];
    if (row < row_end && vec_ok && col + 8 <= col_end) {
      t.v[r] = *reinterpret_cast<const uint4*>(p + static_cast<std::size_t>(row) * ld + col);
      continue;
    }
#pragma unroll
    for (int e = 0; e < 8; ++e) {
      h[e] = (row < row_end && col + e < col_end) ? p[static_cast<std::size_t>(row) * ld + col + e] : uint16_t{0};
    }
    t.v[r] = *reinterpret_cast<const uint4*>(h);
  }
}

// Writes the tile to shared memory with leading dimension `sld`.
__device__ __forceinline__ void StoreTile(const TileRegs& t, uint16_t* s, int sld, int cols) {
  const int vpr = cols / 8;
#pragma unroll
  for (int r = 0; r < 2; ++r) {
    const int v = static_cast<int>(threadIdx.x) + r * kMmaThreads;
    *reinterpret_cast<uint4*>(s + (v / vpr) * sld + (v % vpr) * 8) = t.v[r];
  }
}

template <bool kBf16, bool kTransA, bool kTransB>
__global__ void __launch_bounds__(kMmaThreads) MmaGemmKernel(GemmArgs g, bool a_vec, bool b_vec) {
  // A tile: (m, k); row-major [BM][BK+pad] unless A is stored transposed,
  // then [BK][BM+pad] (column-major for the fragment). Same idea for B.
  using Mma = LbMma16<kBf16, !kTransA, !kTransB>;
  __shared__ __align__(32) uint16_t as[kMmaTileElems];
  __shared__ __align__(32) uint16_t bs[kMmaTileElems];
  __shared__ __align__(32) float stage[kMmaThreads / 32][16 * 16];
  constexpr int a_cols = kTransA ? kMmaBM : kMmaBK, a_sld = a_cols + kMmaPad;
  constexpr int b_cols = kTransB ? kMmaBK : kMmaBN, b_sld = b_cols + kMmaPad;

  const int warp = static_cast<int>(threadIdx.x) / 32, lane = static_cast<int>(threadIdx.x) % 32;
  const int wm = warp / 4, wn = warp % 4;  // 2 x 4 warps, each 64 x 32
  const int m0 = static_cast<int>(blockIdx.y) * kMmaBM, n0 = static_cast<int>(blockIdx.x) * kMmaBN;
  const std::size_t z = blockIdx.z;
  const uint16_t* a = static_cast<const uint16_t*>(g.a) + z * g.stride_a;
  const uint16_t* b = static_cast<const uint16_t*>(g.b) + z * g.stride_b;

  auto load_a = [&](TileRegs& t, int k0) {
    if (kTransA) {
      LoadTile(t, a, g.lda, k0, m0, g.k, g.m, a_cols, a_vec);
    } else {
      LoadTile(t, a, g.lda, m0, k0, g.m, g.k, a_cols, a_vec);
    }
  };
  auto load_b = [&](TileRegs& t, int k0) {
    if (kTransB) {
      LoadTile(t, b, g.ldb, n0, k0, g.n, g.k, b_cols, b_vec);
    } else {
      LoadTile(t, b, g.ldb, k0, n0, g.k, g.n, b_cols, b_vec);
    }
  };

  typename Mma::FragC acc[4][2];
#pragma unroll
  for (int i = 0; i < 4; ++i)
#pragma unroll
    for (int j = 0; j < 2; ++j) Mma::Zero(acc[i][j]);

  TileRegs ra, rb;
  load_a(ra, 0);
  load_b(rb, 0);
  for (int k0 = 0; k0 < g.k; k0 += kMmaBK) {
    StoreTile(ra, as, a_sld, a_cols);
    StoreTile(rb, bs, b_sld, b_cols);
    __syncthreads();
    if (k0 + kMmaBK < g.k) {  // prefetch the next tile while this one computes
      load_a(ra, k0 + kMmaBK);
      load_b(rb, k0 + kMmaBK);
    }
#pragma unroll
    for (int kk = 0; kk < kMmaBK; kk += 16) {
      typename Mma::FragA fa[4];
      typename Mma::FragB fb[2];
#pragma unroll
      for (int i = 0; i < 4; ++i) {
        const int mm = wm * 64 + i * 16;
        Mma::LoadA(fa[i], kTransA ? as + kk * a_sld + mm : as + mm * a_sld + kk, a_sld);
      }
#pragma unroll
      for (int j = 0; j < 2; ++j) {
        const int nn = wn * 32 + j * 16;
        Mma::LoadB(fb[j], kTransB ? bs + nn * b_sld + kk : bs + kk * b_sld + nn, b_sld);
      }
#pragma unroll
      for (int i = 0; i < 4; ++i)
#pragma unroll
        for (int j = 0; j < 2; ++j) Mma::Mma(acc[i][j], fa[i], fb[j]);
    }
    __syncthreads();  // the tile is overwritten at the top of the next step
  }

  char* c = static_cast<char*>(g.c) + z * g.stride_c * ElemBytes(g.c_type);
  float* st = stage[warp];
#pragma unroll
  for (int i = 0; i < 4; ++i) {
#pragma unroll
    for (int j = 0; j < 2; ++j) {
      Mma::StoreC(st, acc[i][j], 16);
      lb_syncwarp();
#pragma unroll
      for (int t = 0; t < 8; ++t) {
        const int e = lane + 32 * t, r = e / 16, cc = e % 16;
        const int gm = m0 + wm * 64 + i * 16 + r, gn = n0 + wn * 32 + j * 16 + cc;
        if (gm < g.m && gn < g.n) {
          const std::size_t idx = static_cast<std::size_t>(gm) * g.ldc + gn;
          float v = g.alpha * st[e];
          if (g.beta != 0.f) v += g.beta * LoadF(c, g.c_type, idx);
          StoreF(c, g.c_type, idx, v);
        }
      }
      lb_syncwarp();
    }
  }
}

template <bool kBf16>
absl::Status LaunchMma(const GemmArgs& g, bool a_vec, bool b_vec, gpuStream_t s) {
  const dim3 grid(CeilDiv(g.n, kMmaBN), CeilDiv(g.m, kMmaBM), g.batch);
  if (g.trans_a) {
    if (g.trans_b) {
      MmaGemmKernel<kBf16, true, true><<<grid, kMmaThreads, 0, s>>>(g, a_vec, b_vec);
    } else {
      MmaGemmKernel<kBf16, true, false><<<grid, kMmaThreads, 0, s>>>(g, a_vec, b_vec);
    }
  } else if (g.trans_b) {
    MmaGemmKernel<kBf16, false, true><<<grid, kMmaThreads, 0, s>>>(g, a_vec, b_vec);
  } else {
    MmaGemmKernel<kBf16, false, false><<<grid, kMmaThreads, 0, s>>>(g, a_vec, b_vec);
  }
  return LaunchStatus("MmaGemmKernel");
}
#endif  // LB_HAVE_MMA

// True when every row of an operand starts 16-byte aligned.
bool Vec16(const void* p, std::int64_t ld, std::int64_t stride, int batch, Elem e) {
  const std::size_t bytes = ElemBytes(e);
  const bool strides_ok = (ld * bytes) % 16 == 0 && (batch <= 1 || (stride * bytes) % 16 == 0);
  return reinterpret_cast<std::uintptr_t>(p) % 16 == 0 && strides_ok;
}

}  // namespace

absl::Status ValidateGemm(const GemmArgs& g) {
  if (g.m < 0 || g.n < 0 || g.k < 0 || g.batch < 1) return absl::InvalidArgumentError("gemm: negative size or batch < 1");
  if (g.lda < (g.trans_a ? g.m : g.k)) return absl::InvalidArgumentError("gemm: lda smaller than a row of A");
  if (g.ldb < (g.trans_b ? g.k : g.n)) return absl::InvalidArgumentError("gemm: ldb smaller than a row of B");
  if (g.ldc < g.n) return absl::InvalidArgumentError("gemm: ldc < n");
  if (g.batch > 65535) return absl::InvalidArgumentError("gemm: batch > 65535");
  if ((g.m > 0 && g.n > 0) && (g.a == nullptr || g.b == nullptr || g.c == nullptr)) {
    return absl::InvalidArgumentError("gemm: null operand");
  }
  return absl::OkStatus();
}

absl::Status GemmSimt(const GemmArgs& g, gpuStream_t stream) {
  if (absl::Status st = ValidateGemm(g); !st.ok()) return st;
  if (g.m == 0 || g.n == 0) return absl::OkStatus();
  const dim3 grid(CeilDiv(g.n, kSimtBN), CeilDiv(g.m, kSimtBM), g.batch);
  SimtGemmKernel<<<grid, kSimtThreads, 0, stream>>>(g);
  return LaunchStatus("SimtGemmKernel");
}

absl::Status GemmPortable(const GemmArgs& g, gpuStream_t stream) {
  if (absl::Status st = ValidateGemm(g); !st.ok()) return st;
  if (g.m == 0 || g.n == 0) return absl::OkStatus();
  if (g.m <= kSkinnyMaxM && g.trans_b && !g.trans_a) {
    const dim3 grid(CeilDiv(g.n, kSkinnyThreads / LB_WARP_SIZE), 1, g.batch);
    const bool vec = g.b_type != Elem::kF32 && Vec16(g.b, g.ldb, g.stride_b, g.batch, g.b_type);
    if (vec) {
      SkinnyGemmKernel<true><<<grid, kSkinnyThreads, 0, stream>>>(g);
    } else {
      SkinnyGemmKernel<false><<<grid, kSkinnyThreads, 0, stream>>>(g);
    }
    return LaunchStatus("SkinnyGemmKernel");
  }
#if LB_HAVE_MMA
  if (g.a_type == g.b_type && g.a_type != Elem::kF32) {
    const bool a_vec = Vec16(g.a, g.lda, g.stride_a, g.batch, g.a_type);
    const bool b_vec = Vec16(g.b, g.ldb, g.stride_b, g.batch, g.b_type);
    return g.a_type == Elem::kBF16 ? LaunchMma<true>(g, a_vec, b_vec, stream)
                                   : LaunchMma<false>(g, a_vec, b_vec, stream);
  }
#endif
  return GemmSimt(g, stream);
}

}  // namespace localbench::kernels::LB_GPU_NS
