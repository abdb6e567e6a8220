// Finds the backends this build and this machine can run.
#pragma once

#include <cstdint>
#include <memory>
#include <vector>

#include "localbench/kernels/backend.h"

namespace localbench::kernels {

// What DiscoverBackends looks for.
struct DiscoverOptions {
  bool include_cpu = true;   // the CPU backend (always available)
  bool include_gpus = true;  // CUDA/HIP backends compiled into this build
  // CPU device memory limit (0: 80% of MemAvailable); see CpuDeviceOptions.
  std::uint64_t cpu_memory_limit_bytes = 0;
  int cpu_threads = 0;       // 0: all hardware threads
};

// The CPU backend first (when included), then one backend per usable GPU.
// A GPU runtime that is compiled in but finds no driver or device adds
// nothing (never an error: most machines have no GPU).
std::vector<std::unique_ptr<Backend>> DiscoverBackends(const DiscoverOptions& options);

}  // namespace localbench::kernels
