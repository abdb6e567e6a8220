// The CUDA / HIP backend: Device (memory, copies, events) and Backend (op
// validation and dispatch to the kernels) over one device and one stream.
// Compiled twice from this source: localbench::kernels::cuda and ::hip.
//
// Faults: an asynchronous error (illegal address, trap) surfacing at a
// synchronisation leaves the context unusable (sticky on CUDA). The backend
// then marks itself faulted and every later call fails with
// FailedPrecondition naming the first fault, instead of producing garbage;
// the sweep records the point as an error and the agent runs each sweep in a
// fresh process, so a fault never poisons other results. Out of memory is
// not a fault: Allocate returns ResourceExhausted and the device stays usable.
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "gemm.cuh"
#include "localbench/kernels/gpu/gpu_backend.h"
#include "localbench/kernels/gpu_discovery.h"
#include "ops.cuh"
#include "smi.h"

namespace localbench::kernels::LB_GPU_NS {
namespace {

constexpr DeviceKind kKind = LB_GPU_IS_HIP ? DeviceKind::kHip : DeviceKind::kCuda;
constexpr const char* kPrefix = LB_GPU_IS_HIP ? "hip" : "cuda";
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

// State shared by the device and the backend of one GPU.
struct Context {
  int ordinal = 0;
  gpuStream_t stream = nullptr;
  int sm_count = 0;
  bool faulted = false;
  std::string fault;

  ~Context() {
    if (stream != nullptr) {
      (void)gpuSetDevice(ordinal);
      (void)gpuStreamDestroy(stream);
    }
  }

  // Makes this GPU current for the calling thread; fails once faulted.
  absl::Status Activate() {
    if (faulted) {
      return absl::FailedPreconditionError(std::string(kPrefix) + ":" + std::to_string(ordinal) +
                                           " is unusable after a device fault (" + fault +
                                           "); restart the process");
    }
    return GpuStatus(gpuSetDevice(ordinal), "set device");
  }
  // Converts the result of a synchronising call; any error there is an
  // asynchronous fault and poisons the context.
  absl::Status Synced(gpuError_t err, const char* what) {
    if (err == gpuSuccess) return absl::OkStatus();
    absl::Status s = GpuStatus(err, what);
    faulted = true;
    fault = std::string(s.message());
    return absl::InternalError(fault);
  }
};

class GpuTimer final : public Timer {
 public:
  GpuTimer(std::shared_ptr<Context> ctx, gpuEvent_t start, gpuEvent_t stop)
      : ctx_(std::move(ctx)), start_(start), stop_(stop) {}
  ~GpuTimer() override {
    (void)gpuEventDestroy(start_);
    (void)gpuEventDestroy(stop_);
  }
  absl::Status RecordStart() override {
    if (absl::Status s = ctx_->Activate(); !s.ok()) return s;
    return GpuStatus(gpuEventRecord(start_, ctx_->stream), "event record");
  }
  absl::Status RecordStop() override {
    if (absl::Status s = ctx_->Activate(); !s.ok()) return s;
    return GpuStatus(gpuEventRecord(stop_, ctx_->stream), "event record");
  }
  absl::StatusOr<double> ElapsedSeconds() override {
    if (absl::Status s = ctx_->Activate(); !s.ok()) return s;
    if (absl::Status s = ctx_->Synced(gpuEventSynchronize(stop_), "event synchronize"); !s.ok()) return s;
    float ms = 0.f;
    if (absl::Status s = GpuStatus(gpuEventElapsedTime(&ms, start_, stop_), "event elapsed"); !s.ok()) return s;
    return static_cast<double>(ms) * 1e-3;
  }

 private:
  std::shared_ptr<Context> ctx_;
  gpuEvent_t start_;
  gpuEvent_t stop_;
};

class GpuDevice final : public Device {
 public:
  GpuDevice(std::shared_ptr<Context> ctx, DeviceInfo info) : ctx_(std::move(ctx)), info_(std::move(info)) {}

  DeviceKind kind() const override { return kKind; }
  const DeviceInfo& info() const override { return info_; }

