// A real CPU backend wrapped so that it faults on purpose, the way a GPU
// does: after a chosen number of Device::Synchronize calls the next one
// reports InternalError (a kernel fault surfaces at synchronisation), the
// backend marks itself faulted, and every later device or backend call fails
// with FailedPrecondition, as the sticky CUDA context does. Until then every
// call is the CPU backend's own, so the sweeps before the fault are real.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <utility>

#include "absl/status/status.h"
#include "localbench/kernels/backend.h"
#include "localbench/kernels/cpu_backend.h"

namespace localbench::agent::testing {

// Shared by the device and the backend: how many syncs so far, when to fail.
struct FaultState {
  std::int64_t syncs = 0;
  std::int64_t fail_at_sync = -1;  // 1-based sync that faults; -1: never
  bool faulted = false;
  std::string fault = "injected fault: an illegal memory access was encountered";
  // Called at every synchronisation before the fault (a test looks at the
  // state directory while a run is in progress).
  std::function<void(std::int64_t sync)> on_sync;
};

// The CPU device with the fault injected at Synchronize.
class FaultingDevice final : public kernels::Device {
 public:
  FaultingDevice(kernels::Device& inner, FaultState& state) : inner_(inner), state_(state) {}

  kernels::DeviceKind kind() const override { return inner_.kind(); }
  const kernels::DeviceInfo& info() const override { return inner_.info(); }
  absl::StatusOr<void*> Allocate(std::uint64_t bytes) override {
    if (state_.faulted) return Poisoned();
    return inner_.Allocate(bytes);
  }
  void Free(void* ptr) override { inner_.Free(ptr); }
  absl::Status CopyHostToDevice(void* dst, const void* src, std::uint64_t bytes) override {
    if (state_.faulted) return Poisoned();
    return inner_.CopyHostToDevice(dst, src, bytes);
  }
  absl::Status CopyDeviceToHost(void* dst, const void* src, std::uint64_t bytes) override {
    if (state_.faulted) return Poisoned();
    return inner_.CopyDeviceToHost(dst, src, bytes);
  }
  absl::Status CopyDeviceToDevice(void* dst, const void* src, std::uint64_t bytes) override {
    if (state_.faulted) return Poisoned();
    return inner_.CopyDeviceToDevice(dst, src, bytes);
  }
  absl::Status Synchronize() override {
    if (state_.faulted) return Poisoned();
    ++state_.syncs;
    if (state_.on_sync) state_.on_sync(state_.syncs);
    if (state_.syncs == state_.fail_at_sync) {
      state_.faulted = true;
      return absl::InternalError(state_.fault);
    }
    return inner_.Synchronize();
  }
  absl::StatusOr<std::unique_ptr<kernels::Timer>> CreateTimer() override {
    if (state_.faulted) return Poisoned();
    return inner_.CreateTimer();
  }
  absl::StatusOr<kernels::MemoryInfo> GetMemoryInfo() override {
    if (state_.faulted) return Poisoned();
    return inner_.GetMemoryInfo();
  }

  // What every call returns once faulted (the GPU backend's wording).
  absl::Status Poisoned() const {
    return absl::FailedPreconditionError("faulted earlier (" + state_.fault + "); restart the process");
  }

 private:
  kernels::Device& inner_;
  FaultState& state_;
};

// The CPU backend behind FaultingDevice; every op fails once faulted.
class FaultingBackend final : public kernels::Backend {
 public:
  // Faults at the `fail_at_sync`-th synchronisation (-1: never).
  FaultingBackend(const kernels::CpuDeviceOptions& options, std::int64_t fail_at_sync)
      : inner_(options), device_(inner_.device(), state_) {
    state_.fail_at_sync = fail_at_sync;
  }

