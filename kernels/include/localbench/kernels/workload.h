// The workloads localbench measures, assembled from Backend ops only.
//
// - kPrefill: one forward pass over B prompts of P tokens, writing the KV
//   cache and producing the logits of each prompt's last token. A Step is the
//   whole prefill; tokens_per_step = B * P.
// - kDecode: greedy generation of G tokens per sequence after a P-token
//   prompt. The prompt's KV cache entries are filled with seeded synthetic
//   values at Create (decode speed depends on the cache length, not its
//   content), so the plan and the timing cover decode alone. A Step is the
//   whole generation of G tokens (each token one forward pass of the batch,
//   argmax on the device feeding the next token); tokens_per_step = B * G.
// - kTrainLora: forward + backward + AdamW over B sequences of T tokens with
//   a frozen base and rank-r adapters on q, k, v, o, gate, up, down.
//   tokens_per_step = B * T.
// - kTrainFull: the same, updating every weight (gradients stored in the
//   storage dtype, AdamW moments fp32).
//
// Storage: weights and the KV cache use `precision`; LoRA adapters and
// optimiser moments are fp32; activations are fp32, or a training run's
// 16-bit type with TrainOptions::activations (train_options.h). Training uses a fixed seeded batch
// of tokens every step (the loss falls as the model fits it).
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <utility>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "localbench/kernels/arena.h"
#include "localbench/kernels/backend.h"
#include "localbench/kernels/dtype.h"
#include "localbench/kernels/plan.h"
#include "localbench/kernels/presets.h"
#include "localbench/kernels/workload_config.h"

namespace localbench::kernels {

// One workload instance: its arena, weights and buffers, ready to Step.
class Workload {
 public:
  // Validates `config`, plans its memory, reserves the arena (out of device
  // memory: ResourceExhausted, device still usable) and initialises weights.
  static absl::StatusOr<std::unique_ptr<Workload>> Create(Backend& backend,
                                                          const WorkloadConfig& config);
  virtual ~Workload() = default;

  // Runs one step (see the file comment for what a step is). Returns once the
  // work is queued; the caller synchronises (timers do).
  virtual absl::Status Step() = 0;

  // Tokens one Step processes (the numerator of tokens/s).
  std::int64_t tokens_per_step() const { return tokens_per_step_; }
  const WorkloadConfig& config() const { return config_; }
  // The plan the arena was reserved from.
  const MemoryPlan& plan() const { return plan_; }
  // The arena's exact high-water mark.
  std::uint64_t arena_high_water_bytes() const { return arena_->high_water_bytes(); }
  const Arena& arena() const { return *arena_; }
  // Mean cross-entropy of the last training Step (waits for it); nullopt for
  // inference workloads or before the first step.
  std::optional<double> last_loss() const { return last_loss_; }

 protected:
  Workload(Backend& backend, const WorkloadConfig& config, MemoryPlan plan,
           std::unique_ptr<Arena> arena, std::int64_t tokens_per_step)
      : backend_(backend), config_(config), plan_(std::move(plan)), arena_(std::move(arena)),
        tokens_per_step_(tokens_per_step) {}

  Backend& backend_;
  WorkloadConfig config_;
  MemoryPlan plan_;
  std::unique_ptr<Arena> arena_;
  std::int64_t tokens_per_step_;
  std::optional<double> last_loss_;
};

}  // namespace localbench::kernels
