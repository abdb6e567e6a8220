// The batch sweep and its OOM bracket, measured on the device.
#include "localbench/kernels/sweep.h"

#include <algorithm>
#include <map>
#include <numeric>

#include "absl/strings/str_cat.h"
#include "localbench/kernels/memory_sampler.h"
#include "localbench/kernels/plan.h"
#include "localbench/kernels/workload.h"

namespace localbench::kernels {

std::string_view PointStatusName(PointStatus status) {
  switch (status) {
    case PointStatus::kOk: return "ok";
    case PointStatus::kOom: return "oom";
    case PointStatus::kError: return "error";
    case PointStatus::kSkippedWontFit: return "skipped_wont_fit";
    case PointStatus::kSkippedForTime: return "skipped_for_time";
  }
  return "?";
}

namespace {

double Median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  const std::size_t n = v.size();
  return n % 2 == 1 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}

// Creates, warms up and times one batch size. Never throws the workload's
// failure upwards: it becomes the point's status.
SweepPoint RunPoint(Backend& backend, WorkloadConfig config, const SweepOptions& options,
                    const SweepProgress& progress) {
  const SweepOptions::Clock::time_point started = options.now();
  SweepPoint point;
  point.batch_size = config.batch;
  point.warmup_steps = options.warmup_steps;
  if (progress) progress(SweepEvent{SweepEvent::Kind::kPointStarted, config.batch, false, 0, 0, nullptr});
  auto finish = [&](PointStatus status, std::string message) {
    point.wall_seconds = std::chrono::duration<double>(options.now() - started).count();
    point.status = status;
    point.error_message = std::move(message);
    if (progress) progress(SweepEvent{SweepEvent::Kind::kPointFinished, config.batch, false, 0, 0, &point});
    return point;
  };
  absl::StatusOr<MemoryPlan> plan = PlanMemory(config);
  if (!plan.ok()) return finish(PointStatus::kError, plan.status().ToString());
  point.planned_bytes = plan->total_bytes;

  absl::StatusOr<MemoryInfo> before = backend.device().GetMemoryInfo();
  if (!before.ok()) return finish(PointStatus::kError, before.status().ToString());
  // The process figure the peak sampler reads: the resident set on the CPU
  // (the arena is host memory there), the driver's per-process count on a GPU.
  const bool cpu = backend.device().kind() == DeviceKind::kCpu;
  const MemoryReader read = cpu ? MemoryReader(ProcessResidentBytes)
                                : MemoryReader([&backend] { return backend.SampleTelemetry().process_memory_bytes; });
  point.runtime_memory_bytes = read();
  // VmHWM restarts from the current RSS, so after the steps it is this
  // point's exact peak (a kernel that refuses leaves the sampled maximum).
  const bool hwm_reset = cpu && ResetPeakResidentBytes();
  absl::StatusOr<std::unique_ptr<Workload>> workload = Workload::Create(backend, config);
  if (!workload.ok()) {
    const bool oom = absl::IsResourceExhausted(workload.status());
    return finish(oom ? PointStatus::kOom : PointStatus::kError, workload.status().ToString());
  }
  absl::StatusOr<std::unique_ptr<Timer>> timer = backend.device().CreateTimer();
  if (!timer.ok()) return finish(PointStatus::kError, timer.status().ToString());

  auto timed_step = [&]() -> absl::StatusOr<double> {
    if (absl::Status s = (*timer)->RecordStart(); !s.ok()) return s;
    if (absl::Status s = (*workload)->Step(); !s.ok()) return s;
    if (absl::Status s = (*timer)->RecordStop(); !s.ok()) return s;
    absl::StatusOr<double> seconds = (*timer)->ElapsedSeconds();
    if (!seconds.ok()) return seconds.status();
    if (absl::Status s = backend.device().Synchronize(); !s.ok()) return s;
    return *seconds;
  };
  PeakSampler sampler(read, options.sample_period);
  for (int i = 0; i < options.warmup_steps; ++i) {
    absl::StatusOr<double> s = timed_step();
    if (!s.ok()) return finish(PointStatus::kError, s.status().ToString());
    if (progress) progress(SweepEvent{SweepEvent::Kind::kStepFinished, config.batch, true, i, *s, nullptr});
  }
  absl::StatusOr<MemoryInfo> after = backend.device().GetMemoryInfo();
  if (!after.ok()) return finish(PointStatus::kError, after.status().ToString());
  // Free memory that grew while we allocated means another process released
  // some: the delta is then not ours to tell, so it stays absent.
  if (before->free_bytes >= after->free_bytes) point.device_delta_bytes = before->free_bytes - after->free_bytes;

  std::vector<double> seconds;
  for (int i = 0; i < options.repetitions; ++i) {
    absl::StatusOr<double> s = timed_step();
    if (!s.ok()) return finish(PointStatus::kError, s.status().ToString());
    seconds.push_back(*s);
    if (progress) progress(SweepEvent{SweepEvent::Kind::kStepFinished, config.batch, false, i, *s, nullptr});
  }
  point.process_peak_bytes = sampler.Stop();
  if (hwm_reset) {
    if (std::optional<std::uint64_t> hwm = PeakResidentBytes(); hwm && (!point.process_peak_bytes || *hwm > *point.process_peak_bytes))
      point.process_peak_bytes = hwm;
  }
  point.arena_peak_bytes = (*workload)->arena_high_water_bytes();
  const DeviceTelemetry telemetry = backend.SampleTelemetry();
  point.process_memory_bytes = telemetry.process_memory_bytes;
  point.sm_clock_mhz = telemetry.sm_clock_mhz;
  point.throttle_reasons = telemetry.throttle_reasons;
  point.repetitions = options.repetitions;
  if (!seconds.empty()) {
    const double tokens = static_cast<double>((*workload)->tokens_per_step());
    point.step_seconds_median = Median(seconds);
    point.step_seconds_min = *std::min_element(seconds.begin(), seconds.end());
    point.step_seconds_max = *std::max_element(seconds.begin(), seconds.end());
    point.step_seconds_mean = std::accumulate(seconds.begin(), seconds.end(), 0.0) / static_cast<double>(seconds.size());
    point.tokens_per_second_median = tokens / point.step_seconds_median;
    point.tokens_per_second_min = tokens / point.step_seconds_max;
    point.tokens_per_second_max = tokens / point.step_seconds_min;
  }
  return finish(PointStatus::kOk, "");
}

}  // namespace

