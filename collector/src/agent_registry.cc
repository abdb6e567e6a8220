#include "localbench/collector/agent_registry.h"

#include "absl/strings/str_cat.h"
#include "localbench/collector/db_errors.h"
#include "localbench/collector/queries.h"
#include "localbench/common/crypto.h"

namespace localbench::collector {

void AgentRegistry::Prepare(pqxx::connection& conn) { PrepareQueries(conn, {"agent_enroll", "agent_by_token"}); }

absl::StatusOr<v1::EnrollResponse> AgentRegistry::Enroll(const v1::EnrollRequest& request) {
  auto lease = pool_->Acquire();
  if (!lease.ok()) return lease.status();
  v1::EnrollResponse response;
  response.set_agent_id(NewUuid());
  response.set_agent_token(RandomHex(32));
  try {
    pqxx::work tx(**lease);
    tx.exec_prepared("agent_enroll", response.agent_id(), Sha256Hex(response.agent_token()),
                     request.machine_fingerprint(), request.agent_version());
    tx.commit();
  } catch (const std::exception& e) {
    return StatusFromDbError(e, "storing the agent");
  }
  return response;
}

absl::StatusOr<AgentIdentity> AgentRegistry::Authenticate(std::string_view token) {
  if (token.empty()) return absl::UnauthenticatedError("missing agent token");
  const std::string hash = Sha256Hex(token);
  const auto now = std::chrono::steady_clock::now();
  {
    std::lock_guard lock(mu_);
    if (auto it = tokens_.find(hash); it != tokens_.end()) {
      if (it->second.expires > now) return it->second.identity;
      tokens_.erase(it);
    }
  }
  auto lease = pool_->Acquire();
  if (!lease.ok()) return lease.status();
  AgentIdentity identity;
  try {
    pqxx::nontransaction tx(**lease);
    pqxx::result r = tx.exec_prepared("agent_by_token", hash);
    if (r.empty()) return absl::UnauthenticatedError("unknown or revoked agent token");
    identity.agent_id = r[0][0].as<std::string>();
    identity.machine_fingerprint = r[0][1].as<std::string>();
  } catch (const std::exception& e) {
    absl::Status st = StatusFromDbError(e, "checking the agent token");
    // Whatever went wrong, the caller learns only that the check failed.
    return absl::UnavailableError(st.message());
  }
  std::lock_guard lock(mu_);
  if (tokens_.size() > 100000) tokens_.clear();
  tokens_[hash] = CachedAgent{identity, now + kTokenCacheTtl};
  return identity;
}

void AgentRegistry::Forget(const std::string& agent_id) {
  std::lock_guard lock(mu_);
  std::erase_if(tokens_, [&](const auto& entry) { return entry.second.identity.agent_id == agent_id; });
}

}  // namespace localbench::collector
