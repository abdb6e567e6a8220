// The batch sweep and its OOM bracket, measured on the device.
#include "localbench/kernels/sweep.h"

#include <algorithm>
#include <map>
#include <numeric>

#include "absl/strings/str_cat.h"
#include "localbench/kernels/plan.h"
#include "localbench/kernels/workload.h"

namespace localbench::kernels {

std::string_view PointStatusName(PointStatus status) {
  switch (status) {
    case PointStatus::kOk: return "ok";
    case PointStatus::kOom: return "oom";
    case PointStatus::kError: return "error";
    case PointStatus::kSkippedWontFit: return "skipped_wont_fit";
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
  SweepPoint point;
  point.batch_size = config.batch;
  point.warmup_steps = options.warmup_steps;
  if (progress) progress(SweepEvent{SweepEvent::Kind::kPointStarted, config.batch, false, 0, 0, nullptr});
  auto finish = [&](PointStatus status, std::string message) {
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
  auto run = [&](std::int64_t batch) -> const SweepPoint& {
    auto it = points.find(batch);
    if (it != points.end()) return it->second;
    WorkloadConfig c = base;
    c.batch = batch;
    const SweepPoint& p = points.emplace(batch, RunPoint(backend, c, options, progress)).first->second;
    if (fault.empty() && backend.faulted()) {
      fault = absl::StrCat(backend.name(), " faulted at batch ", batch, ": ",
                           p.error_message.empty() ? "(no message)" : p.error_message);
    }
    return p;
  };
  auto skip = [&](std::int64_t batch) {
    if (points.count(batch)) return;
    WorkloadConfig c = base;
    c.batch = batch;
    SweepPoint p;
    p.batch_size = batch;
    p.status = PointStatus::kSkippedWontFit;
    absl::StatusOr<MemoryPlan> plan = PlanMemory(c);
    if (plan.ok()) p.planned_bytes = plan->total_bytes;
    p.error_message = absl::StrCat("plan needs ", p.planned_bytes, " bytes, budget ", budget);
    points.emplace(batch, p);
  };

  // The ladder: the explicit list, or 1, 2, 4, ... within the plan and cap.
  std::vector<std::int64_t> ladder = options.batches;
  if (ladder.empty()) {
    for (std::int64_t b = 1; b <= cap; b *= 2) ladder.push_back(b);
  }
  for (std::int64_t b : ladder) {
    if (!fault.empty()) break;
    if (b > cap) continue;
    if (b > *planned_max) {
      skip(b);
      if (options.batches.empty()) break;  // doubling: the rest cannot fit either
      continue;
    }
    run(b);
  }

  // The bracket: the plan's largest batch must run, the next must fail. A
  // batch the ladder skipped on the plan's word runs for real here.
  auto prove = [&](std::int64_t batch) -> PointStatus {
    if (auto it = points.find(batch); it != points.end() && it->second.status == PointStatus::kSkippedWontFit)
      points.erase(it);
    return run(batch).status;
  };
  if (fault.empty() && options.prove_oom_bracket && *planned_max >= 1 && *planned_max < cap) {
    std::int64_t ok = *planned_max;
    int walk = 0;
    // Plan too optimistic: walk down until a batch runs.
    while (ok >= 1 && prove(ok) == PointStatus::kOom && walk++ < options.max_bracket_walk) --ok;
    if (ok >= 1 && prove(ok) == PointStatus::kOk) {
      std::int64_t next = ok + 1;
      walk = 0;
      // Plan too pessimistic: walk up until a batch fails to allocate.
      while (next <= cap && prove(next) == PointStatus::kOk && walk++ < options.max_bracket_walk) ++next;
    }
  }

  // The sweep did not finish: its points are not a measured bracket.
  if (!fault.empty()) return absl::InternalError(fault);

  for (auto& [batch, point] : points) result.points.push_back(point);
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
