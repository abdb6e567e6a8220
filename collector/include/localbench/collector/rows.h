// Row encoders: one per table, each the only place that lists that table's
// columns in the order the writer (and the ingest benchmark's raw COPY)
// COPYs them. They write PostgreSQL's COPY
// text format (tab-separated, \N for NULL, backslash escapes), so a group of
// submissions travels in bulk and no value is ever spliced into SQL.
#ifndef LOCALBENCH_COLLECTOR_ROWS_H_
#define LOCALBENCH_COLLECTOR_ROWS_H_

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include <google/protobuf/timestamp.pb.h>
#include <pqxx/pqxx>

#include "localbench/v1/results.pb.h"

namespace localbench::collector {

// A submission ready to write: its canonical form, who sends it, and the
// figures derived once from it.
struct SubmissionRecord {
  std::string agent_id;           // canonical (lower-case) UUID of the sender
  const v1::Submission* s = nullptr;  // canonical: lower-case submission_id
  std::string payload;            // CanonicalPayload(*s): the stored bytes
  std::string sha;                // SHA-256 hex of payload: "same payload"
  int point_count = 0;            // points over all sweeps
};

// Columns of submissions in the order CopySubmission writes them
// (received_at is left to its default, now()).
const std::vector<std::string>& SubmissionColumns();
// Columns of sweeps in the order CopySweeps writes them.
const std::vector<std::string>& SweepColumns();
// Columns of points in the order CopyPoints writes them.
const std::vector<std::string>& PointColumns();

// Writes `r` as one row of submissions, linked to its machine and device
// rows and visible from `data_version` on.
void CopySubmission(pqxx::stream_to& out, const SubmissionRecord& r, int64_t machine_id, int64_t device_id,
                    int64_t data_version);
// Writes every sweep of `s` as a row of sweeps.
void CopySweeps(pqxx::stream_to& out, const v1::Submission& s);
// Writes every point of `s` as a row of points. Telemetry the agent could
// not read (unset optional fields) is written as NULL, never as 0.
void CopyPoints(pqxx::stream_to& out, const v1::Submission& s);

// "YYYY-MM-DD HH:MM:SS.ffffff+00": a Timestamp as PostgreSQL timestamptz
// input (microseconds, PostgreSQL's resolution; nanoseconds truncated).
std::string TimestampText(const google::protobuf::Timestamp& t);

// A Timestamp from microseconds since the epoch (as the queries return
// received_at).
google::protobuf::Timestamp FromMicros(int64_t micros);

}  // namespace localbench::collector

#endif  // LOCALBENCH_COLLECTOR_ROWS_H_
