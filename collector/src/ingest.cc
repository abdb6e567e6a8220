#include "localbench/collector/ingest.h"

#include <chrono>
#include <string>

#include "absl/strings/str_cat.h"
#include "localbench/collector/log.h"
#include "localbench/collector/validation.h"

namespace localbench::collector {
namespace {

// The token from "authorization: Bearer <token>", or empty.
std::string BearerToken(const grpc::ServerContext& context) {
  const auto& md = context.client_metadata();
  auto it = md.find("authorization");
  if (it == md.end()) return {};
  std::string_view value(it->second.data(), it->second.size());
  constexpr std::string_view kPrefix = "Bearer ";
  if (value.size() <= kPrefix.size() || value.substr(0, kPrefix.size()) != kPrefix) return {};
  return std::string(value.substr(kPrefix.size()));
}

// True when the client has gone: cancelled, or its deadline has passed.
bool Gone(grpc::ServerContext* context) {
  return context->IsCancelled() || context->deadline() <= std::chrono::system_clock::now();
}

}  // namespace

grpc::Status ToGrpc(const absl::Status& status) {
  if (status.ok()) return grpc::Status::OK;
  return grpc::Status(static_cast<grpc::StatusCode>(status.code()), std::string(status.message()));
}

grpc::Status IngestService::Enroll(grpc::ServerContext* context, const v1::EnrollRequest* request,
                                   v1::EnrollResponse* response) {
  if (absl::Status st = ValidateEnrollRequest(*request); !st.ok()) {
    LogLine(absl::StrCat("enroll from ", context->peer(), " rejected: ", st.message()));
    return ToGrpc(st);
  }
  auto enrolled = store_->Enroll(*request);
  if (!enrolled.ok()) {
    LogLine(absl::StrCat("enroll failed: ", enrolled.status().message()));
    return ToGrpc(enrolled.status());
  }
  *response = *std::move(enrolled);
  LogLine(absl::StrCat("enrolled agent ", response->agent_id(), " (", request->agent_version(), ")"));
  return grpc::Status::OK;
}

grpc::Status IngestService::Submit(grpc::ServerContext* context, const v1::SubmitRequest* request,
                                   v1::SubmitResponse* response) {
  auto agent = store_->Authenticate(BearerToken(*context));
  if (!agent.ok()) {
    LogLine(absl::StrCat("submit from ", context->peer(), " refused: ", agent.status().message()));
    return ToGrpc(agent.status());
  }
  if (!request->has_submission()) {
    return grpc::Status(grpc::StatusCode::INVALID_ARGUMENT, "submission: is required");
  }
  const v1::Submission& s = request->submission();
  if (absl::Status st = ValidateSubmission(s, std::chrono::system_clock::now()); !st.ok()) {
    LogLine(absl::StrCat("submission from agent ", *agent, " rejected: ", st.message()));
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
  *response = *std::move(stored);
  return grpc::Status::OK;
}

}  // namespace localbench::collector
