#include "localbench/collector/store.h"

#include <charconv>
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
// arrays by jsonb_to_recordset. One round trip however many points, and
// every value still travels as a parameter, never spliced into SQL.
// Data-modifying CTEs always run to completion, and the foreign keys of
// points -> sweeps -> submissions are checked at the end of the statement.
constexpr const char* kInsertSubmission = R"sql(
WITH sub AS (
  INSERT INTO submissions (
    submission_id, agent_id, machine_id, device_id, payload, payload_sha256, sweep_count,
    point_count, started_at, finished_at, agent_version, kernel_source_hash, suite_version,
    suite_hash, driver_version, runtime_version, pcie_link, memory_free_at_start_bytes,
    other_processes_hold_memory, memory_used_by_others_bytes, cpu_model, cpu_physical_cores,
    cpu_logical_cores, ram_total_bytes, os_name, os_kernel)
  VALUES ($1::uuid, $2::uuid, $3, $4, $5, $6, $7, $8, $9::timestamptz, $10::timestamptz, $11, $12,
          $13, $14, $15, $16, $17, $18, $19, $20, $21, $22, $23, $24, $25, $26)
  ON CONFLICT (submission_id) DO NOTHING
  RETURNING submission_id, received_at),
sw AS (
  INSERT INTO sweeps (
    submission_id, sweep_index, model_preset, kind, precision, prompt_tokens, generated_tokens,
    sequence_tokens, lora_rank, largest_ok_batch, smallest_failed_batch, planned_max_batch)
  SELECT sub.submission_id, x.i, x.preset, x.kind, x.precision, x.prompt, x.generated, x.seq,
         x.rank, x.ok, x.failed, x.planned
  FROM sub CROSS JOIN jsonb_to_recordset($27::jsonb) AS x(
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
  FROM sub CROSS JOIN jsonb_to_recordset($28::jsonb) AS y(
    s integer, b integer, st text, err text, reps integer, warm integer,
    tps double precision, tps_min double precision, tps_max double precision,
    sec double precision, sec_min double precision, sec_max double precision,
    sec_mean double precision, planned bigint, arena bigint, delta bigint, proc bigint,
    mhz integer, throttle bigint, cmd text))
SELECT (extract(epoch FROM received_at) * 1000000)::bigint FROM sub
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

// Shortest text that reads back as the same double (validated finite).
void AppendJsonNumber(std::string* out, double v) {
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

std::string SweepsJson(const v1::Submission& s) {
  std::string out = "[";
  for (int i = 0; i < s.sweeps_size(); ++i) {
    const v1::Sweep& sw = s.sweeps(i);
    const v1::Workload& w = sw.workload();
    if (i > 0) out.push_back(',');
    out.push_back('{');
    Field(&out, "i", i, true);
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
  out.push_back(']');
  return out;
}

std::string PointsJson(const v1::Submission& s) {
  std::string out = "[";
  bool first = true;
  for (int i = 0; i < s.sweeps_size(); ++i) {
    for (const v1::Point& p : s.sweeps(i).points()) {
      if (!first) out.push_back(',');
      first = false;
      out.push_back('{');
      Field(&out, "s", i, true);
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
      Field(&out, "delta", p.device_delta_bytes());
      Field(&out, "proc", p.process_memory_bytes());
      Field(&out, "mhz", p.sm_clock_mhz());
      Field(&out, "throttle", p.throttle_reasons());
      Field(&out, "cmd", std::string_view(p.reproduce_command()));
      out.push_back('}');
    }
  }
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

absl::StatusOr<int64_t> SubmissionStore::MachineId(pqxx::work& tx, const std::string& fingerprint) {
  {
    std::lock_guard lock(mu_);
    if (auto it = machine_ids_.find(fingerprint); it != machine_ids_.end()) return it->second;
  }
  // Insert first: a concurrent inserter makes ON CONFLICT wait for its
  // commit, after which the SELECT (a new snapshot) sees its row.
  pqxx::result r = tx.exec_prepared("lb_machine_insert", fingerprint);
  if (r.empty()) r = tx.exec_prepared("lb_machine_select", fingerprint);
  if (r.empty()) return absl::AbortedError("machine row vanished; retry");
  return r[0][0].as<int64_t>();
}

absl::StatusOr<int64_t> SubmissionStore::DeviceId(pqxx::work& tx, const v1::Device& d) {
  const std::string key = DeviceKey(d);
  {
    std::lock_guard lock(mu_);
    if (auto it = device_ids_.find(key); it != device_ids_.end()) return it->second;
  }
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

absl::StatusOr<v1::SubmitResponse> SubmissionStore::Submit(std::string_view agent_id,
                                                           const v1::Submission& s,
                                                           const std::function<bool()>& cancelled) {
  const std::string payload = CanonicalPayload(s);
  const std::string sha = Sha256Hex(payload);
  int point_count = 0;
  for (const auto& sw : s.sweeps()) point_count += sw.points_size();

  v1::SubmitResponse response;
  response.set_submission_id(s.submission_id());

  auto lease = pool_->Acquire();
  if (!lease.ok()) return lease.status();
  try {
    pqxx::work tx(**lease);
    auto machine_id = MachineId(tx, s.machine_fingerprint());
    if (!machine_id.ok()) return machine_id.status();
    auto device_id = DeviceId(tx, s.hardware().device());
    if (!device_id.ok()) return device_id.status();
    const v1::Device& d = s.hardware().device();
    const v1::Host& h = s.hardware().host();
    const v1::Software& sw = s.software();
    pqxx::result r = tx.exec_prepared(
        "lb_submission_insert", s.submission_id(), std::string(agent_id), *machine_id, *device_id,
        pqxx::binarystring(payload.data(), payload.size()), sha, s.sweeps_size(), point_count,
        TimestampText(s.started_at()), TimestampText(s.finished_at()), sw.agent_version(),
        sw.kernel_source_hash(), sw.suite_version(), sw.suite_hash(), d.driver_version(),
        d.runtime_version(), d.pcie_link(), static_cast<int64_t>(d.memory_free_at_start_bytes()),
        d.other_processes_hold_memory(), static_cast<int64_t>(d.memory_used_by_others_bytes()),
        h.cpu_model(), static_cast<int64_t>(h.cpu_physical_cores()),
        static_cast<int64_t>(h.cpu_logical_cores()), static_cast<int64_t>(h.ram_total_bytes()),
        h.os_name(), h.os_kernel(), SweepsJson(s), PointsJson(s));
    bool fresh = true;
    if (r.empty()) {
      // The id exists (a concurrent twin has committed by now: ON CONFLICT
      // waited for it). Same payload: the first reply. Otherwise: conflict.
      fresh = false;
      pqxx::result first = tx.exec_prepared("lb_submission_select", s.submission_id());
      if (first.empty()) return absl::AbortedError("submission row vanished; retry");
      if (first[0][0].as<std::string>() != sha) {
        return absl::AlreadyExistsError(absl::StrCat(
            "submission ", s.submission_id(), " already exists with a different payload"));
      }
      *response.mutable_received_at() = FromMicros(first[0][1].as<int64_t>());
      response.set_sweep_count(first[0][2].as<uint32_t>());
      response.set_point_count(first[0][3].as<uint32_t>());
    } else {
      *response.mutable_received_at() = FromMicros(r[0][0].as<int64_t>());
      response.set_sweep_count(static_cast<uint32_t>(s.sweeps_size()));
      response.set_point_count(static_cast<uint32_t>(point_count));
    }
    if (cancelled && cancelled()) {
      return absl::CancelledError("the client cancelled or its deadline passed; nothing stored");
    }
    if (fresh) {
      tx.commit();
      std::lock_guard lock(mu_);
      machine_ids_.emplace(s.machine_fingerprint(), *machine_id);
      device_ids_.emplace(DeviceKey(d), *device_id);
    }
    // A repeat rolls back (the transaction's destructor): it wrote nothing.
    LogLine(absl::StrCat(fresh ? "stored" : "repeat of", " submission ", s.submission_id(), " (",
                         s.sweeps_size(), " sweeps, ", point_count, " points)"));
  } catch (const pqxx::in_doubt_error& e) {
    return absl::UnavailableError(absl::StrCat("commit outcome unknown, safe to retry: ", e.what()));
  } catch (const pqxx::check_violation& e) {
    // Validation should have caught it; the schema is the last line.
    return absl::InvalidArgumentError(absl::StrCat("rejected by the database: ", e.what()));
  } catch (const pqxx::broken_connection& e) {
    return absl::UnavailableError(absl::StrCat("database connection lost: ", e.what()));
  } catch (const std::exception& e) {
    return absl::InternalError(absl::StrCat("storing the submission failed: ", e.what()));
  }
  return response;
}

}  // namespace localbench::collector
