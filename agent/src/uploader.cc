#include "localbench/agent/uploader.h"

#include <algorithm>
#include <cmath>
#include <thread>

namespace localbench::agent {

absl::StatusOr<std::shared_ptr<grpc::Channel>> OpenChannel(const ConnectionOptions& connection) {
  if (auto st = ValidateHostPort(connection.collector); !st.ok()) return st;
  grpc::ChannelArguments args;
  std::shared_ptr<grpc::ChannelCredentials> creds;
  if (connection.insecure) {
    if (!connection.ca_cert_path.empty()) {
      return absl::InvalidArgumentError("--insecure and --ca-cert contradict each other: choose one");
    }
    creds = grpc::InsecureChannelCredentials();
  } else {
    grpc::SslCredentialsOptions ssl;
    if (!connection.ca_cert_path.empty()) {
      auto pem = ReadFile(connection.ca_cert_path);
      if (!pem.ok()) return absl::InvalidArgumentError("cannot read --ca-cert: " + std::string(pem.status().message()));
      if (pem->find("-----BEGIN CERTIFICATE-----") == std::string::npos) {
        return absl::InvalidArgumentError("--ca-cert " + connection.ca_cert_path + " holds no PEM certificate");
      }
      ssl.pem_root_certs = *pem;
    }
    creds = grpc::SslCredentials(ssl);
    if (!connection.tls_server_name.empty()) {
      args.SetSslTargetNameOverride(connection.tls_server_name);
    }
  }
  return grpc::CreateCustomChannel(connection.collector, creds, args);
}

std::chrono::milliseconds BackoffFor(const RetryPolicy& policy, int attempt, std::mt19937_64& rng) {
  if (attempt <= 1) return std::chrono::milliseconds(0);
  double base = static_cast<double>(policy.initial_backoff.count()) * std::pow(policy.multiplier, attempt - 2);
  base = std::min(base, static_cast<double>(policy.max_backoff.count()));
  std::uniform_real_distribution<double> spread(1.0 - policy.jitter, 1.0 + policy.jitter);
  return std::chrono::milliseconds(static_cast<std::int64_t>(std::llround(base * spread(rng))));
}

bool IsRetryable(grpc::StatusCode code) {
  switch (code) {
    case grpc::StatusCode::UNAVAILABLE:
    case grpc::StatusCode::DEADLINE_EXCEEDED:
    case grpc::StatusCode::ABORTED:
      return true;
    default:
      return false;
  }
}

bool IsPermanentRefusal(const absl::Status& status) {
  return absl::IsInvalidArgument(status) || absl::IsAlreadyExists(status) || absl::IsResourceExhausted(status);
}

std::optional<std::chrono::milliseconds> ParseRetryAfterMs(std::string_view value) {
  // At most 12 digits: no overflow, and anything longer is nonsense anyway.
  if (value.empty() || value.size() > 12) return std::nullopt;
  std::int64_t ms = 0;
  for (char c : value) {
    if (c < '0' || c > '9') return std::nullopt;
    ms = ms * 10 + (c - '0');
  }
  return std::chrono::milliseconds(ms);
}

absl::Status FromGrpc(const grpc::Status& status, std::string_view what) {
  const std::string msg = std::string(what) + ": " + status.error_message();
  switch (status.error_code()) {
    case grpc::StatusCode::OK: return absl::OkStatus();
    case grpc::StatusCode::UNAUTHENTICATED:
      return absl::UnauthenticatedError(msg + " (the collector refused this agent's token; enrol again: "
                                              "localbench-agent enroll --collector HOST:PORT)");
    case grpc::StatusCode::PERMISSION_DENIED: return absl::PermissionDeniedError(msg);
    case grpc::StatusCode::INVALID_ARGUMENT: return absl::InvalidArgumentError(msg + " (the collector rejected the data)");
    case grpc::StatusCode::ALREADY_EXISTS:
      return absl::AlreadyExistsError(msg + " (another payload was already stored under this submission id)");
    case grpc::StatusCode::UNAVAILABLE:
      return absl::UnavailableError(msg + " (is the collector running and reachable?)");
    case grpc::StatusCode::DEADLINE_EXCEEDED: return absl::DeadlineExceededError(msg);
    case grpc::StatusCode::RESOURCE_EXHAUSTED:
      return absl::ResourceExhaustedError(msg + " (refused without a retry hint: too large or over a limit)");
    default:
      return absl::Status(static_cast<absl::StatusCode>(status.error_code()), msg);
  }
}

IngestClient::IngestClient(std::shared_ptr<grpc::Channel> channel, std::string token, RetryPolicy policy,
                           Sleeper sleeper, std::uint64_t seed)
    : stub_(v1::Ingest::NewStub(channel)),
      token_(std::move(token)),
      policy_(policy),
      sleeper_(sleeper ? std::move(sleeper) : Sleeper([](std::chrono::milliseconds d) { std::this_thread::sleep_for(d); })),
      rng_(seed) {}

template <typename Call>
grpc::Status IngestClient::WithRetries(Call&& call) {
  grpc::Status last;
  std::chrono::milliseconds hinted{0};  // the collector's rate-limit hint, if any
  bool rate_limited = false;
  for (int attempt = 1; attempt <= policy_.max_attempts; ++attempt) {
    // At least what the collector asked for; our backoff when it asks less.
    const auto wait = std::max(BackoffFor(policy_, attempt, rng_), hinted);
    if (wait.count() > 0) sleeper_(wait);
    grpc::ClientContext ctx;
    ctx.set_deadline(std::chrono::system_clock::now() + policy_.call_deadline);
    if (!token_.empty()) ctx.AddMetadata("authorization", "Bearer " + token_);
    last = call(ctx);
    hinted = std::chrono::milliseconds(0);
    rate_limited = false;
    if (last.ok()) return last;
    if (last.error_code() == grpc::StatusCode::RESOURCE_EXHAUSTED) {
      const auto& trailers = ctx.GetServerTrailingMetadata();
      const auto it = trailers.find(kRetryAfterMsKey);
      // Without the hint it is a refusal (a message too large): no retry.
      if (it == trailers.end()) return last;
      rate_limited = true;
      const auto hint = ParseRetryAfterMs(std::string_view(it->second.data(), it->second.size()));
      if (hint && *hint > policy_.max_retry_after) {
        return grpc::Status(grpc::StatusCode::UNAVAILABLE,
                            "rate limited: the collector asks to wait " + std::to_string(hint->count()) +
                                " ms, more than this upload waits (" +
                                std::to_string(policy_.max_retry_after.count()) + " ms); try again later");
      }
      if (hint) hinted = *hint;
      continue;
    }
    if (!IsRetryable(last.error_code())) return last;
  }
  if (rate_limited) {
    return grpc::Status(grpc::StatusCode::UNAVAILABLE, "still rate limited after " +
                                                           std::to_string(policy_.max_attempts) +
                                                           " attempts (" + last.error_message() + "); try again later");
  }
  return last;
}

absl::StatusOr<v1::EnrollResponse> IngestClient::Enroll(const v1::EnrollRequest& request) {
  v1::EnrollResponse response;
  auto st = WithRetries([&](grpc::ClientContext& ctx) { return stub_->Enroll(&ctx, request, &response); });
  if (!st.ok()) return FromGrpc(st, "enrolment failed");
  return response;
}

absl::StatusOr<v1::SubmitResponse> IngestClient::Submit(const v1::Submission& submission) {
  v1::SubmitRequest request;
  *request.mutable_submission() = submission;
  v1::SubmitResponse response;
  auto st = WithRetries([&](grpc::ClientContext& ctx) { return stub_->Submit(&ctx, request, &response); });
  if (!st.ok()) return FromGrpc(st, "upload of " + submission.submission_id() + " failed");
  if (response.submission_id() != submission.submission_id()) {
    return absl::InternalError("collector acknowledged " + response.submission_id() + " for " +
                               submission.submission_id());
  }
  return response;
}

UploadReport UploadPending(Outbox& outbox, IngestClient& client, const std::filesystem::path& rejected_dir,
                           const std::function<void(const std::string&)>& log) {
  UploadReport report;
  auto note = [&](const std::string& line) {
    if (log) log(line);
  };
  auto fail = [&](const absl::Status& st) {
    report.errors.push_back(std::string(st.message()));
    if (report.first_error.ok()) report.first_error = st;
  };
  const auto pending = outbox.Pending();
  for (std::size_t i = 0; i < pending.size(); ++i) {
    const auto& path = pending[i];
    auto submission = ReadSubmissionFile(path);
    // Refused for good: out of the outbox, so no later upload retries it,
    // and kept with the reason for the volunteer to look at.
    auto set_aside = [&](const absl::Status& why) {
      ++report.rejected;
      fail(why);
      const std::string reason = std::string(absl::StatusCodeToString(why.code())) + ": " + std::string(why.message());
      if (auto st = SetAside(path, rejected_dir, reason); !st.ok()) {
        fail(st);
        note(std::string(st.message()));
        return;
      }
      note("set aside " + path.filename().string() + " in " + rejected_dir.string() + ": " + reason);
    };
    if (!submission.ok()) {
      ++report.unreadable;
      set_aside(submission.status());
      continue;
    }
    auto ack = client.Submit(*submission);
    if (!ack.ok() && IsPermanentRefusal(ack.status())) {
      set_aside(ack.status());
      continue;
    }
    if (!ack.ok()) {
      ++report.failed;
      fail(ack.status());
      note("kept " + path.filename().string() + " in the outbox: " + std::string(ack.status().message()));
      // Every other file would meet the same refusal or outage: keep them
      // all for the next upload instead of retrying each in turn.
      if (absl::IsUnauthenticated(ack.status()) || absl::IsPermissionDenied(ack.status()) ||
          absl::IsUnavailable(ack.status()) || absl::IsDeadlineExceeded(ack.status())) {
        report.failed += static_cast<int>(pending.size() - i - 1);
        break;
      }
      continue;
    }
    // Removed only now, after the acknowledgement: a crash before this line
    // means a resend, which the collector answers the same (idempotent).
    if (auto st = outbox.Remove(submission->submission_id()); !st.ok()) {
      fail(st);
      note(std::string(st.message()));
    }
    ++report.sent;
    note("published " + ack->submission_id() + " (" + std::to_string(ack->sweep_count()) + " sweeps, " +
         std::to_string(ack->point_count()) + " points)");
  }
  return report;
}

}  // namespace localbench::agent
