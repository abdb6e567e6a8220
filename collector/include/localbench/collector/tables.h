// The read side: reproducible benchmark tables computed from versioned rows.
// Transport-free (the gRPC QueryService and the HTTP API both call it), so
// tests and benchmarks reach it directly.
//
// A response is a pure function of (request, data version): every method
// reads at `read.as_of` (0: the newest version) and names that version, and
// rows are ordered by a full key, so the same request at the same version
// serialises to the same bytes whatever was stored or moderated since.
#ifndef LOCALBENCH_COLLECTOR_TABLES_H_
#define LOCALBENCH_COLLECTOR_TABLES_H_

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "localbench/collector/connection_pool.h"
#include "localbench/v1/query.pb.h"

namespace localbench::collector {

namespace tables {
class DirectoryCache;
}

// When a table cell counts as verified (BOINC's quorum): at least `quorum`
// distinct machines, and the middle half of their medians of the cell's
// headline figure (p25..p75) within `tolerance` (p75 <= p25 x (1 +
// tolerance)). Each machine votes once, whatever it submitted.
struct VerifyRule {
  uint32_t quorum = 3;     // distinct machines; at least 2: one never verifies alone
  double tolerance = 0.25;  // in (0, 1]

  // INVALID_ARGUMENT naming the field when out of range.
  absl::Status Check() const;
};

// Serves every Query table. Thread-safe: each call leases its own connection.
class TableService {
 public:
  // `pool` must outlive the service. Any pool works: statements are prepared
  // on first use on each connection. `verify` must pass VerifyRule::Check.
  explicit TableService(ConnectionPool* pool, VerifyRule verify = {});
  ~TableService();
  TableService(const TableService&) = delete;
  TableService& operator=(const TableService&) = delete;

  // The newest data version (one indexed row read), for cache keys.
  absl::StatusOr<int64_t> LatestVersion();

  // Device models: the catalogue plus every model seen in public results.
  absl::StatusOr<v1::DeviceModelList> ListDeviceModels(const v1::ListDeviceModelsRequest& request);
  // OOM thresholds per device model and workload.
  absl::StatusOr<v1::OomTable> GetOomTable(const v1::OomTableRequest& request);
  // Tokens/s and memory per batch size for one device model and workload.
  absl::StatusOr<v1::BatchCurve> GetBatchCurve(const v1::BatchCurveRequest& request);
  // Device models side by side on one workload and batch size.
  absl::StatusOr<v1::HardwareComparison> CompareHardware(const v1::CompareHardwareRequest& request);
  // One device model across driver, runtime and agent versions.
  absl::StatusOr<v1::StackDeltaTable> GetStackDeltas(const v1::StackDeltaRequest& request);
  // Whether a workload fits a device model or memory size, and how fast.
  absl::StatusOr<v1::WillItRunAnswer> WillItRun(const v1::WillItRunRequest& request);
  // The largest preset that fits at a batch size (and speed).
  absl::StatusOr<v1::LargestModelAnswer> LargestModel(const v1::LargestModelRequest& request);
  // One submission's percentile among its device model's machines.
  absl::StatusOr<v1::StackUpAnswer> StackUp(const v1::StackUpRequest& request);

  // The older RPCs, served from the same versioned rows.
  absl::StatusOr<v1::Table> GetTable(const v1::GetTableRequest& request);
  absl::StatusOr<v1::ListDevicesResponse> ListDevices(const v1::ListDevicesRequest& request);
  absl::StatusOr<v1::GetSubmissionResponse> GetSubmission(const v1::GetSubmissionRequest& request);
  absl::StatusOr<v1::ListSweepsResponse> ListSweeps(const v1::ListSweepsRequest& request);

  // The rule cells are verified by.
  const VerifyRule& verify() const { return verify_; }

 private:
  ConnectionPool* pool_;
  VerifyRule verify_;
  // The device-model directory of the newest version read (a pure function
  // of the version, needed by every request).
  std::unique_ptr<tables::DirectoryCache> directory_;
};

// An editorial action on one submission: "flag", "retract" or "restore".
// Appends a moderation event and advances the data version in the same
// transaction; returns the new version. NOT_FOUND for an unknown submission,
// INVALID_ARGUMENT (naming the field) for a bad action, reason or actor.
// The editors' tools call this; tests use it to hide and restore rows.
absl::StatusOr<int64_t> RecordModeration(ConnectionPool& pool, std::string_view submission_id,
                                         std::string_view action, std::string_view reason,
                                         std::string_view actor);

}  // namespace localbench::collector

#endif  // LOCALBENCH_COLLECTOR_TABLES_H_
