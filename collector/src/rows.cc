#include "localbench/collector/rows.h"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <ctime>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "localbench/common/names.h"

namespace localbench::collector {
namespace {
class Line;
}  // namespace
}  // namespace localbench::collector

// libpqxx 6.4's stream_to escapes every field of a tuple through to_string;
// it has the raw-line writer we need but keeps it private. Its operator<< is
// a member template, so this explicit specialisation for our own line type
// (already in COPY text format) is a member and may call it: one string per
// row handed to libpq, nothing escaped twice.
template <>
pqxx::stream_to& pqxx::stream_to::operator<< <localbench::collector::Line>(const localbench::collector::Line& line);

namespace localbench::collector {
namespace {

// Builds one line of COPY text format. Values are appended in column order.
class Line {
 public:
  void Text(std::string_view s) {
    Sep();
    for (char c : s) {
      switch (c) {
        case '\\': out_ += "\\\\"; break;
        case '\t': out_ += "\\t"; break;
        case '\n': out_ += "\\n"; break;
        case '\r': out_ += "\\r"; break;
        default: out_.push_back(c);  // validated UTF-8 (no NUL) passes as is
      }
    }
  }
  void Int(int64_t v) {
    Sep();
    absl::StrAppend(&out_, v);
  }
  // Unsigned wire values: a value beyond int64 (refused by validation) wraps
  // negative, which the schema's CHECKs refuse in turn.
  void U64(uint64_t v) { Int(static_cast<int64_t>(v)); }
  // Shortest text that reads back as the same double; NaN and infinities in
  // float8's own spelling, so the schema's CHECKs (not a syntax error)
  // refuse them should a caller skip validation.
  void Double(double v) {
    Sep();
    if (std::isnan(v)) {
      out_ += "NaN";
    } else if (std::isinf(v)) {
      out_ += v > 0 ? "Infinity" : "-Infinity";
    } else {
      char buf[32];
      auto [end, ec] = std::to_chars(buf, buf + sizeof buf, v);
      out_.append(buf, end);
    }
  }
  void Bool(bool v) {
    Sep();
    out_ += v ? 't' : 'f';
  }
  void Null() {
    Sep();
    out_ += "\\N";
  }
  // bytea in hex input format; the backslash itself is escaped for COPY.
  void Bytes(std::string_view b) {
    static constexpr char kDigits[] = "0123456789abcdef";
    Sep();
    out_ += "\\\\x";
    for (unsigned char c : b) {
      out_.push_back(kDigits[c >> 4]);
      out_.push_back(kDigits[c & 15]);
    }
  }
  void WriteTo(pqxx::stream_to& out) {
    out << *this;
    out_.clear();
    first_ = true;
  }
  const std::string& text() const { return out_; }

 private:
  void Sep() {
    if (!first_) out_.push_back('\t');
    first_ = false;
  }
  std::string out_;
  bool first_ = true;
};

}  // namespace
}  // namespace localbench::collector

template <>
pqxx::stream_to& pqxx::stream_to::operator<< <localbench::collector::Line>(const localbench::collector::Line& line) {
  write_raw_line(line.text());
  return *this;
}

