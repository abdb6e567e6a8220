// Token embedding lookup and its scatter-add gradient (CPU reference
// kernels).
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

// out of storage type X (16-bit in a 16-bit training run).
template <typename X, typename W, typename Par>
void EmbeddingForward(const Par& par, const W* table, const std::int32_t* ids, X* out, std::int64_t n,
                      std::int64_t h) {
  using T = ComputeOf<X>;
  par.For(n, [&](std::int64_t r0, std::int64_t r1) {
    for (std::int64_t r = r0; r < r1; ++r) {
      const W* src = table + static_cast<std::int64_t>(ids[r]) * h;
      for (std::int64_t i = 0; i < h; ++i) Store(out[r * h + i], Ld<T>(src[i]));
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

}  // namespace localbench::kernels::cpu
