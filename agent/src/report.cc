#include "localbench/agent/report.h"

#include <google/protobuf/util/json_util.h>

#include <cstdio>
#include <sstream>

#include "localbench/agent/options.h"
#include "localbench/agent/outbox.h"
#include "localbench/agent/train_dims.h"

#include "localbench/common/names.h"

namespace localbench::agent {
namespace {

std::string Fixed(double v, int digits) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.*f", digits, v);
  return buf;
}

std::string Pad(std::string s, std::size_t width, bool right = false) {
  if (s.size() >= width) return s;
  return right ? std::string(width - s.size(), ' ') + s : s + std::string(width - s.size(), ' ');
}

std::string Lengths(const v1::Workload& w) {
  switch (w.kind()) {
    case v1::WORKLOAD_KIND_PREFILL: return "p" + std::to_string(w.prompt_tokens());
    case v1::WORKLOAD_KIND_DECODE:
      return "p" + std::to_string(w.prompt_tokens()) + "+g" + std::to_string(w.generated_tokens());
    default: {
      std::string s = "s" + std::to_string(w.sequence_tokens());
      if (w.lora_rank() != 0) s += " r" + std::to_string(w.lora_rank());
      return s + DescribeTrainDims(TrainDimsOf(w));  // "bf16-acts ckpt-on ..." (2027.01 on)
    }
  }
}

// An optional number for CSV: empty when unknown, so 0 always means 0.
template <typename T>
std::string Known(bool has, T value) {
  return has ? std::to_string(value) : std::string();
}

std::string CsvField(const std::string& s) {
  if (s.find_first_of(",\"\n\r") == std::string::npos) return s;
  std::string out = "\"";
  for (char c : s) {
    if (c == '"') out += '"';
    out += c;
  }
  return out + "\"";
}

}  // namespace

std::string StatusText(v1::PointStatus status) {
  switch (status) {
    case v1::POINT_STATUS_OK: return "ok";
    case v1::POINT_STATUS_OOM: return "OOM";
    case v1::POINT_STATUS_ERROR: return "error";
    case v1::POINT_STATUS_SKIPPED_WONT_FIT: return "won't fit";
    case v1::POINT_STATUS_SKIPPED_FOR_TIME: return "no time";
    default: return "?";
  }
}

std::string FormatTable(const v1::Submission& s) {
  std::ostringstream out;
  const auto& dev = s.hardware().device();
  out << "Device: " << dev.name() << " (" << BackendName(dev.backend()) << ", "
      << FormatBytes(dev.memory_total_bytes()) << (dev.backend() == v1::BACKEND_CPU ? " limit" : "") << ")";
  if (dev.other_processes_hold_memory()) {
    out << "  [other processes held " << FormatBytes(dev.memory_used_by_others_bytes()) << " at start]";
  }
  out << "\nHost:   " << s.hardware().host().cpu_model() << ", " << s.hardware().host().cpu_logical_cores()
      << " threads, " << FormatBytes(s.hardware().host().ram_total_bytes()) << " RAM, "
      << s.hardware().host().os_name() << "\n";
  out << "Suite:  " << s.software().suite_version() << " (" << s.software().suite_hash().substr(0, 12)
      << "), agent " << s.software().agent_version() << "\n\n";
  const std::size_t widths[] = {16, 10, 5, 11, 6, 10, 12, 12, 12, 12};
  const char* heads[] = {"preset", "workload", "prec", "lengths", "batch", "status", "tokens/s", "peak",
                         "planned", "process peak"};
  for (int i = 0; i < 10; ++i) out << Pad(heads[i], widths[i], i >= 4) << (i < 9 ? "  " : "\n");
  for (const auto& sweep : s.sweeps()) {
    const auto& w = sweep.workload();
    for (const auto& p : sweep.points()) {
      const bool ok = p.status() == v1::POINT_STATUS_OK;
      std::string cells[] = {w.model_preset(),
                             std::string(WorkloadName(w.kind())),
                             std::string(PrecisionName(w.precision())),
                             Lengths(w),
                             std::to_string(p.batch_size()),
                             StatusText(p.status()),
                             ok ? Fixed(p.tokens_per_second_median(), 1) : "-",
                             p.arena_peak_bytes() ? FormatBytes(p.arena_peak_bytes()) : "-",
                             p.planned_bytes() ? FormatBytes(p.planned_bytes()) : "-",
                             p.has_process_peak_bytes() ? FormatBytes(p.process_peak_bytes()) : "-"};
      for (int i = 0; i < 10; ++i) out << Pad(cells[i], widths[i], i >= 4) << (i < 9 ? "  " : "\n");
    }
    if (sweep.points_size() == 1 && (sweep.points(0).status() == v1::POINT_STATUS_SKIPPED_WONT_FIT ||
                                     sweep.points(0).status() == v1::POINT_STATUS_SKIPPED_FOR_TIME)) {
      out << "  -> not run: " << sweep.points(0).error_message() << "\n";
      continue;
    }
    out << "  -> largest batch that fits: "
        << (sweep.largest_ok_batch() ? std::to_string(sweep.largest_ok_batch()) : std::string("none"))
        << ", smallest that failed: "
        << (sweep.smallest_failed_batch() ? std::to_string(sweep.smallest_failed_batch())
            : sweep.points(sweep.points_size() - 1).status() == v1::POINT_STATUS_SKIPPED_FOR_TIME
                ? std::string("none (the time budget stopped the sweep)")
                : std::string("none (cap reached)"))
        << ", plan predicted: " << sweep.planned_max_batch();
    if (sweep.oom_threshold_source() == v1::OOM_THRESHOLD_SOURCE_PROVEN) {
      out << " (threshold proven on the device)";
    } else if (sweep.oom_threshold_source() == v1::OOM_THRESHOLD_SOURCE_PLANNED) {
      out << " (threshold planned, not proven)";
    }
    out << "\n";
  }
  return out.str();
}

