// Causal grouped-query attention forward and backward, and single-token
// decode against a KV cache (CPU reference kernels).
//
// Templated on the compute type T (float in the backend, double in the
// gradient checks), the storage types X/G of activations and their
// gradients (16-bit in a 16-bit training run's working set) and W of
// parameter-like operands (KV caches); `par`
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

// q [B,T,Hq,D], k/v [B,T,Hkv,D], out [B,T,Hq,D] of storage type X; lse
// [B,Hq,T] in the compute type T. Each output row accumulates in T and is
// stored once.
template <typename T, typename X, typename Par>
void AttentionForward(const Par& par, const X* q, const X* k, const X* v, X* out, T* lse,
                      std::int64_t batch, std::int64_t t_len, std::int64_t hq, std::int64_t hkv,
                      std::int64_t d) {
  const std::int64_t group = hq / hkv;
  const T scale = static_cast<T>(1.0 / std::sqrt(static_cast<double>(d)));
  par.For(batch * hq, [&](std::int64_t w0, std::int64_t w1) {
    std::vector<T> p(static_cast<std::size_t>(t_len)), o(static_cast<std::size_t>(d));
    for (std::int64_t w = w0; w < w1; ++w) {
      const std::int64_t b = w / hq, h = w % hq, g = h / group;
      for (std::int64_t t = 0; t < t_len; ++t) {
        const X* qr = q + ((b * t_len + t) * hq + h) * d;
        T mx = -std::numeric_limits<T>::infinity();
        for (std::int64_t j = 0; j <= t; ++j) {
          const X* kr = k + ((b * t_len + j) * hkv + g) * d;
          T s = 0;
          for (std::int64_t i = 0; i < d; ++i) s += Ld<T>(qr[i]) * Ld<T>(kr[i]);
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
        std::fill(o.begin(), o.end(), T(0));
        const T inv = T(1) / sum;
        for (std::int64_t j = 0; j <= t; ++j) {
          const T pj = p[static_cast<std::size_t>(j)] * inv;
          const X* vr = v + ((b * t_len + j) * hkv + g) * d;
          for (std::int64_t i = 0; i < d; ++i) o[static_cast<std::size_t>(i)] += pj * Ld<T>(vr[i]);
        }
        X* orow = out + ((b * t_len + t) * hq + h) * d;
        for (std::int64_t i = 0; i < d; ++i) Store(orow[i], o[static_cast<std::size_t>(i)]);
        lse[(b * hq + h) * t_len + t] = mx + std::log(sum);
      }
    }
  }, 1);
}

// Gradients; dq, dk, dv overwritten. q, k, v, out of storage type X; dout,
// dq, dk, dv of G; lse in T. One task owns one (batch, kv head), so the
// accumulation into dk/dv (in T, stored once at the end) has a fixed order.
template <typename T, typename X, typename G, typename Par>
void AttentionBackward(const Par& par, const X* q, const X* k, const X* v, const X* out, const T* lse,
                       const G* dout, G* dq, G* dk, G* dv, std::int64_t batch, std::int64_t t_len,
                       std::int64_t hq, std::int64_t hkv, std::int64_t d) {
  const std::int64_t group = hq / hkv;
  const T scale = static_cast<T>(1.0 / std::sqrt(static_cast<double>(d)));
  par.For(batch * hkv, [&](std::int64_t w0, std::int64_t w1) {
    std::vector<T> dk_acc(static_cast<std::size_t>(t_len * d)), dv_acc(static_cast<std::size_t>(t_len * d)),
        dq_acc(static_cast<std::size_t>(d));
    for (std::int64_t w = w0; w < w1; ++w) {
      const std::int64_t b = w / hkv, g = w % hkv;
      std::fill(dk_acc.begin(), dk_acc.end(), T(0));
      std::fill(dv_acc.begin(), dv_acc.end(), T(0));
      for (std::int64_t h = g * group; h < (g + 1) * group; ++h) {
        for (std::int64_t t = 0; t < t_len; ++t) {
          const std::int64_t row = (b * t_len + t) * hq + h;
          const X* qr = q + row * d;
          const G* dor = dout + row * d;
          const X* orow = out + row * d;
          T di = 0;
          for (std::int64_t i = 0; i < d; ++i) di += Ld<T>(dor[i]) * Ld<T>(orow[i]);
          std::fill(dq_acc.begin(), dq_acc.end(), T(0));
          const T l = lse[(b * hq + h) * t_len + t];
          for (std::int64_t j = 0; j <= t; ++j) {
            const X* kr = k + ((b * t_len + j) * hkv + g) * d;
            const X* vr = v + ((b * t_len + j) * hkv + g) * d;
            T s = 0, dp = 0;
            for (std::int64_t i = 0; i < d; ++i) {
              s += Ld<T>(qr[i]) * Ld<T>(kr[i]);
              dp += Ld<T>(dor[i]) * Ld<T>(vr[i]);
            }
            const T pj = std::exp(s * scale - l);
            const T ds = pj * (dp - di) * scale;
            T* dkr = dk_acc.data() + j * d;
            T* dvr = dv_acc.data() + j * d;
            for (std::int64_t i = 0; i < d; ++i) {
              dq_acc[static_cast<std::size_t>(i)] += ds * Ld<T>(kr[i]);
              dkr[i] += ds * Ld<T>(qr[i]);
              dvr[i] += pj * Ld<T>(dor[i]);
            }
          }
          G* dqr = dq + row * d;
          for (std::int64_t i = 0; i < d; ++i) Store(dqr[i], dq_acc[static_cast<std::size_t>(i)]);
        }
      }
      for (std::int64_t t = 0; t < t_len; ++t) {
        G* dkr = dk + ((b * t_len + t) * hkv + g) * d;
        G* dvr = dv + ((b * t_len + t) * hkv + g) * d;
        for (std::int64_t i = 0; i < d; ++i) {
          Store(dkr[i], dk_acc[static_cast<std::size_t>(t * d + i)]);
          Store(dvr[i], dv_acc[static_cast<std::size_t>(t * d + i)]);
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
