// Verdicts on the read side: the figures a verdict cites, reading verdicts
// at a data version with their staleness, and attaching them to tables.
// Internal to collector/src (the tables and the editors' store use it).
#ifndef LOCALBENCH_COLLECTOR_SRC_TABLES_VERDICTS_H_
#define LOCALBENCH_COLLECTOR_SRC_TABLES_VERDICTS_H_

#include <string>
#include <vector>

#include "tables/common.h"

namespace localbench::collector::tables {

// Verdicts cite tokens/s at this batch (every measured workload has it).
inline constexpr uint32_t kCitedBatch = 1;

// True when a verdict on workload `judged` covers the cell `cell`: equal
// preset and kind, and every other field of `judged` that is set equal.
bool WorkloadCovers(const v1::WorkloadKey& judged, const v1::WorkloadKey& cell);

// A cell to cite: its "then" fields set, and the OOM threshold unrounded
// (a median over machines may fall between two batches).
struct CitedFigure {
  v1::CitedCell cell;
  double largest_ok_batch = 0;
};

// The cells of device model `slug` covered by `judged` (null: every
// workload) at the reader's version, with their figures in the "then"
// fields; in workload key order. Empty when nothing public is measured.
std::vector<CitedFigure> CiteCells(Reader& rd, const Directory& dir, const std::string& slug,
                                     const v1::WorkloadKey* judged);

// Verdicts visible at the reader's version on device models `slugs`
// (comma-separated; "" all), or only verdict `verdict_id` ("" any): each
// with its cited cells then and now, stale flag and reasons. A cell moved
// when tokens/s changed by more than `threshold` (a fraction), the OOM
// threshold changed, or machines were lost. Ordered by device model, then
// workload, then id.
std::vector<v1::Verdict> VerdictsAt(Reader& rd, const Directory& dir, const std::string& slugs,
                                    const std::string& verdict_id, double threshold);

// Adds to `out` the verdicts at the reader's version on the device models
// of `cells` (slug, workload pairs): whole-model verdicts, and those whose
// workload covers one of that model's cells.
void AttachVerdicts(Reader& rd, const Directory& dir,
                    const std::vector<std::pair<std::string, v1::WorkloadKey>>& cells, double threshold,
                    google::protobuf::RepeatedPtrField<v1::Verdict>* out);

}  // namespace localbench::collector::tables

#endif  // LOCALBENCH_COLLECTOR_SRC_TABLES_VERDICTS_H_
