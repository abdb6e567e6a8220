// Command-line parsing of localbench-agent: accepted forms and clear errors
// (exit code 2) for bad arguments.
#include <gtest/gtest.h>

#include "localbench/agent/cli.h"
#include "localbench/agent/options.h"

namespace localbench::agent {
namespace {

TEST(AgentCli, RunWithNoArgumentsIsTheStandardSuite) {
  auto r = ParseCommandLine(std::vector<std::string>{"run"});
  ASSERT_TRUE(r.ok) << r.error;
  EXPECT_EQ(r.invocation.command, Command::kRun);
  EXPECT_TRUE(r.invocation.run.presets.empty());
  EXPECT_TRUE(r.invocation.run.batches.empty());
  EXPECT_FALSE(r.invocation.run.yes);
  EXPECT_FALSE(r.invocation.run.connection.insecure);
  EXPECT_EQ(r.invocation.run.suite, "");  // the standard suite (2027.01)
}

TEST(AgentCli, SuiteVersionIsChosenByName) {
  auto r = ParseCommandLine(std::vector<std::string>{"run", "--suite", "2027.01"});
  ASSERT_TRUE(r.ok) << r.error;
  EXPECT_EQ(r.invocation.run.suite, "2027.01");
  auto previous = ParseCommandLine(std::vector<std::string>{"run", "--suite", "2026.12"});
  ASSERT_TRUE(previous.ok) << previous.error;
  EXPECT_EQ(previous.invocation.run.suite, "2026.12");
  auto bad = ParseCommandLine(std::vector<std::string>{"run", "--suite", "2025.01"});
  EXPECT_FALSE(bad.ok);
  EXPECT_EQ(bad.exit_code, kExitUsage);
  EXPECT_NE(bad.error.find("--suite"), std::string::npos) << bad.error;
}

TEST(AgentCli, ParsesListsAndSizes) {
  auto r = ParseCommandLine(std::vector<std::string>{
      "run", "--device", "cpu", "--presets", "tiny-llama,tiny-qwen", "--workloads", "prefill,train-lora",
      "--precisions", "fp32,bf16", "--batches", "1,2,8", "--prompt-tokens", "16,32", "--sequence-tokens", "8",
      "--repetitions", "2", "--memory-limit", "64M", "--yes", "--collector", "127.0.0.1:5000", "--insecure",
      "--json", "-", "--csv", "out.csv"});
  ASSERT_TRUE(r.ok) << r.error;
  const auto& o = r.invocation.run;
  EXPECT_EQ(o.device, "cpu");
  EXPECT_EQ(o.presets, (std::vector<std::string>{"tiny-llama", "tiny-qwen"}));
  EXPECT_EQ(o.workloads, (std::vector<v1::WorkloadKind>{v1::WORKLOAD_KIND_PREFILL, v1::WORKLOAD_KIND_TRAIN_LORA}));
  EXPECT_EQ(o.precisions, (std::vector<v1::Precision>{v1::PRECISION_FP32, v1::PRECISION_BF16}));
  EXPECT_EQ(o.batches, (std::vector<std::uint32_t>{1, 2, 8}));
  EXPECT_EQ(o.prompt_tokens, (std::vector<std::uint32_t>{16, 32}));
  EXPECT_EQ(o.sequence_tokens, (std::vector<std::uint32_t>{8}));
  EXPECT_EQ(o.repetitions, 2u);
  EXPECT_EQ(o.memory_limit_bytes, 64u << 20);
  EXPECT_TRUE(o.yes);
  EXPECT_TRUE(o.connection.insecure);
  EXPECT_EQ(o.connection.collector, "127.0.0.1:5000");
  EXPECT_EQ(o.json_path, "-");
  EXPECT_EQ(o.csv_path, "out.csv");
}

struct BadArgs {
  std::vector<std::string> args;
  std::string expected_in_error;
};

class AgentCliBad : public ::testing::TestWithParam<BadArgs> {};

TEST_P(AgentCliBad, ExitsTwoWithAClearMessage) {
  auto r = ParseCommandLine(GetParam().args);
  EXPECT_FALSE(r.ok);
  EXPECT_EQ(r.exit_code, kExitUsage);
  EXPECT_NE(r.error.find(GetParam().expected_in_error), std::string::npos) << r.error;
}

INSTANTIATE_TEST_SUITE_P(
    Cases, AgentCliBad,
    ::testing::Values(BadArgs{{}, "subcommand"},
                      BadArgs{{"frobnicate"}, "frobnicate"},
                      BadArgs{{"run", "--workloads", "inference"}, "unknown workload 'inference'"},
                      BadArgs{{"run", "--precisions", "int4"}, "unknown precision 'int4'"},
                      BadArgs{{"run", "--batches", "0"}, "--batches"},
                      BadArgs{{"run", "--batches", "two"}, "--batches"},
                      BadArgs{{"run", "--memory-limit", "lots"}, "invalid size 'lots'"},
                      BadArgs{{"run", "--memory-limit", "12Q"}, "invalid size"},
                      BadArgs{{"run", "--batches", "1,2", "--max-batch", "8"}, "exclude each other"},
                      BadArgs{{"run", "--yes", "--offline"}, "contradict"},
                      BadArgs{{"run", "--collector", "localhost"}, "no port"},
                      BadArgs{{"run", "--collector", "host:99999"}, "port must be 1..65535"},
                      BadArgs{{"enroll"}, "enroll needs --collector"},
                      BadArgs{{"run", "--repetitions", "0"}, "--repetitions"},
                      BadArgs{{"run", "--no-such-flag"}, "--no-such-flag"},
                      BadArgs{{"show", "/nonexistent/results.pb"}, "/nonexistent/results.pb"}));

TEST(AgentCli, HelpExitsZeroOnStdout) {
  auto r = ParseCommandLine(std::vector<std::string>{"run", "--help"});
  EXPECT_FALSE(r.ok);
  EXPECT_EQ(r.exit_code, 0);
  EXPECT_NE(r.output.find("--memory-limit"), std::string::npos);
  EXPECT_TRUE(r.error.empty());
}

TEST(AgentOptions, ByteSizes) {
  EXPECT_EQ(*ParseByteSize("1024"), 1024u);
  EXPECT_EQ(*ParseByteSize("1K"), 1024u);
  EXPECT_EQ(*ParseByteSize("512MiB"), 512ull << 20);
  EXPECT_EQ(*ParseByteSize("1.5g"), 3ull << 29);
  EXPECT_EQ(*ParseByteSize("2GB"), 2ull << 30);
  EXPECT_FALSE(ParseByteSize("").ok());
  EXPECT_FALSE(ParseByteSize("-1G").ok());
  EXPECT_FALSE(ParseByteSize("1..5G").ok());
  EXPECT_FALSE(ParseByteSize("0").ok());
  EXPECT_EQ(FormatBytes(3ull << 29), "1.50 GiB");
  EXPECT_EQ(FormatBytes(12), "12 B");
}

TEST(AgentOptions, HostPort) {
  EXPECT_TRUE(ValidateHostPort("127.0.0.1:1").ok());
  EXPECT_TRUE(ValidateHostPort("collector.example.org:443").ok());
  EXPECT_TRUE(ValidateHostPort("[::1]:50051").ok());
  EXPECT_FALSE(ValidateHostPort("::1:50051").ok());
  EXPECT_FALSE(ValidateHostPort(":50051").ok());
  EXPECT_FALSE(ValidateHostPort("host:0").ok());
  EXPECT_FALSE(ValidateHostPort("host:12ab").ok());
}

TEST(AgentOptions, NamesRoundTrip) {
  for (auto k : {v1::WORKLOAD_KIND_PREFILL, v1::WORKLOAD_KIND_DECODE, v1::WORKLOAD_KIND_TRAIN_LORA,
                 v1::WORKLOAD_KIND_TRAIN_FULL}) {
    EXPECT_EQ(*ParseWorkload(WorkloadName(k)), k);
  }
  for (auto p : {v1::PRECISION_FP32, v1::PRECISION_FP16, v1::PRECISION_BF16, v1::PRECISION_Q8_0,
                 v1::PRECISION_Q4_0, v1::PRECISION_NF4}) {
    EXPECT_EQ(*ParsePrecision(PrecisionName(p)), p);
  }
  EXPECT_EQ(PrecisionName(v1::PRECISION_Q4_0), "q4_0");
  EXPECT_FALSE(ParsePrecision("q5_k").ok());
}

}  // namespace
}  // namespace localbench::agent
