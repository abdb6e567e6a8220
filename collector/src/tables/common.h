// Shared machinery of the tables: the embedded SQL, reading at a data
// version, request filters bound to SQL parameters, spreads, page tokens and
// the device-model directory. Internal to collector/src/tables.
#ifndef LOCALBENCH_COLLECTOR_SRC_TABLES_COMMON_H_
#define LOCALBENCH_COLLECTOR_SRC_TABLES_COMMON_H_

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <pqxx/pqxx>

#include "absl/base/thread_annotations.h"
#include "absl/status/statusor.h"
#include "localbench/common/names.h"
#include "localbench/collector/connection_pool.h"
#include "localbench/collector/tables.h"
#include "localbench/v1/query.pb.h"

namespace localbench::collector::tables {

// The text of collector/queries/tables/NAME.sql; crashes when absent (a
// build defect, not input).
const std::string& Sql(const std::string& name);

// A request's filter as SQL parameters. Empty strings and zeros match
// everything, so every statement has fixed parameters and no NULLs.
struct Filter {
  std::string vendor;        // devices.vendor
  std::string slugs;         // comma-separated device model slugs
  int64_t memory_min = 0;    // device memory at least
  int64_t memory_max = 0;    // at most; 0: no bound
  std::string preset;        // sweeps.model_preset
  std::string kind;          // sweeps.kind (SQL name)
  std::string precision;     // sweeps.precision
  int64_t length = 0;        // prompt (inference) or sequence (training) tokens
  std::string suite_version;
  std::string agent_version;
  std::string backend;
  int64_t prompt_tokens = 0;     // exact workload key fields (WorkloadKey)
  int64_t generated_tokens = 0;
  int64_t sequence_tokens = 0;
  int64_t lora_rank = 0;
  int64_t batch_size = 0;        // points at this batch only (point queries)
  // Training dimensions (WorkloadKey / TableFilter fields 8-12, 12-16); set,
  // each selects training rows with that value only.
  std::string activation_precision;  // "fp32", "fp16", "bf16"; "" any
  std::string checkpointing;         // "on", "off"; "" any
  int64_t accumulation_steps = 0;    // 1..1024; 0 any
  std::string accounting;            // "mixed", "lean"; "" any
  int64_t loss_chunks = -1;          // 0..1024; -1 any
};

// Validates and binds a TableFilter; errors name fields under `field`.
absl::StatusOr<Filter> BindFilter(const v1::TableFilter& f, const std::string& field);
// Adds a WorkloadKey's fields; `require` demands model_preset and kind.
absl::Status BindWorkload(const v1::WorkloadKey& w, const std::string& field, bool require, Filter* out);
// Checks a device model slug's shape (not its existence).
absl::Status CheckSlug(const std::string& slug, const std::string& field);

// Checks an id's shape (submission, verdict, token: RFC 4122 text form).
absl::Status CheckUuid(std::string_view id, const std::string& field);

// One read: a transaction, the version it reads at, and statement helpers.
class Reader {
 public:
  // `verify` decides which cells count as verified (SetSupport).
  Reader(pqxx::connection& conn, const VerifyRule& verify) : conn_(conn), tx_(conn), verify_(verify) {}

  // The verification rule of the service this read serves.
  const VerifyRule& verify() const { return verify_; }

  // Fixes the version: as_of (0: newest), or the one a page token binds.
  // INVALID_ARGUMENT for a negative or future as_of.
  absl::Status At(int64_t as_of);
  int64_t version() const { return version_; }
  // The DataVersion message of this read.
  v1::DataVersion Version() const;

  // Runs a table statement (filtered_sweeps.sql + NAME.sql) with the filter
  // and then `extra` parameters ($23 on).
  template <typename... Extra>
  pqxx::result Table(const std::string& name, const Filter& f, Extra&&... extra) {
    Prepare(name, true);
    return tx_.exec_prepared(name, version_, f.vendor, f.slugs, f.memory_min, f.memory_max, f.preset, f.kind,
                             f.precision, f.length, f.suite_version, f.agent_version, f.backend, f.prompt_tokens,
                             f.generated_tokens, f.sequence_tokens, f.lora_rank, f.batch_size,
                             f.activation_precision, f.checkpointing, f.accumulation_steps, f.accounting,
                             f.loss_chunks, std::forward<Extra>(extra)...);
  }
  // Runs a standalone statement NAME.sql with `args` as $1, $2, ...
  template <typename... Args>
  pqxx::result Plain(const std::string& name, Args&&... args) {
    Prepare(name, false);
    return tx_.exec_prepared(name, std::forward<Args>(args)...);
  }

  pqxx::transaction_base& tx() { return tx_; }

