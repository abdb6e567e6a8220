// The real localbench-collector binary in embedded mode (no --db): it brings
// up its own PostgreSQL under --data-dir, accepts a Submit over loopback,
// stops on SIGTERM, and still has the data when started again, also after
// it was killed with SIGKILL (its PostgreSQL outlives it).
#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <optional>
#include <regex>
#include <string>
#include <vector>

#include <google/protobuf/util/message_differencer.h>
#include <grpcpp/grpcpp.h>
#include <gtest/gtest.h>

#include <fstream>

#include "child_process.h"
#include "localbench/collector/postgres_cluster.h"
#include "localbench/test_support/in_process_collector.h"
#include "localbench/test_support/submission_builder.h"
#include "localbench/v1/admin.grpc.pb.h"
#include "localbench/v1/ingest.grpc.pb.h"

extern char** environ;

namespace localbench::test_support {
namespace {

namespace fs = std::filesystem;

class EmbeddedCollectorTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/lbembed-XXXXXX";
    ASSERT_NE(mkdtemp(tmpl), nullptr);
    root_ = tmpl;
    chmod(root_.c_str(), 0755);  // the postgres user must reach data/ below (root runs)
    data_dir_ = root_ / "data";
  }
  void TearDown() override {
    // A failed test may leave a server running on the data directory:
    // starting (and so recovering) a cluster there stops it.
    if (fs::exists(data_dir_ / "pgdata" / "postmaster.pid")) {
      collector::PostgresClusterOptions options;
      options.data_dir = data_dir_;
      auto cluster = collector::PostgresCluster::Start(options);
      if (!cluster.ok()) ADD_FAILURE() << "cleanup: " << cluster.status();
    }
    std::error_code ec;
    fs::remove_all(root_, ec);
  }

  // PID and socket directory from the running server's postmaster.pid.
  std::pair<pid_t, fs::path> Postmaster() {
    std::ifstream in(data_dir_ / "pgdata" / "postmaster.pid");
    std::string pid, data, start, port, socket;
    std::getline(in, pid);
    std::getline(in, data);
    std::getline(in, start);
    std::getline(in, port);
    std::getline(in, socket);
    return {static_cast<pid_t>(std::atol(pid.c_str())), fs::path(socket)};
  }

  std::vector<std::string> Command(std::vector<std::string> extra = {}) {
    std::vector<std::string> args = {LOCALBENCH_COLLECTOR_BINARY, "--listen", "127.0.0.1:0", "--data-dir",
                                     data_dir_.string()};
    args.insert(args.end(), extra.begin(), extra.end());
    return args;
  }

  fs::path root_;
  fs::path data_dir_;
};

// True while `pid` runs. A process that has exited but not yet been reaped
// (a zombie: the postmaster's parent is whatever adopted it) counts as gone.
bool Alive(pid_t pid) {
  std::ifstream stat("/proc/" + std::to_string(pid) + "/stat");
  std::string text;
  if (!std::getline(stat, text)) return false;
  const auto paren = text.rfind(')');
  return paren != std::string::npos && paren + 2 < text.size() && text[paren + 2] != 'Z' &&
         text[paren + 2] != 'X';
}

absl::StatusOr<std::string> EnrollAt(const std::string& address, const v1::Submission& s) {
  auto stub = v1::Ingest::NewStub(grpc::CreateChannel(address, grpc::InsecureChannelCredentials()));
  v1::EnrollRequest enroll;
  enroll.set_machine_fingerprint(s.machine_fingerprint());
  enroll.set_agent_version("v0.1.0-test");
  v1::EnrollResponse agent;
  grpc::ClientContext ctx;
  ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(30));
  grpc::Status st = stub->Enroll(&ctx, enroll, &agent);
  if (!st.ok()) return absl::UnavailableError(st.error_message());
  return agent.agent_token();
}

grpc::Status Submit(const std::string& address, const std::string& token, const v1::Submission& s,
                    v1::SubmitResponse* response) {
  auto stub = v1::Ingest::NewStub(grpc::CreateChannel(address, grpc::InsecureChannelCredentials()));
  grpc::ClientContext ctx;
  ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(30));
  SetBearer(ctx, token);
  v1::SubmitRequest req;
  *req.mutable_submission() = s;
  return stub->Submit(&ctx, req, response);
}

