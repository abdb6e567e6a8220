// Limits and the verification quorum through a real collector: rate limits
// per token and per address answered RESOURCE_EXHAUSTED with the
// `retry-after-ms` hint (and honoured by the real agent client, on a clock
// the test moves instead of sleeping), and "verified" decided by distinct
// machines with a configurable quorum and tolerance.
#include <atomic>
#include <chrono>
#include <map>
#include <vector>
#include <memory>
#include <string>

#include <gtest/gtest.h>
#include <pqxx/pqxx>

#include "localbench/agent/uploader.h"
#include "localbench/collector/tables.h"
#include "localbench/test_support/in_process_collector.h"
#include "localbench/test_support/postgres_environment.h"
#include "localbench/test_support/submission_builder.h"

namespace localbench::test_support {
namespace {

using std::chrono::milliseconds;

// A steady clock the test advances; shared by the collector's limiter
// (gRPC threads) and the agent's sleeper (the test thread).
class TestClock {
 public:
  collector::RateLimiter::Clock AsClock() {
    return [this] { return std::chrono::steady_clock::time_point(milliseconds(now_ms_.load())); };
  }
  void Advance(milliseconds d) { now_ms_ += d.count(); }

 private:
  std::atomic<int64_t> now_ms_{1000000};
};

struct Answer {
  grpc::Status status;
  std::string retry_after;  // the trailing hint; empty when absent
};

class LimitsTest : public ::testing::Test {
 protected:
  void Start(collector::CollectorOptions options) {
    url_ = PostgresEnvironment::FreshDatabase();
    ASSERT_FALSE(url_.empty());
    auto c = InProcessCollector::Start(url_, std::move(options));
    ASSERT_TRUE(c.ok()) << c.status();
    collector_ = *std::move(c);
    stub_ = collector_->NewIngestStub();
  }

  Answer Submit(const std::string& token, const v1::Submission& s) {
    grpc::ClientContext ctx;
    SetBearer(ctx, token);
    ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(30));
    v1::SubmitRequest request;
    *request.mutable_submission() = s;
    v1::SubmitResponse response;
    Answer a;
    a.status = stub_->Submit(&ctx, request, &response);
    const auto& trailers = ctx.GetServerTrailingMetadata();
    if (auto it = trailers.find("retry-after-ms"); it != trailers.end()) {
      a.retry_after = std::string(it->second.data(), it->second.size());
    }
    return a;
  }

  Answer Enroll(const std::string& fingerprint) {
    grpc::ClientContext ctx;
    ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(30));
    v1::EnrollRequest request;
    request.set_machine_fingerprint(fingerprint);
    request.set_agent_version("v0.1.0-test");
    v1::EnrollResponse response;
    Answer a;
    a.status = stub_->Enroll(&ctx, request, &response);
    if (a.status.ok()) last_token_ = response.agent_token();
    const auto& trailers = ctx.GetServerTrailingMetadata();
    if (auto it = trailers.find("retry-after-ms"); it != trailers.end()) {
      a.retry_after = std::string(it->second.data(), it->second.size());
    }
    return a;
  }

  int Stored() {
    pqxx::connection conn(url_);
    pqxx::work tx(conn);
    return tx.exec1("SELECT count(*) FROM submissions")[0].as<int>();
  }

  // A submission from machine `machine` (the one its agent enrolled for).
  static v1::Submission From(uint64_t seed, uint64_t machine) {
    v1::Submission s = MakeSubmission(seed, 1, 4);
    s.set_machine_fingerprint(FingerprintFor(machine));
    return s;
  }

  std::string url_;
  std::string last_token_;
  std::unique_ptr<InProcessCollector> collector_;
  std::unique_ptr<v1::Ingest::Stub> stub_;
};

collector::CollectorOptions NoLimits() {
  collector::CollectorOptions o;
  o.ingest_limits.submit_per_token = {0, 1};
  o.ingest_limits.submit_per_address = {0, 1};
  o.ingest_limits.enroll_per_address = {0, 1};
  return o;
}

TEST_F(LimitsTest, PerTokenLimitRefusesWithHintAndStoresNothing) {
  TestClock clock;
  collector::CollectorOptions o = NoLimits();
  o.ingest_limits.submit_per_token = {0.5, 2};  // burst 2, then one every 2 s
  o.ingest_limits.clock = clock.AsClock();
  Start(o);
  ASSERT_TRUE(Enroll(FingerprintFor(1)).status.ok());
  const std::string first = last_token_;
  ASSERT_TRUE(Enroll(FingerprintFor(2)).status.ok());
  const std::string second = last_token_;

  EXPECT_TRUE(Submit(first, From(1, 1)).status.ok());
  EXPECT_TRUE(Submit(first, From(2, 1)).status.ok());
  Answer limited = Submit(first, From(3, 1));
  EXPECT_EQ(limited.status.error_code(), grpc::StatusCode::RESOURCE_EXHAUSTED);
  EXPECT_NE(limited.status.error_message().find("agent token"), std::string::npos) << limited.status.error_message();
  EXPECT_EQ(limited.retry_after, "2000");
  EXPECT_EQ(Stored(), 2);
  // Another token has its own bucket.
  EXPECT_TRUE(Submit(second, From(4, 2)).status.ok());
  // 1.5 s later: still 500 ms to go; 0.5 s more: through.
  clock.Advance(milliseconds(1500));
  EXPECT_EQ(Submit(first, From(3, 1)).retry_after, "500");
  clock.Advance(milliseconds(500));
  EXPECT_TRUE(Submit(first, From(3, 1)).status.ok());
  EXPECT_EQ(Stored(), 4);
}

