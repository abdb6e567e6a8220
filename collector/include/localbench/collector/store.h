// Storage of agents and submissions in PostgreSQL: the ingest logic, apart
// from gRPC wiring, so tests and benchmarks call it directly. The pieces:
// AgentRegistry (enrolment, tokens), SubmissionWriter (the one write path:
// group commit with COPY), rows.h (one row encoder per table) and
// collector/queries/*.sql (every statement, in its own file).
#ifndef LOCALBENCH_COLLECTOR_STORE_H_
#define LOCALBENCH_COLLECTOR_STORE_H_

#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include <pqxx/pqxx>

#include "absl/status/statusor.h"
#include "localbench/collector/agent_registry.h"
#include "localbench/collector/connection_pool.h"
#include "localbench/collector/submission_writer.h"
#include "localbench/v1/ingest.pb.h"

namespace localbench::collector {

// Enrols agents, authenticates their tokens and stores submissions exactly
// once, each bound to the machine its agent enrolled for. Thread-safe.
class SubmissionStore {
 public:
  // `pool` must have been created with SubmissionStore::Prepare as preparer
  // and must outlive the store. `writers` bounds the group-commit
  // transactions running at once; 0 picks the default (kDefaultWriters, at
  // most the pool's size).
  // `rules` judge each new submission's plausibility (plausibility.h).
  explicit SubmissionStore(ConnectionPool* pool, int writers = 0, PlausibilityRules rules = {});

  // Prepares the store's statements on a new connection.
  static void Prepare(pqxx::connection& conn);

  // Creates an agent with a fresh random token; stores only the token's
  // SHA-256. The request must already be validated.
  absl::StatusOr<v1::EnrollResponse> Enroll(const v1::EnrollRequest& request) { return agents_.Enroll(request); }

  // The agent holding `token` and its enrolled machine, or UNAUTHENTICATED
  // (see AgentRegistry::Authenticate for the cache).
  absl::StatusOr<AgentIdentity> Authenticate(std::string_view token) { return agents_.Authenticate(token); }

  // Forgets a cached agent token at once (see AgentRegistry::Forget).
  void ForgetAgent(const std::string& agent_id) { agents_.Forget(agent_id); }

  // Stores a validated submission from `agent`, all its rows or none.
  // PERMISSION_DENIED when its machine_fingerprint is not the agent's
  // enrolled machine. The submission id is compared and stored in canonical
  // lower-case form (replies carry that form). The first store of an id
  // wins; the same agent repeating it with the same payload gets the first
  // reply and writes nothing; anything else under that id (another payload,
  // another agent) gets ALREADY_EXISTS revealing nothing of the stored one.
  // Serialization failures and deadlocks are ABORTED (retry).
  // `cancelled` is polled before commit: when it returns true nothing of this
  // submission is stored and CANCELLED returned.
  absl::StatusOr<v1::SubmitResponse> Submit(const AgentIdentity& agent, const v1::Submission& submission,
                                            const std::function<bool()>& cancelled = nullptr);

  // Writes validated submissions from `agent` as one group, as group commit
  // does with concurrent ones (for tests and tools): one transaction for all
  // that are new, each still all-or-nothing. Results are in input order and
  // are what Submit would have returned for each.
  std::vector<absl::StatusOr<v1::SubmitResponse>> SubmitMany(const AgentIdentity& agent,
                                                             const std::vector<v1::Submission>& submissions);

  // Group transactions at once when the constructor is given 0. One: every
  // ingest transaction holds the data-version counter's row lock from its
  // version to its commit, so a second writer only waits there with half the
  // group (measured: 0.13x of COPY with 2 writers against 0.28x with 1,
  // back to back, docs/BENCHMARKS.md).
  static constexpr int kDefaultWriters = 1;

  // The bytes stored as `payload`: deterministic serialisation of `s`
  // (unknown fields included), hashed for idempotency.
  static std::string CanonicalPayload(const v1::Submission& s);

 private:
  // `s` prepared for the writer (canonical id, payload, hash), or
  // PERMISSION_DENIED. `copy` holds the canonical form when `s` needed one.
  static absl::StatusOr<SubmissionRecord> Record(const AgentIdentity& agent, const v1::Submission& s,
                                                 v1::Submission* copy);

  AgentRegistry agents_;
  SubmissionWriter writer_;
};

}  // namespace localbench::collector

#endif  // LOCALBENCH_COLLECTOR_STORE_H_
