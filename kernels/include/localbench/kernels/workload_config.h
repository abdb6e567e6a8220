// What a workload instance runs: kind, model shape, precision, sizes.
#pragma once

#include <cstdint>
#include <optional>
#include <string_view>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "localbench/kernels/dtype.h"
#include "localbench/kernels/presets.h"
#include "localbench/kernels/train_options.h"

#include "localbench/kernels/quant.h"

namespace localbench::kernels {

// The kinds of work (maps onto localbench.v1.WorkloadKind).
enum class WorkloadKind { kPrefill, kDecode, kTrainLora, kTrainFull };

// Name of a kind: "prefill", "decode", "train-lora", "train-full".
std::string_view WorkloadKindName(WorkloadKind kind);
// Parses a kind name (untrusted input: clear error).
absl::StatusOr<WorkloadKind> ParseWorkloadKind(std::string_view name);

// Everything that decides a workload's work and memory.
struct WorkloadConfig {
  WorkloadKind kind = WorkloadKind::kPrefill;
  ModelPreset preset;                   // model shape
  DType precision = DType::kBF16;       // storage of weights and KV cache
  std::int64_t batch = 1;               // sequences processed together
  std::int64_t prompt_tokens = 0;       // prefill/decode: prompt length P
  std::int64_t generated_tokens = 0;    // decode: new tokens G per sequence
  std::int64_t sequence_tokens = 0;     // training: tokens T per sequence
  std::int64_t lora_rank = 0;           // kTrainLora: adapter rank r
  std::uint64_t seed = 1;               // weights and tokens
  TrainOptions train;                   // training only: accumulation, checkpointing, ... (train_options.h)

  // Quantized weights (issue 15): when set, the linear projections (and an
  // untied LM head) are stored in this format; embeddings, norms, KV cache
  // and activations keep `precision`. Not with kTrainFull (frozen base only).
  std::optional<QuantFormat> weight_format;
};

// InvalidArgument naming the first inconsistent field (sizes that the kind
// needs must be positive, others zero; lora_rank only for kTrainLora; the
// training options as ValidateTrainOptions says).
absl::Status ValidateConfig(const WorkloadConfig& config);

}  // namespace localbench::kernels
