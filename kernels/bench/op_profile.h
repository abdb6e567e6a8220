// A timing decorator for the kernels benchmark (--profile): a Backend that
// forwards every op to a CpuBackend and adds the op's wall time to a table,
// so a workload's step splits into GEMV/GEMM, attention, norms and the rest.
// The CPU backend runs ops synchronously, so wall time around a call is the
// op's time, pool wake-up included.
#pragma once

#include <chrono>
#include <cstdio>
#include <map>
#include <string>

#include "localbench/kernels/backend.h"
#include "localbench/kernels/cpu_backend.h"

namespace localbench::kernels::bench {

// Backend that times each op of an inner CpuBackend.
class ProfilingBackend final : public Backend {
 public:
  explicit ProfilingBackend(CpuBackend& inner) : inner_(inner) {}

  Device& device() override { return inner_.device(); }
  std::string name() const override { return inner_.name(); }

  // Clears the table (after warm-up).
  void Reset() { ops_.clear(); }

  // Prints one row per op: calls, total ms, share of the total, and for the
  // GEMMs the operand B (weight) bytes per second.
  void Print(double step_count) const {
    double total = 0;
    for (const auto& [name, op] : ops_) total += op.seconds;
    std::printf("| op | calls/step | ms/step | share | weight GB/s |\n|---|---|---|---|---|\n");
    for (const auto& [name, op] : ops_) {
      char bw[32] = "";
      if (op.weight_bytes > 0) std::snprintf(bw, sizeof bw, "%.2f", op.weight_bytes / op.seconds * 1e-9);
      std::printf("| %s | %.0f | %.2f | %.1f%% | %s |\n", name.c_str(), op.calls / step_count,
                  op.seconds / step_count * 1e3, 100.0 * op.seconds / total, bw);
    }
    std::printf("| all ops | | %.2f | 100%% | |\n", total / step_count * 1e3);
  }

