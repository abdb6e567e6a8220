// The training dimensions of a workload (issue 13): activation precision,
// gradient checkpointing, accumulation, full fine-tune accounting, chunked
// loss. One place maps them between the suite, the wire (v1::Workload
// fields 8-12), the kernels (kernels::TrainOptions), the canonical text and
// the reproduce command, so all of them name the same thing.
#ifndef LOCALBENCH_AGENT_TRAIN_DIMS_H_
#define LOCALBENCH_AGENT_TRAIN_DIMS_H_

#include <cstdint>
#include <string>
#include <string_view>

#include "absl/status/statusor.h"
#include "localbench/kernels/train_options.h"
#include "localbench/v1/results.pb.h"

namespace localbench::agent {

// A training template's dimensions; all-default is what agents before suite
// 2027.01 ran (fp32 activations, no checkpointing, no accumulation, lean
// full fine-tune, whole logits).
struct TrainDims {
  v1::Precision activation_precision = v1::PRECISION_UNSPECIFIED;  // UNSPECIFIED = fp32
  bool gradient_checkpointing = false;
  std::uint32_t accumulation_steps = 0;  // 0 = 1
  v1::FullFinetuneAccounting full_finetune_accounting = v1::FULL_FINETUNE_ACCOUNTING_UNSPECIFIED;
  std::uint32_t loss_chunks = 0;  // 0 = off

  bool operator==(const TrainDims&) const = default;
  // True when every dimension has its pre-2027.01 meaning.
  bool IsDefault() const { return *this == TrainDims{}; }
};

// "mixed" / "lean" (and "" for UNSPECIFIED).
std::string_view AccountingName(v1::FullFinetuneAccounting accounting);
// Parses "mixed" or "lean".
absl::StatusOr<v1::FullFinetuneAccounting> ParseAccounting(std::string_view name);

// " activation_precision=bf16 gradient_checkpointing=1 ..." for the suite's
// canonical text; empty when IsDefault() (older suites keep their hashes).
std::string CanonicalTrainDims(const TrainDims& dims);
// The dimensions a result's workload states (reports of stored results).
TrainDims TrainDimsOf(const v1::Workload& workload);
// Copies the dimensions onto a result's workload (fields 8-12).
void SetTrainDims(const TrainDims& dims, v1::WorkloadKind kind, v1::Workload* workload);
// The kernels' options for a template of `kind` (a TRAIN_FULL with
// UNSPECIFIED accounting is the lean variant older agents planned).
kernels::TrainOptions KernelTrainOptions(const TrainDims& dims, v1::WorkloadKind kind);
// The run flags that select exactly these dimensions (reproduce commands).
std::string TrainDimsFlags(const TrainDims& dims, v1::WorkloadKind kind);
// Short words for people: "bf16 acts, checkpointing, x4 accumulation".
std::string DescribeTrainDims(const TrainDims& dims);

}  // namespace localbench::agent

#endif  // LOCALBENCH_AGENT_TRAIN_DIMS_H_
