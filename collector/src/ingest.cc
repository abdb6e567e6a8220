#include "localbench/collector/ingest.h"

#include <chrono>
#include <string>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "localbench/collector/log.h"
#include "localbench/collector/validation.h"
#include "localbench/collector/wire.h"

namespace localbench::collector {
namespace {

// True when the client has gone: cancelled, or its deadline has passed.
bool Gone(grpc::CallbackServerContext* context) {
  return context->IsCancelled() || context->deadline() <= std::chrono::system_clock::now();
}

std::optional<std::string_view> AuthorizationHeader(const grpc::CallbackServerContext& context) {
  const auto& md = context.client_metadata();
  auto it = md.find("authorization");
  if (it == md.end()) return std::nullopt;
  return std::string_view(it->second.data(), it->second.size());
}

// The request's bytes in one piece (gRPC may hand them over in slices).
absl::StatusOr<std::string> Flatten(const grpc::ByteBuffer& buffer) {
  std::vector<grpc::Slice> slices;
  if (!buffer.Dump(&slices).ok()) return absl::InvalidArgumentError("request: unreadable message");
  std::string bytes;
  bytes.reserve(buffer.Length());
  for (const grpc::Slice& s : slices) bytes.append(reinterpret_cast<const char*>(s.begin()), s.size());
  return bytes;
}

void Serialize(const google::protobuf::Message& message, grpc::ByteBuffer* out) {
  grpc::Slice slice(message.SerializeAsString());
  *out = grpc::ByteBuffer(&slice, 1);
}

}  // namespace

absl::StatusOr<std::string> BearerToken(std::optional<std::string_view> authorization) {
  if (!authorization.has_value()) {
    return absl::UnauthenticatedError("missing agent token: send `authorization: Bearer <token>`");
  }
  auto is_space = [](char c) { return c == ' ' || c == '\t'; };
  std::string_view value = *authorization;
  while (!value.empty() && is_space(value.front())) value.remove_prefix(1);
  while (!value.empty() && is_space(value.back())) value.remove_suffix(1);
  // RFC 7235: the scheme is case-insensitive, then one or more spaces.
  constexpr std::string_view kScheme = "bearer";
  bool ok = value.size() > kScheme.size() && is_space(value[kScheme.size()]);
  for (std::size_t i = 0; ok && i < kScheme.size(); ++i) {
    ok = absl::ascii_tolower(static_cast<unsigned char>(value[i])) == kScheme[i];
  }
  std::string_view token = ok ? value.substr(kScheme.size()) : std::string_view();
  while (!token.empty() && is_space(token.front())) token.remove_prefix(1);
  if (token.empty() || token.find_first_of(" \t") != std::string_view::npos) {
    return absl::UnauthenticatedError("invalid token: authorization must be `Bearer <token>`");
  }
  return std::string(token);
}

grpc::Status ToGrpc(const absl::Status& status) {
  if (status.ok()) return grpc::Status::OK;
  return grpc::Status(static_cast<grpc::StatusCode>(status.code()), std::string(status.message()));
}

// How long a client refused by a full queue is told to wait before retrying.
constexpr int kQueueFullRetryAfterMs = 1000;

template <typename Work>
grpc::ServerUnaryReactor* IngestService::Queue(grpc::CallbackServerContext* context, const char* rpc, Work work) {
  grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
  // The context, request and response stay valid until Finish: the worker
  // owns the call from here on.
  if (queue_->TryPush([reactor, work = std::move(work)]() mutable { reactor->Finish(work()); })) {
    return reactor;
  }
  const int64_t now_s = std::chrono::duration_cast<std::chrono::seconds>(
                            std::chrono::steady_clock::now().time_since_epoch())
                            .count();
  const int64_t refused = refused_unlogged_.fetch_add(1) + 1;
  int64_t last = last_refusal_log_s_.load();
  if (now_s > last && last_refusal_log_s_.compare_exchange_strong(last, now_s)) {
    refused_unlogged_.fetch_sub(refused);
    LogLine(absl::StrCat("queue full (", queue_->max_queued(), " waiting): refused ", refused, " call(s), last ",
                         rpc, " from ", context->peer()));
  }
  // The hint makes agents retry (a RESOURCE_EXHAUSTED without it means
  // "refused for good" to them, e.g. an oversized message): see ingest.proto.
  context->AddTrailingMetadata("retry-after-ms", std::to_string(kQueueFullRetryAfterMs));
  reactor->Finish(grpc::Status(grpc::StatusCode::RESOURCE_EXHAUSTED,
                               absl::StrCat("collector busy: ", queue_->max_queued(),
                                            " requests already queued; retry with backoff")));
  return reactor;
}

std::string PeerAddress(std::string_view peer) {
  if (const auto colon = peer.find(':'); colon != std::string_view::npos) peer.remove_prefix(colon + 1);
  if (const auto colon = peer.rfind(':'); colon != std::string_view::npos) peer = peer.substr(0, colon);
  return std::string(peer);
}

grpc::ServerUnaryReactor* IngestService::RateLimited(grpc::CallbackServerContext* context, const char* rpc,
                                                     const char* limit, std::chrono::milliseconds wait) {
  if (metrics_ != nullptr && std::string_view(rpc) == "Submit") metrics_->CountIngest(IngestOutcome::kRefused);
  context->AddTrailingMetadata("retry-after-ms", std::to_string(wait.count()));
  grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
  reactor->Finish(grpc::Status(grpc::StatusCode::RESOURCE_EXHAUSTED,
                               absl::StrCat("rate limited: too many ", rpc, " calls ", limit, "; retry after ",
                                            wait.count(), " ms")));
  return reactor;
}

grpc::ServerUnaryReactor* IngestService::Enroll(grpc::CallbackServerContext* context,
                                                const grpc::ByteBuffer* request, grpc::ByteBuffer* response) {
  if (auto wait = enroll_per_address_.Take(PeerAddress(context->peer())); wait.count() > 0) {
    return RateLimited(context, "Enroll", "from this address", wait);
  }
  return Queue(context, "Enroll", [this, context, request, response] { return DoEnroll(context, *request, response); });
}

grpc::ServerUnaryReactor* IngestService::Submit(grpc::CallbackServerContext* context,
                                                const grpc::ByteBuffer* request, grpc::ByteBuffer* response) {
  // Before the queue: a client over its limit costs no worker and no
  // database work. The token is not checked yet (that needs the database),
  // so a made-up token only ever spends its own bucket and its address's.
  if (auto wait = submit_per_address_.Take(PeerAddress(context->peer())); wait.count() > 0) {
    return RateLimited(context, "Submit", "from this address", wait);
  }
  if (absl::StatusOr<std::string> token = BearerToken(AuthorizationHeader(*context)); token.ok()) {
    if (auto wait = submit_per_token_.Take(*token); wait.count() > 0) {
      return RateLimited(context, "Submit", "for this agent token", wait);
    }
  }
  return Queue(context, "Submit",
               [this, context, request, response] { return CountedSubmit(context, *request, response); });
}

grpc::Status IngestService::DoEnroll(grpc::CallbackServerContext* context, const grpc::ByteBuffer& raw,
                                     grpc::ByteBuffer* response) {
  if (Gone(context)) return grpc::Status(grpc::StatusCode::CANCELLED, "client gone while queued");
  v1::EnrollRequest request;
  absl::StatusOr<std::string> bytes = Flatten(raw);
  absl::Status st = bytes.ok() ? ParseUntrusted(*bytes, &request) : bytes.status();
  if (st.ok()) st = ValidateEnrollRequest(request);
  if (!st.ok()) {
    LogLine(absl::StrCat("enroll from ", context->peer(), " rejected: ", st.message()));
    return ToGrpc(st);
  }
  auto enrolled = store_->Enroll(request);
  if (!enrolled.ok()) {
    LogLine(absl::StrCat("enroll failed: ", enrolled.status().message()));
    return ToGrpc(enrolled.status());
  }
  LogLine(absl::StrCat("enrolled agent ", enrolled->agent_id(), " (", request.agent_version(), ")"));
  Serialize(*enrolled, response);
  return grpc::Status::OK;
}

grpc::Status IngestService::CountedSubmit(grpc::CallbackServerContext* context, const grpc::ByteBuffer& raw,
                                          grpc::ByteBuffer* response) {
  grpc::Status status = DoSubmit(context, raw, response);
  if (metrics_ != nullptr) metrics_->CountIngest(status.ok() ? IngestOutcome::kAccepted : IngestOutcome::kRefused);
  return status;
}

grpc::Status IngestService::DoSubmit(grpc::CallbackServerContext* context, const grpc::ByteBuffer& raw,
                                     grpc::ByteBuffer* response) {
  if (Gone(context)) {
    return grpc::Status(grpc::StatusCode::CANCELLED, "client gone while queued; nothing stored");
  }
  absl::StatusOr<std::string> token = BearerToken(AuthorizationHeader(*context));
  if (!token.ok()) {
    LogLine(absl::StrCat("submit from ", context->peer(), " refused: ", token.status().message()));
    return ToGrpc(token.status());
  }
  auto agent = store_->Authenticate(*token);
  if (!agent.ok()) {
    absl::Status st = agent.status();
    if (absl::IsUnauthenticated(st)) st = absl::UnauthenticatedError(absl::StrCat("invalid token: ", st.message()));
    LogLine(absl::StrCat("submit from ", context->peer(), " refused: ", st.message()));
    return ToGrpc(st);
  }
  v1::SubmitRequest request;
  absl::StatusOr<std::string> bytes = Flatten(raw);
  if (absl::Status st = bytes.ok() ? ParseUntrusted(*bytes, &request) : bytes.status(); !st.ok()) {
    LogLine(absl::StrCat("submission from agent ", agent->agent_id, " rejected: ", st.message()));
    return ToGrpc(st);
  }
  if (!request.has_submission()) {
    return grpc::Status(grpc::StatusCode::INVALID_ARGUMENT, "submission: is required");
  }
  const v1::Submission& s = request.submission();
  if (absl::Status st = ValidateSubmission(s, std::chrono::system_clock::now()); !st.ok()) {
    LogLine(absl::StrCat("submission from agent ", agent->agent_id, " rejected: ", st.message()));
    return ToGrpc(st);
  }
  if (Gone(context)) {
    return grpc::Status(grpc::StatusCode::CANCELLED, "client gone before storing; nothing stored");
  }
  auto stored = store_->Submit(*agent, s, [context] { return Gone(context); });
  if (!stored.ok()) {
    LogLine(absl::StrCat("submission ", s.submission_id(), " not stored: ", stored.status().message()));
    return ToGrpc(stored.status());
  }
  Serialize(*stored, response);
  return grpc::Status::OK;
}

}  // namespace localbench::collector
