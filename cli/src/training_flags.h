// The training-dimension flags of `localbench` (WorkloadKey fields 8-12,
// TableFilter fields 12-16): the same names as `localbench-agent run`'s, each
// left unset (any value) unless given.
#ifndef LOCALBENCH_CLI_TRAINING_FLAGS_H_
#define LOCALBENCH_CLI_TRAINING_FLAGS_H_

#include <cstdint>
#include <string>

#include <CLI/CLI.hpp>

#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "localbench/v1/query.pb.h"

namespace localbench::cli {

// Raw flag values; empty means not given.
struct TrainingFlags {
  std::string activation_precision, gradient_checkpointing, accumulation_steps, full_accounting, loss_chunks;
};

// Adds --activation-precision, --gradient-checkpointing, --accumulation-steps,
// --full-accounting and --loss-chunks to `cmd`.
void AddTrainingFlags(CLI::App* cmd, TrainingFlags* t);

// Sets the given dimensions on `m` (a WorkloadKey or a TableFilter); returns
// a message naming the flag when a value does not parse, else "".
template <typename Message>
std::string FillTrainingDims(const TrainingFlags& t, Message* m) {
  if (!t.activation_precision.empty()) {
    v1::Precision p;
    if (!v1::Precision_Parse("PRECISION_" + absl::AsciiStrToUpper(t.activation_precision), &p)) {
      return absl::StrCat("--activation-precision: unknown value '", t.activation_precision, "' (fp32, fp16, bf16)");
    }
    m->set_activation_precision(p);
  }
  if (!t.gradient_checkpointing.empty()) m->set_gradient_checkpointing(t.gradient_checkpointing == "on");
  uint32_t n = 0;
  if (!t.accumulation_steps.empty()) {
    if (!absl::SimpleAtoi(t.accumulation_steps, &n)) return "--accumulation-steps: not a non-negative integer";
    m->set_accumulation_steps(n);
  }
  if (!t.full_accounting.empty()) {
    m->set_full_finetune_accounting(t.full_accounting == "mixed" ? v1::FULL_FINETUNE_ACCOUNTING_MIXED
                                                                 : v1::FULL_FINETUNE_ACCOUNTING_LEAN);
  }
  if (!t.loss_chunks.empty()) {
    if (!absl::SimpleAtoi(t.loss_chunks, &n)) return "--loss-chunks: not a non-negative integer";
    m->set_loss_chunks(n);
  }
  return "";
}

}  // namespace localbench::cli

#endif  // LOCALBENCH_CLI_TRAINING_FLAGS_H_
