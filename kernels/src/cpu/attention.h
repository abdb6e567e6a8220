// Causal grouped-query attention forward and backward, and single-token
// decode against a KV cache (CPU reference kernels).
//
// Templated on the compute type T (float in the backend, double in the
// gradient checks) and the storage type W of parameter-like operands; `par`
// is anything with For(n, fn(begin, end), grain) (ThreadPool, Serial). Each
// output element is written from one index range and sums run in a fixed
// order, so results do not depend on the thread count.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>
#include <vector>

#include "cpu/elements.h"

namespace localbench::kernels::cpu {

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

}  // namespace localbench::kernels::cpu
