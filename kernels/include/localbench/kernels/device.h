// The device abstraction: memory, copies, synchronisation, timing.
//
// One interface for the CPU, CUDA and HIP. Its contract is the GPU's: work
// may run asynchronously in one in-order queue (a stream); errors that happen
// asynchronously surface at the next Synchronize(); running out of memory is
// a recoverable absl::ResourceExhaustedError from Allocate(), never a crash,
// because the OOM search of a sweep relies on it. A kernel fault (sticky on
// CUDA) is reported as absl::InternalError by Synchronize and leaves the
// device unusable: callers must not keep using a device after that.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

namespace localbench::kernels {

// Which runtime drives a device.
enum class DeviceKind { kCpu, kCuda, kHip };

// Short name of a DeviceKind: "cpu", "cuda", "hip".
const char* DeviceKindName(DeviceKind kind);

// Who made the device (maps onto localbench.v1.Vendor).
enum class Vendor { kUnknown, kNvidia, kAmd, kIntel, kApple, kOther };

// What a device says about itself; fields that do not apply stay empty/zero.
struct DeviceInfo {
  DeviceKind kind = DeviceKind::kCpu;
  std::string name;               // e.g. "NVIDIA GeForce RTX 4090", CPU model name
  Vendor vendor = Vendor::kUnknown;
  std::uint64_t memory_total_bytes = 0;  // VRAM, or the CPU device's memory limit
  std::uint64_t memory_free_bytes = 0;   // free when the info was taken
  std::string driver_version;     // e.g. "580.65.06"; empty on the CPU
  std::string runtime_version;    // CUDA/HIP runtime, e.g. "13.0"
  std::string compute_capability; // NVIDIA, e.g. "8.9"
  std::string gfx_target;         // AMD, e.g. "gfx1030"
  std::uint32_t multiprocessor_count = 0;  // SMs / CUs; CPU: worker threads
  std::uint32_t warp_size = 0;    // 32 (NVIDIA, RDNA) or 64 (CDNA); 1 on the CPU
  std::string pci_bus_id;         // GPUs: "0000:65:00.0" (PCIe link, NVML); empty on the CPU
};

// Free and total device memory, as the driver reports it (cudaMemGetInfo).
struct MemoryInfo {
  std::uint64_t free_bytes = 0;
  std::uint64_t total_bytes = 0;
};

// A pair of timing events in the device's queue (cudaEvent-style): the time
// between RecordStart and RecordStop as the device executed it.
class Timer {
 public:
  virtual ~Timer() = default;
  // Enqueues the start event.
  virtual absl::Status RecordStart() = 0;
  // Enqueues the stop event.
  virtual absl::Status RecordStop() = 0;
  // Waits for the stop event and returns the seconds between the two.
  virtual absl::StatusOr<double> ElapsedSeconds() = 0;
};

// A compute device with its own memory. Pointers it returns are device
// pointers: only Device copies and Backend ops may touch them.
class Device {
 public:
  // Every allocation is aligned to this; the memory plan rounds to it too.
  static constexpr std::uint64_t kAlignment = 256;

  virtual ~Device() = default;

  // Which runtime this is.
  virtual DeviceKind kind() const = 0;
  // Static facts (memory fields are those at creation time).
  virtual const DeviceInfo& info() const = 0;

  // Allocates `bytes` (aligned to kAlignment). Out of memory returns
  // absl::ResourceExhaustedError and leaves the device usable.
  virtual absl::StatusOr<void*> Allocate(std::uint64_t bytes) = 0;
  // Frees memory from Allocate (nullptr is ignored).
  virtual void Free(void* ptr) = 0;

  // Copies host -> device. The host buffer may be reused once this returns.
  virtual absl::Status CopyHostToDevice(void* dst, const void* src, std::uint64_t bytes) = 0;
  // Copies device -> host; when this returns the host buffer holds the data
  // (it waits for earlier work in the queue).
  virtual absl::Status CopyDeviceToHost(void* dst, const void* src, std::uint64_t bytes) = 0;
  // Copies device -> device, in queue order.
  virtual absl::Status CopyDeviceToDevice(void* dst, const void* src, std::uint64_t bytes) = 0;

  // Waits for all queued work; returns the first asynchronous error, if any.
  virtual absl::Status Synchronize() = 0;

  // A new timing event pair on this device's queue.
  virtual absl::StatusOr<std::unique_ptr<Timer>> CreateTimer() = 0;

  // Free and total memory now (the sweep's device-delta measurement).
  virtual absl::StatusOr<MemoryInfo> GetMemoryInfo() = 0;
};

// Options of the CPU device.
struct CpuDeviceOptions {
  // Memory the device may hand out, so OOM is real and testable on a CPU.
  // 0 means 80% of the host's MemAvailable at creation.
  std::uint64_t memory_limit_bytes = 0;
  // Worker threads of the CPU backend's ops (0: all hardware threads).
  int threads = 0;
};

// Host memory as a device. Work runs synchronously on the calling thread (and
// the backend's thread pool), so Synchronize only reports success and timers
// read a steady clock.
class CpuDevice final : public Device {
 public:
  explicit CpuDevice(const CpuDeviceOptions& options);
  ~CpuDevice() override;
  CpuDevice(const CpuDevice&) = delete;
  CpuDevice& operator=(const CpuDevice&) = delete;

  DeviceKind kind() const override { return DeviceKind::kCpu; }
  const DeviceInfo& info() const override { return info_; }
  absl::StatusOr<void*> Allocate(std::uint64_t bytes) override;
  void Free(void* ptr) override;
  absl::Status CopyHostToDevice(void* dst, const void* src, std::uint64_t bytes) override;
  absl::Status CopyDeviceToHost(void* dst, const void* src, std::uint64_t bytes) override;
  absl::Status CopyDeviceToDevice(void* dst, const void* src, std::uint64_t bytes) override;
  absl::Status Synchronize() override;
  absl::StatusOr<std::unique_ptr<Timer>> CreateTimer() override;
  absl::StatusOr<MemoryInfo> GetMemoryInfo() override;

  // The limit Allocate enforces.
  std::uint64_t memory_limit_bytes() const { return limit_bytes_; }
  // Bytes currently allocated.
  std::uint64_t allocated_bytes() const;
  // Worker threads the backend should use.
  int threads() const { return threads_; }

 private:
  struct State;
  DeviceInfo info_;
  std::uint64_t limit_bytes_ = 0;
  int threads_ = 1;
  std::unique_ptr<State> state_;
};

}  // namespace localbench::kernels
