// Enrolment and token checks: who an agent is and which machine it may
// report for. Kept apart from the submission writer so each can be read
// (and tested) on its own.
#ifndef LOCALBENCH_COLLECTOR_AGENT_REGISTRY_H_
#define LOCALBENCH_COLLECTOR_AGENT_REGISTRY_H_

#include <chrono>
#include <mutex>
#include <string>
#include <string_view>
#include <unordered_map>

#include <pqxx/pqxx>

#include "absl/base/thread_annotations.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "localbench/collector/connection_pool.h"
#include "localbench/v1/ingest.pb.h"

namespace localbench::collector {

// An authenticated agent: its id and the machine it enrolled for. Submit
// takes it, and refuses submissions for any other machine.
struct AgentIdentity {
  std::string agent_id;             // canonical (lower-case) UUID
  std::string machine_fingerprint;  // as enrolled: 64 lower-case hex
};

// Enrols agents and resolves bearer tokens to identities. Thread-safe.
class AgentRegistry {
 public:
  // `pool` must outlive the registry; its connections must have been
  // prepared with AgentRegistry::Prepare.
  explicit AgentRegistry(ConnectionPool* pool) : pool_(pool) {}

  // Prepares the registry's statements on a new connection.
  static void Prepare(pqxx::connection& conn);

  // Creates an agent with a fresh random token for the request's machine;
  // stores only the token's SHA-256. The request must already be validated.
  absl::StatusOr<v1::EnrollResponse> Enroll(const v1::EnrollRequest& request);

  // The agent holding `token`, or UNAUTHENTICATED. Successful look-ups are
  // cached for kTokenCacheTtl to save a round trip per Submit; a revoked
  // token therefore stops working within that time.
  absl::StatusOr<AgentIdentity> Authenticate(std::string_view token);

  // Drops agent `agent_id` from the token cache (its token was revoked), so
  // this process refuses it on the next call. Other collectors behind the
  // same database stop trusting it within kTokenCacheTtl.
  void Forget(const std::string& agent_id);

  // How long a successful token look-up is trusted without the database.
  static constexpr std::chrono::seconds kTokenCacheTtl{30};

 private:
  struct CachedAgent {
    AgentIdentity identity;
    std::chrono::steady_clock::time_point expires;
  };

  ConnectionPool* const pool_;
  std::mutex mu_;
  // Token SHA-256 -> agent; bounded (cleared when it grows past 100k
  // entries) so spraying random tokens cannot grow it without limit.
  std::unordered_map<std::string, CachedAgent> tokens_ ABSL_GUARDED_BY(mu_);
};

}  // namespace localbench::collector

#endif  // LOCALBENCH_COLLECTOR_AGENT_REGISTRY_H_
