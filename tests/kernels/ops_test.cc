// CpuBackend ops through the public interface: identities, GEMM against a
// double-precision reference for every dtype/transpose/path, argument checks,
// device and arena behaviour.
#include <cmath>
#include <cstring>
#include <vector>

#include <gtest/gtest.h>

#include "cpu/gemm_testing.h"
#include "localbench/kernels/arena.h"
#include "localbench/kernels/cpu_backend.h"
#include "localbench/kernels/discover.h"
#include "localbench/kernels/version.h"

namespace localbench::kernels {
namespace {

// A device buffer with host read/write helpers that go through Device copies.
class Buffers {
 public:
  explicit Buffers(CpuBackend& backend) : backend_(backend) {}
  ~Buffers() {
    for (void* p : owned_) backend_.device().Free(p);
  }
  Tensor Make(DType dtype, std::initializer_list<std::int64_t> dims) {
    Tensor t = Tensor::Of(nullptr, dtype, dims);
    t.data = *backend_.device().Allocate(t.bytes());
    owned_.push_back(t.data);
    return t;
  }
  Tensor Random(DType dtype, std::initializer_list<std::int64_t> dims, std::uint64_t seed, float scale = 1.0f) {
    Tensor t = Make(dtype, dims);
    EXPECT_TRUE(backend_.FillRandomUniform(t, seed, scale).ok());
    return t;
  }
  std::vector<float> Read(const Tensor& t) {
    std::vector<char> raw(t.bytes());
    EXPECT_TRUE(backend_.device().CopyDeviceToHost(raw.data(), t.data, t.bytes()).ok());
    std::vector<float> out(static_cast<std::size_t>(t.numel()));
    ConvertToF32(t.dtype, raw.data(), out.data(), out.size());
    return out;
  }
  void Write(const Tensor& t, const std::vector<float>& values) {
    std::vector<char> raw(t.bytes());
    ConvertFromF32(values.data(), t.dtype, raw.data(), values.size());
    EXPECT_TRUE(backend_.device().CopyHostToDevice(t.data, raw.data(), t.bytes()).ok());
  }

