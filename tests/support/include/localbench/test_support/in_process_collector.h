// A real collector server running inside the test process on 127.0.0.1:0,
// reached over real gRPC on loopback. Stable interface: the agent's
// end-to-end tests use it too.
//
//   auto collector = InProcessCollector::Start(PostgresEnvironment::FreshDatabase());
//   ASSERT_TRUE(collector.ok()) << collector.status();
//   auto agent = (*collector)->Enroll();           // token for Submit
//   auto stub = (*collector)->NewIngestStub();
//   grpc::ClientContext ctx;
//   SetBearer(ctx, agent->agent_token());
//   stub->Submit(&ctx, request, &response);
#ifndef LOCALBENCH_TEST_SUPPORT_IN_PROCESS_COLLECTOR_H_
#define LOCALBENCH_TEST_SUPPORT_IN_PROCESS_COLLECTOR_H_

#include <memory>
#include <string>
#include <string_view>

#include <grpcpp/grpcpp.h>

#include "absl/status/statusor.h"
#include "localbench/collector/server.h"
#include "localbench/v1/ingest.grpc.pb.h"

namespace localbench::test_support {

// A collector serving Ingest against `db_url`, on a free loopback port.
class InProcessCollector {
 public:
  // Migrates the database and starts serving. `options` may adjust limits;
  // its listen address and db_url are overwritten.
  static absl::StatusOr<std::unique_ptr<InProcessCollector>> Start(
      std::string db_url, collector::CollectorOptions options = {});

  // "127.0.0.1:PORT" the server is bound to.
  const std::string& address() const { return server_->address(); }

  // The database URL the collector writes to (read rows back through it).
  const std::string& db_url() const { return db_url_; }

  // A new plaintext channel to the server.
  std::shared_ptr<grpc::Channel> NewChannel() const;

  // A stub on a new channel.
  std::unique_ptr<v1::Ingest::Stub> NewIngestStub() const;

  // Enrols an agent over gRPC for `machine_fingerprint` (default: the
  // builder's fingerprint for seed 1) and returns its id and token.
  absl::StatusOr<v1::EnrollResponse> Enroll(std::string machine_fingerprint = "");

  // The server (for its store, or to shut it down early).
  collector::CollectorServer& server() { return *server_; }

 private:
  InProcessCollector() = default;
  std::string db_url_;
  std::unique_ptr<collector::CollectorServer> server_;
};

// Adds "authorization: Bearer <token>" to `context`, as the agent does.
void SetBearer(grpc::ClientContext& context, std::string_view token);

}  // namespace localbench::test_support

#endif  // LOCALBENCH_TEST_SUPPORT_IN_PROCESS_COLLECTOR_H_
