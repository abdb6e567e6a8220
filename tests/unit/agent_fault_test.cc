// A device fault stops the run (issue 8, item 7), and a run in progress
// stays out of the outbox under the state directory's lock (item 6). The
// device is a real CPU backend wrapped to fault like a GPU at a chosen
// synchronisation (agent_faulting_backend.h).
#include <unistd.h>

#include <gtest/gtest.h>

#include <cstdio>
#include <filesystem>
#include <sstream>

#include "agent_faulting_backend.h"
#include "localbench/agent/app.h"
#include "localbench/agent/cli.h"
#include "localbench/agent/outbox.h"
#include "localbench/agent/runner.h"
#include "localbench/agent/state.h"
#include "localbench/common/crypto.h"

namespace localbench::agent {
namespace {

namespace fs = std::filesystem;
using testing::FaultingBackend;

// Four sweeps: tiny-llama prefill, decode, then tiny-qwen prefill, decode.
const std::vector<std::string> kRunArgs = {
    "run", "--device", "cpu", "--presets", "tiny-llama,tiny-qwen", "--workloads", "prefill,decode",
    "--precisions", "fp32", "--prompt-tokens", "8", "--generated-tokens", "2", "--batches", "1,2",
    "--repetitions", "1"};

Suite FourSweeps() {
  auto parsed = ParseCommandLine(kRunArgs);
  EXPECT_TRUE(parsed.ok) << parsed.error;
  auto suite = ApplyOptions(CpuSuite(), parsed.invocation.run);
  EXPECT_TRUE(suite.ok()) << suite.status();
  EXPECT_EQ(Expand(*suite).size(), 4u);
  return *suite;
}

kernels::CpuDeviceOptions DeviceFor(const Suite& suite) {
  kernels::CpuDeviceOptions o;
  o.memory_limit_bytes = suite.cpu_memory_limit_bytes;
  return o;
}

// The synchronisations of the first sweep alone: a fault one later than
// this lands in the second sweep.
std::int64_t SyncsOfFirstSweep(const Suite& four) {
  Suite first = four;
  first.presets = {"tiny-llama"};
  first.templates.resize(1);
  FaultingBackend backend(DeviceFor(first), -1);
  std::FILE* sink = std::tmpfile();
  Progress progress(sink, false);
  auto run = RunSuite(backend, first, progress);
  std::fclose(sink);
  EXPECT_TRUE(run.ok()) << run.status();
  EXPECT_EQ(run->submission.sweeps_size(), 1);
  EXPECT_GT(backend.syncs(), 2);
  return backend.syncs();
}

TEST(AgentFault, FaultStopsTheRunAndKeepsTheFinishedSweeps) {
  const Suite suite = FourSweeps();
  const std::int64_t first = SyncsOfFirstSweep(suite);
  FaultingBackend backend(DeviceFor(suite), first + 2);  // inside sweep 2, batch 1
  std::vector<int> checkpoints;
  std::FILE* sink = std::tmpfile();
  Progress progress(sink, false);
  auto run = RunSuite(backend, suite, progress, [&](const v1::Submission& partial) {
    checkpoints.push_back(partial.sweeps_size());
    return absl::OkStatus();
  });
  std::fclose(sink);
  ASSERT_TRUE(run.ok()) << run.status();
  EXPECT_TRUE(backend.faulted());
  // Stopped: the fault is named, no sweep after it ran.
  ASSERT_FALSE(run->stopped.ok());
  EXPECT_NE(run->stopped.message().find("tiny-llama decode"), std::string::npos) << run->stopped;
  EXPECT_NE(run->stopped.message().find("faulted at batch 1"), std::string::npos) << run->stopped;
  EXPECT_NE(run->stopped.message().find("illegal memory access"), std::string::npos) << run->stopped;
  ASSERT_EQ(run->not_run.size(), 3u);
  EXPECT_EQ(run->not_run[0].preset, "tiny-llama");
  EXPECT_EQ(run->not_run[1].preset, "tiny-qwen");
  // The sweep finished before the fault is kept whole, with no error point.
  ASSERT_EQ(run->submission.sweeps_size(), 1);
  const auto& kept = run->submission.sweeps(0);
  EXPECT_EQ(kept.workload().kind(), v1::WORKLOAD_KIND_PREFILL);
  ASSERT_EQ(kept.points_size(), 2);
  for (const auto& p : kept.points()) EXPECT_EQ(p.status(), v1::POINT_STATUS_OK) << p.error_message();
  EXPECT_EQ(checkpoints, (std::vector<int>{1}));
}

TEST(AgentFault, FaultInTheFirstSweepKeepsNothing) {
  const Suite suite = FourSweeps();
  FaultingBackend backend(DeviceFor(suite), 1);
  std::FILE* sink = std::tmpfile();
  Progress progress(sink, false);
  auto run = RunSuite(backend, suite, progress);
  std::fclose(sink);
  ASSERT_TRUE(run.ok()) << run.status();
  EXPECT_FALSE(run->stopped.ok());
  EXPECT_EQ(run->submission.sweeps_size(), 0);
  EXPECT_EQ(run->not_run.size(), 4u);
}

// A doubling suite runs batch 1 of every sweep first: a fault there stops
// the run with the batch-1 points measured so far, every sweep unfinished.
TEST(AgentFault, FaultInTheFirstPassKeepsTheBatchOnePointsMeasured) {
  Suite suite = FourSweeps();
  suite.batches.clear();
  suite.max_batch = 2;  // a short ladder once the first pass is done
  Suite one = suite;
  one.presets = {"tiny-llama"};
  one.templates.resize(1);
  one.batches = {1};
  std::int64_t first_point = 0;  // calibration + tiny-llama prefill batch 1
  {
    FaultingBackend backend(DeviceFor(one), -1);
    std::FILE* sink = std::tmpfile();
    Progress progress(sink, false);
    auto run = RunSuite(backend, one, progress);
    std::fclose(sink);
    ASSERT_TRUE(run.ok()) << run.status();
    first_point = backend.syncs();
  }
  FaultingBackend backend(DeviceFor(suite), first_point + 2);  // tiny-llama decode, batch 1
  std::vector<int> checkpoints;
  std::FILE* sink = std::tmpfile();
  Progress progress(sink, false);
  auto run = RunSuite(backend, suite, progress, [&](const v1::Submission& partial) {
    checkpoints.push_back(partial.sweeps_size());
    return absl::OkStatus();
  });
  std::fclose(sink);
  ASSERT_TRUE(run.ok()) << run.status();
  ASSERT_FALSE(run->stopped.ok());
  EXPECT_NE(run->stopped.message().find("tiny-llama decode"), std::string::npos) << run->stopped;
  EXPECT_NE(run->stopped.message().find("faulted at batch 1"), std::string::npos) << run->stopped;
  EXPECT_EQ(run->not_run.size(), 4u);  // no sweep went past its first pass
  ASSERT_EQ(run->submission.sweeps_size(), 1);
  const auto& kept = run->submission.sweeps(0);
  EXPECT_EQ(kept.workload().model_preset(), "tiny-llama");
  EXPECT_EQ(kept.workload().kind(), v1::WORKLOAD_KIND_PREFILL);
  ASSERT_EQ(kept.points_size(), 1);
  EXPECT_EQ(kept.points(0).batch_size(), 1u);
  EXPECT_EQ(kept.points(0).status(), v1::POINT_STATUS_OK);
  EXPECT_EQ(kept.oom_threshold_source(), v1::OOM_THRESHOLD_SOURCE_PLANNED);
  EXPECT_TRUE(checkpoints.empty());  // the first pass never finished
}

// The state directory of one test, enrolled with a collector nobody runs.
class FaultCommandTest : public ::testing::Test {
 protected:
  void SetUp() override {
    state_ = fs::path(::testing::TempDir()) / ("agent-fault-" + RandomHex(6));
    AgentConfig config;
    config.collector = "127.0.0.1:1";
    config.agent_id = "agent-test";
    config.agent_token = "token-test";
    config.insecure = true;
    ASSERT_TRUE(SaveConfig(state_, config).ok());
  }
  void TearDown() override { fs::remove_all(state_); }

