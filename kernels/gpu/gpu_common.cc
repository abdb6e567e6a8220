// Vendor-neutral pieces of the GPU backends (compiled once, as C++).
#include "localbench/kernels/gpu/gpu_backend.h"

namespace localbench::kernels::gpu {

const char* GemmPathName(GemmPath path) {
  switch (path) {
    case GemmPath::kVendor:
      return "vendor";
    case GemmPath::kPortable:
      return "portable";
    case GemmPath::kSimt:
      return "simt";
  }
  return "unknown";
}

}  // namespace localbench::kernels::gpu
