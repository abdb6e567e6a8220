// A suite run through the library on the CPU backend with a memory limit:
// the OOM bracket is measured where the plan says, a preset that cannot fit
// is recorded as SKIPPED_WONT_FIT without being attempted, every point
// carries its reproduce command, and the outbox sees every finished sweep.
#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>
#include <sstream>

#include "localbench/agent/app.h"
#include "localbench/agent/cli.h"
#include "localbench/agent/outbox.h"
#include "localbench/agent/report.h"
#include "localbench/agent/runner.h"
#include "localbench/common/crypto.h"
#include "localbench/kernels/plan.h"
#include "localbench/kernels/presets.h"
#include "localbench/test_support/tiny_bracket.h"

namespace localbench::agent {
namespace {

namespace fs = std::filesystem;

using test_support::LimitForBracketAtSix;
using test_support::TinyPrefill;

TEST(AgentRun, OomBracketSkipsAndReproduceCommands) {
  const std::uint64_t limit = LimitForBracketAtSix();
  ASSERT_LT(kernels::PlanMemory(TinyPrefill(6))->total_bytes, limit);
  ASSERT_LT(limit, kernels::PlanMemory(TinyPrefill(7))->total_bytes);
  auto backends = FindBackends(limit);
  auto cpu = SelectBackend(backends, "cpu");
  ASSERT_TRUE(cpu.ok()) << cpu.status();

  RunOptions o;
  o.presets = {"tiny-llama", "llama-3.1-8b"};
  o.workloads = {v1::WORKLOAD_KIND_PREFILL};
  o.precisions = {v1::PRECISION_FP32};
  o.prompt_tokens = {16};
  o.repetitions = 2;
  o.memory_limit_bytes = limit;
  auto suite = ApplyOptions(CpuSuite(), o);
  ASSERT_TRUE(suite.ok()) << suite.status();
  suite->max_batch = 0;  // sweep to the OOM threshold

  std::FILE* sink = std::tmpfile();
  Progress progress(sink, false);
  std::vector<int> checkpoints;
  auto run = RunSuite(**cpu, *suite, progress, [&](const v1::Submission& partial) {
    checkpoints.push_back(partial.sweeps_size());
    return absl::OkStatus();
  });
  std::fclose(sink);
  ASSERT_TRUE(run.ok()) << run.status();
  EXPECT_TRUE(run->stopped.ok()) << run->stopped;
  const v1::Submission* submission = &run->submission;
  // After the first pass (tiny-llama's batch 1 only), then after each sweep.
  EXPECT_EQ(checkpoints, (std::vector<int>{1, 1, 2}));
  EXPECT_TRUE(IsUuid(submission->submission_id()));
  EXPECT_EQ(submission->machine_fingerprint().size(), 64u);
  EXPECT_EQ(submission->software().suite_hash(), suite->Hash());
  EXPECT_EQ(submission->software().kernel_source_hash().size(), 64u);
  EXPECT_EQ(submission->hardware().device().backend(), v1::BACKEND_CPU);
  EXPECT_EQ(submission->hardware().device().memory_total_bytes(), limit);
  ASSERT_EQ(submission->sweeps_size(), 2);

  const auto& tiny = submission->sweeps(0);
  EXPECT_EQ(tiny.workload().model_preset(), "tiny-llama");
  EXPECT_EQ(tiny.largest_ok_batch(), 6u);
  EXPECT_EQ(tiny.smallest_failed_batch(), 7u);
  EXPECT_EQ(tiny.planned_max_batch(), 6u);
  bool saw_oom = false;
  std::uint32_t last_batch = 0;
  for (const auto& p : tiny.points()) {
    EXPECT_GT(p.batch_size(), last_batch);  // increasing batch
    last_batch = p.batch_size();
    if (p.status() == v1::POINT_STATUS_OK) {
      EXPECT_GT(p.tokens_per_second_median(), 0);
      EXPECT_EQ(p.arena_peak_bytes(), p.planned_bytes());
      EXPECT_LE(p.batch_size(), 6u);
    }
    if (p.status() == v1::POINT_STATUS_OOM) {
      saw_oom = true;
      EXPECT_EQ(p.batch_size(), 7u);
    }
    EXPECT_NE(p.reproduce_command().find("--batches " + std::to_string(p.batch_size())), std::string::npos);
    EXPECT_NE(p.reproduce_command().find("--presets tiny-llama --workloads prefill --precisions fp32"),
              std::string::npos);
    EXPECT_NE(p.reproduce_command().find("--memory-limit " + std::to_string(limit)), std::string::npos);
    // The reproduce command is a valid agent command line.
    std::istringstream words(p.reproduce_command());
    std::vector<std::string> args;
    for (std::string w; words >> w;) args.push_back(w);
    ASSERT_EQ(args.at(0), "localbench-agent");
    args.erase(args.begin());
    auto parsed = ParseCommandLine(args);
    ASSERT_TRUE(parsed.ok) << parsed.error;
    EXPECT_EQ(parsed.invocation.run.batches, (std::vector<std::uint32_t>{p.batch_size()}));
  }
  EXPECT_TRUE(saw_oom);

  const auto& big = submission->sweeps(1);
  EXPECT_EQ(big.workload().model_preset(), "llama-3.1-8b");
  ASSERT_EQ(big.points_size(), 1);
  EXPECT_EQ(big.points(0).status(), v1::POINT_STATUS_SKIPPED_WONT_FIT);
  EXPECT_GT(big.points(0).planned_bytes(), limit);
  EXPECT_EQ(big.largest_ok_batch(), 0u);
  EXPECT_EQ(big.points(0).repetitions(), 0u);  // not attempted
}

TEST(AgentRun, OfflineRunWritesResultsAndJson) {
  const fs::path state = fs::path(::testing::TempDir()) / ("agent-offline-" + RandomHex(4));
  const std::string json = (state / "out.json").string();
  auto parsed = ParseCommandLine(std::vector<std::string>{
      "run", "--offline", "--device", "cpu", "--presets", "tiny-qwen", "--workloads", "decode,train-lora",
      "--precisions", "bf16", "--prompt-tokens", "8", "--generated-tokens", "2", "--sequence-tokens", "8",
      "--batches", "1,2", "--repetitions", "1", "--state-dir", state.string(), "--json", json});
  ASSERT_TRUE(parsed.ok) << parsed.error;
  std::ostringstream out, err;
  std::istringstream in;
  Console console{out, err, in};
  console.progress = std::tmpfile();
  const int rc = Dispatch(parsed.invocation, console);
  std::fclose(console.progress);
  ASSERT_EQ(rc, kExitOk) << err.str();
  // Offline: nothing pending for upload, the results kept locally.
  EXPECT_TRUE(Outbox(state / "outbox").Pending().empty());
  auto kept = Outbox(state / "results").Pending();
  ASSERT_EQ(kept.size(), 1u);
  auto from_file = LoadResults(kept[0]);
  auto from_json = LoadResults(json);
  ASSERT_TRUE(from_file.ok()) << from_file.status();
  ASSERT_TRUE(from_json.ok()) << from_json.status();
  EXPECT_EQ(from_file->SerializeAsString(), from_json->SerializeAsString());
  ASSERT_EQ(from_file->sweeps_size(), 2);
  for (const auto& sweep : from_file->sweeps()) {
    ASSERT_EQ(sweep.points_size(), 2);
    for (const auto& p : sweep.points()) EXPECT_EQ(p.status(), v1::POINT_STATUS_OK) << p.error_message();
  }
  EXPECT_NE(out.str().find("tiny-qwen"), std::string::npos);  // the table
  EXPECT_NE(err.str().find("not published"), std::string::npos);
  fs::remove_all(state);
}

TEST(AgentRun, UnknownDeviceAndEnrolmentAreClearErrors) {
  const fs::path state = fs::path(::testing::TempDir()) / ("agent-errors-" + RandomHex(4));
  std::ostringstream out, err;
  std::istringstream in;
  Console console{out, err, in};
  auto parsed = ParseCommandLine(std::vector<std::string>{"run", "--state-dir", state.string()});
  ASSERT_TRUE(parsed.ok);
  EXPECT_EQ(Dispatch(parsed.invocation, console), kExitFailure);
  EXPECT_NE(err.str().find("not enrolled"), std::string::npos) << err.str();
  err.str("");
  parsed = ParseCommandLine(std::vector<std::string>{"run", "--offline", "--device", "cuda:7", "--state-dir",
                                                     state.string()});
  ASSERT_TRUE(parsed.ok);
  EXPECT_EQ(Dispatch(parsed.invocation, console), kExitFailure);
  EXPECT_NE(err.str().find("no device 'cuda:7'"), std::string::npos) << err.str();
  fs::remove_all(state);
}

}  // namespace
}  // namespace localbench::agent
