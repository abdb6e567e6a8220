// The real binaries end to end: localbench-collector (gRPC and HTTP) on a
// real PostgreSQL, its `token create` for the first admin, agents' results
// sent over Ingest, and every `localbench` command in table, JSON and CSV,
// with the documented exit codes.
#include <httplib.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/stat.h>

#include <filesystem>
#include <functional>
#include <fstream>
#include <regex>
#include <string>
#include <vector>

#include <google/protobuf/util/json_util.h>
#include <gtest/gtest.h>

#include "absl/strings/str_split.h"

#include "../integration/child_process.h"
#include "../integration/tables_fixture.h"
#include "localbench/v1/admin.pb.h"
#include "localbench/v1/ingest.grpc.pb.h"
#include "localbench/v1/query.pb.h"

LOCALBENCH_USE_THROWAWAY_POSTGRES();

namespace localbench::test_support {
namespace {

struct Output {
  int code = -1;
  std::string out;
};

// Runs `args` and collects stdout and the exit status.
Output RunProgram(const std::vector<std::string>& args) {
  Child child(args);
  Output o;
  while (auto line = child.ReadLine()) o.out += *line + "\n";
  o.code = child.Wait();
  return o;
}

template <typename M>
bool ParsesAs(const std::string& json, M* m) {
  return google::protobuf::util::JsonStringToMessage(json, m).ok();
}

class CliTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    // Hermetic: no config file of the user running the tests is read.
    setenv("XDG_CONFIG_HOME", "/nonexistent/localbench-cli-test", 1);
    db_ = PostgresEnvironment::FreshDatabase();
    ASSERT_FALSE(db_.empty());
    // The first admin token comes from the server side, straight into the database.
    Output admin = RunProgram({LOCALBENCH_COLLECTOR_BINARY, "--db", db_, "token", "create", "--role", "admin",
                               "--name", "First Admin"});
    ASSERT_EQ(admin.code, 0);
    ASSERT_TRUE(std::regex_match(admin.out, std::regex("[0-9a-f]{64}\n"))) << admin.out;
    admin_token_ = admin.out.substr(0, 64);
    collector_ = new Child({LOCALBENCH_COLLECTOR_BINARY, "--db", db_, "--listen", "127.0.0.1:0", "--http-listen",
                            "127.0.0.1:0"});
    auto grpc_address = collector_->WaitForAddress();
    ASSERT_TRUE(grpc_address.has_value());
    address_ = *grpc_address;
    auto http_line = collector_->ReadLine();
    ASSERT_TRUE(http_line.has_value());
    http_port_ = std::stoi(http_line->substr(http_line->rfind(':') + 1));

    // Two machines' results over Ingest, as agents send them; the second
    // twice as fast, so hiding or restoring it moves a cell past 10%.
    auto channel = grpc::CreateChannel(address_, grpc::InsecureChannelCredentials());
    auto ingest = v1::Ingest::NewStub(channel);
    for (uint64_t machine : {1, 2}) {
      const v1::Submission s = Build(machine, machine, Variant{.speed = static_cast<double>(machine)});
      v1::EnrollRequest enroll;
      enroll.set_machine_fingerprint(s.machine_fingerprint());
      enroll.set_agent_version("v0.1.0-test");
      v1::EnrollResponse enrolled;
      grpc::ClientContext c1;
      ASSERT_TRUE(ingest->Enroll(&c1, enroll, &enrolled).ok());
      if (machine == 1) agent_token_ = enrolled.agent_token();
      v1::SubmitRequest req;
      *req.mutable_submission() = s;
      v1::SubmitResponse resp;
      grpc::ClientContext c2;
      c2.AddMetadata("authorization", "Bearer " + enrolled.agent_token());
      ASSERT_TRUE(ingest->Submit(&c2, req, &resp).ok());
      submissions_.push_back(s.submission_id());
    }
  }

  static void TearDownTestSuite() {
    if (collector_ != nullptr) {
      collector_->Signal(SIGTERM);
      collector_->Wait();
      delete collector_;
      collector_ = nullptr;
    }
  }

