// The rules. Each check names the field it rejects with its full path, so an
// agent author (or a volunteer reading a log) can find the cause at once.
#include "localbench/collector/validation.h"

#include <algorithm>
#include <cmath>
#include <string>

#include "absl/strings/str_cat.h"
#include "localbench/common/crypto.h"
#include "localbench/common/names.h"

namespace localbench::collector {
namespace {

using v1::Point;
using v1::Submission;
using v1::Sweep;

absl::Status Invalid(absl::string_view path, absl::string_view what) {
  return absl::InvalidArgumentError(absl::StrCat(path, ": ", what));
}

#define LB_RETURN_IF_ERROR(expr)        \
  do {                                  \
    absl::Status _st = (expr);          \
    if (!_st.ok()) return _st;          \
  } while (false)

// Text fields: bounded, valid UTF-8, no NUL (PostgreSQL text cannot hold it
// and it truncates C strings downstream).
absl::Status CheckText(absl::string_view path, std::string_view s, std::size_t max_chars,
                       bool required) {
  if (required && s.empty()) return Invalid(path, "is required");
  if (s.size() > max_chars) {
    return Invalid(path, absl::StrCat("must be at most ", max_chars, " bytes"));
  }
  if (s.find('\0') != std::string_view::npos) return Invalid(path, "must not contain NUL bytes");
  if (!IsValidUtf8(s)) return Invalid(path, "must be valid UTF-8");
  return absl::OkStatus();
}

bool IsLowerHex64(std::string_view s) {
  if (s.size() != 64) return false;
  for (char c : s) {
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return false;
  }
  return true;
}

absl::Status CheckHash(absl::string_view path, std::string_view s) {
  if (!IsLowerHex64(s)) return Invalid(path, "must be 64 lower-case hex characters (SHA-256)");
  return absl::OkStatus();
}

absl::Status CheckBytes(absl::string_view path, uint64_t v) {
  if (v > Limits::kMaxBytes) return Invalid(path, absl::StrCat("must be at most ", Limits::kMaxBytes));
  return absl::OkStatus();
}

absl::Status CheckCount(absl::string_view path, uint64_t v, uint64_t max) {
  if (v > max) return Invalid(path, absl::StrCat("must be at most ", max));
  return absl::OkStatus();
}

// A rate or duration of a point that ran: finite and strictly positive.
absl::Status CheckPositive(absl::string_view path, double v) {
  if (!std::isfinite(v) || v <= 0) return Invalid(path, "must be finite and > 0");
  return absl::OkStatus();
}

// Any measured double: finite and not negative.
absl::Status CheckNonNegative(absl::string_view path, double v) {
  if (!std::isfinite(v) || v < 0) return Invalid(path, "must be finite and >= 0");
  return absl::OkStatus();
}

absl::Status CheckDotted(absl::string_view path, std::string_view s) {
  // "8.9": digits, one dot, digits.
  const auto dot = s.find('.');
  bool ok = dot != std::string_view::npos && dot > 0 && dot + 1 < s.size() && s.size() <= 8;
  for (std::size_t i = 0; ok && i < s.size(); ++i) {
    if (i != dot && !(s[i] >= '0' && s[i] <= '9')) ok = false;
  }
  if (!ok) return Invalid(path, "must look like \"8.9\" (major.minor)");
  return absl::OkStatus();
}

absl::Status CheckGfx(absl::string_view path, std::string_view s) {
  bool ok = s.size() > 3 && s.size() <= 32 && s.substr(0, 3) == "gfx";
  for (std::size_t i = 3; ok && i < s.size(); ++i) {
    const char c = s[i];
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) ok = false;
  }
  if (!ok) return Invalid(path, "must look like \"gfx1030\"");
  return absl::OkStatus();
}

absl::Status CheckPreset(absl::string_view path, std::string_view s) {
  // Same shape as the schema's CHECK: ^[a-z0-9][a-z0-9._-]{0,63}$
  bool ok = !s.empty() && s.size() <= 64;
  for (std::size_t i = 0; ok && i < s.size(); ++i) {
    const char c = s[i];
    const bool alnum = (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9');
    if (!(alnum || (i > 0 && (c == '.' || c == '_' || c == '-')))) ok = false;
  }
  if (!ok) {
    return Invalid(path, "must be 1-64 characters of [a-z0-9._-], starting with a letter or digit");
  }
  return absl::OkStatus();
}

absl::Status CheckTimestamp(absl::string_view path, const google::protobuf::Timestamp& t,
                            bool present, std::chrono::system_clock::time_point now) {
  if (!present) return Invalid(path, "is required");
  if (t.nanos() < 0 || t.nanos() > 999'999'999) return Invalid(path, "nanos must be in [0, 1e9)");
  const int64_t now_s =
      std::chrono::duration_cast<std::chrono::seconds>(now.time_since_epoch()).count();
  if (t.seconds() < Limits::kEarliestUnixSeconds) return Invalid(path, "must be after 2020-01-01");
  if (t.seconds() > now_s + Limits::kMaxFutureSeconds) {
    return Invalid(path, "must not be more than a day in the future");
  }
  return absl::OkStatus();
}

absl::Status CheckDevice(const v1::Device& d) {
  if (d.backend() == v1::BACKEND_UNSPECIFIED || !v1::Backend_IsValid(d.backend())) {
    return Invalid("hardware.device.backend", "must be CPU, CUDA or HIP");
  }
  if (d.vendor() == v1::VENDOR_UNSPECIFIED || !v1::Vendor_IsValid(d.vendor())) {
    return Invalid("hardware.device.vendor", "must be specified");
  }
  if (d.backend() == v1::BACKEND_CUDA && d.vendor() != v1::VENDOR_NVIDIA) {
    return Invalid("hardware.device.vendor", "must be NVIDIA for the CUDA backend");
  }
  if (d.backend() == v1::BACKEND_HIP && d.vendor() != v1::VENDOR_AMD) {
    return Invalid("hardware.device.vendor", "must be AMD for the HIP backend");
  }
  LB_RETURN_IF_ERROR(CheckText("hardware.device.name", d.name(), Limits::kMaxNameChars, true));
  if (d.memory_total_bytes() == 0) return Invalid("hardware.device.memory_total_bytes", "must be > 0");
  LB_RETURN_IF_ERROR(CheckBytes("hardware.device.memory_total_bytes", d.memory_total_bytes()));
  if (d.memory_free_at_start_bytes() > d.memory_total_bytes()) {
    return Invalid("hardware.device.memory_free_at_start_bytes",
                   "must not exceed memory_total_bytes");
  }
  LB_RETURN_IF_ERROR(CheckText("hardware.device.driver_version", d.driver_version(),
                               Limits::kMaxVersionChars, false));
  LB_RETURN_IF_ERROR(CheckText("hardware.device.runtime_version", d.runtime_version(),
                               Limits::kMaxVersionChars, false));
  if (!d.compute_capability().empty()) {
    if (d.vendor() != v1::VENDOR_NVIDIA) {
      return Invalid("hardware.device.compute_capability", "is for NVIDIA devices only");
    }
    LB_RETURN_IF_ERROR(CheckDotted("hardware.device.compute_capability", d.compute_capability()));
  }
  if (!d.gfx_target().empty()) {
    if (d.vendor() != v1::VENDOR_AMD) {
      return Invalid("hardware.device.gfx_target", "is for AMD devices only");
    }
    LB_RETURN_IF_ERROR(CheckGfx("hardware.device.gfx_target", d.gfx_target()));
  }
  LB_RETURN_IF_ERROR(
      CheckCount("hardware.device.multiprocessor_count", d.multiprocessor_count(), Limits::kMaxCount));
  LB_RETURN_IF_ERROR(
      CheckText("hardware.device.pcie_link", d.pcie_link(), Limits::kMaxVersionChars, false));
  if (d.memory_used_by_others_bytes() > d.memory_total_bytes()) {
    return Invalid("hardware.device.memory_used_by_others_bytes",
                   "must not exceed memory_total_bytes");
  }
  if (!d.other_processes_hold_memory() && d.memory_used_by_others_bytes() != 0) {
    return Invalid("hardware.device.memory_used_by_others_bytes",
                   "must be 0 when other_processes_hold_memory is false");
  }
  // The PCIe link: generations and lane counts are small numbers (0 =
  // unknown); a link never runs above what it can do.
  struct Link {
    const char* now_name;
    uint32_t now;
    const char* max_name;
    uint32_t max;
  };
  const Link links[] = {{"hardware.device.pcie_generation_current", d.pcie_generation_current(),
                         "hardware.device.pcie_generation_max", d.pcie_generation_max()},
                        {"hardware.device.pcie_width_current", d.pcie_width_current(),
                         "hardware.device.pcie_width_max", d.pcie_width_max()}};
  for (const Link& l : links) {
    LB_RETURN_IF_ERROR(CheckCount(l.now_name, l.now, Limits::kMaxPcieValue));
    LB_RETURN_IF_ERROR(CheckCount(l.max_name, l.max, Limits::kMaxPcieValue));
    if (l.max != 0 && l.now > l.max) return Invalid(l.now_name, absl::StrCat("must not exceed ", l.max_name));
  }
  LB_RETURN_IF_ERROR(
      CheckCount("hardware.device.other_process_count", d.other_process_count(), Limits::kMaxCount));
  if (d.other_process_count() > 0 && !d.other_processes_hold_memory()) {
    return Invalid("hardware.device.other_process_count",
                   "must be 0 when other_processes_hold_memory is false");
  }
  return absl::OkStatus();
}

absl::Status CheckHost(const v1::Host& h) {
  LB_RETURN_IF_ERROR(CheckText("hardware.host.cpu_model", h.cpu_model(), Limits::kMaxNameChars, false));
  LB_RETURN_IF_ERROR(
      CheckCount("hardware.host.cpu_physical_cores", h.cpu_physical_cores(), Limits::kMaxCount));
  LB_RETURN_IF_ERROR(
      CheckCount("hardware.host.cpu_logical_cores", h.cpu_logical_cores(), Limits::kMaxCount));
  if (h.cpu_logical_cores() < h.cpu_physical_cores()) {
    return Invalid("hardware.host.cpu_logical_cores", "must be >= cpu_physical_cores");
  }
  LB_RETURN_IF_ERROR(CheckBytes("hardware.host.ram_total_bytes", h.ram_total_bytes()));
  LB_RETURN_IF_ERROR(CheckText("hardware.host.os_name", h.os_name(), Limits::kMaxNameChars, false));
  LB_RETURN_IF_ERROR(CheckText("hardware.host.os_kernel", h.os_kernel(), Limits::kMaxNameChars, false));
  return absl::OkStatus();
}

absl::Status CheckSoftware(const v1::Software& s) {
  LB_RETURN_IF_ERROR(CheckText("software.agent_version", s.agent_version(),
                               Limits::kMaxAgentVersionChars, true));
  LB_RETURN_IF_ERROR(CheckHash("software.kernel_source_hash", s.kernel_source_hash()));
  LB_RETURN_IF_ERROR(
      CheckText("software.suite_version", s.suite_version(), Limits::kMaxVersionChars, true));
  LB_RETURN_IF_ERROR(CheckHash("software.suite_hash", s.suite_hash()));
  return absl::OkStatus();
}


// Workload fields 8-12 (issue 13): training only, each in range; 16-bit
// activations only in a run of that precision (bf16 over quantized weights); the accounting exactly for
// TRAIN_FULL (UNSPECIFIED there = an agent before 2027.01: lean).
absl::Status CheckTrainingDimensions(const std::string& p, const v1::Workload& w) {
  const bool training = w.kind() == v1::WORKLOAD_KIND_TRAIN_LORA || w.kind() == v1::WORKLOAD_KIND_TRAIN_FULL;
  if (!v1::Precision_IsValid(w.activation_precision())) {
    return Invalid(absl::StrCat(p, ".activation_precision"), "must be UNSPECIFIED, FP32, FP16 or BF16");
  }
  if (!v1::FullFinetuneAccounting_IsValid(w.full_finetune_accounting())) {
    return Invalid(absl::StrCat(p, ".full_finetune_accounting"), "must be UNSPECIFIED, MIXED or LEAN");
  }
  if (!training) {
    if (w.activation_precision() != v1::PRECISION_UNSPECIFIED) {
      return Invalid(absl::StrCat(p, ".activation_precision"), "must be unset for inference");
    }
    if (w.gradient_checkpointing()) {
      return Invalid(absl::StrCat(p, ".gradient_checkpointing"), "must be unset for inference");
    }
    if (w.accumulation_steps() != 0) {
      return Invalid(absl::StrCat(p, ".accumulation_steps"), "must be unset for inference");
    }
    if (w.loss_chunks() != 0) return Invalid(absl::StrCat(p, ".loss_chunks"), "must be unset for inference");
  }
  if (IsQuantized(w.activation_precision())) {
    return Invalid(absl::StrCat(p, ".activation_precision"), "must be UNSPECIFIED, FP32, FP16 or BF16");
  }
  // A run over quantized weights computes in bf16: its activations may be
  // bf16 (QLoRA as bitsandbytes runs it; schema/0009).
  const v1::Precision run16 = IsQuantized(w.precision()) ? v1::PRECISION_BF16 : w.precision();
  if (w.activation_precision() != v1::PRECISION_UNSPECIFIED && w.activation_precision() != v1::PRECISION_FP32 &&
      w.activation_precision() != run16) {
    return Invalid(absl::StrCat(p, ".activation_precision"),
                   "must be FP32 or the workload's precision (BF16 over quantized weights)");
  }
  LB_RETURN_IF_ERROR(CheckCount(absl::StrCat(p, ".accumulation_steps"), w.accumulation_steps(), 1024));
  LB_RETURN_IF_ERROR(CheckCount(absl::StrCat(p, ".loss_chunks"), w.loss_chunks(), 1024));
  if (w.kind() != v1::WORKLOAD_KIND_TRAIN_FULL &&
      w.full_finetune_accounting() != v1::FULL_FINETUNE_ACCOUNTING_UNSPECIFIED) {
    return Invalid(absl::StrCat(p, ".full_finetune_accounting"), "must be unset except for TRAIN_FULL");
  }
  return absl::OkStatus();
}

absl::Status CheckWorkload(const std::string& p, const v1::Workload& w) {
  LB_RETURN_IF_ERROR(CheckPreset(absl::StrCat(p, ".model_preset"), w.model_preset()));
  if (w.kind() == v1::WORKLOAD_KIND_UNSPECIFIED || !v1::WorkloadKind_IsValid(w.kind())) {
    return Invalid(absl::StrCat(p, ".kind"), "must be PREFILL, DECODE, TRAIN_LORA or TRAIN_FULL");
  }
  if (w.precision() == v1::PRECISION_UNSPECIFIED || !v1::Precision_IsValid(w.precision())) {
    return Invalid(absl::StrCat(p, ".precision"), "must be FP32, FP16, BF16, Q8_0, Q4_0 or NF4");
  }
  if (IsQuantized(w.precision()) && w.kind() == v1::WORKLOAD_KIND_TRAIN_FULL) {
    return Invalid(absl::StrCat(p, ".precision"), "quantized weights are frozen: TRAIN_FULL needs FP32, FP16 or BF16");
  }
  LB_RETURN_IF_ERROR(CheckCount(absl::StrCat(p, ".prompt_tokens"), w.prompt_tokens(), Limits::kMaxTokens));
  LB_RETURN_IF_ERROR(
      CheckCount(absl::StrCat(p, ".generated_tokens"), w.generated_tokens(), Limits::kMaxTokens));
  LB_RETURN_IF_ERROR(
      CheckCount(absl::StrCat(p, ".sequence_tokens"), w.sequence_tokens(), Limits::kMaxTokens));
  LB_RETURN_IF_ERROR(CheckCount(absl::StrCat(p, ".lora_rank"), w.lora_rank(), Limits::kMaxLoraRank));
  const bool inference = w.kind() == v1::WORKLOAD_KIND_PREFILL || w.kind() == v1::WORKLOAD_KIND_DECODE;
  if (inference && w.prompt_tokens() == 0) {
    return Invalid(absl::StrCat(p, ".prompt_tokens"), "must be > 0 for prefill and decode");
  }
  if (w.kind() == v1::WORKLOAD_KIND_DECODE && w.generated_tokens() == 0) {
    return Invalid(absl::StrCat(p, ".generated_tokens"), "must be > 0 for decode");
  }
  if (!inference && w.sequence_tokens() == 0) {
    return Invalid(absl::StrCat(p, ".sequence_tokens"), "must be > 0 for training");
  }
  if ((w.kind() == v1::WORKLOAD_KIND_TRAIN_LORA) != (w.lora_rank() > 0)) {
    return Invalid(absl::StrCat(p, ".lora_rank"), "must be > 0 exactly for TRAIN_LORA");
  }
  return CheckTrainingDimensions(p, w);
}

absl::Status CheckPoint(const std::string& p, const Point& pt) {
  if (pt.batch_size() == 0 || pt.batch_size() > Limits::kMaxBatch) {
    return Invalid(absl::StrCat(p, ".batch_size"), absl::StrCat("must be in [1, ", Limits::kMaxBatch, "]"));
  }
  if (pt.status() == v1::POINT_STATUS_UNSPECIFIED || !v1::PointStatus_IsValid(pt.status())) {
    return Invalid(absl::StrCat(p, ".status"), "must be OK, OOM, ERROR, SKIPPED_WONT_FIT or SKIPPED_FOR_TIME");
  }
  LB_RETURN_IF_ERROR(
      CheckText(absl::StrCat(p, ".error_message"), pt.error_message(), Limits::kMaxMessageChars, false));
  LB_RETURN_IF_ERROR(CheckText(absl::StrCat(p, ".reproduce_command"), pt.reproduce_command(),
                               Limits::kMaxMessageChars, false));
  LB_RETURN_IF_ERROR(CheckCount(absl::StrCat(p, ".repetitions"), pt.repetitions(), Limits::kMaxCount));
  LB_RETURN_IF_ERROR(CheckCount(absl::StrCat(p, ".warmup_steps"), pt.warmup_steps(), Limits::kMaxCount));
  LB_RETURN_IF_ERROR(CheckBytes(absl::StrCat(p, ".planned_bytes"), pt.planned_bytes()));
  LB_RETURN_IF_ERROR(CheckBytes(absl::StrCat(p, ".arena_peak_bytes"), pt.arena_peak_bytes()));
  LB_RETURN_IF_ERROR(CheckBytes(absl::StrCat(p, ".device_delta_bytes"), pt.device_delta_bytes()));
  LB_RETURN_IF_ERROR(CheckBytes(absl::StrCat(p, ".process_memory_bytes"), pt.process_memory_bytes()));
  LB_RETURN_IF_ERROR(CheckBytes(absl::StrCat(p, ".process_peak_bytes"), pt.process_peak_bytes()));
  LB_RETURN_IF_ERROR(CheckBytes(absl::StrCat(p, ".runtime_memory_bytes"), pt.runtime_memory_bytes()));
  LB_RETURN_IF_ERROR(CheckCount(absl::StrCat(p, ".sm_clock_mhz"), pt.sm_clock_mhz(), Limits::kMaxClockMhz));
  if (pt.throttle_reasons() > static_cast<uint64_t>(INT64_MAX)) {
    return Invalid(absl::StrCat(p, ".throttle_reasons"), "must be < 2^63");
  }
  struct Named {
    const char* name;
    double value;
  };
  const Named tps[] = {{".tokens_per_second_median", pt.tokens_per_second_median()},
                       {".tokens_per_second_min", pt.tokens_per_second_min()},
                       {".tokens_per_second_max", pt.tokens_per_second_max()}};
  const Named step[] = {{".step_seconds_median", pt.step_seconds_median()},
                        {".step_seconds_min", pt.step_seconds_min()},
                        {".step_seconds_max", pt.step_seconds_max()},
                        {".step_seconds_mean", pt.step_seconds_mean()}};
  if (pt.status() == v1::POINT_STATUS_OK) {
    for (const Named& f : tps) LB_RETURN_IF_ERROR(CheckPositive(absl::StrCat(p, f.name), f.value));
    for (const Named& f : step) LB_RETURN_IF_ERROR(CheckPositive(absl::StrCat(p, f.name), f.value));
    if (!(pt.tokens_per_second_min() <= pt.tokens_per_second_median() &&
          pt.tokens_per_second_median() <= pt.tokens_per_second_max())) {
      return Invalid(absl::StrCat(p, ".tokens_per_second_median"), "must lie within [min, max]");
    }
    if (!(pt.step_seconds_min() <= pt.step_seconds_median() &&
          pt.step_seconds_median() <= pt.step_seconds_max())) {
      return Invalid(absl::StrCat(p, ".step_seconds_median"), "must lie within [min, max]");
    }
    if (!(pt.step_seconds_min() <= pt.step_seconds_mean() &&
          pt.step_seconds_mean() <= pt.step_seconds_max())) {
      return Invalid(absl::StrCat(p, ".step_seconds_mean"), "must lie within [min, max]");
    }
    if (pt.repetitions() == 0) return Invalid(absl::StrCat(p, ".repetitions"), "must be > 0 for an OK point");
    if (!pt.error_message().empty()) {
      return Invalid(absl::StrCat(p, ".error_message"), "must be empty for an OK point");
    }
  } else {
    // Nothing ran to completion, so nothing was timed.
    for (const Named& f : tps) {
      LB_RETURN_IF_ERROR(CheckNonNegative(absl::StrCat(p, f.name), f.value));
      if (f.value != 0) return Invalid(absl::StrCat(p, f.name), "must be 0 unless status is OK");
    }
    for (const Named& f : step) {
      LB_RETURN_IF_ERROR(CheckNonNegative(absl::StrCat(p, f.name), f.value));
      if (f.value != 0) return Invalid(absl::StrCat(p, f.name), "must be 0 unless status is OK");
    }
    if (pt.status() == v1::POINT_STATUS_ERROR && pt.error_message().empty()) {
      return Invalid(absl::StrCat(p, ".error_message"), "is required when status is ERROR");
    }
  }
  return absl::OkStatus();
}

// What the device can hold: a measured peak above it cannot have happened.
struct MemoryBounds {
  uint64_t device_bytes;   // device.memory_total_bytes (VRAM, or the CPU limit)
  uint64_t process_bytes;  // ceiling of process_memory_bytes (CPU: the host's RAM)
};

MemoryBounds BoundsOf(const v1::Hardware& hw) {
  const uint64_t device = hw.device().memory_total_bytes();
  // The CPU backend reports the process's resident memory, which the host's
  // RAM bounds (the device limit only bounds the arena). An unknown RAM size
  // (0) falls back to the device figure rather than to no bound at all.
  const uint64_t ram = hw.host().ram_total_bytes();
  const bool cpu = hw.device().backend() == v1::BACKEND_CPU;
  return {device, cpu && ram > 0 ? std::max(ram, device) : device};
}

// Measured memory must fit the device, whatever the status: a point that
// failed measured less, not more. planned_bytes is a prediction, so only an
// OK point's plan (which the arena reserved in full) is bounded; OOM and
// won't-fit points exist precisely because their plan exceeds the device.
absl::Status CheckMemoryFits(const std::string& p, const Point& pt, const MemoryBounds& b) {
  auto above = [&](const char* field, uint64_t v, uint64_t limit, const char* what) {
    return Invalid(absl::StrCat(p, field),
                   absl::StrCat(v, " bytes is more than the ", what, " (", limit, " bytes)"));
  };
  if (pt.arena_peak_bytes() > b.device_bytes) {
    return above(".arena_peak_bytes", pt.arena_peak_bytes(), b.device_bytes,
                 "device has (hardware.device.memory_total_bytes)");
  }
  if (pt.has_device_delta_bytes() && pt.device_delta_bytes() > b.device_bytes) {
    return above(".device_delta_bytes", pt.device_delta_bytes(), b.device_bytes,
                 "device has (hardware.device.memory_total_bytes)");
  }
  if (pt.has_process_memory_bytes() && pt.process_memory_bytes() > b.process_bytes) {
    return above(".process_memory_bytes", pt.process_memory_bytes(), b.process_bytes,
                 b.process_bytes == b.device_bytes ? "device has (hardware.device.memory_total_bytes)"
                                                   : "host has (hardware.host.ram_total_bytes)");
  }
  // The sampled peak and the runtime's share are readings of the same
  // process figure (GPU: NVML / rocm-smi; CPU: resident set), so the same
  // ceiling holds.
  if (pt.has_process_peak_bytes() && pt.process_peak_bytes() > b.process_bytes) {
    return above(".process_peak_bytes", pt.process_peak_bytes(), b.process_bytes,
                 b.process_bytes == b.device_bytes ? "device has (hardware.device.memory_total_bytes)"
                                                   : "host has (hardware.host.ram_total_bytes)");
  }
  if (pt.has_runtime_memory_bytes() && pt.runtime_memory_bytes() > b.process_bytes) {
    return above(".runtime_memory_bytes", pt.runtime_memory_bytes(), b.process_bytes,
                 b.process_bytes == b.device_bytes ? "device has (hardware.device.memory_total_bytes)"
                                                   : "host has (hardware.host.ram_total_bytes)");
  }
  if (pt.status() == v1::POINT_STATUS_OK && pt.planned_bytes() > b.device_bytes) {
    return above(".planned_bytes", pt.planned_bytes(), b.device_bytes,
                 "device has (hardware.device.memory_total_bytes), yet the point ran");
  }
  return absl::OkStatus();
}

absl::Status CheckSweep(const std::string& p, const Sweep& sw, const MemoryBounds& bounds) {
  if (!sw.has_workload()) return Invalid(absl::StrCat(p, ".workload"), "is required");
  LB_RETURN_IF_ERROR(CheckWorkload(absl::StrCat(p, ".workload"), sw.workload()));
  if (sw.points_size() == 0) return Invalid(absl::StrCat(p, ".points"), "must not be empty");
  if (sw.points_size() > Limits::kMaxPointsPerSweep) {
    return Invalid(absl::StrCat(p, ".points"), absl::StrCat("must hold at most ", Limits::kMaxPointsPerSweep));
  }
  uint32_t prev_batch = 0;
  uint32_t largest_ok = 0;
  for (int i = 0; i < sw.points_size(); ++i) {
    const std::string pp = absl::StrCat(p, ".points[", i, "]");
    const Point& pt = sw.points(i);
    LB_RETURN_IF_ERROR(CheckPoint(pp, pt));
    LB_RETURN_IF_ERROR(CheckMemoryFits(pp, pt, bounds));
    if (pt.batch_size() <= prev_batch) {
      return Invalid(absl::StrCat(pp, ".batch_size"), "must be greater than the previous point's");
    }
    prev_batch = pt.batch_size();
    if (pt.status() == v1::POINT_STATUS_OK) largest_ok = pt.batch_size();
  }
  // The threshold is the first OOM above the largest batch that ran; an OOM
  // below it (e.g. transient fragmentation) stays a point but is no bound.
  uint32_t smallest_oom = 0;
  for (const Point& pt : sw.points()) {
    if (pt.status() == v1::POINT_STATUS_OOM && pt.batch_size() > largest_ok) {
      smallest_oom = pt.batch_size();
      break;
    }
  }
  // The bracket must be what the points show (the agent's sweep computes it
  // the same way: kernels/src/sweep.cc).
  if (sw.largest_ok_batch() != largest_ok) {
    return Invalid(absl::StrCat(p, ".largest_ok_batch"),
                   absl::StrCat("must equal the largest OK point's batch_size (", largest_ok, ")"));
  }
  if (sw.smallest_failed_batch() != smallest_oom) {
    return Invalid(absl::StrCat(p, ".smallest_failed_batch"),
                   absl::StrCat("must equal the smallest batch_size of an OOM point above "
                                "largest_ok_batch (", smallest_oom, ")"));
  }
  LB_RETURN_IF_ERROR(
      CheckCount(absl::StrCat(p, ".planned_max_batch"), sw.planned_max_batch(), Limits::kMaxBatch));
  if (!v1::OomThresholdSource_IsValid(sw.oom_threshold_source())) {
    return Invalid(absl::StrCat(p, ".oom_threshold_source"), "must be UNSPECIFIED, PROVEN or PLANNED");
  }
  // "Proven" claims a measured bracket: a batch that ran and the next one
  // failing to allocate. Anything less is a planned threshold.
  if (sw.oom_threshold_source() == v1::OOM_THRESHOLD_SOURCE_PROVEN &&
      (largest_ok == 0 || smallest_oom != largest_ok + 1)) {
    return Invalid(absl::StrCat(p, ".oom_threshold_source"),
                   "PROVEN needs an OK point at largest_ok_batch and an OOM point at largest_ok_batch + 1");
  }
  return absl::OkStatus();
}

}  // namespace

bool IsValidUtf8(std::string_view s) {
  std::size_t i = 0;
  const std::size_t n = s.size();
  while (i < n) {
    const auto c = static_cast<unsigned char>(s[i]);
    if (c < 0x80) {
      ++i;
      continue;
    }
    std::size_t len = 0;
    uint32_t cp = 0;
    if ((c & 0xE0) == 0xC0) {
      len = 2;
      cp = c & 0x1F;
    } else if ((c & 0xF0) == 0xE0) {
      len = 3;
      cp = c & 0x0F;
    } else if ((c & 0xF8) == 0xF0) {
      len = 4;
      cp = c & 0x07;
    } else {
      return false;
    }
    if (i + len > n) return false;
    for (std::size_t k = 1; k < len; ++k) {
      const auto cc = static_cast<unsigned char>(s[i + k]);
      if ((cc & 0xC0) != 0x80) return false;
      cp = (cp << 6) | (cc & 0x3F);
    }
    static constexpr uint32_t kMin[] = {0, 0, 0x80, 0x800, 0x10000};
    if (cp < kMin[len] || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) return false;
    i += len;
  }
  return true;
}

absl::Status ValidateSubmission(const Submission& s, std::chrono::system_clock::time_point now) {
  if (!IsUuid(s.submission_id())) return Invalid("submission_id", "must be a UUID");
  LB_RETURN_IF_ERROR(CheckHash("machine_fingerprint", s.machine_fingerprint()));
  if (!s.has_hardware()) return Invalid("hardware", "is required");
  if (!s.hardware().has_device()) return Invalid("hardware.device", "is required");
  LB_RETURN_IF_ERROR(CheckDevice(s.hardware().device()));
  if (!s.hardware().has_host()) return Invalid("hardware.host", "is required");
  LB_RETURN_IF_ERROR(CheckHost(s.hardware().host()));
  if (!s.has_software()) return Invalid("software", "is required");
  LB_RETURN_IF_ERROR(CheckSoftware(s.software()));
  LB_RETURN_IF_ERROR(CheckTimestamp("started_at", s.started_at(), s.has_started_at(), now));
  LB_RETURN_IF_ERROR(CheckTimestamp("finished_at", s.finished_at(), s.has_finished_at(), now));
  const auto& a = s.started_at();
  const auto& b = s.finished_at();
  if (b.seconds() < a.seconds() || (b.seconds() == a.seconds() && b.nanos() < a.nanos())) {
    return Invalid("finished_at", "must not be before started_at");
  }
  LB_RETURN_IF_ERROR(CheckNonNegative("estimated_seconds", s.estimated_seconds()));
  LB_RETURN_IF_ERROR(CheckNonNegative("time_budget_seconds", s.time_budget_seconds()));
  if (s.sweeps_size() == 0) return Invalid("sweeps", "must not be empty");
  if (s.sweeps_size() > Limits::kMaxSweeps) {
    return Invalid("sweeps", absl::StrCat("must hold at most ", Limits::kMaxSweeps));
  }
  const MemoryBounds bounds = BoundsOf(s.hardware());
  int total_points = 0;
  for (int i = 0; i < s.sweeps_size(); ++i) {
    total_points += s.sweeps(i).points_size();
    if (total_points > Limits::kMaxPoints) {
      return Invalid("sweeps", absl::StrCat("must hold at most ", Limits::kMaxPoints, " points in all"));
    }
    LB_RETURN_IF_ERROR(CheckSweep(absl::StrCat("sweeps[", i, "]"), s.sweeps(i), bounds));
  }
  return absl::OkStatus();
}

absl::Status ValidateEnrollRequest(const v1::EnrollRequest& r) {
  LB_RETURN_IF_ERROR(CheckHash("machine_fingerprint", r.machine_fingerprint()));
  LB_RETURN_IF_ERROR(
      CheckText("agent_version", r.agent_version(), Limits::kMaxAgentVersionChars, true));
  return absl::OkStatus();
}

}  // namespace localbench::collector
