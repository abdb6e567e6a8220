// Backend discovery: the CPU always, GPUs where compiled in and present.
#include "localbench/kernels/discover.h"

#include "localbench/kernels/cpu_backend.h"
#include "localbench/kernels/gpu_discovery.h"

namespace localbench::kernels {

std::vector<std::unique_ptr<Backend>> DiscoverBackends(const DiscoverOptions& options) {
  std::vector<std::unique_ptr<Backend>> out;
  if (options.include_cpu) {
    CpuDeviceOptions cpu;
    cpu.memory_limit_bytes = options.cpu_memory_limit_bytes;
    cpu.threads = options.cpu_threads;
    out.push_back(std::make_unique<CpuBackend>(cpu));
  }
  if (options.include_gpus) {
#if LOCALBENCH_WITH_CUDA
    cuda::DiscoverCudaBackends(out);
#endif
#if LOCALBENCH_WITH_HIP
    hip::DiscoverHipBackends(out);
#endif
  }
  return out;
}

}  // namespace localbench::kernels
