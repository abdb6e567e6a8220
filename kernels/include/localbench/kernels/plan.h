// The analytic memory plan: every buffer a workload will take from its arena,
// computed before a byte is allocated. Workload::Create reserves exactly
// total_bytes, and the tests check that the arena's high-water mark equals it
// buffer by buffer, so the plan can predict the largest batch that fits.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "localbench/kernels/device.h"
#include "localbench/kernels/workload_config.h"

namespace localbench::kernels {

// What a buffer holds (for reports: where the memory goes).
enum class BufferCategory {
  kWeights,           // model weights (and LoRA adapters)
  kKvCache,           // keys and values of past positions
  kActivationsSaved,  // forward activations kept for the backward pass
  kGradients,         // weight (or adapter) gradients and activation gradients
  kOptimizerState,    // AdamW moments
  kWorkspace,         // scratch: working activations, GEMM conversion panels, token ids
  kLogits,            // vocabulary logits (and their gradient, in place)
};

// Name of a category: "weights", "kv_cache", ...
std::string_view BufferCategoryName(BufferCategory category);

// One buffer of the plan.
struct PlannedBuffer {
  std::string name;        // same name the workload gives the arena
  BufferCategory category = BufferCategory::kWorkspace;
  std::uint64_t bytes = 0; // requested bytes (the arena rounds to alignment)
};

// The plan: buffers in allocation order and their aligned total.
struct MemoryPlan {
  std::vector<PlannedBuffer> buffers;
  std::uint64_t alignment = Device::kAlignment;
  std::uint64_t total_bytes = 0;  // sum of AlignUp(bytes, alignment): the arena size

  // Aligned bytes of one category.
  std::uint64_t CategoryBytes(BufferCategory category) const;
};

// Plans `config` (validated first: InvalidArgument).
absl::StatusOr<MemoryPlan> PlanMemory(const WorkloadConfig& config,
                                      std::uint64_t alignment = Device::kAlignment);

// The largest batch (<= max_batch) whose plan fits in budget_bytes; 0 when
// not even batch 1 fits. config.batch is ignored.
absl::StatusOr<std::int64_t> MaxBatchForBudget(const WorkloadConfig& config,
                                               std::uint64_t budget_bytes,
                                               std::int64_t max_batch = 1 << 20,
                                               std::uint64_t alignment = Device::kAlignment);

}  // namespace localbench::kernels
