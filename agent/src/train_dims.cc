#include "localbench/agent/train_dims.h"

#include "localbench/agent/options.h"

namespace localbench::agent {

std::string_view AccountingName(v1::FullFinetuneAccounting accounting) {
  switch (accounting) {
    case v1::FULL_FINETUNE_ACCOUNTING_MIXED: return "mixed";
    case v1::FULL_FINETUNE_ACCOUNTING_LEAN: return "lean";
    default: return "";
  }
}

absl::StatusOr<v1::FullFinetuneAccounting> ParseAccounting(std::string_view name) {
  if (name == "mixed") return v1::FULL_FINETUNE_ACCOUNTING_MIXED;
  if (name == "lean") return v1::FULL_FINETUNE_ACCOUNTING_LEAN;
  return absl::InvalidArgumentError("unknown full fine-tune accounting '" + std::string(name) +
                                    "' (expected mixed or lean)");
}

std::string CanonicalTrainDims(const TrainDims& d) {
  if (d.IsDefault()) return "";
  return " activation_precision=" +
         std::string(d.activation_precision == v1::PRECISION_UNSPECIFIED ? "fp32"
                                                                          : PrecisionName(d.activation_precision)) +
         " gradient_checkpointing=" + (d.gradient_checkpointing ? "1" : "0") +
         " accumulation_steps=" + std::to_string(d.accumulation_steps) +
         " full_finetune_accounting=" + std::string(AccountingName(d.full_finetune_accounting)) +
         " loss_chunks=" + std::to_string(d.loss_chunks);
}

TrainDims TrainDimsOf(const v1::Workload& w) {
  TrainDims d;
  d.activation_precision = w.activation_precision() == v1::PRECISION_FP32 ? v1::PRECISION_UNSPECIFIED
                                                                            : w.activation_precision();
  d.gradient_checkpointing = w.gradient_checkpointing();
  d.accumulation_steps = w.accumulation_steps() == 1 ? 0 : w.accumulation_steps();
  d.full_finetune_accounting = w.full_finetune_accounting();
  d.loss_chunks = w.loss_chunks();
  return d;
}

void SetTrainDims(const TrainDims& d, v1::WorkloadKind kind, v1::Workload* w) {
  const bool training = kind == v1::WORKLOAD_KIND_TRAIN_LORA || kind == v1::WORKLOAD_KIND_TRAIN_FULL;
  if (!training) return;
  w->set_activation_precision(d.activation_precision);
  w->set_gradient_checkpointing(d.gradient_checkpointing);
  w->set_accumulation_steps(d.accumulation_steps);
  if (kind == v1::WORKLOAD_KIND_TRAIN_FULL) w->set_full_finetune_accounting(d.full_finetune_accounting);
  w->set_loss_chunks(d.loss_chunks);
}

kernels::TrainOptions KernelTrainOptions(const TrainDims& d, v1::WorkloadKind kind) {
  kernels::TrainOptions o;
  const bool training = kind == v1::WORKLOAD_KIND_TRAIN_LORA || kind == v1::WORKLOAD_KIND_TRAIN_FULL;
  if (!training) return o;
  o.activations = d.activation_precision == v1::PRECISION_BF16   ? kernels::DType::kBF16
                  : d.activation_precision == v1::PRECISION_FP16 ? kernels::DType::kF16
                                                                 : kernels::DType::kF32;
  o.gradient_checkpointing = d.gradient_checkpointing;
  o.accumulation_steps = d.accumulation_steps == 0 ? 1 : d.accumulation_steps;
  o.loss_chunks = d.loss_chunks;
  if (kind == v1::WORKLOAD_KIND_TRAIN_FULL) {
    o.full_accounting = d.full_finetune_accounting == v1::FULL_FINETUNE_ACCOUNTING_MIXED
                            ? kernels::FullFinetuneAccounting::kMixed
                            : kernels::FullFinetuneAccounting::kLean;
  }
  return o;
}

std::string TrainDimsFlags(const TrainDims& d, v1::WorkloadKind kind) {
  const bool training = kind == v1::WORKLOAD_KIND_TRAIN_LORA || kind == v1::WORKLOAD_KIND_TRAIN_FULL;
  if (!training || d.IsDefault()) return "";
  std::string flags = " --activation-precision " +
                      std::string(d.activation_precision == v1::PRECISION_UNSPECIFIED
                                      ? "fp32"
                                      : PrecisionName(d.activation_precision)) +
                      " --gradient-checkpointing " + (d.gradient_checkpointing ? "on" : "off") +
                      " --accumulation-steps " + std::to_string(d.accumulation_steps == 0 ? 1 : d.accumulation_steps) +
                      " --loss-chunks " + std::to_string(d.loss_chunks);
  if (kind == v1::WORKLOAD_KIND_TRAIN_FULL && d.full_finetune_accounting != v1::FULL_FINETUNE_ACCOUNTING_UNSPECIFIED) {
    flags += " --full-accounting " + std::string(AccountingName(d.full_finetune_accounting));
  }
  return flags;
}

std::string DescribeTrainDims(const TrainDims& d) {
  if (d.IsDefault()) return "";
  std::string s;
  if (d.activation_precision == v1::PRECISION_BF16 || d.activation_precision == v1::PRECISION_FP16) {
    s += " " + std::string(PrecisionName(d.activation_precision)) + "-acts";
  }
  s += d.gradient_checkpointing ? " ckpt-on" : " ckpt-off";
  if (d.accumulation_steps > 1) s += " accum" + std::to_string(d.accumulation_steps);
  if (d.loss_chunks > 0) s += " loss-chunks" + std::to_string(d.loss_chunks);
  if (d.full_finetune_accounting != v1::FULL_FINETUNE_ACCOUNTING_UNSPECIFIED) {
    s += " " + std::string(AccountingName(d.full_finetune_accounting));
  }
  return s;
}

}  // namespace localbench::agent
