// The real localbench-collector binary in embedded mode (no --db): it brings
// up its own PostgreSQL under --data-dir, accepts a Submit over loopback,
// stops on SIGTERM, and still has the data when started again.
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

#include "localbench/collector/postgres_cluster.h"
#include "localbench/test_support/in_process_collector.h"
#include "localbench/test_support/submission_builder.h"
#include "localbench/v1/ingest.grpc.pb.h"

extern char** environ;

namespace localbench::test_support {
namespace {

namespace fs = std::filesystem;

// A child process with its stdout on a pipe; stderr passes through to the
// test's log.
class Child {
 public:
  explicit Child(const std::vector<std::string>& args) {
    int fds[2];
    if (pipe2(fds, O_CLOEXEC) != 0) return;
    posix_spawn_file_actions_t actions;
    posix_spawn_file_actions_init(&actions);
    posix_spawn_file_actions_adddup2(&actions, fds[1], STDOUT_FILENO);
    std::vector<char*> argv;
    for (const auto& a : args) argv.push_back(const_cast<char*>(a.c_str()));
    argv.push_back(nullptr);
    if (posix_spawn(&pid_, argv[0], &actions, nullptr, argv.data(), environ) != 0) pid_ = -1;
    posix_spawn_file_actions_destroy(&actions);
    close(fds[1]);
    out_ = fds[0];
  }
  ~Child() {
    if (pid_ > 0) {
      kill(pid_, SIGKILL);
      Wait();
    }
    if (out_ >= 0) close(out_);
  }

  // Reads stdout up to the next newline; nullopt at end of file.
  std::optional<std::string> ReadLine() {
    std::string line;
    char c = 0;
    for (;;) {
      const ssize_t n = read(out_, &c, 1);
      if (n == 1) {
        if (c == '\n') return line;
        line.push_back(c);
      } else if (n == 0 || errno != EINTR) {
        return line.empty() ? std::nullopt : std::optional<std::string>(line);
      }
    }
  }

  // The address from "localbench-collector: listening on HOST:PORT (...)".
  std::optional<std::string> WaitForAddress() {
    static const std::regex kListening(R"(^localbench-collector: listening on (\S+) \((plaintext|tls)\)$)");
    while (auto line = ReadLine()) {
      std::smatch m;
      if (std::regex_match(*line, m, kListening)) return m[1].str();
    }
    return std::nullopt;
  }

  void Signal(int sig) { kill(pid_, sig); }

  // Exit status, or -1 when it did not exit normally.
  int Wait() {
    int status = 0;
    while (waitpid(pid_, &status, 0) < 0 && errno == EINTR) {
    }
    pid_ = -1;
    return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  }

  bool started() const { return pid_ > 0; }

 private:
  pid_t pid_ = -1;
  int out_ = -1;
};

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
    std::error_code ec;
    fs::remove_all(root_, ec);
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
    ASSERT_TRUE(stub->Enroll(&ctx, enroll, &agent).ok());
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
