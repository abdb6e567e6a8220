// Fault tests (label `fault`): the real localbench-collector and real
// localbench-agent processes under sustained ingest from several agents,
// each with an outbox of finished submissions, while something breaks:
//   - PostgreSQL stopped with an immediate shutdown (a crash) and started,
//   - the collector SIGKILLed and started again,
//   - the agent-to-collector link cut mid-upload (a loopback TCP proxy that
//     drops every open connection and refuses new ones for a while).
// In each: every submission an agent saw acknowledged (its outbox file is
// gone) is in the database, the rest are still in the outboxes and a second
// `upload` delivers them, nothing is stored twice, nothing is set aside, and
// each agent's exit code says what happened (0: outbox empty; 1: files kept).
// Agents reach the collector through the proxy in every test, so a restarted
// collector on a new port is one SetBackend away.
#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <memory>
#include <regex>
#include <set>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include <grpcpp/grpcpp.h>
#include <gtest/gtest.h>
#include <pqxx/pqxx>

#include "child_process.h"
#include "localbench/agent/cli.h"
#include "localbench/agent/outbox.h"
#include "localbench/agent/state.h"
#include "localbench/collector/postgres_cluster.h"
#include "localbench/test_support/submission_builder.h"
#include "localbench/v1/ingest.grpc.pb.h"
#include "tcp_proxy.h"

extern char** environ;

namespace localbench::test_support {
namespace {

namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;

constexpr int kAgents = 4;
constexpr int kPerAgent = 60;   // submissions in each agent's outbox
constexpr int kSweeps = 2;
constexpr int kPoints = 8;      // per sweep

// A localbench-agent process with stdout and stderr in a log file (a pipe
// nobody reads would stall it).
class AgentProcess {
 public:
  AgentProcess(const std::vector<std::string>& args, const fs::path& log) : log_(log) {
    posix_spawn_file_actions_t actions;
    posix_spawn_file_actions_init(&actions);
    posix_spawn_file_actions_addopen(&actions, STDOUT_FILENO, log.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    posix_spawn_file_actions_adddup2(&actions, STDOUT_FILENO, STDERR_FILENO);
    posix_spawn_file_actions_addopen(&actions, STDIN_FILENO, "/dev/null", O_RDONLY, 0);
    std::vector<char*> argv;
    for (const auto& a : args) argv.push_back(const_cast<char*>(a.c_str()));
    argv.push_back(nullptr);
    if (posix_spawn(&pid_, argv[0], &actions, nullptr, argv.data(), environ) != 0) pid_ = -1;
    posix_spawn_file_actions_destroy(&actions);
  }
  ~AgentProcess() {
    if (pid_ > 0) {
      kill(pid_, SIGKILL);
      (void)Wait();
    }
  }
  // Exit status, or -1 when it did not exit normally.
  int Wait() {
    int status = 0;
    while (waitpid(pid_, &status, 0) < 0 && errno == EINTR) {
    }
    pid_ = -1;
    return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  }
  // True while the process has not exited (it is not reaped here, so Wait
  // still returns its status).
  bool Running() const {
    if (pid_ <= 0) return false;
    siginfo_t info{};
    return waitid(P_PID, static_cast<id_t>(pid_), &info, WEXITED | WNOHANG | WNOWAIT) == 0 && info.si_pid == 0;
  }
  std::string Log() const {
    std::ifstream in(log_);
    std::ostringstream out;
    out << in.rdbuf();
    return out.str();
  }

 private:
  pid_t pid_ = -1;
  fs::path log_;
};

int PortOf(const std::string& address) { return std::stoi(address.substr(address.rfind(':') + 1)); }

class FaultTest : public ::testing::Test {
 protected:
  // One cluster for the binary (a durable initdb syncs for seconds), a
  // fresh database per test.
  static void SetUpTestSuite() {
    // Durable: a crash must not lose what was acknowledged, and only fsync
    // and synchronous commit make that a property of the server.
    auto cluster = collector::PostgresCluster::StartThrowaway(/*durable=*/true);
    if (cluster.ok()) {
      shared_cluster_ = std::move(*cluster);
    } else {
      std::fprintf(stderr, "PostgreSQL: %s\n", std::string(cluster.status().message()).c_str());
    }
  }
  static void TearDownTestSuite() { shared_cluster_.reset(); }