std::string FormatCsv(const v1::Submission& s) {
  std::ostringstream out;
  out << "submission_id,device,backend,preset,workload,precision,prompt_tokens,generated_tokens,"
         "sequence_tokens,lora_rank,batch_size,status,tokens_per_second_median,tokens_per_second_min,"
         "tokens_per_second_max,step_seconds_median,arena_peak_bytes,device_delta_bytes,process_memory_bytes,"
         "sm_clock_mhz,throttle_reasons,planned_bytes,"
         "largest_ok_batch,smallest_failed_batch,error_message,reproduce_command,process_peak_bytes,"
         "runtime_memory_bytes,oom_threshold_source\n";
  const auto& dev = s.hardware().device();
  for (const auto& sweep : s.sweeps()) {
    const auto& w = sweep.workload();
    for (const auto& p : sweep.points()) {
      out << s.submission_id() << ',' << CsvField(dev.name()) << ',' << BackendName(dev.backend()) << ','
          << CsvField(w.model_preset()) << ',' << WorkloadName(w.kind()) << ',' << PrecisionName(w.precision())
          << ',' << w.prompt_tokens() << ',' << w.generated_tokens() << ',' << w.sequence_tokens() << ','
          << w.lora_rank() << ',' << p.batch_size() << ',' << CsvField(StatusText(p.status())) << ','
          << Fixed(p.tokens_per_second_median(), 3) << ',' << Fixed(p.tokens_per_second_min(), 3) << ','
          << Fixed(p.tokens_per_second_max(), 3) << ',' << Fixed(p.step_seconds_median(), 6) << ','
          << p.arena_peak_bytes() << ',' << Known(p.has_device_delta_bytes(), p.device_delta_bytes()) << ','
          << Known(p.has_process_memory_bytes(), p.process_memory_bytes()) << ','
          << Known(p.has_sm_clock_mhz(), p.sm_clock_mhz()) << ','
          << Known(p.has_throttle_reasons(), p.throttle_reasons()) << ',' << p.planned_bytes() << ','
          << sweep.largest_ok_batch() << ',' << sweep.smallest_failed_batch() << ','
          << CsvField(p.error_message()) << ',' << CsvField(p.reproduce_command()) << ','
          << Known(p.has_process_peak_bytes(), p.process_peak_bytes()) << ','
          << Known(p.has_runtime_memory_bytes(), p.runtime_memory_bytes()) << ','
          << OomThresholdSourceName(sweep.oom_threshold_source()) << '\n';
    }
  }
  return out.str();
}

absl::StatusOr<std::string> FormatJson(const v1::Submission& submission) {
  std::string json;
  google::protobuf::util::JsonPrintOptions options;
  options.add_whitespace = true;
  options.preserve_proto_field_names = false;
  auto st = google::protobuf::util::MessageToJsonString(submission, &json, options);
  if (!st.ok()) return absl::InternalError("cannot format JSON: " + st.ToString());
  return json;
}

absl::StatusOr<v1::Submission> ParseJson(const std::string& json) {
  v1::Submission submission;
  auto st = google::protobuf::util::JsonStringToMessage(json, &submission);
  if (!st.ok()) return absl::InvalidArgumentError("not a localbench results JSON: " + st.ToString());
  return submission;
}

absl::StatusOr<v1::Submission> ParseResults(const std::string& bytes, const std::string& origin) {
  const auto first = bytes.find_first_not_of(" \t\r\n");
  if (first != std::string::npos && bytes[first] == '{') return ParseJson(bytes);
  return ParseSubmissionBytes(bytes, origin);
}

}  // namespace localbench::agent
