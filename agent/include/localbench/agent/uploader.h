// Talking to the collector: channels (TLS by default), enrolment, and
// uploads with per-call deadlines, retries with exponential backoff and
// jitter, and the submission id for idempotency.
#ifndef LOCALBENCH_AGENT_UPLOADER_H_
#define LOCALBENCH_AGENT_UPLOADER_H_

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <random>
#include <string>

#include <grpcpp/grpcpp.h>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "localbench/agent/options.h"
#include "localbench/agent/outbox.h"
#include "localbench/v1/ingest.grpc.pb.h"

namespace localbench::agent {

// Opens a channel to `connection.collector`: TLS with the system roots or
// `ca_cert_path`, or plaintext when `insecure` is set. Fails for a missing
// CA file or a bad address.
absl::StatusOr<std::shared_ptr<grpc::Channel>> OpenChannel(const ConnectionOptions& connection);

// When to try again.
struct RetryPolicy {
  int max_attempts = 5;                                  // total tries per call
  std::chrono::milliseconds initial_backoff{500};        // wait before the 2nd try
  double multiplier = 2.0;                               // growth per try
  std::chrono::milliseconds max_backoff{20000};          // cap on one wait
  double jitter = 0.2;                                   // +-fraction of each wait, random
  std::chrono::milliseconds call_deadline{30000};        // deadline of each attempt
  // Longest wait a rate-limiting collector may ask for (`retry-after-ms`)
  // that is honoured within one upload; a longer one ends the upload and the
  // files wait for the next.
  std::chrono::milliseconds max_retry_after{60000};
};

// The trailing-metadata key of a rate-limit hint on RESOURCE_EXHAUSTED: the
// milliseconds to wait before trying again (see ingest.proto, Submit).
inline constexpr char kRetryAfterMsKey[] = "retry-after-ms";

// Parses a `retry-after-ms` value: a decimal count of milliseconds; nullopt
// when it is not one (then the client's own backoff applies).
std::optional<std::chrono::milliseconds> ParseRetryAfterMs(std::string_view value);

// The wait before attempt `attempt` (1-based; attempt 1 waits 0): the capped
// exponential, spread by +-jitter so many agents do not retry in lockstep.
std::chrono::milliseconds BackoffFor(const RetryPolicy& policy, int attempt, std::mt19937_64& rng);

// True for codes worth retrying at once: the collector was unreachable,
// timed out or aborted a conflicting transaction. RESOURCE_EXHAUSTED is
// retried only with a rate-limit hint (without one it is a permanent
// refusal, e.g. a message too large); bad tokens and invalid data fail at
// once.
bool IsRetryable(grpc::StatusCode code);

// True when the collector refused a submission for good, so sending it again
// can never succeed: INVALID_ARGUMENT (the data), ALREADY_EXISTS (another
// payload holds its id) and RESOURCE_EXHAUSTED without a rate-limit hint (a
// size refusal). Such files are set aside, not retried.
bool IsPermanentRefusal(const absl::Status& status);

// Turns a gRPC status into an absl one with a message a volunteer can act on.
absl::Status FromGrpc(const grpc::Status& status, std::string_view what);

// Sends enrolment and submissions to one collector.
class IngestClient {
 public:
  // How the client waits between tries; tests pass one that records instead.
  using Sleeper = std::function<void(std::chrono::milliseconds)>;

  // `token` may be empty for Enroll. `seed` drives the jitter.
  IngestClient(std::shared_ptr<grpc::Channel> channel, std::string token, RetryPolicy policy = {},
               Sleeper sleeper = {}, std::uint64_t seed = std::random_device{}());

  // Obtains a fresh agent identity.
  absl::StatusOr<v1::EnrollResponse> Enroll(const v1::EnrollRequest& request);
  // Stores one submission exactly once (the collector dedups on its id).
  absl::StatusOr<v1::SubmitResponse> Submit(const v1::Submission& submission);

 private:
  template <typename Call>
  grpc::Status WithRetries(Call&& call);

  std::unique_ptr<v1::Ingest::Stub> stub_;
  std::string token_;
  RetryPolicy policy_;
  Sleeper sleeper_;
  std::mt19937_64 rng_;
};

// What an upload of the outbox did.
struct UploadReport {
  int sent = 0;                  // acknowledged and removed
  int failed = 0;                // kept for a later upload
  int rejected = 0;              // refused for good: moved to the rejected folder
  int unreadable = 0;            // files that are not submissions (also moved there)
  std::vector<std::string> errors;  // one line per failure
  // The status of the first failure; OK when everything went.
  absl::Status first_error;
};

// Uploads every pending outbox file, removing each only after its
// acknowledgement. A file refused for good (IsPermanentRefusal, or not a
// submission at all) moves to `rejected_dir` with a .reason.txt. Stops early,
// keeping the rest, when the collector refuses our token or stays
// unreachable or rate-limited (every other file would meet the same).
UploadReport UploadPending(Outbox& outbox, IngestClient& client, const std::filesystem::path& rejected_dir,
                           const std::function<void(const std::string&)>& log = {});

}  // namespace localbench::agent

#endif  // LOCALBENCH_AGENT_UPLOADER_H_
