// The GPU's Device: memory, host/device copies, synchronisation, memory
// info and event timers, over the context's one stream.
#include <memory>
#include <string>
#include <utility>

#include "context.cuh"

namespace localbench::kernels::LB_GPU_NS {
namespace {

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
    return GpuStatus(gpuEventRecord(start_, ctx_->stream()), "event record");
  }
  absl::Status RecordStop() override {
    if (absl::Status s = ctx_->Activate(); !s.ok()) return s;
    return GpuStatus(gpuEventRecord(stop_, ctx_->stream()), "event record");
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

  DeviceKind kind() const override { return LB_GPU_IS_HIP ? DeviceKind::kHip : DeviceKind::kCuda; }
  const DeviceInfo& info() const override { return info_; }

  absl::StatusOr<void*> Allocate(std::uint64_t bytes) override {
    if (absl::Status s = ctx_->Activate(); !s.ok()) return s;
    void* p = nullptr;
    const gpuError_t err = gpuMalloc(&p, bytes);
    if (err != gpuSuccess) {
      (void)gpuGetLastError();  // not sticky: clear it so the next launch check is clean
      absl::Status s = GpuStatus(err, "malloc");
      if (err == gpuErrorMemoryAllocation) {
        return absl::ResourceExhaustedError(std::string(kPrefix) + ":" + std::to_string(ctx_->ordinal()) +
                                            ": out of device memory allocating " + std::to_string(bytes) +
                                            " bytes");
      }
      return s;
    }
    return p;
  }
  void Free(void* ptr) override {
    if (ptr == nullptr) return;
    (void)gpuSetDevice(ctx_->ordinal());
    (void)gpuFree(ptr);  // fails only on a faulted context, which is reported elsewhere
  }
  absl::Status CopyHostToDevice(void* dst, const void* src, std::uint64_t bytes) override {
    if (absl::Status s = ctx_->Activate(); !s.ok()) return s;
    if (bytes == 0) return absl::OkStatus();
    if (absl::Status s = GpuStatus(gpuMemcpyAsync(dst, src, bytes, gpuMemcpyHostToDevice, ctx_->stream()), "memcpy H2D");
        !s.ok()) {
      return s;
    }
    return ctx_->Synced(gpuStreamSynchronize(ctx_->stream()), "memcpy H2D");  // host buffer reusable on return
  }
  absl::Status CopyDeviceToHost(void* dst, const void* src, std::uint64_t bytes) override {
    if (absl::Status s = ctx_->Activate(); !s.ok()) return s;
    if (bytes == 0) return absl::OkStatus();
    if (absl::Status s = GpuStatus(gpuMemcpyAsync(dst, src, bytes, gpuMemcpyDeviceToHost, ctx_->stream()), "memcpy D2H");
        !s.ok()) {
      return s;
    }
    return ctx_->Synced(gpuStreamSynchronize(ctx_->stream()), "memcpy D2H");
  }
  absl::Status CopyDeviceToDevice(void* dst, const void* src, std::uint64_t bytes) override {
    if (absl::Status s = ctx_->Activate(); !s.ok()) return s;
    if (bytes == 0) return absl::OkStatus();
    return GpuStatus(gpuMemcpyAsync(dst, src, bytes, gpuMemcpyDeviceToDevice, ctx_->stream()), "memcpy D2D");
  }
  absl::Status Synchronize() override {
    if (absl::Status s = ctx_->Activate(); !s.ok()) return s;
    return ctx_->Synced(gpuStreamSynchronize(ctx_->stream()), "synchronize");
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

}  // namespace

std::unique_ptr<Device> MakeDevice(std::shared_ptr<Context> ctx, DeviceInfo info) {
  return std::make_unique<GpuDevice>(std::move(ctx), std::move(info));
}

}  // namespace localbench::kernels::LB_GPU_NS
