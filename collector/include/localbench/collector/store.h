// Storage of agents and submissions in PostgreSQL: the ingest logic, apart
// from gRPC wiring, so tests and benchmarks call it directly.
#ifndef LOCALBENCH_COLLECTOR_STORE_H_
#define LOCALBENCH_COLLECTOR_STORE_H_

#include <chrono>
#include <condition_variable>
#include <deque>
#include <cstdint>
#include <functional>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

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
  // `batch_writers` > 0 turns on group commit: at most that many
  // transactions write at once, each carrying every submission queued
  // meanwhile (up to kMaxBatch). 0 writes each submission on its own.
  explicit SubmissionStore(ConnectionPool* pool, int batch_writers = 0)
      : pool_(pool), batch_writers_(batch_writers) {}

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

  // Writes validated submissions as one group, as group commit does with
  // concurrent ones: those whose machine and device are known share one
  // statement (one commit); the rest, and any the shared statement refuses,
  // go one by one. Each result is what Submit would have returned for it;
  // repeated ids within the group get the first one's reply.
  std::vector<absl::StatusOr<v1::SubmitResponse>> SubmitMany(std::string_view agent_id,
                                                             const std::vector<v1::Submission>& submissions);

  // Most submissions written by one group-commit transaction.
  static constexpr std::size_t kMaxBatch = 64;

  // How long a successful token look-up is trusted without the database.
  static constexpr std::chrono::seconds kTokenCacheTtl{30};

  // The bytes stored as `payload`: deterministic serialisation of `s`
  // (unknown fields included), hashed for idempotency.
  static std::string CanonicalPayload(const v1::Submission& s);

 private:
  struct Pending;
  static Pending MakePending(std::string_view agent_id, const v1::Submission& s,
                             const std::function<bool()>* cancelled);
  absl::StatusOr<v1::SubmitResponse> SubmitAlone(Pending& p);
  std::vector<absl::StatusOr<v1::SubmitResponse>> WriteBatch(std::vector<Pending*> batch);
  absl::StatusOr<v1::SubmitResponse> Insert(pqxx::transaction_base& tx, const Pending& p, int64_t machine_id,
                                            int64_t device_id, bool* fresh);
  static void LogStored(const Pending& p, bool fresh);
  static void AppendSubmissionJson(std::string* json, const Pending& p, int64_t machine_id, int64_t device_id);
  absl::StatusOr<int64_t> MachineId(pqxx::transaction_base& tx, const std::string& fingerprint);
  absl::StatusOr<int64_t> DeviceId(pqxx::transaction_base& tx, const v1::Device& device);
  std::optional<int64_t> CachedMachineId(const std::string& fingerprint);
  std::optional<int64_t> CachedDeviceId(const std::string& device_key);

  ConnectionPool* pool_;
  const int batch_writers_;
  // Group commit: submissions waiting for a writer, and writers at work.
  std::mutex batch_mu_;
  std::condition_variable batch_cv_;
  std::deque<Pending*> queue_;
  int active_writers_ = 0;

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
