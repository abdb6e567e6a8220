// Finite-difference gradient checks of every backward kernel, in double
// precision: the templated CPU kernels instantiated with T = double, so the
// check measures the math, not fp32 noise. Loss = sum(out * r) for a fixed
// random r; analytic gradients come from the backward with d_out = r.
#include <cmath>
#include <cstdint>
#include <functional>
#include <random>
#include <vector>

#include <gtest/gtest.h>

#include "cpu/ops.h"

namespace localbench::kernels::cpu {
namespace {

using Vec = std::vector<double>;
const Serial kSerial;

Vec Random(std::size_t n, std::uint32_t seed, double scale = 1.0) {
  std::mt19937 gen(seed);
  std::uniform_real_distribution<double> dist(-scale, scale);
  Vec v(n);
  for (double& x : v) x = dist(gen);
  return v;
}

double Dot(const Vec& a, const Vec& b) {
  double s = 0;
  for (std::size_t i = 0; i < a.size(); ++i) s += a[i] * b[i];
  return s;
}

// Checks analytic[i] == d loss / d x[i] by central differences.
void ExpectGradient(Vec& x, const Vec& analytic, const std::function<double()>& loss, const char* what) {
  ASSERT_EQ(x.size(), analytic.size());
  const double h = 1e-6;
  double worst = 0;
  for (std::size_t i = 0; i < x.size(); ++i) {
    const double saved = x[i];
    x[i] = saved + h;
    const double up = loss();
    x[i] = saved - h;
    const double down = loss();
    x[i] = saved;
    const double numeric = (up - down) / (2 * h);
    const double err = std::fabs(numeric - analytic[i]) / std::max(1.0, std::fabs(numeric));
    worst = std::max(worst, err);
  }
  EXPECT_LT(worst, 1e-7) << what;
}

TEST(GradCheck, RmsNorm) {
  const std::int64_t rows = 3, h = 7;
  Vec x = Random(rows * h, 1), w = Random(h, 2), r = Random(rows * h, 3);
  const double eps = 1e-5;
  auto loss = [&] {
    Vec out(rows * h), rstd(rows);
    RmsNormForward(kSerial, x.data(), w.data(), eps, out.data(), rstd.data(), rows, h);
    return Dot(out, r);
  };
  Vec out(rows * h), rstd(rows), dx(rows * h, 0.5), dw(h, 0.25);
  RmsNormForward(kSerial, x.data(), w.data(), eps, out.data(), rstd.data(), rows, h);
  RmsNormBackward(kSerial, r.data(), x.data(), w.data(), rstd.data(), dx.data(), dw.data(), rows, h);
  // The backward accumulates: remove the initial values.
  for (double& v : dx) v -= 0.5;
  for (double& v : dw) v -= 0.25;
  ExpectGradient(x, dx, loss, "d_x");
  ExpectGradient(w, dw, loss, "d_weight");
}

TEST(GradCheck, Rope) {
  const std::int64_t rows = 6, heads = 2, d = 8, seq = 3;
  Vec x = Random(rows * heads * d, 4), r = Random(rows * heads * d, 5);
  auto loss = [&] {
    Vec y = x;
    Rope(kSerial, y.data(), rows, heads, d, seq, 5, 10000.0, 1.0);
    return Dot(y, r);
  };
  Vec dx = r;
  Rope(kSerial, dx.data(), rows, heads, d, seq, 5, 10000.0, -1.0);
  ExpectGradient(x, dx, loss, "d_x");
}

TEST(GradCheck, AttentionGroupedQuery) {
  const std::int64_t b = 2, t = 4, hq = 4, hkv = 2, d = 4;
  Vec q = Random(b * t * hq * d, 6), k = Random(b * t * hkv * d, 7), v = Random(b * t * hkv * d, 8);
  Vec r = Random(b * t * hq * d, 9);
  auto loss = [&] {
    Vec out(q.size()), lse(b * hq * t);
    AttentionForward(kSerial, q.data(), k.data(), v.data(), out.data(), lse.data(), b, t, hq, hkv, d);
    return Dot(out, r);
  };
  Vec out(q.size()), lse(b * hq * t), dq(q.size()), dk(k.size()), dv(v.size());
  AttentionForward(kSerial, q.data(), k.data(), v.data(), out.data(), lse.data(), b, t, hq, hkv, d);
  AttentionBackward(kSerial, q.data(), k.data(), v.data(), out.data(), lse.data(), r.data(), dq.data(), dk.data(),
                    dv.data(), b, t, hq, hkv, d);
  ExpectGradient(q, dq, loss, "d_q");
  ExpectGradient(k, dk, loss, "d_k");
  ExpectGradient(v, dv, loss, "d_v");
}

TEST(GradCheck, SwiGlu) {
  const std::int64_t n = 20;
  Vec g = Random(n, 10, 3.0), u = Random(n, 11), r = Random(n, 12);
  auto loss = [&] {
    Vec out(n);
    SwiGluForward(kSerial, g.data(), u.data(), out.data(), n);
    return Dot(out, r);
  };
  Vec dg(n), du(n);
  SwiGluBackward(kSerial, r.data(), g.data(), u.data(), dg.data(), du.data(), n);
  ExpectGradient(g, dg, loss, "d_gate");
  ExpectGradient(u, du, loss, "d_up");
}

TEST(GradCheck, CrossEntropy) {
  const std::int64_t rows = 3, vocab = 11;
  Vec logits = Random(rows * vocab, 13, 4.0);
  const std::vector<std::int32_t> targets = {0, 7, 10};
  const double scale = 1.0 / 3.0;
  auto loss = [&] {
    Vec losses(rows);
    CrossEntropy(kSerial, logits.data(), targets.data(), losses.data(), static_cast<double*>(nullptr), scale, rows,
                 vocab);
    return scale * (losses[0] + losses[1] + losses[2]);
  };
  Vec losses(rows), grad(rows * vocab);
  CrossEntropy(kSerial, logits.data(), targets.data(), losses.data(), grad.data(), scale, rows, vocab);
  ExpectGradient(logits, grad, loss, "d_logits");
}

TEST(GradCheck, EmbeddingAndBias) {
  const std::int64_t vocab = 5, h = 3, n = 6;
  const std::vector<std::int32_t> ids = {1, 4, 1, 0, 4, 4};
  Vec table = Random(vocab * h, 14), r = Random(n * h, 15), bias = Random(h, 16);
  auto loss = [&] {
    Vec out(n * h);
    EmbeddingForward(kSerial, table.data(), ids.data(), out.data(), n, h);
    AddBias(kSerial, out.data(), bias.data(), n, h);
    return Dot(out, r);
  };
  Vec dtable(vocab * h, 0.0), dbias(h, 0.0);
  EmbeddingBackward(kSerial, r.data(), ids.data(), dtable.data(), n, h);
  BiasBackward(kSerial, r.data(), dbias.data(), n, h);
  ExpectGradient(table, dtable, loss, "d_table");
  ExpectGradient(bias, dbias, loss, "d_bias");
}

// The decode kernel against the prefill kernel in double: the last query
// row attending over the whole cache must give the same output.
TEST(GradCheck, DecodeMatchesPrefillInDouble) {
  const std::int64_t b = 2, t = 5, hq = 6, hkv = 2, d = 4;
  Vec q = Random(b * t * hq * d, 17), k = Random(b * t * hkv * d, 18), v = Random(b * t * hkv * d, 19);
  Vec out(q.size()), lse(b * hq * t);
  AttentionForward(kSerial, q.data(), k.data(), v.data(), out.data(), lse.data(), b, t, hq, hkv, d);
  Vec q_last(b * hq * d), dec(b * hq * d);
  for (std::int64_t bb = 0; bb < b; ++bb)
    for (std::int64_t i = 0; i < hq * d; ++i) q_last[bb * hq * d + i] = q[((bb * t + t - 1) * hq) * d + i];
  AttentionDecode(kSerial, q_last.data(), k.data(), v.data(), dec.data(), b, hq, hkv, d, t, t);
  for (std::int64_t bb = 0; bb < b; ++bb)
    for (std::int64_t i = 0; i < hq * d; ++i)
      EXPECT_NEAR(dec[bb * hq * d + i], out[((bb * t + t - 1) * hq) * d + i], 1e-12);
}

}  // namespace
}  // namespace localbench::kernels::cpu
