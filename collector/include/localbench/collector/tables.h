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
#include <vector>

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

// What a new verdict cites: the figures of its cells at one data version.
struct VerdictCitation {
  std::string slug;                     // the device model
  int64_t version = 0;                  // the version the figures were read at
  std::vector<v1::CitedCell> cells;     // "then" fields set
  std::vector<double> largest_ok_batch; // per cell: the OOM threshold unrounded
};

// Serves every Query table. Thread-safe: each call leases its own connection.
class TableService {
 public:
  // A verdict goes stale when a cited tokens/s figure moves by more than
  // this fraction (the collector's --verdict-threshold).
  static constexpr double kDefaultVerdictThreshold = 0.10;

  // `pool` must outlive the service. Any pool works: statements are prepared
  // on first use on each connection. `verify` must pass VerifyRule::Check.
  explicit TableService(ConnectionPool* pool, VerifyRule verify = {},
                        double verdict_threshold = kDefaultVerdictThreshold);
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

  // Editors' verdicts with their cited figures then and now and staleness.
  absl::StatusOr<v1::VerdictList> ListVerdicts(const v1::ListVerdictsRequest& request);
  // The public change log: moderation actions at or before the version read.
  absl::StatusOr<v1::ChangeList> ListChanges(const v1::ListChangesRequest& request);

  // For the editors' store (read at the newest version): what a verdict on
  // `device_model` (a slug, or a name the catalogue knows) for `workload`
  // (null: the whole model) cites. NOT_FOUND for an unknown model,
  // FAILED_PRECONDITION when nothing public is measured to cite.
  absl::StatusOr<VerdictCitation> Cite(const std::string& device_model, const v1::WorkloadKey* workload);
  // One verdict as served at the newest version; NOT_FOUND when unknown.
  absl::StatusOr<v1::Verdict> GetVerdict(const std::string& verdict_id);

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
  double verdict_threshold_;
  // The device-model directory of the newest version read (a pure function
  // of the version, needed by every request).
  std::unique_ptr<tables::DirectoryCache> directory_;
};

// An editorial action on one submission: "flag", "retract" or "restore".
// Appends a moderation event and advances the data version in the same
// transaction; returns the new version. NOT_FOUND for an unknown submission,
// INVALID_ARGUMENT (naming the field) for a bad action, reason or actor.
// Tools and tests call this directly; the Admin service goes through
// EditorStore::Moderate, which also checks the submission's state and
// records the acting token (`actor_token_id`, a UUID; "" none).
absl::StatusOr<int64_t> RecordModeration(ConnectionPool& pool, std::string_view submission_id,
                                         std::string_view action, std::string_view reason,
                                         std::string_view actor, std::string_view actor_token_id = "");

}  // namespace localbench::collector

#endif  // LOCALBENCH_COLLECTOR_TABLES_H_
