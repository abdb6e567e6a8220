// The state one GPU's device, timers, graphs and backend share: ordinal,
// stream, the sticky-fault flag and the mapped index-error word. Also the
// factories of the pieces that live in their own files (device.cu,
// graph.cu), so the dispatch file (backend.cu) holds only op dispatch.
//
// Faults: an asynchronous error (illegal address) surfacing at a
// synchronisation leaves the context unusable (sticky on CUDA). The context
// then marks itself faulted and every later call fails with
// FailedPrecondition naming the first fault, instead of producing garbage.
// Out of memory is not a fault, and neither is a bad index (IndexError in
// common.cuh): both leave the device usable.
#pragma once

#include <functional>
#include <memory>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "common.cuh"
#include "localbench/kernels/device.h"
#include "localbench/kernels/gpu/gpu_backend.h"

namespace localbench::kernels::LB_GPU_NS {

// "cuda" or "hip": the prefix of device names ("cuda:0").
inline constexpr const char* kPrefix = LB_GPU_IS_HIP ? "hip" : "cuda";

// One GPU's shared state. Used from the thread that drives the backend
// (backends are not shared between threads), so it has no lock.
class Context {
 public:
  // Creates the stream and the mapped index-error word of GPU `ordinal`.
  static absl::StatusOr<std::shared_ptr<Context>> Create(int ordinal, int sm_count);
  ~Context();
  Context(const Context&) = delete;
  Context& operator=(const Context&) = delete;

  int ordinal() const { return ordinal_; }
  int sm_count() const { return sm_count_; }
  gpuStream_t stream() const { return stream_; }
  bool faulted() const { return faulted_; }
  // Where kernels record a bad index (device view of the mapped word).
  IndexError* index_error() const { return index_error_device_; }

  // Makes this GPU current for the calling thread; fails once faulted.
  absl::Status Activate();
  // Converts the result of a synchronising call: any error there is an
  // asynchronous fault and poisons the context. After a clean
  // synchronisation, a bad index recorded by a kernel since the last one
  // comes back as the contract's IndexOutOfRange (and is cleared).
  absl::Status Synced(gpuError_t err, const char* what);

 private:
  Context() = default;

  int ordinal_ = 0;
  int sm_count_ = 0;
  gpuStream_t stream_ = nullptr;
  bool faulted_ = false;
  std::string fault_;
  IndexError* index_error_host_ = nullptr;    // pinned, mapped host memory
  IndexError* index_error_device_ = nullptr;  // the same memory as the device sees it
};

// The Device of the GPU behind `ctx` (device.cu): memory, copies, timers.
std::unique_ptr<Device> MakeDevice(std::shared_ptr<Context> ctx, DeviceInfo info);

// Records what `body` enqueues on ctx's stream into a graph (graph.cu).
absl::StatusOr<std::unique_ptr<gpu::GpuGraph>> CaptureGraph(const std::shared_ptr<Context>& ctx,
                                                            const std::function<absl::Status()>& body);

}  // namespace localbench::kernels::LB_GPU_NS
