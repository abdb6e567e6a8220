// Identity and data versions at the ingest boundary, over real gRPC against
// a real PostgreSQL (issue 8, items 5 and the version flaw): a submission is
// bound to the machine its agent enrolled for, idempotency is scoped to the
// agent that stored an id, UUIDs are compared in canonical (lower-case) form,
// and the data version advances exactly once per transaction that stores
// new public data.
#include <algorithm>
#include <cctype>
#include <string>

#include <google/protobuf/util/message_differencer.h>
#include <gtest/gtest.h>
#include <pqxx/pqxx>

#include "localbench/test_support/in_process_collector.h"
#include "localbench/test_support/postgres_environment.h"
#include "localbench/test_support/submission_builder.h"

namespace localbench::test_support {
namespace {

using google::protobuf::util::MessageDifferencer;

struct Agent {
  std::string id;
  std::string token;
  std::string fingerprint;
};

struct Reply {
  grpc::Status status;
  v1::SubmitResponse response;
};

class IdentityTest : public ::testing::Test {
 protected:
  void SetUp() override {
    url_ = PostgresEnvironment::FreshDatabase();
    ASSERT_FALSE(url_.empty());
    auto c = InProcessCollector::Start(url_);
    ASSERT_TRUE(c.ok()) << c.status();
    collector_ = *std::move(c);
    conn_ = std::make_unique<pqxx::connection>(url_);
  }

  // Enrols an agent for the machine of builder seed `machine_seed`.
  Agent EnrollFor(uint64_t machine_seed) {
    Agent a;
    a.fingerprint = FingerprintFor(machine_seed);
    auto r = collector_->Enroll(a.fingerprint);
    EXPECT_TRUE(r.ok()) << r.status();
    if (r.ok()) {
      a.id = r->agent_id();
      a.token = r->agent_token();
    }
    return a;
  }

  Reply Submit(const Agent& agent, const v1::Submission& s) {
    auto stub = collector_->NewIngestStub();
    grpc::ClientContext ctx;
    ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(30));
    SetBearer(ctx, agent.token);
    v1::SubmitRequest req;
    *req.mutable_submission() = s;
    Reply r;
    r.status = stub->Submit(&ctx, req, &r.response);
    return r;
  }

  int64_t Scalar(const std::string& sql) {
    pqxx::read_transaction tx(*conn_);
    return tx.exec1(sql)[0].as<int64_t>();
  }
  int64_t Version() { return Scalar("SELECT version FROM data_version_counter"); }

