// The AdamW update with decoupled weight decay (CPU reference kernel).
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
