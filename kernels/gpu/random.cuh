// The seeded uniform values of Backend::FillRandomUniform on the GPU: the
// same counter-based hash of (seed, index) as the CPU backend, so every
// backend fills identical weights. Shared by the dense fill
// (elementwise.cu) and the quantized fill (quant.cu), which regenerates the
// values block by block instead of storing them.
#pragma once

#include <cstdint>

#include "vendor.h"

namespace localbench::kernels::LB_GPU_NS {

// SplitMix64 finaliser.
__device__ __forceinline__ std::uint64_t Mix64(std::uint64_t z) {
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
  return z ^ (z >> 31);
}

// Element i of FillRandomUniform(seed, scale): uniform in [-scale, scale).
__device__ __forceinline__ float SeededUniform(std::uint64_t seed, std::int64_t i, float scale) {
  const std::uint64_t h = Mix64(seed * 0x9e3779b97f4a7c15ull + static_cast<std::uint64_t>(i) + 0x632be59bd9b4e019ull);
  // Top 24 bits -> [0, 1) exactly representable, then [-scale, scale).
  const float u = static_cast<float>(h >> 40) * (1.0f / 16777216.0f);
  return (2.0f * u - 1.0f) * scale;
}

}  // namespace localbench::kernels::LB_GPU_NS
