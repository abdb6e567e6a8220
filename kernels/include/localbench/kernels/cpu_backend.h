// The CPU reference backend: fp32 compute over host memory, multi-threaded
// with static partitioning (results do not depend on the thread count's
// scheduling), GEMM through OpenBLAS sgemm, and a fused GEMV that reads
// bf16/fp16 weights directly for decode. Constructing one sets OpenBLAS to
// one thread process-wide: the backend's own pool splits every GEMM, and a
// second spinning pool on the same cores halves throughput.
#pragma once

#include <memory>
#include <string>

#include "localbench/kernels/backend.h"
#include "localbench/kernels/device.h"

namespace localbench::kernels {

class ThreadPool;

// Backend over a CpuDevice it owns.
class CpuBackend final : public Backend {
 public:
  explicit CpuBackend(const CpuDeviceOptions& options = {});
  ~CpuBackend() override;

  Device& device() override { return *device_; }
  // The device, with its CPU-only extras (memory limit, threads).
  CpuDevice& cpu_device() { return *device_; }
  std::string name() const override { return "cpu"; }
  // The CPU device's own accounting stands in for NVML: the bytes this
  // process holds on the device now. No clocks or throttle state.
  DeviceTelemetry SampleTelemetry() override;

 protected:
  // The ops, one file per family (kernels/src/cpu/<family>.cc); the public
  // Backend ops check their arguments first (kernels/src/backend.cc).
  absl::Status FillImpl(Tensor x, float value) override;
  absl::Status FillRandomUniformImpl(Tensor x, std::uint64_t seed, float scale) override;
  absl::Status ConvertImpl(const Tensor& src, Tensor dst) override;
  absl::Status AxpyImpl(float alpha, const Tensor& x, Tensor y) override;
  absl::Status ScaleImpl(Tensor x, float alpha) override;
  absl::Status AddBiasImpl(Tensor x, const Tensor& bias) override;
  absl::Status BiasBackwardImpl(const Tensor& d_out, Tensor d_bias) override;
  absl::Status EmbeddingForwardImpl(const Tensor& table, const std::int32_t* ids, Tensor out) override;
  absl::Status EmbeddingBackwardImpl(const Tensor& d_out, const std::int32_t* ids, Tensor d_table) override;
  absl::Status RmsNormForwardImpl(const Tensor& x, const Tensor& weight, float eps, Tensor out,
                                  Tensor rstd) override;
  absl::Status RmsNormBackwardImpl(const Tensor& d_out, const Tensor& x, const Tensor& weight,
                                   const Tensor& rstd, Tensor d_x, Tensor d_weight) override;
  absl::Status RopeForwardImpl(Tensor x, std::int64_t seq_len, std::int64_t position_offset,
                               float theta) override;
  absl::Status RopeBackwardImpl(Tensor d_x, std::int64_t seq_len, std::int64_t position_offset,
                                float theta) override;
  absl::Status AttentionForwardImpl(const Tensor& q, const Tensor& k, const Tensor& v, Tensor out,
                                    Tensor lse) override;
  absl::Status AttentionBackwardImpl(const Tensor& q, const Tensor& k, const Tensor& v,
                                     const Tensor& out, const Tensor& lse, const Tensor& d_out, Tensor d_q,
                                     Tensor d_k, Tensor d_v) override;
  absl::Status KvCacheWriteImpl(const Tensor& src, Tensor cache, std::int64_t position) override;
  absl::Status AttentionDecodeImpl(const Tensor& q, const Tensor& k_cache, const Tensor& v_cache,
                                   std::int64_t length, Tensor out) override;
  absl::Status SoftmaxImpl(const Tensor& x, Tensor out) override;
  absl::Status SwiGluForwardImpl(const Tensor& gate, const Tensor& up, Tensor out) override;
  absl::Status SwiGluBackwardImpl(const Tensor& d_out, const Tensor& gate, const Tensor& up,
                                  Tensor d_gate, Tensor d_up) override;
  absl::Status GemmImpl(bool trans_a, bool trans_b, float alpha, const Tensor& a, const Tensor& b,
                        float beta, Tensor c, Tensor workspace) override;
  absl::Status CrossEntropyImpl(const Tensor& logits, const std::int32_t* targets, Tensor losses,
                                Tensor d_logits, float grad_scale) override;
  absl::Status ArgmaxImpl(const Tensor& x, std::int32_t* out) override;
  absl::Status AdamWImpl(Tensor param, const Tensor& grad, Tensor m, Tensor v,
                         const AdamWParams& params) override;
  // Quantized weights (kernels/src/cpu/quant_backend.cc).
  absl::Status QuantLinearImpl(QuantFormat format, bool trans_w, const Tensor& x, const void* w, std::int64_t n,
                               std::int64_t k, float beta, Tensor y, Tensor workspace) override;
  absl::Status FillRandomQuantizedImpl(QuantFormat format, void* w, std::int64_t rows, std::int64_t cols,
                                       std::uint64_t seed, float scale) override;

 private:
  std::unique_ptr<CpuDevice> device_;
  std::unique_ptr<ThreadPool> pool_;
};

}  // namespace localbench::kernels
