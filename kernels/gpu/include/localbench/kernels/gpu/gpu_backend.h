// The CUDA and HIP backends as plain C++ (no GPU headers): what tests, the
// GPU benchmark and discovery need beyond the Backend interface. Both
// vendors implement it from the same kernel sources in kernels/gpu/.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "localbench/kernels/backend.h"

namespace localbench::kernels::gpu {

// Which GEMM implementation Backend::Gemm uses.
enum class GemmPath {
  kVendor,    // cuBLASLt (NVIDIA); on HIP the same as kPortable (no hipBLAS)
  kPortable,  // our tiled kernels: matrix cores where available, skinny M, SIMT
  kSimt,      // our SIMT tile kernel only (reference for the others)
};

// Name of a path: "vendor", "portable", "simt".
const char* GemmPathName(GemmPath path);

// Clocks and memory from the management library (NVML / rocm-smi), each
// absent when the library or driver could not tell.
struct GpuTelemetry {
  std::string source;             // "nvml", "rocm-smi" or "" (unavailable)
  std::string unavailable_reason; // why source is empty
  bool has_process_used_bytes = false;
  std::uint64_t process_used_bytes = 0;  // this process's device memory per the driver
  bool has_sm_clock_mhz = false;
  std::uint32_t sm_clock_mhz = 0;
  bool has_throttle = false;
  std::uint64_t throttle_mask = 0;       // NVML clocks-event reason bits
  std::string throttle_reasons;          // decoded, "none" when not throttled
};

// A recorded sequence of device work (CUDA/HIP graph) that replays with one
// launch: the decode step's hundreds of small kernels without launch cost.
class GpuGraph {
 public:
  virtual ~GpuGraph() = default;
  // Enqueues one replay on the backend's stream.
  virtual absl::Status Launch() = 0;
};

// A CUDA or HIP backend: the Backend ops plus GPU-only controls.
class GpuBackend : public Backend {
 public:
  // Selects the GEMM implementation (default: kVendor where it exists).
  virtual void SetGemmPath(GemmPath path) = 0;
  virtual GemmPath gemm_path() const = 0;
  // Copies `bytes` (a multiple of 16, 16-byte aligned pointers) with our own
  // streaming kernel: the device's achievable memory bandwidth, which the
  // benchmark divides decode bytes/s by.
  virtual absl::Status CopyKernel(void* dst, const void* src, std::uint64_t bytes) = 0;
  // Reads clocks, throttle reasons and process memory now.
  virtual GpuTelemetry Telemetry() = 0;
  // Records the device work `body` enqueues into a graph without running it.
  // body must not synchronise or copy to the host. Unimplemented where the
  // runtime cannot capture; other errors when body fails or is not capturable.
  virtual absl::StatusOr<std::unique_ptr<GpuGraph>> Capture(const std::function<absl::Status()>& body) = 0;
  // True after a kernel fault: the context is lost (sticky on CUDA) and every
  // call fails; only a new process can use the GPU again.
  bool faulted() const override = 0;
};

}  // namespace localbench::kernels::gpu

namespace localbench::kernels::cuda {
// CUDA devices usable now; 0 with `why` set when there is no driver or device.
int DeviceCount(std::string* why);
// The backend of CUDA device `ordinal`.
absl::StatusOr<std::unique_ptr<gpu::GpuBackend>> CreateBackend(int ordinal);
}  // namespace localbench::kernels::cuda

namespace localbench::kernels::hip {
// HIP devices usable now; 0 with `why` set when there is no driver or device.
int DeviceCount(std::string* why);
// The backend of HIP device `ordinal`.
absl::StatusOr<std::unique_ptr<gpu::GpuBackend>> CreateBackend(int ordinal);
}  // namespace localbench::kernels::hip