  absl::StatusOr<void*> Allocate(std::uint64_t bytes) override {
    if (absl::Status s = ctx_->Activate(); !s.ok()) return s;
    void* p = nullptr;
    const gpuError_t err = gpuMalloc(&p, bytes);
    if (err != gpuSuccess) {
      (void)gpuGetLastError();  // not sticky: clear it so the next launch check is clean
      absl::Status s = GpuStatus(err, "malloc");
      if (err == gpuErrorMemoryAllocation) {
        return absl::ResourceExhaustedError(std::string(kPrefix) + ":" + std::to_string(ctx_->ordinal) +
                                            ": out of device memory allocating " + std::to_string(bytes) +
                                            " bytes");
      }
      return s;
    }
    return p;
  }
  void Free(void* ptr) override {
    if (ptr == nullptr) return;
    (void)gpuSetDevice(ctx_->ordinal);
    (void)gpuFree(ptr);  // fails only on a faulted context, which is reported elsewhere
  }
  absl::Status CopyHostToDevice(void* dst, const void* src, std::uint64_t bytes) override {
    if (absl::Status s = ctx_->Activate(); !s.ok()) return s;
    if (bytes == 0) return absl::OkStatus();
    if (absl::Status s = GpuStatus(gpuMemcpyAsync(dst, src, bytes, gpuMemcpyHostToDevice, ctx_->stream), "memcpy H2D");
        !s.ok()) {
      return s;
    }
    return ctx_->Synced(gpuStreamSynchronize(ctx_->stream), "memcpy H2D");  // host buffer reusable on return
  }
  absl::Status CopyDeviceToHost(void* dst, const void* src, std::uint64_t bytes) override {
    if (absl::Status s = ctx_->Activate(); !s.ok()) return s;
    if (bytes == 0) return absl::OkStatus();
    if (absl::Status s = GpuStatus(gpuMemcpyAsync(dst, src, bytes, gpuMemcpyDeviceToHost, ctx_->stream), "memcpy D2H");
        !s.ok()) {
      return s;
    }
    return ctx_->Synced(gpuStreamSynchronize(ctx_->stream), "memcpy D2H");
  }
  absl::Status CopyDeviceToDevice(void* dst, const void* src, std::uint64_t bytes) override {
    if (absl::Status s = ctx_->Activate(); !s.ok()) return s;
    if (bytes == 0) return absl::OkStatus();
    return GpuStatus(gpuMemcpyAsync(dst, src, bytes, gpuMemcpyDeviceToDevice, ctx_->stream), "memcpy D2D");
  }
  absl::Status Synchronize() override {
    if (absl::Status s = ctx_->Activate(); !s.ok()) return s;
    return ctx_->Synced(gpuStreamSynchronize(ctx_->stream), "synchronize");
  }
  absl::StatusOr<std::unique_ptr<Timer>> CreateTimer() override {
    if (absl::Status s = ctx_->Activate(); !s.ok()) return s;
    gpuEvent_t start = nullptr, stop = nullptr;
    if (absl::Status s = GpuStatus(gpuEventCreate(&start), "event create"); !s.ok()) return s;
    if (absl::Status s = GpuStatus(gpuEventCreate(&stop), "event create"); !s.ok()) {
      (void)gpuEventDestroy(start);
      return s;
    }
    return std::unique_ptr<Timer>(new GpuTimer(ctx_, start, stop));
  }
  absl::StatusOr<MemoryInfo> GetMemoryInfo() override {
    if (absl::Status s = ctx_->Activate(); !s.ok()) return s;
    std::size_t free_b = 0, total_b = 0;
    if (absl::Status s = GpuStatus(gpuMemGetInfo(&free_b, &total_b), "mem get info"); !s.ok()) return s;
    return MemoryInfo{free_b, total_b};
  }

 private:
  std::shared_ptr<Context> ctx_;
  DeviceInfo info_;
};

class Graph final : public gpu::GpuGraph {
 public:
  Graph(std::shared_ptr<Context> ctx, gpuGraph_t graph, gpuGraphExec_t exec)
      : ctx_(std::move(ctx)), graph_(graph), exec_(exec) {}
  ~Graph() override {
    (void)gpuSetDevice(ctx_->ordinal);
    (void)gpuGraphExecDestroy(exec_);
    (void)gpuGraphDestroy(graph_);
  }
  absl::Status Launch() override {
    if (absl::Status s = ctx_->Activate(); !s.ok()) return s;
    return GpuStatus(gpuGraphLaunch(exec_, ctx_->stream), "graph launch");
  }

