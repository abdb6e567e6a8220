// Storage of agents and submissions in PostgreSQL: the ingest logic, apart
// from gRPC wiring, so tests and benchmarks call it directly.
#ifndef LOCALBENCH_COLLECTOR_STORE_H_
#define LOCALBENCH_COLLECTOR_STORE_H_

#include <chrono>
#include <cstdint>
#include <functional>
#include <mutex>
#include <string>
#include <string_view>
#include <unordered_map>

#include <pqxx/pqxx>

#include "absl/status/statusor.h"
#include "localbench/collector/connection_pool.h"
#include "localbench/v1/ingest.pb.h"

namespace localbench::collector {

// Enrols agents, authenticates their tokens and stores submissions exactly
// once. Thread-safe: each call leases its own connection from the pool.
class SubmissionStore {
 public:
  // `pool` must have been created with SubmissionStore::Prepare as preparer
  // and must outlive the store.
  explicit SubmissionStore(ConnectionPool* pool) : pool_(pool) {}

  // Prepares this store's statements on a new connection.
  static void Prepare(pqxx::connection& conn);

  // Creates an agent with a fresh random token; stores only the token's
  // SHA-256. The request must already be validated.
  absl::StatusOr<v1::EnrollResponse> Enroll(const v1::EnrollRequest& request);

  // The agent id owning `token`, or UNAUTHENTICATED. Successful look-ups are
  // cached for a short while (kTokenCacheTtl) to save a round trip per
  // Submit; a revoked token therefore stops working within that time.
  absl::StatusOr<std::string> Authenticate(std::string_view token);

  // Stores a validated submission in one transaction: all its rows or none.
  // The first store of an id wins; a repeat with the same payload gets the
  // first reply and writes nothing; a repeat with another payload gets
  // ALREADY_EXISTS. Safe under concurrent identical submits (the primary key
  // decides, not a prior look-up). `cancelled` is polled before committing:
  // when it returns true the transaction is rolled back and CANCELLED
  // returned, so a client that gave up never gets a half-known result.
  absl::StatusOr<v1::SubmitResponse> Submit(std::string_view agent_id, const v1::Submission& submission,
                                            const std::function<bool()>& cancelled = nullptr);

  // How long a successful token look-up is trusted without the database.
  static constexpr std::chrono::seconds kTokenCacheTtl{30};

  // The bytes stored as `payload`: deterministic serialisation of `s`
  // (unknown fields included), hashed for idempotency.
  static std::string CanonicalPayload(const v1::Submission& s);

 private:
  absl::StatusOr<int64_t> MachineId(pqxx::work& tx, const std::string& fingerprint);
  absl::StatusOr<int64_t> DeviceId(pqxx::work& tx, const v1::Device& device);

  ConnectionPool* pool_;
  std::mutex mu_;
  // Reference rows are never deleted, so their ids may be cached once the
  // transaction that created or found them has committed.
  std::unordered_map<std::string, int64_t> machine_ids_;
  std::unordered_map<std::string, int64_t> device_ids_;
  struct CachedAgent {
    std::string agent_id;
    std::chrono::steady_clock::time_point expires;
  };
  std::unordered_map<std::string, CachedAgent> tokens_;  // token SHA-256 -> agent
};

// The SQL text name of each enum value, as stored in the schema.
const char* BackendName(v1::Backend b);
const char* VendorName(v1::Vendor v);
const char* KindName(v1::WorkloadKind k);
const char* PrecisionName(v1::Precision p);
const char* StatusName(v1::PointStatus s);

// "YYYY-MM-DD HH:MM:SS.ffffff+00": a Timestamp as PostgreSQL timestamptz
// input (microseconds, PostgreSQL's resolution; nanoseconds truncated).
std::string TimestampText(const google::protobuf::Timestamp& t);

}  // namespace localbench::collector

#endif  // LOCALBENCH_COLLECTOR_STORE_H_
