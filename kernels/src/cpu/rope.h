// Rotary position embedding, rotate-half pairing (element i pairs with
// i + D/2), as Llama and Qwen (CPU reference kernels).
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

// x of storage type X, rotated in ComputeOf<X>.
template <typename X, typename Par>
void Rope(const Par& par, X* x, std::int64_t rows, std::int64_t heads, std::int64_t d,
          std::int64_t seq_len, std::int64_t offset, double theta, double direction) {
  using T = ComputeOf<X>;
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
        X* v = x + (r * heads + hh) * d;
        for (std::int64_t i = 0; i < half; ++i) {
          const T a = Ld<T>(v[i]), b = Ld<T>(v[i + half]);
          const T c = cs[static_cast<std::size_t>(i)], s = sn[static_cast<std::size_t>(i)];
          Store(v[i], a * c - b * s);
          Store(v[i + half], a * s + b * c);
        }
      }
    }
  }, 1);
}

}  // namespace localbench::kernels::cpu
