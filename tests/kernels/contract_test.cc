// The op contract (kernels/src/backend.cc): invalid arguments are refused
// before any backend code runs, with one text per error on every backend.
// The GPU side of the same errors is in tests/gpu/gpu_ops_test.cc
// (EmbeddingBadId, LossBadTarget rows).
#include <gtest/gtest.h>

#include <cstdint>
#include <vector>

#include "localbench/kernels/cpu_backend.h"

namespace localbench::kernels {
namespace {

TEST(Contract, TokenIdOutsideTheTableNamesOpFieldRowAndRange) {
  CpuBackend backend;
  std::vector<float> table(64 * 4, 1.f), out(3 * 4, 0.f);
  const std::vector<std::int32_t> ids = {0, 63, 70};
  const absl::Status s = backend.EmbeddingForward(Tensor::Of(table.data(), DType::kF32, {64, 4}), ids.data(),
                                                  Tensor::Of(out.data(), DType::kF32, {3, 4}));
  EXPECT_EQ(s, IndexOutOfRange("EmbeddingForward", "ids", 2, 70, 64));
  EXPECT_EQ(s.message(), "EmbeddingForward: ids[2] = 70 outside [0, 64)");
  EXPECT_EQ(out, std::vector<float>(3 * 4, 0.f)) << "refused before any row was written";
}

TEST(Contract, NegativeTargetIsRefused) {
  CpuBackend backend;
  std::vector<float> logits(2 * 5, 0.f), losses(2, 0.f);
  const std::vector<std::int32_t> targets = {-1, 2};
  EXPECT_EQ(backend.CrossEntropy(Tensor::Of(logits.data(), DType::kF32, {2, 5}), targets.data(),
                                 Tensor::Of(losses.data(), DType::kF32, {2}), Tensor{}, 1.f),
            IndexOutOfRange("CrossEntropy", "targets", 0, -1, 5));
}

TEST(Contract, ShapeErrorsNameTheField) {
  CpuBackend backend;
  std::vector<float> x(2 * 4, 1.f), w(3, 1.f), out(2 * 4), rstd(2);
  const absl::Status s = backend.RmsNormForward(Tensor::Of(x.data(), DType::kF32, {2, 4}),
                                                Tensor::Of(w.data(), DType::kF32, {3}), 1e-5f,
                                                Tensor::Of(out.data(), DType::kF32, {2, 4}),
                                                Tensor::Of(rstd.data(), DType::kF32, {2}));
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(s.message(), "RmsNormForward: weight has 3 elements, expected 4");
  std::vector<float> q(1 * 2 * 3 * 4), k(1 * 2 * 2 * 4);
  const absl::Status a = backend.AttentionForward(
      Tensor::Of(q.data(), DType::kF32, {1, 2, 3, 4}), Tensor::Of(k.data(), DType::kF32, {1, 2, 2, 4}),
      Tensor::Of(k.data(), DType::kF32, {1, 2, 2, 4}), Tensor::Of(q.data(), DType::kF32, {1, 2, 3, 4}),
      Tensor::Of(rstd.data(), DType::kF32, {6}));
  EXPECT_EQ(a.message(), "AttentionForward: Hq (3) must be a multiple of Hkv (2)");
}

TEST(Contract, ActivationsShareOneDtypePerGroup) {
  // 16-bit activations are allowed (issue 13), but an op's activations share
  // one storage type: a bf16 gate with an fp32 up is refused, naming both.
  CpuBackend backend;
  std::vector<std::uint16_t> gate(8);
  std::vector<float> up(8), out(8);
  const absl::Status s = backend.SwiGluForward(Tensor::Of(gate.data(), DType::kBF16, {8}),
                                               Tensor::Of(up.data(), DType::kF32, {8}),
                                               Tensor::Of(out.data(), DType::kF32, {8}));
  EXPECT_EQ(s.message(), "SwiGluForward: up must have gate's dtype (bf16), is f32");
  // Numerics that stay fp32 (statistics, losses) still refuse 16-bit.
  std::vector<std::uint16_t> x(8), xn(8), rstd16(2);
  std::vector<float> w(4, 1.0f);
  const absl::Status r = backend.RmsNormForward(Tensor::Of(x.data(), DType::kBF16, {2, 4}),
                                                Tensor::Of(w.data(), DType::kF32, {4}), 1e-5f,
                                                Tensor::Of(xn.data(), DType::kBF16, {2, 4}),
                                                Tensor::Of(rstd16.data(), DType::kBF16, {2}));
  EXPECT_EQ(r.message(), "RmsNormForward: rstd must be f32 (kept fp32 for numerics), is bf16");
}

}  // namespace
}  // namespace localbench::kernels
