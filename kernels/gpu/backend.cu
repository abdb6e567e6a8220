// The CUDA / HIP backend's op dispatch: each <Op>Impl (arguments already
// checked by the contract, kernels/src/backend.cc) launches the kernels of
// its family (kernels/gpu/<family>.cu), and GEMM picks its path (vendor,
// portable, SIMT; staging of mixed-precision operands). The context, device
// memory and timing, and graphs live in context.cu, device.cu and graph.cu.
// Compiled twice from this source: localbench::kernels::cuda and ::hip.
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "context.cuh"
#include "gemm.cuh"
#include "localbench/kernels/gpu/gpu_backend.h"
#include "localbench/kernels/gpu_discovery.h"
#include "ops.cuh"
#include "quant.cuh"
#include "smi.h"
#include "status_macros.h"

namespace localbench::kernels::LB_GPU_NS {
namespace {

#if !LB_GPU_IS_HIP
// cuBLASLt workspace: what NVIDIA recommends for Hopper.
constexpr std::size_t kLtWorkspaceBytes = 32u << 20;
#endif

Elem ToElem(DType d) {
  switch (d) {
    case DType::kBF16:
      return Elem::kBF16;
    case DType::kF16:
      return Elem::kF16;
    case DType::kF32:
      break;
  }
  return Elem::kF32;
}

absl::Status Bad(const char* op, const std::string& what) {
  return absl::InvalidArgumentError(std::string(op) + ": " + what);
}
float* F(const Tensor& t) { return static_cast<float*>(t.data); }
const float* CF(const Tensor& t) { return static_cast<const float*>(t.data); }
// An activation that may be 16-bit (training's working set, backend.h).
DevBuf B(const Tensor& t) { return DevBuf{t.data, ToElem(t.dtype)}; }

class GpuBackendImpl final : public gpu::GpuBackend {
 public:
  GpuBackendImpl(std::shared_ptr<Context> ctx, DeviceInfo info)
      : ctx_(ctx), device_(MakeDevice(ctx, std::move(info))) {}

  // Second-phase setup: management library and vendor GEMM.
  void Init() {
#if LB_GPU_IS_HIP
    gpuDeviceProp_t prop{};
    if (hipGetDeviceProperties(&prop, ctx_->ordinal()) == hipSuccess) {
      smi_ = gpu::OpenRocmSmi(static_cast<std::uint32_t>(prop.pciDomainID), static_cast<std::uint32_t>(prop.pciBusID),
                              static_cast<std::uint32_t>(prop.pciDeviceID), &smi_why_);
    } else {
      smi_why_ = "hipGetDeviceProperties failed";
    }
    path_ = gpu::GemmPath::kPortable;  // no hipBLAS in Debian
#else
    char bus[32] = {};
    if (cudaDeviceGetPCIBusId(bus, sizeof(bus), ctx_->ordinal()) == cudaSuccess) {
      smi_ = gpu::OpenNvml(bus, &smi_why_);
    } else {
      smi_why_ = "cudaDeviceGetPCIBusId failed";
    }
    auto lt = CublasLt::Create(kLtWorkspaceBytes);
    if (lt.ok()) {
      lt_ = std::move(*lt);
      path_ = gpu::GemmPath::kVendor;
    } else {
      std::fprintf(stderr, "localbench: cuBLASLt unavailable on cuda:%d (%s); using the portable GEMM\n",
                   ctx_->ordinal(), std::string(lt.status().message()).c_str());
      path_ = gpu::GemmPath::kPortable;
    }
#endif
  }

  Device& device() override { return *device_; }
  std::string name() const override { return std::string(kPrefix) + ":" + std::to_string(ctx_->ordinal()); }

  // ---- GPU extras ----
  void SetGemmPath(gpu::GemmPath path) override {
#if !LB_GPU_IS_HIP
    if (path == gpu::GemmPath::kVendor && lt_ == nullptr) path = gpu::GemmPath::kPortable;
#else
    if (path == gpu::GemmPath::kVendor) path = gpu::GemmPath::kPortable;
#endif
    path_ = path;
  }
  gpu::GemmPath gemm_path() const override { return path_; }
  bool faulted() const override { return ctx_->faulted(); }

