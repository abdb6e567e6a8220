#include "localbench/collector/store.h"

#include <algorithm>
#include <memory>

#include <google/protobuf/io/coded_stream.h>
#include <google/protobuf/io/zero_copy_stream_impl_lite.h>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "localbench/common/crypto.h"

namespace localbench::collector {
namespace {

int WritersFor(const ConnectionPool* pool, int writers) {
  const int size = static_cast<int>(pool->size());
  const int wanted = writers > 0 ? writers : SubmissionStore::kDefaultWriters;
  return std::max(1, std::min(wanted, size));
}

bool HasUpper(std::string_view s) {
  return std::any_of(s.begin(), s.end(), [](char c) { return absl::ascii_isupper(static_cast<unsigned char>(c)); });
}

}  // namespace

SubmissionStore::SubmissionStore(ConnectionPool* pool, int writers, PlausibilityRules rules)
    : agents_(pool), writer_(pool, WritersFor(pool, writers), rules) {}

void SubmissionStore::Prepare(pqxx::connection& conn) {
  AgentRegistry::Prepare(conn);
  SubmissionWriter::Prepare(conn);
}

std::string SubmissionStore::CanonicalPayload(const v1::Submission& s) {
  std::string out;
  {
    google::protobuf::io::StringOutputStream raw(&out);
    google::protobuf::io::CodedOutputStream coded(&raw);
    coded.SetSerializationDeterministic(true);
    s.SerializeToCodedStream(&coded);
  }
  return out;
}

absl::StatusOr<SubmissionRecord> SubmissionStore::Record(const AgentIdentity& agent, const v1::Submission& s,
                                                         v1::Submission* copy) {
  if (s.machine_fingerprint() != agent.machine_fingerprint) {
    return absl::PermissionDeniedError(
        "machine_fingerprint: differs from the machine this agent enrolled for; enrol an agent on that machine");
  }
  SubmissionRecord r;
  r.agent_id = absl::AsciiStrToLower(agent.agent_id);
  r.s = &s;
  // UUIDs are case-insensitive: one spelling for hashing, storing and
  // replying, so the same id in upper case is the same submission. Copy
  // only when needed (agents send lower case).
  if (HasUpper(s.submission_id())) {
    *copy = s;
    copy->set_submission_id(absl::AsciiStrToLower(s.submission_id()));
    r.s = copy;
  }
  r.payload = CanonicalPayload(*r.s);
  r.sha = Sha256Hex(r.payload);
  for (const auto& sweep : r.s->sweeps()) r.point_count += sweep.points_size();
  return r;
}

absl::StatusOr<v1::SubmitResponse> SubmissionStore::Submit(const AgentIdentity& agent, const v1::Submission& s,
                                                           const std::function<bool()>& cancelled) {
  v1::Submission canonical;
  absl::StatusOr<SubmissionRecord> r = Record(agent, s, &canonical);
  if (!r.ok()) return r.status();
  return writer_.Write(*r, cancelled ? &cancelled : nullptr);
}

std::vector<absl::StatusOr<v1::SubmitResponse>> SubmissionStore::SubmitMany(
    const AgentIdentity& agent, const std::vector<v1::Submission>& submissions) {
  std::vector<absl::StatusOr<v1::SubmitResponse>> results(submissions.size(), absl::UnknownError("not written"));
  // Stable addresses: records point into the canonical copies.
  std::vector<std::unique_ptr<v1::Submission>> copies;
  std::vector<SubmissionRecord> records;
  std::vector<std::size_t> index;
  records.reserve(submissions.size());
  for (std::size_t i = 0; i < submissions.size(); ++i) {
    copies.push_back(std::make_unique<v1::Submission>());
    absl::StatusOr<SubmissionRecord> r = Record(agent, submissions[i], copies.back().get());
    if (!r.ok()) {
      results[i] = r.status();
      continue;
    }
    records.push_back(*std::move(r));
    index.push_back(i);
  }
  std::vector<const SubmissionRecord*> group;
  for (const auto& r : records) group.push_back(&r);
  std::vector<absl::StatusOr<v1::SubmitResponse>> written = writer_.WriteGroup(group);
  for (std::size_t k = 0; k < index.size(); ++k) results[index[k]] = std::move(written[k]);
  return results;
}

}  // namespace localbench::collector