 private:
  std::shared_ptr<Context> ctx_;
  gpuGraph_t graph_;
  gpuGraphExec_t exec_;
};

absl::Status Bad(const char* op, const std::string& what) {
  return absl::InvalidArgumentError(std::string(op) + ": " + what);
}
absl::Status NeedF32(const char* op, const Tensor& t, const char* name) {
  if (!t.present()) return Bad(op, std::string(name) + " is absent");
  if (t.dtype != DType::kF32) return Bad(op, std::string(name) + " must be f32");
  return absl::OkStatus();
}
absl::Status NeedPresent(const char* op, const Tensor& t, const char* name) {
  if (!t.present() && t.numel() != 0) return Bad(op, std::string(name) + " is absent");
  return absl::OkStatus();
}
float* F(const Tensor& t) { return static_cast<float*>(t.data); }
const float* CF(const Tensor& t) { return static_cast<const float*>(t.data); }

#define LB_RETURN_IF_ERROR(expr)             \
  do {                                       \
    absl::Status lb_status_ = (expr);        \
    if (!lb_status_.ok()) return lb_status_; \
  } while (false)

class GpuBackendImpl final : public gpu::GpuBackend {
 public:
  GpuBackendImpl(std::shared_ptr<Context> ctx, DeviceInfo info) : ctx_(ctx), device_(ctx, std::move(info)) {}

  // Second-phase setup: management library and vendor GEMM.
  void Init() {
#if LB_GPU_IS_HIP
    gpuDeviceProp_t prop{};
    if (hipGetDeviceProperties(&prop, ctx_->ordinal) == hipSuccess) {
      smi_ = gpu::OpenRocmSmi(static_cast<std::uint32_t>(prop.pciDomainID), static_cast<std::uint32_t>(prop.pciBusID),
                              static_cast<std::uint32_t>(prop.pciDeviceID), &smi_why_);
    } else {
      smi_why_ = "hipGetDeviceProperties failed";
    }
    path_ = gpu::GemmPath::kPortable;  // no hipBLAS in Debian
#else
    char bus[32] = {};
    if (cudaDeviceGetPCIBusId(bus, sizeof(bus), ctx_->ordinal) == cudaSuccess) {
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
                   ctx_->ordinal, std::string(lt.status().message()).c_str());
      path_ = gpu::GemmPath::kPortable;
    }
#endif
  }

  Device& device() override { return device_; }
  std::string name() const override { return std::string(kPrefix) + ":" + std::to_string(ctx_->ordinal); }

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
  bool faulted() const override { return ctx_->faulted; }

  absl::Status CopyKernel(void* dst, const void* src, std::uint64_t bytes) override {
    LB_RETURN_IF_ERROR(ctx_->Activate());
    if (bytes % 16 != 0 || reinterpret_cast<std::uintptr_t>(dst) % 16 != 0 ||
        reinterpret_cast<std::uintptr_t>(src) % 16 != 0) {
      return Bad("CopyKernel", "bytes and pointers must be multiples of 16");
    }
    return LaunchCopy(dst, src, bytes, ctx_->sm_count, ctx_->stream);
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
    LB_RETURN_IF_ERROR(ctx_->Activate());
    LB_RETURN_IF_ERROR(
        GpuStatus(gpuStreamBeginCapture(ctx_->stream, gpuStreamCaptureModeThreadLocal), "stream begin capture"));
    const absl::Status body_status = body();
    gpuGraph_t graph = nullptr;
    const gpuError_t end = gpuStreamEndCapture(ctx_->stream, &graph);
    (void)gpuGetLastError();  // a capture-illegal call inside body leaves a non-sticky error
    if (!body_status.ok() || end != gpuSuccess) {
      if (graph != nullptr) (void)gpuGraphDestroy(graph);
      if (!body_status.ok()) return body_status;
      return absl::UnimplementedError(std::string("graph capture failed: ") + gpuGetErrorName(end));
    }
    gpuGraphExec_t exec = nullptr;
    if (absl::Status s = GpuStatus(gpuGraphInstantiate(&exec, graph), "graph instantiate"); !s.ok()) {
      (void)gpuGraphDestroy(graph);
      return s;
    }
    return std::unique_ptr<gpu::GpuGraph>(new Graph(ctx_, graph, exec));
  }

