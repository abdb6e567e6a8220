// The version of the kernels built into this binary.
#pragma once

#include <string_view>

namespace localbench::kernels {

// SHA-256 (hex) over the kernel sources (kernels/**), computed by CMake at
// configure time: results name the exact kernels that produced them.
std::string_view KernelSourceHash();

}  // namespace localbench::kernels