  absl::Status CopyKernel(void* dst, const void* src, std::uint64_t bytes) override {
    LB_RETURN_IF_ERROR(ctx_->Activate());
    if (bytes % 16 != 0 || reinterpret_cast<std::uintptr_t>(dst) % 16 != 0 ||
        reinterpret_cast<std::uintptr_t>(src) % 16 != 0) {
      return absl::InvalidArgumentError("CopyKernel: bytes and pointers must be multiples of 16");
    }
    return LaunchCopy(dst, src, bytes, ctx_->sm_count(), ctx_->stream());
  }

  DeviceTelemetry SampleTelemetry() override {
    const gpu::GpuTelemetry g = Telemetry();
    DeviceTelemetry t;
    if (g.has_process_used_bytes) t.process_memory_bytes = g.process_used_bytes;
    if (g.has_sm_clock_mhz) t.sm_clock_mhz = g.sm_clock_mhz;
    if (g.has_throttle) t.throttle_reasons = g.throttle_mask;
    if (smi_ != nullptr) {
      const gpu::SmiSample s = smi_->Sample();
      t.other_process_count = s.other_process_count;
      t.other_process_bytes = s.other_process_bytes;
    }
    return t;
  }

  gpu::GpuTelemetry Telemetry() override {
    gpu::GpuTelemetry t;
    if (smi_ == nullptr) {
      t.unavailable_reason = smi_why_;
      return t;
    }
    t.source = smi_->Source();
    const gpu::SmiSample s = smi_->Sample();
    if (s.process_used_bytes) {
      t.has_process_used_bytes = true;
      t.process_used_bytes = *s.process_used_bytes;
    }
    if (s.sm_clock_mhz) {
      t.has_sm_clock_mhz = true;
      t.sm_clock_mhz = *s.sm_clock_mhz;
    }
    if (s.throttle_mask) {
      t.has_throttle = true;
      t.throttle_mask = *s.throttle_mask;
      t.throttle_reasons = s.throttle_reasons;
    }
    return t;
  }

  absl::StatusOr<std::unique_ptr<gpu::GpuGraph>> Capture(const std::function<absl::Status()>& body) override {
    return CaptureGraph(ctx_, body);
  }

 protected:
  // ---- fills and element-wise ----
  absl::Status FillImpl(Tensor x, float value) override {
    LB_RETURN_IF_ERROR(ctx_->Activate());
    return LaunchFill(x.data, ToElem(x.dtype), x.numel(), value, S());
  }
  absl::Status FillRandomUniformImpl(Tensor x, std::uint64_t seed, float scale) override {
    LB_RETURN_IF_ERROR(ctx_->Activate());
    return LaunchFillRandomUniform(x.data, ToElem(x.dtype), x.numel(), seed, scale, S());
  }
  absl::Status ConvertImpl(const Tensor& src, Tensor dst) override {
    LB_RETURN_IF_ERROR(ctx_->Activate());
    return LaunchConvert(src.data, ToElem(src.dtype), dst.data, ToElem(dst.dtype), src.numel(), S());
  }
  absl::Status AxpyImpl(float alpha, const Tensor& x, Tensor y) override {
    LB_RETURN_IF_ERROR(ctx_->Activate());
    return LaunchAxpy(alpha, x.data, ToElem(x.dtype), y.data, ToElem(y.dtype), x.numel(), S());
  }
  absl::Status ScaleImpl(Tensor x, float alpha) override {
    LB_RETURN_IF_ERROR(ctx_->Activate());
    return LaunchScale(x.data, ToElem(x.dtype), x.numel(), alpha, S());
  }
  absl::Status AddBiasImpl(Tensor x, const Tensor& bias) override {
    LB_RETURN_IF_ERROR(ctx_->Activate());
    return LaunchAddBias(B(x), bias.data, ToElem(bias.dtype), x.rows(), x.cols(), S());
  }
  absl::Status BiasBackwardImpl(const Tensor& d_out, Tensor d_bias) override {
    LB_RETURN_IF_ERROR(ctx_->Activate());
    return LaunchColumnSum(B(d_out), DevBuf{nullptr, Elem::kF32}, nullptr, d_bias.data, ToElem(d_bias.dtype), d_out.rows(),
                           d_out.cols(), S());
  }

