// How a training step is run (issue 13): gradient accumulation, gradient
// checkpointing, full fine-tune memory accounting and the chunked loss. Kept
// apart from workload_config.h so the training options travel as one field
// (WorkloadConfig::train) and each has one name in results and commands.
#pragma once

#include <cstdint>
#include <string_view>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "localbench/kernels/dtype.h"

namespace localbench::kernels {

struct WorkloadConfig;

// What a full fine-tune keeps per parameter (train-full only).
enum class FullFinetuneAccounting {
  // The common mixed-precision setting (Megatron-LM's accounting, DeepSpeed
  // ZeRO's "16 bytes" plus fp32 gradients): weights in the run's precision
  // for the forward and backward, an fp32 master copy that AdamW updates,
  // fp32 gradients, fp32 moments. 18 bytes/parameter for a 16-bit run
  // (2 + 4 + 4 + 8); an fp32 run needs no master copy (16).
  kMixed,
  // The lean variant localbench planned before 2027.01: weights and gradients
  // in the run's precision, fp32 moments, no master copy (12 bytes/parameter
  // for a 16-bit run).
  kLean,
};

// "mixed" or "lean".
std::string_view FullFinetuneAccountingName(FullFinetuneAccounting accounting);
// Parses "mixed" / "lean" (untrusted input: clear error).
absl::StatusOr<FullFinetuneAccounting> ParseFullFinetuneAccounting(std::string_view name);

// Options of train-lora and train-full; inference workloads keep the defaults.
struct TrainOptions {
  // Micro-batches per optimizer step: each Step runs this many forward and
  // backward passes of `batch` sequences (on consecutive data), sums their
  // gradients and updates the weights once. Effective batch = batch x this.
  std::int64_t accumulation_steps = 1;
  // Per-layer checkpointing: the forward keeps only each layer's input; the
  // backward recomputes the layer's activations into one shared set.
  bool gradient_checkpointing = false;
  // train-full only (others keep the default).
  FullFinetuneAccounting full_accounting = FullFinetuneAccounting::kMixed;
  // Cross-entropy over the vocabulary in this many chunks of token rows, so
  // only ceil(N / loss_chunks) x V logits exist at once (torchtune's
  // CEWithChunkedOutputLoss uses 8). 0 = off: all N x V logits.
  std::int64_t loss_chunks = 0;
  // Dtype of the activations, saved and working set alike: fp32, or a
  // 16-bit run's own precision (bf16/f16), as mixed-precision trainers keep
  // them; the ops read and write that type and compute in fp32. Stay fp32
  // where numerics need it: norm statistics, attention log-sum-exps, the
  // logits and loss, and the residual stream's gradient. Activation
  // gradients are bf16 in a bf16 run and fp32 in an f16 run (f16 would need
  // loss scaling to keep small gradients from underflowing).
  DType activations = DType::kF32;
};

// Rows of logits one chunk of the loss holds for N token rows.
std::int64_t LossChunkRows(const TrainOptions& options, std::int64_t rows);

// InvalidArgument naming the field when `config.train` is inconsistent with
// its kind (ValidateConfig calls it).
absl::Status ValidateTrainOptions(const WorkloadConfig& config);

}  // namespace localbench::kernels