  // ---- fills and element-wise ----
  absl::Status Fill(Tensor x, float value) override {
    LB_RETURN_IF_ERROR(ctx_->Activate());
    LB_RETURN_IF_ERROR(NeedPresent("Fill", x, "x"));
    return LaunchFill(x.data, ToElem(x.dtype), x.numel(), value, ctx_->stream);
  }
  absl::Status FillRandomUniform(Tensor x, std::uint64_t seed, float scale) override {
    LB_RETURN_IF_ERROR(ctx_->Activate());
    LB_RETURN_IF_ERROR(NeedPresent("FillRandomUniform", x, "x"));
    return LaunchFillRandomUniform(x.data, ToElem(x.dtype), x.numel(), seed, scale, ctx_->stream);
  }
  absl::Status Convert(const Tensor& src, Tensor dst) override {
    LB_RETURN_IF_ERROR(ctx_->Activate());
    if (src.numel() != dst.numel()) return Bad("Convert", "src and dst sizes differ");
    LB_RETURN_IF_ERROR(NeedPresent("Convert", src, "src"));
    LB_RETURN_IF_ERROR(NeedPresent("Convert", dst, "dst"));
    return LaunchConvert(src.data, ToElem(src.dtype), dst.data, ToElem(dst.dtype), src.numel(), ctx_->stream);
  }
  absl::Status Axpy(float alpha, const Tensor& x, Tensor y) override {
    LB_RETURN_IF_ERROR(ctx_->Activate());
    if (x.numel() != y.numel()) return Bad("Axpy", "x and y sizes differ");
    LB_RETURN_IF_ERROR(NeedPresent("Axpy", x, "x"));
    LB_RETURN_IF_ERROR(NeedPresent("Axpy", y, "y"));
    return LaunchAxpy(alpha, x.data, ToElem(x.dtype), y.data, ToElem(y.dtype), x.numel(), ctx_->stream);
  }
  absl::Status Scale(Tensor x, float alpha) override {
    LB_RETURN_IF_ERROR(ctx_->Activate());
    LB_RETURN_IF_ERROR(NeedPresent("Scale", x, "x"));
    return LaunchScale(x.data, ToElem(x.dtype), x.numel(), alpha, ctx_->stream);
  }
  absl::Status AddBias(Tensor x, const Tensor& bias) override {
    LB_RETURN_IF_ERROR(ctx_->Activate());
    LB_RETURN_IF_ERROR(NeedF32("AddBias", x, "x"));
    if (bias.numel() != x.cols()) return Bad("AddBias", "bias size differs from x's columns");
    LB_RETURN_IF_ERROR(NeedPresent("AddBias", bias, "bias"));
    return LaunchAddBias(F(x), bias.data, ToElem(bias.dtype), x.rows(), x.cols(), ctx_->stream);
  }
  absl::Status BiasBackward(const Tensor& d_out, Tensor d_bias) override {
    LB_RETURN_IF_ERROR(ctx_->Activate());
    LB_RETURN_IF_ERROR(NeedF32("BiasBackward", d_out, "d_out"));
    if (d_bias.numel() != d_out.cols()) return Bad("BiasBackward", "d_bias size differs from d_out's columns");
    LB_RETURN_IF_ERROR(NeedPresent("BiasBackward", d_bias, "d_bias"));
    return LaunchColumnSum(CF(d_out), nullptr, nullptr, d_bias.data, ToElem(d_bias.dtype), d_out.rows(),
                           d_out.cols(), ctx_->stream);
  }

  // ---- embedding ----
  absl::Status EmbeddingForward(const Tensor& table, const std::int32_t* ids, Tensor out) override {
    LB_RETURN_IF_ERROR(ctx_->Activate());
    LB_RETURN_IF_ERROR(NeedF32("EmbeddingForward", out, "out"));
    if (table.rank < 2 || table.cols() != out.cols()) return Bad("EmbeddingForward", "table must be [V, H] with out [N, H]");
    if (ids == nullptr && out.rows() > 0) return Bad("EmbeddingForward", "ids is null");
    return LaunchEmbeddingForward(table.data, ToElem(table.dtype), table.rows(), ids, F(out), out.rows(), out.cols(),
                                  ctx_->stream);
  }
  absl::Status EmbeddingBackward(const Tensor& d_out, const std::int32_t* ids, Tensor d_table) override {
    LB_RETURN_IF_ERROR(ctx_->Activate());
    LB_RETURN_IF_ERROR(NeedF32("EmbeddingBackward", d_out, "d_out"));
    if (d_table.rank < 2 || d_table.cols() != d_out.cols()) {
      return Bad("EmbeddingBackward", "d_table must be [V, H] with d_out [N, H]");
    }
    if (ids == nullptr && d_out.rows() > 0) return Bad("EmbeddingBackward", "ids is null");
    return LaunchEmbeddingBackward(CF(d_out), ids, d_table.data, ToElem(d_table.dtype), d_table.rows(), d_out.rows(),
                                   d_out.cols(), ctx_->stream);
  }

