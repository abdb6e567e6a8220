// Plausibility at ingest, inside the storing transaction: reads the device
// model's catalogue figures and the other machines' medians, runs the checks
// (plausibility.h), and stores findings with a flag. Internal to the writer.
#ifndef LOCALBENCH_COLLECTOR_SRC_JUDGE_H_
#define LOCALBENCH_COLLECTOR_SRC_JUDGE_H_

#include <cstdint>
#include <vector>

#include <pqxx/pqxx>

#include "localbench/collector/plausibility.h"
#include "localbench/v1/results.pb.h"

namespace localbench::collector {

// Most findings stored per submission (the flag's reason counts them all):
// one bad figure repeated over thousands of points is one story.
inline constexpr std::size_t kMaxStoredFindings = 32;

// The statements JudgeSubmission runs (prepared by SubmissionWriter::Prepare).
inline constexpr const char* kJudgeQueries[] = {"plausibility_catalogue", "plausibility_peers",
                                                "plausibility_finding_insert", "plausibility_flag"};

// Checks `s`, just written in `tx` as machine `machine_id` on device
// `device_id` at data version `version`; when it is implausible, stores the
// findings and flags it at `version` (so it is never public unreviewed).
// Returns the findings. Throws what libpqxx throws (the writer's
// transaction handles it).
std::vector<Finding> JudgeSubmission(pqxx::transaction_base& tx, const v1::Submission& s, int64_t machine_id,
                                     int64_t device_id, int64_t version, const PlausibilityRules& rules);

}  // namespace localbench::collector

#endif  // LOCALBENCH_COLLECTOR_SRC_JUDGE_H_
