// The op interface a workload calls (ggml-style backend).
//
// Every pointer is a device pointer in the backend's device memory; a
// workload calls only these ops and Device copies, never dereferences a
// tensor on the host, so the same workload code drives the CPU, CUDA and HIP.
// Ops run in the device's queue order and may be asynchronous; asynchronous
// faults come back from Device::Synchronize.
//
// One contract per op: each public op below is non-virtual; it checks shapes,
// dtypes and indices once for every backend (backend.cc) and then calls the
// backend's protected <Op>Impl. Invalid arguments are InvalidArgument with
// the same text on every backend. Indices in device memory (token ids,
// targets) are checked before the op where the host can read them (the CPU);
// a GPU's kernels report the first bad one instead of trapping, and the next
// synchronisation returns the same InvalidArgument with the device usable.
//
// Dtype rules (keep every backend simple and the CPU reference exact):
// "parameter-like" operands (weights, biases, norm weights, embedding tables,
// KV caches, weight gradients, AdamW parameters) may be f32, f16 or bf16.
// Training activations and their gradients may be too (a 16-bit training
// run keeps its working set in its own type, issue 13): within one op the
// activations share one dtype and their gradients share one dtype, as each
// op says. Always fp32, where numerics need it: RMSNorm's rstd and the
// residual gradient d_x it accumulates into, attention's lse, the logits,
// losses and d_logits of CrossEntropy, Softmax, Argmax, EmbeddingBackward's
// d_out and the inference-only ops (KvCacheWrite's src, AttentionDecode's q
// and out). GEMM accepts any dtype for A, B and C. Compute and accumulation
// are fp32 everywhere; 16-bit outputs are rounded once, when stored.
//
// Shapes: B batch, T sequence, Hq query heads, Hkv key/value heads, D head
// dim, H hidden width, V vocabulary, N rows (tokens, B*T).
//
// "Accumulates into" means out += result; otherwise outputs are overwritten.
#pragma once

#include <cstdint>
#include <optional>
#include <string>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "localbench/kernels/device.h"
#include "localbench/kernels/quant.h"
#include "localbench/kernels/tensor.h"

namespace localbench::kernels {

// Hyper-parameters and step of one AdamW update.
struct AdamWParams {
  float learning_rate = 1e-3f;
  float beta1 = 0.9f;
  float beta2 = 0.999f;
  float epsilon = 1e-8f;
  float weight_decay = 0.0f;  // decoupled, multiplied by the learning rate
  std::int64_t step = 1;      // 1-based, for bias correction
};

// Bytes of workspace Backend::Gemm may use for these operands: an fp32 copy
// of A if A is low precision, plus one panel of GemmPanelColumns columns of
// op(B) (K floats per column) and of C (M floats per column) for whichever of
// B and C is low precision. The memory plan reserves the maximum over a
// workload's GEMMs; every backend must work within it (a backend that
// converts nothing simply ignores it).
std::uint64_t GemmWorkspaceBytes(std::int64_t m, std::int64_t n, std::int64_t k, DType a, DType b,
                                 DType c);
// Columns of C per converted panel: as many as fit in kGemmPanelBudgetBytes
// (at least 64, at most n), so whole projection weights convert at once and
// only vocabulary-sized matrices are split.
std::int64_t GemmPanelColumns(std::int64_t m, std::int64_t n, std::int64_t k, DType b, DType c);
// fp32 bytes of one B + C panel.
inline constexpr std::uint64_t kGemmPanelBudgetBytes = std::uint64_t{64} << 20;

// What the device's management library says about this process right now.
// Absent means "not known" (no NVML / rocm-smi, or the driver would not
// tell), never 0: a real 0 (no throttling) must stay distinguishable.
struct DeviceTelemetry {
  std::optional<std::uint64_t> process_memory_bytes;  // device memory this process holds
  std::optional<std::uint32_t> sm_clock_mhz;          // current graphics/SM clock
  std::optional<std::uint64_t> throttle_reasons;      // NVML clocks-event reason bits
  // Other processes holding memory on this device, from NVML's process
  // lists (compute and graphics) where the driver allows: how many and
  // their sum. Absent when the list is not available.
  std::optional<std::uint32_t> other_process_count;
  std::optional<std::uint64_t> other_process_bytes;
};

// The error every backend returns for an index outside [0, limit): "op:
// field[row] = value outside [0, limit)".
absl::Status IndexOutOfRange(absl::string_view op, absl::string_view field, std::int64_t row, std::int64_t value,
                             std::int64_t limit);

// The ops of one device. Implementations: CpuBackend (cpu_backend.h), and
// the CUDA/HIP backends in kernels/gpu/.
class Backend {
 public:
  virtual ~Backend() = default;

