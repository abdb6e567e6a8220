// The outside oracle on the GPU: the same fixtures and runner as the CPU's
// (tests/kernels/oracle_test.cc), on the first GPU, with the tolerances the
// fixtures state. Skips visibly without a GPU; fails when the fixtures are
// missing (ctest generates them first).
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "gpu_test_util.h"
#include "oracle_fixture.h"

namespace localbench::kernels::gpu_test {
namespace {

class GpuMatchesReference : public ::testing::TestWithParam<std::string> {};

TEST_P(GpuMatchesReference, WithinStatedTolerance) {
  absl::StatusOr<std::string> dir = oracle::FixtureDir();
  ASSERT_TRUE(dir.ok()) << dir.status();
  absl::StatusOr<oracle::FixtureCase> c = oracle::LoadCase(*dir, GetParam());
  ASSERT_TRUE(c.ok()) << c.status();
  LB_GPU_OR_SKIP(gpu);
  absl::StatusOr<std::vector<std::string>> mismatches = oracle::RunCase(*gpu, *c);
  ASSERT_TRUE(mismatches.ok()) << mismatches.status();
  for (const std::string& m : *mismatches) ADD_FAILURE() << GetParam() << " on " << gpu->name() << ": " << m;
}

INSTANTIATE_TEST_SUITE_P(Oracle, GpuMatchesReference,
                         ::testing::Values("decode_llama_gqa_bf16", "prefill_qwen_gqa_f32", "prefill_tiny_input_f32",
                                           "train_lora_f32"),
                         [](const auto& p) { return p.param; });

}  // namespace
}  // namespace localbench::kernels::gpu_test