TEST_F(EmbeddedCollectorTest, SubmitSurvivesRestart) {
  const v1::Submission s = MakeSubmission(77, 2);
  std::string token;
  v1::SubmitResponse first;
  {
    Child collector(Command());
    ASSERT_TRUE(collector.started());
    auto address = collector.WaitForAddress();
    ASSERT_TRUE(address.has_value()) << "collector did not report its address";
    auto stub = v1::Ingest::NewStub(grpc::CreateChannel(*address, grpc::InsecureChannelCredentials()));
    v1::EnrollRequest enroll;
    enroll.set_machine_fingerprint(s.machine_fingerprint());
    enroll.set_agent_version("v0.1.0-test");
    v1::EnrollResponse agent;
    grpc::ClientContext ctx;
    ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(30));
    const grpc::Status enrolled = stub->Enroll(&ctx, enroll, &agent);
    ASSERT_TRUE(enrolled.ok()) << enrolled.error_code() << ": " << enrolled.error_message();
    token = agent.agent_token();
    grpc::Status st = Submit(*address, token, s, &first);
    ASSERT_TRUE(st.ok()) << st.error_message();
    EXPECT_EQ(first.point_count(), 24u);
    collector.Signal(SIGTERM);
    EXPECT_EQ(collector.Wait(), 0);
  }
  EXPECT_TRUE(fs::exists(data_dir_ / "pgdata" / "PG_VERSION"));
  {
    Child collector(Command());
    auto address = collector.WaitForAddress();
    ASSERT_TRUE(address.has_value()) << "collector did not restart";
    // The agent's token is still known, and the submission is still there:
    // a repeat gets the original reply (same received_at), and another
    // payload under its id is refused.
    v1::SubmitResponse again;
    grpc::Status st = Submit(*address, token, s, &again);
    ASSERT_TRUE(st.ok()) << st.error_message();
    EXPECT_TRUE(google::protobuf::util::MessageDifferencer::Equals(first, again));
    v1::Submission other = s;
    other.mutable_software()->set_agent_version("v9");
    v1::SubmitResponse refused;
    EXPECT_EQ(Submit(*address, token, other, &refused).error_code(), grpc::StatusCode::ALREADY_EXISTS);
    collector.Signal(SIGINT);
    EXPECT_EQ(collector.Wait(), 0);
  }
}

TEST_F(EmbeddedCollectorTest, RestartsAfterSigkillWithItsData) {
  // SIGKILL (an OOM kill, a systemd stop timeout) gives the collector no
  // chance to stop its PostgreSQL, which runs on in its own process group.
  // The next start on the same directory must stop that server cleanly,
  // remove its socket directory and serve the same data.
  const v1::Submission s = MakeSubmission(78, 2);
  std::string token;
  v1::SubmitResponse first;
  pid_t old_server = 0;
  fs::path old_socket;
  {
    Child collector(Command());
    auto address = collector.WaitForAddress();
    ASSERT_TRUE(address.has_value());
    auto enrolled = EnrollAt(*address, s);
    ASSERT_TRUE(enrolled.ok()) << enrolled.status();
    token = *enrolled;
    grpc::Status st = Submit(*address, token, s, &first);
    ASSERT_TRUE(st.ok()) << st.error_message();
    std::tie(old_server, old_socket) = Postmaster();
    ASSERT_GT(old_server, 0);
    ASSERT_TRUE(fs::exists(old_socket)) << old_socket;
    collector.Signal(SIGKILL);
    EXPECT_EQ(collector.Wait(), -1);
  }
  ASSERT_TRUE(Alive(old_server)) << "PostgreSQL should outlive its SIGKILLed collector";
  {
    Child collector(Command());
    auto address = collector.WaitForAddress();
    ASSERT_TRUE(address.has_value()) << "collector did not come back after SIGKILL";
    // The orphan was stopped (not merely left beside a second server) and
    // its socket directory is gone.
    EXPECT_FALSE(Alive(old_server));
    EXPECT_FALSE(fs::exists(old_socket)) << old_socket;
    const auto [new_server, new_socket] = Postmaster();
    EXPECT_NE(new_server, old_server);
    EXPECT_NE(new_socket, old_socket);
    // Committed data survived: the same reply for a repeat, ALREADY_EXISTS
    // for another payload under its id, and new submissions are stored.
    v1::SubmitResponse again;
    grpc::Status st = Submit(*address, token, s, &again);
    ASSERT_TRUE(st.ok()) << st.error_message();
    EXPECT_TRUE(google::protobuf::util::MessageDifferencer::Equals(first, again));
    v1::Submission other = s;
    other.mutable_software()->set_agent_version("v9");
    v1::SubmitResponse refused;
    EXPECT_EQ(Submit(*address, token, other, &refused).error_code(), grpc::StatusCode::ALREADY_EXISTS);
    v1::SubmitResponse next;
    v1::Submission later = MakeSubmission(79, 1);
    later.set_machine_fingerprint(s.machine_fingerprint());  // the agent's own machine
    st = Submit(*address, token, later, &next);
    EXPECT_TRUE(st.ok()) << st.error_message();
    // And a clean stop leaves nothing running.
    collector.Signal(SIGTERM);
    EXPECT_EQ(collector.Wait(), 0);
    EXPECT_FALSE(Alive(new_server));
    EXPECT_FALSE(fs::exists(new_socket));
  }
  EXPECT_FALSE(fs::exists(data_dir_ / "pgdata" / "postmaster.pid"));
}

