#include "localbench/agent/runner.h"

#include <google/protobuf/util/time_util.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <functional>
#include <optional>

#include "localbench/agent/probe.h"
#include "localbench/agent/report.h"
#include "localbench/common/crypto.h"
#include "localbench/kernels/discover.h"
#include "localbench/kernels/pcie.h"
#include "localbench/kernels/plan.h"
#include "localbench/kernels/sweep.h"
#include "localbench/kernels/version.h"

#ifndef LOCALBENCH_AGENT_VERSION
#define LOCALBENCH_AGENT_VERSION "unknown"
#endif

namespace localbench::agent {
namespace {

constexpr std::uint64_t kGiB = 1024ull * 1024 * 1024;

v1::Backend ToProto(kernels::DeviceKind kind) {
  switch (kind) {
    case kernels::DeviceKind::kCpu: return v1::BACKEND_CPU;
    case kernels::DeviceKind::kCuda: return v1::BACKEND_CUDA;
    case kernels::DeviceKind::kHip: return v1::BACKEND_HIP;
  }
  return v1::BACKEND_UNSPECIFIED;
}

v1::Vendor ToProto(kernels::Vendor vendor) {
  switch (vendor) {
    case kernels::Vendor::kNvidia: return v1::VENDOR_NVIDIA;
    case kernels::Vendor::kAmd: return v1::VENDOR_AMD;
    case kernels::Vendor::kIntel: return v1::VENDOR_INTEL;
    case kernels::Vendor::kApple: return v1::VENDOR_APPLE;
    case kernels::Vendor::kOther: return v1::VENDOR_OTHER;
    case kernels::Vendor::kUnknown: return v1::VENDOR_UNSPECIFIED;
  }
  return v1::VENDOR_UNSPECIFIED;
}

v1::PointStatus ToProto(kernels::PointStatus s) {
  switch (s) {
    case kernels::PointStatus::kOk: return v1::POINT_STATUS_OK;
    case kernels::PointStatus::kOom: return v1::POINT_STATUS_OOM;
    case kernels::PointStatus::kError: return v1::POINT_STATUS_ERROR;
    case kernels::PointStatus::kSkippedWontFit: return v1::POINT_STATUS_SKIPPED_WONT_FIT;
    case kernels::PointStatus::kSkippedForTime: return v1::POINT_STATUS_SKIPPED_FOR_TIME;
  }
  return v1::POINT_STATUS_UNSPECIFIED;
}

v1::Workload ToProto(const SuiteItem& item) {
  v1::Workload w;
  w.set_model_preset(item.preset);
  w.set_kind(item.shape.kind);
  w.set_precision(item.shape.precision);
  w.set_prompt_tokens(item.shape.prompt_tokens);
  w.set_generated_tokens(item.shape.generated_tokens);
  w.set_sequence_tokens(item.shape.sequence_tokens);
  w.set_lora_rank(item.shape.lora_rank);
  SetTrainDims(item.shape.train, item.shape.kind, &w);
  return w;
}

std::uint32_t U32(std::int64_t v) { return static_cast<std::uint32_t>(std::clamp<std::int64_t>(v, 0, UINT32_MAX)); }

std::string Describe(const SuiteItem& item) {
  std::string s = item.preset + " " + std::string(WorkloadName(item.shape.kind)) + " " +
                  std::string(PrecisionName(item.shape.precision));
  if (item.shape.prompt_tokens) s += " p" + std::to_string(item.shape.prompt_tokens);
  if (item.shape.generated_tokens) s += "+g" + std::to_string(item.shape.generated_tokens);
  if (item.shape.sequence_tokens) s += " s" + std::to_string(item.shape.sequence_tokens);
  s += DescribeTrainDims(item.shape.train);
  return s;
}

// Writes a sweep's points and bracket into `sweep`. `seeks_threshold`: the
// sweep is a doubling one, so its threshold is marked proven (the device
// showed the bracket) or planned; an explicit batch list marks none.
void FillSweep(const kernels::SweepResult& result, bool seeks_threshold,
               const std::function<std::string(std::uint32_t batch)>& reproduce, v1::Sweep* sweep) {
  sweep->clear_points();
  for (const auto& p : result.points) {
    auto* point = sweep->add_points();
    point->set_batch_size(U32(p.batch_size));
    point->set_status(ToProto(p.status));
    point->set_error_message(p.error_message);
    point->set_repetitions(U32(p.repetitions));
    point->set_warmup_steps(U32(p.warmup_steps));
    point->set_tokens_per_second_median(p.tokens_per_second_median);
    point->set_tokens_per_second_min(p.tokens_per_second_min);
    point->set_tokens_per_second_max(p.tokens_per_second_max);
    point->set_step_seconds_median(p.step_seconds_median);
    point->set_step_seconds_min(p.step_seconds_min);
    point->set_step_seconds_max(p.step_seconds_max);
    point->set_step_seconds_mean(p.step_seconds_mean);
    point->set_planned_bytes(p.planned_bytes);
    point->set_arena_peak_bytes(p.arena_peak_bytes);
    // Only what the source told: absent stays absent (stored as NULL).
    if (p.device_delta_bytes) point->set_device_delta_bytes(*p.device_delta_bytes);
    if (p.process_memory_bytes) point->set_process_memory_bytes(*p.process_memory_bytes);
    if (p.sm_clock_mhz) point->set_sm_clock_mhz(*p.sm_clock_mhz);
    if (p.throttle_reasons) point->set_throttle_reasons(*p.throttle_reasons);
    if (p.process_peak_bytes) point->set_process_peak_bytes(*p.process_peak_bytes);
    if (p.runtime_memory_bytes) point->set_runtime_memory_bytes(*p.runtime_memory_bytes);
    point->set_reproduce_command(reproduce(U32(p.batch_size)));
  }
  sweep->set_largest_ok_batch(U32(result.largest_ok_batch));
  sweep->set_smallest_failed_batch(U32(result.smallest_failed_batch));
  sweep->set_planned_max_batch(U32(result.planned_max_batch));
  if (seeks_threshold) {
    sweep->set_oom_threshold_source(result.threshold_proven ? v1::OOM_THRESHOLD_SOURCE_PROVEN
                                                            : v1::OOM_THRESHOLD_SOURCE_PLANNED);
  }
}

}  // namespace

std::string AgentVersion() { return LOCALBENCH_AGENT_VERSION; }

std::vector<std::unique_ptr<kernels::Backend>> FindBackends(std::uint64_t cpu_memory_limit_bytes) {
  kernels::DiscoverOptions options;
  options.cpu_memory_limit_bytes = cpu_memory_limit_bytes;
  return kernels::DiscoverBackends(options);
}

absl::StatusOr<kernels::Backend*> SelectBackend(const std::vector<std::unique_ptr<kernels::Backend>>& backends,
                                                const std::string& device) {
  std::string names;
  for (const auto& b : backends) names += (names.empty() ? "" : ", ") + b->name();
  if (device.empty()) {
    kernels::Backend* best = nullptr;
    for (const auto& b : backends) {
      if (b->device().kind() == kernels::DeviceKind::kCpu) continue;
      if (!best || b->device().info().memory_total_bytes > best->device().info().memory_total_bytes) best = b.get();
    }
    if (best) return best;
    for (const auto& b : backends) {
      if (b->device().kind() == kernels::DeviceKind::kCpu) return b.get();
    }
    return absl::NotFoundError("no device found");
  }
  for (const auto& b : backends) {
    // "cuda" means the first CUDA device; "cuda:1" names one.
    if (b->name() == device || b->name() == device + ":0") return b.get();
  }
  return absl::NotFoundError("no device '" + device + "' on this machine; found: " + names);
}

v1::Device DescribeDevice(kernels::Backend& backend) {
  const auto& info = backend.device().info();
  v1::Device d;
  d.set_backend(ToProto(info.kind));
  d.set_vendor(ToProto(info.vendor));
  d.set_name(info.name);
  d.set_memory_total_bytes(info.memory_total_bytes);
  d.set_driver_version(info.driver_version);
  d.set_runtime_version(info.runtime_version);
  d.set_compute_capability(info.compute_capability);
  d.set_gfx_target(info.gfx_target);
  d.set_multiprocessor_count(info.multiprocessor_count);
  std::uint64_t free_bytes = info.memory_free_bytes;
  if (auto mem = backend.device().GetMemoryInfo(); mem.ok()) free_bytes = mem->free_bytes;
  d.set_memory_free_at_start_bytes(free_bytes);
  if (info.kind == kernels::DeviceKind::kCpu) return d;
  const kernels::PcieLink link = kernels::ReadPcieLink(info.pci_bus_id);
  d.set_pcie_generation_current(link.generation_current);
  d.set_pcie_generation_max(link.generation_max);
  d.set_pcie_width_current(link.width_current);
  d.set_pcie_width_max(link.width_max);
  if (link.generation_current && link.width_current) {
    d.set_pcie_link("gen" + std::to_string(link.generation_current) + " x" + std::to_string(link.width_current));
  }
  const kernels::DeviceTelemetry t = backend.SampleTelemetry();
  if (t.other_process_count && t.other_process_bytes) {
    // NVML's process lists: who else holds memory on this device, exactly.
    d.set_other_process_count(*t.other_process_count);
    d.set_other_processes_hold_memory(*t.other_process_count > 0);
    d.set_memory_used_by_others_bytes(*t.other_process_count > 0
                                          ? std::min(*t.other_process_bytes, info.memory_total_bytes)
                                          : 0);
  } else if (info.memory_total_bytes > free_bytes) {
    // No list (rocm-smi, no permission): our own runtime context takes a few
    // hundred MiB, so more than 1 GiB in use before we allocate means other
    // processes hold device memory, and the threshold here is lower than the
    // card's own.
    const std::uint64_t used = info.memory_total_bytes - free_bytes;
    const std::uint64_t ours = t.process_memory_bytes.value_or(0);
    const std::uint64_t others = used > ours ? used - ours : 0;
    d.set_other_processes_hold_memory(others > kGiB);
    d.set_memory_used_by_others_bytes(others > kGiB ? others : 0);
  }
  return d;
}

std::string ReproduceCommand(const std::string& device_name, const Suite& suite, const SuiteItem& item,
                             std::uint32_t batch) {
  std::string cmd = "localbench-agent run --device " + device_name;
  if (device_name == "cpu" && suite.cpu_memory_limit_bytes != 0) {
    cmd += " --memory-limit " + std::to_string(suite.cpu_memory_limit_bytes);
  }
  cmd += " --presets " + item.preset;
  cmd += " --workloads " + std::string(WorkloadName(item.shape.kind));
  cmd += " --precisions " + std::string(PrecisionName(item.shape.precision));
  if (item.shape.prompt_tokens) cmd += " --prompt-tokens " + std::to_string(item.shape.prompt_tokens);
  if (item.shape.generated_tokens) cmd += " --generated-tokens " + std::to_string(item.shape.generated_tokens);
  if (item.shape.sequence_tokens) cmd += " --sequence-tokens " + std::to_string(item.shape.sequence_tokens);
  cmd += TrainDimsFlags(item.shape.train, item.shape.kind);
  cmd += " --batches " + std::to_string(batch);
  cmd += " --repetitions " + std::to_string(suite.repetitions);
  return cmd;
}

absl::StatusOr<SuiteRun> RunSuite(kernels::Backend& backend, const Suite& suite, Progress& progress,
                                  const Checkpoint& checkpoint, const RunBudget& run_budget) {
  using google::protobuf::util::TimeUtil;
  using Clock = std::chrono::steady_clock;
  SuiteRun run;
  v1::Submission& submission = run.submission;
  submission.set_submission_id(NewUuid());
  *submission.mutable_started_at() = TimeUtil::GetCurrentTime();
  *submission.mutable_hardware()->mutable_device() = DescribeDevice(backend);
  *submission.mutable_hardware()->mutable_host() = ProbeHost();
  submission.set_machine_fingerprint(MachineFingerprint(submission.hardware().host()));
  auto* software = submission.mutable_software();
  software->set_agent_version(AgentVersion());
  software->set_kernel_source_hash(std::string(kernels::KernelSourceHash()));
  software->set_suite_version(suite.version);
  software->set_suite_hash(suite.Hash());

  const std::string device_name = backend.name();
  const std::uint64_t budget = submission.hardware().device().memory_free_at_start_bytes();
  const auto items = Expand(suite);
  // Reproduce commands name the CPU budget this run had (the suite's rule
  // gives each machine its own).
  Suite reproduce = suite;
  if (backend.device().kind() == kernels::DeviceKind::kCpu && reproduce.cpu_memory_limit_bytes == 0) {
    reproduce.cpu_memory_limit_bytes = submission.hardware().device().memory_total_bytes();
  }

  // The estimate before anything runs: what will not fit, what the time
  // budget will cut, and how long the rest takes at the calibrated pace.
  const Clock::time_point start = Clock::now();
  DeviceRates rates;
  const bool on_cpu = backend.device().kind() == kernels::DeviceKind::kCpu;
  if (run_budget.rates) {
    rates = *run_budget.rates;
  } else if (auto calibrated = Calibrate(backend, QuantFormatsOf(suite)); !calibrated.ok()) {
    // A device too small for the calibration model (a tight --memory-limit):
    // modest assumed rates; each sweep still corrects by its measured pace.
    rates = on_cpu ? DeviceRates{10e9, 2e9, 0.2e9, 0.02} : AssumedGpuRates(50e12, 300e9);
    progress.Note("calibration did not run (" + std::string(calibrated.status().message()) +
                  "); the estimate assumes modest rates");
  } else {
    rates = *calibrated;
    char line[160];
    std::snprintf(line, sizeof line, "calibrated in %.1f s: %.1f GFLOP/s, %.2f GB/s, creation %.2f GB/s",
                  std::chrono::duration<double>(Clock::now() - start).count(), rates.flops_per_second / 1e9,
                  rates.bytes_per_second / 1e9, rates.fill_bytes_per_second / 1e9);
    progress.Note(line);
    for (kernels::QuantFormat f : QuantFormatsOf(suite)) {
      const auto at = static_cast<std::size_t>(f);
      if (rates.quant_bytes_per_second[at] <= 0) continue;
      std::snprintf(line, sizeof line, "calibrated %s decode: %.2f GB/s of weights, creation %.0f M parameters/s",
                    std::string(kernels::QuantFormatName(f)).c_str(), rates.quant_bytes_per_second[at] / 1e9,
                    rates.quant_fill_params_per_second[at] / 1e6);
      progress.Note(line);
    }
  }
  const double budget_seconds = run_budget.seconds > 0 ? run_budget.seconds : suite.time_budget_seconds;
  auto estimate = EstimateSuite(suite, budget, rates, budget_seconds > 0 ? budget_seconds : 1e12);
  if (!estimate.ok()) return estimate.status();
  {
    std::string text = DescribeEstimate(*estimate);
    std::size_t at = 0;
    while (at < text.size()) {
      const std::size_t nl = text.find('\n', at);
      progress.Note(text.substr(at, nl - at));
      at = nl == std::string::npos ? text.size() : nl + 1;
    }
  }
  submission.set_estimated_seconds(estimate->total_seconds);
  submission.set_time_budget_seconds(budget_seconds);
  // The budget runs from the end of the calibration, as the estimate does.
  const Clock::time_point planned_start = Clock::now();

  struct Planned {
    kernels::WorkloadConfig config;
    std::int64_t max_batch = 0;
    std::uint64_t batch1_bytes = 0;
    int expected_points = 0;
  };
  std::vector<Planned> plans;
  for (std::size_t i = 0; i < items.size(); ++i) {
    const SweepEstimate& e = estimate->sweeps[i];
    Planned p;
    p.config = e.config;
    auto plan1 = kernels::PlanMemory(p.config);
    if (!plan1.ok()) return plan1.status();
    p.batch1_bytes = plan1->total_bytes;
    p.max_batch = e.planned_max_batch;
    p.expected_points = e.points_in_budget;
    plans.push_back(std::move(p));
  }
  // Wall time of the points run so far against their estimates.
  double estimated_so_far = 0, measured_so_far = 0;
  progress.SetTotal(estimate->points);
  progress.SetEstimate(estimate->total_seconds);
  if (budget_seconds > 0) {
    progress.SetDeadline(planned_start +
                         std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(budget_seconds)));
  }

