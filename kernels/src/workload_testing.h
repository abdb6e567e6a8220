// Test hooks into training workloads: forward-only loss, gradients without
// an update, and buffers by their plan name. They let the tests check the
// whole backward wiring of a workload against finite differences.
#pragma once

#include <string_view>

#include "absl/status/statusor.h"
#include "localbench/kernels/tensor.h"
#include "localbench/kernels/workload.h"

namespace localbench::kernels::testing {

// Mean cross-entropy of one forward pass (no backward, no update).
absl::StatusOr<double> TrainingLoss(Workload& workload);
// Forward and backward without the update: gradients land in "grad.*".
absl::Status TrainingGradients(Workload& workload);
// The arena buffer the workload allocated under `name`.
absl::StatusOr<Tensor> NamedBuffer(Workload& workload, std::string_view name);

}  // namespace localbench::kernels::testing