  // `localbench --collector ADDRESS --insecure ARGS...` (token from the
  // environment when set).
  static Output Cli(std::vector<std::string> args) {
    args.insert(args.begin(), {LOCALBENCH_CLI_BINARY, "--collector", address_, "--insecure"});
    return RunProgram(args);
  }

  static Output CliAs(const std::string& token, std::vector<std::string> args) {
    args.insert(args.begin(), {"--token", token});
    return Cli(std::move(args));
  }

  static std::string db_, address_, admin_token_, agent_token_;
  static int http_port_;
  static Child* collector_;
  static std::vector<std::string> submissions_;
};

std::string CliTest::db_, CliTest::address_, CliTest::admin_token_, CliTest::agent_token_;
int CliTest::http_port_ = 0;
Child* CliTest::collector_ = nullptr;
std::vector<std::string> CliTest::submissions_;

// One read command in the three formats: a table with `header`, JSON of
// type M, CSV whose header holds `csv_column` (and `min_rows` data rows).
template <typename M>
void ExpectThreeFormats(const std::vector<std::string>& args, const std::string& header, const std::string& csv_column,
                        int min_rows, const std::function<Output(std::vector<std::string>)>& run) {
  SCOPED_TRACE(args.front() + (args.size() > 1 ? " " + args[1] : ""));
  Output table = run(args);
  ASSERT_EQ(table.code, 0) << table.out;
  EXPECT_NE(table.out.find(header), std::string::npos) << table.out;
  EXPECT_EQ(table.out.find('\x1b'), std::string::npos) << "no colour without a terminal";
  std::vector<std::string> json_args = args;
  json_args.push_back("--json");
  Output json = run(json_args);
  ASSERT_EQ(json.code, 0) << json.out;
  M parsed;
  EXPECT_TRUE(ParsesAs(json.out, &parsed)) << json.out;
  std::vector<std::string> csv_args = args;
  csv_args.push_back("--csv");
  Output csv = run(csv_args);
  ASSERT_EQ(csv.code, 0) << csv.out;
  const std::string first_line = csv.out.substr(0, csv.out.find('\n'));
  EXPECT_NE(first_line.find(csv_column), std::string::npos) << csv.out;
  int lines = 0;
  for (char ch : csv.out) lines += ch == '\n';
  EXPECT_GE(lines - 1, min_rows) << csv.out;
}

TEST_F(CliTest, ReadCommandsInTableJsonAndCsvWithoutAToken) {
  auto run = [](std::vector<std::string> a) { return Cli(std::move(a)); };
  ExpectThreeFormats<v1::OomTable>({"tables", "oom"}, "LARGEST OK", "largest_ok_batch.median", 4, run);
  ExpectThreeFormats<v1::BatchCurve>(
      {"tables", "curve", "--device-model", "rtx-4090-24gb", "--preset", "llama-3.2-1b", "--kind", "decode"},
      "TOKENS/S", "tokens_per_second.median", 3, run);
  ExpectThreeFormats<v1::HardwareComparison>({"tables", "compare", "--preset", "llama-3.2-1b", "--kind", "decode"},
                                             "RELATIVE", "relative_tokens_per_second", 1, run);
  ExpectThreeFormats<v1::StackDeltaTable>(
      {"tables", "stack", "--device-model", "rtx-4090-24gb", "--preset", "llama-3.2-1b", "--kind", "decode"},
      "DRIVER", "driver_version", 1, run);
  ExpectThreeFormats<v1::WillItRunAnswer>(
      {"will-it-run", "--device-model", "rtx-4090-24gb", "--preset", "llama-3.2-1b", "--kind", "decode"}, "FIT",
      "fit", 1, run);
  ExpectThreeFormats<v1::GetSubmissionResponse>({"submission", "show", submissions_[0]}, "RETRACTED", "flagged", 1,
                                                run);
  ExpectThreeFormats<v1::ChangeList>({"changes"}, "REASON", "reason", 0, run);
  ExpectThreeFormats<v1::VerdictList>({"verdict", "list"}, "STALE", "stale", 0, run);
  // --as-of everywhere on reads: version 1 held only the first submission.
  Output v1_only = Cli({"tables", "oom", "--as-of", "1", "--json"});
  ASSERT_EQ(v1_only.code, 0);
  v1::OomTable at1;
  ASSERT_TRUE(ParsesAs(v1_only.out, &at1));
  EXPECT_EQ(at1.version().data_version(), 1);
  ASSERT_FALSE(at1.rows().empty());
  EXPECT_EQ(at1.rows(0).support().machine_count(), 1u);
}

