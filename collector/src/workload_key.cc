#include "localbench/collector/workload_key.h"

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "localbench/common/names.h"

namespace localbench::collector {

bool IsTrainingKind(v1::WorkloadKind kind) {
  return kind == v1::WORKLOAD_KIND_TRAIN_LORA || kind == v1::WORKLOAD_KIND_TRAIN_FULL;
}

v1::WorkloadKey CanonicalWorkloadKey(v1::WorkloadKey w) {
  if (!IsTrainingKind(w.kind())) {
    w.clear_activation_precision();
    w.clear_gradient_checkpointing();
    w.clear_accumulation_steps();
    w.clear_full_finetune_accounting();
    w.clear_loss_chunks();
    return w;
  }
  // UNSPECIFIED (a key written before 2027.01 may hold it) means fp32.
  if (w.activation_precision() == v1::PRECISION_UNSPECIFIED) w.set_activation_precision(v1::PRECISION_FP32);
  if (!w.has_gradient_checkpointing()) w.set_gradient_checkpointing(false);
  if (w.accumulation_steps() == 0) w.set_accumulation_steps(1);
  if (!w.has_loss_chunks()) w.set_loss_chunks(0);
  if (w.kind() != v1::WORKLOAD_KIND_TRAIN_FULL) {
    w.clear_full_finetune_accounting();
  } else if (w.full_finetune_accounting() == v1::FULL_FINETUNE_ACCOUNTING_UNSPECIFIED) {
    w.set_full_finetune_accounting(v1::FULL_FINETUNE_ACCOUNTING_LEAN);
  }
  return w;
}

std::string TrainingDimsLabel(const v1::WorkloadKey& key) {
  const v1::WorkloadKey w = CanonicalWorkloadKey(key);
  if (!IsTrainingKind(w.kind())) return "";
  std::vector<std::string> parts;
  if (w.activation_precision() != v1::PRECISION_FP32) {
    parts.push_back(absl::StrCat(PrecisionName(w.activation_precision()), " act"));
  }
  if (w.gradient_checkpointing()) parts.emplace_back("ckpt");
  if (w.accumulation_steps() > 1) parts.push_back(absl::StrCat("accum ", w.accumulation_steps()));
  if (w.loss_chunks() > 0) parts.push_back(absl::StrCat("loss ", w.loss_chunks(), " chunks"));
  if (w.full_finetune_accounting() == v1::FULL_FINETUNE_ACCOUNTING_MIXED) parts.emplace_back("mixed");
  return absl::StrJoin(parts, ", ");
}

std::string TrainingDimsFlags(const v1::WorkloadKey& key) {
  const v1::WorkloadKey w = CanonicalWorkloadKey(key);
  if (!IsTrainingKind(w.kind())) return "";
  std::string flags = absl::StrCat(" --activation-precision ", PrecisionName(w.activation_precision()),
                                   " --gradient-checkpointing ", w.gradient_checkpointing() ? "on" : "off",
                                   " --accumulation-steps ", w.accumulation_steps(), " --loss-chunks ",
                                   w.loss_chunks());
  if (w.kind() == v1::WORKLOAD_KIND_TRAIN_FULL) {
    absl::StrAppend(&flags, " --full-accounting ",
                    w.full_finetune_accounting() == v1::FULL_FINETUNE_ACCOUNTING_MIXED ? "mixed" : "lean");
  }
  return flags;
}

}  // namespace localbench::collector