  void SetUp() override {
    ASSERT_NE(shared_cluster_, nullptr) << "the throwaway PostgreSQL cluster did not start";
    cluster_ = shared_cluster_.get();
    static int databases = 0;
    const std::string name = "fault_" + std::to_string(++databases);
    ASSERT_TRUE(cluster_->CreateDatabase(name).ok());
    url_ = cluster_->UrlFor(name);
    char tmpl[] = "/tmp/lbfault-XXXXXX";
    ASSERT_NE(mkdtemp(tmpl), nullptr);
    root_ = tmpl;
    StartCollector();
    ASSERT_FALSE(HasFatalFailure());
    proxy_ = std::make_unique<TcpProxy>(PortOf(collector_address_));

    // Agents enrolled for machines of their own, outboxes filled with
    // finished submissions (what `run` leaves when publishing).
    for (int a = 0; a < kAgents; ++a) {
      const fs::path state = root_ / ("agent" + std::to_string(a));
      v1::EnrollRequest enroll;
      enroll.set_machine_fingerprint(FingerprintFor(500 + static_cast<uint64_t>(a)));
      enroll.set_agent_version("v0.1.0-fault");
      v1::EnrollResponse enrolled;
      grpc::ClientContext ctx;
      ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(30));
      auto stub = v1::Ingest::NewStub(grpc::CreateChannel(collector_address_, grpc::InsecureChannelCredentials()));
      ASSERT_TRUE(stub->Enroll(&ctx, enroll, &enrolled).ok());
      agent::AgentConfig config;
      config.collector = proxy_->address();
      config.agent_id = enrolled.agent_id();
      config.agent_token = enrolled.agent_token();
      config.insecure = true;
      ASSERT_TRUE(agent::SaveConfig(state, config).ok());
      // Written plainly (Outbox::Put fsyncs each file: seconds per agent
      // here); the agent reads them the same.
      agent::Outbox outbox(agent::OutboxDir(state));
      fs::create_directories(outbox.dir());
      for (int i = 0; i < kPerAgent; ++i) {
        v1::Submission s = MakeSubmission(static_cast<uint64_t>(10000 * (a + 1) + i), kSweeps, kPoints);
        s.set_machine_fingerprint(FingerprintFor(500 + static_cast<uint64_t>(a)));
        std::ofstream out(outbox.PathFor(s.submission_id()), std::ios::binary);
        ASSERT_TRUE(s.SerializeToOstream(&out));
        created_.insert(s.submission_id());
      }
      states_.push_back(state);
    }
  }

  void TearDown() override {
    proxy_.reset();
    if (collector_) {
      collector_->Signal(SIGTERM);
      collector_->Wait();
    }
    std::error_code ec;
    fs::remove_all(root_, ec);
  }

  void StartCollector() {
    collector_ = std::make_unique<Child>(std::vector<std::string>{
        LOCALBENCH_COLLECTOR_BINARY, "--listen", "127.0.0.1:0", "--db", url_});
    ASSERT_TRUE(collector_->started());
    auto address = collector_->WaitForAddress();
    ASSERT_TRUE(address.has_value()) << "collector did not start";
    collector_address_ = *address;
  }

  // Starts `upload` in every agent whose outbox is not empty.
  std::vector<std::unique_ptr<AgentProcess>> StartUploads(const std::string& round) {
    std::vector<std::unique_ptr<AgentProcess>> agents;
    for (std::size_t a = 0; a < states_.size(); ++a) {
      agents.push_back(std::make_unique<AgentProcess>(
          std::vector<std::string>{LOCALBENCH_AGENT_BINARY, "upload", "--state-dir", states_[a].string()},
          root_ / ("agent" + std::to_string(a) + "-" + round + ".log")));
    }
    return agents;
  }

  // Waits for every agent; checks its exit code against its outbox: 0 means
  // everything was acknowledged, 1 that files were kept for the next upload.
  // Returns how many exited 1.
  int FinishUploads(std::vector<std::unique_ptr<AgentProcess>>& agents) {
    int kept = 0;
    for (std::size_t a = 0; a < agents.size(); ++a) {
      const int rc = agents[a]->Wait();
      const std::size_t left = Pending(states_[a]).size();
      SCOPED_TRACE("agent " + std::to_string(a) + " log:\n" + agents[a]->Log());
      if (rc == agent::kExitOk) {
        EXPECT_EQ(left, 0u) << "exit 0 with files still in the outbox";
      } else {
        EXPECT_EQ(rc, agent::kExitFailure);
        EXPECT_GT(left, 0u) << "exit 1 with an empty outbox";
        EXPECT_NE(agents[a]->Log().find("stay in"), std::string::npos) << "exit 1 without saying the files stay";
        ++kept;
      }
      EXPECT_FALSE(fs::exists(agent::RejectedDir(states_[a])) && !fs::is_empty(agent::RejectedDir(states_[a])))
          << "a submission was refused for good";
    }
    return kept;
  }

  std::set<std::string> Pending(const fs::path& state) const {
    std::set<std::string> ids;
    for (const auto& file : agent::Outbox(agent::OutboxDir(state)).Pending()) ids.insert(file.stem().string());
    return ids;
  }

  // Submission ids whose files are gone: the agent saw them acknowledged.
  std::set<std::string> Acknowledged() const {
    std::set<std::string> acked = created_;
    for (const auto& state : states_) {
      for (const auto& id : Pending(state)) acked.erase(id);
    }
    return acked;
  }

  std::set<std::string> Stored() const {
    pqxx::connection conn(url_);
    pqxx::read_transaction tx(conn);
    std::set<std::string> ids;
    for (const auto& row : tx.exec("SELECT submission_id::text FROM submissions")) ids.insert(row[0].as<std::string>());
    return ids;
  }

  int StoredCount() const {
    try {
      pqxx::connection conn(url_);
      pqxx::read_transaction tx(conn);
      return tx.exec("SELECT count(*) FROM submissions")[0][0].as<int>();
    } catch (const std::exception&) {
      return -1;
    }
  }

