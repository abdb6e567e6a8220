// RMSNorm forward and backward (CPU reference kernels).
//
// Templated on the compute type T (float in the backend, double in the
// gradient checks), the storage types X/G of activations and their
// gradients (16-bit in a 16-bit training run's working set) and W of
// parameter-like operands; `par`
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

// x and out of storage type X (fp32, 16-bit or double), rstd in T.
template <typename T, typename X, typename W, typename Par>
void RmsNormForward(const Par& par, const X* x, const W* weight, double eps, X* out, T* rstd,
                    std::int64_t rows, std::int64_t h) {
  par.For(rows, [&](std::int64_t r0, std::int64_t r1) {
    for (std::int64_t r = r0; r < r1; ++r) {
      const X* xr = x + r * h;
      T sum = 0;
      for (std::int64_t i = 0; i < h; ++i) sum += Ld<T>(xr[i]) * Ld<T>(xr[i]);
      const T s = static_cast<T>(1.0 / std::sqrt(static_cast<double>(sum) / static_cast<double>(h) + eps));
      rstd[r] = s;
      X* o = out + r * h;
      for (std::int64_t i = 0; i < h; ++i) Store(o[i], Ld<T>(xr[i]) * s * Ld<T>(weight[i]));
    }
  }, 4);
}

// dx += d/dx; dweight (if non-null) += d/dweight. x of storage type X,
// dout of G; dx (the residual stream's gradient) and rstd in T.
template <typename T, typename X, typename G, typename W, typename DW, typename Par>
void RmsNormBackward(const Par& par, const G* dout, const X* x, const W* weight, const T* rstd, T* dx,
                     DW* dweight, std::int64_t rows, std::int64_t h) {
  par.For(rows, [&](std::int64_t r0, std::int64_t r1) {
    for (std::int64_t r = r0; r < r1; ++r) {
      const G* d = dout + r * h;
      const X* xr = x + r * h;
      const T s = rstd[r];
      T dot = 0;
      for (std::int64_t i = 0; i < h; ++i) dot += Ld<T>(d[i]) * Ld<T>(weight[i]) * Ld<T>(xr[i]);
      const T c = s * s * s * dot / static_cast<T>(h);
      T* o = dx + r * h;
      for (std::int64_t i = 0; i < h; ++i) o[i] += s * Ld<T>(d[i]) * Ld<T>(weight[i]) - c * Ld<T>(xr[i]);
    }
  }, 4);
  if (dweight == nullptr) return;
  par.For(h, [&](std::int64_t c0, std::int64_t c1) {
    std::vector<T> acc(static_cast<std::size_t>(c1 - c0), T(0));
    for (std::int64_t r = 0; r < rows; ++r) {
      const G* d = dout + r * h;
      const X* xr = x + r * h;
      const T s = rstd[r];
      for (std::int64_t i = c0; i < c1; ++i) acc[static_cast<std::size_t>(i - c0)] += Ld<T>(d[i]) * Ld<T>(xr[i]) * s;
    }
    for (std::int64_t i = c0; i < c1; ++i)
      Store(dweight[i], static_cast<T>(Load(dweight[i])) + acc[static_cast<std::size_t>(i - c0)]);
  }, 64);
}

}  // namespace localbench::kernels::cpu