  // The device whose memory every tensor lives in.
  virtual Device& device() = 0;
  // Stable identifier, e.g. "cpu", "cuda:0".
  virtual std::string name() const = 0;
  // Samples process memory, clock and throttle state (the third of the three
  // peak-memory measurements). The default knows nothing.
  virtual DeviceTelemetry SampleTelemetry() { return {}; }
  // True once a kernel fault has made the device unusable for the rest of
  // this process (sticky on CUDA: every later call fails). RunSweep stops at
  // the first point after which this is true. The CPU never faults.
  virtual bool faulted() const { return false; }

  // ---- fills and element-wise -------------------------------------------
  // x[i] = value.
  absl::Status Fill(Tensor x, float value);
  // x[i] = uniform in [-scale, scale) from a counter-based hash of (seed, i):
  // identical on every backend, independent of threading.
  absl::Status FillRandomUniform(Tensor x, std::uint64_t seed, float scale);
  // dst = src converted to dst.dtype (same numel; rounding to nearest even).
  absl::Status Convert(const Tensor& src, Tensor dst);
  // y += alpha * x (same numel; y may be low precision, x any dtype).
  absl::Status Axpy(float alpha, const Tensor& x, Tensor y);
  // x *= alpha.
  absl::Status Scale(Tensor x, float alpha);
  // x[n, c] += bias[c]; x [N, C] any dtype, bias [C].
  absl::Status AddBias(Tensor x, const Tensor& bias);
  // d_bias[c] += sum_n d_out[n, c] (accumulates); d_out any dtype.
  absl::Status BiasBackward(const Tensor& d_out, Tensor d_bias);

  // ---- embedding ---------------------------------------------------------
  // out[n, :] = table[ids[n], :]; table [V, H], ids int32[N] (device), out [N, H]
  // (any dtype).
  // An id outside [0, V) is InvalidArgument (IndexOutOfRange) everywhere.
  absl::Status EmbeddingForward(const Tensor& table, const std::int32_t* ids, Tensor out);
  // d_table[ids[n], :] += d_out[n, :] (accumulates; deterministic order).
  absl::Status EmbeddingBackward(const Tensor& d_out, const std::int32_t* ids,
                                 Tensor d_table);

  // ---- RMSNorm -----------------------------------------------------------
  // out = x * rstd * weight with rstd[n] = 1/sqrt(mean(x[n,:]^2) + eps),
  // saved for the backward. x, out [N, H] one dtype (any); weight [H]; rstd
  // [N] fp32.
  absl::Status RmsNormForward(const Tensor& x, const Tensor& weight, float eps, Tensor out,
                              Tensor rstd);
  // d_x (fp32) accumulates the input gradient (it is the residual stream's
  // gradient, summed over every layer); d_weight accumulates if present
  // (absent when frozen). x and d_out may have any dtypes.
  absl::Status RmsNormBackward(const Tensor& d_out, const Tensor& x, const Tensor& weight,
                               const Tensor& rstd, Tensor d_x, Tensor d_weight);

  // ---- rotary position embedding (rotate-half pairing, as Llama/Qwen) -------
  // Rotates x [N, heads, D] (any dtype) in place. Row n has position
  // position_offset + n % seq_len (seq_len = T for [B, T] rows, 1 for decode).
  absl::Status RopeForward(Tensor x, std::int64_t seq_len, std::int64_t position_offset,
                           float theta);
  // The gradient of RopeForward: rotates d_x in place by the opposite angle.
  absl::Status RopeBackward(Tensor d_x, std::int64_t seq_len, std::int64_t position_offset,
                            float theta);

