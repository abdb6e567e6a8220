// The Admin gRPC service: a thin adapter from gRPC to EditorStore that
// checks each call's bearer token and role first (see admin.proto).
#ifndef LOCALBENCH_COLLECTOR_ADMIN_SERVICE_H_
#define LOCALBENCH_COLLECTOR_ADMIN_SERVICE_H_

#include <grpcpp/grpcpp.h>

#include "localbench/collector/editors.h"
#include "localbench/v1/admin.grpc.pb.h"

namespace localbench::collector {

// Every Admin RPC: moderation, audit and verdicts need an editor token,
// token administration an admin token; the check runs on every call.
class AdminService final : public v1::Admin::Service {
 public:
  // `editors` must outlive the service.
  explicit AdminService(EditorStore* editors) : editors_(editors) {}

  // One override per RPC (see admin.proto).

  grpc::Status Flag(grpc::ServerContext*, const v1::ModerationRequest*, v1::ModerationResponse*) override;
  grpc::Status Retract(grpc::ServerContext*, const v1::ModerationRequest*, v1::ModerationResponse*) override;
  grpc::Status Restore(grpc::ServerContext*, const v1::ModerationRequest*, v1::ModerationResponse*) override;
  grpc::Status ListAuditEvents(grpc::ServerContext*, const v1::ListAuditEventsRequest*, v1::AuditEventList*) override;
  grpc::Status PutVerdict(grpc::ServerContext*, const v1::PutVerdictRequest*, v1::Verdict*) override;
  grpc::Status ConfirmVerdict(grpc::ServerContext*, const v1::ConfirmVerdictRequest*, v1::Verdict*) override;
  grpc::Status CreateToken(grpc::ServerContext*, const v1::CreateTokenRequest*, v1::CreateTokenResponse*) override;
  grpc::Status RevokeToken(grpc::ServerContext*, const v1::RevokeTokenRequest*, v1::RevokeTokenResponse*) override;
  grpc::Status ListTokens(grpc::ServerContext*, const v1::ListTokensRequest*, v1::TokenList*) override;

 private:
  // The caller's token checked for `needed`.
  absl::StatusOr<Principal> Caller(const grpc::ServerContext& context, v1::Role needed);
  grpc::Status Moderate(grpc::ServerContext* context, const char* action, const v1::ModerationRequest& request,
                        v1::ModerationResponse* response);

  EditorStore* editors_;
};

}  // namespace localbench::collector

#endif  // LOCALBENCH_COLLECTOR_ADMIN_SERVICE_H_
