// The Ingest gRPC service: authentication, validation, then the store.
#ifndef LOCALBENCH_COLLECTOR_INGEST_H_
#define LOCALBENCH_COLLECTOR_INGEST_H_

#include <atomic>
#include <optional>
#include <string>
#include <string_view>

#include <grpcpp/grpcpp.h>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "localbench/collector/metrics.h"
#include "localbench/collector/store.h"
#include "localbench/collector/work_queue.h"
#include "localbench/v1/ingest.grpc.pb.h"

namespace localbench::collector {

// Ingest.Enroll and Ingest.Submit over a SubmissionStore, on gRPC's callback
// API with raw request bytes:
//  - the handler only queues the call on `queue` (a bounded WorkQueue with
//    one worker per database connection) and returns, so gRPC's threads
//    never wait on PostgreSQL and a burst waits in the queue instead of
//    being refused; only a full queue answers RESOURCE_EXHAUSTED;
//  - the worker parses the bytes itself (wire.h), so a string holding
//    invalid UTF-8 is answered INVALID_ARGUMENT naming its field instead of
//    gRPC's empty INTERNAL;
//  - a call whose client has gone (cancelled, deadline passed) while queued
//    is answered CANCELLED without touching the database, and the store
//    polls the same before committing.
// Thin on purpose: the rules live in validation.h and store.h, which tests
// reach directly.
class IngestService final
    : public v1::Ingest::WithRawCallbackMethod_Enroll<v1::Ingest::WithRawCallbackMethod_Submit<v1::Ingest::Service>> {
 public:
  // `store` and `queue` (and `metrics`, when given) must outlive the
  // service; `queue` must run every job it accepts (the gRPC server waits
  // for each call to finish). `metrics` counts each Submit's outcome.
  IngestService(SubmissionStore* store, WorkQueue* queue, CollectorMetrics* metrics = nullptr)
      : store_(store), queue_(queue), metrics_(metrics) {}

  // Issues an agent token (validated request; the token is never logged).
  grpc::ServerUnaryReactor* Enroll(grpc::CallbackServerContext* context, const grpc::ByteBuffer* request,
                                   grpc::ByteBuffer* response) override;

  // Needs `authorization: Bearer <token>`; validates, then stores once.
  grpc::ServerUnaryReactor* Submit(grpc::CallbackServerContext* context, const grpc::ByteBuffer* request,
                                   grpc::ByteBuffer* response) override;

 private:
  // Queues `work` (which returns the call's status) or refuses the call.
  template <typename Work>
  grpc::ServerUnaryReactor* Queue(grpc::CallbackServerContext* context, const char* rpc, Work work);
  grpc::Status DoEnroll(grpc::CallbackServerContext* context, const grpc::ByteBuffer& request,
                        grpc::ByteBuffer* response);
  grpc::Status DoSubmit(grpc::CallbackServerContext* context, const grpc::ByteBuffer& request,
                        grpc::ByteBuffer* response);
  // DoSubmit, with its outcome counted in metrics_.
  grpc::Status CountedSubmit(grpc::CallbackServerContext* context, const grpc::ByteBuffer& request,
                             grpc::ByteBuffer* response);

  SubmissionStore* store_;
  WorkQueue* queue_;
  CollectorMetrics* metrics_;
  // Refusals since the last one logged; overload logs once a second, not per call.
  std::atomic<int64_t> refused_unlogged_{0};
  std::atomic<int64_t> last_refusal_log_s_{0};
};

// The agent token from an `authorization` header value (nullopt: no header).
// The scheme is case-insensitive ("Bearer", "bearer", ...). UNAUTHENTICATED
// says "missing" only when no header came, and "invalid token" when one came
// that is not `Bearer <token>`.
absl::StatusOr<std::string> BearerToken(std::optional<std::string_view> authorization);

// The gRPC status carrying an absl::Status's code and message.
grpc::Status ToGrpc(const absl::Status& status);

}  // namespace localbench::collector

#endif  // LOCALBENCH_COLLECTOR_INGEST_H_
