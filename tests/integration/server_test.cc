// The collector's serving behaviour over real loopback gRPC against a real
// PostgreSQL: authentication header handling, requests that protobuf itself
// refuses, the bounded request queue, deadlines of queued calls, and
// graceful shutdown of calls still waiting.
#include <atomic>
#include <chrono>
#include <future>
#include <string>
#include <thread>
#include <vector>

#include <gtest/gtest.h>
#include <pqxx/pqxx>

#include "localbench/test_support/in_process_collector.h"
#include "localbench/test_support/postgres_environment.h"
#include "localbench/test_support/submission_builder.h"

namespace localbench::test_support {
namespace {

struct Reply {
  grpc::Status status;
  v1::SubmitResponse response;
  std::string retry_after_ms;  // trailing metadata `retry-after-ms`, when sent
};

// Blocks the collector's workers until released, so tests control exactly
// what waits in the queue (no sleeps: the queue is observed directly).
class Gate {
 public:
  // Occupies every one of `workers` workers with a job that waits here.
  void Close(collector::WorkQueue& queue, int workers) {
    for (int i = 0; i < workers; ++i) {
      ASSERT_TRUE(queue.TryPush([f = opened_] { f.wait(); }));
    }
    // Each worker has taken its job once nothing is left waiting.
    WaitFor([&] { return queue.queued() == 0; });
  }
  void Open() { open_.set_value(); }

  // Polls `condition` (state the test cannot be notified of, such as the
  // gRPC server's queue) until it holds; fails the test after 30 s.
  static void WaitFor(const std::function<bool()>& condition) {
    const auto give_up = std::chrono::steady_clock::now() + std::chrono::seconds(30);
    while (!condition()) {
      ASSERT_LT(std::chrono::steady_clock::now(), give_up) << "condition never held";
      std::this_thread::yield();
    }
  }

 private:
  std::promise<void> open_;
  std::shared_future<void> opened_ = open_.get_future().share();
};

class ServerTest : public ::testing::Test {
 protected:
  void StartCollector(collector::CollectorOptions options = {}) {
    url_ = PostgresEnvironment::FreshDatabase();
    ASSERT_FALSE(url_.empty());
    auto c = InProcessCollector::Start(url_, options);
    ASSERT_TRUE(c.ok()) << c.status();
    collector_ = *std::move(c);
    auto agent = collector_->Enroll();
    ASSERT_TRUE(agent.ok()) << agent.status();
    token_ = agent->agent_token();
  }

  Reply Submit(const v1::Submission& s, const std::string& authorization,
               std::chrono::milliseconds deadline = std::chrono::seconds(30)) {
    auto stub = collector_->NewIngestStub();
    grpc::ClientContext ctx;
    ctx.set_deadline(std::chrono::system_clock::now() + deadline);
    if (!authorization.empty()) ctx.AddMetadata("authorization", authorization);
    v1::SubmitRequest req;
    *req.mutable_submission() = s;
    // From the machine the test's agent enrolled for (Enroll's default).
    req.mutable_submission()->set_machine_fingerprint(FingerprintFor(1));
    Reply r;
    r.status = stub->Submit(&ctx, req, &r.response);
    const auto& trailers = ctx.GetServerTrailingMetadata();
    if (auto it = trailers.find("retry-after-ms"); it != trailers.end()) {
      r.retry_after_ms.assign(it->second.data(), it->second.size());
    }
    return r;
  }
  Reply Submit(const v1::Submission& s) { return Submit(s, "Bearer " + token_); }

  int64_t Count(const std::string& table) {
    pqxx::connection conn(url_);
    pqxx::read_transaction tx(conn);
    return tx.exec("SELECT count(*) FROM " + tx.quote_name(table))[0][0].as<int64_t>();
  }

