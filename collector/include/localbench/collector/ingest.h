// The Ingest gRPC service: authentication, validation, then the store.
#ifndef LOCALBENCH_COLLECTOR_INGEST_H_
#define LOCALBENCH_COLLECTOR_INGEST_H_

#include <grpcpp/grpcpp.h>

#include "absl/status/status.h"
#include "localbench/collector/store.h"
#include "localbench/v1/ingest.grpc.pb.h"

namespace localbench::collector {

// Ingest.Enroll and Ingest.Submit over a SubmissionStore. Thin on purpose:
// the rules live in validation.h and store.h, which tests reach directly.
class IngestService final : public v1::Ingest::Service {
 public:
  // `store` must outlive the service.
  explicit IngestService(SubmissionStore* store) : store_(store) {}

  // Issues an agent token (validated request; the token is never logged).
  grpc::Status Enroll(grpc::ServerContext* context, const v1::EnrollRequest* request,
                      v1::EnrollResponse* response) override;

  // Needs `authorization: Bearer <token>`; validates, then stores once.
  grpc::Status Submit(grpc::ServerContext* context, const v1::SubmitRequest* request,
                      v1::SubmitResponse* response) override;

 private:
  SubmissionStore* store_;
};

// The gRPC status carrying an absl::Status's code and message.
grpc::Status ToGrpc(const absl::Status& status);

}  // namespace localbench::collector

#endif  // LOCALBENCH_COLLECTOR_INGEST_H_
