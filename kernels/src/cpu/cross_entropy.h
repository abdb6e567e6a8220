// Vocabulary-row ops: softmax, cross-entropy with its gradient, argmax
// (CPU reference kernels).
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

}  // namespace localbench::kernels::cpu