 private:
  CpuBackend& backend_;
  std::vector<void*> owned_;
};

TEST(CpuOps, RopeKeepsNorms) {
  CpuBackend backend;
  Buffers buf(backend);
  Tensor x = buf.Random(DType::kF32, {12, 3, 16}, 1);
  const std::vector<float> before = buf.Read(x);
  ASSERT_TRUE(backend.RopeForward(x, 4, 100, 500000.0f).ok());
  const std::vector<float> after = buf.Read(x);
  bool changed = false;
  for (std::size_t v = 0; v < before.size(); v += 16) {
    double n0 = 0, n1 = 0;
    for (std::size_t i = 0; i < 16; ++i) {
      n0 += before[v + i] * before[v + i];
      n1 += after[v + i] * after[v + i];
      changed |= before[v + i] != after[v + i];
    }
    EXPECT_NEAR(n0, n1, 1e-5 * n0);
  }
  EXPECT_TRUE(changed);
  // Backward is the inverse rotation.
  ASSERT_TRUE(backend.RopeBackward(x, 4, 100, 500000.0f).ok());
  const std::vector<float> back = buf.Read(x);
  for (std::size_t i = 0; i < back.size(); ++i) EXPECT_NEAR(back[i], before[i], 1e-5);
}

TEST(CpuOps, SoftmaxRowsSumToOne) {
  CpuBackend backend;
  Buffers buf(backend);
  Tensor x = buf.Random(DType::kF32, {7, 33}, 2, 20.0f);
  Tensor y = buf.Make(DType::kF32, {7, 33});
  ASSERT_TRUE(backend.Softmax(x, y).ok());
  const std::vector<float> p = buf.Read(y);
  for (int r = 0; r < 7; ++r) {
    double sum = 0;
    for (int c = 0; c < 33; ++c) {
      EXPECT_GE(p[static_cast<std::size_t>(r * 33 + c)], 0.0f);
      sum += p[static_cast<std::size_t>(r * 33 + c)];
    }
    EXPECT_NEAR(sum, 1.0, 1e-6);
  }
}

class DecodeVsPrefill : public ::testing::TestWithParam<DType> {};

// Decode with a KV cache reproduces the last row of prefill attention.
TEST_P(DecodeVsPrefill, LastRowMatches) {
  const DType cache_type = GetParam();
  const std::int64_t B = 2, T = 9, Hq = 4, Hkv = 2, D = 8;
  CpuBackend backend;
  Buffers buf(backend);
  Tensor q = buf.Random(DType::kF32, {B, T, Hq, D}, 3);
  Tensor k = buf.Random(DType::kF32, {B, T, Hkv, D}, 4);
  Tensor v = buf.Random(DType::kF32, {B, T, Hkv, D}, 5);
  if (cache_type != DType::kF32) {  // round k, v to the cache precision so both paths see the same values
    for (Tensor* t : {&k, &v}) {
      Tensor low = buf.Make(cache_type, {B, T, Hkv, D});
      ASSERT_TRUE(backend.Convert(*t, low).ok());
      ASSERT_TRUE(backend.Convert(low, *t).ok());
    }
  }
  Tensor out = buf.Make(DType::kF32, {B, T, Hq, D});
  Tensor lse = buf.Make(DType::kF32, {B, Hq, T});
  ASSERT_TRUE(backend.AttentionForward(q, k, v, out, lse).ok());

  const std::int64_t t_max = T + 3;
  Tensor kc = buf.Make(cache_type, {B, t_max, Hkv, D});
  Tensor vc = buf.Make(cache_type, {B, t_max, Hkv, D});
  ASSERT_TRUE(backend.Fill(kc, 1e6f).ok());  // positions past `length` must be ignored
  ASSERT_TRUE(backend.Fill(vc, 1e6f).ok());
  ASSERT_TRUE(backend.KvCacheWrite(k, kc, 0).ok());
  ASSERT_TRUE(backend.KvCacheWrite(v, vc, 0).ok());
  const std::vector<float> qh = buf.Read(q);
  std::vector<float> q_last(static_cast<std::size_t>(B * Hq * D));
  for (std::int64_t b = 0; b < B; ++b)
    std::memcpy(&q_last[static_cast<std::size_t>(b * Hq * D)], &qh[static_cast<std::size_t>((b * T + T - 1) * Hq * D)],
                static_cast<std::size_t>(Hq * D) * 4);
  Tensor qd = buf.Make(DType::kF32, {B, Hq, D});
  buf.Write(qd, q_last);
  Tensor od = buf.Make(DType::kF32, {B, Hq, D});
  ASSERT_TRUE(backend.AttentionDecode(qd, kc, vc, T, od).ok());
  const std::vector<float> full = buf.Read(out), dec = buf.Read(od);
  for (std::int64_t b = 0; b < B; ++b)
    for (std::int64_t i = 0; i < Hq * D; ++i)
      EXPECT_NEAR(dec[static_cast<std::size_t>(b * Hq * D + i)],
                  full[static_cast<std::size_t>((b * T + T - 1) * Hq * D + i)], 2e-6);
}
INSTANTIATE_TEST_SUITE_P(CacheTypes, DecodeVsPrefill, ::testing::Values(DType::kF32, DType::kBF16, DType::kF16));

struct GemmCase {
  std::int64_t m, n, k;
  bool ta, tb;
  DType a, b, c;
  float beta;
};

class GemmTest : public ::testing::TestWithParam<GemmCase> {};

// Every path (sgemm, panel conversion, fused GEMV) against a double reference
// computed from the operands as stored.
TEST_P(GemmTest, MatchesReference) {
  const GemmCase g = GetParam();
  // Panels of 128 columns: the wide cases below run several panels.
  cpu::SetGemmPanelCapForTesting(128);
  CpuBackend backend;
  Buffers buf(backend);
  Tensor a = g.ta ? buf.Random(g.a, {g.k, g.m}, 10) : buf.Random(g.a, {g.m, g.k}, 10);
  Tensor b = g.tb ? buf.Random(g.b, {g.n, g.k}, 11) : buf.Random(g.b, {g.k, g.n}, 11);
  Tensor c = buf.Random(g.c, {g.m, g.n}, 12);
  const std::uint64_t ws_bytes = GemmWorkspaceBytes(g.m, g.n, g.k, g.a, g.b, g.c);
  Tensor ws = buf.Make(DType::kF32, {static_cast<std::int64_t>(ws_bytes / 4) + 1});
  const std::vector<float> ah = buf.Read(a), bh = buf.Read(b), c0 = buf.Read(c);
  const float alpha = 0.75f;
  ASSERT_TRUE(backend.Gemm(g.ta, g.tb, alpha, a, b, g.beta, c, ws).ok());
  cpu::SetGemmPanelCapForTesting(0);
  const std::vector<float> ch = buf.Read(c);
  const double tol = g.c == DType::kF32 ? 1e-4 : (g.c == DType::kF16 ? 2e-3 : 1.6e-2);
  for (std::int64_t i = 0; i < g.m; ++i) {
    for (std::int64_t j = 0; j < g.n; ++j) {
      double ref = 0;
      for (std::int64_t p = 0; p < g.k; ++p) {
        const double av = ah[static_cast<std::size_t>(g.ta ? p * g.m + i : i * g.k + p)];
        const double bv = bh[static_cast<std::size_t>(g.tb ? j * g.k + p : p * g.n + j)];
        ref += av * bv;
      }
      ref = alpha * ref + g.beta * c0[static_cast<std::size_t>(i * g.n + j)];
      ASSERT_NEAR(ch[static_cast<std::size_t>(i * g.n + j)], ref, tol * std::max(1.0, std::fabs(ref)))
          << "at " << i << "," << j;
    }
  }
}

constexpr DType F = DType::kF32, H = DType::kF16, BF = DType::kBF16;
INSTANTIATE_TEST_SUITE_P(
    Paths, GemmTest,
    ::testing::Values(GemmCase{17, 23, 31, false, true, F, F, F, 0.0f},      // sgemm
                      GemmCase{17, 23, 31, true, false, F, F, F, 1.0f},      // sgemm, transposed A
                      GemmCase{3, 300, 37, false, true, F, BF, F, 0.0f},     // fused GEMV, bf16
                      GemmCase{8, 40, 19, false, true, F, H, F, 0.5f},       // fused GEMV, f16, tail
                      GemmCase{20, 300, 33, false, true, F, BF, F, 1.0f},    // panels of B^T
                      GemmCase{20, 300, 33, false, false, F, H, F, 0.0f},    // panels of B
                      GemmCase{29, 270, 13, true, false, F, F, BF, 1.0f},    // weight-gradient shape, bf16 C
                      GemmCase{9, 20, 11, false, false, BF, F, H, 0.0f},     // low-precision A
                      GemmCase{12, 5, 7, true, true, H, BF, BF, 0.25f}));    // everything converted

TEST(CpuOps, GemmRejectsSmallWorkspace) {
  CpuBackend backend;
  Buffers buf(backend);
  Tensor a = buf.Random(F, {16, 8}, 1), b = buf.Random(BF, {300, 8}, 2), c = buf.Make(F, {16, 300});
  const absl::Status s = backend.Gemm(false, true, 1.0f, a, b, 0.0f, c, buf.Make(F, {4}));
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument) << s;
}

TEST(CpuOps, AdamWFirstStepMovesByLearningRate) {
  CpuBackend backend;
  Buffers buf(backend);
  Tensor p = buf.Make(F, {4}), g = buf.Make(F, {4}), m = buf.Make(F, {4}), v = buf.Make(F, {4});
  buf.Write(p, {1.0f, 1.0f, -2.0f, 0.5f});
  buf.Write(g, {0.3f, -4.0f, 1e-2f, 0.0f});
  ASSERT_TRUE(backend.Fill(m, 0.0f).ok());
  ASSERT_TRUE(backend.Fill(v, 0.0f).ok());
  AdamWParams params;
  params.learning_rate = 0.1f;
  ASSERT_TRUE(backend.AdamW(p, g, m, v, params).ok());
  // Step 1 with bias correction: update = g / (|g| + eps) = sign(g).
  const std::vector<float> after = buf.Read(p);
  EXPECT_NEAR(after[0], 0.9f, 1e-6);
  EXPECT_NEAR(after[1], 1.1f, 1e-6);
  EXPECT_NEAR(after[2], -2.1f, 1e-5);
  EXPECT_NEAR(after[3], 0.5f, 1e-7);
}

TEST(CpuOps, CrossEntropyOfUniformLogitsIsLogV) {
  CpuBackend backend;
  Buffers buf(backend);
  Tensor logits = buf.Make(F, {3, 50}), losses = buf.Make(F, {3});
  ASSERT_TRUE(backend.Fill(logits, 2.0f).ok());
  std::int32_t* targets = static_cast<std::int32_t*>(*backend.device().Allocate(12));
  const std::int32_t t[3] = {0, 49, 7};
  ASSERT_TRUE(backend.device().CopyHostToDevice(targets, t, 12).ok());
  ASSERT_TRUE(backend.CrossEntropy(logits, targets, losses, logits, 1.0f).ok());
  for (float l : buf.Read(losses)) EXPECT_NEAR(l, std::log(50.0f), 1e-5);
  const std::vector<float> grad = buf.Read(logits);  // in place: rows sum to zero
  for (int r = 0; r < 3; ++r) {
    double sum = 0;
    for (int c = 0; c < 50; ++c) sum += grad[static_cast<std::size_t>(r * 50 + c)];
    EXPECT_NEAR(sum, 0.0, 1e-6);
  }
  const std::int32_t bad[3] = {0, 50, 1};
  ASSERT_TRUE(backend.device().CopyHostToDevice(targets, bad, 12).ok());
  EXPECT_EQ(backend.CrossEntropy(logits, targets, losses, Tensor{}, 1.0f).code(),
            absl::StatusCode::kInvalidArgument);
  backend.device().Free(targets);
}

TEST(CpuOps, ActivationsMustBeF32) {
  CpuBackend backend;
  Buffers buf(backend);
  Tensor x = buf.Make(BF, {2, 8}), w = buf.Make(F, {8}), out = buf.Make(F, {2, 8}), rstd = buf.Make(F, {2});
  EXPECT_EQ(backend.RmsNormForward(x, w, 1e-5f, out, rstd).code(), absl::StatusCode::kInvalidArgument);
}

TEST(CpuDevice, LimitMakesOomRecoverable) {
  CpuDeviceOptions options;
  options.memory_limit_bytes = 1 << 20;
  CpuDevice device(options);
  absl::StatusOr<void*> a = device.Allocate(600 << 10);
  ASSERT_TRUE(a.ok());
  absl::StatusOr<void*> b = device.Allocate(600 << 10);
  EXPECT_EQ(b.status().code(), absl::StatusCode::kResourceExhausted);
  EXPECT_EQ(device.GetMemoryInfo()->free_bytes, (1u << 20) - AlignUp(600 << 10, Device::kAlignment));
  device.Free(*a);
  absl::StatusOr<void*> c = device.Allocate(600 << 10);  // usable after the OOM
  ASSERT_TRUE(c.ok());
  device.Free(*c);
  EXPECT_EQ(device.allocated_bytes(), 0u);
}

TEST(Arena, HighWaterIsExactAndRewindKeepsIt) {
  CpuDevice device(CpuDeviceOptions{});
  auto arena = Arena::Create(device, 4096);
  ASSERT_TRUE(arena.ok());
  void* a = (*arena)->Allocate(100, "a");
  void* b = (*arena)->Allocate(300, "b");
  EXPECT_EQ(static_cast<char*>(b) - static_cast<char*>(a), 256);
  EXPECT_EQ(reinterpret_cast<std::uintptr_t>(b) % Device::kAlignment, 0u);
  const std::uint64_t mark = (*arena)->used_bytes();
  EXPECT_EQ(mark, 256u + 512u);
  (*arena)->Allocate(1000, "scratch");
  (*arena)->Rewind(mark);
  (*arena)->Allocate(10, "c");
  EXPECT_EQ((*arena)->high_water_bytes(), 256u + 512u + 1024u);
  EXPECT_EQ((*arena)->used_bytes(), 256u + 512u + 256u);
  EXPECT_EQ((*arena)->records().size(), 4u);
}

TEST(ArenaDeathTest, OverflowIsABrokenInvariant) {
  CpuDevice device(CpuDeviceOptions{});
  auto arena = Arena::Create(device, 1024);
  ASSERT_TRUE(arena.ok());
  EXPECT_DEATH((*arena)->Allocate(2048, "too-big"), "too-big");
}

TEST(Arena, ReservationBeyondLimitIsResourceExhausted) {
  CpuDeviceOptions options;
  options.memory_limit_bytes = 1 << 16;
  CpuDevice device(options);
  auto arena = Arena::Create(device, 1 << 17);
  EXPECT_EQ(arena.status().code(), absl::StatusCode::kResourceExhausted);
}

TEST(Discover, CpuComesFirstWithItsLimit) {
  DiscoverOptions options;
  options.cpu_memory_limit_bytes = 123 << 20;
  options.include_gpus = false;
  std::vector<std::unique_ptr<Backend>> backends = DiscoverBackends(options);
  ASSERT_EQ(backends.size(), 1u);
  EXPECT_EQ(backends[0]->name(), "cpu");
  EXPECT_EQ(backends[0]->device().kind(), DeviceKind::kCpu);
  EXPECT_EQ(backends[0]->device().info().memory_total_bytes, 123u << 20);
  EXPECT_EQ(backends[0]->device().GetMemoryInfo()->total_bytes, 123u << 20);
  options.include_cpu = false;
  for (const auto& b : DiscoverBackends(options)) EXPECT_NE(b->device().kind(), DeviceKind::kCpu);
}

TEST(Version, KernelSourceHashIsSha256Hex) {
  const std::string_view hash = KernelSourceHash();
  ASSERT_EQ(hash.size(), 64u);
  for (char ch : hash) EXPECT_TRUE((ch >= '0' && ch <= '9') || (ch >= 'a' && ch <= 'f')) << hash;
}

}  // namespace
}  // namespace localbench::kernels