TEST_F(EmbeddedCollectorTest, SecondCollectorOnTheSameDirectoryIsRefused) {
  Child first(Command());
  auto address = first.WaitForAddress();
  ASSERT_TRUE(address.has_value());
  const pid_t server = Postmaster().first;
  Child second(Command());
  EXPECT_FALSE(second.WaitForAddress().has_value());
  EXPECT_EQ(second.Wait(), 1);
  // The first one's server was left alone and still serves.
  EXPECT_TRUE(Alive(server));
  EXPECT_TRUE(EnrollAt(*address, MakeSubmission(1)).ok());
  first.Signal(SIGTERM);
  EXPECT_EQ(first.Wait(), 0);
}

TEST_F(EmbeddedCollectorTest, StalePidFileOfAReusedPidIsRemoved) {
  {
    Child migrate(Command({"migrate"}));  // initialises the cluster, stops it
    ASSERT_EQ(migrate.Wait(), 0);
  }
  // The server died with the machine; its PID now belongs to another
  // program of the server's user (PostgreSQL itself refuses to start over a
  // PID it may signal; as root the server runs as postgres, so the stand-in
  // does too: setpriv execs, keeping the PID).
  Child other(geteuid() == 0 ? std::vector<std::string>{"/usr/bin/setpriv", "--reuid=postgres", "--regid=postgres",
                                                        "--clear-groups", "/bin/sleep", "600"}
                             : std::vector<std::string>{"/bin/sleep", "600"});
  ASSERT_TRUE(other.started());
  const fs::path pgdata = data_dir_ / "pgdata";
  {
    std::ofstream pid(pgdata / "postmaster.pid");
    pid << other.pid() << "\n" << pgdata.string() << "\n1700000000\n5432\n/tmp/lbpg-gone00\n\n";
  }
  Child collector(Command());
  EXPECT_TRUE(collector.WaitForAddress().has_value());
  EXPECT_TRUE(Alive(other.pid())) << "an unrelated process was signalled";
  collector.Signal(SIGTERM);
  EXPECT_EQ(collector.Wait(), 0);
}