  // ---- attention -----------------------------------------------------------
  // Causal grouped-query attention over a whole sequence, scale 1/sqrt(D).
  // q [B, T, Hq, D], k/v [B, T, Hkv, D], out [B, T, Hq, D], one dtype (any);
  // lse [B, Hq, T] fp32 receives each row's log-sum-exp of scaled scores,
  // which is all the backward needs (no T x T matrix is stored).
  absl::Status AttentionForward(const Tensor& q, const Tensor& k, const Tensor& v,
                                Tensor out, Tensor lse);
  // Gradients of AttentionForward; d_q, d_k, d_v are overwritten. d_out,
  // d_q, d_k, d_v share one dtype (any), q, k, v, out another.
  absl::Status AttentionBackward(const Tensor& q, const Tensor& k, const Tensor& v,
                                 const Tensor& out, const Tensor& lse, const Tensor& d_out,
                                 Tensor d_q, Tensor d_k, Tensor d_v);
  // Writes src [B, T, Hkv, D] (fp32) into cache [B, Tmax, Hkv, D] at
  // positions [position, position + T) of every sequence.
  absl::Status KvCacheWrite(const Tensor& src, Tensor cache, std::int64_t position);
  // One query token per sequence against the first `length` cached positions:
  // q [B, Hq, D] fp32, caches [B, Tmax, Hkv, D], out [B, Hq, D] fp32.
  absl::Status AttentionDecode(const Tensor& q, const Tensor& k_cache,
                               const Tensor& v_cache, std::int64_t length, Tensor out);
  // Row-wise softmax: out[n, :] = softmax(x[n, :]); both [N, C] fp32.
  absl::Status Softmax(const Tensor& x, Tensor out);

  // ---- MLP -------------------------------------------------------------------
  // out = silu(gate) * up; all [N, I], one dtype (any).
  absl::Status SwiGluForward(const Tensor& gate, const Tensor& up, Tensor out);
  // d_gate, d_up overwritten; d_out, d_gate, d_up one dtype, gate and up
  // another (any).
  absl::Status SwiGluBackward(const Tensor& d_out, const Tensor& gate, const Tensor& up,
                              Tensor d_gate, Tensor d_up);

  // ---- GEMM --------------------------------------------------------------------
  // C = alpha * op(A) * op(B) + beta * C with fp32 accumulation. Each operand
  // is a row-major matrix (tensor rows() x cols()); op(X) is X or X^T.
  // op(A) is [M, K], op(B) is [K, N], C is [M, N]. `workspace` holds at least
  // GemmWorkspaceBytes(M, N, K, ...) bytes (absent when that is 0). beta == 0
  // ignores C's old contents (NaN included).
  absl::Status Gemm(bool trans_a, bool trans_b, float alpha, const Tensor& a,
                    const Tensor& b, float beta, Tensor c, Tensor workspace);

  // ---- loss and sampling ---------------------------------------------------------
  // Cross-entropy over the vocabulary for logits [N, V] fp32 and int32
  // targets[N] (device): losses[n] = logsumexp(logits[n]) - logits[n, t].
  // If d_logits is present it receives grad_scale * (softmax - onehot);
  // it may alias logits (in place), which saves the [N, V] buffer.
  absl::Status CrossEntropy(const Tensor& logits, const std::int32_t* targets,
                            Tensor losses, Tensor d_logits, float grad_scale);
  // out[n] = argmax_v x[n, v] (lowest index on ties); x [N, V] fp32, out int32[N].
  absl::Status Argmax(const Tensor& x, std::int32_t* out);

  // ---- optimiser ---------------------------------------------------------------------
  // AdamW on one parameter tensor: m, v fp32 (same numel); param and grad
  // any dtype. Decoupled weight decay: p -= lr * (wd * p + mhat/(sqrt(vhat)+eps)).
  absl::Status AdamW(Tensor param, const Tensor& grad, Tensor m, Tensor v,
                     const AdamWParams& params);

  // ---- quantized weights (issue 15; kernels/src/quant/quant_backend.cc) --------
  // A product through a quantized weight W [n, k] (QuantizedBytes(format, n,
  // k) bytes at `w`) with fp32 activations. trans_w: y[M, n] = x[M, k] W^T +
  // beta y (forward); otherwise y[M, k] = x[M, n] W + beta y (the backward
  // through a frozen base). `workspace` holds at least
  // QuantLinearWorkspaceBytes(trans_w, M, n, k) bytes (absent when 0).
  absl::Status QuantLinear(QuantFormat format, bool trans_w, const Tensor& x, const void* w, std::int64_t n,
                           std::int64_t k, float beta, Tensor y, Tensor workspace);
  // Stores at `w` the values FillRandomUniform(seed, scale) gives an fp32
  // [rows, cols] tensor, quantized to `format` (round to nearest level).
  absl::Status FillRandomQuantized(QuantFormat format, void* w, std::int64_t rows, std::int64_t cols,
                                   std::uint64_t seed, float scale);

