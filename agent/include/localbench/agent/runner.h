// Runs a suite on one device through the kernels library and assembles the
// Submission: hardware probe, software versions, one Sweep per suite item
// (with SKIPPED_WONT_FIT for presets the plan says cannot fit at batch 1),
// and the reproduce command of every point.
#ifndef LOCALBENCH_AGENT_RUNNER_H_
#define LOCALBENCH_AGENT_RUNNER_H_

#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "localbench/agent/estimate.h"
#include "localbench/agent/progress.h"
#include "localbench/agent/suite.h"
#include "localbench/kernels/backend.h"
#include "localbench/v1/results.pb.h"

namespace localbench::agent {

// This agent's version (`git describe` at build time).
std::string AgentVersion();

// The backends of this machine; the CPU's memory limit is `cpu_memory_limit`.
std::vector<std::unique_ptr<kernels::Backend>> FindBackends(std::uint64_t cpu_memory_limit_bytes);

// Picks the backend `device` names ("cpu", "cuda", "cuda:1", "hip:0"); with
// an empty `device`, the best one: the GPU with the most memory, else the
// CPU. NotFound lists what exists.
absl::StatusOr<kernels::Backend*> SelectBackend(const std::vector<std::unique_ptr<kernels::Backend>>& backends,
                                                const std::string& device);

// The v1.Device of a backend, with free memory (and what others hold) now.
v1::Device DescribeDevice(kernels::Backend& backend);

// The exact command that reruns one point: the agent invocation restricted
// to that preset, workload, precision, lengths and batch.
std::string ReproduceCommand(const std::string& device_name, const Suite& suite, const SuiteItem& item,
                             std::uint32_t batch);

// Called after every finished sweep with the submission so far (finished_at
// set), so the caller can write it to the outbox: an interrupted run keeps
// what it finished. An error stops the run.
using Checkpoint = std::function<absl::Status(const v1::Submission&)>;

// What a run produced.
struct SuiteRun {
  // Every sweep that finished (all of them unless `stopped` says otherwise).
  v1::Submission submission;
  // OK when every sweep ran. Otherwise why the run stopped early: the device
  // became unusable (a kernel fault is sticky for the process), so the sweep
  // it happened in and those after it did not run.
  absl::Status stopped;
  // The sweeps that did not finish, in suite order (the faulted one and those
  // after it; after a fault in the first pass, every sweep). A sweep whose
  // batch 1 the first pass measured keeps that point in `submission`.
  std::vector<SuiteItem> not_run;
};

// The time budget of a run and the rates its estimate uses.
struct RunBudget {
  double seconds = 0;  // 0: the suite's default (Suite::time_budget_seconds)
  // The device's rates; absent: a short calibration on the device first.
  std::optional<DeviceRates> rates;
};

// Runs every item of `suite` on `backend`. Per-point failures (OOM, errors)
// are results; a device fault stops the run (see SuiteRun::stopped); an
// error return means the run could not start or a checkpoint failed.
// Before the first sweep it prints (as progress notes) how long the suite
// will take and what the time budget will skip (estimate.h), and plans by
// the same figures: points past a sweep's deadline are SKIPPED_FOR_TIME.
// Order: first batch 1 of every doubling prefill and decode sweep, preset by
// preset (the answer for every model that fits); then every sweep in suite
// order runs its other batches (ladder, OOM bracket) with the time left, at
// the pace measured so far. An explicit batch list runs sweep by sweep, each
// keeping the later sweeps' batch-1 reservations. `checkpoint` sees the
// submission after the first pass and after every sweep.
absl::StatusOr<SuiteRun> RunSuite(kernels::Backend& backend, const Suite& suite, Progress& progress,
                                  const Checkpoint& checkpoint = {}, const RunBudget& budget = {});

}  // namespace localbench::agent

#endif  // LOCALBENCH_AGENT_RUNNER_H_
