// The outside oracle on the CPU backend: the real workloads (prefill,
// decode, a LoRA training step) against an independent NumPy reference of
// the Llama/Qwen forward (tests/oracle/reference.py), fp32 compute, within
// the tolerance each fixture states (fp32: 2e-4 + 2e-3 |want|; bf16 KV
// cache: 3e-3 + 1e-2 |want|; gradients: 2e-5 + 2e-3 |want|).
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "localbench/kernels/cpu_backend.h"
#include "oracle_fixture.h"

namespace localbench::kernels::oracle {
namespace {

// Every case make_fixtures.py writes; a missing one fails, never skips.
const std::vector<std::string>& Cases() {
  static const std::vector<std::string> cases = {"decode_llama_gqa_bf16", "prefill_qwen_gqa_f32",
                                                 "prefill_tiny_input_f32", "train_lora_f32"};
  return cases;
}

TEST(OracleFixtures, AreTheExpectedSet) {
  absl::StatusOr<std::string> dir = FixtureDir();
  ASSERT_TRUE(dir.ok()) << dir.status();
  absl::StatusOr<std::vector<std::string>> found = ListCases(*dir);
  ASSERT_TRUE(found.ok()) << found.status();
  EXPECT_EQ(*found, Cases());
}

class CpuMatchesReference : public ::testing::TestWithParam<std::string> {};

TEST_P(CpuMatchesReference, WithinStatedTolerance) {
  absl::StatusOr<std::string> dir = FixtureDir();
  ASSERT_TRUE(dir.ok()) << dir.status();
  absl::StatusOr<FixtureCase> c = LoadCase(*dir, GetParam());
  ASSERT_TRUE(c.ok()) << c.status();
  CpuDeviceOptions options;
  options.threads = 2;  // a real split: the static partition must not change results
  CpuBackend backend(options);
  absl::StatusOr<std::vector<std::string>> mismatches = RunCase(backend, *c);
  ASSERT_TRUE(mismatches.ok()) << mismatches.status();
  for (const std::string& m : *mismatches) ADD_FAILURE() << GetParam() << ": " << m;
}

INSTANTIATE_TEST_SUITE_P(Oracle, CpuMatchesReference, ::testing::ValuesIn(Cases()),
                         [](const auto& p) { return p.param; });

}  // namespace
}  // namespace localbench::kernels::oracle
