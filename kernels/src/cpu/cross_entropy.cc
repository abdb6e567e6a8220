// CpuBackend's vocabulary-row ops: softmax, cross-entropy (targets were
// range-checked by the contract), argmax.
#include "cpu/cross_entropy.h"

#include "cpu/thread_pool.h"
#include "localbench/kernels/cpu_backend.h"

namespace localbench::kernels {
namespace {
float* F(const Tensor& t) { return static_cast<float*>(t.data); }
}  // namespace

absl::Status CpuBackend::SoftmaxImpl(const Tensor& x, Tensor out) {
  cpu::Softmax(*pool_, F(x), F(out), x.rows(), x.cols());
  return absl::OkStatus();
}

absl::Status CpuBackend::CrossEntropyImpl(const Tensor& logits, const std::int32_t* targets, Tensor losses,
                                          Tensor d_logits, float grad_scale) {
  cpu::CrossEntropy(*pool_, F(logits), targets, F(losses), d_logits.present() ? F(d_logits) : nullptr, grad_scale,
                    logits.rows(), logits.cols());
  return absl::OkStatus();
}

absl::Status CpuBackend::ArgmaxImpl(const Tensor& x, std::int32_t* out) {
  cpu::Argmax(*pool_, F(x), out, x.rows(), x.cols());
  return absl::OkStatus();
}

}  // namespace localbench::kernels
