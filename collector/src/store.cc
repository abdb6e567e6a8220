#include "localbench/collector/store.h"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <stdexcept>
#include <ctime>

#include <google/protobuf/io/coded_stream.h>
#include <google/protobuf/io/zero_copy_stream_impl_lite.h>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "localbench/collector/log.h"
#include "localbench/common/crypto.h"

namespace localbench::collector {
namespace {

// The whole submission is written by one statement: the submission row, and
// (only when that row was new) its sweeps and points, decoded from two JSON
// arrays by json_to_recordset (plain json: parsed once, no jsonb built).
// One round trip however many points, and
// every value still travels as a parameter, never spliced into SQL.
// Data-modifying CTEs always run to completion, and the foreign keys of
// points -> sweeps -> submissions are checked at the end of the statement.
constexpr const char* kInsertSubmission = R"sql(
WITH ver AS (
  UPDATE data_version_counter SET version = version + 1 RETURNING version),
vlog AS (
  INSERT INTO data_versions (version, cause) SELECT version, 'ingest' FROM ver RETURNING version),
sub AS (
  INSERT INTO submissions (
    submission_id, agent_id, machine_id, device_id, payload, payload_sha256, sweep_count,
    point_count, started_at, finished_at, agent_version, kernel_source_hash, suite_version,
    suite_hash, driver_version, runtime_version, pcie_link, memory_free_at_start_bytes,
    other_processes_hold_memory, memory_used_by_others_bytes, cpu_model, cpu_physical_cores,
    cpu_logical_cores, ram_total_bytes, os_name, os_kernel, data_version)
  VALUES ($1::uuid, $2::uuid, $3, $4, $5, $6, $7, $8, $9::timestamptz, $10::timestamptz, $11, $12,
          $13, $14, $15, $16, $17, $18, $19, $20, $21, $22, $23, $24, $25, $26,
          (SELECT version FROM vlog))
  ON CONFLICT (submission_id) DO NOTHING
  RETURNING submission_id, received_at),
sw AS (
  INSERT INTO sweeps (
    submission_id, sweep_index, model_preset, kind, precision, prompt_tokens, generated_tokens,
    sequence_tokens, lora_rank, largest_ok_batch, smallest_failed_batch, planned_max_batch)
  SELECT sub.submission_id, x.i, x.preset, x.kind, x.precision, x.prompt, x.generated, x.seq,
         x.rank, x.ok, x.failed, x.planned
  FROM sub CROSS JOIN json_to_recordset($27::json) AS x(
    i integer, preset text, kind text, precision text, prompt integer, generated integer,
    seq integer, rank integer, ok integer, failed integer, planned integer)),
pt AS (
  INSERT INTO points (
    submission_id, sweep_index, batch_size, status, error_message, repetitions, warmup_steps,
    tokens_per_second_median, tokens_per_second_min, tokens_per_second_max, step_seconds_median,
    step_seconds_min, step_seconds_max, step_seconds_mean, planned_bytes, arena_peak_bytes,
    device_delta_bytes, process_memory_bytes, sm_clock_mhz, throttle_reasons, reproduce_command)
  SELECT sub.submission_id, y.s, y.b, y.st, y.err, y.reps, y.warm, y.tps, y.tps_min, y.tps_max,
         y.sec, y.sec_min, y.sec_max, y.sec_mean, y.planned, y.arena, y.delta, y.proc, y.mhz,
         y.throttle, y.cmd
  FROM sub CROSS JOIN json_to_recordset($28::json) AS y(
    s integer, b integer, st text, err text, reps integer, warm integer,
    tps double precision, tps_min double precision, tps_max double precision,
    sec double precision, sec_min double precision, sec_max double precision,
    sec_mean double precision, planned bigint, arena bigint, delta bigint, proc bigint,
    mhz integer, throttle bigint, cmd text))
SELECT (extract(epoch FROM received_at) * 1000000)::bigint FROM sub
)sql";

// Group commit: several submissions in one statement, same shape as above.
// $1 holds the submission rows (payload as hex), $2 the sweeps and $3 the
// points, each tagged with its submission id; only rows of submissions that
// were new (RETURNING) get their sweeps and points. Ids must be distinct.
constexpr const char* kInsertBatch = R"sql(
WITH input AS (
  SELECT * FROM json_to_recordset($1::json) AS s(
    id uuid, agent uuid, machine bigint, device bigint, payload text, sha text, sweeps integer,
    points integer, started timestamptz, finished timestamptz, agent_version text, kernel_hash text,
    suite_version text, suite_hash text, driver text, runtime text, pcie text, free bigint,
    others boolean, others_bytes bigint, cpu text, phys integer, logical integer, ram bigint,
    os text, kernel text)),
ver AS (
  UPDATE data_version_counter SET version = version + 1 RETURNING version),
vlog AS (
  INSERT INTO data_versions (version, cause) SELECT version, 'ingest' FROM ver RETURNING version),
sub AS (
  INSERT INTO submissions (
    submission_id, agent_id, machine_id, device_id, payload, payload_sha256, sweep_count,
    point_count, started_at, finished_at, agent_version, kernel_source_hash, suite_version,
    suite_hash, driver_version, runtime_version, pcie_link, memory_free_at_start_bytes,
    other_processes_hold_memory, memory_used_by_others_bytes, cpu_model, cpu_physical_cores,
    cpu_logical_cores, ram_total_bytes, os_name, os_kernel, data_version)
  SELECT id, agent, machine, device, decode(payload, 'hex'), sha, sweeps, points, started, finished,
         agent_version, kernel_hash, suite_version, suite_hash, driver, runtime, pcie, free, others,
         others_bytes, cpu, phys, logical, ram, os, kernel, (SELECT version FROM vlog)
  FROM input
  ON CONFLICT (submission_id) DO NOTHING
  RETURNING submission_id, received_at),
sw AS (
  INSERT INTO sweeps (
    submission_id, sweep_index, model_preset, kind, precision, prompt_tokens, generated_tokens,
    sequence_tokens, lora_rank, largest_ok_batch, smallest_failed_batch, planned_max_batch)
  SELECT x.id, x.i, x.preset, x.kind, x.precision, x.prompt, x.generated, x.seq, x.rank, x.ok,
         x.failed, x.planned
  FROM json_to_recordset($2::json) AS x(
    id uuid, i integer, preset text, kind text, precision text, prompt integer, generated integer,
    seq integer, rank integer, ok integer, failed integer, planned integer)
  JOIN sub ON sub.submission_id = x.id),
pt AS (
  INSERT INTO points (
    submission_id, sweep_index, batch_size, status, error_message, repetitions, warmup_steps,
    tokens_per_second_median, tokens_per_second_min, tokens_per_second_max, step_seconds_median,
    step_seconds_min, step_seconds_max, step_seconds_mean, planned_bytes, arena_peak_bytes,
    device_delta_bytes, process_memory_bytes, sm_clock_mhz, throttle_reasons, reproduce_command)
  SELECT y.id, y.s, y.b, y.st, y.err, y.reps, y.warm, y.tps, y.tps_min, y.tps_max, y.sec,
         y.sec_min, y.sec_max, y.sec_mean, y.planned, y.arena, y.delta, y.proc, y.mhz, y.throttle,
         y.cmd
  FROM json_to_recordset($3::json) AS y(
    id uuid, s integer, b integer, st text, err text, reps integer, warm integer,
    tps double precision, tps_min double precision, tps_max double precision,
    sec double precision, sec_min double precision, sec_max double precision,
    sec_mean double precision, planned bigint, arena bigint, delta bigint, proc bigint,
    mhz integer, throttle bigint, cmd text)
  JOIN sub ON sub.submission_id = y.id)
SELECT submission_id::text, (extract(epoch FROM received_at) * 1000000)::bigint FROM sub
)sql";