  std::string url_;
  std::unique_ptr<InProcessCollector> collector_;
  std::string token_;
};

TEST_F(ServerTest, BearerSchemeIsCaseInsensitive) {
  StartCollector();
  uint64_t seed = 1;
  for (const std::string scheme : {"Bearer", "bearer", "BEARER", "bEaReR"}) {
    Reply r = Submit(MakeSubmission(++seed), scheme + " " + token_);
    EXPECT_TRUE(r.status.ok()) << scheme << ": " << r.status.error_message();
  }
  EXPECT_EQ(Count("submissions"), 4);
}

TEST_F(ServerTest, SentTokenThatFailsIsInvalidNotMissing) {
  StartCollector();
  const v1::Submission s = MakeSubmission(3);
  const std::vector<std::string> sent = {"Bearer " + std::string(64, '0'), "Bearer ", "Bearer",
                                         "Basic " + token_, token_, "Bearer " + token_ + " extra"};
  for (const std::string& auth : sent) {
    Reply r = Submit(s, auth);
    EXPECT_EQ(r.status.error_code(), grpc::StatusCode::UNAUTHENTICATED) << auth;
    EXPECT_EQ(r.status.error_message().rfind("invalid token", 0), 0u) << auth << ": " << r.status.error_message();
  }
  Reply none = Submit(s, "");
  EXPECT_EQ(none.status.error_code(), grpc::StatusCode::UNAUTHENTICATED);
  EXPECT_EQ(none.status.error_message().rfind("missing", 0), 0u) << none.status.error_message();
  EXPECT_EQ(Count("submissions"), 0);
}

TEST_F(ServerTest, InvalidUtf8IsInvalidArgumentNamingTheField) {
  // protobuf refuses to parse a proto3 string holding invalid UTF-8; the
  // answer must still name the field (it used to be INTERNAL, no message).
  StartCollector();
  v1::Submission s = MakeSubmission(4, 3);
  s.mutable_sweeps(2)->mutable_points(11)->set_error_message("cudaMalloc \xc3\x28 failed");
  Reply r = Submit(s);
  EXPECT_EQ(r.status.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_EQ(r.status.error_message(), "submission.sweeps[2].points[11].error_message: must be valid UTF-8");

  v1::Submission name = MakeSubmission(5);
  name.mutable_hardware()->mutable_device()->set_name("RTX \xff 4090");
  r = Submit(name);
  EXPECT_EQ(r.status.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_EQ(r.status.error_message(), "submission.hardware.device.name: must be valid UTF-8");
  EXPECT_EQ(Count("submissions"), 0);

  // Enroll is parsed the same way.
  v1::EnrollRequest enroll;
  enroll.set_machine_fingerprint(FingerprintFor(1));
  enroll.set_agent_version("v1 \xed\xa0\x80");  // a UTF-16 surrogate
  v1::EnrollResponse agent;
  grpc::ClientContext ctx;
  grpc::Status st = collector_->NewIngestStub()->Enroll(&ctx, enroll, &agent);
  EXPECT_EQ(st.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_EQ(st.error_message(), "agent_version: must be valid UTF-8");
}

TEST_F(ServerTest, FullQueueIsRefusedAndDrainsAfterwards) {
  collector::CollectorOptions options;
  options.db_connections = 1;
  options.queue_depth = 2;
  StartCollector(options);
  collector::WorkQueue& queue = collector_->server().work_queue();
  Gate gate;
  gate.Close(queue, 1);
  // Two calls fit in the queue and wait; the third finds it full.
  std::vector<std::future<Reply>> waiting;
  for (uint64_t i = 0; i < 2; ++i) {
    waiting.push_back(std::async(std::launch::async, [this, i] { return Submit(MakeSubmission(10 + i)); }));
  }
  Gate::WaitFor([&] { return queue.queued() == 2; });
  Reply refused = Submit(MakeSubmission(12));
  EXPECT_EQ(refused.status.error_code(), grpc::StatusCode::RESOURCE_EXHAUSTED);
  EXPECT_NE(refused.status.error_message().find("queued"), std::string::npos) << refused.status.error_message();
  // The hint is what makes agents retry instead of setting the result aside.
  EXPECT_EQ(refused.retry_after_ms, "1000");
  gate.Open();
  for (auto& w : waiting) {
    Reply r = w.get();
    EXPECT_TRUE(r.status.ok()) << r.status.error_message();
  }
  EXPECT_TRUE(Submit(MakeSubmission(12)).status.ok());
  EXPECT_EQ(Count("submissions"), 3);
}

TEST_F(ServerTest, CallWhoseClientLeftWhileQueuedIsNotStored) {
  collector::CollectorOptions options;
  options.db_connections = 1;
  StartCollector(options);
  collector::WorkQueue& queue = collector_->server().work_queue();
  Gate gate;
  gate.Close(queue, 1);
  // Its deadline passes while it waits behind the blocked worker.
  auto late = std::async(std::launch::async, [this] {
    return Submit(MakeSubmission(20), "Bearer " + token_, std::chrono::seconds(2));
  });
  Gate::WaitFor([&] { return queue.queued() == 1; });
  EXPECT_EQ(late.get().status.error_code(), grpc::StatusCode::DEADLINE_EXCEEDED);
  ASSERT_EQ(queue.queued(), 1u);
  gate.Open();
  // One worker, first in first out: once this reply arrives, the expired
  // call has been handled too.
  EXPECT_TRUE(Submit(MakeSubmission(21)).status.ok());
  EXPECT_EQ(Count("submissions"), 1);
  pqxx::connection conn(url_);
  pqxx::read_transaction tx(conn);
  EXPECT_EQ(tx.exec_params("SELECT count(*) FROM submissions WHERE submission_id = $1::uuid",
                           MakeSubmission(20).submission_id())[0][0]
                .as<int>(),
            0);
}

TEST_F(ServerTest, GracefulShutdownFinishesQueuedSubmits) {
  // Submits that are waiting when Shutdown starts are served in full (the
  // old version of this test also passed when every submit was refused).
  collector::CollectorOptions options;
  options.db_connections = 1;
  StartCollector(options);
  collector::WorkQueue& queue = collector_->server().work_queue();
  Gate gate;
  gate.Close(queue, 1);
  constexpr int kClients = 4;
  std::vector<std::future<Reply>> replies;
  for (int i = 0; i < kClients; ++i) {
    replies.push_back(std::async(std::launch::async, [this, i] {
      return Submit(MakeSubmission(100 + static_cast<uint64_t>(i), 4));
    }));
  }
  Gate::WaitFor([&] { return queue.queued() == kClients; });
  std::thread shutdown([this] { collector_->server().Shutdown(std::chrono::seconds(30)); });
  // Shutdown has begun once the server takes no new connections.
  const std::string address = collector_->address();
  Gate::WaitFor([&] {
    auto channel = grpc::CreateChannel(address, grpc::InsecureChannelCredentials());
    return !channel->WaitForConnected(std::chrono::system_clock::now() + std::chrono::milliseconds(200));
  });
  gate.Open();
  shutdown.join();
  for (auto& f : replies) {
    Reply r = f.get();
    EXPECT_TRUE(r.status.ok()) << r.status.error_message();
    EXPECT_EQ(r.response.point_count(), 48u);
  }
  EXPECT_EQ(Count("submissions"), kClients);
  EXPECT_EQ(Count("points"), kClients * 4 * 12);
}

}  // namespace
}  // namespace localbench::test_support
