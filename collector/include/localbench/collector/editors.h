// The editors' side of the collector, transport-free: editor and admin
// tokens, who a token is, moderation with its audit trail, and verdict
// writes. The Admin gRPC service (admin_service.h) is a thin adapter, and
// `localbench-collector token create` calls CreateApiToken directly.
#ifndef LOCALBENCH_COLLECTOR_EDITORS_H_
#define LOCALBENCH_COLLECTOR_EDITORS_H_

#include <functional>
#include <string>
#include <string_view>

#include <pqxx/pqxx>

#include "absl/status/statusor.h"
#include "localbench/collector/connection_pool.h"
#include "localbench/collector/tables.h"
#include "localbench/v1/admin.pb.h"

namespace localbench::collector {

// Who is calling: an editor or admin token that passed Authorize.
struct Principal {
  std::string token_id;  // UUID of the token
  std::string name;      // its holder, recorded with every action
  v1::Role role = v1::ROLE_UNSPECIFIED;
};

// Issues an editor or admin token on `conn` (one transaction): a random
// secret, stored only as its SHA-256. INVALID_ARGUMENT naming the field for
// a bad role or name. For `localbench-collector token create` (the first
// admin token) and CreateToken.
absl::StatusOr<v1::CreateTokenResponse> CreateApiToken(pqxx::connection& conn, v1::Role role, std::string_view name);

// Tokens, moderation, the audit trail and verdicts. Thread-safe: each call
// leases its own connection.
class EditorStore {
 public:
  // `pool` (the primary: these calls write) and `tables` (reading from that
  // primary, so a verdict cites the newest figures) must outlive the store.
  // `forget_agent` is called with an agent id when its token is revoked, so
  // this process's token cache drops it at once (may be null).
  EditorStore(ConnectionPool* pool, TableService* tables, std::function<void(const std::string&)> forget_agent)
      : pool_(pool), tables_(tables), forget_agent_(std::move(forget_agent)) {}

  // The holder of `token` if its role is at least `needed`. No token:
  // UNAUTHENTICATED "missing token"; unknown or revoked: UNAUTHENTICATED
  // "invalid token"; an agent's token, or an editor's where an admin's is
  // needed: PERMISSION_DENIED. Never cached: revocation counts on the next call.
  absl::StatusOr<Principal> Authorize(std::string_view token, v1::Role needed);

  // Flags, retracts or restores (`action`: "flag", "retract", "restore") a
  // submission for `who`, with the request's reason: one append-only audit
  // event and a new data version. FAILED_PRECONDITION when the action would
  // change nothing (already flagged/retracted; restoring a visible one).
  absl::StatusOr<v1::ModerationResponse> Moderate(const Principal& who, std::string_view action,
                                                  const v1::ModerationRequest& request);
  // The audit trail, newest first, with the acting editors' names.
  absl::StatusOr<v1::AuditEventList> ListAuditEvents(const v1::ListAuditEventsRequest& request);

  // Writes or rewrites a verdict citing the newest figures (a new revision
  // and a new data version); returns it as now served.
  absl::StatusOr<v1::Verdict> PutVerdict(const Principal& who, const v1::PutVerdictRequest& request);
  // Re-cites a verdict's figures at the newest version (same text).
  absl::StatusOr<v1::Verdict> ConfirmVerdict(const Principal& who, const v1::ConfirmVerdictRequest& request);

  // Token administration (admin only; the service checks the role).
  absl::StatusOr<v1::CreateTokenResponse> CreateToken(const v1::CreateTokenRequest& request);
  absl::StatusOr<v1::RevokeTokenResponse> RevokeToken(const v1::RevokeTokenRequest& request);
  absl::StatusOr<v1::TokenList> ListTokens(const v1::ListTokensRequest& request);

 private:
  // Stores a revision of verdict `verdict_id` citing `cite`; returns the
  // verdict as served afterwards.
  absl::StatusOr<v1::Verdict> WriteRevision(const Principal& who, const std::string& verdict_id,
                                            const v1::WorkloadKey* workload, const std::string& text,
                                            const char* action, const VerdictCitation& cite);

  ConnectionPool* pool_;
  TableService* tables_;
  std::function<void(const std::string&)> forget_agent_;
};

}  // namespace localbench::collector

#endif  // LOCALBENCH_COLLECTOR_EDITORS_H_
