// The outside oracle's fixtures (tests/oracle/make_fixtures.py): seeded
// weights and inputs, and what the NumPy reference computed from them. A
// case runs the real workload (prefill, decode or a LoRA training step) on
// any backend and compares its buffers, so the CPU test and the GPU test
// share one runner.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "localbench/kernels/backend.h"

namespace localbench::kernels::oracle {

// One tensor of a fixture: "set:<buffer>" or "expect:<buffer>".
struct FixtureTensor {
  std::string name;
  bool is_int = false;
  double atol = 0, rtol = 0;
  std::vector<std::int64_t> dims;
  std::vector<float> f32;         // when !is_int
  std::vector<std::int32_t> i32;  // when is_int
};

// One case: its settings (kind, model shape, sizes) and tensors.
struct FixtureCase {
  std::string name;
  std::map<std::string, std::string> settings;
  std::vector<FixtureTensor> tensors;
};

// The fixture directory from LOCALBENCH_ORACLE_DIR (set by ctest).
absl::StatusOr<std::string> FixtureDir();
// The case names (file stems) in `dir`, sorted.
absl::StatusOr<std::vector<std::string>> ListCases(const std::string& dir);
// Parses dir/<name>.lbfix (a file we generate, but checked: clear errors).
absl::StatusOr<FixtureCase> LoadCase(const std::string& dir, const std::string& name);
// Runs the case on `backend` and returns one line per mismatching
// "expect:" tensor (empty: the backend matches the reference).
absl::StatusOr<std::vector<std::string>> RunCase(Backend& backend, const FixtureCase& c);

}  // namespace localbench::kernels::oracle