TEST_F(CliTest, TrainingFlagsNarrowTablesAndShowInColumns) {
  // Both machines ran training at the pre-2027.01 defaults: checkpointing off.
  Output off = Cli({"tables", "oom", "--kind", "train_lora", "--gradient-checkpointing", "off", "--json"});
  ASSERT_EQ(off.code, 0) << off.out;
  v1::OomTable rows;
  ASSERT_TRUE(ParsesAs(off.out, &rows)) << off.out;
  ASSERT_EQ(rows.rows_size(), 1);
  EXPECT_TRUE(rows.rows(0).workload().has_gradient_checkpointing());
  EXPECT_FALSE(rows.rows(0).workload().gradient_checkpointing());
  Output on = Cli({"tables", "oom", "--gradient-checkpointing", "on", "--json"});
  ASSERT_EQ(on.code, 0);
  v1::OomTable none;
  ASSERT_TRUE(ParsesAs(on.out, &none)) << on.out;
  EXPECT_EQ(none.rows_size(), 0);
  // The terminal table names the dimensions; inference rows leave them empty.
  Output table = Cli({"tables", "oom", "--preset", "llama-3.2-1b"});
  ASSERT_EQ(table.code, 0);
  EXPECT_NE(table.out.find("CKPT"), std::string::npos) << table.out;
  EXPECT_NE(table.out.find("ACCUM"), std::string::npos) << table.out;
  int lora_lines = 0;
  for (absl::string_view line : absl::StrSplit(table.out, '\n')) {
    if (line.find("train_lora") == absl::string_view::npos) continue;
    ++lora_lines;
    EXPECT_NE(line.find("false"), absl::string_view::npos) << line;
  }
  EXPECT_EQ(lora_lines, 1) << table.out;
  // Bad values: exit 2 (the collector's INVALID_ARGUMENT, or the flag's check).
  EXPECT_EQ(Cli({"tables", "oom", "--accumulation-steps", "0"}).code, 2);
  Output maybe = Cli({"tables", "curve", "--device-model", "rtx-4090-24gb", "--preset", "llama-3.2-1b", "--kind",
                      "train_lora", "--gradient-checkpointing", "maybe"});
  EXPECT_EQ(maybe.code, 2);
}