  // ---- embedding (ids checked by the kernel: IndexError) ----
  absl::Status EmbeddingForwardImpl(const Tensor& table, const std::int32_t* ids, Tensor out) override {
    LB_RETURN_IF_ERROR(ctx_->Activate());
    return LaunchEmbeddingForward(table.data, ToElem(table.dtype), table.rows(), ids, B(out), out.rows(), out.cols(),
                                  ctx_->index_error(), S());
  }
  absl::Status EmbeddingBackwardImpl(const Tensor& d_out, const std::int32_t* ids, Tensor d_table) override {
    LB_RETURN_IF_ERROR(ctx_->Activate());
    return LaunchEmbeddingBackward(CF(d_out), ids, d_table.data, ToElem(d_table.dtype), d_table.rows(), d_out.rows(),
                                   d_out.cols(), ctx_->index_error(), S());
  }

  // ---- RMSNorm ----
  absl::Status RmsNormForwardImpl(const Tensor& x, const Tensor& weight, float eps, Tensor out,
                                  Tensor rstd) override {
    LB_RETURN_IF_ERROR(ctx_->Activate());
    return LaunchRmsNormForward(B(x), weight.data, ToElem(weight.dtype), eps, B(out), F(rstd), x.rows(), x.cols(),
                                S());
  }
  absl::Status RmsNormBackwardImpl(const Tensor& d_out, const Tensor& x, const Tensor& weight, const Tensor& rstd,
                                   Tensor d_x, Tensor d_weight) override {
    LB_RETURN_IF_ERROR(ctx_->Activate());
    LB_RETURN_IF_ERROR(LaunchRmsNormBackwardX(B(d_out), B(x), weight.data, ToElem(weight.dtype), CF(rstd), F(d_x),
                                              x.rows(), x.cols(), S()));
    if (!d_weight.present()) return absl::OkStatus();
    return LaunchColumnSum(B(d_out), B(x), CF(rstd), d_weight.data, ToElem(d_weight.dtype), x.rows(), x.cols(),
                           S());
  }

  // ---- RoPE ----
  absl::Status RopeForwardImpl(Tensor x, std::int64_t seq_len, std::int64_t position_offset,
                               float theta) override {
    LB_RETURN_IF_ERROR(ctx_->Activate());
    return LaunchRope(B(x), x.dim(0), x.dim(1), x.dim(2), seq_len, position_offset, theta, 1.f, S());
  }
  absl::Status RopeBackwardImpl(Tensor d_x, std::int64_t seq_len, std::int64_t position_offset,
                                float theta) override {
    LB_RETURN_IF_ERROR(ctx_->Activate());
    return LaunchRope(B(d_x), d_x.dim(0), d_x.dim(1), d_x.dim(2), seq_len, position_offset, theta, -1.f, S());
  }