  // The sweeps in suite order, each filled when it finishes (the first pass
  // fills the batch-1 point of some early). A checkpoint, and a run that
  // stops, keep every sweep with something measured or recorded in it.
  std::vector<std::optional<v1::Sweep>> sweeps(items.size());
  std::vector<bool> finished(items.size(), false);
  auto publish = [&] {
    submission.clear_sweeps();
    for (const auto& s : sweeps) {
      if (s) *submission.add_sweeps() = *s;
    }
    *submission.mutable_finished_at() = TimeUtil::GetCurrentTime();
  };
  auto save = [&]() -> absl::Status {
    publish();
    return checkpoint ? checkpoint(submission) : absl::OkStatus();
  };
  // The device is unusable (a kernel fault is sticky for the process): keep
  // what was measured, stop; the caller says how to run the rest.
  auto stop = [&](std::size_t i, const absl::Status& status) {
    run.stopped = absl::Status(status.code(), "sweep " + Describe(items[i]) + " stopped: " +
                                                  std::string(status.message()));
    for (std::size_t j = 0; j < items.size(); ++j) {
      if (!finished[j]) run.not_run.push_back(items[j]);
    }
    publish();
    progress.Note("stopped: " + std::string(run.stopped.message()) + "; the " +
                  std::to_string(submission.sweeps_size()) + " finished sweep(s) are kept");
  };
  auto deadline_at = [&](double seconds) {
    return planned_start + std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(seconds));
  };
  auto run_pace = [&] { return estimated_so_far > 0 ? std::max(1.0, measured_so_far / estimated_so_far) : 1.0; };
  auto sweep_options = [&](const Planned& plan) {
    kernels::SweepOptions options;
    options.warmup_steps = static_cast<int>(suite.warmup_steps);
    options.repetitions = static_cast<int>(suite.repetitions);
    for (auto b : suite.batches) options.batches.push_back(b);
    options.max_batch = suite.max_batch;
    options.memory_budget_bytes = budget;
    // An explicit batch list (a reproduce command) runs just those batches;
    // the doubling sweep also proves the OOM bracket.
    options.prove_oom_bracket = suite.batches.empty();
    // A sweep's first point is expected at the pace the run has shown so far
    // (measured over estimated, at least 1): on a machine slower than its
    // calibration, a point that would overrun the budget gives way instead.
    const kernels::WorkloadConfig base = plan.config;
    const int warmup = options.warmup_steps, reps = options.repetitions;
    const double pace = run_pace();
    options.estimate_point_seconds = [base, rates, warmup, reps, pace](std::int64_t batch) {
      kernels::WorkloadConfig c = base;
      c.batch = batch;
      return pace * EstimatePointSeconds(c, rates, warmup, reps);
    };
    return options;
  };
  // Progress of one RunSweep call over sweep i, whose points from the
  // estimate's `first` on were planned (`expected` of them); `seen` counts
  // the points it finished.
  auto sweep_progress = [&](std::size_t i, std::size_t first, int expected, int& seen) {
    return [&, i, first, expected](const kernels::SweepEvent& e) {
      const SweepEstimate& est = estimate->sweeps[i];
      if (e.kind == kernels::SweepEvent::Kind::kPointStarted) {
        progress.Start(Describe(items[i]) + " batch " + std::to_string(e.batch_size));
      } else if (e.kind == kernels::SweepEvent::Kind::kPointFinished && e.point != nullptr) {
        ++seen;
        std::string result = StatusText(ToProto(e.point->status));
        if (e.point->status == kernels::PointStatus::kOk) {
          char buf[96];
          std::snprintf(buf, sizeof buf, "%.1f tok/s, peak %s", e.point->tokens_per_second_median,
                        FormatBytes(e.point->arena_peak_bytes).c_str());
          result = buf;
          kernels::WorkloadConfig c = plans[i].config;
          c.batch = e.point->batch_size;
          estimated_so_far += EstimatePointSeconds(c, rates, static_cast<int>(suite.warmup_steps),
                                                   static_cast<int>(suite.repetitions));
          measured_so_far += e.point->wall_seconds;
        }
        if (seen > expected) progress.SetTotal(progress.total() + 1);
        const std::size_t k = first + static_cast<std::size_t>(seen - 1);
        progress.Finish(result, k < est.point_seconds.size() && seen <= expected ? est.point_seconds[k] : -1);
      }
    };
  };
  auto invalid = [&](std::size_t i, const absl::Status& status) {
    return absl::InvalidArgumentError("sweep " + Describe(items[i]) + " could not run: " +
                                      std::string(status.message()));
  };

  // The first pass: batch 1 of prefill and decode of every preset that fits,
  // preset by preset, before any sweep runs an extra batch (the answer for
  // every model first, then the thresholds). It may use the whole budget;
  // when the device is slower than calibrated, the largest presets' batch 1
  // is what gives way (recorded as skipped for time).
  std::vector<std::vector<kernels::SweepPoint>> early(items.size());
  bool first_pass = false;
  // Deferred templates' batch 1 (SuiteTemplate::deferred) in a second round.
  std::vector<std::size_t> first_pass_order;
  for (bool deferred : {false, true}) {
    for (std::size_t i = 0; i < items.size(); ++i) {
      if (items[i].shape.deferred == deferred) first_pass_order.push_back(i);
    }
  }
  for (std::size_t i : first_pass_order) {
    const SweepEstimate& est = estimate->sweeps[i];
    // A batch 1 the estimate gave up (its reservation did not fit) still
    // runs when the presets before it ran faster than calibrated and left
    // the time it needs at the pace measured so far.
    const bool late = est.skipped_for_time && est.essential && suite.batches.empty() && plans[i].max_batch > 0;
    if (!est.batch_one_first && !late) continue;
    if (late && (budget_seconds <= 0 ||
                 Clock::now() + std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(
                                    run_pace() * est.point_seconds[0])) > deadline_at(budget_seconds))) {
      continue;
    }
    first_pass = true;
    kernels::SweepOptions options = sweep_options(plans[i]);
    options.batches = {1};
    options.prove_oom_bracket = false;
    if (budget_seconds > 0) options.deadline = deadline_at(budget_seconds);
    int seen = 0;
    const int expected = late ? 0 : 1;
    auto result = kernels::RunSweep(backend, plans[i].config, options, sweep_progress(i, 0, expected, seen));
    if (!result.ok()) {
      if (absl::IsInvalidArgument(result.status())) return invalid(i, result.status());
      stop(i, result.status());
      progress.Close();
      return run;
    }
    if (seen < expected) progress.Drop(expected - seen);
    early[i] = result->points;
    sweeps[i].emplace();
    *sweeps[i]->mutable_workload() = ToProto(items[i]);
    FillSweep(*result, true, [&](std::uint32_t b) { return ReproduceCommand(device_name, reproduce, items[i], b); },
              &*sweeps[i]);
  }
  if (first_pass) {
    if (auto st = save(); !st.ok()) return st;
  }

  for (std::size_t i = 0; i < items.size(); ++i) {
    const auto& item = items[i];
    const auto& plan = plans[i];
    const SweepEstimate& est = estimate->sweeps[i];
    v1::Sweep sweep;
    *sweep.mutable_workload() = ToProto(item);
    const bool batch_one_ran = !early[i].empty() && early[i].front().status == kernels::PointStatus::kOk;
    if (plan.max_batch > 0 && est.skipped_for_time && !batch_one_ran) {
      // The time budget cannot hold even batch 1: recorded, not attempted.
      auto* point = sweep.add_points();
      point->set_batch_size(1);
      point->set_status(v1::POINT_STATUS_SKIPPED_FOR_TIME);
      point->set_planned_bytes(plan.batch1_bytes);
      point->set_error_message("batch 1 alone would take about " + FormatDuration(est.point_seconds[0]) +
                               ", more than the time budget of " + FormatDuration(budget_seconds) +
                               " leaves after the smaller presets");
      point->set_reproduce_command(ReproduceCommand(device_name, reproduce, item, 1));
      sweep.set_planned_max_batch(U32(plan.max_batch));
      sweep.set_oom_threshold_source(v1::OOM_THRESHOLD_SOURCE_PLANNED);
      progress.Note(Describe(item) + ": skipped for time (batch 1 would take about " +
                    FormatDuration(est.point_seconds[0]) + "); OOM threshold planned at batch " +
                    std::to_string(plan.max_batch));
    } else if (plan.max_batch == 0) {
      // The plan says batch 1 cannot fit: recorded, not attempted.
      auto* point = sweep.add_points();
      point->set_batch_size(1);
      point->set_status(v1::POINT_STATUS_SKIPPED_WONT_FIT);
      point->set_planned_bytes(plan.batch1_bytes);
      point->set_error_message("the memory plan needs " + FormatBytes(plan.batch1_bytes) + " at batch 1; " +
                               FormatBytes(budget) + " is free");
      point->set_reproduce_command(ReproduceCommand(device_name, reproduce, item, 1));
      progress.Note(Describe(item) + ": won't fit (needs " + FormatBytes(plan.batch1_bytes) + " at batch 1)");
    } else {
      kernels::SweepOptions options = sweep_options(plan);
      options.prior_points = early[i];
      if (!early[i].empty()) options.deadline_margin = kExtraPointMargin;
      if (budget_seconds > 0) {
        // The reservations still pending after this sweep (batch 1 of later
        // presets when the first pass did not run them), scaled by how much
        // slower than estimated this run has been so far: a loaded machine
        // gives up extra batches, not a larger preset's batch 1.
        const double reserved_after = budget_seconds - est.deadline_seconds;
        options.deadline = deadline_at(budget_seconds - run_pace() * reserved_after);
      }
      const std::size_t first = est.batch_one_first ? 1 : 0;
      const int expected = std::max(0, plan.expected_points - static_cast<int>(first));
      int seen = 0;
      auto result = kernels::RunSweep(backend, plan.config, options, sweep_progress(i, first, expected, seen));
      if (!result.ok()) {
        if (absl::IsInvalidArgument(result.status())) return invalid(i, result.status());
        stop(i, result.status());
        break;
      }
      if (seen < expected) progress.Drop(expected - seen);
      FillSweep(*result, options.prove_oom_bracket,
                [&](std::uint32_t b) { return ReproduceCommand(device_name, reproduce, item, b); }, &sweep);
    }
    sweeps[i] = std::move(sweep);
    finished[i] = true;
    if (auto st = save(); !st.ok()) return st;
  }
  progress.Close();
  publish();
  return run;
}

}  // namespace localbench::agent
