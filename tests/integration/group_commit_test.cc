// The write path under concurrency (issue 8, item 9): many clients at once,
// the same ids sent by several of them and inside one group, a group the
// database refuses in part; every caller gets a correct answer (never
// INTERNAL) and exactly one copy of each submission is stored.
#include <barrier>
#include <cmath>
#include <limits>
#include <map>
#include <string>
#include <thread>
#include <vector>

#include <google/protobuf/util/message_differencer.h>
#include <gtest/gtest.h>
#include <pqxx/pqxx>

#include "localbench/collector/store.h"
#include "localbench/test_support/in_process_collector.h"
#include "localbench/test_support/postgres_environment.h"
#include "localbench/test_support/submission_builder.h"

namespace localbench::test_support {
namespace {

using google::protobuf::util::MessageDifferencer;

class GroupCommitTest : public ::testing::Test {
 protected:
  void SetUp() override {
    url_ = PostgresEnvironment::FreshDatabase();
    ASSERT_FALSE(url_.empty());
    collector::CollectorOptions options;
    options.group_commit_writers = 2;
    auto c = InProcessCollector::Start(url_, options);
    ASSERT_TRUE(c.ok()) << c.status();
    collector_ = *std::move(c);
    auto agent = collector_->Enroll(FingerprintFor(1));
    ASSERT_TRUE(agent.ok()) << agent.status();
    token_ = agent->agent_token();
    identity_ = collector::AgentIdentity{agent->agent_id(), FingerprintFor(1)};
    conn_ = std::make_unique<pqxx::connection>(url_);
  }

  // MakeSubmission from the fixture agent's machine.
  static v1::Submission Mine(uint64_t seed) {
    v1::Submission s = MakeSubmission(seed);
    s.set_machine_fingerprint(FingerprintFor(1));
    return s;
  }

  int64_t Count(const std::string& sql) {
    pqxx::read_transaction tx(*conn_);
    return tx.exec1(sql)[0].as<int64_t>();
  }

  std::string url_;
  std::unique_ptr<InProcessCollector> collector_;
  std::string token_;
  collector::AgentIdentity identity_;
  std::unique_ptr<pqxx::connection> conn_;
};

TEST_F(GroupCommitTest, TwinInARefusedGroupGetsTheFirstReply) {
  // The group's shared write fails (the NaN breaks a CHECK); the members
  // then go one by one. The twin of a good one must get that one's reply,
  // not an INTERNAL "not written".
  const v1::Submission known = Mine(600);
  ASSERT_TRUE(collector_->server().store().SubmitMany(identity_, {known})[0].ok());  // machine, device known
  v1::Submission bad = Mine(602);
  bad.mutable_sweeps(0)->mutable_points(2)->set_tokens_per_second_median(std::nan(""));
  const v1::Submission good = Mine(601);
  const std::vector<v1::Submission> group = {good, bad, good, Mine(603)};
  const auto results = collector_->server().store().SubmitMany(identity_, group);
  ASSERT_EQ(results.size(), 4u);
  ASSERT_TRUE(results[0].ok()) << results[0].status();
  EXPECT_EQ(results[1].status().code(), absl::StatusCode::kInvalidArgument) << results[1].status();
  ASSERT_TRUE(results[2].ok()) << results[2].status();
  EXPECT_TRUE(MessageDifferencer::Equals(*results[2], *results[0]));
  EXPECT_TRUE(results[3].ok()) << results[3].status();
  EXPECT_EQ(Count("SELECT count(*) FROM submissions"), 3);
  EXPECT_EQ(Count("SELECT count(*) FROM points"), 3 * 12);
}

TEST_F(GroupCommitTest, ManyClientsWithRepeatedIdsStoreEachOnce) {
  // 16 clients, 10 submissions each, drawn from 40 distinct ids: every id
  // is sent by 4 clients at about the same time, so twins meet inside one
  // group and across concurrent groups. One id is also sent with other
  // content by one client: that one must get ALREADY_EXISTS or be the one
  // stored, and all others agree with whatever was stored.
  constexpr int kClients = 16;
  constexpr int kEach = 10;
  constexpr int kDistinct = 40;
  std::vector<v1::Submission> distinct;
  for (int i = 0; i < kDistinct; ++i) distinct.push_back(Mine(700 + static_cast<uint64_t>(i)));
  v1::Submission variant = distinct[5];
  variant.mutable_software()->set_agent_version("v0.9.9");
  struct Sent {
    int id_index;
    bool is_variant;
    grpc::Status status;
    v1::SubmitResponse response;
  };
  std::vector<std::vector<Sent>> sent(kClients);
  std::barrier start(kClients);
  std::vector<std::thread> threads;
  for (int t = 0; t < kClients; ++t) {
    threads.emplace_back([&, t] {
      auto stub = collector_->NewIngestStub();
      start.arrive_and_wait();
      for (int k = 0; k < kEach; ++k) {
        const int index = (t * kEach + k) % kDistinct;
        const bool is_variant = t == 3 && index == 5;
        grpc::ClientContext ctx;
        ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(60));
        SetBearer(ctx, token_);
        v1::SubmitRequest req;
        *req.mutable_submission() = is_variant ? variant : distinct[static_cast<std::size_t>(index)];
        Sent s{index, is_variant, {}, {}};
        s.status = stub->Submit(&ctx, req, &s.response);
        sent[static_cast<std::size_t>(t)].push_back(std::move(s));
      }
    });
  }
  for (auto& th : threads) th.join();