  kernels::Device& device() override { return device_; }
  std::string name() const override { return inner_.name(); }
  // The CPU's own telemetry, or the one a test set (a GPU-like source).
  kernels::DeviceTelemetry SampleTelemetry() override {
    return telemetry_ ? *telemetry_ : inner_.SampleTelemetry();
  }
  void set_telemetry(const kernels::DeviceTelemetry& t) { telemetry_ = t; }
  bool faulted() const override { return state_.faulted; }
  // Synchronisations so far (to place the fault in a chosen sweep).
  std::int64_t syncs() const { return state_.syncs; }
  void set_fail_at_sync(std::int64_t n) { state_.fail_at_sync = n; }
  void set_on_sync(std::function<void(std::int64_t)> f) { state_.on_sync = std::move(f); }

// The ops: the contract (Backend) has checked the arguments; each forwards
// to the CPU backend unless faulted.
#define LB_FORWARD(call)                           \
  if (state_.faulted) return device_.Poisoned();   \
  return inner_.call
  absl::Status FillImpl(kernels::Tensor x, float value) override { LB_FORWARD(Fill(x, value)); }
  absl::Status FillRandomUniformImpl(kernels::Tensor x, std::uint64_t seed, float scale) override {
    LB_FORWARD(FillRandomUniform(x, seed, scale));
  }
  absl::Status ConvertImpl(const kernels::Tensor& src, kernels::Tensor dst) override { LB_FORWARD(Convert(src, dst)); }
  absl::Status AxpyImpl(float alpha, const kernels::Tensor& x, kernels::Tensor y) override {
    LB_FORWARD(Axpy(alpha, x, y));
  }
  absl::Status ScaleImpl(kernels::Tensor x, float alpha) override { LB_FORWARD(Scale(x, alpha)); }
  absl::Status AddBiasImpl(kernels::Tensor x, const kernels::Tensor& bias) override { LB_FORWARD(AddBias(x, bias)); }
  absl::Status BiasBackwardImpl(const kernels::Tensor& d_out, kernels::Tensor d_bias) override {
    LB_FORWARD(BiasBackward(d_out, d_bias));
  }
  absl::Status EmbeddingForwardImpl(const kernels::Tensor& table, const std::int32_t* ids,
                                kernels::Tensor out) override {
    LB_FORWARD(EmbeddingForward(table, ids, out));
  }
  absl::Status EmbeddingBackwardImpl(const kernels::Tensor& d_out, const std::int32_t* ids,
                                 kernels::Tensor d_table) override {
    LB_FORWARD(EmbeddingBackward(d_out, ids, d_table));
  }
  absl::Status RmsNormForwardImpl(const kernels::Tensor& x, const kernels::Tensor& weight, float eps,
                              kernels::Tensor out, kernels::Tensor rstd) override {
    LB_FORWARD(RmsNormForward(x, weight, eps, out, rstd));
  }
  absl::Status RmsNormBackwardImpl(const kernels::Tensor& d_out, const kernels::Tensor& x,
                               const kernels::Tensor& weight, const kernels::Tensor& rstd, kernels::Tensor d_x,
                               kernels::Tensor d_weight) override {
    LB_FORWARD(RmsNormBackward(d_out, x, weight, rstd, d_x, d_weight));
  }
  absl::Status RopeForwardImpl(kernels::Tensor x, std::int64_t seq_len, std::int64_t position_offset,
                           float theta) override {
    LB_FORWARD(RopeForward(x, seq_len, position_offset, theta));
  }
  absl::Status RopeBackwardImpl(kernels::Tensor d_x, std::int64_t seq_len, std::int64_t position_offset,
                            float theta) override {
    LB_FORWARD(RopeBackward(d_x, seq_len, position_offset, theta));
  }
  absl::Status AttentionForwardImpl(const kernels::Tensor& q, const kernels::Tensor& k, const kernels::Tensor& v,
                                kernels::Tensor out, kernels::Tensor lse) override {
    LB_FORWARD(AttentionForward(q, k, v, out, lse));
  }
  absl::Status AttentionBackwardImpl(const kernels::Tensor& q, const kernels::Tensor& k, const kernels::Tensor& v,
                                 const kernels::Tensor& out, const kernels::Tensor& lse,
                                 const kernels::Tensor& d_out, kernels::Tensor d_q, kernels::Tensor d_k,
                                 kernels::Tensor d_v) override {
    LB_FORWARD(AttentionBackward(q, k, v, out, lse, d_out, d_q, d_k, d_v));
  }
  absl::Status KvCacheWriteImpl(const kernels::Tensor& src, kernels::Tensor cache, std::int64_t position) override {
    LB_FORWARD(KvCacheWrite(src, cache, position));
  }
  absl::Status AttentionDecodeImpl(const kernels::Tensor& q, const kernels::Tensor& k_cache,
                               const kernels::Tensor& v_cache, std::int64_t length, kernels::Tensor out) override {
    LB_FORWARD(AttentionDecode(q, k_cache, v_cache, length, out));
  }
  absl::Status SoftmaxImpl(const kernels::Tensor& x, kernels::Tensor out) override { LB_FORWARD(Softmax(x, out)); }
  absl::Status SwiGluForwardImpl(const kernels::Tensor& gate, const kernels::Tensor& up, kernels::Tensor out) override {
    LB_FORWARD(SwiGluForward(gate, up, out));
  }
  absl::Status SwiGluBackwardImpl(const kernels::Tensor& d_out, const kernels::Tensor& gate, const kernels::Tensor& up,
                              kernels::Tensor d_gate, kernels::Tensor d_up) override {
    LB_FORWARD(SwiGluBackward(d_out, gate, up, d_gate, d_up));
  }
  absl::Status GemmImpl(bool trans_a, bool trans_b, float alpha, const kernels::Tensor& a, const kernels::Tensor& b,
                    float beta, kernels::Tensor c, kernels::Tensor workspace) override {
    LB_FORWARD(Gemm(trans_a, trans_b, alpha, a, b, beta, c, workspace));
  }
  absl::Status CrossEntropyImpl(const kernels::Tensor& logits, const std::int32_t* targets, kernels::Tensor losses,
                            kernels::Tensor d_logits, float grad_scale) override {
    LB_FORWARD(CrossEntropy(logits, targets, losses, d_logits, grad_scale));
  }
  absl::Status ArgmaxImpl(const kernels::Tensor& x, std::int32_t* out) override { LB_FORWARD(Argmax(x, out)); }
  absl::Status AdamWImpl(kernels::Tensor param, const kernels::Tensor& grad, kernels::Tensor m, kernels::Tensor v,
                     const kernels::AdamWParams& params) override {
    LB_FORWARD(AdamW(param, grad, m, v, params));
  }
#undef LB_FORWARD

 private:
  FaultState state_;
  std::optional<kernels::DeviceTelemetry> telemetry_;
  kernels::CpuBackend inner_;
  FaultingDevice device_;
};

}  // namespace localbench::agent::testing
