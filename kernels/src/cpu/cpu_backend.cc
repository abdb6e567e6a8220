// CpuBackend: construction and telemetry. The ops live with their kernels,
// one file per family (elementwise.cc, embedding.cc, rmsnorm.cc, rope.cc,
// attention.cc, swiglu.cc, cross_entropy.cc, adamw.cc, gemm.cc); arguments
// arrive already checked by the contract (kernels/src/backend.cc).
#include "localbench/kernels/cpu_backend.h"

#include <cblas.h>

#include "cpu/thread_pool.h"

namespace localbench::kernels {

CpuBackend::CpuBackend(const CpuDeviceOptions& options)
    : device_(std::make_unique<CpuDevice>(options)),
      pool_(std::make_unique<ThreadPool>(device_->threads())) {
  // The backend owns the threading: OpenBLAS runs single-threaded inside our
  // static partition (see gemm.cc), so two thread pools never spin against
  // each other on the same cores.
  openblas_set_num_threads(1);
}

CpuBackend::~CpuBackend() = default;

DeviceTelemetry CpuBackend::SampleTelemetry() {
  DeviceTelemetry t;
  // Known exactly; a CPU has no SM clock or NVML throttle bits to report,
  // so those stay absent rather than 0.
  t.process_memory_bytes = device_->allocated_bytes();
  return t;
}

}  // namespace localbench::kernels