  // Waits (polling the database) until `n` submissions are stored; false
  // after 60 s.
  bool WaitForStored(int n) const {
    const auto deadline = Clock::now() + std::chrono::seconds(60);
    while (StoredCount() < n) {
      if (Clock::now() > deadline) return false;
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    return true;
  }

  // Like WaitForStored, but also returns (false) once every agent has exited:
  // after a cut an agent may give up for this round (files kept), and then
  // nothing more arrives until the redelivery round.
  bool WaitForStoredWhileUploading(int n, const std::vector<std::unique_ptr<AgentProcess>>& agents) const {
    const auto deadline = Clock::now() + std::chrono::seconds(60);
    while (StoredCount() < n) {
      const bool any = std::any_of(agents.begin(), agents.end(), [](const auto& a) { return a->Running(); });
      if (!any || Clock::now() > deadline) return false;
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    return true;
  }

  // After the fault: what was acknowledged is stored; a second round
  // delivers the rest; every submission is stored exactly once.
  void ExpectExactlyOnce(int kept_after_fault) {
    const std::set<std::string> acked = Acknowledged();
    const std::set<std::string> stored = Stored();
    std::size_t lost = 0;
    for (const auto& id : acked) {
      EXPECT_EQ(stored.count(id), 1u) << "acknowledged but lost: " << id;
      lost += stored.count(id) == 0 ? 1 : 0;
    }
    std::printf("fault: %zu of %zu acknowledged before redelivery, %zu of them lost; %d agent(s) exited 1 with "
                "files kept\n",
                acked.size(), created_.size(), lost, kept_after_fault);

    auto again = StartUploads("redeliver");
    EXPECT_EQ(FinishUploads(again), 0) << "redelivery did not empty every outbox";
    EXPECT_EQ(Acknowledged(), created_);
    EXPECT_EQ(Stored(), created_);

    pqxx::connection conn(url_);
    pqxx::read_transaction tx(conn);
    const int n = static_cast<int>(created_.size());
    EXPECT_EQ(tx.exec("SELECT count(*) FROM submissions")[0][0].as<int>(), n);
    EXPECT_EQ(tx.exec("SELECT count(*) FROM sweeps")[0][0].as<int>(), n * kSweeps);
    EXPECT_EQ(tx.exec("SELECT count(*) FROM points")[0][0].as<int>(), n * kSweeps * kPoints);
  }

  static inline std::unique_ptr<collector::PostgresCluster> shared_cluster_;
  collector::PostgresCluster* cluster_ = nullptr;
  std::string url_;  // this test's database
  std::unique_ptr<Child> collector_;
  std::string collector_address_;
  std::unique_ptr<TcpProxy> proxy_;
  fs::path root_;
  std::vector<fs::path> states_;
  std::set<std::string> created_;
};

constexpr int kTotal = kAgents * kPerAgent;

TEST_F(FaultTest, PostgresImmediateShutdownDuringIngest) {
  auto agents = StartUploads("first");
  ASSERT_TRUE(WaitForStored(kTotal / 6)) << "ingest did not get going";
  ASSERT_TRUE(cluster_->StopImmediately().ok());
  // Down long enough that uploads in flight fail and agents retry.
  std::this_thread::sleep_for(std::chrono::seconds(2));
  ASSERT_TRUE(cluster_->StartAgain().ok());
  const int kept = FinishUploads(agents);
  ExpectExactlyOnce(kept);
}

TEST_F(FaultTest, CollectorKilledMidLoadAndRestarted) {
  auto agents = StartUploads("first");
  ASSERT_TRUE(WaitForStored(kTotal / 6)) << "ingest did not get going";
  collector_->Signal(SIGKILL);
  collector_->Wait();
  proxy_->Cut();  // connections to the dead process are gone anyway
  proxy_->Restore();
  StartCollector();
  ASSERT_FALSE(HasFatalFailure());
  proxy_->SetBackend(PortOf(collector_address_));
  const int kept = FinishUploads(agents);
  ExpectExactlyOnce(kept);
}

TEST_F(FaultTest, LinkCutMidUpload) {
  auto agents = StartUploads("first");
  // Three cuts at different points of the load, each with the link down a
  // while, so requests are dropped before, during and after their commit.
  ASSERT_TRUE(WaitForStored(kTotal / 8)) << "ingest did not get going";
  for (int cut = 1; cut <= 3; ++cut) {
    // Later cuts only while some agent is still uploading (one that gave up
    // after an earlier cut keeps its files for the redelivery round).
    if (cut > 1 && !WaitForStoredWhileUploading(kTotal * cut / 8, agents)) break;
    proxy_->Cut();
    std::this_thread::sleep_for(std::chrono::milliseconds(700));
    proxy_->Restore();
  }
  EXPECT_GT(proxy_->connections_cut(), 0);
  std::printf("link: %d connections cut in 3 cuts\n", proxy_->connections_cut());
  const int kept = FinishUploads(agents);
  ExpectExactlyOnce(kept);
}

}  // namespace
}  // namespace localbench::test_support