  // Which content won each id: read the stored payload hash back.
  pqxx::read_transaction tx(*conn_);
  std::map<std::string, std::string> stored_agent_version;
  for (const auto& row : tx.exec("SELECT submission_id::text, payload FROM submissions")) {
    v1::Submission s;
    ASSERT_TRUE(s.ParseFromString(pqxx::binarystring(row[1]).str()));
    stored_agent_version[row[0].as<std::string>()] = s.software().agent_version();
  }
  ASSERT_EQ(stored_agent_version.size(), static_cast<std::size_t>(kDistinct));
  std::map<int, v1::SubmitResponse> reply_of;
  for (const auto& per_client : sent) {
    for (const Sent& s : per_client) {
      const v1::Submission& what = s.is_variant ? variant : distinct[static_cast<std::size_t>(s.id_index)];
      const bool won = stored_agent_version[what.submission_id()] == what.software().agent_version();
      if (!won) {
        EXPECT_EQ(s.status.error_code(), grpc::StatusCode::ALREADY_EXISTS) << s.status.error_message();
        continue;
      }
      ASSERT_TRUE(s.status.ok()) << s.status.error_code() << " " << s.status.error_message();
      auto [it, inserted] = reply_of.emplace(s.id_index, s.response);
      if (!inserted) {
        EXPECT_TRUE(MessageDifferencer::Equals(it->second, s.response)) << "id " << s.id_index;
      }
    }
  }
  EXPECT_EQ(tx.exec1("SELECT count(*) FROM points")[0].as<int64_t>(), kDistinct * 12);
  EXPECT_EQ(tx.exec1("SELECT count(*) FROM sweeps")[0].as<int64_t>(), kDistinct);
  // Each stored submission names a data version that exists, and no version
  // was spent on nothing.
  EXPECT_EQ(tx.exec1("SELECT count(*) FROM submissions s LEFT JOIN data_versions v ON v.version = "
                     "s.data_version WHERE v.version IS NULL")[0]
                .as<int64_t>(),
            0);
  EXPECT_EQ(tx.exec1("SELECT count(*) FROM data_versions v WHERE NOT EXISTS (SELECT 1 FROM submissions s "
                     "WHERE s.data_version = v.version)")[0]
                .as<int64_t>(),
            0);
}

}  // namespace
}  // namespace localbench::test_support
