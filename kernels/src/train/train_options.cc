// Training options: names and validation.
#include "localbench/kernels/train_options.h"

#include <string>

#include "absl/strings/str_cat.h"
#include "localbench/kernels/workload_config.h"

namespace localbench::kernels {

std::string_view FullFinetuneAccountingName(FullFinetuneAccounting accounting) {
  switch (accounting) {
    case FullFinetuneAccounting::kMixed: return "mixed";
    case FullFinetuneAccounting::kLean: return "lean";
  }
  return "?";
}

absl::StatusOr<FullFinetuneAccounting> ParseFullFinetuneAccounting(std::string_view name) {
  for (FullFinetuneAccounting a : {FullFinetuneAccounting::kMixed, FullFinetuneAccounting::kLean}) {
    if (FullFinetuneAccountingName(a) == name) return a;
  }
  return absl::InvalidArgumentError(
      absl::StrCat("unknown full fine-tune accounting \"", std::string(name), "\" (expected mixed or lean)"));
}

std::int64_t LossChunkRows(const TrainOptions& options, std::int64_t rows) {
  if (options.loss_chunks <= 1) return rows;
  return (rows + options.loss_chunks - 1) / options.loss_chunks;
}

absl::Status ValidateTrainOptions(const WorkloadConfig& c) {
  const TrainOptions& t = c.train;
  const std::string kind(WorkloadKindName(c.kind));
  const bool training = c.kind == WorkloadKind::kTrainLora || c.kind == WorkloadKind::kTrainFull;
  if (!training) {
    if (t.accumulation_steps != 1 || t.gradient_checkpointing || t.loss_chunks != 0 || t.activations != DType::kF32 ||
        t.full_accounting != FullFinetuneAccounting::kMixed) {
      return absl::InvalidArgumentError(absl::StrCat(
          kind, ": accumulation_steps, gradient_checkpointing, loss_chunks and full_accounting are training "
                "options (must be 1, off, 0, mixed); so are activations (f32)"));
    }
    return absl::OkStatus();
  }
  if (t.accumulation_steps < 1 || t.accumulation_steps > 1024) {
    return absl::InvalidArgumentError(
        absl::StrCat(kind, ": accumulation_steps must be in [1, 1024], got ", t.accumulation_steps));
  }
  if (t.loss_chunks < 0 || t.loss_chunks > 1024) {
    return absl::InvalidArgumentError(absl::StrCat(kind, ": loss_chunks must be in [0, 1024], got ", t.loss_chunks));
  }
  if (t.activations != DType::kF32 && t.activations != c.precision) {
    return absl::InvalidArgumentError(absl::StrCat(kind, ": activations must be f32 or the run's precision (",
                                                   std::string(DTypeName(c.precision)), "), got ",
                                                   std::string(DTypeName(t.activations))));
  }
  if (c.kind != WorkloadKind::kTrainFull && t.full_accounting != FullFinetuneAccounting::kMixed) {
    return absl::InvalidArgumentError(absl::StrCat(kind, ": full_accounting applies to train-full only"));
  }
  return absl::OkStatus();
}

}  // namespace localbench::kernels