namespace localbench::collector {

const std::vector<std::string>& SubmissionColumns() {
  static const std::vector<std::string> kColumns = {
      "submission_id", "agent_id", "machine_id", "device_id", "payload", "payload_sha256", "sweep_count",
      "point_count", "started_at", "finished_at", "agent_version", "kernel_source_hash", "suite_version",
      "suite_hash", "driver_version", "runtime_version", "pcie_link", "memory_free_at_start_bytes",
      "other_processes_hold_memory", "memory_used_by_others_bytes", "cpu_model", "cpu_physical_cores",
      "cpu_logical_cores", "ram_total_bytes", "os_name", "os_kernel", "data_version",
      // schema/0006
      "pcie_generation_current", "pcie_generation_max", "pcie_width_current", "pcie_width_max",
      "other_process_count"};
  return kColumns;
}

const std::vector<std::string>& SweepColumns() {
  static const std::vector<std::string> kColumns = {
      "submission_id", "sweep_index", "model_preset", "kind", "precision", "prompt_tokens", "generated_tokens",
      "sequence_tokens", "lora_rank", "largest_ok_batch", "smallest_failed_batch", "planned_max_batch",
      "oom_threshold_source",  // schema/0006
      // schema/0007
      "activation_precision", "gradient_checkpointing", "accumulation_steps", "full_finetune_accounting",
      "loss_chunks"};
  return kColumns;
}

const std::vector<std::string>& PointColumns() {
  static const std::vector<std::string> kColumns = {
      "submission_id", "sweep_index", "batch_size", "status", "error_message", "repetitions", "warmup_steps",
      "tokens_per_second_median", "tokens_per_second_min", "tokens_per_second_max", "step_seconds_median",
      "step_seconds_min", "step_seconds_max", "step_seconds_mean", "planned_bytes", "arena_peak_bytes",
      "device_delta_bytes", "process_memory_bytes", "sm_clock_mhz", "throttle_reasons", "reproduce_command",
      "process_peak_bytes", "runtime_memory_bytes"};  // schema/0006
  return kColumns;
}

void CopySubmission(pqxx::stream_to& out, const SubmissionRecord& r, int64_t machine_id, int64_t device_id,
                    int64_t data_version) {
  const v1::Submission& s = *r.s;
  const v1::Device& d = s.hardware().device();
  const v1::Host& h = s.hardware().host();
  const v1::Software& sw = s.software();
  Line line;
  line.Text(s.submission_id());
  line.Text(r.agent_id);
  line.Int(machine_id);
  line.Int(device_id);
  line.Bytes(r.payload);
  line.Text(r.sha);
  line.Int(s.sweeps_size());
  line.Int(r.point_count);
  line.Text(TimestampText(s.started_at()));
  line.Text(TimestampText(s.finished_at()));
  line.Text(sw.agent_version());
  line.Text(sw.kernel_source_hash());
  line.Text(sw.suite_version());
  line.Text(sw.suite_hash());
  line.Text(d.driver_version());
  line.Text(d.runtime_version());
  line.Text(d.pcie_link());
  line.U64(d.memory_free_at_start_bytes());
  line.Bool(d.other_processes_hold_memory());
  line.U64(d.memory_used_by_others_bytes());
  line.Text(h.cpu_model());
  line.Int(h.cpu_physical_cores());
  line.Int(h.cpu_logical_cores());
  line.U64(h.ram_total_bytes());
  line.Text(h.os_name());
  line.Text(h.os_kernel());
  line.Int(data_version);
  line.Int(d.pcie_generation_current());
  line.Int(d.pcie_generation_max());
  line.Int(d.pcie_width_current());
  line.Int(d.pcie_width_max());
  line.Int(d.other_process_count());
  line.WriteTo(out);
}

void CopySweeps(pqxx::stream_to& out, const v1::Submission& s) {
  Line line;
  for (int i = 0; i < s.sweeps_size(); ++i) {
    const v1::Sweep& sw = s.sweeps(i);
    const v1::Workload& w = sw.workload();
    line.Text(s.submission_id());
    line.Int(i);
    line.Text(w.model_preset());
    line.Text(KindName(w.kind()));
    line.Text(PrecisionName(w.precision()));
    line.Int(w.prompt_tokens());
    line.Int(w.generated_tokens());
    line.Int(w.sequence_tokens());
    line.Int(w.lora_rank());
    line.Int(sw.largest_ok_batch());
    line.Int(sw.smallest_failed_batch());
    line.Int(sw.planned_max_batch());
    line.Text(OomThresholdSourceName(sw.oom_threshold_source()));
    // Training dimensions, normalised so equal meanings store equal values.
    line.Text(w.activation_precision() == v1::PRECISION_UNSPECIFIED ? std::string_view("fp32")
                                                                     : PrecisionName(w.activation_precision()));
    line.Text(w.gradient_checkpointing() ? "t" : "f");
    line.Int(std::max<std::uint32_t>(1, w.accumulation_steps()));
    line.Text(w.kind() != v1::WORKLOAD_KIND_TRAIN_FULL ? std::string_view()
              : w.full_finetune_accounting() == v1::FULL_FINETUNE_ACCOUNTING_MIXED ? "mixed"
                                                                                  : "lean");
    line.Int(w.loss_chunks());
    line.WriteTo(out);
  }
}

void CopyPoints(pqxx::stream_to& out, const v1::Submission& s) {
  Line line;
  for (int i = 0; i < s.sweeps_size(); ++i) {
    for (const v1::Point& p : s.sweeps(i).points()) {
      line.Text(s.submission_id());
      line.Int(i);
      line.Int(p.batch_size());
      line.Text(PointStatusName(p.status()));
      line.Text(p.error_message());
      line.Int(p.repetitions());
      line.Int(p.warmup_steps());
      line.Double(p.tokens_per_second_median());
      line.Double(p.tokens_per_second_min());
      line.Double(p.tokens_per_second_max());
      line.Double(p.step_seconds_median());
      line.Double(p.step_seconds_min());
      line.Double(p.step_seconds_max());
      line.Double(p.step_seconds_mean());
      line.U64(p.planned_bytes());
      line.U64(p.arena_peak_bytes());
      if (p.has_device_delta_bytes()) line.U64(p.device_delta_bytes()); else line.Null();
      if (p.has_process_memory_bytes()) line.U64(p.process_memory_bytes()); else line.Null();
      if (p.has_sm_clock_mhz()) line.Int(p.sm_clock_mhz()); else line.Null();
      if (p.has_throttle_reasons()) line.U64(p.throttle_reasons()); else line.Null();
      line.Text(p.reproduce_command());
      if (p.has_process_peak_bytes()) line.U64(p.process_peak_bytes()); else line.Null();
      if (p.has_runtime_memory_bytes()) line.U64(p.runtime_memory_bytes()); else line.Null();
      line.WriteTo(out);
    }
  }
}

std::string TimestampText(const google::protobuf::Timestamp& t) {
  const std::time_t secs = static_cast<std::time_t>(t.seconds());
  std::tm tm{};
  gmtime_r(&secs, &tm);
  return absl::StrFormat("%04d-%02d-%02d %02d:%02d:%02d.%06d+00", tm.tm_year + 1900, tm.tm_mon + 1,
                         tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, t.nanos() / 1000);
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

}  // namespace localbench::collector