TEST_F(LimitsTest, PerAddressLimitSpansTokens) {
  TestClock clock;
  collector::CollectorOptions o = NoLimits();
  o.ingest_limits.submit_per_address = {1, 3};
  o.ingest_limits.clock = clock.AsClock();
  Start(o);
  ASSERT_TRUE(Enroll(FingerprintFor(1)).status.ok());
  const std::string first = last_token_;
  ASSERT_TRUE(Enroll(FingerprintFor(2)).status.ok());
  const std::string second = last_token_;
  EXPECT_TRUE(Submit(first, From(1, 1)).status.ok());
  EXPECT_TRUE(Submit(second, From(2, 2)).status.ok());
  EXPECT_TRUE(Submit(first, From(3, 1)).status.ok());
  Answer limited = Submit(second, From(4, 2));
  EXPECT_EQ(limited.status.error_code(), grpc::StatusCode::RESOURCE_EXHAUSTED);
  EXPECT_NE(limited.status.error_message().find("address"), std::string::npos);
  EXPECT_EQ(limited.retry_after, "1000");
  // A bad token is limited by its address too, before any database work.
  EXPECT_EQ(Submit("not-a-token", From(5, 1)).status.error_code(), grpc::StatusCode::RESOURCE_EXHAUSTED);
  EXPECT_EQ(Stored(), 3);
}

TEST_F(LimitsTest, EnrollPerAddress) {
  TestClock clock;
  collector::CollectorOptions o = NoLimits();
  o.ingest_limits.enroll_per_address = {0.1, 2};
  o.ingest_limits.clock = clock.AsClock();
  Start(o);
  EXPECT_TRUE(Enroll(FingerprintFor(1)).status.ok());
  EXPECT_TRUE(Enroll(FingerprintFor(2)).status.ok());
  Answer limited = Enroll(FingerprintFor(3));
  EXPECT_EQ(limited.status.error_code(), grpc::StatusCode::RESOURCE_EXHAUSTED);
  EXPECT_EQ(limited.retry_after, "10000");
  clock.Advance(milliseconds(10000));
  EXPECT_TRUE(Enroll(FingerprintFor(3)).status.ok());
}

// The real agent client waits out the hint (its sleeper moves the clock the
// collector's limiter reads) and gets through, once, without a real sleep.
TEST_F(LimitsTest, AgentHonoursTheHint) {
  TestClock clock;
  collector::CollectorOptions o = NoLimits();
  o.ingest_limits.submit_per_token = {0.25, 1};  // one every 4 s
  o.ingest_limits.clock = clock.AsClock();
  Start(o);
  ASSERT_TRUE(Enroll(FingerprintFor(1)).status.ok());
  std::vector<milliseconds> slept;
  agent::RetryPolicy policy;
  policy.jitter = 0;
  agent::IngestClient client(collector_->NewChannel(), last_token_, policy,
                             [&](milliseconds d) {
                               slept.push_back(d);
                               clock.Advance(d);
                             },
                             1);
  ASSERT_TRUE(client.Submit(From(1, 1)).ok());
  EXPECT_TRUE(slept.empty());
  auto second = client.Submit(From(2, 1));
  ASSERT_TRUE(second.ok()) << second.status();
  ASSERT_EQ(slept.size(), 1u);
  EXPECT_EQ(slept[0], milliseconds(4000));
  EXPECT_EQ(Stored(), 2);
}

TEST_F(LimitsTest, InvalidLimitsRefuseToStart) {
  collector::CollectorOptions o = NoLimits();
  o.ingest_limits.submit_per_token = {1, 0};
  auto c = InProcessCollector::Start(PostgresEnvironment::FreshDatabase(), o);
  ASSERT_FALSE(c.ok());
  EXPECT_NE(c.status().message().find("submit_per_token"), std::string::npos) << c.status();
  collector::CollectorOptions q = NoLimits();
  q.verify.quorum = 1;
  auto d = InProcessCollector::Start(PostgresEnvironment::FreshDatabase(), q);
  ASSERT_FALSE(d.ok());
  EXPECT_NE(d.status().message().find("verify.quorum"), std::string::npos) << d.status();
}