  // ---- RMSNorm ----
  absl::Status RmsNormForward(const Tensor& x, const Tensor& weight, float eps, Tensor out, Tensor rstd) override {
    LB_RETURN_IF_ERROR(ctx_->Activate());
    LB_RETURN_IF_ERROR(NeedF32("RmsNormForward", x, "x"));
    LB_RETURN_IF_ERROR(NeedF32("RmsNormForward", out, "out"));
    LB_RETURN_IF_ERROR(NeedF32("RmsNormForward", rstd, "rstd"));
    if (out.numel() != x.numel() || weight.numel() != x.cols() || rstd.numel() != x.rows()) {
      return Bad("RmsNormForward", "shapes must be x, out [N, H], weight [H], rstd [N]");
    }
    return LaunchRmsNormForward(CF(x), weight.data, ToElem(weight.dtype), eps, F(out), F(rstd), x.rows(), x.cols(),
                                ctx_->stream);
  }
  absl::Status RmsNormBackward(const Tensor& d_out, const Tensor& x, const Tensor& weight, const Tensor& rstd,
                               Tensor d_x, Tensor d_weight) override {
    LB_RETURN_IF_ERROR(ctx_->Activate());
    LB_RETURN_IF_ERROR(NeedF32("RmsNormBackward", d_out, "d_out"));
    LB_RETURN_IF_ERROR(NeedF32("RmsNormBackward", x, "x"));
    LB_RETURN_IF_ERROR(NeedF32("RmsNormBackward", rstd, "rstd"));
    LB_RETURN_IF_ERROR(NeedF32("RmsNormBackward", d_x, "d_x"));
    if (d_out.numel() != x.numel() || d_x.numel() != x.numel() || weight.numel() != x.cols() ||
        rstd.numel() != x.rows() || (d_weight.present() && d_weight.numel() != x.cols())) {
      return Bad("RmsNormBackward", "shapes must be d_out, x, d_x [N, H], weight, d_weight [H], rstd [N]");
    }
    LB_RETURN_IF_ERROR(LaunchRmsNormBackwardX(CF(d_out), CF(x), weight.data, ToElem(weight.dtype), CF(rstd), F(d_x),
                                              x.rows(), x.cols(), ctx_->stream));
    if (!d_weight.present()) return absl::OkStatus();
    return LaunchColumnSum(CF(d_out), CF(x), CF(rstd), d_weight.data, ToElem(d_weight.dtype), x.rows(), x.cols(),
                           ctx_->stream);
  }

  // ---- RoPE ----
  absl::Status RopeForward(Tensor x, std::int64_t seq_len, std::int64_t position_offset, float theta) override {
    return Rope("RopeForward", x, seq_len, position_offset, theta, 1.f);
  }
  absl::Status RopeBackward(Tensor d_x, std::int64_t seq_len, std::int64_t position_offset, float theta) override {
    return Rope("RopeBackward", d_x, seq_len, position_offset, theta, -1.f);
  }