void AppendJsonString(std::string* out, std::string_view s) {
  out->push_back('"');
  for (char c : s) {
    switch (c) {
      case '"': out->append("\\\""); break;
      case '\\': out->append("\\\\"); break;
      case '\n': out->append("\\n"); break;
      case '\r': out->append("\\r"); break;
      case '\t': out->append("\\t"); break;
      default:
        if (static_cast<unsigned char>(c) < 0x20) {
          absl::StrAppendFormat(out, "\\u%04x", static_cast<unsigned>(static_cast<unsigned char>(c)));
        } else {
          out->push_back(c);  // validated UTF-8 passes through as is
        }
    }
  }
  out->push_back('"');
}

// Shortest text that reads back as the same double. Validation admits only
// finite values; should another caller pass NaN or infinity, it travels as
// the string PostgreSQL's float8 input reads, so the schema's CHECKs (not a
// JSON syntax error) refuse it.
void AppendJsonNumber(std::string* out, double v) {
  if (std::isnan(v)) {
    out->append("\"NaN\"");
    return;
  }
  if (std::isinf(v)) {
    out->append(v > 0 ? "\"Infinity\"" : "\"-Infinity\"");
    return;
  }
  char buf[32];
  auto [end, ec] = std::to_chars(buf, buf + sizeof buf, v);
  out->append(buf, end);
}

template <typename T>
void Field(std::string* out, const char* key, T value, bool first = false) {
  if (!first) out->push_back(',');
  out->push_back('"');
  out->append(key);
  out->append("\":");
  if constexpr (std::is_same_v<T, std::string_view> || std::is_same_v<T, const char*>) {
    AppendJsonString(out, std::string_view(value));
  } else if constexpr (std::is_floating_point_v<T>) {
    AppendJsonNumber(out, value);
  } else {
    absl::StrAppend(out, value);
  }
}

