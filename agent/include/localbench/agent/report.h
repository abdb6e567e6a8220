// Local reports of a submission: the table a volunteer reads before
// deciding to publish, CSV for spreadsheets, and the protobuf JSON mapping.
#ifndef LOCALBENCH_AGENT_REPORT_H_
#define LOCALBENCH_AGENT_REPORT_H_

#include <string>

#include "absl/status/statusor.h"
#include "localbench/v1/results.pb.h"

namespace localbench::agent {

// A fixed-width text table: a header naming the device and suite, then one
// row per point and one OOM-bracket line per sweep.
std::string FormatTable(const v1::Submission& submission);

// CSV with a header row and one row per point (RFC 4180 quoting).
std::string FormatCsv(const v1::Submission& submission);

// The protobuf JSON mapping of the submission (what the site serves).
absl::StatusOr<std::string> FormatJson(const v1::Submission& submission);

// Parses the protobuf JSON mapping back (unknown fields are an error).
absl::StatusOr<v1::Submission> ParseJson(const std::string& json);

// Parses a results file's bytes as `show` and `upload FILE` read them: the
// JSON mapping when the first non-blank byte is '{', else binary (see
// ParseSubmissionBytes). `origin` names the file in errors.
absl::StatusOr<v1::Submission> ParseResults(const std::string& bytes, const std::string& origin);

// Short text for a point's status: "ok", "OOM", "error", "won't fit".
std::string StatusText(v1::PointStatus status);

}  // namespace localbench::agent

#endif  // LOCALBENCH_AGENT_REPORT_H_
