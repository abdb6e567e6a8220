// The tiny workload the agent's tests sweep, and a CPU memory limit that puts
// its OOM bracket at (6, 7). Shared by the agent's unit and end-to-end tests
// so both check the same threshold. Header-only: it needs only the kernels.
#pragma once

#include <cstdint>

#include "localbench/kernels/plan.h"
#include "localbench/kernels/presets.h"
#include "localbench/kernels/workload_config.h"

namespace localbench::test_support {

// tiny-llama prefill, fp32, 16 prompt tokens, at `batch`.
inline kernels::WorkloadConfig TinyPrefill(std::int64_t batch) {
  kernels::WorkloadConfig c;
  c.kind = kernels::WorkloadKind::kPrefill;
  c.preset = *kernels::FindPreset("tiny-llama");
  c.precision = kernels::DType::kF32;
  c.batch = batch;
  c.prompt_tokens = 16;
  return c;
}

// A limit halfway between the plans of batch 6 and batch 7: the largest batch
// that fits is 6 and the smallest that fails is 7.
inline std::uint64_t LimitForBracketAtSix() {
  const std::uint64_t six = kernels::PlanMemory(TinyPrefill(6))->total_bytes;
  const std::uint64_t seven = kernels::PlanMemory(TinyPrefill(7))->total_bytes;
  return six + (seven - six) / 2;
}

}  // namespace localbench::test_support
