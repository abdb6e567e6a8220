// Element-wise, normalisation, loss and optimiser kernels (one source for
// CUDA and HIP). Row operations (RMSNorm, softmax, cross-entropy, argmax) use
// one block per row with block reductions; column sums (bias and norm-weight
// gradients, embedding backward) give each thread its own columns and walk
// the rows in order, so results are deterministic and match the CPU's order.
#include <cmath>
#include <cstdint>

#include "ops.cuh"

namespace localbench::kernels::LB_GPU_NS {
namespace {

constexpr int kThreads = 256;
constexpr int kRowThreads = 256;
constexpr std::int64_t kMaxBlocks = 1 << 20;

// Blocks for a grid-stride loop over n items.
unsigned int GridFor(std::int64_t n) {
  const std::int64_t b = (n + kThreads - 1) / kThreads;
  return static_cast<unsigned int>(b < 1 ? 1 : (b > kMaxBlocks ? kMaxBlocks : b));
}

__device__ __forceinline__ std::int64_t GlobalThread() {
  return static_cast<std::int64_t>(blockIdx.x) * blockDim.x + threadIdx.x;
}
__device__ __forceinline__ std::int64_t GridStride() { return static_cast<std::int64_t>(gridDim.x) * blockDim.x; }

__global__ void FillKernel(void* x, Elem e, std::int64_t n, float value) {
  for (std::int64_t i = GlobalThread(); i < n; i += GridStride()) StoreF(x, e, i, value);
}

// SplitMix64 finaliser over (seed, index): the counter-based generator the
// CPU backend uses, so every backend fills identical weights.
__device__ __forceinline__ std::uint64_t Mix64(std::uint64_t z) {
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
  return z ^ (z >> 31);
}

__global__ void FillRandomKernel(void* x, Elem e, std::int64_t n, std::uint64_t seed, float scale) {
  for (std::int64_t i = GlobalThread(); i < n; i += GridStride()) {
    const std::uint64_t h = Mix64(seed * 0x9e3779b97f4a7c15ull + static_cast<std::uint64_t>(i) + 0x632be59bd9b4e019ull);
    // Top 24 bits -> [0, 1) exactly representable, then [-scale, scale).
    const float u = static_cast<float>(h >> 40) * (1.0f / 16777216.0f);
    StoreF(x, e, i, (2.0f * u - 1.0f) * scale);
  }
}

__global__ void ConvertKernel(const void* src, Elem se, void* dst, Elem de, std::int64_t n) {
  for (std::int64_t i = GlobalThread(); i < n; i += GridStride()) StoreF(dst, de, i, LoadF(src, se, i));
}

__global__ void Convert2dKernel(const void* src, Elem se, std::int64_t src_ld, std::int64_t col0, void* dst, Elem de,
                                std::int64_t dst_ld, std::int64_t rows, std::int64_t cols) {
  const std::int64_t n = rows * cols;
  for (std::int64_t i = GlobalThread(); i < n; i += GridStride()) {
    const std::int64_t r = i / cols, c = i % cols;
    StoreF(dst, de, r * dst_ld + c, LoadF(src, se, r * src_ld + col0 + c));
  }
}

__global__ void AxpyKernel(float alpha, const void* x, Elem xe, void* y, Elem ye, std::int64_t n) {
  for (std::int64_t i = GlobalThread(); i < n; i += GridStride()) {
    StoreF(y, ye, i, LoadF(y, ye, i) + alpha * LoadF(x, xe, i));
  }
}

__global__ void ScaleKernel(void* x, Elem e, std::int64_t n, float alpha) {
  for (std::int64_t i = GlobalThread(); i < n; i += GridStride()) StoreF(x, e, i, LoadF(x, e, i) * alpha);
}

__global__ void AddBiasKernel(float* x, const void* bias, Elem be, std::int64_t rows, std::int64_t cols) {
  const std::int64_t n = rows * cols;
  for (std::int64_t i = GlobalThread(); i < n; i += GridStride()) x[i] += LoadF(bias, be, i % cols);
}

// Column sums: a block owns 32 columns; its 8 row groups each sum a strided
// share of the rows, then the partial sums are added in row-group order.
constexpr int kColTile = 32, kRowGroups = 8;
__global__ void ColumnSumKernel(const float* d_out, const float* x, const float* rstd, void* d_bias, Elem be,
                                std::int64_t rows, std::int64_t cols) {
  __shared__ float partial[kRowGroups][kColTile];
  const int tc = static_cast<int>(threadIdx.x) % kColTile, tr = static_cast<int>(threadIdx.x) / kColTile;
  const std::int64_t c = static_cast<std::int64_t>(blockIdx.x) * kColTile + tc;
  float acc = 0.f;
  if (c < cols) {
    for (std::int64_t r = tr; r < rows; r += kRowGroups) {
      const std::int64_t i = r * cols + c;
      acc += x != nullptr ? d_out[i] * x[i] * rstd[r] : d_out[i];
    }
  }
  partial[tr][tc] = acc;
  __syncthreads();
  if (tr == 0 && c < cols) {
    float total = 0.f;
    for (int g = 0; g < kRowGroups; ++g) total += partial[g][tc];
    StoreF(d_bias, be, c, LoadF(d_bias, be, c) + total);
  }
}

__global__ void EmbeddingForwardKernel(const void* table, Elem te, std::int64_t vocab, const std::int32_t* ids,
                                       float* out, std::int64_t rows, std::int64_t hidden) {
  const std::int64_t n = rows * hidden;
  for (std::int64_t i = GlobalThread(); i < n; i += GridStride()) {
    const std::int64_t r = i / hidden, h = i % hidden;
    const std::int32_t id = ids[r];
    if (id < 0 || id >= vocab) lb_trap();
    out[i] = LoadF(table, te, static_cast<std::int64_t>(id) * hidden + h);
  }
}

// One thread per column walks the tokens in order: repeated ids add in the
// same order as the CPU (deterministic, no atomics).
__global__ void EmbeddingBackwardKernel(const float* d_out, const std::int32_t* ids, void* d_table, Elem te,
                                        std::int64_t vocab, std::int64_t rows, std::int64_t hidden) {
  const std::int64_t h = GlobalThread();
  if (h >= hidden) return;
  for (std::int64_t r = 0; r < rows; ++r) {
    const std::int32_t id = ids[r];
    if (id < 0 || id >= vocab) lb_trap();
    const std::int64_t i = static_cast<std::int64_t>(id) * hidden + h;
    StoreF(d_table, te, i, LoadF(d_table, te, i) + d_out[r * hidden + h]);
  }
}

__global__ void RmsNormForwardKernel(const float* x, const void* w, Elem we, float eps, float* out, float* rstd,
                                     std::int64_t hidden) {
  __shared__ float scratch[kMaxWarpsPerBlock];
  const std::int64_t row = blockIdx.x;
  const float* xr = x + row * hidden;
  float ss = 0.f;
  for (std::int64_t h = threadIdx.x; h < hidden; h += blockDim.x) ss += xr[h] * xr[h];
  ss = BlockSum(ss, scratch);
  const float r = rsqrtf(ss / static_cast<float>(hidden) + eps);
  if (threadIdx.x == 0) rstd[row] = r;
  float* orow = out + row * hidden;
  for (std::int64_t h = threadIdx.x; h < hidden; h += blockDim.x) orow[h] = xr[h] * r * LoadF(w, we, h);
}

__global__ void RmsNormBackwardXKernel(const float* d_out, const float* x, const void* w, Elem we,
                                       const float* rstd, float* d_x, std::int64_t hidden) {
  __shared__ float scratch[kMaxWarpsPerBlock];
  const std::int64_t row = blockIdx.x;
  const float* xr = x + row * hidden;
  const float* dyr = d_out + row * hidden;
  float dot = 0.f;  // sum_j d_out_j * w_j * x_j
  for (std::int64_t h = threadIdx.x; h < hidden; h += blockDim.x) dot += dyr[h] * LoadF(w, we, h) * xr[h];
  dot = BlockSum(dot, scratch);
  const float r = rstd[row];
  const float coef = r * r * dot / static_cast<float>(hidden);
  float* dxr = d_x + row * hidden;
  for (std::int64_t h = threadIdx.x; h < hidden; h += blockDim.x) {
    dxr[h] += r * (dyr[h] * LoadF(w, we, h) - xr[h] * coef);
  }
}

// One thread per (row, head, pair i < D/2): rotates (x[i], x[i + D/2]).
// The angle is formed in double and reduced modulo 2*pi before the fp32
// sine/cosine, so long positions keep full precision.
__global__ void RopeKernel(float* x, std::int64_t rows, std::int64_t heads, std::int64_t dim, std::int64_t seq_len,
                           std::int64_t position_offset, float theta, float sign) {
  const std::int64_t half = dim / 2;
  const std::int64_t n = rows * heads * half;
  for (std::int64_t idx = GlobalThread(); idx < n; idx += GridStride()) {
    const std::int64_t i = idx % half;
    const std::int64_t rh = idx / half;  // row * heads + head
    const std::int64_t row = rh / heads;
    const std::int64_t pos = position_offset + row % seq_len;
    const double inv_freq = pow(static_cast<double>(theta), -2.0 * static_cast<double>(i) / static_cast<double>(dim));
    const double angle = fmod(static_cast<double>(pos) * inv_freq, 6.283185307179586476925286766559);
    float sn, cs;
    sincosf(static_cast<float>(angle), &sn, &cs);
    sn *= sign;
    float* base = x + rh * dim;
    const float x1 = base[i], x2 = base[i + half];
    base[i] = x1 * cs - x2 * sn;
    base[i + half] = x2 * cs + x1 * sn;
  }
}

__device__ __forceinline__ float Sigmoid(float g) { return 1.f / (1.f + expf(-g)); }

__global__ void SwiGluForwardKernel(const float* gate, const float* up, float* out, std::int64_t n) {
  for (std::int64_t i = GlobalThread(); i < n; i += GridStride()) {
    const float g = gate[i];
    out[i] = g * Sigmoid(g) * up[i];
  }
}

__global__ void SwiGluBackwardKernel(const float* d_out, const float* gate, const float* up, float* d_gate,
                                     float* d_up, std::int64_t n) {
  for (std::int64_t i = GlobalThread(); i < n; i += GridStride()) {
    const float g = gate[i], u = up[i], dy = d_out[i];
    const float sg = Sigmoid(g);
    const float silu = g * sg;
    d_gate[i] = dy * u * sg * (1.f + g * (1.f - sg));
    d_up[i] = dy * silu;
  }
}

__global__ void SoftmaxKernel(const float* x, float* out, std::int64_t cols) {
  __shared__ float scratch[kMaxWarpsPerBlock];
  const float* xr = x + static_cast<std::int64_t>(blockIdx.x) * cols;
  float* orow = out + static_cast<std::int64_t>(blockIdx.x) * cols;
  float m = -INFINITY;
  for (std::int64_t c = threadIdx.x; c < cols; c += blockDim.x) m = fmaxf(m, xr[c]);
  m = BlockMax(m, scratch);
  float sum = 0.f;
  for (std::int64_t c = threadIdx.x; c < cols; c += blockDim.x) sum += expf(xr[c] - m);
  sum = BlockSum(sum, scratch);
  const float inv = 1.f / sum;
  for (std::int64_t c = threadIdx.x; c < cols; c += blockDim.x) orow[c] = expf(xr[c] - m) * inv;
}

constexpr int kCeThreads = 1024;
__global__ void __launch_bounds__(kCeThreads) CrossEntropyKernel(const float* logits, const std::int32_t* targets,
                                                                 float* losses, float* d_logits, float grad_scale,
                                                                 std::int64_t vocab) {
  __shared__ float scratch[kMaxWarpsPerBlock];
  const std::int64_t row = blockIdx.x;
  const float* xr = logits + row * vocab;
  const std::int32_t t = targets[row];
  if (t < 0 || t >= vocab) lb_trap();
  const float x_t = xr[t];  // read before an in-place gradient overwrites it
  float m = -INFINITY;
  for (std::int64_t c = threadIdx.x; c < vocab; c += blockDim.x) m = fmaxf(m, xr[c]);
  m = BlockMax(m, scratch);
  float sum = 0.f;
  for (std::int64_t c = threadIdx.x; c < vocab; c += blockDim.x) sum += expf(xr[c] - m);
  sum = BlockSum(sum, scratch);  // also a barrier: every thread has read x_t
  const float lse = m + logf(sum);
  if (threadIdx.x == 0) losses[row] = lse - x_t;
  if (d_logits != nullptr) {
    float* dr = d_logits + row * vocab;
    for (std::int64_t c = threadIdx.x; c < vocab; c += blockDim.x) {
      const float p = expf(xr[c] - lse);
      dr[c] = grad_scale * (p - (c == t ? 1.f : 0.f));
    }
  }
}

// (value, index) maximum with the lowest index winning ties.
__device__ __forceinline__ void ArgmaxMerge(float& v, int& i, float ov, int oi) {
  if (ov > v || (ov == v && oi < i)) {
    v = ov;
    i = oi;
  }
}

__global__ void ArgmaxKernel(const float* x, std::int32_t* out, std::int64_t cols) {
  __shared__ float sv[kMaxWarpsPerBlock];
  __shared__ int si[kMaxWarpsPerBlock];
  const float* xr = x + static_cast<std::int64_t>(blockIdx.x) * cols;
  float best = -INFINITY;
  int idx = 0x7fffffff;
  for (std::int64_t c = threadIdx.x; c < cols; c += blockDim.x) ArgmaxMerge(best, idx, xr[c], static_cast<int>(c));
#pragma unroll
  for (int m = LB_WARP_SIZE / 2; m > 0; m >>= 1) {
    const float ov = lb_shfl_xor(best, m);
    const int oi = lb_shfl_xor(idx, m);
    ArgmaxMerge(best, idx, ov, oi);
  }
  const int lane = static_cast<int>(threadIdx.x) % LB_WARP_SIZE, warp = static_cast<int>(threadIdx.x) / LB_WARP_SIZE;
  if (lane == 0) {
    sv[warp] = best;
    si[warp] = idx;
  }
  __syncthreads();
  if (threadIdx.x == 0) {
    const int nwarps = (static_cast<int>(blockDim.x) + LB_WARP_SIZE - 1) / LB_WARP_SIZE;
    float b = sv[0];
    int bi = si[0];
    for (int w = 1; w < nwarps; ++w) ArgmaxMerge(b, bi, sv[w], si[w]);
    // A row of NaNs (or -inf only) still names a valid index.
    out[blockIdx.x] = bi == 0x7fffffff ? 0 : bi;
  }
}

__global__ void AdamWKernel(void* param, Elem pe, const void* grad, Elem ge, float* m, float* v, std::int64_t n,
                            float lr, float beta1, float beta2, float eps, float wd, float c1, float c2) {
  for (std::int64_t i = GlobalThread(); i < n; i += GridStride()) {
    const float g = LoadF(grad, ge, i);
    const float mi = beta1 * m[i] + (1.f - beta1) * g;
    const float vi = beta2 * v[i] + (1.f - beta2) * g * g;
    m[i] = mi;
    v[i] = vi;
    const float p = LoadF(param, pe, i);
    const float update = (mi / c1) / (sqrtf(vi / c2) + eps) + wd * p;
    StoreF(param, pe, i, p - lr * update);
  }
}

__global__ void KvCacheWriteKernel(const float* src, void* cache, Elem ce, std::int64_t batch, std::int64_t t,
                                   std::int64_t t_max, std::int64_t row, std::int64_t position) {
  const std::int64_t n = batch * t * row;
  for (std::int64_t i = GlobalThread(); i < n; i += GridStride()) {
    const std::int64_t e = i % row, bt = i / row, tt = bt % t, b = bt / t;
    StoreF(cache, ce, (b * t_max + position + tt) * row + e, src[i]);
  }
}

// 16-byte loads and stores, four in flight per thread.
__global__ void CopyKernel(uint4* dst, const uint4* src, std::int64_t n) {
  const std::int64_t stride = GridStride();
  std::int64_t i = GlobalThread();
  for (; i + 3 * stride < n; i += 4 * stride) {
    const uint4 a = src[i], b = src[i + stride], c = src[i + 2 * stride], d = src[i + 3 * stride];
    dst[i] = a;
    dst[i + stride] = b;
    dst[i + 2 * stride] = c;
    dst[i + 3 * stride] = d;
  }
  for (; i < n; i += stride) dst[i] = src[i];
}

}  // namespace

absl::Status LaunchFill(void* x, Elem e, std::int64_t n, float value, gpuStream_t s) {
  if (n == 0) return absl::OkStatus();
  FillKernel<<<GridFor(n), kThreads, 0, s>>>(x, e, n, value);
  return LaunchStatus("FillKernel");
}

absl::Status LaunchFillRandomUniform(void* x, Elem e, std::int64_t n, std::uint64_t seed, float scale,
                                     gpuStream_t s) {
  if (n == 0) return absl::OkStatus();
  FillRandomKernel<<<GridFor(n), kThreads, 0, s>>>(x, e, n, seed, scale);
  return LaunchStatus("FillRandomKernel");
}

absl::Status LaunchConvert(const void* src, Elem se, void* dst, Elem de, std::int64_t n, gpuStream_t s) {
  if (n == 0) return absl::OkStatus();
  ConvertKernel<<<GridFor(n), kThreads, 0, s>>>(src, se, dst, de, n);
  return LaunchStatus("ConvertKernel");
}

absl::Status LaunchConvert2d(const void* src, Elem se, std::int64_t src_ld, std::int64_t col0, void* dst, Elem de,
                             std::int64_t dst_ld, std::int64_t rows, std::int64_t cols, gpuStream_t s) {
  if (rows * cols == 0) return absl::OkStatus();
  Convert2dKernel<<<GridFor(rows * cols), kThreads, 0, s>>>(src, se, src_ld, col0, dst, de, dst_ld, rows, cols);
  return LaunchStatus("Convert2dKernel");
}

absl::Status LaunchAxpy(float alpha, const void* x, Elem xe, void* y, Elem ye, std::int64_t n, gpuStream_t s) {
  if (n == 0) return absl::OkStatus();
  AxpyKernel<<<GridFor(n), kThreads, 0, s>>>(alpha, x, xe, y, ye, n);
  return LaunchStatus("AxpyKernel");
}

absl::Status LaunchScale(void* x, Elem e, std::int64_t n, float alpha, gpuStream_t s) {
  if (n == 0) return absl::OkStatus();
  ScaleKernel<<<GridFor(n), kThreads, 0, s>>>(x, e, n, alpha);
  return LaunchStatus("ScaleKernel");
}

absl::Status LaunchAddBias(float* x, const void* bias, Elem be, std::int64_t rows, std::int64_t cols,
                           gpuStream_t s) {
  if (rows * cols == 0) return absl::OkStatus();
  AddBiasKernel<<<GridFor(rows * cols), kThreads, 0, s>>>(x, bias, be, rows, cols);
  return LaunchStatus("AddBiasKernel");
}

absl::Status LaunchColumnSum(const float* d_out, const float* x, const float* rstd, void* d_bias, Elem be,
                             std::int64_t rows, std::int64_t cols, gpuStream_t s) {
  if (cols == 0) return absl::OkStatus();
  ColumnSumKernel<<<CeilDiv(cols, kColTile), kColTile * kRowGroups, 0, s>>>(d_out, x, rstd, d_bias, be, rows,
                                                                           cols);
  return LaunchStatus("ColumnSumKernel");
}

absl::Status LaunchEmbeddingForward(const void* table, Elem te, std::int64_t vocab, const std::int32_t* ids,
                                    float* out, std::int64_t rows, std::int64_t hidden, gpuStream_t s) {
  if (rows * hidden == 0) return absl::OkStatus();
  EmbeddingForwardKernel<<<GridFor(rows * hidden), kThreads, 0, s>>>(table, te, vocab, ids, out, rows, hidden);
  return LaunchStatus("EmbeddingForwardKernel");
}

absl::Status LaunchEmbeddingBackward(const float* d_out, const std::int32_t* ids, void* d_table, Elem te,
                                     std::int64_t vocab, std::int64_t rows, std::int64_t hidden, gpuStream_t s) {
  if (rows * hidden == 0) return absl::OkStatus();
  EmbeddingBackwardKernel<<<CeilDiv(hidden, kThreads), kThreads, 0, s>>>(d_out, ids, d_table, te, vocab, rows,
                                                                        hidden);
  return LaunchStatus("EmbeddingBackwardKernel");
}

absl::Status LaunchRmsNormForward(const float* x, const void* w, Elem we, float eps, float* out, float* rstd,
                                  std::int64_t rows, std::int64_t hidden, gpuStream_t s) {
  if (rows == 0) return absl::OkStatus();
  RmsNormForwardKernel<<<static_cast<unsigned int>(rows), kRowThreads, 0, s>>>(x, w, we, eps, out, rstd, hidden);
  return LaunchStatus("RmsNormForwardKernel");
}

absl::Status LaunchRmsNormBackwardX(const float* d_out, const float* x, const void* w, Elem we,
                                    const float* rstd, float* d_x, std::int64_t rows, std::int64_t hidden,
                                    gpuStream_t s) {
  if (rows == 0) return absl::OkStatus();
  RmsNormBackwardXKernel<<<static_cast<unsigned int>(rows), kRowThreads, 0, s>>>(d_out, x, w, we, rstd, d_x,
                                                                                 hidden);
  return LaunchStatus("RmsNormBackwardXKernel");
}

absl::Status LaunchRope(float* x, std::int64_t rows, std::int64_t heads, std::int64_t dim, std::int64_t seq_len,
                        std::int64_t position_offset, float theta, float sign, gpuStream_t s) {
  const std::int64_t n = rows * heads * (dim / 2);
  if (n == 0) return absl::OkStatus();
  RopeKernel<<<GridFor(n), kThreads, 0, s>>>(x, rows, heads, dim, seq_len, position_offset, theta, sign);
  return LaunchStatus("RopeKernel");
}

absl::Status LaunchSwiGluForward(const float* gate, const float* up, float* out, std::int64_t n, gpuStream_t s) {
  if (n == 0) return absl::OkStatus();
  SwiGluForwardKernel<<<GridFor(n), kThreads, 0, s>>>(gate, up, out, n);
  return LaunchStatus("SwiGluForwardKernel");
}

absl::Status LaunchSwiGluBackward(const float* d_out, const float* gate, const float* up, float* d_gate,
                                  float* d_up, std::int64_t n, gpuStream_t s) {
  if (n == 0) return absl::OkStatus();
  SwiGluBackwardKernel<<<GridFor(n), kThreads, 0, s>>>(d_out, gate, up, d_gate, d_up, n);
  return LaunchStatus("SwiGluBackwardKernel");
}

absl::Status LaunchSoftmax(const float* x, float* out, std::int64_t rows, std::int64_t cols, gpuStream_t s) {
  if (rows == 0 || cols == 0) return absl::OkStatus();
  SoftmaxKernel<<<static_cast<unsigned int>(rows), kRowThreads, 0, s>>>(x, out, cols);
  return LaunchStatus("SoftmaxKernel");
}

absl::Status LaunchCrossEntropy(const float* logits, const std::int32_t* targets, float* losses, float* d_logits,
                                float grad_scale, std::int64_t rows, std::int64_t vocab, gpuStream_t s) {
  if (rows == 0) return absl::OkStatus();
  CrossEntropyKernel<<<static_cast<unsigned int>(rows), kCeThreads, 0, s>>>(logits, targets, losses, d_logits,
                                                                            grad_scale, vocab);
  return LaunchStatus("CrossEntropyKernel");
}

absl::Status LaunchArgmax(const float* x, std::int32_t* out, std::int64_t rows, std::int64_t cols, gpuStream_t s) {
  if (rows == 0) return absl::OkStatus();
  ArgmaxKernel<<<static_cast<unsigned int>(rows), kCeThreads, 0, s>>>(x, out, cols);
  return LaunchStatus("ArgmaxKernel");
}

absl::Status LaunchAdamW(void* param, Elem pe, const void* grad, Elem ge, float* m, float* v, std::int64_t n,
                         float lr, float beta1, float beta2, float eps, float weight_decay, float c1, float c2,
                         gpuStream_t s) {
  if (n == 0) return absl::OkStatus();
  AdamWKernel<<<GridFor(n), kThreads, 0, s>>>(param, pe, grad, ge, m, v, n, lr, beta1, beta2, eps, weight_decay, c1,
                                              c2);
  return LaunchStatus("AdamWKernel");
}

absl::Status LaunchKvCacheWrite(const float* src, void* cache, Elem ce, std::int64_t batch, std::int64_t t,
                                std::int64_t t_max, std::int64_t row, std::int64_t position, gpuStream_t s) {
  const std::int64_t n = batch * t * row;
  if (n == 0) return absl::OkStatus();
  KvCacheWriteKernel<<<GridFor(n), kThreads, 0, s>>>(src, cache, ce, batch, t, t_max, row, position);
  return LaunchStatus("KvCacheWriteKernel");
}

absl::Status LaunchCopy(void* dst, const void* src, std::uint64_t bytes, int sm_count, gpuStream_t s) {
  const std::int64_t n = static_cast<std::int64_t>(bytes / 16);
  if (n == 0) return absl::OkStatus();
  // Enough resident blocks to saturate memory, few enough that each thread
  // streams several vectors.
  std::int64_t blocks = static_cast<std::int64_t>(sm_count > 0 ? sm_count : 1) * 8;
  const std::int64_t needed = (n + kThreads - 1) / kThreads;
  if (blocks > needed) blocks = needed;
  CopyKernel<<<static_cast<unsigned int>(blocks), kThreads, 0, s>>>(static_cast<uint4*>(dst),
                                                                    static_cast<const uint4*>(src), n);
  return LaunchStatus("CopyKernel");
}

}  // namespace localbench::kernels::LB_GPU_NS
