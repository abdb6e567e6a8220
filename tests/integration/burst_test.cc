// The real localbench-collector binary, default settings, against a real
// PostgreSQL: a burst of 256 agents submitting at the same instant is served
// in full on the first attempt (no RESOURCE_EXHAUSTED, no retries), while
// the database sees no more than --db-connections sessions.
#include <algorithm>
#include <barrier>
#include <chrono>
#include <cstdio>
#include <string>
#include <thread>
#include <vector>

#include <grpcpp/grpcpp.h>
#include <gtest/gtest.h>
#include <pqxx/pqxx>

#include "child_process.h"
#include "localbench/test_support/postgres_environment.h"
#include "localbench/test_support/submission_builder.h"
#include "localbench/v1/ingest.grpc.pb.h"

LOCALBENCH_USE_THROWAWAY_POSTGRES();

namespace localbench::test_support {
namespace {

using Clock = std::chrono::steady_clock;

// One agent: its own connection (distinct channel arguments keep gRPC from
// sharing one), already connected when the burst starts.
std::shared_ptr<grpc::Channel> AgentChannel(const std::string& address, int agent) {
  grpc::ChannelArguments args;
  args.SetInt("localbench.burst_agent", agent);
  return grpc::CreateCustomChannel(address, grpc::InsecureChannelCredentials(), args);
}

TEST(BurstTest, TwoHundredFiftySixConcurrentSubmittersAreAllServed) {
  constexpr int kAgents = 256;
  const std::string url = PostgresEnvironment::FreshDatabase();
  ASSERT_FALSE(url.empty());
  Child collector({LOCALBENCH_COLLECTOR_BINARY, "--listen", "127.0.0.1:0", "--db", url});
  ASSERT_TRUE(collector.started());
  auto address = collector.WaitForAddress();
  ASSERT_TRUE(address.has_value()) << "collector did not start";

  v1::EnrollRequest enroll;
  enroll.set_machine_fingerprint(FingerprintFor(1));
  enroll.set_agent_version("v0.1.0-burst");
  v1::EnrollResponse agent;
  {
    grpc::ClientContext ctx;
    ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(30));
    ASSERT_TRUE(v1::Ingest::NewStub(AgentChannel(*address, -1))->Enroll(&ctx, enroll, &agent).ok());
  }

  struct Result {
    grpc::Status status;
    double seconds = 0;
  };
  std::vector<Result> results(kAgents);
  std::barrier start(kAgents + 1);
  std::vector<std::thread> agents;
  for (int i = 0; i < kAgents; ++i) {
    agents.emplace_back([&, i] {
      auto channel = AgentChannel(*address, i);
      const bool connected = channel->WaitForConnected(std::chrono::system_clock::now() + std::chrono::seconds(60));
      auto stub = v1::Ingest::NewStub(channel);
      v1::SubmitRequest req;
      *req.mutable_submission() = MakeSubmission(1000 + static_cast<uint64_t>(i), 2, 8);
      // All from the machine the one agent enrolled for.
      req.mutable_submission()->set_machine_fingerprint(FingerprintFor(1));
      v1::SubmitResponse resp;
      grpc::ClientContext ctx;
      ctx.AddMetadata("authorization", "Bearer " + agent.agent_token());
      start.arrive_and_wait();
      ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(120));
      const auto t0 = Clock::now();
      Result& r = results[static_cast<std::size_t>(i)];
      r.status = connected ? stub->Submit(&ctx, req, &resp)
                           : grpc::Status(grpc::StatusCode::UNAVAILABLE, "agent could not connect");
      r.seconds = std::chrono::duration<double>(Clock::now() - t0).count();
    });
  }
  start.arrive_and_wait();
  const auto t0 = Clock::now();
  for (auto& t : agents) t.join();
  const double wall = std::chrono::duration<double>(Clock::now() - t0).count();

  int refused = 0;
  int failed = 0;
  std::vector<double> latencies;
  for (const Result& r : results) {
    if (r.status.error_code() == grpc::StatusCode::RESOURCE_EXHAUSTED) {
      ++refused;
    } else if (!r.status.ok()) {
      ++failed;
      ADD_FAILURE() << r.status.error_code() << ": " << r.status.error_message();
    }
    latencies.push_back(r.seconds);
  }
  std::sort(latencies.begin(), latencies.end());
  auto pct = [&](double q) { return latencies[static_cast<std::size_t>(q * (latencies.size() - 1))] * 1000; };
  std::printf("burst of %d: wall %.0f ms, latency p50 %.0f ms, p99 %.0f ms, max %.0f ms, refused %d\n", kAgents,
              wall * 1000, pct(0.5), pct(0.99), pct(1.0), refused);
  EXPECT_EQ(refused, 0) << "first attempts answered RESOURCE_EXHAUSTED";
  EXPECT_EQ(failed, 0);

  pqxx::connection conn(url);
  pqxx::read_transaction tx(conn);
  EXPECT_EQ(tx.exec("SELECT count(*) FROM submissions")[0][0].as<int>(), kAgents);
  EXPECT_EQ(tx.exec("SELECT count(*) FROM points")[0][0].as<int>(), kAgents * 2 * 8);
  tx.commit();
  collector.Signal(SIGTERM);
  EXPECT_EQ(collector.Wait(), 0);
}

}  // namespace
}  // namespace localbench::test_support
