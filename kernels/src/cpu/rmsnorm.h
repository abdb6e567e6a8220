// RMSNorm forward and backward (CPU reference kernels).
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

}  // namespace localbench::kernels::cpu
