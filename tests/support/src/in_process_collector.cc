#include "localbench/test_support/in_process_collector.h"

#include "absl/strings/str_cat.h"
#include "localbench/test_support/submission_builder.h"

namespace localbench::test_support {

absl::StatusOr<std::unique_ptr<InProcessCollector>> InProcessCollector::Start(
    std::string db_url, collector::CollectorOptions options) {
  options.listen = "127.0.0.1:0";
  options.db_url = db_url;
  auto server = collector::CollectorServer::Start(options);
  if (!server.ok()) return server.status();
  std::unique_ptr<InProcessCollector> c(new InProcessCollector());
  c->db_url_ = std::move(db_url);
  c->server_ = *std::move(server);
  return c;
}

std::shared_ptr<grpc::Channel> InProcessCollector::NewChannel() const {
  // A distinct channel argument keeps gRPC from sharing one subchannel
  // between "separate" clients, so concurrency tests get real parallel
  // connections.
  static std::atomic<int> counter{0};
  grpc::ChannelArguments args;
  args.SetInt("localbench.test_channel", counter.fetch_add(1));
  return grpc::CreateCustomChannel(address(), grpc::InsecureChannelCredentials(), args);
}

std::unique_ptr<v1::Ingest::Stub> InProcessCollector::NewIngestStub() const {
  return v1::Ingest::NewStub(NewChannel());
}

absl::StatusOr<v1::EnrollResponse> InProcessCollector::Enroll(std::string machine_fingerprint) {
  v1::EnrollRequest request;
  request.set_machine_fingerprint(machine_fingerprint.empty() ? FingerprintFor(1) : machine_fingerprint);
  request.set_agent_version("v0.1.0-test");
  v1::EnrollResponse response;
  grpc::ClientContext context;
  context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(30));
  grpc::Status st = NewIngestStub()->Enroll(&context, request, &response);
  if (!st.ok()) {
    return absl::Status(static_cast<absl::StatusCode>(st.error_code()),
                        absl::StrCat("Enroll: ", st.error_message()));
  }
  return response;
}

void SetBearer(grpc::ClientContext& context, std::string_view token) {
  context.AddMetadata("authorization", absl::StrCat("Bearer ", std::string(token)));
}

}  // namespace localbench::test_support