// A field the agent may leave unset (unknown): JSON null, stored as NULL.
template <typename T>
void OptionalField(std::string* out, const char* key, bool present, T value) {
  if (present) {
    Field(out, key, value);
    return;
  }
  absl::StrAppend(out, ",\"", key, "\":null");
}

// Appends the submission's sweeps as JSON objects (no brackets); with_id
// adds its submission id to each, for statements that carry several.
void AppendSweepsJson(std::string* json, const v1::Submission& s, bool with_id) {
  std::string& out = *json;
  for (int i = 0; i < s.sweeps_size(); ++i) {
    const v1::Sweep& sw = s.sweeps(i);
    const v1::Workload& w = sw.workload();
    if (out.size() > 1) out.push_back(',');
    out.push_back('{');
    Field(&out, "i", i, true);
    if (with_id) Field(&out, "id", std::string_view(s.submission_id()));
    Field(&out, "preset", std::string_view(w.model_preset()));
    Field(&out, "kind", KindName(w.kind()));
    Field(&out, "precision", PrecisionName(w.precision()));
    Field(&out, "prompt", w.prompt_tokens());
    Field(&out, "generated", w.generated_tokens());
    Field(&out, "seq", w.sequence_tokens());
    Field(&out, "rank", w.lora_rank());
    Field(&out, "ok", sw.largest_ok_batch());
    Field(&out, "failed", sw.smallest_failed_batch());
    Field(&out, "planned", sw.planned_max_batch());
    out.push_back('}');
  }
}

// Appends the submission's points as JSON objects, like AppendSweepsJson.
void AppendPointsJson(std::string* json, const v1::Submission& s, bool with_id) {
  std::string& out = *json;
  for (int i = 0; i < s.sweeps_size(); ++i) {
    for (const v1::Point& p : s.sweeps(i).points()) {
      if (out.size() > 1) out.push_back(',');
      out.push_back('{');
      Field(&out, "s", i, true);
      if (with_id) Field(&out, "id", std::string_view(s.submission_id()));
      Field(&out, "b", p.batch_size());
      Field(&out, "st", StatusName(p.status()));
      Field(&out, "err", std::string_view(p.error_message()));
      Field(&out, "reps", p.repetitions());
      Field(&out, "warm", p.warmup_steps());
      Field(&out, "tps", p.tokens_per_second_median());
      Field(&out, "tps_min", p.tokens_per_second_min());
      Field(&out, "tps_max", p.tokens_per_second_max());
      Field(&out, "sec", p.step_seconds_median());
      Field(&out, "sec_min", p.step_seconds_min());
      Field(&out, "sec_max", p.step_seconds_max());
      Field(&out, "sec_mean", p.step_seconds_mean());
      Field(&out, "planned", p.planned_bytes());
      Field(&out, "arena", p.arena_peak_bytes());
      OptionalField(&out, "delta", p.has_device_delta_bytes(), p.device_delta_bytes());
      OptionalField(&out, "proc", p.has_process_memory_bytes(), p.process_memory_bytes());
      OptionalField(&out, "mhz", p.has_sm_clock_mhz(), p.sm_clock_mhz());
      OptionalField(&out, "throttle", p.has_throttle_reasons(), p.throttle_reasons());
      Field(&out, "cmd", std::string_view(p.reproduce_command()));
      out.push_back('}');
    }
  }
}

std::string SweepsJson(const v1::Submission& s) {
  std::string out = "[";
  AppendSweepsJson(&out, s, false);
  out.push_back(']');
  return out;
}

std::string PointsJson(const v1::Submission& s) {
  std::string out = "[";
  AppendPointsJson(&out, s, false);
  out.push_back(']');
  return out;
}

google::protobuf::Timestamp FromMicros(int64_t micros) {
  google::protobuf::Timestamp t;
  int64_t secs = micros / 1000000;
  int64_t rem = micros % 1000000;
  if (rem < 0) {
    rem += 1000000;
    --secs;
  }
  t.set_seconds(secs);
  t.set_nanos(static_cast<int32_t>(rem * 1000));
  return t;
}

std::string DeviceKey(const v1::Device& d) {
  return absl::StrCat(BackendName(d.backend()), "\x1f", VendorName(d.vendor()), "\x1f", d.name(), "\x1f",
                      d.memory_total_bytes(), "\x1f", d.compute_capability(), "\x1f", d.gfx_target(),
                      "\x1f", d.multiprocessor_count());
}

}  // namespace

const char* BackendName(v1::Backend b) {
  switch (b) {
    case v1::BACKEND_CPU: return "cpu";
    case v1::BACKEND_CUDA: return "cuda";
    case v1::BACKEND_HIP: return "hip";
    default: return "unspecified";  // rejected by validation and by the schema
  }
}