  // ---- attention ----
  absl::Status AttentionForwardImpl(const Tensor& q, const Tensor& k, const Tensor& v, Tensor out,
                                    Tensor lse) override {
    LB_RETURN_IF_ERROR(ctx_->Activate());
    LB_RETURN_IF_ERROR(AttnLimits("AttentionForward", q));
    return LaunchAttentionForward(B(q), B(k), B(v), B(out), F(lse), I(q.dim(0)), I(q.dim(1)), I(q.dim(2)),
                                  I(k.dim(2)), I(q.dim(3)), S());
  }
  absl::Status AttentionBackwardImpl(const Tensor& q, const Tensor& k, const Tensor& v, const Tensor& out,
                                     const Tensor& lse, const Tensor& d_out, Tensor d_q, Tensor d_k,
                                     Tensor d_v) override {
    LB_RETURN_IF_ERROR(ctx_->Activate());
    LB_RETURN_IF_ERROR(AttnLimits("AttentionBackward", q));
    return LaunchAttentionBackward(B(q), B(k), B(v), B(out), CF(lse), B(d_out), B(d_q), B(d_k), B(d_v),
                                   I(q.dim(0)), I(q.dim(1)), I(q.dim(2)), I(k.dim(2)), I(q.dim(3)), S());
  }
  absl::Status KvCacheWriteImpl(const Tensor& src, Tensor cache, std::int64_t position) override {
    LB_RETURN_IF_ERROR(ctx_->Activate());
    return LaunchKvCacheWrite(CF(src), cache.data, ToElem(cache.dtype), src.dim(0), src.dim(1), cache.dim(1),
                              src.dim(2) * src.dim(3), position, S());
  }
  absl::Status AttentionDecodeImpl(const Tensor& q, const Tensor& k_cache, const Tensor& v_cache,
                                   std::int64_t length, Tensor out) override {
    LB_RETURN_IF_ERROR(ctx_->Activate());
    return LaunchAttentionDecode(CF(q), k_cache.data, v_cache.data, ToElem(k_cache.dtype), F(out), I(q.dim(0)),
                                 I(k_cache.dim(1)), I(length), I(q.dim(1)), I(k_cache.dim(2)), I(q.dim(2)), S());
  }
  absl::Status SoftmaxImpl(const Tensor& x, Tensor out) override {
    LB_RETURN_IF_ERROR(ctx_->Activate());
    return LaunchSoftmax(CF(x), F(out), x.rows(), x.cols(), S());
  }

  // ---- MLP ----
  absl::Status SwiGluForwardImpl(const Tensor& gate, const Tensor& up, Tensor out) override {
    LB_RETURN_IF_ERROR(ctx_->Activate());
    return LaunchSwiGluForward(B(gate), B(up), B(out), out.numel(), S());
  }
  absl::Status SwiGluBackwardImpl(const Tensor& d_out, const Tensor& gate, const Tensor& up, Tensor d_gate,
                                  Tensor d_up) override {
    LB_RETURN_IF_ERROR(ctx_->Activate());
    return LaunchSwiGluBackward(B(d_out), B(gate), B(up), B(d_gate), B(d_up), gate.numel(), S());
  }

  // ---- GEMM ----
  absl::Status GemmImpl(bool trans_a, bool trans_b, float alpha, const Tensor& a, const Tensor& b, float beta,
                        Tensor c, Tensor workspace) override {
    LB_RETURN_IF_ERROR(ctx_->Activate());
    const std::int64_t m = trans_a ? a.cols() : a.rows(), k = trans_a ? a.rows() : a.cols();
    const std::int64_t n = trans_b ? b.rows() : b.cols();
    if (m > INT32_MAX || n > INT32_MAX || k > INT32_MAX) return Bad("Gemm", "dimension beyond 2^31");
    GemmArgs g;
    g.m = static_cast<int>(m);
    g.n = static_cast<int>(n);
    g.k = static_cast<int>(k);
    g.a = a.data;
    g.a_type = ToElem(a.dtype);
    g.lda = a.cols();
    g.trans_a = trans_a;
    g.b = b.data;
    g.b_type = ToElem(b.dtype);
    g.ldb = b.cols();
    g.trans_b = trans_b;
    g.c = c.data;
    g.c_type = ToElem(c.dtype);
    g.ldc = c.cols();
    g.alpha = alpha;
    g.beta = beta;
    if (m > 0 && n > 0 && g.k == 0) {  // empty sum: C = beta * C
      return beta == 0.f ? LaunchFill(c.data, g.c_type, c.numel(), 0.f, S())
                         : LaunchScale(c.data, g.c_type, c.numel(), beta, S());
    }
    if (ShouldStageA(g, workspace)) return StagedGemm(g, workspace);
    return RunGemm(g);
  }

