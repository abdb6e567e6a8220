// The SwiGLU activation silu(gate) * up and its gradient (CPU reference
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

// gate, up, out of storage type X (computed in ComputeOf<X>).
template <typename X, typename Par>
void SwiGluForward(const Par& par, const X* gate, const X* up, X* out, std::int64_t n) {
  using T = ComputeOf<X>;
  par.For(n, [&](std::int64_t i0, std::int64_t i1) {
    for (std::int64_t i = i0; i < i1; ++i) {
      const T g = Ld<T>(gate[i]);
      Store(out[i], g / (T(1) + std::exp(-g)) * Ld<T>(up[i]));
    }
  }, 4096);
}

// gate, up of X; dout, dgate, dup of G.
template <typename X, typename G, typename Par>
void SwiGluBackward(const Par& par, const G* dout, const X* gate, const X* up, G* dgate, G* dup,
                    std::int64_t n) {
  using T = ComputeOf<X>;
  par.For(n, [&](std::int64_t i0, std::int64_t i1) {
    for (std::int64_t i = i0; i < i1; ++i) {
      const T g = Ld<T>(gate[i]);
      const T sig = T(1) / (T(1) + std::exp(-g));
      const T silu = g * sig;
      const T d = Ld<T>(dout[i]);
      const T u = Ld<T>(up[i]);
      Store(dgate[i], d * u * sig * (T(1) + g * (T(1) - sig)));
      Store(dup[i], d * silu);
    }
  }, 4096);
}

}  // namespace localbench::kernels::cpu
