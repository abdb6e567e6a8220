// Shared helpers of the GPU tests: the device under test (or a visible skip
// reason), and tensors mirrored on the CPU reference and the GPU.
#pragma once

#include <cstdint>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "localbench/kernels/backend.h"
#include "localbench/kernels/cpu_backend.h"
#include "localbench/kernels/gpu/gpu_backend.h"

namespace localbench::kernels::gpu_test {

// The first GPU of this build and machine (CUDA before HIP), created once
// and shared by every test of the binary; null with `why` set otherwise.
gpu::GpuBackend* SharedGpu(std::string* why);

// The CPU reference backend, shared likewise.
CpuBackend& SharedCpu();

// Skips the calling test, visibly, when there is no GPU.
#define LB_GPU_OR_SKIP(var)                                  \
  std::string lb_gpu_why_;                                    \
  ::localbench::kernels::gpu::GpuBackend* var =               \
      ::localbench::kernels::gpu_test::SharedGpu(&lb_gpu_why_); \
  if (var == nullptr) GTEST_SKIP() << lb_gpu_why_

// A tensor in one backend's device memory, freed on destruction.
class Buf {
 public:
  Buf(Backend& backend, DType dtype, const std::vector<std::int64_t>& shape);
  ~Buf();
  Buf(const Buf&) = delete;
  Buf& operator=(const Buf&) = delete;

  // Converts `values` (numel of them) to the dtype and copies them in.
  void Upload(const std::vector<float>& values);
  // Copies the tensor out as fp32.
  std::vector<float> Download() const;
  Tensor t;

 private:
  Backend& backend_;
};

// The same tensor on the CPU and on the GPU, with the same contents.
struct Dual {
  Dual(Backend& gpu, DType dtype, const std::vector<std::int64_t>& shape, const std::vector<float>& values);
  Buf cpu;
  Buf gpu;
};

// int32 device arrays (token ids, targets, argmax output).
class IntBuf {
 public:
  IntBuf(Backend& backend, const std::vector<std::int32_t>& values);
  ~IntBuf();
  IntBuf(const IntBuf&) = delete;
  IntBuf& operator=(const IntBuf&) = delete;
  std::vector<std::int32_t> Download() const;
  std::int32_t* data = nullptr;

 private:
  Backend& backend_;
  std::size_t n_;
};

// n uniform values in [-scale, scale) from a seeded generator.
std::vector<float> Random(std::size_t n, std::uint32_t seed, float scale = 1.f);

// Expects |got - want| <= atol + rtol * |want| everywhere; reports the count
// and the worst element.
void ExpectClose(const std::vector<float>& want, const std::vector<float>& got, double atol, double rtol,
                 const std::string& what);

// Tolerance of a value stored in `dtype` after fp32 computation that may sum
// in another order than the CPU: one rounding of the storage type plus slack.
double RelTol(DType dtype);

}  // namespace localbench::kernels::gpu_test