 protected:
  // Quantized weights: Unimplemented unless a backend overrides them (the GPU
  // backends have no quantized kernels yet).
  virtual absl::Status QuantLinearImpl(QuantFormat format, bool trans_w, const Tensor& x, const void* w,
                                       std::int64_t n, std::int64_t k, float beta, Tensor y, Tensor workspace);
  virtual absl::Status FillRandomQuantizedImpl(QuantFormat format, void* w, std::int64_t rows, std::int64_t cols,
                                               std::uint64_t seed, float scale);

  // ---- implementations --------------------------------------------------------
  // Each runs after the public op of the same name has checked every shape,
  // dtype and host-visible index (backend.cc); it may assume them.
  virtual absl::Status FillImpl(Tensor x, float value) = 0;
  virtual absl::Status FillRandomUniformImpl(Tensor x, std::uint64_t seed, float scale) = 0;
  virtual absl::Status ConvertImpl(const Tensor& src, Tensor dst) = 0;
  virtual absl::Status AxpyImpl(float alpha, const Tensor& x, Tensor y) = 0;
  virtual absl::Status ScaleImpl(Tensor x, float alpha) = 0;
  virtual absl::Status AddBiasImpl(Tensor x, const Tensor& bias) = 0;
  virtual absl::Status BiasBackwardImpl(const Tensor& d_out, Tensor d_bias) = 0;
  virtual absl::Status EmbeddingForwardImpl(const Tensor& table, const std::int32_t* ids, Tensor out) = 0;
  virtual absl::Status EmbeddingBackwardImpl(const Tensor& d_out, const std::int32_t* ids, Tensor d_table) = 0;
  virtual absl::Status RmsNormForwardImpl(const Tensor& x, const Tensor& weight, float eps, Tensor out,
                                          Tensor rstd) = 0;
  virtual absl::Status RmsNormBackwardImpl(const Tensor& d_out, const Tensor& x, const Tensor& weight,
                                           const Tensor& rstd, Tensor d_x, Tensor d_weight) = 0;
  virtual absl::Status RopeForwardImpl(Tensor x, std::int64_t seq_len, std::int64_t position_offset,
                                       float theta) = 0;
  virtual absl::Status RopeBackwardImpl(Tensor d_x, std::int64_t seq_len, std::int64_t position_offset,
                                        float theta) = 0;
  virtual absl::Status AttentionForwardImpl(const Tensor& q, const Tensor& k, const Tensor& v, Tensor out,
                                            Tensor lse) = 0;
  virtual absl::Status AttentionBackwardImpl(const Tensor& q, const Tensor& k, const Tensor& v,
                                             const Tensor& out, const Tensor& lse, const Tensor& d_out,
                                             Tensor d_q, Tensor d_k, Tensor d_v) = 0;
  virtual absl::Status KvCacheWriteImpl(const Tensor& src, Tensor cache, std::int64_t position) = 0;
  virtual absl::Status AttentionDecodeImpl(const Tensor& q, const Tensor& k_cache, const Tensor& v_cache,
                                           std::int64_t length, Tensor out) = 0;
  virtual absl::Status SoftmaxImpl(const Tensor& x, Tensor out) = 0;
  virtual absl::Status SwiGluForwardImpl(const Tensor& gate, const Tensor& up, Tensor out) = 0;
  virtual absl::Status SwiGluBackwardImpl(const Tensor& d_out, const Tensor& gate, const Tensor& up,
                                          Tensor d_gate, Tensor d_up) = 0;
  virtual absl::Status GemmImpl(bool trans_a, bool trans_b, float alpha, const Tensor& a, const Tensor& b,
                                float beta, Tensor c, Tensor workspace) = 0;
  virtual absl::Status CrossEntropyImpl(const Tensor& logits, const std::int32_t* targets, Tensor losses,
                                        Tensor d_logits, float grad_scale) = 0;
  virtual absl::Status ArgmaxImpl(const Tensor& x, std::int32_t* out) = 0;
  virtual absl::Status AdamWImpl(Tensor param, const Tensor& grad, Tensor m, Tensor v,
                                 const AdamWParams& params) = 0;

 private:
  // The index check of the contract: ids[0, n) in [0, limit), read on the
  // host where the device's memory is host memory (backend.cc).
  absl::Status CheckIndices(absl::string_view op, absl::string_view field, const std::int32_t* ids,
                            std::int64_t n, std::int64_t limit);
};

}  // namespace localbench::kernels