TEST_F(CliTest, EditorsModerateWriteVerdictsAndManageTokensInEveryFormat) {
  // An editor token, issued by the admin through the CLI (JSON to read it).
  Output created = CliAs(admin_token_, {"token", "create", "--role", "editor", "--name", "Eve Editor", "--json"});
  ASSERT_EQ(created.code, 0) << created.out;
  v1::CreateTokenResponse editor;
  ASSERT_TRUE(ParsesAs(created.out, &editor));
  ASSERT_EQ(editor.token().size(), 64u);
  // The token from the environment from here on.
  setenv("LOCALBENCH_TOKEN", editor.token().c_str(), 1);
  const std::string& id = submissions_[1];
  for (const char* format : {"", "--json", "--csv"}) {
    SCOPED_TRACE(format);
    for (const char* action : {"flag", "restore", "retract", "restore"}) {
      std::vector<std::string> args = {action, id, "--reason", std::string("e2e ") + action};
      if (*format) args.push_back(format);
      Output o = Cli(args);
      ASSERT_EQ(o.code, 0) << action << ": " << o.out;
      if (std::string(format) == "--json") {
        v1::ModerationResponse r;
        EXPECT_TRUE(ParsesAs(o.out, &r)) << o.out;
        EXPECT_EQ(r.retracted(), std::string(action) == "retract");
      } else if (std::string(format) == "--csv") {
        EXPECT_EQ(o.out.rfind("submission_id,flagged,retracted,data_version", 0), 0u) << o.out;
      } else {
        EXPECT_NE(o.out.find("RETRACTED"), std::string::npos) << o.out;
      }
    }
  }
  auto run = [](std::vector<std::string> a) { return Cli(std::move(a)); };
  ExpectThreeFormats<v1::AuditEventList>({"audit", "--submission", id}, "ACTOR", "actor", 12, run);
  Output audit = Cli({"audit", "--submission", id});
  EXPECT_NE(audit.out.find("Eve Editor"), std::string::npos) << audit.out;
  // A retracted submission is out of the tables; the change log says why.
  ASSERT_EQ(Cli({"retract", id, "--reason", "final: bad driver"}).code, 0);
  Output oom = Cli({"tables", "oom", "--json"});
  v1::OomTable table;
  ASSERT_TRUE(ParsesAs(oom.out, &table));
  ASSERT_FALSE(table.rows().empty());
  EXPECT_EQ(table.rows(0).support().machine_count(), 1u);
  Output changes = Cli({"changes", "--submission", id});
  EXPECT_NE(changes.out.find("final: bad driver"), std::string::npos) << changes.out;
  EXPECT_EQ(changes.out.find("Eve Editor"), std::string::npos) << "the public log names no editor";

  // Verdicts: put (three formats), show, confirm, list --stale.
  std::vector<std::string> verdict_ids;
  for (const char* format : {"--json", "", "--csv"}) {
    std::vector<std::string> args = {"verdict", "put", "--device-model", "rtx-4090-24gb", "--preset", "llama-3.2-1b",
                                     "--kind", "decode", "--text", "Fast enough for chat."};
    if (*format) args.push_back(format);
    Output put = Cli(args);
    ASSERT_EQ(put.code, 0) << put.out;
    if (std::string(format) == "--json") {
      v1::Verdict v;
      ASSERT_TRUE(ParsesAs(put.out, &v));
      EXPECT_FALSE(v.stale());
      verdict_ids.push_back(v.verdict_id());
    } else if (std::string(format) == "--csv") {
      EXPECT_EQ(put.out.rfind("verdict_id,device_model,", 0), 0u) << put.out;
    } else {
      EXPECT_NE(put.out.find("Fast enough for chat."), std::string::npos) << put.out;
    }
  }
  ASSERT_EQ(verdict_ids.size(), 1u);
  ExpectThreeFormats<v1::Verdict>({"verdict", "show", verdict_ids[0]}, "TOKENS/S THEN", "tokens_per_second_then", 1,
                                  run);
  ExpectThreeFormats<v1::Verdict>({"verdict", "confirm", verdict_ids[0]}, "STALE", "verdict_id", 1, run);
  // Restoring the second machine moves the cited cell: stale, listed with --stale.
  ASSERT_EQ(Cli({"restore", id, "--reason", "driver fixed"}).code, 0);
  Output stale = Cli({"verdict", "list", "--stale", "--json"});
  v1::VerdictList list;
  ASSERT_TRUE(ParsesAs(stale.out, &list)) << stale.out;
  ASSERT_EQ(list.verdicts_size(), 3);
  EXPECT_TRUE(list.verdicts(0).stale());
  EXPECT_EQ(Cli({"verdict", "show", verdict_ids[0], "--stale"}).code, 0);
  // ... and the verdicts travel with the tables, over HTTP too.
  httplib::Client http("127.0.0.1", http_port_);
  auto r = http.Get("/v1/verdicts?device_model=rtx-4090-24gb");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 200);
  v1::VerdictList over_http;
  EXPECT_TRUE(ParsesAs(r->body, &over_http)) << r->body;
  EXPECT_EQ(over_http.verdicts_size(), 3);
  Output curve = Cli({"tables", "curve", "--device-model", "rtx-4090-24gb", "--preset", "llama-3.2-1b", "--kind",
                      "decode"});
  EXPECT_NE(curve.out.find("[STALE: "), std::string::npos) << curve.out;

  // Tokens: the admin lists, creates and revokes in every format.
  unsetenv("LOCALBENCH_TOKEN");
  auto as_admin = [](std::vector<std::string> a) { return CliAs(admin_token_, std::move(a)); };
  ExpectThreeFormats<v1::TokenList>({"token", "list"}, "ROLE", "role", 2, as_admin);
  Output table_token = CliAs(admin_token_, {"token", "create", "--role", "editor", "--name", "T"});
  EXPECT_EQ(table_token.code, 0);
  Output csv_token = CliAs(admin_token_, {"token", "create", "--role", "admin", "--name", "C", "--csv"});
  EXPECT_EQ(csv_token.out.rfind("token_id,token", 0), 0u) << csv_token.out;
  const std::string csv_token_id = csv_token.out.substr(csv_token.out.find('\n') + 1, 36);
  Output table_revoke = CliAs(admin_token_, {"token", "revoke", csv_token_id});
  EXPECT_EQ(table_revoke.code, 0) << table_revoke.out;
  EXPECT_NE(table_revoke.out.find("true"), std::string::npos) << table_revoke.out;
  Output revoked = CliAs(admin_token_, {"token", "revoke", editor.token_id(), "--json"});
  ASSERT_EQ(revoked.code, 0);
  v1::RevokeTokenResponse rr;
  ASSERT_TRUE(ParsesAs(revoked.out, &rr));
  EXPECT_TRUE(rr.revoked());
  EXPECT_EQ(CliAs(admin_token_, {"token", "revoke", editor.token_id(), "--csv"}).out, "revoked\r\nfalse\r\n");
  // The revoked editor is refused on the next call.
  EXPECT_EQ(CliAs(editor.token(), {"flag", id, "--reason", "x"}).code, 4);
}

