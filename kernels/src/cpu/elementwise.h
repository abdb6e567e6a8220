// Element-wise CPU kernels: the seeded uniform fill, bias add and its
// gradient. Fill, Convert, Axpy and Scale are loops in elementwise.cc.
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

// A reproducible uniform value in [-scale, scale) for element i of a stream.
inline float HashUniform(std::uint64_t seed, std::uint64_t i, float scale) {
  std::uint64_t z = seed * 0x9e3779b97f4a7c15ull + i + 0x632be59bd9b4e019ull;
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
  z ^= z >> 31;
  const float unit = static_cast<float>(z >> 40) * (1.0f / 16777216.0f);  // [0, 1)
  return (2.0f * unit - 1.0f) * scale;
}


// x of storage type X (activations: fp32, 16-bit or double).
template <typename X, typename W, typename Par>
void AddBias(const Par& par, X* x, const W* bias, std::int64_t rows, std::int64_t cols) {
  using T = ComputeOf<X>;
  par.For(rows, [&](std::int64_t r0, std::int64_t r1) {
    for (std::int64_t r = r0; r < r1; ++r)
      for (std::int64_t c = 0; c < cols; ++c) Store(x[r * cols + c], Ld<T>(x[r * cols + c]) + Ld<T>(bias[c]));
  }, 16);
}

// dout of storage type G (activation gradients).
template <typename G, typename W, typename Par>
void BiasBackward(const Par& par, const G* dout, W* dbias, std::int64_t rows, std::int64_t cols) {
  using T = ComputeOf<G>;
  par.For(cols, [&](std::int64_t c0, std::int64_t c1) {
    for (std::int64_t c = c0; c < c1; ++c) {
      T acc = 0;
      for (std::int64_t r = 0; r < rows; ++r) acc += Ld<T>(dout[r * cols + c]);
      Store(dbias[c], static_cast<T>(Load(dbias[c])) + acc);
    }
  }, 16);
}

}  // namespace localbench::kernels::cpu
