// The outbox, results files (binary and JSON round trips) and the 0600
// enrolment config.
#include <sys/stat.h>

#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>

#include "localbench/agent/app.h"
#include "localbench/agent/outbox.h"
#include "localbench/agent/report.h"
#include "localbench/agent/state.h"
#include "localbench/common/crypto.h"

namespace localbench::agent {
namespace {

namespace fs = std::filesystem;

class TempDir {
 public:
  TempDir() {
    std::string tmpl = (fs::temp_directory_path() / "lb-agent-test-XXXXXX").string();
    path_ = ::mkdtemp(tmpl.data());
  }
  ~TempDir() {
    std::error_code ec;
    fs::remove_all(path_, ec);
  }
  const fs::path& path() const { return path_; }

 private:
  fs::path path_;
};

v1::Submission Sample() {
  v1::Submission s;
  s.set_submission_id(NewUuid());
  s.set_machine_fingerprint(Sha256Hex("m"));
  s.mutable_hardware()->mutable_device()->set_name("CPU, \"quoted\"");
  s.mutable_hardware()->mutable_device()->set_backend(v1::BACKEND_CPU);
  s.mutable_software()->set_suite_version("2026.11-cpu");
  s.mutable_software()->set_suite_hash(Sha256Hex("suite"));
  s.mutable_started_at()->set_seconds(1764000000);
  auto* sweep = s.add_sweeps();
  sweep->mutable_workload()->set_model_preset("tiny-llama");
  sweep->mutable_workload()->set_kind(v1::WORKLOAD_KIND_PREFILL);
  sweep->mutable_workload()->set_precision(v1::PRECISION_FP32);
  sweep->mutable_workload()->set_prompt_tokens(16);
  for (std::uint32_t b : {1u, 2u, 4u}) {
    auto* p = sweep->add_points();
    p->set_batch_size(b);
    p->set_status(b < 4 ? v1::POINT_STATUS_OK : v1::POINT_STATUS_OOM);
    p->set_tokens_per_second_median(100.5 * b);
    p->set_arena_peak_bytes(1000 * b);
    p->set_reproduce_command("localbench-agent run --batches " + std::to_string(b));
  }
  sweep->set_largest_ok_batch(2);
  sweep->set_smallest_failed_batch(4);
  return s;
}

TEST(AgentOutbox, PutPendingRemove) {
  TempDir dir;
  Outbox outbox(dir.path() / "outbox");
  EXPECT_TRUE(outbox.Pending().empty());
  auto a = Sample(), b = Sample();
  ASSERT_TRUE(outbox.Put(a).ok());
  ASSERT_TRUE(outbox.Put(b).ok());
  // Replacing a growing submission keeps one file per id.
  a.add_sweeps()->mutable_workload()->set_model_preset("tiny-qwen");
  ASSERT_TRUE(outbox.Put(a).ok());
  auto pending = outbox.Pending();
  ASSERT_EQ(pending.size(), 2u);
  auto back = ReadSubmissionFile(outbox.PathFor(a.submission_id()));
  ASSERT_TRUE(back.ok()) << back.status();
  EXPECT_EQ(back->sweeps_size(), 2);
  // No temporary files are left behind.
  int files = 0;
  for (const auto& e : fs::directory_iterator(outbox.dir())) {
    ++files;
    EXPECT_NE(e.path().filename().string().front(), '.');
  }
  EXPECT_EQ(files, 2);
  ASSERT_TRUE(outbox.Remove(a.submission_id()).ok());
  pending = outbox.Pending();
  ASSERT_EQ(pending.size(), 1u);
  EXPECT_EQ(pending[0].filename().string(), b.submission_id() + ".pb");
}

TEST(AgentOutbox, RejectsABadId) {
  TempDir dir;
  Outbox outbox(dir.path());
  auto s = Sample();
  s.set_submission_id("../../etc/passwd");
  EXPECT_FALSE(outbox.Put(s).ok());
}

TEST(AgentResultsFile, BinaryAndJsonRoundTrip) {
  TempDir dir;
  const auto s = Sample();
  const auto bin = dir.path() / "r.pb";
  ASSERT_TRUE(WriteSubmissionFile(bin, s).ok());
  auto back = LoadResults(bin);
  ASSERT_TRUE(back.ok()) << back.status();
  EXPECT_EQ(back->SerializeAsString(), s.SerializeAsString());

  auto json = FormatJson(s);
  ASSERT_TRUE(json.ok());
  // The protobuf JSON mapping: lowerCamelCase names, enums by name.
  EXPECT_NE(json->find("\"largestOkBatch\": 2"), std::string::npos) << *json;
  EXPECT_NE(json->find("POINT_STATUS_OOM"), std::string::npos);
  const auto jpath = dir.path() / "r.json";
  ASSERT_TRUE(WriteFileAtomically(jpath, *json).ok());
  auto from_json = LoadResults(jpath);
  ASSERT_TRUE(from_json.ok()) << from_json.status();
  EXPECT_EQ(from_json->SerializeAsString(), s.SerializeAsString());
}

TEST(AgentResultsFile, GarbageIsAClearError) {
  TempDir dir;
  const auto p = dir.path() / "bad.pb";
  ASSERT_TRUE(WriteFileAtomically(p, std::string("\xff\xff\xff garbage", 12)).ok());
  auto r = LoadResults(p);
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find("not a localbench results file"), std::string::npos) << r.status();
  ASSERT_TRUE(WriteFileAtomically(p, "{\"noSuchField\": 1}").ok());
  EXPECT_FALSE(LoadResults(p).ok());
}

TEST(AgentReport, TableAndCsv) {
  const auto s = Sample();
  const auto table = FormatTable(s);
  EXPECT_NE(table.find("tiny-llama"), std::string::npos);
  EXPECT_NE(table.find("OOM"), std::string::npos);
  EXPECT_NE(table.find("largest batch that fits: 2, smallest that failed: 4"), std::string::npos) << table;
  const auto csv = FormatCsv(s);
  // Header + 3 points; the device name with a comma and quotes is quoted.
  EXPECT_EQ(std::count(csv.begin(), csv.end(), '\n'), 4);
  EXPECT_NE(csv.find("\"CPU, \"\"quoted\"\"\""), std::string::npos) << csv;
}

TEST(AgentState, ConfigIsPrivateAndRoundTrips) {
  TempDir dir;
  const auto state = dir.path() / "state";
  EXPECT_TRUE(absl::IsNotFound(LoadConfig(state).status()));
  AgentConfig c;
  c.collector = "127.0.0.1:1234";
  c.agent_id = NewUuid();
  c.agent_token = RandomHex(32);
  c.insecure = true;
  ASSERT_TRUE(SaveConfig(state, c).ok());
  struct stat st {};
  ASSERT_EQ(::stat(ConfigPath(state).c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
  auto back = LoadConfig(state);
  ASSERT_TRUE(back.ok()) << back.status();
  EXPECT_EQ(back->collector, c.collector);
  EXPECT_EQ(back->agent_token, c.agent_token);
  EXPECT_EQ(back->agent_id, c.agent_id);
  EXPECT_TRUE(back->insecure);
  // A config others can read is refused, with the fix in the message.
  ::chmod(ConfigPath(state).c_str(), 0644);
  auto refused = LoadConfig(state);
  ASSERT_FALSE(refused.ok());
  EXPECT_NE(refused.status().message().find("chmod 600"), std::string::npos);
  // A newline in a value cannot forge a key.
  c.collector = "x:1\nagent_token=stolen";
  EXPECT_FALSE(SaveConfig(state, c).ok());
}

TEST(AgentState, StateDirPrecedence) {
  EXPECT_EQ(ResolveStateDir("/flag"), fs::path("/flag"));
  ::setenv("LOCALBENCH_AGENT_HOME", "/from-env", 1);
  EXPECT_EQ(ResolveStateDir(""), fs::path("/from-env"));
  ::unsetenv("LOCALBENCH_AGENT_HOME");
  ::setenv("XDG_STATE_HOME", "/xdg", 1);
  EXPECT_EQ(ResolveStateDir(""), fs::path("/xdg/localbench-agent"));
  ::unsetenv("XDG_STATE_HOME");
}

}  // namespace
}  // namespace localbench::agent