  // Runs `run` through RunCommand on a backend faulting at `fail_at_sync`;
  // `on_sync` looks at the state directory while the run is in progress.
  int Run(std::int64_t fail_at_sync, std::function<void(std::int64_t)> on_sync, std::string* err_text) {
    auto args = kRunArgs;
    args.insert(args.end(), {"--state-dir", state_.string()});
    auto parsed = ParseCommandLine(args);
    EXPECT_TRUE(parsed.ok) << parsed.error;
    std::ostringstream out, err;
    std::istringstream in;
    Console console{out, err, in};
    console.progress = std::tmpfile();
    const int rc = RunCommand(parsed.invocation, console, {}, [&](std::uint64_t limit) {
      kernels::CpuDeviceOptions o;
      o.memory_limit_bytes = limit;
      auto backend = std::make_unique<FaultingBackend>(o, fail_at_sync);
      backend->set_on_sync(on_sync);
      std::vector<std::unique_ptr<kernels::Backend>> all;
      all.push_back(std::move(backend));
      return all;
    });
    std::fclose(console.progress);
    *err_text = err.str();
    return rc;
  }

  fs::path state_;
};

TEST_F(FaultCommandTest, FaultExitsOneAndKeepsTheFinishedSweepsInTheOutbox) {
  const std::int64_t first = SyncsOfFirstSweep(FourSweeps());
  std::string err;
  const int rc = Run(first + 2, {}, &err);
  // Not interactive and no --yes: would be 3 (kept locally); the fault wins.
  EXPECT_EQ(rc, kExitFailure) << err;
  EXPECT_NE(err.find("the run stopped early"), std::string::npos) << err;
  EXPECT_NE(err.find("illegal memory access"), std::string::npos) << err;
  EXPECT_NE(err.find("1 finished sweep(s) kept; 3 sweep(s) did not run"), std::string::npos) << err;
  EXPECT_NE(err.find("--presets tiny-llama,tiny-qwen"), std::string::npos) << err;
  const auto pending = Outbox(OutboxDir(state_)).Pending();
  ASSERT_EQ(pending.size(), 1u);
  auto kept = ReadSubmissionFile(pending[0]);
  ASSERT_TRUE(kept.ok()) << kept.status();
  ASSERT_EQ(kept->sweeps_size(), 1);
  EXPECT_EQ(kept->sweeps(0).points_size(), 2);
  EXPECT_TRUE(Outbox(RunningDir(state_)).Pending().empty());
}

TEST_F(FaultCommandTest, FaultBeforeAnySweepFinishedKeepsNoFile) {
  std::string err;
  EXPECT_EQ(Run(1, {}, &err), kExitFailure);
  EXPECT_NE(err.find("no sweep finished"), std::string::npos) << err;
  EXPECT_TRUE(Outbox(OutboxDir(state_)).Pending().empty());
  EXPECT_TRUE(Outbox(RunningDir(state_)).Pending().empty());
}

TEST_F(FaultCommandTest, RunInProgressIsOutOfTheOutboxAndLocksTheStateDir) {
  const std::int64_t first = SyncsOfFirstSweep(FourSweeps());
  bool looked = false;
  std::string upload_err;
  int upload_rc = -1;
  std::size_t pending_during = 99, running_during = 99;
  auto look = [&](std::int64_t sync) {
    if (sync != first + 2 || looked) return;  // once, during the second sweep
    looked = true;
    pending_during = Outbox(OutboxDir(state_)).Pending().size();
    running_during = Outbox(RunningDir(state_)).Pending().size();
    // An upload now (another process in real life) must not touch the run.
    auto parsed = ParseCommandLine(std::vector<std::string>{"upload", "--state-dir", state_.string()});
    ASSERT_TRUE(parsed.ok);
    std::ostringstream out, err;
    std::istringstream in;
    Console console{out, err, in};
    upload_rc = Dispatch(parsed.invocation, console);
    upload_err = err.str();
  };
  std::string err;
  const int rc = Run(-1, look, &err);
  EXPECT_EQ(rc, kExitNotPublished) << err;  // finished; no terminal, no --yes
  ASSERT_TRUE(looked);
  EXPECT_EQ(pending_during, 0u);  // the first sweep's checkpoint is not in the outbox
  EXPECT_EQ(running_during, 1u);  // but in running/
  EXPECT_EQ(upload_rc, kExitFailure);
  EXPECT_NE(upload_err.find("another localbench-agent (pid " + std::to_string(::getpid()) + ") is using"),
            std::string::npos)
      << upload_err;
  // Once the run has ended, the whole submission is in the outbox.
  const auto pending = Outbox(OutboxDir(state_)).Pending();
  ASSERT_EQ(pending.size(), 1u);
  EXPECT_EQ(ReadSubmissionFile(pending[0])->sweeps_size(), 4);
  EXPECT_TRUE(Outbox(RunningDir(state_)).Pending().empty());
}

TEST_F(FaultCommandTest, AnInterruptedRunJoinsTheOutboxAtTheNextCommand) {
  // What a killed run leaves: its last checkpoint in running/.
  v1::Submission partial;
  partial.set_submission_id(NewUuid());
  partial.add_sweeps()->mutable_workload()->set_model_preset("tiny-llama");
  ASSERT_TRUE(Outbox(RunningDir(state_)).Put(partial).ok());
  // While a lock is held (a run in progress), nothing moves.
  {
    auto lock = StateLock::Acquire(state_);
    ASSERT_TRUE(lock.ok()) << lock.status();
    auto again = StateLock::Acquire(state_);
    ASSERT_FALSE(again.ok());
    EXPECT_TRUE(absl::IsFailedPrecondition(again.status())) << again.status();
  }
  auto parsed = ParseCommandLine(std::vector<std::string>{"upload", "--state-dir", state_.string()});
  ASSERT_TRUE(parsed.ok);
  std::ostringstream out, err;
  std::istringstream in;
  Console console{out, err, in};
  UploadSettings fast;
  fast.policy.max_attempts = 1;
  fast.policy.call_deadline = std::chrono::milliseconds(500);
  EXPECT_EQ(Dispatch(parsed.invocation, console, fast), kExitFailure);  // nobody listens on :1
  EXPECT_NE(err.str().find("1 interrupted run(s) moved to the outbox"), std::string::npos) << err.str();
  EXPECT_TRUE(Outbox(RunningDir(state_)).Pending().empty());
  const auto pending = Outbox(OutboxDir(state_)).Pending();
  ASSERT_EQ(pending.size(), 1u);
  EXPECT_EQ(pending[0].filename().string(), partial.submission_id() + ".pb");
}

}  // namespace
}  // namespace localbench::agent
