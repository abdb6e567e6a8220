// The one write path for submissions: group commit with COPY.
//
// Concurrent Submit calls queue here; a caller that finds a writer slot free
// becomes the writer for everything queued (up to kMaxGroup) and writes it
// as one transaction: take the next data version (and with it the lock that
// orders all ingest transactions), look up which ids are stored already,
// then COPY the new submissions, their sweeps and points straight into the
// tables, as a bulk load would. Every submission stays all-or-nothing (the
// transaction is), and one commit covers the group.
#ifndef LOCALBENCH_COLLECTOR_SUBMISSION_WRITER_H_
#define LOCALBENCH_COLLECTOR_SUBMISSION_WRITER_H_

#include <condition_variable>
#include <cstdint>
#include <cstddef>
#include <deque>
#include <functional>
#include <mutex>
#include <optional>
#include <string>
#include <unordered_map>
#include <utility>
#include <vector>

#include <pqxx/pqxx>

#include "absl/base/thread_annotations.h"
#include "absl/status/statusor.h"
#include "localbench/collector/connection_pool.h"
#include "localbench/collector/plausibility.h"
#include "localbench/collector/rows.h"
#include "localbench/v1/ingest.pb.h"

namespace localbench::collector {

// Writes canonical, attributed submissions exactly once. Thread-safe.
class SubmissionWriter {
 public:
  // At most `writers` (>= 1) group transactions run at once; `pool` must
  // outlive the writer and its connections be prepared with Prepare. Each
  // new submission is judged by `rules` in its storing transaction: an
  // implausible one is stored with its findings and flagged (plausibility.h).
  SubmissionWriter(ConnectionPool* pool, int writers, PlausibilityRules rules = {});

  // Prepares the writer's statements on a new connection.
  static void Prepare(pqxx::connection& conn);

  // Stores `r` through group commit and returns its reply. The first store
  // of an id wins. The same agent repeating it with the same payload gets the
  // first reply and writes nothing; with another payload, or any other agent
  // using the id, gets ALREADY_EXISTS that says nothing about the stored
  // submission. `cancelled` (may be null) is polled while the group forms
  // and again just before commit: a submission whose client has gone is
  // left out (CANCELLED) and the rest are written without it.
  absl::StatusOr<v1::SubmitResponse> Write(const SubmissionRecord& r, const std::function<bool()>* cancelled);

  // Writes `records` as one group now, as Write does for concurrent callers
  // (for tests and tools). Results are in input order.
  std::vector<absl::StatusOr<v1::SubmitResponse>> WriteGroup(const std::vector<const SubmissionRecord*>& records);

  // Most submissions in one group transaction.
  static constexpr std::size_t kMaxGroup = 64;

 private:
  // One submission of a group on its way through.
  struct Member {
    const SubmissionRecord* r = nullptr;
    const std::function<bool()>* cancelled = nullptr;
    std::optional<absl::StatusOr<v1::SubmitResponse>> answer;  // set when decided
    bool Gone() const { return cancelled != nullptr && *cancelled && (*cancelled)(); }
  };
  // A caller waiting in the queue; `result` is written under mu_.
  struct Waiter {
    Member member;
    std::optional<absl::StatusOr<v1::SubmitResponse>> result;
  };
  // Answers every member of `group`; a group the database refuses as a
  // whole is retried member by member, so one bad row fails alone.
  void WriteAll(std::vector<Member*>& group);
  // One transaction for the unanswered members of `group` (ids may repeat).
  // On success every member is answered; on a database error nothing is
  // stored and the error's status is returned.
  absl::Status TryTransaction(std::vector<Member*>& group);
  // The machine and device row ids of `s`, from the cache or found (or
  // created) in `tx`; cached only once `tx` has committed (CacheIds).
  int64_t MachineId(pqxx::transaction_base& tx, const v1::Submission& s);
  int64_t DeviceId(pqxx::transaction_base& tx, const v1::Submission& s);
  void CacheIds(const std::vector<std::pair<std::string, int64_t>>& machines,
                const std::vector<std::pair<std::string, int64_t>>& devices);

  ConnectionPool* const pool_;
  const int writers_;
  const PlausibilityRules rules_;
  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<Waiter*> queue_ ABSL_GUARDED_BY(mu_);  // waiting for a writer
  int active_ ABSL_GUARDED_BY(mu_) = 0;              // group transactions running
  // Reference rows are never deleted, so their ids may be kept once the
  // transaction that found or created them has committed.
  std::mutex ids_mu_;
  std::unordered_map<std::string, int64_t> machine_ids_ ABSL_GUARDED_BY(ids_mu_);  // fingerprint ->
  std::unordered_map<std::string, int64_t> device_ids_ ABSL_GUARDED_BY(ids_mu_);   // DeviceKey ->
};

}  // namespace localbench::collector

#endif  // LOCALBENCH_COLLECTOR_SUBMISSION_WRITER_H_