  // ---- loss and sampling (targets checked by the kernel: IndexError) ----
  absl::Status CrossEntropyImpl(const Tensor& logits, const std::int32_t* targets, Tensor losses, Tensor d_logits,
                                float grad_scale) override {
    LB_RETURN_IF_ERROR(ctx_->Activate());
    return LaunchCrossEntropy(CF(logits), targets, F(losses), d_logits.present() ? F(d_logits) : nullptr, grad_scale,
                              logits.rows(), logits.cols(), ctx_->index_error(), S());
  }
  absl::Status ArgmaxImpl(const Tensor& x, std::int32_t* out) override {
    LB_RETURN_IF_ERROR(ctx_->Activate());
    if (x.cols() > INT32_MAX) return Bad("Argmax", "too many columns");
    return LaunchArgmax(CF(x), out, x.rows(), x.cols(), S());
  }

  // ---- quantized weights (quant.cu): the fused GEMV for decode-shaped
  // products (no workspace, as QuantLinearWorkspaceBytes says), bf16 panels
  // of W on the GEMM path otherwise ----
  absl::Status QuantLinearImpl(QuantFormat format, bool trans_w, const Tensor& x, const void* w, std::int64_t n,
                               std::int64_t k, float beta, Tensor y, Tensor workspace) override {
    LB_RETURN_IF_ERROR(ctx_->Activate());
    const std::int64_t m = x.rows();
    if (trans_w && m <= kQuantGemvMaxRows) return LaunchQuantGemv(format, CF(x), m, w, n, k, F(y), beta, S());
    return QuantLinearTiled(format, trans_w, CF(x), m, w, n, k, beta, F(y), workspace.data,
                            workspace.present() ? workspace.bytes() : 0,
                            [this](const GemmArgs& g) { return RunGemm(g); }, S());
  }
  absl::Status FillRandomQuantizedImpl(QuantFormat format, void* w, std::int64_t rows, std::int64_t cols,
                                       std::uint64_t seed, float scale) override {
    LB_RETURN_IF_ERROR(ctx_->Activate());
    return LaunchFillRandomQuantized(format, w, rows, cols, seed, scale, S());
  }

  // ---- optimiser ----
  absl::Status AdamWImpl(Tensor param, const Tensor& grad, Tensor m, Tensor v, const AdamWParams& p) override {
    LB_RETURN_IF_ERROR(ctx_->Activate());
    // Rounded exactly as the CPU reference rounds them.
    const float c1 = 1.0f - static_cast<float>(std::pow(static_cast<double>(p.beta1), static_cast<double>(p.step)));
    const float c2 = 1.0f - static_cast<float>(std::pow(static_cast<double>(p.beta2), static_cast<double>(p.step)));
    return LaunchAdamW(param.data, ToElem(param.dtype), grad.data, ToElem(grad.dtype), F(m), F(v), param.numel(),
                       p.learning_rate, p.beta1, p.beta2, p.epsilon, p.weight_decay, c1, c2, S());
  }

 private:
  gpuStream_t S() const { return ctx_->stream(); }
  static int I(std::int64_t v) { return static_cast<int>(v); }

  // Sizes the attention kernels index with int and grid dimensions: limits
  // of this backend, not of the op (the contract checked the shapes).
  static absl::Status AttnLimits(const char* op, const Tensor& q) {
    if (q.dim(1) > INT32_MAX || q.dim(0) > 65535 || q.dim(2) > 65535) return Bad(op, "shape too large");
    return absl::OkStatus();
  }

  // fp32 activations times 16-bit weights (the workloads' main GEMMs): no
  // vendor library multiplies mixed types on matrix cores, so A is staged
  // into the weight's 16-bit type in the planned workspace, a block of rows
  // at a time, and the product runs on cuBLASLt or our WMMA tiles with fp32
  // accumulation (mixed-precision compute, as frameworks do). Decode-shaped
  // products on the portable path skip this: the skinny kernel reads mixed
  // types directly at full bandwidth. The SIMT path never stages (exact fp32).
  bool ShouldStageA(const GemmArgs& g, const Tensor& ws) const {
    if (path_ == gpu::GemmPath::kSimt || !ws.present() || g.a_type != Elem::kF32 || g.b_type == Elem::kF32) {
      return false;
    }
    if (path_ == gpu::GemmPath::kPortable && g.m <= 8 && g.trans_b && !g.trans_a) return false;
#if LB_GPU_IS_HIP
    return false;  // no matrix-core tiles here: the SIMT kernel reads mixed types directly
#else
    return ws.bytes() >= static_cast<std::uint64_t>(g.k) * 2 * 16;  // room for at least 16 rows
#endif
  }

