// How long a suite will take, before it runs: every sweep's points are
// predicted from the memory plan (which batches the doubling ladder and the
// bracket will visit) and each point's cost from its FLOPs and bytes at the
// rates a short calibration measured on the device. The runner plans its
// time budget with the same figures, so what is printed is what it does.
#ifndef LOCALBENCH_AGENT_ESTIMATE_H_
#define LOCALBENCH_AGENT_ESTIMATE_H_

#include <array>
#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "localbench/agent/suite.h"
#include "localbench/kernels/backend.h"
#include "localbench/kernels/workload_config.h"

namespace localbench::agent {

// The device's pace, as the cost model uses it.
struct DeviceRates {
  double flops_per_second = 0;      // sustained on prefill-shaped GEMMs
  double bytes_per_second = 0;      // sustained weight/KV streaming in decode
  double fill_bytes_per_second = 0; // creating a workload (seeded weights)
  double point_overhead_seconds = 0;  // fixed cost of a point (timers, syncs, allocation)
  // Quantized weights (issue 15), indexed by kernels::QuantFormat: a decode
  // step's pace in the bytes EstimateStep counts (the GEMV dequantizes, so it
  // is not the bf16 bytes/s), and creation in parameters/s (each weight is
  // drawn and quantized, so the bytes it ends in say little). 0: not
  // calibrated; then the bf16 rates stand in, a quantized weight costing
  // what a bf16 one does to create.
  std::array<double, 3> quant_bytes_per_second{};
  std::array<double, 3> quant_fill_params_per_second{};
};

// FLOPs and bytes moved by one step of `config` (its batch included).
struct StepCost {
  double flops = 0;
  double bytes = 0;
};
StepCost EstimateStep(const kernels::WorkloadConfig& config);

// Wall seconds of one sweep point at config.batch: create, warm-up steps and
// timed repetitions. An OOM point costs only the overhead (it fails to
// allocate before anything runs).
double EstimatePointSeconds(const kernels::WorkloadConfig& config, const DeviceRates& rates, int warmup_steps,
                            int repetitions);

// Measures the device's rates with a small synthetic model (a second or two
// on a CPU): one prefill step for FLOP/s, one decode for bytes/s, the
// workload's creation for the fill rate; then, for each of `quantized`, a
// decode of a model larger than the CPU caches in that format (about half a
// second each), skipped where the backend has no quantized kernels.
absl::StatusOr<DeviceRates> Calibrate(kernels::Backend& backend,
                                      const std::vector<kernels::QuantFormat>& quantized = {});

// The weight formats a suite's templates name (Q8_0, Q4_0, NF4), once each.
std::vector<kernels::QuantFormat> QuantFormatsOf(const Suite& suite);

// The rates assumed for a GPU that is not here: `peak_flops` dense bf16 and
// `bandwidth` bytes/s at the efficiencies stated in docs/BENCHMARKS.md.
DeviceRates AssumedGpuRates(double peak_flops, double bandwidth);

// Headroom an extra batch (past a first-pass batch 1) needs before the
// deadline: it starts only if this multiple of its expected time fits.
inline constexpr double kExtraPointMargin = 1.25;

// One sweep of the plan: which batches it will run, and their cost.
struct SweepEstimate {
  SuiteItem item;
  kernels::WorkloadConfig config;    // batch 1
  std::int64_t planned_max_batch = 0;  // 0: won't fit at batch 1
  std::vector<std::int64_t> batches;   // visited in order (the last may be the OOM probe)
  std::vector<double> point_seconds;   // per batch
  bool essential = false;              // batch 1 is guaranteed time (prefill and decode)
  // What the runner will do under the budget (filled by PlanBudget).
  int points_in_budget = 0;            // leading points that fit
  bool skipped_for_time = false;       // not even batch 1 fits: not run
  // Batch 1 runs in the first pass (every preset's, before any extra batch).
  bool batch_one_first = false;
  // When that first-pass point is expected to end, from the start: it still
  // runs if the device keeps within budget / this of the calibrated pace.
  double batch_one_end_seconds = 0;
  double deadline_seconds = 0;         // from the start of the suite
};

// The whole suite under a time budget.
struct SuiteEstimate {
  std::vector<SweepEstimate> sweeps;
  double budget_seconds = 0;
  double total_seconds = 0;           // what the run is expected to take
  double unbounded_seconds = 0;       // what every point would take without a budget
  int points = 0;                     // points expected to run
  int points_skipped_for_time = 0;
};

// Plans `suite` for a device with `memory_budget_bytes` at `rates` under a
// time budget: the batch-1 points of prefill and decode of every preset that
// fits are reserved first (the largest presets give way when even those
// exceed the budget) and, for doubling sweeps, run first, preset by preset;
// then each sweep in order may run its other points until its deadline: the
// budget less the reservations still pending after it (with an explicit
// batch list, the batch-1 points not yet run).
absl::StatusOr<SuiteEstimate> EstimateSuite(const Suite& suite, std::uint64_t memory_budget_bytes,
                                            const DeviceRates& rates, double budget_seconds);

// A few lines for people: total, budget, what will be skipped and why.
std::string DescribeEstimate(const SuiteEstimate& estimate);

// The kernels' workload config of a suite item at batch 1.
absl::StatusOr<kernels::WorkloadConfig> ConfigOf(const SuiteItem& item);

}  // namespace localbench::agent

#endif  // LOCALBENCH_AGENT_ESTIMATE_H_
