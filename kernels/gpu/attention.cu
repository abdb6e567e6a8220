// Causal grouped-query attention (one source for CUDA and HIP), flash-style:
// no T x T matrix is ever stored. Scores are computed one tile of keys at a
// time with an online softmax; the forward saves each row's log-sum-exp so
// the backward recomputes probabilities exactly.
//
// Work split ("lane per key, lane per dim"): within a warp each lane scores
// one key of the tile (the dot product runs over shared memory whose rows are
// padded by one float, so lanes hit different banks), then the lanes switch
// to owning head dimensions d = lane + c * warp for the P*V update. One
// warp-wide max and sum per tile instead of one reduction per key.
//
// Backward in three kernels, no extra memory:
//  1. delta_i = dO_i . O_i, parked in d_q[..., 0] (d_q is overwritten later);
//  2. dK, dV: a warp owns key rows and walks the queries that see them, over
//     every query head of its group: deterministic, no atomics;
//  3. dQ: a warp owns query rows (reads its delta first, then overwrites).
// Over 500 lines on purpose: the family's forward, three backward kernels,
// decode and the KV-cache write share tile constants and are read together.
#include <atomic>
#include <cmath>
#include <cstdint>

#include "ops.cuh"

namespace localbench::kernels::LB_GPU_NS {
namespace {

constexpr int kWarps = 4;          // warps per block
constexpr int kMaxRows = 4;        // rows per warp, at most
constexpr int kMaxDim = 256;       // largest head dim supported
constexpr int kDimSlots = kMaxDim / 32;  // dims per lane at warp width 32
constexpr int kSharedBudget = 48 * 1024;

// Keys (or queries) per tile: fits the shared-memory budget for any D.
inline int TileFor(int d) { return d <= 128 ? 32 : 16; }

// Shared-memory floats: two padded tiles of `tile` rows, two row blocks of
// kWarps * rows rows, per-warp probability rows, per-tile row scalars.
inline std::size_t SharedFloats(int d, int tile, int rows) {
  return static_cast<std::size_t>(2 * tile * (d + 1) + 2 * kWarps * rows * d + 2 * kWarps * tile + 2 * tile);
}
// Largest rows-per-warp in {4, 2, 1} that fits; 0 when none does.
inline int RowsFor(int d) {
  const int tile = TileFor(d);
  for (int r = kMaxRows; r >= 1; r /= 2) {
    if (SharedFloats(d, tile, r) * sizeof(float) <= kSharedBudget) return r;
  }
  return 0;
}

struct Shape {
  int batch, t, hq, hkv, d, tile, rows;
  float scale;
};

// delta_i = dO_i . O_i parks in the first 4 bytes of d_q's row i (element
// offset `row_elem`) as an fp32, whatever d_q's storage type, so 16-bit
// gradients lose no precision there (16-bit rows need an even D: checked
// by the launcher).
__device__ __forceinline__ float* DeltaSlot(DevBuf d_q, std::int64_t row_elem) {
  return reinterpret_cast<float*>(static_cast<char*>(d_q.p) + row_elem * static_cast<std::int64_t>(ElemBytes(d_q.e)));
}

// Element offset of (b, pos, head) in a [B, T, H, D] tensor.
__device__ __forceinline__ std::int64_t Row(int b, int pos, int head, int t, int h, int d) {
  return ((static_cast<std::int64_t>(b) * t + pos) * h + head) * d;
}

// ---- forward ----------------------------------------------------------------
__global__ void __launch_bounds__(kWarps * 64) AttnForwardKernel(DevBuf q, DevBuf k, DevBuf v, DevBuf out, float* lse,
                                                                 Shape s) {
  extern __shared__ float smem[];
  const int D = s.d, TK = s.tile, R = s.rows;
  float* ks = smem;                       // [TK][D + 1]
  float* vs = ks + TK * (D + 1);          // [TK][D + 1]
  float* qs = vs + TK * (D + 1);          // [kWarps * R][D]
  float* ps = qs + 2 * kWarps * R * D;    // [kWarps][TK]
  const int lane = static_cast<int>(threadIdx.x) % LB_WARP_SIZE;
  const int warp = static_cast<int>(threadIdx.x) / LB_WARP_SIZE;
  const int h = static_cast<int>(blockIdx.y), b = static_cast<int>(blockIdx.z);
  const int hk = h / (s.hq / s.hkv);
  const int q0 = static_cast<int>(blockIdx.x) * kWarps * R;
  const int block_rows = kWarps * R;

  for (int e = static_cast<int>(threadIdx.x); e < block_rows * D; e += static_cast<int>(blockDim.x)) {
    const int r = e / D, dd = e % D, qi = q0 + r;
    qs[e] = qi < s.t ? q.Get(Row(b, qi, h, s.t, s.hq, D) + dd) : 0.f;
  }
  float m[kMaxRows], l[kMaxRows], o[kMaxRows][kDimSlots];
#pragma unroll
  for (int r = 0; r < kMaxRows; ++r) {
    m[r] = -INFINITY;
    l[r] = 0.f;
#pragma unroll
    for (int c = 0; c < kDimSlots; ++c) o[r][c] = 0.f;
  }
  const int k_end = min(s.t, q0 + block_rows);  // causal: later keys are masked for every row
  for (int k0 = 0; k0 < k_end; k0 += TK) {
    __syncthreads();  // previous tile fully consumed (and qs written, first time)
    for (int e = static_cast<int>(threadIdx.x); e < TK * D; e += static_cast<int>(blockDim.x)) {
      const int j = e / D, dd = e % D, kj = k0 + j;
      const bool ok = kj < s.t;
      ks[j * (D + 1) + dd] = ok ? k.Get(Row(b, kj, hk, s.t, s.hkv, D) + dd) : 0.f;
      vs[j * (D + 1) + dd] = ok ? v.Get(Row(b, kj, hk, s.t, s.hkv, D) + dd) : 0.f;
    }
    __syncthreads();
#pragma unroll
    for (int r = 0; r < kMaxRows; ++r) {
      const int row = warp * R + r, qi = q0 + row;
      if (r >= R || qi >= s.t || k0 > qi) continue;  // warp-uniform
      float sc = -INFINITY;
      const int kj = k0 + lane;
      if (lane < TK && kj <= qi) {
        const float* qr = qs + row * D;
        const float* kr = ks + lane * (D + 1);
        float acc = 0.f;
        for (int dd = 0; dd < D; ++dd) acc = fmaf(qr[dd], kr[dd], acc);
        sc = acc * s.scale;
      }
      const float m_new = fmaxf(m[r], WarpMax(sc));  // finite: key k0 <= qi is in the tile
      const float p = sc == -INFINITY ? 0.f : expf(sc - m_new);
      const float alpha = expf(m[r] - m_new);         // 0 on the first tile
      l[r] = l[r] * alpha + WarpSum(p);
      m[r] = m_new;
      if (lane < TK) ps[warp * TK + lane] = p;
      lb_syncwarp();
#pragma unroll
      for (int c = 0; c < kDimSlots; ++c) {
        const int dd = lane + c * LB_WARP_SIZE;
        if (dd < D) {
          float acc = o[r][c] * alpha;
          for (int j = 0; j < TK; ++j) acc = fmaf(ps[warp * TK + j], vs[j * (D + 1) + dd], acc);
          o[r][c] = acc;
        }
      }
      lb_syncwarp();
    }
  }
#pragma unroll
  for (int r = 0; r < kMaxRows; ++r) {
    const int qi = q0 + warp * R + r;
    if (r >= R || qi >= s.t) continue;
    const float inv = 1.f / l[r];
    const std::int64_t orow = Row(b, qi, h, s.t, s.hq, D);
#pragma unroll
    for (int c = 0; c < kDimSlots; ++c) {
      const int dd = lane + c * LB_WARP_SIZE;
      if (dd < D) out.Set(orow + dd, o[r][c] * inv);
    }
    if (lane == 0) lse[(static_cast<std::int64_t>(b) * s.hq + h) * s.t + qi] = m[r] + logf(l[r]);
  }
}

// ---- backward 1: delta = rowsum(dO * O) into d_q[..., 0] --------------------
__global__ void AttnDeltaKernel(DevBuf out, DevBuf d_out, DevBuf d_q, std::int64_t rows, int d) {
  const int lane = static_cast<int>(threadIdx.x) % LB_WARP_SIZE;
  const std::int64_t row =
      static_cast<std::int64_t>(blockIdx.x) * (blockDim.x / LB_WARP_SIZE) + threadIdx.x / LB_WARP_SIZE;
  if (row >= rows) return;  // whole warp
  float acc = 0.f;
  for (int dd = lane; dd < d; dd += LB_WARP_SIZE) acc = fmaf(out.Get(row * d + dd), d_out.Get(row * d + dd), acc);
  acc = WarpSum(acc);
  if (lane == 0) *DeltaSlot(d_q, row * d) = acc;
}

// ---- backward 2: dK, dV -------------------------------------------------------
__global__ void __launch_bounds__(kWarps * 64) AttnBackwardKvKernel(DevBuf q, DevBuf k, DevBuf v, const float* lse,
                                                                    DevBuf d_out, DevBuf delta_in_dq, DevBuf d_k, DevBuf d_v,
                                                                    Shape s) {
  extern __shared__ float smem[];
  const int D = s.d, TQ = s.tile, R = s.rows;
  float* qs = smem;                      // [TQ][D + 1] queries of the tile
  float* dos = qs + TQ * (D + 1);        // [TQ][D + 1] their output gradients
  float* kb = dos + TQ * (D + 1);        // [kWarps * R][D] this block's keys
  float* vb = kb + kWarps * R * D;       // [kWarps * R][D] and values
  float* pw = vb + kWarps * R * D;       // [kWarps][TQ] probabilities
  float* dsw = pw + kWarps * TQ;         // [kWarps][TQ] score gradients
  float* lse_t = dsw + kWarps * TQ;      // [TQ]
  float* delta_t = lse_t + TQ;           // [TQ]
  const int lane = static_cast<int>(threadIdx.x) % LB_WARP_SIZE;
  const int warp = static_cast<int>(threadIdx.x) / LB_WARP_SIZE;
  const int hk = static_cast<int>(blockIdx.y), b = static_cast<int>(blockIdx.z);
  const int group = s.hq / s.hkv;
  const int block_rows = kWarps * R;
  const int k0 = static_cast<int>(blockIdx.x) * block_rows;

  for (int e = static_cast<int>(threadIdx.x); e < block_rows * D; e += static_cast<int>(blockDim.x)) {
    const int r = e / D, dd = e % D, kj = k0 + r;
    const bool ok = kj < s.t;
    kb[e] = ok ? k.Get(Row(b, kj, hk, s.t, s.hkv, D) + dd) : 0.f;
    vb[e] = ok ? v.Get(Row(b, kj, hk, s.t, s.hkv, D) + dd) : 0.f;
  }
  float dk[kMaxRows][kDimSlots], dv[kMaxRows][kDimSlots];
#pragma unroll
  for (int r = 0; r < kMaxRows; ++r)
#pragma unroll
    for (int c = 0; c < kDimSlots; ++c) dk[r][c] = dv[r][c] = 0.f;

  for (int g = 0; g < group; ++g) {
    const int h = hk * group + g;
    // Queries before k0 see none of this block's keys.
    for (int qt = (k0 / TQ) * TQ; qt < s.t; qt += TQ) {
      __syncthreads();
      for (int e = static_cast<int>(threadIdx.x); e < TQ * D; e += static_cast<int>(blockDim.x)) {
        const int i = e / D, dd = e % D, qi = qt + i;
        const bool ok = qi < s.t;
        qs[i * (D + 1) + dd] = ok ? q.Get(Row(b, qi, h, s.t, s.hq, D) + dd) : 0.f;
        dos[i * (D + 1) + dd] = ok ? d_out.Get(Row(b, qi, h, s.t, s.hq, D) + dd) : 0.f;
      }
      for (int i = static_cast<int>(threadIdx.x); i < TQ; i += static_cast<int>(blockDim.x)) {
        const int qi = qt + i;
        lse_t[i] = qi < s.t ? lse[(static_cast<std::int64_t>(b) * s.hq + h) * s.t + qi] : 0.f;
        delta_t[i] = qi < s.t ? *DeltaSlot(delta_in_dq, Row(b, qi, h, s.t, s.hq, D)) : 0.f;
      }
      __syncthreads();
#pragma unroll
      for (int r = 0; r < kMaxRows; ++r) {
        const int row = warp * R + r, kj = k0 + row;
        if (r >= R || kj >= s.t || qt + TQ <= kj) continue;  // warp-uniform: no query in the tile sees kj
        float p = 0.f, ds = 0.f;
        const int qi = qt + lane;
        if (lane < TQ && qi < s.t && qi >= kj) {
          const float* qr = qs + lane * (D + 1);
          const float* dor = dos + lane * (D + 1);
          const float* kr = kb + row * D;
          const float* vr = vb + row * D;
          float sc = 0.f, dp = 0.f;
          for (int dd = 0; dd < D; ++dd) {
            sc = fmaf(qr[dd], kr[dd], sc);
            dp = fmaf(dor[dd], vr[dd], dp);
          }
          p = expf(sc * s.scale - lse_t[lane]);
          ds = p * (dp - delta_t[lane]);
        }
        if (lane < TQ) {
          pw[warp * TQ + lane] = p;
          dsw[warp * TQ + lane] = ds;
        }
        lb_syncwarp();
#pragma unroll
        for (int c = 0; c < kDimSlots; ++c) {
          const int dd = lane + c * LB_WARP_SIZE;
          if (dd < D) {
            float av = dv[r][c], ak = dk[r][c];
            for (int i = 0; i < TQ; ++i) {
              av = fmaf(pw[warp * TQ + i], dos[i * (D + 1) + dd], av);
              ak = fmaf(dsw[warp * TQ + i], qs[i * (D + 1) + dd], ak);
            }
            dv[r][c] = av;
            dk[r][c] = ak;
          }
        }
        lb_syncwarp();
      }
    }
  }
#pragma unroll
  for (int r = 0; r < kMaxRows; ++r) {
    const int kj = k0 + warp * R + r;
    if (r >= R || kj >= s.t) continue;
    const std::int64_t base = Row(b, kj, hk, s.t, s.hkv, D);
#pragma unroll
    for (int c = 0; c < kDimSlots; ++c) {
      const int dd = lane + c * LB_WARP_SIZE;
      if (dd < D) {
        d_k.Set(base + dd, dk[r][c] * s.scale);
        d_v.Set(base + dd, dv[r][c]);
      }
    }
  }
}

// ---- backward 3: dQ -------------------------------------------------------------
__global__ void __launch_bounds__(kWarps * 64) AttnBackwardQKernel(DevBuf q, DevBuf k, DevBuf v, const float* lse,
                                                                   DevBuf d_out, DevBuf d_q, Shape s) {
  extern __shared__ float smem[];
  const int D = s.d, TK = s.tile, R = s.rows;
  float* ks = smem;                      // [TK][D + 1]
  float* vs = ks + TK * (D + 1);         // [TK][D + 1]
  float* qb = vs + TK * (D + 1);         // [kWarps * R][D]
  float* dob = qb + kWarps * R * D;      // [kWarps * R][D]
  float* dsw = dob + kWarps * R * D;     // [kWarps][TK]
  const int lane = static_cast<int>(threadIdx.x) % LB_WARP_SIZE;
  const int warp = static_cast<int>(threadIdx.x) / LB_WARP_SIZE;
  const int h = static_cast<int>(blockIdx.y), b = static_cast<int>(blockIdx.z);
  const int hk = h / (s.hq / s.hkv);
  const int block_rows = kWarps * R;
  const int q0 = static_cast<int>(blockIdx.x) * block_rows;

  for (int e = static_cast<int>(threadIdx.x); e < block_rows * D; e += static_cast<int>(blockDim.x)) {
    const int r = e / D, dd = e % D, qi = q0 + r;
    const bool ok = qi < s.t;
    qb[e] = ok ? q.Get(Row(b, qi, h, s.t, s.hq, D) + dd) : 0.f;
    dob[e] = ok ? d_out.Get(Row(b, qi, h, s.t, s.hq, D) + dd) : 0.f;
  }
  float lse_r[kMaxRows], delta_r[kMaxRows], dq[kMaxRows][kDimSlots];
#pragma unroll
  for (int r = 0; r < kMaxRows; ++r) {
    const int qi = q0 + warp * R + r;
    const bool ok = r < R && qi < s.t;
    lse_r[r] = ok ? lse[(static_cast<std::int64_t>(b) * s.hq + h) * s.t + qi] : 0.f;
    delta_r[r] = ok ? *DeltaSlot(d_q, Row(b, qi, h, s.t, s.hq, D)) : 0.f;  // parked by AttnDeltaKernel
#pragma unroll
    for (int c = 0; c < kDimSlots; ++c) dq[r][c] = 0.f;
  }
  const int k_end = min(s.t, q0 + block_rows);
  for (int k0 = 0; k0 < k_end; k0 += TK) {
    __syncthreads();
    for (int e = static_cast<int>(threadIdx.x); e < TK * D; e += static_cast<int>(blockDim.x)) {
      const int j = e / D, dd = e % D, kj = k0 + j;
      const bool ok = kj < s.t;
      ks[j * (D + 1) + dd] = ok ? k.Get(Row(b, kj, hk, s.t, s.hkv, D) + dd) : 0.f;
      vs[j * (D + 1) + dd] = ok ? v.Get(Row(b, kj, hk, s.t, s.hkv, D) + dd) : 0.f;
    }
    __syncthreads();
#pragma unroll
    for (int r = 0; r < kMaxRows; ++r) {
      const int row = warp * R + r, qi = q0 + row;
      if (r >= R || qi >= s.t || k0 > qi) continue;
      float ds = 0.f;
      const int kj = k0 + lane;
      if (lane < TK && kj <= qi) {
        const float* qr = qb + row * D;
        const float* dor = dob + row * D;
        const float* kr = ks + lane * (D + 1);
        const float* vr = vs + lane * (D + 1);
        float sc = 0.f, dp = 0.f;
        for (int dd = 0; dd < D; ++dd) {
          sc = fmaf(qr[dd], kr[dd], sc);
          dp = fmaf(dor[dd], vr[dd], dp);
        }
        const float p = expf(sc * s.scale - lse_r[r]);
        ds = p * (dp - delta_r[r]);
      }
      if (lane < TK) dsw[warp * TK + lane] = ds;
      lb_syncwarp();
#pragma unroll
      for (int c = 0; c < kDimSlots; ++c) {
        const int dd = lane + c * LB_WARP_SIZE;
        if (dd < D) {
          float acc = dq[r][c];
          for (int j = 0; j < TK; ++j) acc = fmaf(dsw[warp * TK + j], ks[j * (D + 1) + dd], acc);
          dq[r][c] = acc;
        }
      }
      lb_syncwarp();
    }
  }
#pragma unroll
  for (int r = 0; r < kMaxRows; ++r) {
    const int qi = q0 + warp * R + r;
    if (r >= R || qi >= s.t) continue;
    const std::int64_t dqr = Row(b, qi, h, s.t, s.hq, D);
#pragma unroll
    for (int c = 0; c < kDimSlots; ++c) {
      const int dd = lane + c * LB_WARP_SIZE;
      if (dd < D) d_q.Set(dqr + dd, dq[r][c] * s.scale);
    }
  }
}

// ---- decode -----------------------------------------------------------------------
constexpr int kDecodeWarps = 8;

// One block per (query head, sequence); its warps take interleaved keys with
// an online softmax each, then merge their (max, sum, output) in shared
// memory. Lanes own head dims, so cache reads coalesce along D.
__global__ void __launch_bounds__(kDecodeWarps * 64) AttnDecodeKernel(const float* q, const void* kc,
                                                                      const void* vc, Elem ce, float* out,
                                                                      int t_max, int length, int hq, int hkv,
                                                                      int d, float scale) {
  __shared__ float wm[kDecodeWarps * 2], wl[kDecodeWarps * 2];
  __shared__ float wo[kDecodeWarps * 2][kMaxDim];
  const int lane = static_cast<int>(threadIdx.x) % LB_WARP_SIZE;
  const int warp = static_cast<int>(threadIdx.x) / LB_WARP_SIZE;
  const int nwarps = static_cast<int>(blockDim.x) / LB_WARP_SIZE;
  const int h = static_cast<int>(blockIdx.x), b = static_cast<int>(blockIdx.y);
  const int hk = h / (hq / hkv);
  const float* qr = q + (static_cast<std::int64_t>(b) * hq + h) * d;
  float qv[kDimSlots], o[kDimSlots];
#pragma unroll
  for (int c = 0; c < kDimSlots; ++c) {
    const int dd = lane + c * LB_WARP_SIZE;
    qv[c] = dd < d ? qr[dd] * scale : 0.f;
    o[c] = 0.f;
  }
  float m = -INFINITY, l = 0.f;
  for (int j = warp; j < length; j += nwarps) {
    const std::int64_t base = ((static_cast<std::int64_t>(b) * t_max + j) * hkv + hk) * d;
    float part = 0.f;
#pragma unroll
    for (int c = 0; c < kDimSlots; ++c) {
      const int dd = lane + c * LB_WARP_SIZE;
      if (dd < d) part = fmaf(qv[c], LoadF(kc, ce, base + dd), part);
    }
    const float sc = WarpSum(part);
    const float m_new = fmaxf(m, sc);
    const float alpha = expf(m - m_new), p = expf(sc - m_new);
    l = l * alpha + p;
    m = m_new;
#pragma unroll
    for (int c = 0; c < kDimSlots; ++c) {
      const int dd = lane + c * LB_WARP_SIZE;
      if (dd < d) o[c] = fmaf(p, LoadF(vc, ce, base + dd), o[c] * alpha);
    }
  }
  if (lane == 0) {
    wm[warp] = m;
    wl[warp] = l;
  }
#pragma unroll
  for (int c = 0; c < kDimSlots; ++c) {
    const int dd = lane + c * LB_WARP_SIZE;
    if (dd < d) wo[warp][dd] = o[c];
  }
  __syncthreads();
  float gm = -INFINITY;
  for (int w = 0; w < nwarps; ++w) gm = fmaxf(gm, wm[w]);
  float gl = 0.f;
  for (int w = 0; w < nwarps; ++w) gl += wl[w] == 0.f ? 0.f : wl[w] * expf(wm[w] - gm);
  const float inv = 1.f / gl;
  float* orow = out + (static_cast<std::int64_t>(b) * hq + h) * d;
  for (int dd = static_cast<int>(threadIdx.x); dd < d; dd += static_cast<int>(blockDim.x)) {
    float acc = 0.f;
    for (int w = 0; w < nwarps; ++w) {
      if (wl[w] != 0.f) acc += wo[w][dd] * expf(wm[w] - gm);
    }
    orow[dd] = acc * inv;
  }
}

absl::Status CheckShape(int t, int hq, int hkv, int d) {
  if (d < 1 || d > kMaxDim) return absl::InvalidArgumentError("attention: head dim must be in [1, 256]");
  if (hkv < 1 || hq % hkv != 0) return absl::InvalidArgumentError("attention: Hq must be a multiple of Hkv");
  if (t < 0) return absl::InvalidArgumentError("attention: negative length");
  return absl::OkStatus();
}

Shape MakeShape(int batch, int t, int hq, int hkv, int d) {
  return Shape{batch, t, hq, hkv, d, TileFor(d), RowsFor(d), 1.f / sqrtf(static_cast<float>(d))};
}

// The current device's warp width. Block sizes and the row split depend on
// it exactly (a warp-64 kernel in a block sized for 32 would skip rows), so
// the host asks the runtime rather than assume; cached per device ordinal.
int WarpWidth() {
  constexpr int kMaxDevices = 64;
  static std::atomic<int> cache[kMaxDevices];
  int dev = 0;
  if (gpuGetDevice(&dev) != gpuSuccess || dev < 0 || dev >= kMaxDevices) dev = 0;
  int w = cache[dev].load(std::memory_order_relaxed);
  if (w == 0) {
    gpuDeviceProp_t prop{};
    w = gpuGetDeviceProperties(&prop, dev) == gpuSuccess && prop.warpSize > 0 ? prop.warpSize : LB_WARP_SIZE;
    cache[dev].store(w, std::memory_order_relaxed);
  }
  return w;
}

}  // namespace

absl::Status LaunchAttentionForward(DevBuf q, DevBuf k, DevBuf v, DevBuf out, float* lse,
                                    int batch, int t, int hq, int hkv, int d, gpuStream_t st) {
  if (absl::Status c = CheckShape(t, hq, hkv, d); !c.ok()) return c;
  if (batch == 0 || t == 0) return absl::OkStatus();
  const Shape s = MakeShape(batch, t, hq, hkv, d);
  const std::size_t shared = SharedFloats(d, s.tile, s.rows) * sizeof(float);
  const dim3 grid(CeilDiv(t, kWarps * s.rows), hq, batch);
  AttnForwardKernel<<<grid, kWarps * WarpWidth(), shared, st>>>(q, k, v, out, lse, s);
  return LaunchStatus("AttnForwardKernel");
}

absl::Status LaunchAttentionBackward(DevBuf q, DevBuf k, DevBuf v, DevBuf out, const float* lse, DevBuf d_out, DevBuf d_q, DevBuf d_k,
                                     DevBuf d_v, int batch, int t, int hq, int hkv, int d, gpuStream_t st) {
  if (absl::Status c = CheckShape(t, hq, hkv, d); !c.ok()) return c;
  if (ElemBytes(d_q.e) * static_cast<std::size_t>(d) % 4 != 0) {
    return absl::InvalidArgumentError("attention backward: 16-bit gradients need an even head dim");
  }
  if (batch == 0 || t == 0) return absl::OkStatus();
  const Shape s = MakeShape(batch, t, hq, hkv, d);
  const std::size_t shared = SharedFloats(d, s.tile, s.rows) * sizeof(float);
  const std::int64_t rows = static_cast<std::int64_t>(batch) * t * hq;
  const int ww = WarpWidth();
  AttnDeltaKernel<<<CeilDiv(rows, 256 / ww), 256, 0, st>>>(out, d_out, d_q, rows, d);
  if (absl::Status l = LaunchStatus("AttnDeltaKernel"); !l.ok()) return l;
  const dim3 grid_kv(CeilDiv(t, kWarps * s.rows), hkv, batch);
  AttnBackwardKvKernel<<<grid_kv, kWarps * ww, shared, st>>>(q, k, v, lse, d_out, d_q, d_k, d_v, s);
  if (absl::Status l = LaunchStatus("AttnBackwardKvKernel"); !l.ok()) return l;
  const dim3 grid_q(CeilDiv(t, kWarps * s.rows), hq, batch);
  AttnBackwardQKernel<<<grid_q, kWarps * ww, shared, st>>>(q, k, v, lse, d_out, d_q, s);
  return LaunchStatus("AttnBackwardQKernel");
}

absl::Status LaunchAttentionDecode(const float* q, const void* k_cache, const void* v_cache, Elem ce, float* out,
                                   int batch, int t_max, int length, int hq, int hkv, int d, gpuStream_t st) {
  if (absl::Status c = CheckShape(length, hq, hkv, d); !c.ok()) return c;
  if (length < 1) return absl::InvalidArgumentError("attention decode: length must be >= 1");
  if (batch == 0) return absl::OkStatus();
  const dim3 grid(hq, batch);
  AttnDecodeKernel<<<grid, kDecodeWarps * WarpWidth(), 0, st>>>(q, k_cache, v_cache, ce, out, t_max, length, hq,
                                                               hkv, d, 1.f / sqrtf(static_cast<float>(d)));
  return LaunchStatus("AttnDecodeKernel");
}

// ---- KV cache ------------------------------------------------------------------
namespace {

__global__ void KvCacheWriteKernel(const float* src, void* cache, Elem ce, std::int64_t batch, std::int64_t t,
                                   std::int64_t t_max, std::int64_t row, std::int64_t position) {
  const std::int64_t n = batch * t * row;
  for (std::int64_t i = GlobalThread(); i < n; i += GridStride()) {
    const std::int64_t e = i % row, bt = i / row, tt = bt % t, b = bt / t;
    StoreF(cache, ce, (b * t_max + position + tt) * row + e, src[i]);
  }
}

}  // namespace

absl::Status LaunchKvCacheWrite(const float* src, void* cache, Elem ce, std::int64_t batch, std::int64_t t,
                                std::int64_t t_max, std::int64_t row, std::int64_t position, gpuStream_t s) {
  const std::int64_t n = batch * t * row;
  if (n == 0) return absl::OkStatus();
  KvCacheWriteKernel<<<GridFor(n), kThreads, 0, s>>>(src, cache, ce, batch, t, t_max, row, position);
  return LaunchStatus("KvCacheWriteKernel");
}

}  // namespace localbench::kernels::LB_GPU_NS