const char* VendorName(v1::Vendor v) {
  switch (v) {
    case v1::VENDOR_NVIDIA: return "nvidia";
    case v1::VENDOR_AMD: return "amd";
    case v1::VENDOR_INTEL: return "intel";
    case v1::VENDOR_APPLE: return "apple";
    case v1::VENDOR_OTHER: return "other";
    default: return "unspecified";
  }
}

const char* KindName(v1::WorkloadKind k) {
  switch (k) {
    case v1::WORKLOAD_KIND_PREFILL: return "prefill";
    case v1::WORKLOAD_KIND_DECODE: return "decode";
    case v1::WORKLOAD_KIND_TRAIN_LORA: return "train_lora";
    case v1::WORKLOAD_KIND_TRAIN_FULL: return "train_full";
    default: return "unspecified";
  }
}

const char* PrecisionName(v1::Precision p) {
  switch (p) {
    case v1::PRECISION_FP32: return "fp32";
    case v1::PRECISION_FP16: return "fp16";
    case v1::PRECISION_BF16: return "bf16";
    default: return "unspecified";
  }
}

const char* StatusName(v1::PointStatus s) {
  switch (s) {
    case v1::POINT_STATUS_OK: return "ok";
    case v1::POINT_STATUS_OOM: return "oom";
    case v1::POINT_STATUS_ERROR: return "error";
    case v1::POINT_STATUS_SKIPPED_WONT_FIT: return "skipped_wont_fit";
    default: return "unspecified";
  }
}