  // ---- attention ----
  absl::Status AttentionForward(const Tensor& q, const Tensor& k, const Tensor& v, Tensor out, Tensor lse) override {
    LB_RETURN_IF_ERROR(ctx_->Activate());
    int b, t, hq, hkv, d;
    LB_RETURN_IF_ERROR(AttnShape("AttentionForward", q, k, v, &b, &t, &hq, &hkv, &d));
    LB_RETURN_IF_ERROR(NeedF32("AttentionForward", out, "out"));
    LB_RETURN_IF_ERROR(NeedF32("AttentionForward", lse, "lse"));
    if (out.numel() != q.numel() || lse.numel() != static_cast<std::int64_t>(b) * hq * t) {
      return Bad("AttentionForward", "out must match q and lse be [B, Hq, T]");
    }
    return LaunchAttentionForward(CF(q), CF(k), CF(v), F(out), F(lse), b, t, hq, hkv, d, ctx_->stream);
  }
  absl::Status AttentionBackward(const Tensor& q, const Tensor& k, const Tensor& v, const Tensor& out,
                                 const Tensor& lse, const Tensor& d_out, Tensor d_q, Tensor d_k, Tensor d_v) override {
    LB_RETURN_IF_ERROR(ctx_->Activate());
    int b, t, hq, hkv, d;
    LB_RETURN_IF_ERROR(AttnShape("AttentionBackward", q, k, v, &b, &t, &hq, &hkv, &d));
    for (const auto& [ten, nm] : {std::pair<const Tensor*, const char*>{&out, "out"}, {&lse, "lse"}, {&d_out, "d_out"},
                                  {&d_q, "d_q"}, {&d_k, "d_k"}, {&d_v, "d_v"}}) {
      LB_RETURN_IF_ERROR(NeedF32("AttentionBackward", *ten, nm));
    }
    if (out.numel() != q.numel() || d_out.numel() != q.numel() || d_q.numel() != q.numel() ||
        d_k.numel() != k.numel() || d_v.numel() != v.numel() || lse.numel() != static_cast<std::int64_t>(b) * hq * t) {
      return Bad("AttentionBackward", "gradient shapes must match their inputs");
    }
    return LaunchAttentionBackward(CF(q), CF(k), CF(v), CF(out), CF(lse), CF(d_out), F(d_q), F(d_k), F(d_v), b, t, hq,
                                   hkv, d, ctx_->stream);
  }
  absl::Status KvCacheWrite(const Tensor& src, Tensor cache, std::int64_t position) override {
    LB_RETURN_IF_ERROR(ctx_->Activate());
    LB_RETURN_IF_ERROR(NeedF32("KvCacheWrite", src, "src"));
    if (src.rank != 4 || cache.rank != 4 || src.dim(0) != cache.dim(0) || src.dim(2) != cache.dim(2) ||
        src.dim(3) != cache.dim(3)) {
      return Bad("KvCacheWrite", "src must be [B, T, Hkv, D] and cache [B, Tmax, Hkv, D]");
    }
    if (position < 0 || position + src.dim(1) > cache.dim(1)) return Bad("KvCacheWrite", "positions beyond the cache");
    LB_RETURN_IF_ERROR(NeedPresent("KvCacheWrite", cache, "cache"));
    return LaunchKvCacheWrite(CF(src), cache.data, ToElem(cache.dtype), src.dim(0), src.dim(1), cache.dim(1),
                              src.dim(2) * src.dim(3), position, ctx_->stream);
  }
  absl::Status AttentionDecode(const Tensor& q, const Tensor& k_cache, const Tensor& v_cache, std::int64_t length,
                               Tensor out) override {
    LB_RETURN_IF_ERROR(ctx_->Activate());
    LB_RETURN_IF_ERROR(NeedF32("AttentionDecode", q, "q"));
    LB_RETURN_IF_ERROR(NeedF32("AttentionDecode", out, "out"));
    if (q.rank != 3 || k_cache.rank != 4 || v_cache.rank != 4 || out.numel() != q.numel()) {
      return Bad("AttentionDecode", "q, out must be [B, Hq, D] and caches [B, Tmax, Hkv, D]");
    }
    for (int i = 0; i < 4; ++i) {
      if (k_cache.dim(i) != v_cache.dim(i)) return Bad("AttentionDecode", "k and v caches differ in shape");
    }
    if (k_cache.dtype != v_cache.dtype) return Bad("AttentionDecode", "k and v caches differ in dtype");
    if (k_cache.dim(0) != q.dim(0) || k_cache.dim(3) != q.dim(2) || q.dim(1) % k_cache.dim(2) != 0) {
      return Bad("AttentionDecode", "q and caches disagree on B, D or the head grouping");
    }
    if (length < 1 || length > k_cache.dim(1)) return Bad("AttentionDecode", "length must be in [1, Tmax]");
    return LaunchAttentionDecode(CF(q), k_cache.data, v_cache.data, ToElem(k_cache.dtype), F(out),
                                 static_cast<int>(q.dim(0)), static_cast<int>(k_cache.dim(1)),
                                 static_cast<int>(length), static_cast<int>(q.dim(1)),
                                 static_cast<int>(k_cache.dim(2)), static_cast<int>(q.dim(2)), ctx_->stream);
  }
  absl::Status Softmax(const Tensor& x, Tensor out) override {
    LB_RETURN_IF_ERROR(ctx_->Activate());
    LB_RETURN_IF_ERROR(NeedF32("Softmax", x, "x"));
    LB_RETURN_IF_ERROR(NeedF32("Softmax", out, "out"));
    if (x.numel() != out.numel()) return Bad("Softmax", "x and out sizes differ");
    return LaunchSoftmax(CF(x), F(out), x.rows(), x.cols(), ctx_->stream);
  }

  // ---- MLP ----
  absl::Status SwiGluForward(const Tensor& gate, const Tensor& up, Tensor out) override {
    LB_RETURN_IF_ERROR(ctx_->Activate());
    LB_RETURN_IF_ERROR(NeedF32("SwiGluForward", gate, "gate"));
    LB_RETURN_IF_ERROR(NeedF32("SwiGluForward", up, "up"));
    LB_RETURN_IF_ERROR(NeedF32("SwiGluForward", out, "out"));
    if (gate.numel() != up.numel() || out.numel() != up.numel()) return Bad("SwiGluForward", "sizes differ");
    return LaunchSwiGluForward(CF(gate), CF(up), F(out), out.numel(), ctx_->stream);
  }
  absl::Status SwiGluBackward(const Tensor& d_out, const Tensor& gate, const Tensor& up, Tensor d_gate,
                              Tensor d_up) override {
    LB_RETURN_IF_ERROR(ctx_->Activate());
    for (const auto& [ten, nm] : {std::pair<const Tensor*, const char*>{&d_out, "d_out"}, {&gate, "gate"}, {&up, "up"},
                                  {&d_gate, "d_gate"}, {&d_up, "d_up"}}) {
      LB_RETURN_IF_ERROR(NeedF32("SwiGluBackward", *ten, nm));
      if (ten->numel() != gate.numel()) return Bad("SwiGluBackward", "sizes differ");
    }
    return LaunchSwiGluBackward(CF(d_out), CF(gate), CF(up), F(d_gate), F(d_up), gate.numel(), ctx_->stream);
  }