 private:
  void Prepare(const std::string& name, bool with_filter);
  pqxx::connection& conn_;
  pqxx::read_transaction tx_;
  int64_t version_ = 0;
  std::optional<int64_t> made_at_seconds_;
  int32_t made_at_nanos_ = 0;
  const VerifyRule verify_;
};

// Runs `body` on a pooled connection, verifying cells by `verify`; libpqxx
// errors become UNAVAILABLE (connection lost) or INTERNAL, never exceptions.
template <typename T>
absl::StatusOr<T> Read(ConnectionPool* pool, const VerifyRule& verify,
                       const std::function<absl::StatusOr<T>(Reader&)>& body);

// Reads a Spread from five columns starting at `first` (median, min, max,
// p25, p75); absent when the median is NULL.
std::optional<v1::Spread> SpreadAt(const pqxx::row& row, int first);
// Sets `support`: counts, `verified` when at least verify.quorum distinct
// machines stand behind the cell and their middle half (p25..p75 of the
// machines' medians of the headline figure) lies within verify.tolerance,
// and the label tables show ("verified", "2 machines, not yet verified").
void SetSupport(const VerifyRule& verify, int64_t machines, int64_t submissions, const v1::Spread* headline,
                v1::Support* support);

// Columns a workload key spans in a table statement's row.
inline constexpr int kKeyColumns = 12;
// Reads the workload key from kKeyColumns columns starting at `first`
// (preset, kind, precision, prompt, generated, sequence, lora rank, then the
// stored training dimensions: activation precision, checkpointing,
// accumulation steps, full fine-tune accounting, loss chunks), in its served
// form (CanonicalWorkloadKey: dimensions set on training kinds only).
v1::WorkloadKey WorkloadAt(const pqxx::row& row, int first);
// A comparable string of a workload key's canonical form (for grouping and
// choosing): keys naming the same cell give the same string.
std::string KeyString(const v1::WorkloadKey& w);

// Enum names as SQL stores them, and back.
v1::Vendor ParseVendor(std::string_view s);
v1::Backend ParseBackend(std::string_view s);
v1::WorkloadKind ParseKind(std::string_view s);
v1::Precision ParsePrecision(std::string_view s);

// Device models at the reader's version: the catalogue plus models seen in
// public results, keyed by slug.
using Directory = std::map<std::string, v1::DeviceModel>;

// Remembers the directory of one version (the newest read), shared by
// concurrent requests; another version replaces it.
class DirectoryCache {
 public:
  std::shared_ptr<const Directory> Get(int64_t version);
  void Put(int64_t version, std::shared_ptr<const Directory> dir);

 private:
  std::mutex mu_;
  int64_t version_ ABSL_GUARDED_BY(mu_) = -1;
  std::shared_ptr<const Directory> dir_ ABSL_GUARDED_BY(mu_);
};

// The directory at the reader's version, from `cache` when it holds it.
absl::StatusOr<std::shared_ptr<const Directory>> LoadDirectory(Reader& rd, DirectoryCache* cache);
// The model or NOT_FOUND naming `field`.
absl::StatusOr<v1::DeviceModel> FindModel(const Directory& dir, const std::string& slug, const std::string& field);

// Paging: which rows of a full, ordered result a request gets.
struct PageWindow {
  std::size_t offset = 0;
  std::size_t size = 100;
  int64_t version = 0;  // bound by the token (0: none given)
};
// Reads page_size and page_token. `request_digest` fingerprints the request
// without its paging, so a token cannot be replayed on another query.
absl::StatusOr<PageWindow> ParsePage(const v1::Page& page, uint64_t request_digest, const std::string& field);
// The token for the page after `w` (empty when `total` rows are exhausted).
std::string NextPageToken(const PageWindow& w, std::size_t total, int64_t version, uint64_t request_digest);
// FNV-1a of a message's deterministic serialisation (stable across processes).
uint64_t Digest(const google::protobuf::Message& m);

// Stable-sorts `rows` by a named key when `sort` is set: `keys` maps column
// names to comparable values; "-name" sorts descending. INVALID_ARGUMENT
// naming `field` for an unknown column.
template <typename Row>
absl::Status SortRows(std::vector<Row>* rows, const std::string& sort, const std::string& field,
                      const std::map<std::string, std::function<double(const Row&)>, std::less<>>& keys);

// Natural order of version strings ("9.1" < "10.0"): digit runs compare as numbers.
bool VersionLess(std::string_view a, std::string_view b);

// The agent command that measures `w` at `batch` on `device` ("cuda", "cpu").
std::string MeasureCommand(const v1::WorkloadKey& w, uint32_t batch, const std::string& device);

}  // namespace localbench::collector::tables

#include "tables/common_inl.h"

#endif  // LOCALBENCH_COLLECTOR_SRC_TABLES_COMMON_H_
