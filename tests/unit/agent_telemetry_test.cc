// Unknown telemetry is absent, not 0 (issue 8, item 8): a point carries
// device delta, process memory, SM clock and throttle bits only when the
// source told them, and the CSV and JSON reports leave unknowns empty while
// a real 0 (no throttling) stays 0.
#include <gtest/gtest.h>

#include <cstdio>

#include "agent_faulting_backend.h"
#include "localbench/agent/cli.h"
#include "localbench/agent/report.h"
#include "localbench/agent/runner.h"

namespace localbench::agent {
namespace {

using testing::FaultingBackend;

// One prefill sweep of tiny-llama at batches 1 and 2.
absl::StatusOr<SuiteRun> RunTiny(kernels::Backend& backend) {
  auto parsed = ParseCommandLine(std::vector<std::string>{
      "run", "--device", "cpu", "--presets", "tiny-llama", "--workloads", "prefill", "--precisions", "fp32",
      "--prompt-tokens", "8", "--batches", "1,2", "--repetitions", "1"});
  EXPECT_TRUE(parsed.ok) << parsed.error;
  auto suite = ApplyOptions(CpuSuite(), parsed.invocation.run);
  EXPECT_TRUE(suite.ok()) << suite.status();
  std::FILE* sink = std::tmpfile();
  Progress progress(sink, false);
  auto run = RunSuite(backend, *suite, progress);
  std::fclose(sink);
  return run;
}

// The CSV cells of column `name` (header row first), one per point.
std::vector<std::string> Column(const std::string& csv, const std::string& name) {
  std::vector<std::vector<std::string>> rows;
  std::string cell;
  std::vector<std::string> row;
  bool quoted = false;
  for (char c : csv) {
    if (c == '"') quoted = !quoted;
    else if (c == ',' && !quoted) row.push_back(std::exchange(cell, {}));
    else if (c == '\n' && !quoted) {
      row.push_back(std::exchange(cell, {}));
      rows.push_back(std::exchange(row, {}));
    } else cell += c;
  }
  std::vector<std::string> out;
  for (std::size_t i = 0; i < rows.at(0).size(); ++i) {
    if (rows[0][i] != name) continue;
    for (std::size_t r = 1; r < rows.size(); ++r) out.push_back(rows[r].at(i));
  }
  return out;
}

TEST(AgentTelemetry, CpuClockAndThrottleAreUnknownNotZero) {
  kernels::CpuDeviceOptions o;
  o.memory_limit_bytes = CpuSuite().cpu_memory_limit_bytes;
  FaultingBackend backend(o, -1);  // never faults: the CPU backend's own telemetry
  auto run = RunTiny(backend);
  ASSERT_TRUE(run.ok()) << run.status();
  ASSERT_EQ(run->submission.sweeps_size(), 1);
  const auto& points = run->submission.sweeps(0).points();
  ASSERT_EQ(points.size(), 2);
  for (const auto& p : points) {
    ASSERT_EQ(p.status(), v1::POINT_STATUS_OK) << p.error_message();
    // Measured on a CPU: the device's own accounting.
    ASSERT_TRUE(p.has_device_delta_bytes());
    EXPECT_EQ(p.device_delta_bytes(), p.planned_bytes());
    ASSERT_TRUE(p.has_process_memory_bytes());
    EXPECT_EQ(p.process_memory_bytes(), p.planned_bytes());
    // Not measurable on a CPU: absent.
    EXPECT_FALSE(p.has_sm_clock_mhz());
    EXPECT_FALSE(p.has_throttle_reasons());
  }
  const std::string csv = FormatCsv(run->submission);
  EXPECT_EQ(Column(csv, "sm_clock_mhz"), (std::vector<std::string>{"", ""})) << csv;
  EXPECT_EQ(Column(csv, "throttle_reasons"), (std::vector<std::string>{"", ""})) << csv;
  EXPECT_EQ(Column(csv, "process_memory_bytes"),
            (std::vector<std::string>{std::to_string(points[0].planned_bytes()),
                                      std::to_string(points[1].planned_bytes())}))
      << csv;
  auto json = FormatJson(run->submission);
  ASSERT_TRUE(json.ok()) << json.status();
  EXPECT_EQ(json->find("smClockMhz"), std::string::npos);
  EXPECT_EQ(json->find("throttleReasons"), std::string::npos);
  EXPECT_NE(json->find("processMemoryBytes"), std::string::npos);
  // Round trip keeps absent absent.
  auto back = ParseJson(*json);
  ASSERT_TRUE(back.ok()) << back.status();
  EXPECT_FALSE(back->sweeps(0).points(0).has_sm_clock_mhz());
}

TEST(AgentTelemetry, AKnownZeroStaysZeroAndUnknownStaysAbsent) {
  kernels::CpuDeviceOptions o;
  o.memory_limit_bytes = CpuSuite().cpu_memory_limit_bytes;
  FaultingBackend backend(o, -1);
  kernels::DeviceTelemetry t;  // what NVML would say: clock known, nothing throttling
  t.sm_clock_mhz = 1980;
  t.throttle_reasons = 0;      // process memory: the driver would not tell
  backend.set_telemetry(t);
  auto run = RunTiny(backend);
  ASSERT_TRUE(run.ok()) << run.status();
  for (const auto& p : run->submission.sweeps(0).points()) {
    ASSERT_TRUE(p.has_sm_clock_mhz());
    EXPECT_EQ(p.sm_clock_mhz(), 1980u);
    ASSERT_TRUE(p.has_throttle_reasons());  // 0 here is "no throttling", a fact
    EXPECT_EQ(p.throttle_reasons(), 0u);
    EXPECT_FALSE(p.has_process_memory_bytes());
  }
  const std::string csv = FormatCsv(run->submission);
  EXPECT_EQ(Column(csv, "throttle_reasons"), (std::vector<std::string>{"0", "0"})) << csv;
  EXPECT_EQ(Column(csv, "sm_clock_mhz"), (std::vector<std::string>{"1980", "1980"})) << csv;
  EXPECT_EQ(Column(csv, "process_memory_bytes"), (std::vector<std::string>{"", ""})) << csv;
  auto json = FormatJson(run->submission);
  ASSERT_TRUE(json.ok());
  EXPECT_NE(json->find("\"throttleReasons\": \"0\""), std::string::npos) << *json;
}

}  // namespace
}  // namespace localbench::agent
