// The op contract: every public Backend op checks its shapes, dtypes and
// host-visible indices here, once, for every backend, and only then calls
// the backend's <Op>Impl. The CPU and the GPUs therefore refuse the same
// inputs with the same InvalidArgument text, and device code never traps on
// an input error the host could have seen.
//
// Indices (token ids, targets) live in device memory. The CPU's device memory
// is host memory, so they are checked here too. A GPU's are not visible
// without a synchronising copy, which would break graph capture (decode
// feeds argmax back as the next ids on the device): the GPU kernels record
// the first bad index instead of trapping, and the next synchronisation
// returns IndexOutOfRange(...) below, the same text as the CPU's, with the
// device still usable.
#include <cmath>
#include <string>

#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"
#include "localbench/kernels/backend.h"
#include "status_macros.h"

namespace localbench::kernels {
namespace {

absl::Status Invalid(absl::string_view op, absl::string_view what) {
  return absl::InvalidArgumentError(absl::StrCat(op, ": ", what));
}

// Present, or absent with no elements (an empty op is a no-op).
absl::Status PresentOrEmpty(absl::string_view op, absl::string_view name, const Tensor& t) {
  if (!t.present() && t.numel() != 0) return Invalid(op, absl::StrCat(name, " is absent"));
  return absl::OkStatus();
}

absl::Status Present(absl::string_view op, absl::string_view name, const Tensor& t) {
  if (!t.present()) return Invalid(op, absl::StrCat(name, " is absent"));
  return absl::OkStatus();
}

// Operands that stay fp32 where numerics need it (statistics, losses,
// logits, the residual gradient; backend.h's dtype rules).
absl::Status F32(absl::string_view op, absl::string_view name, const Tensor& t) {
  LB_RETURN_IF_ERROR(Present(op, name, t));
  if (t.dtype != DType::kF32) {
    return Invalid(op, absl::StrCat(name, " must be f32 (kept fp32 for numerics), is ", std::string(DTypeName(t.dtype))));
  }
  return absl::OkStatus();
}

absl::Status Numel(absl::string_view op, absl::string_view name, const Tensor& t, std::int64_t n) {
  LB_RETURN_IF_ERROR(Present(op, name, t));
  if (t.numel() != n) return Invalid(op, absl::StrCat(name, " has ", t.numel(), " elements, expected ", n));
  return absl::OkStatus();
}

absl::Status F32Numel(absl::string_view op, absl::string_view name, const Tensor& t, std::int64_t n) {
  LB_RETURN_IF_ERROR(F32(op, name, t));
  return Numel(op, name, t, n);
}

// An operand that must share `ref`'s dtype (one storage type per group of an
// op's activations, or of their gradients) and have n elements.
absl::Status SameNumel(absl::string_view op, absl::string_view name, const Tensor& t, const Tensor& ref,
                       absl::string_view ref_name, std::int64_t n) {
  LB_RETURN_IF_ERROR(Numel(op, name, t, n));
  if (t.dtype != ref.dtype) {
    return Invalid(op, absl::StrCat(name, " must have ", ref_name, "'s dtype (", std::string(DTypeName(ref.dtype)),
                                    "), is ", std::string(DTypeName(t.dtype))));
  }
  return absl::OkStatus();
}

// q [B, T, Hq, D] and k, v [B, T, Hkv, D], Hq a multiple of Hkv.
absl::Status AttentionShapes(absl::string_view op, const Tensor& q, const Tensor& k, const Tensor& v) {
  LB_RETURN_IF_ERROR(Present(op, "q", q));
  LB_RETURN_IF_ERROR(SameNumel(op, "k", k, q, "q", k.numel()));
  LB_RETURN_IF_ERROR(SameNumel(op, "v", v, q, "q", v.numel()));
  if (q.rank != 4 || k.rank != 4 || v.rank != 4) return Invalid(op, "q, k, v must be rank 4 [B, T, H, D]");
  if (k.dims != v.dims) return Invalid(op, "k and v shapes differ");
  if (q.dim(0) != k.dim(0) || q.dim(1) != k.dim(1) || q.dim(3) != k.dim(3)) {
    return Invalid(op, "q [B, T, Hq, D] and k [B, T, Hkv, D] disagree on B, T or D");
  }
  if (k.dim(2) < 1 || q.dim(2) % k.dim(2) != 0) {
    return Invalid(op, absl::StrCat("Hq (", q.dim(2), ") must be a multiple of Hkv (", k.dim(2), ")"));
  }
  return absl::OkStatus();
}

absl::Status RopeShape(absl::string_view op, const Tensor& x, std::int64_t seq_len, std::int64_t offset) {
  LB_RETURN_IF_ERROR(Present(op, "x", x));
  if (x.rank != 3 || x.dim(2) % 2 != 0) return Invalid(op, "x must be [N, heads, D] with D even");
  if (seq_len < 1) return Invalid(op, absl::StrCat("seq_len must be >= 1, is ", seq_len));
  if (offset < 0) return Invalid(op, absl::StrCat("position_offset must be >= 0, is ", offset));
  return absl::OkStatus();
}

}  // namespace

absl::Status IndexOutOfRange(absl::string_view op, absl::string_view field, std::int64_t row, std::int64_t value,
                             std::int64_t limit) {
  return Invalid(op, absl::StrCat(field, "[", row, "] = ", value, " outside [0, ", limit, ")"));
}

absl::Status Backend::CheckIndices(absl::string_view op, absl::string_view field, const std::int32_t* ids,
                                   std::int64_t n, std::int64_t limit) {
  if (n == 0) return absl::OkStatus();
  if (ids == nullptr) return Invalid(op, absl::StrCat(field, " is null"));
  if (device().kind() != DeviceKind::kCpu) return absl::OkStatus();  // reported by the kernel (file comment)
  for (std::int64_t i = 0; i < n; ++i) {
    if (ids[i] < 0 || ids[i] >= limit) return IndexOutOfRange(op, field, i, ids[i], limit);
  }
  return absl::OkStatus();
}

// ---- fills and element-wise --------------------------------------------------
absl::Status Backend::Fill(Tensor x, float value) {
  LB_RETURN_IF_ERROR(PresentOrEmpty("Fill", "x", x));
  return FillImpl(x, value);
}

absl::Status Backend::FillRandomUniform(Tensor x, std::uint64_t seed, float scale) {
  LB_RETURN_IF_ERROR(PresentOrEmpty("FillRandomUniform", "x", x));
  return FillRandomUniformImpl(x, seed, scale);
}

absl::Status Backend::Convert(const Tensor& src, Tensor dst) {
  LB_RETURN_IF_ERROR(PresentOrEmpty("Convert", "src", src));
  LB_RETURN_IF_ERROR(PresentOrEmpty("Convert", "dst", dst));
  if (src.numel() != dst.numel()) {
    return Invalid("Convert", absl::StrCat("dst has ", dst.numel(), " elements, expected ", src.numel()));
  }
  return ConvertImpl(src, dst);
}

absl::Status Backend::Axpy(float alpha, const Tensor& x, Tensor y) {
  LB_RETURN_IF_ERROR(PresentOrEmpty("Axpy", "x", x));
  LB_RETURN_IF_ERROR(PresentOrEmpty("Axpy", "y", y));
  if (x.numel() != y.numel()) {
    return Invalid("Axpy", absl::StrCat("y has ", y.numel(), " elements, expected ", x.numel()));
  }
  return AxpyImpl(alpha, x, y);
}

absl::Status Backend::Scale(Tensor x, float alpha) {
  LB_RETURN_IF_ERROR(PresentOrEmpty("Scale", "x", x));
  return ScaleImpl(x, alpha);
}

absl::Status Backend::AddBias(Tensor x, const Tensor& bias) {
  LB_RETURN_IF_ERROR(Present("AddBias", "x", x));
  LB_RETURN_IF_ERROR(Numel("AddBias", "bias", bias, x.cols()));
  return AddBiasImpl(x, bias);
}

absl::Status Backend::BiasBackward(const Tensor& d_out, Tensor d_bias) {
  LB_RETURN_IF_ERROR(Present("BiasBackward", "d_out", d_out));
  LB_RETURN_IF_ERROR(Numel("BiasBackward", "d_bias", d_bias, d_out.cols()));
  return BiasBackwardImpl(d_out, d_bias);
}

// ---- embedding ------------------------------------------------------------------
absl::Status Backend::EmbeddingForward(const Tensor& table, const std::int32_t* ids, Tensor out) {
  constexpr absl::string_view kOp = "EmbeddingForward";
  LB_RETURN_IF_ERROR(Present(kOp, "out", out));
  LB_RETURN_IF_ERROR(Present(kOp, "table", table));
  if (table.rank < 2 || table.cols() != out.cols()) return Invalid(kOp, "table must be [V, H] with out [N, H]");
  LB_RETURN_IF_ERROR(CheckIndices(kOp, "ids", ids, out.rows(), table.rows()));
  return EmbeddingForwardImpl(table, ids, out);
}

absl::Status Backend::EmbeddingBackward(const Tensor& d_out, const std::int32_t* ids, Tensor d_table) {
  constexpr absl::string_view kOp = "EmbeddingBackward";
  LB_RETURN_IF_ERROR(F32(kOp, "d_out", d_out));
  LB_RETURN_IF_ERROR(Present(kOp, "d_table", d_table));
  if (d_table.rank < 2 || d_table.cols() != d_out.cols()) {
    return Invalid(kOp, "d_table must be [V, H] with d_out [N, H]");
  }
  LB_RETURN_IF_ERROR(CheckIndices(kOp, "ids", ids, d_out.rows(), d_table.rows()));
  return EmbeddingBackwardImpl(d_out, ids, d_table);
}

// ---- RMSNorm ---------------------------------------------------------------------
absl::Status Backend::RmsNormForward(const Tensor& x, const Tensor& weight, float eps, Tensor out, Tensor rstd) {
  constexpr absl::string_view kOp = "RmsNormForward";
  LB_RETURN_IF_ERROR(Present(kOp, "x", x));
  LB_RETURN_IF_ERROR(SameNumel(kOp, "out", out, x, "x", x.numel()));
  LB_RETURN_IF_ERROR(F32Numel(kOp, "rstd", rstd, x.rows()));
  LB_RETURN_IF_ERROR(Numel(kOp, "weight", weight, x.cols()));
  if (!(eps >= 0.0f) || !std::isfinite(eps)) return Invalid(kOp, "eps must be finite and >= 0");
  return RmsNormForwardImpl(x, weight, eps, out, rstd);
}

absl::Status Backend::RmsNormBackward(const Tensor& d_out, const Tensor& x, const Tensor& weight,
                                      const Tensor& rstd, Tensor d_x, Tensor d_weight) {
  constexpr absl::string_view kOp = "RmsNormBackward";
  LB_RETURN_IF_ERROR(Present(kOp, "x", x));
  LB_RETURN_IF_ERROR(Numel(kOp, "d_out", d_out, x.numel()));
  LB_RETURN_IF_ERROR(F32Numel(kOp, "d_x", d_x, x.numel()));
  LB_RETURN_IF_ERROR(F32Numel(kOp, "rstd", rstd, x.rows()));
  LB_RETURN_IF_ERROR(Numel(kOp, "weight", weight, x.cols()));
  if (d_weight.present()) LB_RETURN_IF_ERROR(Numel(kOp, "d_weight", d_weight, x.cols()));
  return RmsNormBackwardImpl(d_out, x, weight, rstd, d_x, d_weight);
}

// ---- RoPE ---------------------------------------------------------------------------
absl::Status Backend::RopeForward(Tensor x, std::int64_t seq_len, std::int64_t position_offset, float theta) {
  LB_RETURN_IF_ERROR(RopeShape("RopeForward", x, seq_len, position_offset));
  return RopeForwardImpl(x, seq_len, position_offset, theta);
}

absl::Status Backend::RopeBackward(Tensor d_x, std::int64_t seq_len, std::int64_t position_offset, float theta) {
  LB_RETURN_IF_ERROR(RopeShape("RopeBackward", d_x, seq_len, position_offset));
  return RopeBackwardImpl(d_x, seq_len, position_offset, theta);
}

// ---- attention ------------------------------------------------------------------------
absl::Status Backend::AttentionForward(const Tensor& q, const Tensor& k, const Tensor& v, Tensor out, Tensor lse) {
  constexpr absl::string_view kOp = "AttentionForward";
  LB_RETURN_IF_ERROR(AttentionShapes(kOp, q, k, v));
  LB_RETURN_IF_ERROR(SameNumel(kOp, "out", out, q, "q", q.numel()));
  LB_RETURN_IF_ERROR(F32Numel(kOp, "lse", lse, q.dim(0) * q.dim(1) * q.dim(2)));
  return AttentionForwardImpl(q, k, v, out, lse);
}

absl::Status Backend::AttentionBackward(const Tensor& q, const Tensor& k, const Tensor& v, const Tensor& out,
                                        const Tensor& lse, const Tensor& d_out, Tensor d_q, Tensor d_k,
                                        Tensor d_v) {
  constexpr absl::string_view kOp = "AttentionBackward";
  LB_RETURN_IF_ERROR(AttentionShapes(kOp, q, k, v));
  LB_RETURN_IF_ERROR(SameNumel(kOp, "out", out, q, "q", q.numel()));
  LB_RETURN_IF_ERROR(F32Numel(kOp, "lse", lse, q.dim(0) * q.dim(1) * q.dim(2)));
  LB_RETURN_IF_ERROR(Numel(kOp, "d_out", d_out, q.numel()));
  LB_RETURN_IF_ERROR(SameNumel(kOp, "d_q", d_q, d_out, "d_out", q.numel()));
  LB_RETURN_IF_ERROR(SameNumel(kOp, "d_k", d_k, d_out, "d_out", k.numel()));
  LB_RETURN_IF_ERROR(SameNumel(kOp, "d_v", d_v, d_out, "d_out", v.numel()));
  return AttentionBackwardImpl(q, k, v, out, lse, d_out, d_q, d_k, d_v);
}

absl::Status Backend::KvCacheWrite(const Tensor& src, Tensor cache, std::int64_t position) {
  constexpr absl::string_view kOp = "KvCacheWrite";
  LB_RETURN_IF_ERROR(F32(kOp, "src", src));
  LB_RETURN_IF_ERROR(Present(kOp, "cache", cache));
  if (src.rank != 4 || cache.rank != 4 || src.dim(0) != cache.dim(0) || src.dim(2) != cache.dim(2) ||
      src.dim(3) != cache.dim(3)) {
    return Invalid(kOp, "src [B, T, Hkv, D] and cache [B, Tmax, Hkv, D] disagree");
  }
  if (position < 0 || position + src.dim(1) > cache.dim(1)) {
    return Invalid(kOp, absl::StrCat("positions [", position, ", ", position + src.dim(1), ") outside the cache's ",
                                     cache.dim(1)));
  }
  return KvCacheWriteImpl(src, cache, position);
}

absl::Status Backend::AttentionDecode(const Tensor& q, const Tensor& k_cache, const Tensor& v_cache,
                                      std::int64_t length, Tensor out) {
  constexpr absl::string_view kOp = "AttentionDecode";
  LB_RETURN_IF_ERROR(F32(kOp, "q", q));
  LB_RETURN_IF_ERROR(Present(kOp, "k_cache", k_cache));
  LB_RETURN_IF_ERROR(Present(kOp, "v_cache", v_cache));
  if (q.rank != 3 || k_cache.rank != 4 || v_cache.rank != 4) {
    return Invalid(kOp, "q must be [B, Hq, D] and caches [B, Tmax, Hkv, D]");
  }
  if (k_cache.dims != v_cache.dims || k_cache.dtype != v_cache.dtype) {
    return Invalid(kOp, "k and v caches differ in shape or dtype");
  }
  if (k_cache.dim(0) != q.dim(0) || k_cache.dim(3) != q.dim(2) || k_cache.dim(2) < 1 ||
      q.dim(1) % k_cache.dim(2) != 0) {
    return Invalid(kOp, "q [B, Hq, D] and caches [B, Tmax, Hkv, D] disagree on B, D or the head grouping");
  }
  if (length < 1 || length > k_cache.dim(1)) {
    return Invalid(kOp, absl::StrCat("length ", length, " outside [1, ", k_cache.dim(1), "]"));
  }
  LB_RETURN_IF_ERROR(F32Numel(kOp, "out", out, q.numel()));
  return AttentionDecodeImpl(q, k_cache, v_cache, length, out);
}

absl::Status Backend::Softmax(const Tensor& x, Tensor out) {
  LB_RETURN_IF_ERROR(F32("Softmax", "x", x));
  LB_RETURN_IF_ERROR(F32Numel("Softmax", "out", out, x.numel()));
  return SoftmaxImpl(x, out);
}

// ---- MLP ---------------------------------------------------------------------------------
absl::Status Backend::SwiGluForward(const Tensor& gate, const Tensor& up, Tensor out) {
  LB_RETURN_IF_ERROR(Present("SwiGluForward", "gate", gate));
  LB_RETURN_IF_ERROR(SameNumel("SwiGluForward", "up", up, gate, "gate", gate.numel()));
  LB_RETURN_IF_ERROR(SameNumel("SwiGluForward", "out", out, gate, "gate", gate.numel()));
  return SwiGluForwardImpl(gate, up, out);
}

absl::Status Backend::SwiGluBackward(const Tensor& d_out, const Tensor& gate, const Tensor& up, Tensor d_gate,
                                     Tensor d_up) {
  constexpr absl::string_view kOp = "SwiGluBackward";
  LB_RETURN_IF_ERROR(Present(kOp, "gate", gate));
  LB_RETURN_IF_ERROR(Numel(kOp, "d_out", d_out, gate.numel()));
  LB_RETURN_IF_ERROR(SameNumel(kOp, "up", up, gate, "gate", gate.numel()));
  LB_RETURN_IF_ERROR(SameNumel(kOp, "d_gate", d_gate, d_out, "d_out", gate.numel()));
  LB_RETURN_IF_ERROR(SameNumel(kOp, "d_up", d_up, d_out, "d_out", gate.numel()));
  return SwiGluBackwardImpl(d_out, gate, up, d_gate, d_up);
}

// ---- GEMM ----------------------------------------------------------------------------------
absl::Status Backend::Gemm(bool trans_a, bool trans_b, float alpha, const Tensor& a, const Tensor& b, float beta,
                           Tensor c, Tensor workspace) {
  LB_RETURN_IF_ERROR(Present("Gemm", "a", a));
  LB_RETURN_IF_ERROR(Present("Gemm", "b", b));
  LB_RETURN_IF_ERROR(Present("Gemm", "c", c));
  const std::int64_t m = trans_a ? a.cols() : a.rows(), k = trans_a ? a.rows() : a.cols();
  const std::int64_t kb = trans_b ? b.cols() : b.rows(), n = trans_b ? b.rows() : b.cols();
  if (k != kb || c.rows() != m || c.cols() != n) {
    return Invalid("Gemm", absl::StrCat("op(A) is ", m, "x", k, ", op(B) is ", kb, "x", n, ", C is ", c.rows(),
                                        "x", c.cols()));
  }
  return GemmImpl(trans_a, trans_b, alpha, a, b, beta, c, workspace);
}

// ---- loss and sampling -----------------------------------------------------------------------
absl::Status Backend::CrossEntropy(const Tensor& logits, const std::int32_t* targets, Tensor losses,
                                   Tensor d_logits, float grad_scale) {
  constexpr absl::string_view kOp = "CrossEntropy";
  LB_RETURN_IF_ERROR(F32(kOp, "logits", logits));
  if (logits.cols() < 1) return Invalid(kOp, "empty vocabulary");
  LB_RETURN_IF_ERROR(F32Numel(kOp, "losses", losses, logits.rows()));
  if (d_logits.present()) LB_RETURN_IF_ERROR(F32Numel(kOp, "d_logits", d_logits, logits.numel()));
  LB_RETURN_IF_ERROR(CheckIndices(kOp, "targets", targets, logits.rows(), logits.cols()));
  return CrossEntropyImpl(logits, targets, losses, d_logits, grad_scale);
}

absl::Status Backend::Argmax(const Tensor& x, std::int32_t* out) {
  LB_RETURN_IF_ERROR(F32("Argmax", "x", x));
  if (x.cols() < 1) return Invalid("Argmax", "x has no columns");
  if (out == nullptr && x.rows() > 0) return Invalid("Argmax", "out is null");
  return ArgmaxImpl(x, out);
}

// ---- optimiser ----------------------------------------------------------------------------------
absl::Status Backend::AdamW(Tensor param, const Tensor& grad, Tensor m, Tensor v, const AdamWParams& params) {
  constexpr absl::string_view kOp = "AdamW";
  LB_RETURN_IF_ERROR(Present(kOp, "param", param));
  LB_RETURN_IF_ERROR(Numel(kOp, "grad", grad, param.numel()));
  LB_RETURN_IF_ERROR(F32Numel(kOp, "m", m, param.numel()));
  LB_RETURN_IF_ERROR(F32Numel(kOp, "v", v, param.numel()));
  if (params.step < 1) return Invalid(kOp, absl::StrCat("step is 1-based, is ", params.step));
  return AdamWImpl(param, grad, m, v, params);
}

}  // namespace localbench::kernels
