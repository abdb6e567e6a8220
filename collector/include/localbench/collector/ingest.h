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
#include "localbench/collector/rate_limiter.h"
#include "localbench/collector/store.h"
#include "localbench/collector/work_queue.h"
#include "localbench/v1/ingest.grpc.pb.h"

namespace localbench::collector {

// Per-client rate limits on Ingest, checked before a call is queued. A
// call over its limit gets RESOURCE_EXHAUSTED with trailing metadata
// `retry-after-ms` (when its bucket has a token again), which agents honour.
// The defaults let an agent upload a backlog of 300 results at once and then
// 10 a second, and many agents share an address (a lab behind NAT); a public
// collector tightens them (--submit-rate-per-token and friends).
struct IngestLimits {
  RateRule submit_per_token{10, 300};     // Submit calls per agent token
  RateRule submit_per_address{100, 1000};  // Submit calls per client IP address
  RateRule enroll_per_address{1, 300};    // Enroll calls per client IP address
  RateLimiter::Clock clock;               // null: steady_clock (tests inject one)
};

// The client's IP address from a gRPC peer string ("ipv4:10.0.0.7:5123",
// "ipv6:[::1]:5123"): the port dropped, so one host's connections share a
// bucket.
std::string PeerAddress(std::string_view peer);

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
  IngestService(SubmissionStore* store, WorkQueue* queue, CollectorMetrics* metrics = nullptr,
                IngestLimits limits = {})
      : store_(store),
        queue_(queue),
        metrics_(metrics),
        submit_per_token_(limits.submit_per_token, limits.clock),
        submit_per_address_(limits.submit_per_address, limits.clock),
        enroll_per_address_(limits.enroll_per_address, limits.clock) {}

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

  // Answers the call RESOURCE_EXHAUSTED with the `retry-after-ms` hint.
  grpc::ServerUnaryReactor* RateLimited(grpc::CallbackServerContext* context, const char* rpc, const char* limit,
                                        std::chrono::milliseconds wait);

  SubmissionStore* store_;
  WorkQueue* queue_;
  CollectorMetrics* metrics_;
  RateLimiter submit_per_token_;
  RateLimiter submit_per_address_;
  RateLimiter enroll_per_address_;
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