  absl::Status StagedGemm(const GemmArgs& g, const Tensor& ws) {
    const std::int64_t rows_fit = static_cast<std::int64_t>(ws.bytes() / (static_cast<std::uint64_t>(g.k) * 2));
    const std::int64_t chunk = std::min<std::int64_t>(g.m, rows_fit);
    for (std::int64_t m0 = 0; m0 < g.m; m0 += chunk) {
      const std::int64_t mc = std::min<std::int64_t>(chunk, g.m - m0);
      GemmArgs part = g;
      part.m = static_cast<int>(mc);
      part.a = ws.data;
      part.a_type = g.b_type;
      if (g.trans_a) {
        // A stored [K, M]: pack columns [m0, m0 + mc) into [K, mc].
        LB_RETURN_IF_ERROR(LaunchConvert2d(g.a, Elem::kF32, g.lda, m0, ws.data, g.b_type, mc, g.k, mc, ctx_->stream()));
        part.lda = mc;
      } else {
        const float* rows = static_cast<const float*>(g.a) + m0 * g.lda;
        LB_RETURN_IF_ERROR(LaunchConvert2d(rows, Elem::kF32, g.lda, 0, ws.data, g.b_type, g.k, mc, g.k, ctx_->stream()));
        part.lda = g.k;
      }
      part.c = static_cast<char*>(g.c) + static_cast<std::size_t>(m0 * g.ldc) * ElemBytes(g.c_type);
      LB_RETURN_IF_ERROR(RunGemm(part));
    }
    return absl::OkStatus();
  }

  absl::Status RunGemm(const GemmArgs& g) {
    switch (path_) {
      case gpu::GemmPath::kSimt:
        return GemmSimt(g, ctx_->stream());
      case gpu::GemmPath::kVendor:
#if !LB_GPU_IS_HIP
        if (lt_ != nullptr) {
          absl::Status s = lt_->Gemm(g, ctx_->stream());
          if (!absl::IsUnimplemented(s)) return s;  // no algorithm (e.g. mixed types): portable
        }
#endif
        [[fallthrough]];
      case gpu::GemmPath::kPortable:
        break;
    }
    return GemmPortable(g, ctx_->stream());
  }