// Verified cells: distinct machines, never one alone, quorum and tolerance
// as configured; the label says which.
class QuorumTest : public LimitsTest {
 protected:
  void StartWith(collector::VerifyRule rule) {
    tokens_.clear();
    collector::CollectorOptions o = NoLimits();
    o.verify = rule;
    Start(o);
  }
  // Stores MakeSubmission(seed) from `machine` at `speed` x the builder's speed.
  void Store(uint64_t seed, uint64_t machine, double speed = 1.0) {
    v1::Submission s = From(seed, machine);
    for (auto& p : *s.mutable_sweeps(0)->mutable_points()) {
      if (p.status() != v1::POINT_STATUS_OK) continue;
      p.set_tokens_per_second_median(p.tokens_per_second_median() * speed);
      p.set_tokens_per_second_min(p.tokens_per_second_min() * speed);
      p.set_tokens_per_second_max(p.tokens_per_second_max() * speed);
      p.set_step_seconds_median(p.step_seconds_median() / speed);
      p.set_step_seconds_min(p.step_seconds_min() / speed);
      p.set_step_seconds_max(p.step_seconds_max() / speed);
      p.set_step_seconds_mean(p.step_seconds_mean() / speed);
    }
    auto it = tokens_.find(machine);
    if (it == tokens_.end()) {
      ASSERT_TRUE(Enroll(FingerprintFor(machine)).status.ok());
      it = tokens_.emplace(machine, last_token_).first;
    }
    const Answer a = Submit(it->second, s);
    ASSERT_TRUE(a.status.ok()) << a.status.error_message();
  }
  // Support of the decode cell at batch 4 on the 4090, from the batch curve.
  v1::Support Cell() {
    v1::BatchCurveRequest request;
    request.set_device_model("rtx-4090-24gb");
    request.mutable_workload()->set_model_preset("llama-3.2-1b");
    request.mutable_workload()->set_kind(v1::WORKLOAD_KIND_DECODE);
    auto curve = collector_->server().tables().GetBatchCurve(request);
    EXPECT_TRUE(curve.ok()) << curve.status();
    if (curve.ok()) {
      for (const auto& p : curve->points()) {
        if (p.batch_size() == 4) return p.support();
      }
    }
    ADD_FAILURE() << "no batch 4 cell";
    return {};
  }
  std::map<uint64_t, std::string> tokens_;
};

TEST_F(QuorumTest, OneMachineNeverVerifiesAlone) {
  StartWith({});
  for (uint64_t i = 0; i < 10; ++i) Store(10 + i, 1);  // ten runs, one machine
  const v1::Support s = Cell();
  EXPECT_EQ(s.machine_count(), 1u);
  EXPECT_EQ(s.submission_count(), 10u);
  EXPECT_FALSE(s.verified());
  EXPECT_EQ(s.label(), "1 machine, not yet verified");
}

TEST_F(QuorumTest, ThreeAgreeingMachinesVerify) {
  StartWith({});
  Store(1, 1);
  Store(2, 2);
  EXPECT_EQ(Cell().label(), "2 machines, not yet verified");
  Store(3, 3, 1.05);
  const v1::Support s = Cell();
  EXPECT_TRUE(s.verified());
  EXPECT_EQ(s.label(), "verified");
}

TEST_F(QuorumTest, DisagreementBeyondToleranceDoesNotVerify) {
  StartWith({});
  Store(1, 1, 1.0);
  Store(2, 2, 1.1);
  Store(3, 3, 1.2);
  // p25 = 1.05x, p75 = 1.15x (each +-3% jitter): within 25%.
  EXPECT_TRUE(Cell().verified());
  Store(4, 4, 2.5);
  // p25 = 1.075x, p75 = 1.525x: 42% apart, not agreed.
  const v1::Support s = Cell();
  EXPECT_FALSE(s.verified());
  EXPECT_EQ(s.label(), "4 machines, not yet verified");
}

TEST_F(QuorumTest, QuorumIsConfigurable) {
  StartWith({/*quorum=*/4, /*tolerance=*/0.25});
  Store(1, 1);
  Store(2, 2);
  Store(3, 3);
  EXPECT_FALSE(Cell().verified()) << "three machines are below a quorum of 4";
  EXPECT_EQ(Cell().label(), "3 machines, not yet verified");
  Store(4, 4);
  EXPECT_TRUE(Cell().verified());
}

TEST_F(QuorumTest, ToleranceIsConfigurable) {
  // The same three machines, p25 = 1.15x and p75 = 1.45x (each +-3%): 26%
  // apart, beyond 10% and within 50%.
  for (double tolerance : {0.10, 0.50}) {
    StartWith({/*quorum=*/3, tolerance});
    Store(1, 1, 1.0);
    Store(2, 2, 1.3);
    Store(3, 3, 1.6);
    EXPECT_EQ(Cell().verified(), tolerance == 0.50) << tolerance;
  }
}

}  // namespace
}  // namespace localbench::test_support
