#include "localbench/agent/runner.h"

#include <google/protobuf/util/time_util.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>

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
  } else if (auto calibrated = Calibrate(backend); !calibrated.ok()) {
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

  for (std::size_t i = 0; i < items.size(); ++i) {
    const auto& item = items[i];
    const auto& plan = plans[i];
    v1::Sweep* sweep = submission.add_sweeps();
    *sweep->mutable_workload() = ToProto(item);
    const SweepEstimate& est = estimate->sweeps[i];
    if (plan.max_batch > 0 && est.skipped_for_time) {
      // The time budget cannot hold even batch 1: recorded, not attempted.
      auto* point = sweep->add_points();
      point->set_batch_size(1);
      point->set_status(v1::POINT_STATUS_SKIPPED_FOR_TIME);
      point->set_planned_bytes(plan.batch1_bytes);
      point->set_error_message("batch 1 alone would take about " + FormatDuration(est.point_seconds[0]) +
                               ", more than the time budget of " + FormatDuration(budget_seconds) +
                               " leaves after the smaller presets");
      point->set_reproduce_command(ReproduceCommand(device_name, reproduce, item, 1));
      sweep->set_planned_max_batch(U32(plan.max_batch));
      sweep->set_oom_threshold_source(v1::OOM_THRESHOLD_SOURCE_PLANNED);
      progress.Note(Describe(item) + ": skipped for time (batch 1 would take about " +
                    FormatDuration(est.point_seconds[0]) + "); OOM threshold planned at batch " +
                    std::to_string(plan.max_batch));
    } else if (plan.max_batch == 0) {
      // The plan says batch 1 cannot fit: recorded, not attempted.
      auto* point = sweep->add_points();
      point->set_batch_size(1);
      point->set_status(v1::POINT_STATUS_SKIPPED_WONT_FIT);
      point->set_planned_bytes(plan.batch1_bytes);
      point->set_error_message("the memory plan needs " + FormatBytes(plan.batch1_bytes) + " at batch 1; " +
                               FormatBytes(budget) + " is free");
      point->set_reproduce_command(ReproduceCommand(device_name, reproduce, item, 1));
      progress.Note(Describe(item) + ": won't fit (needs " + FormatBytes(plan.batch1_bytes) + " at batch 1)");
    } else {
      kernels::SweepOptions options;
      options.warmup_steps = static_cast<int>(suite.warmup_steps);
      options.repetitions = static_cast<int>(suite.repetitions);
      for (auto b : suite.batches) options.batches.push_back(b);
      options.max_batch = suite.max_batch;
      options.memory_budget_bytes = budget;
      // An explicit batch list (a reproduce command) runs just those batches;
      // the doubling sweep also proves the OOM bracket.
      options.prove_oom_bracket = suite.batches.empty();
      if (budget_seconds > 0) {
        // The sweeps after this one keep their batch-1 reservations, scaled
        // by how much slower than estimated this run has been so far (a
        // loaded machine must not squeeze a larger preset's batch 1 out).
        const double pace = estimated_so_far > 0 ? std::max(1.0, measured_so_far / estimated_so_far) : 1.0;
        const double reserved_after = budget_seconds - est.deadline_seconds;
        options.deadline = planned_start + std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(
                                               budget_seconds - pace * reserved_after));
      }
      const kernels::WorkloadConfig base = plan.config;
      const int warmup = options.warmup_steps, reps = options.repetitions;
      options.estimate_point_seconds = [base, rates, warmup, reps](std::int64_t batch) {
        kernels::WorkloadConfig c = base;
        c.batch = batch;
        return EstimatePointSeconds(c, rates, warmup, reps);
      };
      int seen = 0;
      auto on_event = [&](const kernels::SweepEvent& e) {
        if (e.kind == kernels::SweepEvent::Kind::kPointStarted) {
          progress.Start(Describe(item) + " batch " + std::to_string(e.batch_size));
        } else if (e.kind == kernels::SweepEvent::Kind::kPointFinished && e.point != nullptr) {
          ++seen;
          std::string result = StatusText(ToProto(e.point->status));
          if (e.point->status == kernels::PointStatus::kOk) {
            char buf[96];
            std::snprintf(buf, sizeof buf, "%.1f tok/s, peak %s", e.point->tokens_per_second_median,
                          FormatBytes(e.point->arena_peak_bytes).c_str());
            result = buf;
          }
          if (seen > plan.expected_points) progress.SetTotal(progress.total() + 1);
          if (e.point->status == kernels::PointStatus::kOk) {
            kernels::WorkloadConfig c = plan.config;
            c.batch = e.point->batch_size;
            estimated_so_far += EstimatePointSeconds(c, rates, options.warmup_steps, options.repetitions);
            measured_so_far += e.point->wall_seconds;
          }
          const std::size_t k = static_cast<std::size_t>(seen - 1);
          progress.Finish(result, k < est.point_seconds.size() && static_cast<int>(k) < plan.expected_points
                                      ? est.point_seconds[k]
                                      : -1);
        }
      };
      auto result = kernels::RunSweep(backend, plan.config, options, on_event);
      if (!result.ok()) {
        if (absl::IsInvalidArgument(result.status())) {
          return absl::InvalidArgumentError("sweep " + Describe(item) + " could not run: " +
                                            std::string(result.status().message()));
        }
        // The device is unusable (a kernel fault is sticky for the process):
        // keep what finished, stop here; the caller says how to run the rest.
        submission.mutable_sweeps()->RemoveLast();
        run.stopped = absl::Status(result.status().code(), "sweep " + Describe(item) + " stopped: " +
                                                               std::string(result.status().message()));
        run.not_run.assign(items.begin() + static_cast<std::ptrdiff_t>(i), items.end());
        progress.Note("stopped: " + std::string(run.stopped.message()) + "; the " +
                      std::to_string(submission.sweeps_size()) + " finished sweep(s) are kept");
        break;
      }
      if (seen < plan.expected_points) progress.Drop(plan.expected_points - seen);
      for (const auto& p : result->points) {
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
        point->set_reproduce_command(ReproduceCommand(device_name, reproduce, item, U32(p.batch_size)));
      }
      sweep->set_largest_ok_batch(U32(result->largest_ok_batch));
      sweep->set_smallest_failed_batch(U32(result->smallest_failed_batch));
      sweep->set_planned_max_batch(U32(result->planned_max_batch));
      // An explicit batch list seeks no threshold; a sweep that did is
      // proven only when the device showed the bracket.
      if (options.prove_oom_bracket) {
        sweep->set_oom_threshold_source(result->threshold_proven ? v1::OOM_THRESHOLD_SOURCE_PROVEN
                                                                 : v1::OOM_THRESHOLD_SOURCE_PLANNED);
      }
    }
    *submission.mutable_finished_at() = TimeUtil::GetCurrentTime();
    if (checkpoint) {
      if (auto st = checkpoint(submission); !st.ok()) return st;
    }
  }
  progress.Close();
  *submission.mutable_finished_at() = TimeUtil::GetCurrentTime();
  return run;
}

}  // namespace localbench::agent
