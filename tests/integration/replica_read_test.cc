// The read split of the scale-out layout (docs/DEPLOY.md): a collector with a
// read URL writes to the primary and serves its tables from a real streaming
// replica of it, on this machine.
#include <httplib.h>

#include <memory>
#include <string>

#include <google/protobuf/util/json_util.h>
#include <gtest/gtest.h>
#include <pqxx/pqxx>

#include "localbench/collector/postgres_cluster.h"
#include "localbench/test_support/in_process_collector.h"
#include "localbench/test_support/submission_builder.h"
#include "localbench/v1/query.pb.h"

namespace localbench::test_support {
namespace {

using collector::PostgresCluster;

// An OOM table answered as JSON (the protobuf JSON mapping).
v1::OomTable ParseOom(const std::string& json) {
  v1::OomTable table;
  EXPECT_TRUE(google::protobuf::util::JsonStringToMessage(json, &table).ok()) << json;
  return table;
}

// An HTTP GET against the collector's API; status and body.
httplib::Result Get(const std::string& address, const std::string& path) {
  httplib::Client client("http://" + address);
  client.set_read_timeout(30, 0);
  return client.Get(path.c_str());
}

TEST(ReplicaReadTest, TablesAreServedFromTheStreamingReplica) {
  auto primary = PostgresCluster::StartThrowaway();
  ASSERT_TRUE(primary.ok()) << primary.status();
  auto replica = PostgresCluster::StartThrowawayReplica(**primary);
  ASSERT_TRUE(replica.ok()) << replica.status();
  {
    pqxx::connection conn((*replica)->url());
    pqxx::nontransaction tx(conn);
    ASSERT_TRUE(tx.exec("SELECT pg_is_in_recovery()")[0][0].as<bool>()) << "not a standby";
  }
  {
    // Synchronisation without sleeps: a commit on the primary returns only
    // once the replica has applied it.
    pqxx::connection conn((*primary)->url());
    pqxx::nontransaction tx(conn);
    tx.exec("ALTER SYSTEM SET synchronous_standby_names = '*'");
    tx.exec("ALTER SYSTEM SET synchronous_commit = 'remote_apply'");
    tx.exec("SELECT pg_reload_conf()");
  }

  collector::CollectorOptions options;
  options.db_read_url = (*replica)->url();
  options.http_listen = "127.0.0.1:0";
  auto collector = InProcessCollector::Start((*primary)->url(), options);
  ASSERT_TRUE(collector.ok()) << collector.status();
  auto agent = (*collector)->Enroll();
  ASSERT_TRUE(agent.ok()) << agent.status();
  {
    grpc::ClientContext ctx;
    SetBearer(ctx, agent->agent_token());
    v1::SubmitRequest request;
    *request.mutable_submission() = MakeSubmission(1);
    v1::SubmitResponse response;
    grpc::Status st = (*collector)->NewIngestStub()->Submit(&ctx, request, &response);
    ASSERT_TRUE(st.ok()) << st.error_message();
  }
  const std::string http = (*collector)->server().http_address();
  auto before = Get(http, "/v1/tables/oom");
  ASSERT_TRUE(before) << "no HTTP answer";
  ASSERT_EQ(before->status, 200) << before->body;
  const v1::OomTable seen = ParseOom(before->body);
  EXPECT_GT(seen.rows_size(), 0) << "the replica does not show the submission: " << before->body;
  EXPECT_GT(seen.version().data_version(), 0);

  // With the primary gone, the tables and the health check still answer,
  // from the replica alone: reads never touched the primary.
  ASSERT_TRUE((*primary)->Stop().ok());
  auto after = Get(http, "/v1/tables/oom?as_of=" + std::to_string(seen.version().data_version()));
  ASSERT_TRUE(after) << "no HTTP answer";
  EXPECT_EQ(after->status, 200) << after->body;
  EXPECT_EQ(ParseOom(after->body).rows_size(), seen.rows_size()) << after->body;
  auto health = Get(http, "/healthz");
  ASSERT_TRUE(health);
  EXPECT_EQ(health->status, 200) << health->body;
  (*collector)->server().Shutdown(std::chrono::seconds(1));
}

}  // namespace
}  // namespace localbench::test_support
