// A batch-size sweep with the OOM bracket proven on the device.
//
// Batches 1, 2, 4, ... run (warm-up, then timed repetitions with device
// timers) while the plan says they fit and the cap allows. Then the bracket
// is proven: the plan's largest fitting batch runs full steps and the next
// batch must fail to allocate. Where the plan was wrong either way, the sweep
// keeps doubling past it until a batch fails, then bisects between the last
// batch that ran and the first that failed, so the bracket
// (largest_ok_batch, largest_ok_batch + 1) is measured, not predicted.
// A time budget (a deadline and a per-point estimate) may stop the sweep
// first: the point that would overrun is recorded as skipped for time and the
// threshold is then only planned. Fields map 1:1 onto localbench.v1.Point and
// Sweep.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "localbench/kernels/backend.h"
#include "localbench/kernels/workload_config.h"

namespace localbench::kernels {

struct SweepPoint;

// How the sweep runs.
struct SweepOptions {
  using Clock = std::chrono::steady_clock;

  int warmup_steps = 1;            // untimed steps before timing
  int repetitions = 3;             // timed steps per point
  std::vector<std::int64_t> batches;  // explicit batch list (empty: 1, 2, 4, ...)
  std::int64_t max_batch = 0;      // cap (0: no cap beyond the budget)
  // Memory the sweep may plan for (0: the device's free memory at start).
  std::uint64_t memory_budget_bytes = 0;
  bool prove_oom_bracket = true;   // find the bracket on the device (doubling past the plan, bisection)
  // The time budget: no point starts that is expected to end after the
  // deadline; it is recorded as kSkippedForTime and the sweep ends there.
  std::optional<Clock::time_point> deadline;
  // A point starts only if this multiple of its expected time ends before
  // the deadline: headroom for a shared machine's noise, so the suite does
  // not overrun its budget on a point that took longer than the last one.
  double deadline_margin = 1.0;
  // Expected wall seconds of a point at `batch` (create, warm-up, timed
  // steps), e.g. from a calibrated cost model. The sweep scales it by what
  // the points so far took against their estimates. Null: the last finished
  // point's time scaled by batch (0 before the first).
  std::function<double(std::int64_t batch)> estimate_point_seconds;
  // The clock the deadline is read on (injectable for tests).
  std::function<Clock::time_point()> now = Clock::now;
  // Period of the background memory sampler (process peak during steps).
  std::chrono::microseconds sample_period{2000};
  // Points of this sweep measured earlier (the agent runs every preset's
  // batch 1 before any sweep goes further): the sweep reuses them instead of
  // running those batches again, and learns its pace from them.
  std::vector<SweepPoint> prior_points;
};

// How one point ended (localbench.v1.PointStatus).
enum class PointStatus { kOk, kOom, kError, kSkippedWontFit, kSkippedForTime };

// Name of a status: "ok", "oom", "error", "skipped_wont_fit",
// "skipped_for_time".
std::string_view PointStatusName(PointStatus status);

// One batch size and what it measured (localbench.v1.Point).
struct SweepPoint {
  std::int64_t batch_size = 0;
  PointStatus status = PointStatus::kOk;
  std::string error_message;       // OOM/ERROR: what failed
  int repetitions = 0;             // timed steps behind the statistics
  int warmup_steps = 0;
  double tokens_per_second_median = 0;
  double tokens_per_second_min = 0;
  double tokens_per_second_max = 0;
  double step_seconds_median = 0;
  double step_seconds_min = 0;
  double step_seconds_max = 0;
  double step_seconds_mean = 0;
  std::uint64_t planned_bytes = 0;       // the plan's total
  std::uint64_t arena_peak_bytes = 0;    // the arena's high-water mark
  // Each of the four below is absent when its source could not tell (the
  // point did not get that far, no management library, or free memory grew
  // meanwhile because another process released some), never 0 for unknown.
  std::optional<std::uint64_t> device_delta_bytes;  // free memory before Create minus after warm-up
  // Backend::SampleTelemetry after the timed steps, while the workload lives.
  std::optional<std::uint64_t> process_memory_bytes;  // the process's device memory (NVML / rocm-smi)
  std::optional<std::uint32_t> sm_clock_mhz;          // clock at the end of the timed steps
  std::optional<std::uint64_t> throttle_reasons;      // NVML throttle bits at the same moment
  // The largest process memory reading of a background sampler through the
  // warm-up and timed steps (GPU: device memory via NVML / rocm-smi; CPU:
  // resident set, with the kernel's VmHWM where it could be reset first).
  std::optional<std::uint64_t> process_peak_bytes;
  // The same reading just before the workload was created: the runtime's
  // own share (GPU context and library workspaces; CPU: the program).
  std::optional<std::uint64_t> runtime_memory_bytes;
  // Wall seconds the point took, creation included (0 when not run).
  double wall_seconds = 0;
};

// A sweep's points (increasing batch) and its OOM bracket (localbench.v1.Sweep).
struct SweepResult {
  WorkloadConfig workload;              // batch is per point
  std::vector<SweepPoint> points;
  std::int64_t largest_ok_batch = 0;    // 0: none ran
  std::int64_t smallest_failed_batch = 0;  // 0: none failed (cap reached first)
  std::int64_t planned_max_batch = 0;   // the plan's prediction for the budget
  // True when the bracket was measured: largest_ok_batch ran and
  // largest_ok_batch + 1 failed to allocate. False: the cap, the time budget
  // or an error stopped the search, and planned_max_batch is only planned.
  bool threshold_proven = false;
};

// What the sweep is doing now, for a progress display.
struct SweepEvent {
  enum class Kind {
    kPointStarted,   // batch_size is being created
    kStepFinished,   // one step (warm-up or timed) finished
    kPointFinished,  // point holds the result
  };
  Kind kind = Kind::kPointStarted;
  std::int64_t batch_size = 0;
  bool warmup = false;       // kStepFinished: a warm-up step
  int step_index = 0;        // kStepFinished: 0-based within its phase
  double step_seconds = 0;   // kStepFinished
  const SweepPoint* point = nullptr;  // kPointFinished
};

// Called synchronously from RunSweep.
using SweepProgress = std::function<void(const SweepEvent&)>;

// Runs the sweep. Per-point failures are recorded in the points; an error
// return means the sweep itself could not run (invalid config, broken
// device). A kernel fault (Backend::faulted() after a point) stops the sweep
// at once and returns InternalError naming the batch and the fault.
absl::StatusOr<SweepResult> RunSweep(Backend& backend, const WorkloadConfig& base,
                                     const SweepOptions& options,
                                     const SweepProgress& progress = nullptr);

// One batch sweep per sequence length: prompt_tokens (prefill, decode) or
// sequence_tokens (training) takes each value of `lengths` in turn, so a
// report shows how context length moves speed and the OOM threshold.
absl::StatusOr<std::vector<SweepResult>> RunSequenceSweep(Backend& backend, const WorkloadConfig& base,
                                                          const std::vector<std::int64_t>& lengths,
                                                          const SweepOptions& options,
                                                          const SweepProgress& progress = nullptr);

}  // namespace localbench::kernels
