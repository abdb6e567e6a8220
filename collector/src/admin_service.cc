#include "localbench/collector/admin_service.h"

#include "absl/strings/str_cat.h"
#include "localbench/collector/ingest.h"
#include "localbench/collector/log.h"

namespace localbench::collector {
namespace {

// Copies a result into the gRPC reply, or maps its error.
template <typename T>
grpc::Status Reply(absl::StatusOr<T> result, T* response) {
  if (!result.ok()) return ToGrpc(result.status());
  *response = *std::move(result);
  return grpc::Status::OK;
}

}  // namespace

absl::StatusOr<Principal> AdminService::Caller(const grpc::ServerContext& context, v1::Role needed) {
  const auto& md = context.client_metadata();
  auto it = md.find("authorization");
  if (it == md.end()) return absl::UnauthenticatedError("missing token: send `authorization: Bearer <token>`");
  absl::StatusOr<std::string> token = BearerToken(std::string_view(it->second.data(), it->second.size()));
  if (!token.ok()) return token.status();
  auto who = editors_->Authorize(*token, needed);
  if (!who.ok()) LogLine(absl::StrCat("admin call from ", context.peer(), " refused: ", who.status().message()));
  return who;
}

grpc::Status AdminService::Moderate(grpc::ServerContext* context, const char* action,
                                    const v1::ModerationRequest& request, v1::ModerationResponse* response) {
  auto who = Caller(*context, v1::ROLE_EDITOR);
  if (!who.ok()) return ToGrpc(who.status());
  return Reply(editors_->Moderate(*who, action, request), response);
}

grpc::Status AdminService::Flag(grpc::ServerContext* context, const v1::ModerationRequest* request,
                                v1::ModerationResponse* response) {
  return Moderate(context, "flag", *request, response);
}

grpc::Status AdminService::Retract(grpc::ServerContext* context, const v1::ModerationRequest* request,
                                   v1::ModerationResponse* response) {
  return Moderate(context, "retract", *request, response);
}

grpc::Status AdminService::Restore(grpc::ServerContext* context, const v1::ModerationRequest* request,
                                   v1::ModerationResponse* response) {
  return Moderate(context, "restore", *request, response);
}

grpc::Status AdminService::ListAuditEvents(grpc::ServerContext* context, const v1::ListAuditEventsRequest* request,
                                           v1::AuditEventList* response) {
  auto who = Caller(*context, v1::ROLE_EDITOR);
  if (!who.ok()) return ToGrpc(who.status());
  return Reply(editors_->ListAuditEvents(*request), response);
}

grpc::Status AdminService::PutVerdict(grpc::ServerContext* context, const v1::PutVerdictRequest* request,
                                      v1::Verdict* response) {
  auto who = Caller(*context, v1::ROLE_EDITOR);
  if (!who.ok()) return ToGrpc(who.status());
  return Reply(editors_->PutVerdict(*who, *request), response);
}

grpc::Status AdminService::ConfirmVerdict(grpc::ServerContext* context, const v1::ConfirmVerdictRequest* request,
                                          v1::Verdict* response) {
  auto who = Caller(*context, v1::ROLE_EDITOR);
  if (!who.ok()) return ToGrpc(who.status());
  return Reply(editors_->ConfirmVerdict(*who, *request), response);
}

grpc::Status AdminService::CreateToken(grpc::ServerContext* context, const v1::CreateTokenRequest* request,
                                       v1::CreateTokenResponse* response) {
  auto who = Caller(*context, v1::ROLE_ADMIN);
  if (!who.ok()) return ToGrpc(who.status());
  grpc::Status st = Reply(editors_->CreateToken(*request), response);
  // The secret never reaches the log; its id and holder do.
  if (st.ok()) LogLine(absl::StrCat("admin: token ", response->token_id(), " for '", request->name(), "' by '", who->name, "'"));
  return st;
}

grpc::Status AdminService::RevokeToken(grpc::ServerContext* context, const v1::RevokeTokenRequest* request,
                                       v1::RevokeTokenResponse* response) {
  auto who = Caller(*context, v1::ROLE_ADMIN);
  if (!who.ok()) return ToGrpc(who.status());
  grpc::Status st = Reply(editors_->RevokeToken(*request), response);
  if (st.ok()) LogLine(absl::StrCat("admin: token ", request->token_id(), " revoked by '", who->name, "'"));
  return st;
}

grpc::Status AdminService::ListTokens(grpc::ServerContext* context, const v1::ListTokensRequest* request,
                                      v1::TokenList* response) {
  auto who = Caller(*context, v1::ROLE_ADMIN);
  if (!who.ok()) return ToGrpc(who.status());
  return Reply(editors_->ListTokens(*request), response);
}

}  // namespace localbench::collector