TEST_F(EmbeddedCollectorTest, ServerOfAnotherDataDirectoryIsNeverTouched) {
  {
    Child migrate(Command({"migrate"}));
    ASSERT_EQ(migrate.Wait(), 0);
  }
  // Another cluster's postmaster.pid copied into ours: it names a live
  // server, but of another data directory.
  auto foreign = collector::PostgresCluster::StartThrowaway();
  ASSERT_TRUE(foreign.ok()) << foreign.status();
  const fs::path pgdata = data_dir_ / "pgdata";
  fs::copy_file((*foreign)->data_dir() / "pgdata" / "postmaster.pid", pgdata / "postmaster.pid");
  Child collector(Command());
  EXPECT_FALSE(collector.WaitForAddress().has_value());
  EXPECT_EQ(collector.Wait(), 1);
  EXPECT_TRUE((*foreign)->CreateDatabase("still_serving").ok());
  fs::remove(pgdata / "postmaster.pid");
}

TEST_F(EmbeddedCollectorTest, MigrateSubcommandAppliesAndExits) {
  {
    Child migrate(Command({"migrate"}));
    ASSERT_TRUE(migrate.started());
    EXPECT_EQ(migrate.Wait(), 0);
  }
  EXPECT_TRUE(fs::exists(data_dir_ / "pgdata" / "PG_VERSION"));
  Child again(Command({"migrate"}));
  EXPECT_EQ(again.Wait(), 0);
}

// `token create` on an embedded data directory: before any collector ran
// (it starts the cluster itself) and beside a running collector (whose
// cluster is locked: it connects to that cluster's socket instead).
TEST_F(EmbeddedCollectorTest, TokenCreateWorksWithAndWithoutARunningCollector) {
  const std::regex kToken("[0-9a-f]{64}");
  std::string first_token;
  {
    Child create(Command({"token", "create", "--role", "admin", "--name", "Before Start"}));
    auto line = create.ReadLine();
    ASSERT_TRUE(line.has_value());
    EXPECT_TRUE(std::regex_match(*line, kToken)) << *line;
    first_token = *line;
    EXPECT_EQ(create.Wait(), 0);
  }
  Child collector(Command());
  auto address = collector.WaitForAddress();
  ASSERT_TRUE(address.has_value());
  {
    Child create(Command({"token", "create", "--role", "editor", "--name", "While Running"}));
    auto line = create.ReadLine();
    ASSERT_TRUE(line.has_value());
    EXPECT_TRUE(std::regex_match(*line, kToken)) << *line;
    EXPECT_EQ(create.Wait(), 0);
  }
  auto admin = v1::Admin::NewStub(grpc::CreateChannel(*address, grpc::InsecureChannelCredentials()));
  grpc::ClientContext ctx;
  SetBearer(ctx, first_token);
  v1::TokenList tokens;
  grpc::Status st = admin->ListTokens(&ctx, v1::ListTokensRequest(), &tokens);
  ASSERT_TRUE(st.ok()) << st.error_message();
  ASSERT_EQ(tokens.tokens_size(), 2);
  EXPECT_EQ(tokens.tokens(0).name(), "Before Start");
  EXPECT_EQ(tokens.tokens(1).name(), "While Running");
  EXPECT_EQ(tokens.tokens(1).role(), v1::ROLE_EDITOR);
  collector.Signal(SIGTERM);
  EXPECT_EQ(collector.Wait(), 0);
}

TEST_F(EmbeddedCollectorTest, UnreachableDataDirFailsWithItsName) {
  if (geteuid() != 0) GTEST_SKIP() << "only root hands the cluster to the postgres user";
  const fs::path hidden = root_ / "private";
  fs::create_directories(hidden);
  chmod(hidden.c_str(), 0700);
  data_dir_ = hidden / "data";
  // The binary exits with status 1 (its message goes to the test's stderr) ...
  Child collector(Command());
  EXPECT_FALSE(collector.WaitForAddress().has_value());
  EXPECT_EQ(collector.Wait(), 1);
  EXPECT_FALSE(fs::exists(data_dir_));
  // ... and the message names the directory the postgres user cannot reach.
  collector::PostgresClusterOptions options;
  options.data_dir = data_dir_;
  auto cluster = collector::PostgresCluster::Start(options);
  ASSERT_FALSE(cluster.ok());
  EXPECT_EQ(cluster.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_NE(std::string(cluster.status().message()).find(hidden.string() + " has mode 0700"),
            std::string::npos)
      << cluster.status();
}

}  // namespace
}  // namespace localbench::test_support