  // ---- GEMM ----
  absl::Status Gemm(bool trans_a, bool trans_b, float alpha, const Tensor& a, const Tensor& b, float beta, Tensor c,
                    Tensor workspace) override {
    LB_RETURN_IF_ERROR(ctx_->Activate());
    GemmArgs g;
    const std::int64_t m = trans_a ? a.cols() : a.rows(), ka = trans_a ? a.rows() : a.cols();
    const std::int64_t kb = trans_b ? b.cols() : b.rows(), n = trans_b ? b.rows() : b.cols();
    if (ka != kb || c.rows() != m || c.cols() != n) {
      return Bad("Gemm", "shapes disagree: op(A) " + std::to_string(m) + "x" + std::to_string(ka) + ", op(B) " +
                             std::to_string(kb) + "x" + std::to_string(n) + ", C " + std::to_string(c.rows()) + "x" +
                             std::to_string(c.cols()));
    }
    if (m > INT32_MAX || n > INT32_MAX || ka > INT32_MAX) return Bad("Gemm", "dimension beyond 2^31");
    g.m = static_cast<int>(m);
    g.n = static_cast<int>(n);
    g.k = static_cast<int>(ka);
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
      return beta == 0.f ? LaunchFill(c.data, g.c_type, c.numel(), 0.f, ctx_->stream)
                         : LaunchScale(c.data, g.c_type, c.numel(), beta, ctx_->stream);
    }
    if (ShouldStageA(g, workspace)) return StagedGemm(g, workspace);
    return RunGemm(g);
  }

  // ---- loss and sampling ----
  absl::Status CrossEntropy(const Tensor& logits, const std::int32_t* targets, Tensor losses, Tensor d_logits,
                            float grad_scale) override {
    LB_RETURN_IF_ERROR(ctx_->Activate());
    LB_RETURN_IF_ERROR(NeedF32("CrossEntropy", logits, "logits"));
    LB_RETURN_IF_ERROR(NeedF32("CrossEntropy", losses, "losses"));
    if (losses.numel() != logits.rows()) return Bad("CrossEntropy", "losses must be [N]");
    if (d_logits.present() && (d_logits.dtype != DType::kF32 || d_logits.numel() != logits.numel())) {
      return Bad("CrossEntropy", "d_logits must be f32 like logits");
    }
    if (targets == nullptr && logits.rows() > 0) return Bad("CrossEntropy", "targets is null");
    if (logits.cols() < 1) return Bad("CrossEntropy", "empty vocabulary");
    return LaunchCrossEntropy(CF(logits), targets, F(losses), d_logits.present() ? F(d_logits) : nullptr, grad_scale,
                              logits.rows(), logits.cols(), ctx_->stream);
  }
  absl::Status Argmax(const Tensor& x, std::int32_t* out) override {
    LB_RETURN_IF_ERROR(ctx_->Activate());
    LB_RETURN_IF_ERROR(NeedF32("Argmax", x, "x"));
    if (out == nullptr && x.rows() > 0) return Bad("Argmax", "out is null");
    if (x.cols() > INT32_MAX) return Bad("Argmax", "too many columns");
    return LaunchArgmax(CF(x), out, x.rows(), x.cols(), ctx_->stream);
  }

