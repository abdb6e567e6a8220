// CpuBackend: argument checks and dtype dispatch around the templated
// kernels of ops.h. GEMM lives in gemm.cc.
#include "localbench/kernels/cpu_backend.h"

#include <cblas.h>

#include <cmath>
#include <string>
#include <tuple>

#include "absl/strings/str_cat.h"
#include "cpu/elements.h"
#include "cpu/ops.h"
#include "cpu/status_macros.h"
#include "cpu/thread_pool.h"

namespace localbench::kernels {
namespace {

using cpu::Bf16;
using cpu::F16;
using cpu::WithElementType;

absl::Status Invalid(std::string_view op, std::string_view what) {
  return absl::InvalidArgumentError(absl::StrCat(std::string(op), ": ", std::string(what)));
}

// Activations must be present fp32 tensors.
absl::Status NeedF32(std::string_view op, const char* name, const Tensor& t) {
  if (!t.present()) return Invalid(op, absl::StrCat(name, " is absent"));
  if (t.dtype != DType::kF32) return Invalid(op, absl::StrCat(name, " must be f32 (activations are fp32)"));
  return absl::OkStatus();
}

absl::Status NeedNumel(std::string_view op, const char* name, const Tensor& t, std::int64_t n) {
  if (!t.present()) return Invalid(op, absl::StrCat(name, " is absent"));
  if (t.numel() != n) return Invalid(op, absl::StrCat(name, " has ", t.numel(), " elements, expected ", n));
  return absl::OkStatus();
}

float* F(const Tensor& t) { return static_cast<float*>(t.data); }

}  // namespace

CpuBackend::CpuBackend(const CpuDeviceOptions& options)
    : device_(std::make_unique<CpuDevice>(options)),
      pool_(std::make_unique<ThreadPool>(device_->threads())) {
  // The backend owns the threading: OpenBLAS runs single-threaded inside our
  // static partition (see gemm.cc), so two thread pools never spin against
  // each other on the same cores.
  openblas_set_num_threads(1);
}

CpuBackend::~CpuBackend() = default;

DeviceTelemetry CpuBackend::SampleTelemetry() {
  DeviceTelemetry t;
  // Known exactly; a CPU has no SM clock or NVML throttle bits to report,
  // so those stay absent rather than 0.
  t.process_memory_bytes = device_->allocated_bytes();
  return t;
}

absl::Status CpuBackend::Fill(Tensor x, float value) {
  if (!x.present()) return Invalid("Fill", "x is absent");
  WithElementType(x.dtype, x.data, [&](auto* p) {
    pool_->For(x.numel(), [&](std::int64_t i0, std::int64_t i1) {
      for (std::int64_t i = i0; i < i1; ++i) cpu::Store(p[i], value);
    }, 1 << 14);
  });
  return absl::OkStatus();
}

absl::Status CpuBackend::FillRandomUniform(Tensor x, std::uint64_t seed, float scale) {
  if (!x.present()) return Invalid("FillRandomUniform", "x is absent");
  WithElementType(x.dtype, x.data, [&](auto* p) {
    pool_->For(x.numel(), [&](std::int64_t i0, std::int64_t i1) {
      for (std::int64_t i = i0; i < i1; ++i)
        cpu::Store(p[i], cpu::HashUniform(seed, static_cast<std::uint64_t>(i), scale));
    }, 1 << 14);
  });
  return absl::OkStatus();
}

absl::Status CpuBackend::Convert(const Tensor& src, Tensor dst) {
  LB_RETURN_IF_ERROR(NeedNumel("Convert", "dst", dst, src.numel()));
  pool_->For(src.numel(), [&](std::int64_t i0, std::int64_t i1) {
    cpu::ConvertSpan(src.dtype, src.data, dst.dtype, dst.data, i0, i1);
  }, 1 << 14);
  return absl::OkStatus();
}

absl::Status CpuBackend::Axpy(float alpha, const Tensor& x, Tensor y) {
  if (!x.present()) return Invalid("Axpy", "x is absent");
  LB_RETURN_IF_ERROR(NeedNumel("Axpy", "y", y, x.numel()));
  WithElementType(x.dtype, x.data, [&](auto* xs) {
    WithElementType(y.dtype, y.data, [&](auto* ys) {
      pool_->For(x.numel(), [&](std::int64_t i0, std::int64_t i1) {
        for (std::int64_t i = i0; i < i1; ++i) cpu::Store(ys[i], cpu::Load(ys[i]) + alpha * cpu::Load(xs[i]));
      }, 1 << 14);
    });
  });
  return absl::OkStatus();
}

absl::Status CpuBackend::Scale(Tensor x, float alpha) {
  if (!x.present()) return Invalid("Scale", "x is absent");
  WithElementType(x.dtype, x.data, [&](auto* p) {
    pool_->For(x.numel(), [&](std::int64_t i0, std::int64_t i1) {
      for (std::int64_t i = i0; i < i1; ++i) cpu::Store(p[i], cpu::Load(p[i]) * alpha);
    }, 1 << 14);
  });
  return absl::OkStatus();
}

absl::Status CpuBackend::AddBias(Tensor x, const Tensor& bias) {
  LB_RETURN_IF_ERROR(NeedF32("AddBias", "x", x));
  LB_RETURN_IF_ERROR(NeedNumel("AddBias", "bias", bias, x.cols()));
  WithElementType(bias.dtype, bias.data, [&](auto* b) { cpu::AddBias(*pool_, F(x), b, x.rows(), x.cols()); });
  return absl::OkStatus();
}

absl::Status CpuBackend::BiasBackward(const Tensor& d_out, Tensor d_bias) {
  LB_RETURN_IF_ERROR(NeedF32("BiasBackward", "d_out", d_out));
  LB_RETURN_IF_ERROR(NeedNumel("BiasBackward", "d_bias", d_bias, d_out.cols()));
  WithElementType(d_bias.dtype, d_bias.data,
                  [&](auto* b) { cpu::BiasBackward(*pool_, F(d_out), b, d_out.rows(), d_out.cols()); });
  return absl::OkStatus();
}

absl::Status CpuBackend::EmbeddingForward(const Tensor& table, const std::int32_t* ids, Tensor out) {
  LB_RETURN_IF_ERROR(NeedF32("EmbeddingForward", "out", out));
  if (!table.present() || table.cols() != out.cols()) return Invalid("EmbeddingForward", "table/out width mismatch");
  const std::int64_t n = out.rows();
  for (std::int64_t i = 0; i < n; ++i) {
    if (ids[i] < 0 || ids[i] >= table.rows())
      return Invalid("EmbeddingForward", absl::StrCat("token id ", ids[i], " outside [0, ", table.rows(), ")"));
  }
  WithElementType(table.dtype, table.data,
                  [&](auto* t) { cpu::EmbeddingForward(*pool_, t, ids, F(out), n, out.cols()); });
  return absl::OkStatus();
}

absl::Status CpuBackend::EmbeddingBackward(const Tensor& d_out, const std::int32_t* ids, Tensor d_table) {
  LB_RETURN_IF_ERROR(NeedF32("EmbeddingBackward", "d_out", d_out));
  if (!d_table.present() || d_table.cols() != d_out.cols())
    return Invalid("EmbeddingBackward", "d_table/d_out width mismatch");
  const std::int64_t n = d_out.rows();
  for (std::int64_t i = 0; i < n; ++i) {
    if (ids[i] < 0 || ids[i] >= d_table.rows()) return Invalid("EmbeddingBackward", "token id out of range");
  }
  WithElementType(d_table.dtype, d_table.data,
                  [&](auto* t) { cpu::EmbeddingBackward(*pool_, F(d_out), ids, t, n, d_out.cols()); });
  return absl::OkStatus();
}

absl::Status CpuBackend::RmsNormForward(const Tensor& x, const Tensor& weight, float eps, Tensor out,
                                        Tensor rstd) {
  LB_RETURN_IF_ERROR(NeedF32("RmsNormForward", "x", x));
  LB_RETURN_IF_ERROR(NeedF32("RmsNormForward", "out", out));
  LB_RETURN_IF_ERROR(NeedF32("RmsNormForward", "rstd", rstd));
  LB_RETURN_IF_ERROR(NeedNumel("RmsNormForward", "out", out, x.numel()));
  LB_RETURN_IF_ERROR(NeedNumel("RmsNormForward", "weight", weight, x.cols()));
  LB_RETURN_IF_ERROR(NeedNumel("RmsNormForward", "rstd", rstd, x.rows()));
  WithElementType(weight.dtype, weight.data, [&](auto* w) {
    cpu::RmsNormForward(*pool_, F(x), w, static_cast<double>(eps), F(out), F(rstd), x.rows(), x.cols());
  });
  return absl::OkStatus();
}

absl::Status CpuBackend::RmsNormBackward(const Tensor& d_out, const Tensor& x, const Tensor& weight,
                                         const Tensor& rstd, Tensor d_x, Tensor d_weight) {
  LB_RETURN_IF_ERROR(NeedF32("RmsNormBackward", "d_out", d_out));
  LB_RETURN_IF_ERROR(NeedF32("RmsNormBackward", "x", x));
  LB_RETURN_IF_ERROR(NeedF32("RmsNormBackward", "d_x", d_x));
  LB_RETURN_IF_ERROR(NeedNumel("RmsNormBackward", "d_x", d_x, x.numel()));
  LB_RETURN_IF_ERROR(NeedNumel("RmsNormBackward", "weight", weight, x.cols()));
  if (d_weight.present()) LB_RETURN_IF_ERROR(NeedNumel("RmsNormBackward", "d_weight", d_weight, x.cols()));
  WithElementType(weight.dtype, weight.data, [&](auto* w) {
    if (!d_weight.present()) {
      cpu::RmsNormBackward(*pool_, F(d_out), F(x), w, F(rstd), F(d_x), static_cast<float*>(nullptr),
                           x.rows(), x.cols());
      return;
    }
    WithElementType(d_weight.dtype, d_weight.data, [&](auto* dw) {
      cpu::RmsNormBackward(*pool_, F(d_out), F(x), w, F(rstd), F(d_x), dw, x.rows(), x.cols());
    });
  });
  return absl::OkStatus();
}

absl::Status CpuBackend::RopeForward(Tensor x, std::int64_t seq_len, std::int64_t position_offset,
                                     float theta) {
  LB_RETURN_IF_ERROR(NeedF32("RopeForward", "x", x));
  if (x.rank != 3 || x.dim(2) % 2 != 0 || seq_len <= 0) return Invalid("RopeForward", "x must be [N, heads, even D]");
  cpu::Rope(*pool_, F(x), x.dim(0), x.dim(1), x.dim(2), seq_len, position_offset, theta, 1.0);
  return absl::OkStatus();
}

absl::Status CpuBackend::RopeBackward(Tensor d_x, std::int64_t seq_len, std::int64_t position_offset,
                                      float theta) {
  LB_RETURN_IF_ERROR(NeedF32("RopeBackward", "d_x", d_x));
  if (d_x.rank != 3 || d_x.dim(2) % 2 != 0 || seq_len <= 0) return Invalid("RopeBackward", "d_x must be [N, heads, even D]");
  cpu::Rope(*pool_, F(d_x), d_x.dim(0), d_x.dim(1), d_x.dim(2), seq_len, position_offset, theta, -1.0);
  return absl::OkStatus();
}

namespace {
absl::Status CheckAttention(std::string_view op, const Tensor& q, const Tensor& k, const Tensor& v) {
  LB_RETURN_IF_ERROR(NeedF32(op, "q", q));
  LB_RETURN_IF_ERROR(NeedF32(op, "k", k));
  LB_RETURN_IF_ERROR(NeedF32(op, "v", v));
  if (q.rank != 4 || k.rank != 4 || v.rank != 4) return Invalid(op, "q, k, v must be rank 4 [B, T, H, D]");
  if (k.dims != v.dims || k.dim(0) != q.dim(0) || k.dim(1) != q.dim(1) || k.dim(3) != q.dim(3) ||
      q.dim(2) % k.dim(2) != 0)
    return Invalid(op, "shape mismatch between q [B,T,Hq,D] and k/v [B,T,Hkv,D] (Hq % Hkv == 0)");
  return absl::OkStatus();
}
}  // namespace

absl::Status CpuBackend::AttentionForward(const Tensor& q, const Tensor& k, const Tensor& v, Tensor out,
                                          Tensor lse) {
  LB_RETURN_IF_ERROR(CheckAttention("AttentionForward", q, k, v));
  LB_RETURN_IF_ERROR(NeedNumel("AttentionForward", "out", out, q.numel()));
  LB_RETURN_IF_ERROR(NeedNumel("AttentionForward", "lse", lse, q.dim(0) * q.dim(1) * q.dim(2)));
  cpu::AttentionForward(*pool_, F(q), F(k), F(v), F(out), F(lse), q.dim(0), q.dim(1), q.dim(2), k.dim(2),
                        q.dim(3));
  return absl::OkStatus();
}

absl::Status CpuBackend::AttentionBackward(const Tensor& q, const Tensor& k, const Tensor& v,
                                           const Tensor& out, const Tensor& lse, const Tensor& d_out,
                                           Tensor d_q, Tensor d_k, Tensor d_v) {
  LB_RETURN_IF_ERROR(CheckAttention("AttentionBackward", q, k, v));
  using Check = std::tuple<const Tensor*, const char*, std::int64_t>;
  for (auto [t, name, n] : {Check{&out, "out", q.numel()}, Check{&d_out, "d_out", q.numel()},
                            Check{&d_q, "d_q", q.numel()}, Check{&d_k, "d_k", k.numel()},
                            Check{&d_v, "d_v", k.numel()}, Check{&lse, "lse", q.dim(0) * q.dim(1) * q.dim(2)}}) {
    LB_RETURN_IF_ERROR(NeedF32("AttentionBackward", name, *t));
    LB_RETURN_IF_ERROR(NeedNumel("AttentionBackward", name, *t, n));
  }
  cpu::AttentionBackward(*pool_, F(q), F(k), F(v), F(out), F(lse), F(d_out), F(d_q), F(d_k), F(d_v), q.dim(0),
                         q.dim(1), q.dim(2), k.dim(2), q.dim(3));
  return absl::OkStatus();
}

absl::Status CpuBackend::KvCacheWrite(const Tensor& src, Tensor cache, std::int64_t position) {
  LB_RETURN_IF_ERROR(NeedF32("KvCacheWrite", "src", src));
  if (src.rank != 4 || cache.rank != 4 || src.dim(0) != cache.dim(0) || src.dim(2) != cache.dim(2) ||
      src.dim(3) != cache.dim(3))
    return Invalid("KvCacheWrite", "src [B,T,Hkv,D] and cache [B,Tmax,Hkv,D] disagree");
  if (position < 0 || position + src.dim(1) > cache.dim(1))
    return Invalid("KvCacheWrite", absl::StrCat("positions [", position, ", ", position + src.dim(1),
                                                ") outside the cache's ", cache.dim(1)));
  const std::int64_t b = src.dim(0), t = src.dim(1), row = src.dim(2) * src.dim(3), t_max = cache.dim(1);
  WithElementType(cache.dtype, cache.data, [&](auto* c) {
    pool_->For(b * t, [&](std::int64_t r0, std::int64_t r1) {
      for (std::int64_t r = r0; r < r1; ++r) {
        const float* s = F(src) + r * row;
        auto* d = c + ((r / t) * t_max + position + r % t) * row;
        for (std::int64_t i = 0; i < row; ++i) cpu::Store(d[i], s[i]);
      }
    }, 4);
  });
  return absl::OkStatus();
}

absl::Status CpuBackend::AttentionDecode(const Tensor& q, const Tensor& k_cache, const Tensor& v_cache,
                                         std::int64_t length, Tensor out) {
  LB_RETURN_IF_ERROR(NeedF32("AttentionDecode", "q", q));
  LB_RETURN_IF_ERROR(NeedF32("AttentionDecode", "out", out));
  if (q.rank != 3 || k_cache.rank != 4 || k_cache.dims != v_cache.dims || k_cache.dtype != v_cache.dtype ||
      k_cache.dim(0) != q.dim(0) || k_cache.dim(3) != q.dim(2) || q.dim(1) % k_cache.dim(2) != 0)
    return Invalid("AttentionDecode", "q [B,Hq,D] and caches [B,Tmax,Hkv,D] disagree");
  if (length <= 0 || length > k_cache.dim(1)) return Invalid("AttentionDecode", "length outside the cache");
  LB_RETURN_IF_ERROR(NeedNumel("AttentionDecode", "out", out, q.numel()));
  WithElementType(k_cache.dtype, k_cache.data, [&](auto* kc) {
    using W = std::remove_pointer_t<decltype(kc)>;
    cpu::AttentionDecode(*pool_, F(q), kc, static_cast<const W*>(v_cache.data), F(out), q.dim(0), q.dim(1),
                         k_cache.dim(2), q.dim(2), k_cache.dim(1), length);
  });
  return absl::OkStatus();
}

absl::Status CpuBackend::Softmax(const Tensor& x, Tensor out) {
  LB_RETURN_IF_ERROR(NeedF32("Softmax", "x", x));
  LB_RETURN_IF_ERROR(NeedF32("Softmax", "out", out));
  LB_RETURN_IF_ERROR(NeedNumel("Softmax", "out", out, x.numel()));
  cpu::Softmax(*pool_, F(x), F(out), x.rows(), x.cols());
  return absl::OkStatus();
}

absl::Status CpuBackend::SwiGluForward(const Tensor& gate, const Tensor& up, Tensor out) {
  for (auto [t, name] : {std::pair{&gate, "gate"}, std::pair{&up, "up"}, std::pair<const Tensor*, const char*>{&out, "out"}}) {
    LB_RETURN_IF_ERROR(NeedF32("SwiGluForward", name, *t));
    LB_RETURN_IF_ERROR(NeedNumel("SwiGluForward", name, *t, gate.numel()));
  }
  cpu::SwiGluForward(*pool_, F(gate), F(up), F(out), gate.numel());
  return absl::OkStatus();
}

absl::Status CpuBackend::SwiGluBackward(const Tensor& d_out, const Tensor& gate, const Tensor& up,
                                        Tensor d_gate, Tensor d_up) {
  for (auto [t, name] : {std::pair{&d_out, "d_out"}, std::pair{&gate, "gate"}, std::pair{&up, "up"},
                         std::pair<const Tensor*, const char*>{&d_gate, "d_gate"},
                         std::pair<const Tensor*, const char*>{&d_up, "d_up"}}) {
    LB_RETURN_IF_ERROR(NeedF32("SwiGluBackward", name, *t));
    LB_RETURN_IF_ERROR(NeedNumel("SwiGluBackward", name, *t, gate.numel()));
  }
  cpu::SwiGluBackward(*pool_, F(d_out), F(gate), F(up), F(d_gate), F(d_up), gate.numel());
  return absl::OkStatus();
}

absl::Status CpuBackend::CrossEntropy(const Tensor& logits, const std::int32_t* targets, Tensor losses,
                                      Tensor d_logits, float grad_scale) {
  LB_RETURN_IF_ERROR(NeedF32("CrossEntropy", "logits", logits));
  LB_RETURN_IF_ERROR(NeedF32("CrossEntropy", "losses", losses));
  LB_RETURN_IF_ERROR(NeedNumel("CrossEntropy", "losses", losses, logits.rows()));
  if (d_logits.present()) {
    LB_RETURN_IF_ERROR(NeedF32("CrossEntropy", "d_logits", d_logits));
    LB_RETURN_IF_ERROR(NeedNumel("CrossEntropy", "d_logits", d_logits, logits.numel()));
  }
  for (std::int64_t r = 0; r < logits.rows(); ++r) {
    if (targets[r] < 0 || targets[r] >= logits.cols())
      return Invalid("CrossEntropy", absl::StrCat("target ", targets[r], " outside [0, ", logits.cols(), ")"));
  }
  cpu::CrossEntropy(*pool_, F(logits), targets, F(losses), d_logits.present() ? F(d_logits) : nullptr,
                    grad_scale, logits.rows(), logits.cols());
  return absl::OkStatus();
}

absl::Status CpuBackend::Argmax(const Tensor& x, std::int32_t* out) {
  LB_RETURN_IF_ERROR(NeedF32("Argmax", "x", x));
  if (out == nullptr) return Invalid("Argmax", "out is absent");
  cpu::Argmax(*pool_, F(x), out, x.rows(), x.cols());
  return absl::OkStatus();
}

absl::Status CpuBackend::AdamW(Tensor param, const Tensor& grad, Tensor m, Tensor v,
                               const AdamWParams& p) {
  if (!param.present()) return Invalid("AdamW", "param is absent");
  LB_RETURN_IF_ERROR(NeedNumel("AdamW", "grad", grad, param.numel()));
  LB_RETURN_IF_ERROR(NeedF32("AdamW", "m", m));
  LB_RETURN_IF_ERROR(NeedF32("AdamW", "v", v));
  LB_RETURN_IF_ERROR(NeedNumel("AdamW", "m", m, param.numel()));
  LB_RETURN_IF_ERROR(NeedNumel("AdamW", "v", v, param.numel()));
  if (p.step < 1) return Invalid("AdamW", "step is 1-based");
  WithElementType(param.dtype, param.data, [&](auto* pp) {
    WithElementType(grad.dtype, grad.data, [&](auto* gp) {
      cpu::AdamW(*pool_, pp, gp, F(m), F(v), param.numel(), p.learning_rate, p.beta1, p.beta2, p.epsilon,
                 p.weight_decay, p.step);
    });
  });
  return absl::OkStatus();
}

}  // namespace localbench::kernels