TEST_F(CliTest, ExitCodesNameWhatToFix) {
  EXPECT_EQ(Cli({"flag", submissions_[0], "--reason", "no token"}).code, 4);
  EXPECT_EQ(CliAs(agent_token_, {"flag", submissions_[0], "--reason", "agent"}).code, 4);
  Output editor_create = CliAs(admin_token_, {"token", "create", "--role", "editor", "--name", "Ed", "--json"});
  v1::CreateTokenResponse editor;
  ASSERT_TRUE(ParsesAs(editor_create.out, &editor));
  EXPECT_EQ(CliAs(editor.token(), {"token", "list"}).code, 4) << "editors may not manage tokens";
  EXPECT_EQ(CliAs(editor.token(), {"flag", UuidFor(4242), "--reason", "missing"}).code, 3);
  EXPECT_EQ(Cli({"submission", "show", UuidFor(4242)}).code, 3);
  EXPECT_EQ(Cli({"tables", "curve", "--device-model", "rtx-4090-24gb", "--preset", "p", "--kind", "nonsense"}).code, 2);
  EXPECT_EQ(Cli({"tables", "oom", "--as-of", "999999"}).code, 2);
  EXPECT_EQ(CliAs(editor.token(), {"flag", submissions_[0], "--reason", "r", "--as-of", "1"}).code, 2);
  EXPECT_EQ(RunProgram({LOCALBENCH_CLI_BINARY, "tables", "oom", "--config", "/nonexistent/cli.conf"}).code, 2);
  // Unreachable collector: exit 1.
  EXPECT_EQ(RunProgram({LOCALBENCH_CLI_BINARY, "--collector", "127.0.0.1:1", "--insecure", "--timeout", "2",
                        "tables", "oom"})
                .code,
            1);

  // The config file: refused while others can read it, used at mode 0600.
  const std::filesystem::path dir = std::filesystem::temp_directory_path() / ("lbcli-" + std::to_string(getpid()));
  std::filesystem::create_directories(dir);
  const std::string conf = (dir / "cli.conf").string();
  {
    std::ofstream f(conf);
    f << "# editors' CLI\ncollector = " << address_ << "\ninsecure = true\ntoken = " << editor.token() << "\n";
  }
  chmod(conf.c_str(), 0644);
  EXPECT_EQ(RunProgram({LOCALBENCH_CLI_BINARY, "--config", conf, "audit"}).code, 2);
  chmod(conf.c_str(), 0600);
  Output from_file = RunProgram({LOCALBENCH_CLI_BINARY, "--config", conf, "audit", "--json"});
  EXPECT_EQ(from_file.code, 0) << from_file.out;
  std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace localbench::test_support
