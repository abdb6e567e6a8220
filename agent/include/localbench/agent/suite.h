// The standard suite: what `localbench-agent run` measures by default. It is
// versioned, and the SHA-256 of its canonical text travels with every result
// (Software.suite_hash), so two results are comparable only when they were
// produced by the same definition.
#ifndef LOCALBENCH_AGENT_SUITE_H_
#define LOCALBENCH_AGENT_SUITE_H_

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "localbench/agent/options.h"
#include "localbench/agent/train_dims.h"
#include "localbench/v1/results.pb.h"

namespace localbench::agent {

// One workload shape applied to every preset of the suite.
struct SuiteTemplate {
  v1::WorkloadKind kind = v1::WORKLOAD_KIND_PREFILL;
  v1::Precision precision = v1::PRECISION_FP32;
  std::uint32_t prompt_tokens = 0;     // prefill, decode
  std::uint32_t generated_tokens = 0;  // decode
  std::uint32_t sequence_tokens = 0;   // training
  std::uint32_t lora_rank = 0;         // train-lora
  TrainDims train;                     // training dimensions (suite 2027.01 on)
  // Prefill/decode whose batch 1 is reserved only after every preset's other
  // batch-1 points: it runs in a second round of the first pass and gives
  // way first when the budget cannot hold them all (2027.01-cpu's Q8_0).
  bool deferred = false;

  // Field-wise equality (duplicates after --precisions etc. run once).
  bool operator==(const SuiteTemplate&) const = default;
};

// A template that runs on some presets only (suite_scoped.cc), e.g. the
// 2027.01 GPU suite's 4-bit points for the 7-8B presets.
struct ScopedTemplate {
  std::vector<std::string> presets;  // in run order; may name presets outside Suite::presets
  SuiteTemplate shape;

  bool operator==(const ScopedTemplate&) const = default;
};

// A suite: presets x templates, and how each sweep runs.
struct Suite {
  std::string name;        // "cpu", "gpu" or "custom"
  std::string version;     // human version, e.g. "2026.11-cpu"
  std::vector<std::string> presets;
  std::vector<SuiteTemplate> templates;
  // Sweeps beyond presets x templates: each shape on its presets only. A
  // preset named only here runs only its scoped shapes, after the others.
  // Stated in the canonical text only when present (older hashes unchanged).
  std::vector<ScopedTemplate> scoped;
  std::vector<std::uint32_t> batches;  // explicit list; empty = doubling sweep
  std::uint32_t max_batch = 0;         // cap of the doubling sweep (0 = none)
  std::uint32_t repetitions = 3;       // timed steps per point
  std::uint32_t warmup_steps = 1;      // untimed steps per point
  // CPU backend memory limit the suite runs under (0 = the rule below).
  std::uint64_t cpu_memory_limit_bytes = 0;
  // The CPU rule (suite 2026.12-cpu): the budget is the machine's available
  // memory (MemAvailable: what the OS can give without swapping) less a
  // margin of this fraction, and at least cpu_memory_margin_min_bytes.
  double cpu_memory_margin_fraction = 0;
  std::uint64_t cpu_memory_margin_min_bytes = 0;
  // Default time budget of the whole suite (--budget replaces it; results
  // stay comparable: the points it cuts are recorded as skipped for time).
  double time_budget_seconds = 600;

  // The canonical text: every field, in a fixed order and format, plus each
  // preset's full shape (so a change of shape changes the hash).
  std::string CanonicalText() const;
  // Hex SHA-256 of CanonicalText().
  std::string Hash() const;
};

// The CPU memory budget `suite` gives a machine with `available_bytes`
// (MemAvailable): the fixed limit when the suite has one, else the rule.
std::uint64_t CpuMemoryBudget(const Suite& suite, std::uint64_t available_bytes);

// MemAvailable of this machine (0 when /proc cannot tell).
std::uint64_t AvailableMemoryBytes();

// The suites built into this agent.
Suite CpuSuite();
Suite GpuSuite();
// Suites 2027.01 (suite_2027.cc): 2026.12 with its rules, plus the training
// dimensions (16-bit activations, checkpointing on and off for LoRA on the
// GPU, mixed-precision full fine-tune accounting).
Suite CpuSuite2027();
Suite GpuSuite2027();
// The standard suite for a backend: CpuSuite2027 for the CPU, else
// GpuSuite2027 (the served tables tell their training dimensions apart, so
// LoRA with checkpointing on and off publish as two cells).
Suite StandardSuite(v1::Backend backend);
// The suite family `version` ("" or "2027.01": the standard suite;
// "2026.12": CpuSuite/GpuSuite) for a backend; InvalidArgument naming the
// version otherwise.
absl::StatusOr<Suite> SuiteFor(std::string_view version, v1::Backend backend);

// The suite `options` ask for: the standard one restricted or extended by
// --presets, --workloads, --precisions, --batches/--max-batch, the length
// lists and --repetitions. Unknown presets are an error. When anything
// changes, the name becomes "custom" and the version gains "+custom".
absl::StatusOr<Suite> ApplyOptions(const Suite& standard, const RunOptions& options);

// One sweep the suite asks for: a preset with a concrete template.
struct SuiteItem {
  std::string preset;
  SuiteTemplate shape;
};
// The sweeps of a suite in run order: preset by preset, templates in order
// then the scoped shapes naming that preset; presets named only by scoped
// shapes come last.
std::vector<SuiteItem> Expand(const Suite& suite);

}  // namespace localbench::agent

#endif  // LOCALBENCH_AGENT_SUITE_H_
