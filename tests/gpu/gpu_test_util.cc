#include "gpu_test_util.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <sstream>

namespace localbench::kernels::gpu_test {
namespace {

struct Shared {
  std::unique_ptr<gpu::GpuBackend> backend;
  std::string why;
};

Shared MakeShared() {
  Shared s;
  std::string reasons;
#if LOCALBENCH_WITH_CUDA
  {
    std::string why;
    if (cuda::DeviceCount(&why) > 0) {
      auto b = cuda::CreateBackend(0);
      if (b.ok()) {
        s.backend = std::move(*b);
        return s;
      }
      why = std::string(b.status().message());
    }
    reasons += "no CUDA device: " + why;
  }
#else
  reasons += "no CUDA device: CUDA backend not compiled in";
#endif
#if LOCALBENCH_WITH_HIP
  {
    std::string why;
    if (hip::DeviceCount(&why) > 0) {
      auto b = hip::CreateBackend(0);
      if (b.ok()) {
        s.backend = std::move(*b);
        return s;
      }
      why = std::string(b.status().message());
    }
    reasons += "; no HIP device: " + why;
  }
#else
  reasons += "; no HIP device: HIP backend not compiled in";
#endif
  s.why = reasons;
  return s;
}

}  // namespace

gpu::GpuBackend* SharedGpu(std::string* why) {
  static Shared* shared = new Shared(MakeShared());  // lives until exit: tests share one context
  if (shared->backend == nullptr) *why = shared->why;
  return shared->backend.get();
}

CpuBackend& SharedCpu() {
  static CpuBackend* cpu = [] {
    CpuDeviceOptions o;
    o.threads = 2;
    o.memory_limit_bytes = 4ull << 30;
    return new CpuBackend(o);
  }();
  return *cpu;
}

Buf::Buf(Backend& backend, DType dtype, const std::vector<std::int64_t>& shape) : backend_(backend) {
  t.dtype = dtype;
  for (std::int64_t d : shape) t.dims[static_cast<std::size_t>(t.rank++)] = d;
  auto p = backend_.device().Allocate(std::max<std::uint64_t>(t.bytes(), 1));
  if (!p.ok()) {
    ADD_FAILURE() << "allocate: " << p.status();
    return;
  }
  t.data = *p;
}

Buf::~Buf() { backend_.device().Free(t.data); }

void Buf::Upload(const std::vector<float>& values) {
  ASSERT_EQ(static_cast<std::int64_t>(values.size()), t.numel());
  std::vector<unsigned char> bytes(t.bytes());
  ConvertFromF32(values.data(), t.dtype, bytes.data(), values.size());
  absl::Status s = backend_.device().CopyHostToDevice(t.data, bytes.data(), bytes.size());
  ASSERT_TRUE(s.ok()) << s;
}

std::vector<float> Buf::Download() const {
  std::vector<unsigned char> bytes(t.bytes());
  absl::Status s = backend_.device().CopyDeviceToHost(bytes.data(), t.data, bytes.size());
  EXPECT_TRUE(s.ok()) << s;
  std::vector<float> out(static_cast<std::size_t>(t.numel()));
  ConvertToF32(t.dtype, bytes.data(), out.data(), out.size());
  return out;
}

Dual::Dual(Backend& gpu_backend, DType dtype, const std::vector<std::int64_t>& shape,
           const std::vector<float>& values)
    : cpu(SharedCpu(), dtype, shape), gpu(gpu_backend, dtype, shape) {
  cpu.Upload(values);
  gpu.Upload(values);
}

IntBuf::IntBuf(Backend& backend, const std::vector<std::int32_t>& values) : backend_(backend), n_(values.size()) {
  auto p = backend_.device().Allocate(std::max<std::size_t>(n_ * 4, 4));
  if (!p.ok()) {
    ADD_FAILURE() << "allocate: " << p.status();
    return;
  }
  data = static_cast<std::int32_t*>(*p);
  absl::Status s = backend_.device().CopyHostToDevice(data, values.data(), n_ * 4);
  EXPECT_TRUE(s.ok()) << s;
}

IntBuf::~IntBuf() { backend_.device().Free(data); }

std::vector<std::int32_t> IntBuf::Download() const {
  std::vector<std::int32_t> out(n_);
  absl::Status s = backend_.device().CopyDeviceToHost(out.data(), data, n_ * 4);
  EXPECT_TRUE(s.ok()) << s;
  return out;
}

std::vector<float> Random(std::size_t n, std::uint32_t seed, float scale) {
  std::mt19937 gen(seed);
  std::uniform_real_distribution<float> dist(-scale, scale);
  std::vector<float> v(n);
  for (float& x : v) x = dist(gen);
  return v;
}

void ExpectClose(const std::vector<float>& want, const std::vector<float>& got, double atol, double rtol,
                 const std::string& what) {
  ASSERT_EQ(want.size(), got.size()) << what;
  std::size_t bad = 0, worst = 0;
  double worst_excess = -1;
  for (std::size_t i = 0; i < want.size(); ++i) {
    const double w = want[i], g = got[i];
    const double limit = atol + rtol * std::fabs(w);
    const double err = std::fabs(g - w);
    const bool ok = err <= limit || (std::isnan(w) && std::isnan(g));
    if (!ok) {
      ++bad;
      if (!(err - limit <= worst_excess)) {
        worst_excess = err - limit;
        worst = i;
      }
    }
  }
  if (bad > 0) {
    ADD_FAILURE() << what << ": " << bad << " of " << want.size() << " elements differ; worst at " << worst
                  << ": want " << want[worst] << " got " << got[worst] << " (atol " << atol << ", rtol " << rtol << ")";
  }
}

double RelTol(DType dtype) {
  switch (dtype) {
    case DType::kBF16:
      return 1.6e-2;  // two bf16 ulps (2^-7 each)
    case DType::kF16:
      return 2e-3;    // two f16 ulps (2^-10 each)
    case DType::kF32:
      break;
  }
  return 1e-4;
}

}  // namespace localbench::kernels::gpu_test
