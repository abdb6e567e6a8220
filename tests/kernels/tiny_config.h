// The small workload every kernels test builds on: a preset, a kind with
// short lengths that still exercise every buffer, and a fixed seed.
#pragma once

#include <cstdint>
#include <string>

#include "localbench/kernels/presets.h"
#include "localbench/kernels/workload_config.h"

namespace localbench::kernels::test {

// `kind` on `preset` at `batch`: prefill P=7, decode P=5 + G=3, training
// T=6 (LoRA rank 4), seed 7.
inline WorkloadConfig TinyConfig(WorkloadKind kind, const std::string& preset, DType precision,
                                 std::int64_t batch) {
  WorkloadConfig c;
  c.kind = kind;
  c.preset = *FindPreset(preset);
  c.precision = precision;
  c.batch = batch;
  switch (kind) {
    case WorkloadKind::kPrefill: c.prompt_tokens = 7; break;
    case WorkloadKind::kDecode: c.prompt_tokens = 5; c.generated_tokens = 3; break;
    case WorkloadKind::kTrainLora: c.sequence_tokens = 6; c.lora_rank = 4; break;
    case WorkloadKind::kTrainFull: c.sequence_tokens = 6; break;
  }
  c.seed = 7;
  return c;
}

}  // namespace localbench::kernels::test
