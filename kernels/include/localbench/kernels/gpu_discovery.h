// Entry points of the GPU backends, implemented in kernels/gpu/ and called by
// DiscoverBackends when the build defines LOCALBENCH_WITH_CUDA / _HIP.
#pragma once

#include <memory>
#include <vector>

#include "localbench/kernels/backend.h"

namespace localbench::kernels::cuda {
// Appends one backend per usable CUDA device; appends nothing when there is
// no driver or device.
void DiscoverCudaBackends(std::vector<std::unique_ptr<Backend>>& out);
}  // namespace localbench::kernels::cuda

namespace localbench::kernels::hip {
// Appends one backend per usable HIP device; appends nothing when there is
// no driver or device.
void DiscoverHipBackends(std::vector<std::unique_ptr<Backend>>& out);
}  // namespace localbench::kernels::hip
