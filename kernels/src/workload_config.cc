// Workload kinds and validation of a workload configuration.
#include "localbench/kernels/workload_config.h"

#include <algorithm>
#include <string>

#include "absl/strings/str_cat.h"
#include "quant/quant_workload.h"

namespace localbench::kernels {

std::string_view WorkloadKindName(WorkloadKind kind) {
  switch (kind) {
    case WorkloadKind::kPrefill: return "prefill";
    case WorkloadKind::kDecode: return "decode";
    case WorkloadKind::kTrainLora: return "train-lora";
    case WorkloadKind::kTrainFull: return "train-full";
  }
  return "?";
}

absl::StatusOr<WorkloadKind> ParseWorkloadKind(std::string_view name) {
  for (WorkloadKind k : {WorkloadKind::kPrefill, WorkloadKind::kDecode, WorkloadKind::kTrainLora,
                         WorkloadKind::kTrainFull}) {
    if (WorkloadKindName(k) == name) return k;
  }
  return absl::InvalidArgumentError(absl::StrCat(
      "unknown workload kind \"", std::string(name), "\" (expected prefill, decode, train-lora or train-full)"));
}

namespace {

// Each field on its own.
absl::Status ValidateFields(const WorkloadConfig& c) {
  if (absl::Status s = ValidatePreset(c.preset); !s.ok()) return s;
  constexpr std::int64_t kMaxTokens = std::int64_t{1} << 20;
  auto need = [&](std::int64_t v, const char* what) -> absl::Status {
    if (v <= 0 || v > kMaxTokens) {
      return absl::InvalidArgumentError(absl::StrCat(std::string(WorkloadKindName(c.kind)), ": ", what,
                                                     " must be in [1, 2^20], got ", v));
    }
    return absl::OkStatus();
  };
  auto none = [&](std::int64_t v, const char* what) -> absl::Status {
    if (v != 0) {
      return absl::InvalidArgumentError(
          absl::StrCat(std::string(WorkloadKindName(c.kind)), ": ", what, " must be 0, got ", v));
    }
    return absl::OkStatus();
  };
  absl::Status s = need(c.batch, "batch");
  if (!s.ok()) return s;

  switch (c.kind) {
    case WorkloadKind::kPrefill:
      if (s = need(c.prompt_tokens, "prompt_tokens"); !s.ok()) return s;
      if (s = none(c.generated_tokens, "generated_tokens"); !s.ok()) return s;
      if (s = none(c.sequence_tokens, "sequence_tokens"); !s.ok()) return s;
      return none(c.lora_rank, "lora_rank");
    case WorkloadKind::kDecode:
      if (s = need(c.prompt_tokens, "prompt_tokens"); !s.ok()) return s;
      if (s = need(c.generated_tokens, "generated_tokens"); !s.ok()) return s;
      if (s = none(c.sequence_tokens, "sequence_tokens"); !s.ok()) return s;
      return none(c.lora_rank, "lora_rank");
    case WorkloadKind::kTrainLora:
      if (s = need(c.sequence_tokens, "sequence_tokens"); !s.ok()) return s;
      if (s = none(c.prompt_tokens, "prompt_tokens"); !s.ok()) return s;
      if (s = none(c.generated_tokens, "generated_tokens"); !s.ok()) return s;
      if (c.lora_rank <= 0 || c.lora_rank > 4096) {
        return absl::InvalidArgumentError(
            absl::StrCat("train-lora: lora_rank must be in [1, 4096], got ", c.lora_rank));
      }
      return absl::OkStatus();
    case WorkloadKind::kTrainFull:
      if (s = need(c.sequence_tokens, "sequence_tokens"); !s.ok()) return s;
      if (s = none(c.prompt_tokens, "prompt_tokens"); !s.ok()) return s;
      if (s = none(c.generated_tokens, "generated_tokens"); !s.ok()) return s;
      return none(c.lora_rank, "lora_rank");
  }
  return absl::InvalidArgumentError("unknown workload kind");
}

}  // namespace

absl::Status ValidateConfig(const WorkloadConfig& c) {
  if (absl::Status s = ValidateFields(c); !s.ok()) return s;
  if (absl::Status s = ValidateTrainOptions(c); !s.ok()) return s;
  if (absl::Status s = quant::ValidateQuantConfig(c); !s.ok()) return s;
  // Fields are now each <= 2^20: the product bound keeps plan sizes in 64 bits.
  const std::int64_t tokens = std::max(c.prompt_tokens + c.generated_tokens, c.sequence_tokens);
  if (c.batch * tokens > (std::int64_t{1} << 24)) {
    return absl::InvalidArgumentError(absl::StrCat(std::string(WorkloadKindName(c.kind)), ": batch x tokens (",
                                                   c.batch * tokens, ") must be at most 2^24"));
  }
  // Training keeps every micro-batch's token ids on the device.
  if (c.train.accumulation_steps * c.batch * tokens > (std::int64_t{1} << 24)) {
    return absl::InvalidArgumentError(absl::StrCat(std::string(WorkloadKindName(c.kind)),
                                                   ": accumulation_steps x batch x tokens must be at most 2^24"));
  }
  return absl::OkStatus();
}

}  // namespace localbench::kernels