  std::string url_;
  std::unique_ptr<InProcessCollector> collector_;
  std::unique_ptr<pqxx::connection> conn_;
};

TEST_F(IdentityTest, SubmissionForAnotherMachineIsPermissionDenied) {
  const Agent a = EnrollFor(1);
  const v1::Submission s = MakeSubmission(50);  // the builder's machine for seed 50, not seed 1
  ASSERT_NE(s.machine_fingerprint(), a.fingerprint);
  Reply r = Submit(a, s);
  EXPECT_EQ(r.status.error_code(), grpc::StatusCode::PERMISSION_DENIED) << r.status.error_message();
  EXPECT_NE(r.status.error_message().find("machine_fingerprint"), std::string::npos) << r.status.error_message();
  EXPECT_EQ(Scalar("SELECT count(*) FROM submissions"), 0);
  EXPECT_EQ(Scalar("SELECT count(*) FROM machines"), 0);
  EXPECT_EQ(Version(), 0);
}

TEST_F(IdentityTest, AnotherAgentResendingAnIdLearnsNothing) {
  const Agent a = EnrollFor(1);
  const Agent b = EnrollFor(1);  // a second installation on the same machine
  v1::Submission s = MakeSubmission(51);
  s.set_machine_fingerprint(a.fingerprint);
  Reply first = Submit(a, s);
  ASSERT_TRUE(first.status.ok()) << first.status.error_message();
  // b replays a's exact bytes: no reply of a's, no received_at, no counts.
  Reply replay = Submit(b, s);
  EXPECT_EQ(replay.status.error_code(), grpc::StatusCode::ALREADY_EXISTS) << replay.status.error_message();
  EXPECT_FALSE(replay.response.has_received_at());
  // b probing the id with other content gets the very same answer, so the
  // two cannot be told apart.
  v1::Submission probe = s;
  probe.mutable_software()->set_agent_version("v9.9.9");
  Reply probed = Submit(b, probe);
  EXPECT_EQ(probed.status.error_code(), grpc::StatusCode::ALREADY_EXISTS);
  EXPECT_EQ(probed.status.error_message(), replay.status.error_message());
  // a itself still gets its first reply.
  Reply again = Submit(a, s);
  ASSERT_TRUE(again.status.ok()) << again.status.error_message();
  EXPECT_TRUE(MessageDifferencer::Equals(again.response, first.response));
  pqxx::read_transaction tx(*conn_);
  EXPECT_EQ(tx.exec1("SELECT count(*) FROM submissions")[0].as<int>(), 1);
  EXPECT_EQ(tx.exec1("SELECT agent_id::text FROM submissions")[0].as<std::string>(), a.id);
}

TEST_F(IdentityTest, UpperCaseUuidIsTheSameSubmission) {
  const Agent a = EnrollFor(1);
  v1::Submission lower = MakeSubmission(52);
  lower.set_machine_fingerprint(a.fingerprint);
  v1::Submission upper = lower;
  std::string id = lower.submission_id();
  std::transform(id.begin(), id.end(), id.begin(), [](unsigned char c) { return std::toupper(c); });
  ASSERT_NE(id, lower.submission_id());
  upper.set_submission_id(id);

  Reply first = Submit(a, upper);
  ASSERT_TRUE(first.status.ok()) << first.status.error_message();
  EXPECT_EQ(first.response.submission_id(), lower.submission_id()) << "replies name the canonical id";
  Reply again = Submit(a, lower);
  ASSERT_TRUE(again.status.ok()) << again.status.error_message();
  EXPECT_TRUE(MessageDifferencer::Equals(again.response, first.response));
  EXPECT_EQ(Scalar("SELECT count(*) FROM submissions"), 1);
  // The stored payload carries the canonical id, so re-processing it agrees.
  pqxx::read_transaction tx(*conn_);
  const pqxx::binarystring payload(tx.exec1("SELECT payload FROM submissions")[0]);
  v1::Submission stored;
  ASSERT_TRUE(stored.ParseFromString(payload.str()));
  EXPECT_EQ(stored.submission_id(), lower.submission_id());
}

TEST_F(IdentityTest, DataVersionAdvancesOnlyForNewData) {
  const Agent a = EnrollFor(1);
  const Agent b = EnrollFor(1);
  v1::Submission s = MakeSubmission(53);
  s.set_machine_fingerprint(a.fingerprint);
  ASSERT_EQ(Version(), 0);
  ASSERT_TRUE(Submit(a, s).status.ok());
  EXPECT_EQ(Version(), 1);
  EXPECT_EQ(Scalar("SELECT data_version FROM submissions"), 1);
  // A repeat, a conflicting repeat, another agent's replay, a refusal: no
  // new public data, so no new version.
  ASSERT_TRUE(Submit(a, s).status.ok());
  v1::Submission conflicting = s;
  conflicting.mutable_software()->set_agent_version("v0.2.0");
  EXPECT_EQ(Submit(a, conflicting).status.error_code(), grpc::StatusCode::ALREADY_EXISTS);
  EXPECT_EQ(Submit(b, s).status.error_code(), grpc::StatusCode::ALREADY_EXISTS);
  EXPECT_EQ(Submit(a, MakeSubmission(54)).status.error_code(), grpc::StatusCode::PERMISSION_DENIED);
  EXPECT_EQ(Version(), 1);
  EXPECT_EQ(Scalar("SELECT count(*) FROM data_versions"), 1);
  // The next new submission gets the next version.
  v1::Submission next = MakeSubmission(55);
  next.set_machine_fingerprint(a.fingerprint);
  ASSERT_TRUE(Submit(a, next).status.ok());
  EXPECT_EQ(Version(), 2);
  EXPECT_EQ(Scalar("SELECT max(version) FROM data_versions"), 2);
  EXPECT_EQ(Scalar("SELECT count(*) FROM data_versions WHERE cause = 'ingest'"), 2);
}

TEST_F(IdentityTest, UnknownTelemetryIsNullAndZeroStaysZero) {
  const Agent a = EnrollFor(1);
  v1::Submission s = MakeSubmission(56);
  s.set_machine_fingerprint(a.fingerprint);
  v1::Point* unknown = s.mutable_sweeps(0)->mutable_points(0);
  unknown->clear_device_delta_bytes();
  unknown->clear_process_memory_bytes();
  unknown->clear_sm_clock_mhz();
  unknown->clear_throttle_reasons();
  v1::Point* zero = s.mutable_sweeps(0)->mutable_points(1);
  zero->set_device_delta_bytes(0);
  zero->set_process_memory_bytes(0);
  zero->set_sm_clock_mhz(0);
  zero->set_throttle_reasons(0);
  ASSERT_TRUE(Submit(a, s).status.ok());
  pqxx::read_transaction tx(*conn_);
  pqxx::result r = tx.exec(
      "SELECT batch_size, device_delta_bytes IS NULL, process_memory_bytes IS NULL, sm_clock_mhz IS NULL, "
      "throttle_reasons IS NULL, coalesce(device_delta_bytes + process_memory_bytes + sm_clock_mhz + "
      "throttle_reasons, -1) FROM points ORDER BY batch_size LIMIT 3");
  ASSERT_EQ(r.size(), 3u);
  for (int col = 1; col <= 4; ++col) EXPECT_TRUE(r[0][col].as<bool>()) << "column " << col;
  for (int col = 1; col <= 4; ++col) EXPECT_FALSE(r[1][col].as<bool>()) << "column " << col;
  EXPECT_EQ(r[1][5].as<int64_t>(), 0);
  // A point the builder filled keeps its figures.
  EXPECT_FALSE(r[2][1].as<bool>());
  EXPECT_FALSE(r[2][3].as<bool>());
}

}  // namespace
}  // namespace localbench::test_support
