// What quantized weights change in a workload's config and memory plan
// (issue 15), kept apart from workload_config.cc and plan.cc so those files
// only gain one call each.
#pragma once

#include <cstdint>

#include "absl/status/status.h"
#include "localbench/kernels/workload_config.h"

namespace localbench::kernels::quant {

// OK without a weight_format. Otherwise the kind must keep the base frozen
// (not train-full) and every projection's input width (hidden, heads x
// head_dim, intermediate) must be whole blocks; the error names the field.
absl::Status ValidateQuantConfig(const WorkloadConfig& c);

// Whether the LM head is stored quantized: only when it is its own matrix
// (a tied head is the embedding table, which stays in `precision`).
bool QuantizedLmHead(const WorkloadConfig& c);

// GEMM workspace of a workload with quantized weights: the largest need
// over its products (QuantLinearWorkspaceBytes for quantized weights,
// GemmWorkspaceBytes for a tied LM head), forward and, when training, the
// backward product through each weight. `rows` is the activations' row count
// of the projections, `head_rows` of the LM head.
std::uint64_t QuantGemmWorkspace(const WorkloadConfig& c, std::int64_t rows, std::int64_t head_rows, bool training);

}  // namespace localbench::kernels::quant