std::string TimestampText(const google::protobuf::Timestamp& t) {
  const std::time_t secs = static_cast<std::time_t>(t.seconds());
  std::tm tm{};
  gmtime_r(&secs, &tm);
  return absl::StrFormat("%04d-%02d-%02d %02d:%02d:%02d.%06d+00", tm.tm_year + 1900, tm.tm_mon + 1,
                         tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, t.nanos() / 1000);
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

void SubmissionStore::Prepare(pqxx::connection& conn) {
  conn.prepare("lb_enroll",
               "INSERT INTO agents (agent_id, token_sha256, machine_fingerprint, agent_version) "
               "VALUES ($1::uuid, $2, $3, $4)");
  conn.prepare("lb_agent_by_token",
               "SELECT agent_id::text FROM agents WHERE token_sha256 = $1 AND revoked_at IS NULL");
  conn.prepare("lb_machine_insert",
               "INSERT INTO machines (fingerprint) VALUES ($1) "
               "ON CONFLICT (fingerprint) DO NOTHING RETURNING machine_id");
  conn.prepare("lb_machine_select", "SELECT machine_id FROM machines WHERE fingerprint = $1");
  conn.prepare("lb_device_insert",
               "INSERT INTO devices (backend, vendor, name, memory_total_bytes, compute_capability, "
               "gfx_target, multiprocessor_count) VALUES ($1, $2, $3, $4, $5, $6, $7) "
               "ON CONFLICT (backend, vendor, name, memory_total_bytes, compute_capability, gfx_target, "
               "multiprocessor_count) DO NOTHING RETURNING device_id");
  conn.prepare("lb_device_select",
               "SELECT device_id FROM devices WHERE backend = $1 AND vendor = $2 AND name = $3 AND "
               "memory_total_bytes = $4 AND compute_capability = $5 AND gfx_target = $6 AND "
               "multiprocessor_count = $7");
  conn.prepare("lb_submission_insert", kInsertSubmission);
  conn.prepare("lb_submission_insert_batch", kInsertBatch);
  conn.prepare("lb_submission_select",
               "SELECT payload_sha256, (extract(epoch FROM received_at) * 1000000)::bigint, "
               "sweep_count, point_count FROM submissions WHERE submission_id = $1::uuid");
}

absl::StatusOr<v1::EnrollResponse> SubmissionStore::Enroll(const v1::EnrollRequest& request) {
  auto lease = pool_->Acquire();
  if (!lease.ok()) return lease.status();
  v1::EnrollResponse response;
  response.set_agent_id(NewUuid());
  response.set_agent_token(RandomHex(32));
  try {
    pqxx::work tx(**lease);
    tx.exec_prepared("lb_enroll", response.agent_id(), Sha256Hex(response.agent_token()),
                     request.machine_fingerprint(), request.agent_version());
    tx.commit();
  } catch (const std::exception& e) {
    return absl::UnavailableError(absl::StrCat("storing the agent failed: ", e.what()));
  }
  return response;
}

absl::StatusOr<std::string> SubmissionStore::Authenticate(std::string_view token) {
  if (token.empty()) return absl::UnauthenticatedError("missing agent token");
  const std::string hash = Sha256Hex(token);
  const auto now = std::chrono::steady_clock::now();
  {
    std::lock_guard lock(mu_);
    if (auto it = tokens_.find(hash); it != tokens_.end()) {
      if (it->second.expires > now) return it->second.agent_id;
      tokens_.erase(it);
    }
  }
  auto lease = pool_->Acquire();
  if (!lease.ok()) return lease.status();
  std::string agent_id;
  try {
    pqxx::nontransaction tx(**lease);
    pqxx::result r = tx.exec_prepared("lb_agent_by_token", hash);
    if (r.empty()) return absl::UnauthenticatedError("unknown or revoked agent token");
    agent_id = r[0][0].as<std::string>();
  } catch (const std::exception& e) {
    return absl::UnavailableError(absl::StrCat("checking the agent token failed: ", e.what()));
  }
  std::lock_guard lock(mu_);
  if (tokens_.size() > 100000) tokens_.clear();  // bound memory against token spraying
  tokens_[hash] = CachedAgent{agent_id, now + kTokenCacheTtl};
  return agent_id;
}

std::optional<int64_t> SubmissionStore::CachedMachineId(const std::string& fingerprint) {
  std::lock_guard lock(mu_);
  if (auto it = machine_ids_.find(fingerprint); it != machine_ids_.end()) return it->second;
  return std::nullopt;
}

std::optional<int64_t> SubmissionStore::CachedDeviceId(const std::string& device_key) {
  std::lock_guard lock(mu_);
  if (auto it = device_ids_.find(device_key); it != device_ids_.end()) return it->second;
  return std::nullopt;
}

absl::StatusOr<int64_t> SubmissionStore::MachineId(pqxx::transaction_base& tx, const std::string& fingerprint) {
  // Insert first: a concurrent inserter makes ON CONFLICT wait for its
  // commit, after which the SELECT (a new snapshot) sees its row.
  pqxx::result r = tx.exec_prepared("lb_machine_insert", fingerprint);
  if (r.empty()) r = tx.exec_prepared("lb_machine_select", fingerprint);
  if (r.empty()) return absl::AbortedError("machine row vanished; retry");
  return r[0][0].as<int64_t>();
}

absl::StatusOr<int64_t> SubmissionStore::DeviceId(pqxx::transaction_base& tx, const v1::Device& d) {
  const std::string backend(BackendName(d.backend()));
  const std::string vendor(VendorName(d.vendor()));
  const auto memory = static_cast<int64_t>(d.memory_total_bytes());
  const auto sms = static_cast<int64_t>(d.multiprocessor_count());
  pqxx::result r = tx.exec_prepared("lb_device_insert", backend, vendor, d.name(), memory,
                                    d.compute_capability(), d.gfx_target(), sms);
  if (r.empty()) {
    r = tx.exec_prepared("lb_device_select", backend, vendor, d.name(), memory, d.compute_capability(),
                         d.gfx_target(), sms);
  }
  if (r.empty()) return absl::AbortedError("device row vanished; retry");
  return r[0][0].as<int64_t>();
}

// One submission on its way in: computed once, written alone or in a batch.
struct SubmissionStore::Pending {
  std::string agent_id;
  const v1::Submission* s = nullptr;
  const std::function<bool()>* cancelled = nullptr;
  std::string payload;     // CanonicalPayload(*s)
  std::string sha;         // its SHA-256: "same payload" for repeats
  int point_count = 0;
  std::string device_key;  // DeviceKey(device): the device-id cache key
  std::optional<absl::StatusOr<v1::SubmitResponse>> result;  // set when done
  bool IsCancelled() const { return cancelled != nullptr && *cancelled && (*cancelled)(); }
};

namespace {

absl::Status Cancelled() {
  return absl::CancelledError("the client cancelled or its deadline passed; nothing stored");
}

// Maps a database failure to the status the client sees.
absl::Status FromException(const std::exception& e) {
  if (dynamic_cast<const pqxx::in_doubt_error*>(&e) != nullptr) {
    return absl::UnavailableError(absl::StrCat("commit outcome unknown, safe to retry: ", e.what()));
  }
  if (dynamic_cast<const pqxx::integrity_constraint_violation*>(&e) != nullptr ||
      dynamic_cast<const pqxx::data_exception*>(&e) != nullptr) {
    // Validation should have caught it; the schema is the last line.
    return absl::InvalidArgumentError(absl::StrCat("rejected by the database: ", e.what()));
  }
  if (dynamic_cast<const pqxx::broken_connection*>(&e) != nullptr) {
    return absl::UnavailableError(absl::StrCat("database connection lost: ", e.what()));
  }
  return absl::InternalError(absl::StrCat("storing the submission failed: ", e.what()));
}

}  // namespace

absl::StatusOr<v1::SubmitResponse> SubmissionStore::Insert(pqxx::transaction_base& tx, const Pending& p,
                                                           int64_t machine_id, int64_t device_id, bool* fresh) {
  const v1::Submission& s = *p.s;
  const v1::Device& d = s.hardware().device();
  const v1::Host& h = s.hardware().host();
  const v1::Software& sw = s.software();
  pqxx::result r = tx.exec_prepared(
      "lb_submission_insert", s.submission_id(), p.agent_id, machine_id, device_id,
      pqxx::binarystring(p.payload.data(), p.payload.size()), p.sha, s.sweeps_size(), p.point_count,
      TimestampText(s.started_at()), TimestampText(s.finished_at()), sw.agent_version(),
      sw.kernel_source_hash(), sw.suite_version(), sw.suite_hash(), d.driver_version(), d.runtime_version(),
      d.pcie_link(), static_cast<int64_t>(d.memory_free_at_start_bytes()), d.other_processes_hold_memory(),
      static_cast<int64_t>(d.memory_used_by_others_bytes()), h.cpu_model(),
      static_cast<int64_t>(h.cpu_physical_cores()), static_cast<int64_t>(h.cpu_logical_cores()),
      static_cast<int64_t>(h.ram_total_bytes()), h.os_name(), h.os_kernel(), SweepsJson(s), PointsJson(s));
  v1::SubmitResponse response;
  response.set_submission_id(s.submission_id());
  if (!r.empty()) {
    *fresh = true;
    *response.mutable_received_at() = FromMicros(r[0][0].as<int64_t>());
    response.set_sweep_count(static_cast<uint32_t>(s.sweeps_size()));
    response.set_point_count(static_cast<uint32_t>(p.point_count));
    return response;
  }
  // The id exists (a concurrent twin has committed by now: ON CONFLICT
  // waited for it; or it is earlier in this same batch). Same payload: the
  // first reply. Otherwise: a conflict. Nothing was written either way.
  *fresh = false;
  pqxx::result first = tx.exec_prepared("lb_submission_select", s.submission_id());
  if (first.empty()) return absl::AbortedError("submission row vanished; retry");
  if (first[0][0].as<std::string>() != p.sha) {
    return absl::AlreadyExistsError(
        absl::StrCat("submission ", s.submission_id(), " already exists with a different payload"));
  }
  *response.mutable_received_at() = FromMicros(first[0][1].as<int64_t>());
  response.set_sweep_count(first[0][2].as<uint32_t>());
  response.set_point_count(first[0][3].as<uint32_t>());
  return response;
}

void SubmissionStore::LogStored(const Pending& p, bool fresh) {
  LogLine(absl::StrCat(fresh ? "stored" : "repeat of", " submission ", p.s->submission_id(), " (",
                       p.s->sweeps_size(), " sweeps, ", p.point_count, " points)"));
}

absl::StatusOr<v1::SubmitResponse> SubmissionStore::SubmitAlone(Pending& p) {
  auto lease = pool_->Acquire();
  if (!lease.ok()) return lease.status();
  const v1::Submission& s = *p.s;
  try {
    // Fast path: with the machine and device ids known, the whole write is
    // one statement, which commits atomically by itself (autocommit): one
    // round trip. Otherwise a transaction finds or creates them first.
    std::optional<int64_t> machine_id = CachedMachineId(s.machine_fingerprint());
    std::optional<int64_t> device_id = CachedDeviceId(p.device_key);
    const bool one_statement = machine_id.has_value() && device_id.has_value();
    std::unique_ptr<pqxx::transaction_base> tx;
    if (one_statement) {
      tx = std::make_unique<pqxx::nontransaction>(**lease);
      // The statement below is the commit point: check the client first.
      if (p.IsCancelled()) return Cancelled();
    } else {
      tx = std::make_unique<pqxx::work>(**lease);
      auto m = MachineId(*tx, s.machine_fingerprint());
      if (!m.ok()) return m.status();
      auto dev = DeviceId(*tx, s.hardware().device());
      if (!dev.ok()) return dev.status();
      machine_id = *m;
      device_id = *dev;
    }
    bool fresh = false;
    absl::StatusOr<v1::SubmitResponse> response = Insert(*tx, p, *machine_id, *device_id, &fresh);
    if (!response.ok()) return response.status();
    if (fresh && !one_statement) {
      if (p.IsCancelled()) return Cancelled();
      tx->commit();
      std::lock_guard lock(mu_);
      machine_ids_.emplace(s.machine_fingerprint(), *machine_id);
      device_ids_.emplace(p.device_key, *device_id);
    }
    // A repeat wrote nothing (ON CONFLICT DO NOTHING); any find-or-create of
    // its machine or device rolls back with the transaction's destructor.
    LogStored(p, fresh);
    return response;
  } catch (const std::exception& e) {
    return FromException(e);
  }
}

// The submissions row of `p` as a JSON object for kInsertBatch.
void SubmissionStore::AppendSubmissionJson(std::string* json, const Pending& p, int64_t machine_id,
                                           int64_t device_id) {
  std::string& out = *json;
  const v1::Submission& s = *p.s;
  const v1::Device& d = s.hardware().device();
  const v1::Host& h = s.hardware().host();
  const v1::Software& sw = s.software();
  static constexpr char kDigits[] = "0123456789abcdef";
  std::string hex;
  hex.reserve(p.payload.size() * 2);
  for (unsigned char b : p.payload) {
    hex.push_back(kDigits[b >> 4]);
    hex.push_back(kDigits[b & 15]);
  }
  if (out.size() > 1) out.push_back(',');
  out.push_back('{');
  Field(&out, "id", std::string_view(s.submission_id()), true);
  Field(&out, "agent", std::string_view(p.agent_id));
  Field(&out, "machine", machine_id);
  Field(&out, "device", device_id);
  Field(&out, "payload", std::string_view(hex));
  Field(&out, "sha", std::string_view(p.sha));
  Field(&out, "sweeps", s.sweeps_size());
  Field(&out, "points", p.point_count);
  Field(&out, "started", std::string_view(TimestampText(s.started_at())));
  Field(&out, "finished", std::string_view(TimestampText(s.finished_at())));
  Field(&out, "agent_version", std::string_view(sw.agent_version()));
  Field(&out, "kernel_hash", std::string_view(sw.kernel_source_hash()));
  Field(&out, "suite_version", std::string_view(sw.suite_version()));
  Field(&out, "suite_hash", std::string_view(sw.suite_hash()));
  Field(&out, "driver", std::string_view(d.driver_version()));
  Field(&out, "runtime", std::string_view(d.runtime_version()));
  Field(&out, "pcie", std::string_view(d.pcie_link()));
  Field(&out, "free", d.memory_free_at_start_bytes());
  Field(&out, "others", d.other_processes_hold_memory() ? "true" : "false", false);
  Field(&out, "others_bytes", d.memory_used_by_others_bytes());
  Field(&out, "cpu", std::string_view(h.cpu_model()));
  Field(&out, "phys", h.cpu_physical_cores());
  Field(&out, "logical", h.cpu_logical_cores());
  Field(&out, "ram", h.ram_total_bytes());
  Field(&out, "os", std::string_view(h.os_name()));
  Field(&out, "kernel", std::string_view(h.os_kernel()));
  out.push_back('}');
}

std::vector<absl::StatusOr<v1::SubmitResponse>> SubmissionStore::WriteBatch(std::vector<Pending*> batch) {
  std::vector<absl::StatusOr<v1::SubmitResponse>> results(batch.size(), absl::InternalError("not written"));
  std::vector<bool> done(batch.size(), false);
  // Who goes into the shared statement: known machine and device (first
  // sightings go alone, through a transaction that creates them), client
  // still there, and the first of any identical ids (the rest are answered
  // from the stored row afterwards).
  std::vector<std::size_t> shared;
  std::vector<std::size_t> alone;
  std::vector<std::size_t> twins;
  std::vector<std::pair<int64_t, int64_t>> ids(batch.size());
  std::unordered_map<std::string, std::size_t> first_of;
  for (std::size_t i = 0; i < batch.size(); ++i) {
    Pending& p = *batch[i];
    if (p.IsCancelled()) {
      results[i] = Cancelled();
      done[i] = true;
      continue;
    }
    std::optional<int64_t> machine_id = CachedMachineId(p.s->machine_fingerprint());
    std::optional<int64_t> device_id = CachedDeviceId(p.device_key);
    if (!machine_id || !device_id) {
      alone.push_back(i);
      continue;
    }
    ids[i] = {*machine_id, *device_id};
    if (first_of.emplace(p.s->submission_id(), i).second) {
      shared.push_back(i);
    } else {
      twins.push_back(i);
    }
  }
  if (shared.size() == 1) {
    alone.push_back(shared[0]);
    shared.clear();
  }
  if (!shared.empty()) {
    std::string subs = "[";
    std::string sweeps = "[";
    std::string points = "[";
    for (std::size_t i : shared) {
      AppendSubmissionJson(&subs, *batch[i], ids[i].first, ids[i].second);
      AppendSweepsJson(&sweeps, *batch[i]->s, true);
      AppendPointsJson(&points, *batch[i]->s, true);
    }
    subs.push_back(']');
    sweeps.push_back(']');
    points.push_back(']');
    try {
      auto lease = pool_->Acquire();
      if (!lease.ok()) throw std::runtime_error(std::string(lease.status().message()));
      // One statement, one implicit transaction, one commit for them all.
      pqxx::nontransaction tx(**lease);
      std::unordered_map<std::string, int64_t> inserted;
      for (const auto& row : tx.exec_prepared("lb_submission_insert_batch", subs, sweeps, points)) {
        inserted.emplace(row[0].as<std::string>(), row[1].as<int64_t>());
      }
      for (std::size_t i : shared) {
        const Pending& p = *batch[i];
        auto it = inserted.find(p.s->submission_id());
        if (it == inserted.end()) {
          twins.push_back(i);  // stored before: answered below like a twin
          continue;
        }
        v1::SubmitResponse response;
        response.set_submission_id(p.s->submission_id());
        *response.mutable_received_at() = FromMicros(it->second);
        response.set_sweep_count(static_cast<uint32_t>(p.s->sweeps_size()));
        response.set_point_count(static_cast<uint32_t>(p.point_count));
        results[i] = std::move(response);
        done[i] = true;
        LogStored(p, true);
      }
    } catch (const std::exception& e) {
      // Nothing of the statement was stored. Each goes again on its own, so
      // one that fails cannot take the others with it.
      LogLine(absl::StrCat("batch of ", shared.size(), " refused (", e.what(), "); writing one by one"));
      alone.insert(alone.end(), shared.begin(), shared.end());
      twins.clear();
    }
  }
  // Twins and repeats: the row exists now (or its writer failed, in which
  // case they go alone); compare payloads like a lone repeat does.
  for (std::size_t i : twins) {
    try {
      auto lease = pool_->Acquire();
      if (!lease.ok()) {
        results[i] = lease.status();
        done[i] = true;
        continue;
      }
      pqxx::nontransaction tx(**lease);
      pqxx::result first = tx.exec_prepared("lb_submission_select", batch[i]->s->submission_id());
      if (first.empty()) {
        alone.push_back(i);
        continue;
      }
      const Pending& p = *batch[i];
      if (first[0][0].as<std::string>() != p.sha) {
        results[i] = absl::AlreadyExistsError(
            absl::StrCat("submission ", p.s->submission_id(), " already exists with a different payload"));
      } else {
        v1::SubmitResponse response;
        response.set_submission_id(p.s->submission_id());
        *response.mutable_received_at() = FromMicros(first[0][1].as<int64_t>());
        response.set_sweep_count(first[0][2].as<uint32_t>());
        response.set_point_count(first[0][3].as<uint32_t>());
        results[i] = std::move(response);
        LogStored(p, false);
      }
      done[i] = true;
    } catch (const std::exception& e) {
      results[i] = FromException(e);
      done[i] = true;
    }
  }
  for (std::size_t i : alone) {
    if (!done[i]) results[i] = SubmitAlone(*batch[i]);
  }
  return results;
}

SubmissionStore::Pending SubmissionStore::MakePending(std::string_view agent_id, const v1::Submission& s,
                                                      const std::function<bool()>* cancelled) {
  Pending p;
  p.agent_id = std::string(agent_id);
  p.s = &s;
  p.cancelled = cancelled;
  p.payload = CanonicalPayload(s);
  p.sha = Sha256Hex(p.payload);
  for (const auto& sw : s.sweeps()) p.point_count += sw.points_size();
  p.device_key = DeviceKey(s.hardware().device());
  return p;
}

std::vector<absl::StatusOr<v1::SubmitResponse>> SubmissionStore::SubmitMany(
    std::string_view agent_id, const std::vector<v1::Submission>& submissions) {
  std::vector<Pending> pending;
  pending.reserve(submissions.size());
  for (const auto& s : submissions) pending.push_back(MakePending(agent_id, s, nullptr));
  std::vector<Pending*> batch;
  for (auto& p : pending) batch.push_back(&p);
  return WriteBatch(batch);
}

absl::StatusOr<v1::SubmitResponse> SubmissionStore::Submit(std::string_view agent_id, const v1::Submission& s,
                                                           const std::function<bool()>& cancelled) {
  Pending p = MakePending(agent_id, s, &cancelled);
  if (batch_writers_ == 0) return SubmitAlone(p);

  // Group commit, leader/follower style: the submission joins the queue; a
  // thread that finds a writer slot free takes everything queued (its own
  // and others') and writes it as one transaction, so concurrent
  // submissions share one commit (one WAL flush) while each stays
  // all-or-nothing. Followers wait for their result.
  std::unique_lock lock(batch_mu_);
  queue_.push_back(&p);
  while (!p.result.has_value()) {
    if (active_writers_ < batch_writers_ && !queue_.empty()) {
      const std::size_t n = std::min(queue_.size(), kMaxBatch);
      std::vector<Pending*> batch(queue_.begin(), queue_.begin() + static_cast<std::ptrdiff_t>(n));
      queue_.erase(queue_.begin(), queue_.begin() + static_cast<std::ptrdiff_t>(n));
      // A fixed order of inserts across batches keeps two batches holding
      // the same ids from deadlocking on each other's unique-index entries.
      std::sort(batch.begin(), batch.end(),
                [](const Pending* a, const Pending* b) { return a->s->submission_id() < b->s->submission_id(); });
      ++active_writers_;
      lock.unlock();
      std::vector<absl::StatusOr<v1::SubmitResponse>> results = WriteBatch(batch);
      lock.lock();
      --active_writers_;
      for (std::size_t i = 0; i < batch.size(); ++i) batch[i]->result = std::move(results[i]);
      batch_cv_.notify_all();
    } else {
      batch_cv_.wait(lock);
    }
  }
  return *std::move(p.result);
}

}  // namespace localbench::collector
