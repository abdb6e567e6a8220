#include "localbench/agent/runner.h"

#include <google/protobuf/util/time_util.h>

#include <algorithm>
#include <cmath>
#include <cstdio>

#include "localbench/agent/probe.h"
#include "localbench/agent/report.h"
#include "localbench/common/crypto.h"
#include "localbench/kernels/discover.h"
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

kernels::DType ToKernels(v1::Precision p) {
  switch (p) {
    case v1::PRECISION_FP16: return kernels::DType::kF16;
    case v1::PRECISION_BF16: return kernels::DType::kBF16;
    default: return kernels::DType::kF32;
  }
}

kernels::WorkloadKind ToKernels(v1::WorkloadKind k) {
  switch (k) {
    case v1::WORKLOAD_KIND_DECODE: return kernels::WorkloadKind::kDecode;
    case v1::WORKLOAD_KIND_TRAIN_LORA: return kernels::WorkloadKind::kTrainLora;
    case v1::WORKLOAD_KIND_TRAIN_FULL: return kernels::WorkloadKind::kTrainFull;
    default: return kernels::WorkloadKind::kPrefill;
  }
}

v1::PointStatus ToProto(kernels::PointStatus s) {
  switch (s) {
    case kernels::PointStatus::kOk: return v1::POINT_STATUS_OK;
    case kernels::PointStatus::kOom: return v1::POINT_STATUS_OOM;
    case kernels::PointStatus::kError: return v1::POINT_STATUS_ERROR;
    case kernels::PointStatus::kSkippedWontFit: return v1::POINT_STATUS_SKIPPED_WONT_FIT;
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
  return w;
}

std::uint32_t U32(std::int64_t v) { return static_cast<std::uint32_t>(std::clamp<std::int64_t>(v, 0, UINT32_MAX)); }

std::string Describe(const SuiteItem& item) {
  std::string s = item.preset + " " + std::string(WorkloadName(item.shape.kind)) + " " +
                  std::string(PrecisionName(item.shape.precision));
  if (item.shape.prompt_tokens) s += " p" + std::to_string(item.shape.prompt_tokens);
  if (item.shape.generated_tokens) s += "+g" + std::to_string(item.shape.generated_tokens);
  if (item.shape.sequence_tokens) s += " s" + std::to_string(item.shape.sequence_tokens);
  return s;
}

// Points a sweep is expected to run, for the progress estimate only: the
// doubling sweep to the planned maximum plus the bracket proof.
int ExpectedPoints(const Suite& suite, std::int64_t planned_max) {
  if (!suite.batches.empty()) return static_cast<int>(suite.batches.size());
  if (planned_max <= 0) return 1;
  std::int64_t cap = suite.max_batch ? std::min<std::int64_t>(suite.max_batch, planned_max) : planned_max;
  int n = 0;
  for (std::int64_t b = 1; b <= cap; b *= 2) ++n;
  const bool capped = suite.max_batch && suite.max_batch < planned_max;
  return n + (capped ? 0 : 2);
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
  if (info.kind != kernels::DeviceKind::kCpu && info.memory_total_bytes > free_bytes) {
    // Our own runtime context takes a few hundred MiB; more than 1 GiB in
    // use before we allocate means other processes hold device memory, and
    // the OOM threshold measured here is lower than the card's own.
    const std::uint64_t used = info.memory_total_bytes - free_bytes;
    d.set_memory_used_by_others_bytes(used);
    d.set_other_processes_hold_memory(used > kGiB);
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
  cmd += " --batches " + std::to_string(batch);
  cmd += " --repetitions " + std::to_string(suite.repetitions);
  return cmd;
}

absl::StatusOr<SuiteRun> RunSuite(kernels::Backend& backend, const Suite& suite, Progress& progress,
                                  const Checkpoint& checkpoint) {
  using google::protobuf::util::TimeUtil;
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

  // Plan every item first: what will not fit is known before anything runs,
  // and the estimate of the time left has a denominator.
  struct Planned {
    kernels::WorkloadConfig config;
    std::int64_t max_batch = 0;
    std::uint64_t batch1_bytes = 0;
    int expected_points = 0;
  };
  std::vector<Planned> plans;
  int total = 0;
  for (const auto& item : items) {
    auto preset = kernels::FindPreset(item.preset);
    if (!preset.ok()) return preset.status();
    Planned p;
    p.config.kind = ToKernels(item.shape.kind);
    p.config.preset = *preset;
    p.config.precision = ToKernels(item.shape.precision);
    p.config.batch = 1;
    p.config.prompt_tokens = item.shape.prompt_tokens;
    p.config.generated_tokens = item.shape.generated_tokens;
    p.config.sequence_tokens = item.shape.sequence_tokens;
    p.config.lora_rank = item.shape.lora_rank;
    auto plan1 = kernels::PlanMemory(p.config);
    if (!plan1.ok()) return plan1.status();
    p.batch1_bytes = plan1->total_bytes;
    auto max_batch = kernels::MaxBatchForBudget(p.config, budget);
    if (!max_batch.ok()) return max_batch.status();
    p.max_batch = *max_batch;
    p.expected_points = p.max_batch == 0 ? 0 : ExpectedPoints(suite, p.max_batch);
    total += p.expected_points;
    plans.push_back(std::move(p));
  }
  progress.SetTotal(total);

  for (std::size_t i = 0; i < items.size(); ++i) {
    const auto& item = items[i];
    const auto& plan = plans[i];
    v1::Sweep* sweep = submission.add_sweeps();
    *sweep->mutable_workload() = ToProto(item);
    if (plan.max_batch == 0) {
      // The plan says batch 1 cannot fit: recorded, not attempted.
      auto* point = sweep->add_points();
      point->set_batch_size(1);
      point->set_status(v1::POINT_STATUS_SKIPPED_WONT_FIT);
      point->set_planned_bytes(plan.batch1_bytes);
      point->set_error_message("the memory plan needs " + FormatBytes(plan.batch1_bytes) + " at batch 1; " +
                               FormatBytes(budget) + " is free");
      point->set_reproduce_command(ReproduceCommand(device_name, suite, item, 1));
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
          progress.Finish(result);
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
        point->set_reproduce_command(ReproduceCommand(device_name, suite, item, U32(p.batch_size)));
      }
      sweep->set_largest_ok_batch(U32(result->largest_ok_batch));
      sweep->set_smallest_failed_batch(U32(result->smallest_failed_batch));
      sweep->set_planned_max_batch(U32(result->planned_max_batch));
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