 protected:
  absl::Status FillImpl(Tensor x, float value) override {
    return Timed("fill", 0, [&] { return inner_.Fill(x, value); });
  }
  absl::Status FillRandomUniformImpl(Tensor x, std::uint64_t seed, float scale) override {
    return Timed("fill_random", 0, [&] { return inner_.FillRandomUniform(x, seed, scale); });
  }
  absl::Status ConvertImpl(const Tensor& src, Tensor dst) override {
    return Timed("convert", 0, [&] { return inner_.Convert(src, dst); });
  }
  absl::Status AxpyImpl(float alpha, const Tensor& x, Tensor y) override {
    return Timed("axpy", 0, [&] { return inner_.Axpy(alpha, x, y); });
  }
  absl::Status ScaleImpl(Tensor x, float alpha) override {
    return Timed("scale", 0, [&] { return inner_.Scale(x, alpha); });
  }
  absl::Status AddBiasImpl(Tensor x, const Tensor& bias) override {
    return Timed("add_bias", 0, [&] { return inner_.AddBias(x, bias); });
  }
  absl::Status BiasBackwardImpl(const Tensor& d_out, Tensor d_bias) override {
    return Timed("bias_backward", 0, [&] { return inner_.BiasBackward(d_out, d_bias); });
  }
  absl::Status EmbeddingForwardImpl(const Tensor& table, const std::int32_t* ids, Tensor out) override {
    return Timed("embedding", 0, [&] { return inner_.EmbeddingForward(table, ids, out); });
  }
  absl::Status EmbeddingBackwardImpl(const Tensor& d_out, const std::int32_t* ids, Tensor d_table) override {
    return Timed("embedding_backward", 0, [&] { return inner_.EmbeddingBackward(d_out, ids, d_table); });
  }
  absl::Status RmsNormForwardImpl(const Tensor& x, const Tensor& weight, float eps, Tensor out,
                                  Tensor rstd) override {
    return Timed("rmsnorm", 0, [&] { return inner_.RmsNormForward(x, weight, eps, out, rstd); });
  }
  absl::Status RmsNormBackwardImpl(const Tensor& d_out, const Tensor& x, const Tensor& weight, const Tensor& rstd,
                                   Tensor d_x, Tensor d_weight) override {
    return Timed("rmsnorm_backward", 0,
                 [&] { return inner_.RmsNormBackward(d_out, x, weight, rstd, d_x, d_weight); });
  }
  absl::Status RopeForwardImpl(Tensor x, std::int64_t seq_len, std::int64_t offset, float theta) override {
    return Timed("rope", 0, [&] { return inner_.RopeForward(x, seq_len, offset, theta); });
  }
  absl::Status RopeBackwardImpl(Tensor d_x, std::int64_t seq_len, std::int64_t offset, float theta) override {
    return Timed("rope_backward", 0, [&] { return inner_.RopeBackward(d_x, seq_len, offset, theta); });
  }
  absl::Status AttentionForwardImpl(const Tensor& q, const Tensor& k, const Tensor& v, Tensor out,
                                    Tensor lse) override {
    return Timed("attention", 0, [&] { return inner_.AttentionForward(q, k, v, out, lse); });
  }
  absl::Status AttentionBackwardImpl(const Tensor& q, const Tensor& k, const Tensor& v, const Tensor& out,
                                     const Tensor& lse, const Tensor& d_out, Tensor d_q, Tensor d_k,
                                     Tensor d_v) override {
    return Timed("attention_backward", 0,
                 [&] { return inner_.AttentionBackward(q, k, v, out, lse, d_out, d_q, d_k, d_v); });
  }
  absl::Status KvCacheWriteImpl(const Tensor& src, Tensor cache, std::int64_t position) override {
    return Timed("kv_cache_write", 0, [&] { return inner_.KvCacheWrite(src, cache, position); });
  }
  absl::Status AttentionDecodeImpl(const Tensor& q, const Tensor& k_cache, const Tensor& v_cache,
                                   std::int64_t length, Tensor out) override {
    // The cache rows read count as this op's "weight" traffic.
    const double bytes = 2.0 * static_cast<double>(q.dim(0) * length * k_cache.dim(2) * k_cache.dim(3)) *
                         static_cast<double>(DTypeSize(k_cache.dtype));
    return Timed("attention_decode", bytes,
                 [&] { return inner_.AttentionDecode(q, k_cache, v_cache, length, out); });
  }
  absl::Status SoftmaxImpl(const Tensor& x, Tensor out) override {
    return Timed("softmax", 0, [&] { return inner_.Softmax(x, out); });
  }
  absl::Status SwiGluForwardImpl(const Tensor& gate, const Tensor& up, Tensor out) override {
    return Timed("swiglu", 0, [&] { return inner_.SwiGluForward(gate, up, out); });
  }
  absl::Status SwiGluBackwardImpl(const Tensor& d_out, const Tensor& gate, const Tensor& up, Tensor d_gate,
                                  Tensor d_up) override {
    return Timed("swiglu_backward", 0, [&] { return inner_.SwiGluBackward(d_out, gate, up, d_gate, d_up); });
  }
  absl::Status GemmImpl(bool trans_a, bool trans_b, float alpha, const Tensor& a, const Tensor& b, float beta,
                        Tensor c, Tensor workspace) override {
    const std::int64_t m = trans_a ? a.cols() : a.rows();
    const std::int64_t n = trans_b ? b.rows() : b.cols();
    const std::string name = (m <= 8 ? "gemv N=" : "gemm N=") + std::to_string(n);
    return Timed(name, static_cast<double>(b.bytes()),
                 [&] { return inner_.Gemm(trans_a, trans_b, alpha, a, b, beta, c, workspace); });
  }
  absl::Status CrossEntropyImpl(const Tensor& logits, const std::int32_t* targets, Tensor losses,
                                Tensor d_logits, float grad_scale) override {
    return Timed("cross_entropy", 0,
                 [&] { return inner_.CrossEntropy(logits, targets, losses, d_logits, grad_scale); });
  }
  absl::Status ArgmaxImpl(const Tensor& x, std::int32_t* out) override {
    return Timed("argmax", 0, [&] { return inner_.Argmax(x, out); });
  }
  absl::Status AdamWImpl(Tensor param, const Tensor& grad, Tensor m, Tensor v, const AdamWParams& params) override {
    return Timed("adamw", 0, [&] { return inner_.AdamW(param, grad, m, v, params); });
  }

 private:
  struct Op {
    double calls = 0, seconds = 0, weight_bytes = 0;
  };

  template <typename Fn>
  absl::Status Timed(const std::string& name, double weight_bytes, Fn&& fn) {
    const auto t0 = std::chrono::steady_clock::now();
    absl::Status s = fn();
    Op& op = ops_[name];
    op.calls += 1;
    op.seconds += std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    op.weight_bytes += weight_bytes;
    return s;
  }

  CpuBackend& inner_;
  std::map<std::string, Op> ops_;
};

}  // namespace localbench::kernels::bench
