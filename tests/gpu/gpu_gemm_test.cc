// GEMM on the GPU against the CPU reference, driven by one table of cases:
// path (vendor, portable, SIMT) x input dtype x output dtype x shape, each
// run over both transpositions and beta 0 / 0.5. A vendor case skips, saying
// so, where cuBLASLt is missing (it would otherwise test the portable path
// under the vendor's name); without a GPU everything skips visibly.
#include <cmath>
#include <cstdint>
#include <string>
#include <tuple>
#include <vector>

#include <gtest/gtest.h>

#include "gpu_test_util.h"

namespace localbench::kernels::gpu_test {
namespace {

const DType kDTypes[] = {DType::kF32, DType::kBF16, DType::kF16};

std::string Name(DType d) { return std::string(DTypeName(d)); }

// ---- GEMM: every path, dtype combination and transposition ------------------
// (path, input dtype, output dtype, M, N, K)
using GemmCase = std::tuple<gpu::GemmPath, DType, DType, int, int, int>;
class GpuGemm : public ::testing::TestWithParam<GemmCase> {};

TEST_P(GpuGemm, MatchesCpu) {
  LB_GPU_OR_SKIP(gpu);
  CpuBackend& cpu = SharedCpu();
  const auto [path, in, out_t, m, n, k] = GetParam();
  const gpu::GemmPath saved = gpu->gemm_path();
  gpu->SetGemmPath(path);
  // A vendor case without the vendor library would quietly test the
  // portable path under the vendor's name: skip it, visibly, instead.
  if (gpu->gemm_path() != path) {
    const gpu::GemmPath taken = gpu->gemm_path();
    gpu->SetGemmPath(saved);
    ASSERT_EQ(path, gpu::GemmPath::kVendor) << "only the vendor path may be unavailable";
    GTEST_SKIP() << "the vendor GEMM (cuBLASLt) is not available on " << gpu->name() << " (this backend would use "
                 << gpu::GemmPathName(taken) << ")";
  }
  for (bool ta : {false, true}) {
    for (bool tb : {false, true}) {
      for (float beta : {0.f, 0.5f}) {
        const std::string tag = std::string(gpu::GemmPathName(path)) + " " + Name(in) + "->" + Name(out_t) +
                                " ta=" + std::to_string(ta) + " tb=" + std::to_string(tb) +
                                " beta=" + std::to_string(beta);
        Dual a(*gpu, in, ta ? std::vector<std::int64_t>{k, m} : std::vector<std::int64_t>{m, k},
               Random(static_cast<std::size_t>(m) * k, 70));
        Dual b(*gpu, in, tb ? std::vector<std::int64_t>{n, k} : std::vector<std::int64_t>{k, n},
               Random(static_cast<std::size_t>(k) * n, 71));
        Dual c(*gpu, out_t, {m, n}, Random(static_cast<std::size_t>(m) * n, 72));
        const std::uint64_t ws_bytes = GemmWorkspaceBytes(m, n, k, in, in, out_t);
        Buf ws_cpu(cpu, DType::kF32, {static_cast<std::int64_t>(ws_bytes / 4 + 1)});
        ASSERT_TRUE(cpu.Gemm(ta, tb, 0.75f, a.cpu.t, b.cpu.t, beta, c.cpu.t, ws_bytes ? ws_cpu.t : Tensor{}).ok());
        absl::Status s = gpu->Gemm(ta, tb, 0.75f, a.gpu.t, b.gpu.t, beta, c.gpu.t, Tensor{});
        ASSERT_TRUE(s.ok()) << tag << ": " << s;
        // fp32 sums of k products of values below 1: order differences stay
        // far below 1e-5 * k.
        ExpectClose(c.cpu.Download(), c.gpu.Download(), 1e-5 * k, RelTol(out_t), tag);
      }
    }
  }
  gpu->SetGemmPath(saved);
}

std::vector<GemmCase> GemmCases() {
  std::vector<GemmCase> cases;
  const int shapes[][3] = {{1, 77, 130}, {5, 33, 17}, {67, 129, 95}, {130, 200, 64}, {257, 129, 301}, {8, 1000, 264}};
  for (gpu::GemmPath p : {gpu::GemmPath::kVendor, gpu::GemmPath::kPortable, gpu::GemmPath::kSimt}) {
    for (DType in : kDTypes) {
      for (const auto& s : shapes) cases.emplace_back(p, in, DType::kF32, s[0], s[1], s[2]);
      if (in != DType::kF32) cases.emplace_back(p, in, in, 67, 129, 95);  // 16-bit output
    }
  }
  return cases;
}

std::string GemmCaseName(const ::testing::TestParamInfo<GemmCase>& param_info) {
  const GemmCase& c = param_info.param;
  return std::string(gpu::GemmPathName(std::get<0>(c))) + "_" + Name(std::get<1>(c)) + "_" + Name(std::get<2>(c)) +
         "_" + std::to_string(std::get<3>(c)) + "x" + std::to_string(std::get<4>(c)) + "x" +
         std::to_string(std::get<5>(c));
}

INSTANTIATE_TEST_SUITE_P(Paths, GpuGemm, ::testing::ValuesIn(GemmCases()), GemmCaseName);

TEST(GpuOps, MixedDtypeGemmFallsBackToPortable) {
  LB_GPU_OR_SKIP(gpu);
  CpuBackend& cpu = SharedCpu();
  const int m = 9, n = 70, k = 33;
  Dual a(*gpu, DType::kF32, {m, k}, Random(m * k, 80));
  Dual b(*gpu, DType::kBF16, {n, k}, Random(n * k, 81));
  Dual c(*gpu, DType::kF32, {m, n}, std::vector<float>(m * n, 0.f));
  const std::uint64_t ws_bytes = GemmWorkspaceBytes(m, n, k, DType::kF32, DType::kBF16, DType::kF32);
  Buf ws(cpu, DType::kF32, {static_cast<std::int64_t>(ws_bytes / 4 + 1)});
  ASSERT_TRUE(cpu.Gemm(false, true, 1.f, a.cpu.t, b.cpu.t, 0.f, c.cpu.t, ws_bytes ? ws.t : Tensor{}).ok());
  ASSERT_TRUE(gpu->Gemm(false, true, 1.f, a.gpu.t, b.gpu.t, 0.f, c.gpu.t, Tensor{}).ok());
  ExpectClose(c.cpu.Download(), c.gpu.Download(), 1e-5 * k, 1e-4, "mixed f32 x bf16");
}

// With the planned workspace, fp32 activations times 16-bit weights are
// staged to the weight's type in row blocks and run on matrix cores: equal
// to the CPU's exact product up to the rounding of A to 16 bits.
TEST(GpuOps, MixedGemmStagesActivationsThroughWorkspace) {
  LB_GPU_OR_SKIP(gpu);
  CpuBackend& cpu = SharedCpu();
  const gpu::GemmPath saved = gpu->gemm_path();
  struct Case {
    int m, n, k;
    bool ta, tb;
    bool small_ws;  // a workspace of 20 rows: several blocks
  };
  bool vendor_missing = false;
  for (gpu::GemmPath path : {gpu::GemmPath::kVendor, gpu::GemmPath::kPortable}) {
    gpu->SetGemmPath(path);
    if (gpu->gemm_path() != path) {  // no cuBLASLt: not the vendor path under its name
      ASSERT_EQ(path, gpu::GemmPath::kVendor);
      vendor_missing = true;
      continue;
    }
    for (DType wd : {DType::kBF16, DType::kF16}) {
      for (const Case& cs : {Case{67, 129, 95, false, true, false}, Case{300, 64, 130, false, false, true},
                             Case{45, 77, 40, true, true, true}, Case{129, 33, 64, true, false, false}}) {
        const std::string tag = std::string(gpu::GemmPathName(path)) + " " + Name(wd) + " " + std::to_string(cs.m) +
                                "x" + std::to_string(cs.n) + "x" + std::to_string(cs.k) +
                                (cs.small_ws ? " blocks" : "");
        Dual a(*gpu, DType::kF32, cs.ta ? std::vector<std::int64_t>{cs.k, cs.m} : std::vector<std::int64_t>{cs.m, cs.k},
               Random(static_cast<std::size_t>(cs.m) * cs.k, 90));
        Dual b(*gpu, wd, cs.tb ? std::vector<std::int64_t>{cs.n, cs.k} : std::vector<std::int64_t>{cs.k, cs.n},
               Random(static_cast<std::size_t>(cs.k) * cs.n, 91));
        Dual c(*gpu, DType::kF32, {cs.m, cs.n}, Random(static_cast<std::size_t>(cs.m) * cs.n, 92));
        const std::uint64_t planned = GemmWorkspaceBytes(cs.m, cs.n, cs.k, DType::kF32, wd, DType::kF32);
        const std::uint64_t ws_bytes = cs.small_ws ? static_cast<std::uint64_t>(cs.k) * 2 * 20 : planned;
        Buf ws_cpu(cpu, DType::kF32, {static_cast<std::int64_t>(planned / 4 + 1)});
        Buf ws_gpu(*gpu, DType::kF32, {static_cast<std::int64_t>(ws_bytes / 4)});
        ASSERT_TRUE(cpu.Gemm(cs.ta, cs.tb, 1.f, a.cpu.t, b.cpu.t, 0.25f, c.cpu.t, planned ? ws_cpu.t : Tensor{}).ok());
        absl::Status st = gpu->Gemm(cs.ta, cs.tb, 1.f, a.gpu.t, b.gpu.t, 0.25f, c.gpu.t, ws_gpu.t);
        ASSERT_TRUE(st.ok()) << tag << ": " << st;
        const double per_element = wd == DType::kBF16 ? 4e-3 : 5e-4;  // A rounded to the weight type
        ExpectClose(c.cpu.Download(), c.gpu.Download(), per_element * std::sqrt(static_cast<double>(cs.k)), 1e-3, tag);
      }
    }
  }
  gpu->SetGemmPath(saved);
  if (vendor_missing) GTEST_SKIP() << "portable path checked; the vendor GEMM (cuBLASLt) is not available";
}

}  // namespace
}  // namespace localbench::kernels::gpu_test