  std::shared_ptr<Context> ctx_;
  std::unique_ptr<Device> device_;
  std::unique_ptr<gpu::Smi> smi_;
  std::string smi_why_;
  gpu::GemmPath path_ = gpu::GemmPath::kPortable;
#if !LB_GPU_IS_HIP
  std::unique_ptr<CublasLt> lt_;
#endif
};

std::string VersionString(int v) {
#if LB_GPU_IS_HIP
  // HIP: major * 10000000 + minor * 100000 + patch.
  return std::to_string(v / 10000000) + "." + std::to_string((v / 100000) % 100);
#else
  // CUDA: major * 1000 + minor * 10.
  return std::to_string(v / 1000) + "." + std::to_string((v % 1000) / 10);
#endif
}

}  // namespace

int DeviceCount(std::string* why) {
  int n = 0;  // CUDA leaves it untouched without a driver
  const gpuError_t err = gpuGetDeviceCount(&n);
  if (err != gpuSuccess) {
    (void)gpuGetLastError();
    if (why != nullptr) *why = std::string(LB_GPU_VENDOR_NAME " runtime: ") + gpuGetErrorName(err) + " (" +
                               gpuGetErrorString(err) + ")";
    return 0;
  }
  if (n <= 0 && why != nullptr) *why = std::string(LB_GPU_VENDOR_NAME " runtime: no device");
  return n > 0 ? n : 0;
}

absl::StatusOr<std::unique_ptr<gpu::GpuBackend>> CreateBackend(int ordinal) {
  std::string why;
  const int count = DeviceCount(&why);
  if (ordinal < 0 || ordinal >= count) {
    return absl::NotFoundError(std::string(kPrefix) + ":" + std::to_string(ordinal) + " does not exist" +
                               (why.empty() ? "" : ": " + why));
  }
  LB_RETURN_IF_ERROR(GpuStatus(gpuSetDevice(ordinal), "set device"));
  gpuDeviceProp_t prop{};
  LB_RETURN_IF_ERROR(GpuStatus(gpuGetDeviceProperties(&prop, ordinal), "get device properties"));
  absl::StatusOr<std::shared_ptr<Context>> ctx = Context::Create(ordinal, prop.multiProcessorCount);
  if (!ctx.ok()) return ctx.status();

  DeviceInfo info;
  info.kind = LB_GPU_IS_HIP ? DeviceKind::kHip : DeviceKind::kCuda;
  info.name = prop.name;
  info.multiprocessor_count = static_cast<std::uint32_t>(prop.multiProcessorCount);
  info.warp_size = static_cast<std::uint32_t>(prop.warpSize);
  std::size_t free_b = 0, total_b = 0;
  if (gpuMemGetInfo(&free_b, &total_b) == gpuSuccess) {
    info.memory_free_bytes = free_b;
    info.memory_total_bytes = total_b;
  } else {
    info.memory_total_bytes = prop.totalGlobalMem;
  }
  int rt = 0, drv = 0;
  if (gpuRuntimeGetVersion(&rt) == gpuSuccess) info.runtime_version = VersionString(rt);
#if LB_GPU_IS_HIP
  info.vendor = Vendor::kAmd;
  std::string arch = prop.gcnArchName;
  info.gfx_target = arch.substr(0, arch.find(':'));
  if (gpuDriverGetVersion(&drv) == gpuSuccess) info.driver_version = VersionString(drv);
#else
  info.vendor = Vendor::kNvidia;
  info.compute_capability = std::to_string(prop.major) + "." + std::to_string(prop.minor);
  info.driver_version = gpu::NvmlDriverVersion();
  if (info.driver_version.empty() && gpuDriverGetVersion(&drv) == gpuSuccess) {
    info.driver_version = "cuda " + VersionString(drv);
  }
#endif
  // The PCI address in sysfs form: the agent reads the PCIe link there.
  char bus[32] = {};
  std::snprintf(bus, sizeof bus, "%04x:%02x:%02x.0", static_cast<unsigned>(prop.pciDomainID),
                static_cast<unsigned>(prop.pciBusID), static_cast<unsigned>(prop.pciDeviceID));
  info.pci_bus_id = bus;
  auto backend = std::make_unique<GpuBackendImpl>(*std::move(ctx), std::move(info));
  backend->Init();
  return std::unique_ptr<gpu::GpuBackend>(std::move(backend));
}

}  // namespace localbench::kernels::LB_GPU_NS

// The entry point discover.cc calls for this vendor.
namespace localbench::kernels::LB_GPU_NS {
#if LB_GPU_IS_HIP
void DiscoverHipBackends(std::vector<std::unique_ptr<Backend>>& out) {
#else
void DiscoverCudaBackends(std::vector<std::unique_ptr<Backend>>& out) {
#endif
  const int n = DeviceCount(nullptr);
  for (int i = 0; i < n; ++i) {
    auto b = CreateBackend(i);
    if (b.ok()) {
      out.push_back(std::move(*b));
    } else {
      // A device the runtime lists but cannot open (e.g. in exclusive use)
      // is skipped, with a line saying why: discovery itself never fails.
      std::fprintf(stderr, "localbench: skipping %s:%d: %s\n", kPrefix, i, std::string(b.status().message()).c_str());
    }
  }
}
}  // namespace localbench::kernels::LB_GPU_NS