absl::StatusOr<SweepResult> RunSweep(Backend& backend, const WorkloadConfig& base, const SweepOptions& options,
                                     const SweepProgress& progress) {
  WorkloadConfig probe = base;
  probe.batch = 1;
  if (absl::Status s = ValidateConfig(probe); !s.ok()) return s;
  if (options.warmup_steps < 0 || options.repetitions < 1)
    return absl::InvalidArgumentError("sweep: warmup_steps must be >= 0 and repetitions >= 1");
  for (std::int64_t b : options.batches)
    if (b < 1) return absl::InvalidArgumentError(absl::StrCat("sweep: batch ", b, " must be >= 1"));
  if (!options.now) return absl::InvalidArgumentError("sweep: options.now must be set");

  if (backend.faulted())
    return absl::FailedPreconditionError(backend.name() + " has faulted; only a new process can use it");

  std::uint64_t budget = options.memory_budget_bytes;
  if (budget == 0) {
    absl::StatusOr<MemoryInfo> mem = backend.device().GetMemoryInfo();
    if (!mem.ok()) return mem.status();
    budget = mem->free_bytes;
  }
  const std::int64_t cap = options.max_batch > 0 ? options.max_batch : (std::int64_t{1} << 20);
  absl::StatusOr<std::int64_t> planned_max = MaxBatchForBudget(base, budget, cap);
  if (!planned_max.ok()) return planned_max.status();

  SweepResult result;
  result.workload = base;
  result.planned_max_batch = *planned_max;
  std::map<std::int64_t, SweepPoint> points;
  // A kernel fault poisons the device for the rest of the process (sticky on
  // CUDA): no later point could run, so the sweep stops at the first one.
  std::string fault;
  // The time budget ended the sweep (a point was skipped for time).
  bool out_of_time = false;
  // Measured over estimated wall time of the points so far: the estimate
  // learns this device's pace as the sweep goes.
  double pace = 1.0;
  std::int64_t last_batch = 0;
  double last_seconds = 0;
  auto expected_seconds = [&](std::int64_t batch) {
    if (options.estimate_point_seconds) return options.estimate_point_seconds(batch) * pace;
    if (last_batch == 0) return 0.0;
    return last_seconds * static_cast<double>(batch) / static_cast<double>(last_batch);
  };
  auto record = [&](std::int64_t batch, PointStatus status, std::string message) {
    WorkloadConfig c = base;
    c.batch = batch;
    SweepPoint p;
    p.batch_size = batch;
    p.status = status;
    absl::StatusOr<MemoryPlan> plan = PlanMemory(c);
    if (plan.ok()) p.planned_bytes = plan->total_bytes;
    p.error_message = std::move(message);
    points.insert_or_assign(batch, p);
  };
  for (const SweepPoint& p : options.prior_points) {
    points.insert_or_assign(p.batch_size, p);
    if (p.status != PointStatus::kOk || p.batch_size <= last_batch) continue;
    last_batch = p.batch_size;
    last_seconds = p.wall_seconds;
    if (options.estimate_point_seconds) {
      const double estimate = options.estimate_point_seconds(p.batch_size);
      if (estimate > 0 && p.wall_seconds > 0) pace = p.wall_seconds / estimate;
    }
  }
  // Runs one batch (once: a repeat returns the first result) unless the
  // sweep has stopped or the point would overrun the deadline.
  auto run = [&](std::int64_t batch) -> PointStatus {
    auto it = points.find(batch);
    if (it != points.end() && it->second.status != PointStatus::kSkippedWontFit) return it->second.status;
    if (!fault.empty() || out_of_time) return PointStatus::kSkippedForTime;
    const double expected = expected_seconds(batch);
    if (options.deadline &&
        options.now() + std::chrono::duration_cast<SweepOptions::Clock::duration>(
                            std::chrono::duration<double>(expected * options.deadline_margin)) >
                               *options.deadline) {
      out_of_time = true;
      record(batch, PointStatus::kSkippedForTime,
             absl::StrCat("expected to take ", static_cast<std::int64_t>(expected + 0.5),
                          " s, past the suite's time budget"));
      return PointStatus::kSkippedForTime;
    }
    WorkloadConfig c = base;
    c.batch = batch;
    SweepPoint p = RunPoint(backend, c, options, progress);
    if (p.status == PointStatus::kOk) {
      if (options.estimate_point_seconds) {
        const double estimate = options.estimate_point_seconds(batch);
        if (estimate > 0 && p.wall_seconds > 0) pace = p.wall_seconds / estimate;
      }
      last_batch = batch;
      last_seconds = p.wall_seconds;
    }
    const PointStatus status = p.status;
    if (fault.empty() && backend.faulted()) {
      fault = absl::StrCat(backend.name(), " faulted at batch ", batch, ": ",
                           p.error_message.empty() ? "(no message)" : p.error_message);
    }
    points.insert_or_assign(batch, std::move(p));
    return status;
  };

  if (!options.batches.empty()) {
    // An explicit list: those batches only, the ones the plan rules out
    // recorded as such (no bracket is sought).
    for (std::int64_t b : options.batches) {
      if (!fault.empty() || out_of_time) break;
      if (b > cap) continue;
      if (b > *planned_max) {
        record(b, PointStatus::kSkippedWontFit, "");
        continue;
      }
      run(b);
    }
  } else if (*planned_max == 0) {
    // Not even batch 1 fits the budget: recorded, not attempted.
    record(1, PointStatus::kSkippedWontFit, "");
  } else {
    // The ladder: 1, 2, 4, ... within the plan and the cap, until one fails.
    for (std::int64_t b = 1; b <= std::min(cap, *planned_max); b *= 2) {
      if (run(b) != PointStatus::kOk) break;
    }
  }
  // The bracket: lo ran, hi failed to allocate; search until they touch.
  if (options.batches.empty() && options.prove_oom_bracket && *planned_max >= 1) {
    std::int64_t lo = 0, hi = 0;
    bool error = false;
    for (const auto& [b, p] : points) {
      if (p.status == PointStatus::kOk) lo = std::max(lo, b);
      if (p.status == PointStatus::kError) error = true;
    }
    for (const auto& [b, p] : points) {
      if (p.status == PointStatus::kOom && b > lo && hi == 0) hi = b;
    }
    auto step = [&](std::int64_t b) {
      const PointStatus st = run(b);
      if (st == PointStatus::kOk) lo = b;
      else if (st == PointStatus::kOom) hi = b;
      else error = true;  // an error or the time budget: stop searching
    };
    if (!error && hi == 0 && lo > 0) {
      // The plan's own figure, then the batch it says must fail; if that
      // runs too, the plan was pessimistic: keep doubling past it.
      if (*planned_max > lo) step(*planned_max);
      if (!error && hi == 0 && lo < cap) step(lo + 1);
      while (!error && hi == 0 && lo < cap) step(std::min(cap, lo * 2));
    }
    while (!error && hi > lo + 1) step(lo + (hi - lo) / 2);
    result.threshold_proven = !error && lo >= 1 && hi == lo + 1;
  }

  // The sweep did not finish: its points are not a measured bracket.
  if (!fault.empty()) return absl::InternalError(fault);

  for (auto& [batch, point] : points) {
    if (point.status == PointStatus::kSkippedWontFit && point.error_message.empty()) {
      point.error_message = absl::StrCat("plan needs ", point.planned_bytes, " bytes, budget ", budget);
    }
    result.points.push_back(point);
  }
  for (const SweepPoint& p : result.points) {
    if (p.status == PointStatus::kOk) result.largest_ok_batch = std::max(result.largest_ok_batch, p.batch_size);
  }
  for (const SweepPoint& p : result.points) {
    if (p.status == PointStatus::kOom && p.batch_size > result.largest_ok_batch &&
        (result.smallest_failed_batch == 0 || p.batch_size < result.smallest_failed_batch))
      result.smallest_failed_batch = p.batch_size;
  }
  return result;
}

absl::StatusOr<std::vector<SweepResult>> RunSequenceSweep(Backend& backend, const WorkloadConfig& base,
                                                          const std::vector<std::int64_t>& lengths,
                                                          const SweepOptions& options,
                                                          const SweepProgress& progress) {
  if (lengths.empty()) return absl::InvalidArgumentError("sequence sweep: no lengths");
  std::vector<SweepResult> results;
  for (std::int64_t length : lengths) {
    WorkloadConfig c = base;
    if (c.kind == WorkloadKind::kTrainLora || c.kind == WorkloadKind::kTrainFull) {
      c.sequence_tokens = length;
    } else {
      c.prompt_tokens = length;
    }
    absl::StatusOr<SweepResult> r = RunSweep(backend, c, options, progress);
    if (!r.ok()) return r.status();
    results.push_back(*std::move(r));
  }
  return results;
}

}  // namespace localbench::kernels