  // ---- optimiser ----
  absl::Status AdamW(Tensor param, const Tensor& grad, Tensor m, Tensor v, const AdamWParams& p) override {
    LB_RETURN_IF_ERROR(ctx_->Activate());
    LB_RETURN_IF_ERROR(NeedF32("AdamW", m, "m"));
    LB_RETURN_IF_ERROR(NeedF32("AdamW", v, "v"));
    if (grad.numel() != param.numel() || m.numel() != param.numel() || v.numel() != param.numel()) {
      return Bad("AdamW", "param, grad, m, v sizes differ");
    }
    if (p.step < 1) return Bad("AdamW", "step must be >= 1");
    LB_RETURN_IF_ERROR(NeedPresent("AdamW", param, "param"));
    LB_RETURN_IF_ERROR(NeedPresent("AdamW", grad, "grad"));
    // Rounded exactly as the CPU reference rounds them.
    const float c1 = 1.0f - static_cast<float>(std::pow(static_cast<double>(p.beta1), static_cast<double>(p.step)));
    const float c2 = 1.0f - static_cast<float>(std::pow(static_cast<double>(p.beta2), static_cast<double>(p.step)));
    return LaunchAdamW(param.data, ToElem(param.dtype), grad.data, ToElem(grad.dtype), F(m), F(v), param.numel(),
                       p.learning_rate, p.beta1, p.beta2, p.epsilon, p.weight_decay, c1, c2, ctx_->stream);
  }

 private:
  absl::Status Rope(const char* op, Tensor x, std::int64_t seq_len, std::int64_t offset, float theta, float sign) {
    LB_RETURN_IF_ERROR(ctx_->Activate());
    LB_RETURN_IF_ERROR(NeedF32(op, x, "x"));
    if (x.rank != 3 || x.dim(2) % 2 != 0) return Bad(op, "x must be [N, heads, D] with D even");
    if (seq_len < 1 || offset < 0) return Bad(op, "seq_len must be >= 1 and position_offset >= 0");
    return LaunchRope(F(x), x.dim(0), x.dim(1), x.dim(2), seq_len, offset, theta, sign, ctx_->stream);
  }

  static absl::Status AttnShape(const char* op, const Tensor& q, const Tensor& k, const Tensor& v, int* b, int* t,
                                int* hq, int* hkv, int* d) {
    LB_RETURN_IF_ERROR(NeedF32(op, q, "q"));
    LB_RETURN_IF_ERROR(NeedF32(op, k, "k"));
    LB_RETURN_IF_ERROR(NeedF32(op, v, "v"));
    if (q.rank != 4 || k.rank != 4 || v.rank != 4) return Bad(op, "q, k, v must be [B, T, H, D]");
    for (int i = 0; i < 4; ++i) {
      if (k.dim(i) != v.dim(i)) return Bad(op, "k and v shapes differ");
    }
    if (q.dim(0) != k.dim(0) || q.dim(1) != k.dim(1) || q.dim(3) != k.dim(3)) {
      return Bad(op, "q and k disagree on B, T or D");
    }
    if (k.dim(2) < 1 || q.dim(2) % k.dim(2) != 0) return Bad(op, "Hq must be a multiple of Hkv");
    if (q.dim(1) > INT32_MAX || q.dim(0) > 65535 || q.dim(2) > 65535) return Bad(op, "shape too large");
    *b = static_cast<int>(q.dim(0));
    *t = static_cast<int>(q.dim(1));
    *hq = static_cast<int>(q.dim(2));
    *hkv = static_cast<int>(k.dim(2));
    *d = static_cast<int>(q.dim(3));
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
        LB_RETURN_IF_ERROR(LaunchConvert2d(g.a, Elem::kF32, g.lda, m0, ws.data, g.b_type, mc, g.k, mc, ctx_->stream));
        part.lda = mc;
      } else {
        const float* rows = static_cast<const float*>(g.a) + m0 * g.lda;
        LB_RETURN_IF_ERROR(LaunchConvert2d(rows, Elem::kF32, g.lda, 0, ws.data, g.b_type, g.k, mc, g.k, ctx_->stream));
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
        return GemmSimt(g, ctx_->stream);
      case gpu::GemmPath::kVendor:
#if !LB_GPU_IS_HIP
        if (lt_ != nullptr) {
          absl::Status s = lt_->Gemm(g, ctx_->stream);
          if (!absl::IsUnimplemented(s)) return s;  // no algorithm (e.g. mixed types): portable
        }
#endif
        [[fallthrough]];
      case gpu::GemmPath::kPortable:
        break;
    }
    return GemmPortable(g, ctx_->stream);
  }

  std::shared_ptr<Context> ctx_;
  GpuDevice device_;
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
  auto ctx = std::make_shared<Context>();
  ctx->ordinal = ordinal;
  ctx->sm_count = prop.multiProcessorCount;
  LB_RETURN_IF_ERROR(GpuStatus(gpuStreamCreateWithFlags(&ctx->stream, gpuStreamNonBlocking), "stream create"));

  DeviceInfo info;
  info.kind = kKind;
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
  auto backend = std::make_unique<GpuBackendImpl>(ctx, std::move(info));
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
