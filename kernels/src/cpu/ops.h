// The CPU reference kernels, templated on the compute type T (float in the
// backend, double in the gradient checks) and on the storage type W of
// parameter-like operands (float, double, Bf16, F16). `par` is anything with
// For(n, fn(begin, end), grain): the thread pool, or a serial runner. Every
// kernel writes each output element from exactly one index range and sums
// in a fixed order, so results do not depend on the thread count.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>
#include <vector>

#include "cpu/elements.h"

namespace localbench::kernels::cpu {

// Runs everything on the calling thread (tests, tiny sizes).
struct Serial {
  template <typename Fn>
  void For(std::int64_t n, Fn&& fn, std::int64_t /*grain*/ = 1) const {
    if (n > 0) fn(std::int64_t{0}, n);
  }
};

// A reproducible uniform value in [-scale, scale) for element i of a stream.
inline float HashUniform(std::uint64_t seed, std::uint64_t i, float scale) {
  std::uint64_t z = seed * 0x9e3779b97f4a7c15ull + i + 0x632be59bd9b4e019ull;
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
  z ^= z >> 31;
  const float unit = static_cast<float>(z >> 40) * (1.0f / 16777216.0f);  // [0, 1)
  return (2.0f * unit - 1.0f) * scale;
}

// ---- RMSNorm ------------------------------------------------------------------
template <typename T, typename W, typename Par>
void RmsNormForward(const Par& par, const T* x, const W* weight, double eps, T* out, T* rstd,
                    std::int64_t rows, std::int64_t h) {
  par.For(rows, [&](std::int64_t r0, std::int64_t r1) {
    for (std::int64_t r = r0; r < r1; ++r) {
      const T* xr = x + r * h;
      T sum = 0;
      for (std::int64_t i = 0; i < h; ++i) sum += xr[i] * xr[i];
      const T s = static_cast<T>(1.0 / std::sqrt(static_cast<double>(sum) / static_cast<double>(h) + eps));
      rstd[r] = s;
      T* o = out + r * h;
      for (std::int64_t i = 0; i < h; ++i) o[i] = xr[i] * s * static_cast<T>(Load(weight[i]));
    }
  }, 4);
}

// dx += d/dx; dweight (if non-null) += d/dweight.
template <typename T, typename W, typename G, typename Par>
void RmsNormBackward(const Par& par, const T* dout, const T* x, const W* weight, const T* rstd, T* dx,
                     G* dweight, std::int64_t rows, std::int64_t h) {
  par.For(rows, [&](std::int64_t r0, std::int64_t r1) {
    for (std::int64_t r = r0; r < r1; ++r) {
      const T* d = dout + r * h;
      const T* xr = x + r * h;
      const T s = rstd[r];
      T dot = 0;
      for (std::int64_t i = 0; i < h; ++i) dot += d[i] * static_cast<T>(Load(weight[i])) * xr[i];
      const T c = s * s * s * dot / static_cast<T>(h);
      T* o = dx + r * h;
      for (std::int64_t i = 0; i < h; ++i) o[i] += s * d[i] * static_cast<T>(Load(weight[i])) - c * xr[i];
    }
  }, 4);
  if (dweight == nullptr) return;
  par.For(h, [&](std::int64_t c0, std::int64_t c1) {
    std::vector<T> acc(static_cast<std::size_t>(c1 - c0), T(0));
    for (std::int64_t r = 0; r < rows; ++r) {
      const T* d = dout + r * h;
      const T* xr = x + r * h;
      const T s = rstd[r];
      for (std::int64_t i = c0; i < c1; ++i) acc[static_cast<std::size_t>(i - c0)] += d[i] * xr[i] * s;
    }
    for (std::int64_t i = c0; i < c1; ++i)
      Store(dweight[i], static_cast<T>(Load(dweight[i])) + acc[static_cast<std::size_t>(i - c0)]);
  }, 64);
}

// ---- RoPE (rotate-half pairing: element i pairs with i + D/2) ---------------------
template <typename T, typename Par>
void Rope(const Par& par, T* x, std::int64_t rows, std::int64_t heads, std::int64_t d,
          std::int64_t seq_len, std::int64_t offset, double theta, double direction) {
  const std::int64_t half = d / 2;
  par.For(rows, [&](std::int64_t r0, std::int64_t r1) {
    std::vector<T> cs(static_cast<std::size_t>(half)), sn(static_cast<std::size_t>(half));
    for (std::int64_t r = r0; r < r1; ++r) {
      const double pos = static_cast<double>(offset + r % seq_len);
      for (std::int64_t i = 0; i < half; ++i) {
        const double freq = std::pow(theta, -2.0 * static_cast<double>(i) / static_cast<double>(d));
        const double angle = pos * freq;
        cs[static_cast<std::size_t>(i)] = static_cast<T>(std::cos(angle));
        sn[static_cast<std::size_t>(i)] = static_cast<T>(direction * std::sin(angle));
      }
      for (std::int64_t hh = 0; hh < heads; ++hh) {
        T* v = x + (r * heads + hh) * d;
        for (std::int64_t i = 0; i < half; ++i) {
          const T a = v[i], b = v[i + half];
          const T c = cs[static_cast<std::size_t>(i)], s = sn[static_cast<std::size_t>(i)];
          v[i] = a * c - b * s;
          v[i + half] = a * s + b * c;
        }
      }
    }
  }, 1);
}

// ---- attention (causal, grouped-query) ---------------------------------------------
// q [B,T,Hq,D], k/v [B,T,Hkv,D], out [B,T,Hq,D], lse [B,Hq,T].
template <typename T, typename Par>
void AttentionForward(const Par& par, const T* q, const T* k, const T* v, T* out, T* lse,
                      std::int64_t batch, std::int64_t t_len, std::int64_t hq, std::int64_t hkv,
                      std::int64_t d) {
  const std::int64_t group = hq / hkv;
  const T scale = static_cast<T>(1.0 / std::sqrt(static_cast<double>(d)));
  par.For(batch * hq, [&](std::int64_t w0, std::int64_t w1) {
    std::vector<T> p(static_cast<std::size_t>(t_len));
    for (std::int64_t w = w0; w < w1; ++w) {
      const std::int64_t b = w / hq, h = w % hq, g = h / group;
      for (std::int64_t t = 0; t < t_len; ++t) {
        const T* qr = q + ((b * t_len + t) * hq + h) * d;
        T mx = -std::numeric_limits<T>::infinity();
        for (std::int64_t j = 0; j <= t; ++j) {
          const T* kr = k + ((b * t_len + j) * hkv + g) * d;
          T s = 0;
          for (std::int64_t i = 0; i < d; ++i) s += qr[i] * kr[i];
          s *= scale;
          p[static_cast<std::size_t>(j)] = s;
          mx = std::max(mx, s);
        }
        T sum = 0;
        for (std::int64_t j = 0; j <= t; ++j) {
          T& e = p[static_cast<std::size_t>(j)];
          e = std::exp(e - mx);
          sum += e;
        }
        T* o = out + ((b * t_len + t) * hq + h) * d;
        for (std::int64_t i = 0; i < d; ++i) o[i] = 0;
        const T inv = T(1) / sum;
        for (std::int64_t j = 0; j <= t; ++j) {
          const T pj = p[static_cast<std::size_t>(j)] * inv;
          const T* vr = v + ((b * t_len + j) * hkv + g) * d;
          for (std::int64_t i = 0; i < d; ++i) o[i] += pj * vr[i];
        }
        lse[(b * hq + h) * t_len + t] = mx + std::log(sum);
      }
    }
  }, 1);
}

// Gradients; dq, dk, dv overwritten. One task owns one (batch, kv head), so
// the accumulation into dk/dv has a fixed order.
template <typename T, typename Par>
void AttentionBackward(const Par& par, const T* q, const T* k, const T* v, const T* out, const T* lse,
                       const T* dout, T* dq, T* dk, T* dv, std::int64_t batch, std::int64_t t_len,
                       std::int64_t hq, std::int64_t hkv, std::int64_t d) {
  const std::int64_t group = hq / hkv;
  const T scale = static_cast<T>(1.0 / std::sqrt(static_cast<double>(d)));
  par.For(batch * hkv, [&](std::int64_t w0, std::int64_t w1) {
    for (std::int64_t w = w0; w < w1; ++w) {
      const std::int64_t b = w / hkv, g = w % hkv;
      for (std::int64_t t = 0; t < t_len; ++t) {
        T* dkr = dk + ((b * t_len + t) * hkv + g) * d;
        T* dvr = dv + ((b * t_len + t) * hkv + g) * d;
        for (std::int64_t i = 0; i < d; ++i) dkr[i] = dvr[i] = 0;
      }
      for (std::int64_t h = g * group; h < (g + 1) * group; ++h) {
        for (std::int64_t t = 0; t < t_len; ++t) {
          const std::int64_t row = (b * t_len + t) * hq + h;
          const T* qr = q + row * d;
          const T* dor = dout + row * d;
          const T* orow = out + row * d;
          T* dqr = dq + row * d;
          T di = 0;
          for (std::int64_t i = 0; i < d; ++i) di += dor[i] * orow[i];
          for (std::int64_t i = 0; i < d; ++i) dqr[i] = 0;
          const T l = lse[(b * hq + h) * t_len + t];
          for (std::int64_t j = 0; j <= t; ++j) {
            const T* kr = k + ((b * t_len + j) * hkv + g) * d;
            const T* vr = v + ((b * t_len + j) * hkv + g) * d;
            T s = 0, dp = 0;
            for (std::int64_t i = 0; i < d; ++i) {
              s += qr[i] * kr[i];
              dp += dor[i] * vr[i];
            }
            const T pj = std::exp(s * scale - l);
            const T ds = pj * (dp - di) * scale;
            T* dkr = dk + ((b * t_len + j) * hkv + g) * d;
            T* dvr = dv + ((b * t_len + j) * hkv + g) * d;
            for (std::int64_t i = 0; i < d; ++i) {
              dqr[i] += ds * kr[i];
              dkr[i] += ds * qr[i];
              dvr[i] += pj * dor[i];
            }
          }
        }
      }
    }
  }, 1);
}

// One query per sequence against `length` cached positions. q [B,Hq,D],
// caches [B,Tmax,Hkv,D] of W, out [B,Hq,D]. One task per (batch, kv head)
// reads each cached row once for all the query heads that share it.
template <typename T, typename W, typename Par>
void AttentionDecode(const Par& par, const T* q, const W* kc, const W* vc, T* out, std::int64_t batch,
                     std::int64_t hq, std::int64_t hkv, std::int64_t d, std::int64_t t_max,
                     std::int64_t length) {
  const std::int64_t group = hq / hkv;
  const T scale = static_cast<T>(1.0 / std::sqrt(static_cast<double>(d)));
  par.For(batch * hkv, [&](std::int64_t w0, std::int64_t w1) {
    std::vector<T> s(static_cast<std::size_t>(group * length));
    std::vector<T> row(static_cast<std::size_t>(d));
    for (std::int64_t w = w0; w < w1; ++w) {
      const std::int64_t b = w / hkv, g = w % hkv;
      for (std::int64_t j = 0; j < length; ++j) {
        const W* kr = kc + ((b * t_max + j) * hkv + g) * d;
        for (std::int64_t i = 0; i < d; ++i) row[static_cast<std::size_t>(i)] = static_cast<T>(Load(kr[i]));
        for (std::int64_t hh = 0; hh < group; ++hh) {
          const T* qr = q + (b * hq + g * group + hh) * d;
          T acc = 0;
          for (std::int64_t i = 0; i < d; ++i) acc += qr[i] * row[static_cast<std::size_t>(i)];
          s[static_cast<std::size_t>(hh * length + j)] = acc * scale;
        }
      }
      for (std::int64_t hh = 0; hh < group; ++hh) {
        T* sr = s.data() + hh * length;
        T mx = -std::numeric_limits<T>::infinity();
        for (std::int64_t j = 0; j < length; ++j) mx = std::max(mx, sr[j]);
        T sum = 0;
        for (std::int64_t j = 0; j < length; ++j) {
          sr[j] = std::exp(sr[j] - mx);
          sum += sr[j];
        }
        const T inv = T(1) / sum;
        for (std::int64_t j = 0; j < length; ++j) sr[j] *= inv;
        T* o = out + (b * hq + g * group + hh) * d;
        for (std::int64_t i = 0; i < d; ++i) o[i] = 0;
      }
      for (std::int64_t j = 0; j < length; ++j) {
        const W* vr = vc + ((b * t_max + j) * hkv + g) * d;
        for (std::int64_t i = 0; i < d; ++i) row[static_cast<std::size_t>(i)] = static_cast<T>(Load(vr[i]));
        for (std::int64_t hh = 0; hh < group; ++hh) {
          const T pj = s[static_cast<std::size_t>(hh * length + j)];
          T* o = out + (b * hq + g * group + hh) * d;
          for (std::int64_t i = 0; i < d; ++i) o[i] += pj * row[static_cast<std::size_t>(i)];
        }
      }
    }
  }, 1);
}

// ---- softmax, SwiGLU, cross-entropy, argmax ----------------------------------------
template <typename T, typename Par>
void Softmax(const Par& par, const T* x, T* out, std::int64_t rows, std::int64_t cols) {
  par.For(rows, [&](std::int64_t r0, std::int64_t r1) {
    for (std::int64_t r = r0; r < r1; ++r) {
      const T* xr = x + r * cols;
      T* o = out + r * cols;
      T mx = -std::numeric_limits<T>::infinity();
      for (std::int64_t c = 0; c < cols; ++c) mx = std::max(mx, xr[c]);
      T sum = 0;
      for (std::int64_t c = 0; c < cols; ++c) sum += (o[c] = std::exp(xr[c] - mx));
      const T inv = T(1) / sum;
      for (std::int64_t c = 0; c < cols; ++c) o[c] *= inv;
    }
  }, 1);
}

template <typename T, typename Par>
void SwiGluForward(const Par& par, const T* gate, const T* up, T* out, std::int64_t n) {
  par.For(n, [&](std::int64_t i0, std::int64_t i1) {
    for (std::int64_t i = i0; i < i1; ++i) {
      const T g = gate[i];
      out[i] = g / (T(1) + std::exp(-g)) * up[i];
    }
  }, 4096);
}

template <typename T, typename Par>
void SwiGluBackward(const Par& par, const T* dout, const T* gate, const T* up, T* dgate, T* dup,
                    std::int64_t n) {
  par.For(n, [&](std::int64_t i0, std::int64_t i1) {
    for (std::int64_t i = i0; i < i1; ++i) {
      const T g = gate[i];
      const T sig = T(1) / (T(1) + std::exp(-g));
      const T silu = g * sig;
      const T d = dout[i];
      const T u = up[i];
      dgate[i] = d * u * sig * (T(1) + g * (T(1) - sig));
      dup[i] = d * silu;
    }
  }, 4096);
}

// losses[r] = lse - logit[target]; dlogits (may alias logits, may be null)
// = scale * (softmax - onehot).
template <typename T, typename Par>
void CrossEntropy(const Par& par, const T* logits, const std::int32_t* targets, T* losses, T* dlogits,
                  T scale, std::int64_t rows, std::int64_t vocab) {
  par.For(rows, [&](std::int64_t r0, std::int64_t r1) {
    for (std::int64_t r = r0; r < r1; ++r) {
      const T* x = logits + r * vocab;
      T mx = -std::numeric_limits<T>::infinity();
      for (std::int64_t c = 0; c < vocab; ++c) mx = std::max(mx, x[c]);
      T sum = 0;
      for (std::int64_t c = 0; c < vocab; ++c) sum += std::exp(x[c] - mx);
      const T lse = mx + std::log(sum);
      const std::int64_t t = targets[r];
      losses[r] = lse - x[t];
      if (dlogits != nullptr) {
        T* g = dlogits + r * vocab;
        for (std::int64_t c = 0; c < vocab; ++c) g[c] = scale * std::exp(x[c] - lse);
        g[t] -= scale;
      }
    }
  }, 1);
}

template <typename T, typename Par>
void Argmax(const Par& par, const T* x, std::int32_t* out, std::int64_t rows, std::int64_t cols) {
  par.For(rows, [&](std::int64_t r0, std::int64_t r1) {
    for (std::int64_t r = r0; r < r1; ++r) {
      const T* xr = x + r * cols;
      std::int64_t best = 0;
      for (std::int64_t c = 1; c < cols; ++c)
        if (xr[c] > xr[best]) best = c;
      out[r] = static_cast<std::int32_t>(best);
    }
  }, 1);
}

// ---- embedding, bias ------------------------------------------------------------------
template <typename T, typename W, typename Par>
void EmbeddingForward(const Par& par, const W* table, const std::int32_t* ids, T* out, std::int64_t n,
                      std::int64_t h) {
  par.For(n, [&](std::int64_t r0, std::int64_t r1) {
    for (std::int64_t r = r0; r < r1; ++r) {
      const W* src = table + static_cast<std::int64_t>(ids[r]) * h;
      for (std::int64_t i = 0; i < h; ++i) out[r * h + i] = static_cast<T>(Load(src[i]));
    }
  }, 1);
}

// Column-split so each table element is summed in token order by one task.
template <typename T, typename W, typename Par>
void EmbeddingBackward(const Par& par, const T* dout, const std::int32_t* ids, W* dtable, std::int64_t n,
                       std::int64_t h) {
  par.For(h, [&](std::int64_t c0, std::int64_t c1) {
    for (std::int64_t r = 0; r < n; ++r) {
      W* dst = dtable + static_cast<std::int64_t>(ids[r]) * h;
      const T* src = dout + r * h;
      for (std::int64_t i = c0; i < c1; ++i) Store(dst[i], static_cast<T>(Load(dst[i])) + src[i]);
    }
  }, 16);
}

template <typename T, typename W, typename Par>
void AddBias(const Par& par, T* x, const W* bias, std::int64_t rows, std::int64_t cols) {
  par.For(rows, [&](std::int64_t r0, std::int64_t r1) {
    for (std::int64_t r = r0; r < r1; ++r)
      for (std::int64_t c = 0; c < cols; ++c) x[r * cols + c] += static_cast<T>(Load(bias[c]));
  }, 16);
}

template <typename T, typename W, typename Par>
void BiasBackward(const Par& par, const T* dout, W* dbias, std::int64_t rows, std::int64_t cols) {
  par.For(cols, [&](std::int64_t c0, std::int64_t c1) {
    for (std::int64_t c = c0; c < c1; ++c) {
      T acc = 0;
      for (std::int64_t r = 0; r < rows; ++r) acc += dout[r * cols + c];
      Store(dbias[c], static_cast<T>(Load(dbias[c])) + acc);
    }
  }, 16);
}

// ---- AdamW ----------------------------------------------------------------------------------
template <typename P, typename G, typename Par>
void AdamW(const Par& par, P* param, const G* grad, float* m, float* v, std::int64_t n, float lr,
           float beta1, float beta2, float eps, float wd, std::int64_t step) {
  const float c1 = 1.0f - static_cast<float>(std::pow(static_cast<double>(beta1), static_cast<double>(step)));
  const float c2 = 1.0f - static_cast<float>(std::pow(static_cast<double>(beta2), static_cast<double>(step)));
  par.For(n, [&](std::int64_t i0, std::int64_t i1) {
    for (std::int64_t i = i0; i < i1; ++i) {
      const float g = static_cast<float>(Load(grad[i]));
      const float mi = beta1 * m[i] + (1.0f - beta1) * g;
      const float vi = beta2 * v[i] + (1.0f - beta2) * g * g;
      m[i] = mi;
      v[i] = vi;
      const float p = static_cast<float>(Load(param[i]));
      const float update = (mi / c1) / (std::sqrt(vi / c2) + eps) + wd * p;
      Store(param[i], p - lr * update);
    }
  }, 4096);
}

}  // namespace localbench::kernels::cpu
