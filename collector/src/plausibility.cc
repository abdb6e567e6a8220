#include "localbench/collector/plausibility.h"

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <string_view>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "localbench/common/names.h"
#include "localbench/kernels/presets.h"

namespace localbench::collector {
namespace {

// NVML's clock-event (throttle) reason bits, nvml.h: everything a driver
// can report lies in this mask.
constexpr uint64_t kKnownThrottleBits = 0x1FF;
// Hardware slowdown, hardware thermal slowdown, hardware power brake: the
// card ran slower than its clocks for reasons outside the benchmark.
constexpr uint64_t kHardwareSlowdownBits = 0x8 | 0x40 | 0x80;

// Stored bytes per weight; quantized formats count their scales (issue 15).
double BytesPerValue(v1::Precision p) { return WeightBytesPerValue(p); }

// Parameters the matrix multiplications of one token touch: every layer's
// projections and MLP; the LM head counted separately.
struct MatmulParams {
  double layers = 0;
  double head = 0;
};

MatmulParams ParamsOf(const kernels::ModelPreset& m) {
  const double per_layer = static_cast<double>(m.hidden) * static_cast<double>(m.q_dim() + 2 * m.kv_dim()) +
                           static_cast<double>(m.q_dim()) * static_cast<double>(m.hidden) +
                           3.0 * static_cast<double>(m.hidden) * static_cast<double>(m.intermediate);
  return {per_layer * static_cast<double>(m.layers), static_cast<double>(m.vocab) * static_cast<double>(m.hidden)};
}

// Tokens one step of `w` at `batch` processes (as kernels/workload.h counts them).
double TokensPerStep(const v1::Workload& w, uint32_t batch) {
  switch (w.kind()) {
    case v1::WORKLOAD_KIND_PREFILL:
      return static_cast<double>(batch) * w.prompt_tokens();
    case v1::WORKLOAD_KIND_DECODE:
      return static_cast<double>(batch) * w.generated_tokens();
    default:
      return static_cast<double>(batch) * w.sequence_tokens();
  }
}

// The roofline bound on tokens/s of `w` at `batch` on `model`, and what it
// is bound by; 0 when the catalogue lacks the figure it needs.
// - decode: every step reads every matmul weight at least once and yields
//   one token per sequence: tokens/s <= batch x bandwidth / weight bytes
//   (KV-cache reads only lower the true bound);
// - prefill: 2 FLOPs per matmul parameter per token (attention's own
//   FLOPs only lower it; the LM head runs for the last token only);
// - training: forward and backward, 6 (full) or 4 (LoRA: no weight
//   gradients) FLOPs per parameter per token, LM head included.
std::pair<double, std::string> RooflineBound(const v1::Workload& w, uint32_t batch, const MatmulParams& p,
                                             const CatalogueFigures& m) {
  const double peak_flops = std::max(m.bf16_tflops, m.fp32_tflops) * 1e12;
  switch (w.kind()) {
    case v1::WORKLOAD_KIND_DECODE: {
      if (m.memory_bandwidth_bytes_per_second <= 0) return {0, ""};
      const double bytes = (p.layers + p.head) * BytesPerValue(w.precision());
      return {batch * m.memory_bandwidth_bytes_per_second / bytes,
              absl::StrFormat("%.3g weight bytes per step at %.4g B/s", bytes, m.memory_bandwidth_bytes_per_second)};
    }
    case v1::WORKLOAD_KIND_PREFILL: {
      if (peak_flops <= 0) return {0, ""};
      const double flops = 2 * p.layers;
      return {peak_flops / flops, absl::StrFormat("%.3g FLOPs per token at %.4g FLOP/s", flops, peak_flops)};
    }
    default: {
      if (peak_flops <= 0) return {0, ""};
      const double flops = (w.kind() == v1::WORKLOAD_KIND_TRAIN_LORA ? 4 : 6) * (p.layers + p.head);
      return {peak_flops / flops, absl::StrFormat("%.3g FLOPs per token at %.4g FLOP/s", flops, peak_flops)};
    }
  }
}

// N from " --repetitions N" in a reproduce command, if it names one.
std::optional<uint32_t> CommandRepetitions(std::string_view command) {
  constexpr std::string_view kFlag = "--repetitions";
  const auto at = command.find(kFlag);
  if (at == std::string_view::npos) return std::nullopt;
  std::size_t i = at + kFlag.size();
  if (i < command.size() && (command[i] == ' ' || command[i] == '=')) ++i;
  uint64_t n = 0;
  std::size_t digits = 0;
  while (i < command.size() && command[i] >= '0' && command[i] <= '9' && digits < 9) {
    n = n * 10 + static_cast<uint64_t>(command[i] - '0');
    ++i;
    ++digits;
  }
  if (digits == 0) return std::nullopt;
  return static_cast<uint32_t>(n);
}

bool Near(double a, double b, double tolerance) { return std::abs(a - b) <= tolerance * std::max(a, b); }

class Checker {
 public:
  Checker(const v1::Submission& s, const std::optional<CatalogueFigures>& model, uint64_t name_memory_bytes,
          const PlausibilityRules& rules)
      : s_(s), model_(model), name_memory_bytes_(name_memory_bytes), rules_(rules) {}

  std::vector<Finding> Run() {
    CheckDevice();
    for (int i = 0; i < s_.sweeps_size(); ++i) CheckSweep(absl::StrCat("sweeps[", i, "]"), s_.sweeps(i));
    return std::move(findings_);
  }

 private:
  void Add(const char* reason, std::string field, std::string detail) {
    if (detail.size() > 1024) detail.resize(1024);
    findings_.push_back({reason, std::move(field), std::move(detail)});
  }

  // The catalogued memory (with margin), or 0 when unknown (CPU models).
  double MemoryCeiling() const {
    return model_ && model_->memory_bytes > 0 ? static_cast<double>(model_->memory_bytes) * rules_.memory_margin : 0;
  }

  void CheckDevice() {
    const double ceiling = MemoryCeiling();
    const v1::Device& d = s_.hardware().device();
    const uint64_t reported = d.memory_total_bytes();
    if (ceiling > 0 && static_cast<double>(reported) > ceiling) {
      Add(reason::kMemoryAboveDevice, "hardware.device.memory_total_bytes",
          absl::StrCat(reported, " bytes reported, but a ", model_->slug, " has ", model_->memory_bytes));
    } else if (!model_ && d.backend() != v1::BACKEND_CPU && name_memory_bytes_ > 0 &&
               static_cast<double>(reported) > static_cast<double>(name_memory_bytes_) * rules_.memory_margin) {
      Add(reason::kMemoryAboveDevice, "hardware.device.memory_total_bytes",
          absl::StrCat(reported, " bytes reported, but no catalogued \"", d.name(), "\" has more than ",
                       name_memory_bytes_));
    }
  }

  void CheckSweep(const std::string& p, const v1::Sweep& sw) {
    const v1::Workload& w = sw.workload();
    absl::StatusOr<kernels::ModelPreset> preset = kernels::FindPreset(w.model_preset());
    const v1::Point* largest_ok = nullptr;
    const v1::Point* smallest_failed = nullptr;
    for (int k = 0; k < sw.points_size(); ++k) {
      const v1::Point& pt = sw.points(k);
      const std::string pp = absl::StrCat(p, ".points[", k, "]");
      CheckPointMemory(pp, pt);
      CheckClocks(pp, pt);
      if (pt.batch_size() == sw.largest_ok_batch()) largest_ok = &pt;
      if (pt.batch_size() == sw.smallest_failed_batch()) smallest_failed = &pt;
      if (pt.status() != v1::POINT_STATUS_OK) continue;
      CheckTimings(pp, w, pt);
      CheckPlan(pp, pt);
      if (preset.ok()) CheckPreset(pp, w, pt, *preset);
    }
    if (largest_ok != nullptr && smallest_failed != nullptr &&
        smallest_failed->planned_bytes() <= std::max(largest_ok->planned_bytes(), largest_ok->arena_peak_bytes())) {
      Add(reason::kOomBracketInconsistent, absl::StrCat(p, ".smallest_failed_batch"),
          absl::StrCat("batch ", smallest_failed->batch_size(), " ran out of memory needing ",
                       smallest_failed->planned_bytes(), " bytes, yet batch ", largest_ok->batch_size(), " ran in ",
                       std::max(largest_ok->planned_bytes(), largest_ok->arena_peak_bytes())));
    }
  }

  void CheckPointMemory(const std::string& pp, const v1::Point& pt) {
    const double ceiling = MemoryCeiling();
    if (ceiling <= 0) return;
    auto over = [&](const char* field, uint64_t v) {
      if (static_cast<double>(v) > ceiling) {
        Add(reason::kMemoryAboveDevice, absl::StrCat(pp, field),
            absl::StrCat(v, " bytes measured, but a ", model_->slug, " has ", model_->memory_bytes));
      }
    };
    over(".arena_peak_bytes", pt.arena_peak_bytes());
    if (pt.has_device_delta_bytes()) over(".device_delta_bytes", pt.device_delta_bytes());
    if (pt.has_process_memory_bytes()) over(".process_memory_bytes", pt.process_memory_bytes());
  }

  void CheckClocks(const std::string& pp, const v1::Point& pt) {
    const bool cpu = s_.hardware().device().backend() == v1::BACKEND_CPU;
    if (pt.has_sm_clock_mhz() && (cpu || pt.sm_clock_mhz() > rules_.max_sm_clock_mhz)) {
      Add(reason::kClockImplausible, absl::StrCat(pp, ".sm_clock_mhz"),
          cpu ? "an SM clock reported for the CPU backend, which has no such source"
              : absl::StrCat(pt.sm_clock_mhz(), " MHz is above any GPU's clock (", rules_.max_sm_clock_mhz, ")"));
    }
    if (!pt.has_throttle_reasons()) return;
    if (cpu || (pt.throttle_reasons() & ~kKnownThrottleBits) != 0) {
      Add(reason::kClockImplausible, absl::StrCat(pp, ".throttle_reasons"),
          cpu ? "throttle reasons reported for the CPU backend, which has no such source"
              : absl::StrFormat("bits 0x%x are not NVML throttle reasons", pt.throttle_reasons() & ~kKnownThrottleBits));
    } else if ((pt.throttle_reasons() & kHardwareSlowdownBits) != 0) {
      Add(reason::kThrottled, absl::StrCat(pp, ".throttle_reasons"),
          absl::StrFormat("hardware slowdown active during the run (bits 0x%x: slowdown 0x8, thermal 0x40, "
                          "power brake 0x80)",
                          pt.throttle_reasons() & kHardwareSlowdownBits));
    }
  }

  void CheckTimings(const std::string& pp, const v1::Workload& w, const v1::Point& pt) {
    const double tokens = TokensPerStep(w, pt.batch_size());
    const double tol = rules_.timing_tolerance;
    // The agent derives tokens/s from the step times (kernels/src/sweep.cc):
    // median from median, min from the slowest step, max from the fastest.
    if (!Near(pt.tokens_per_second_median() * pt.step_seconds_median(), tokens, tol) ||
        !Near(pt.tokens_per_second_min() * pt.step_seconds_max(), tokens, tol) ||
        !Near(pt.tokens_per_second_max() * pt.step_seconds_min(), tokens, tol)) {
      Add(reason::kTimingsInconsistent, absl::StrCat(pp, ".tokens_per_second_median"),
          absl::StrFormat("%.6g tokens/s x %.6g s per step is not the %.0f tokens one step processes", 
                          pt.tokens_per_second_median(), pt.step_seconds_median(), tokens));
    }
    if (pt.repetitions() == 1 && pt.step_seconds_min() != pt.step_seconds_max()) {
      Add(reason::kTimingsInconsistent, absl::StrCat(pp, ".step_seconds_max"),
          "one timed repetition cannot have a fastest and a slowest step that differ");
    }
    if (auto declared = CommandRepetitions(pt.reproduce_command()); declared && *declared != pt.repetitions()) {
      Add(reason::kTimingsInconsistent, absl::StrCat(pp, ".repetitions"),
          absl::StrCat(pt.repetitions(), " repetitions, but the reproduce command declares ", *declared));
    }
  }

  void CheckPlan(const std::string& pp, const v1::Point& pt) {
    const double m = rules_.plan_margin;
    const auto arena = static_cast<double>(pt.arena_peak_bytes());
    const auto plan = static_cast<double>(pt.planned_bytes());
    // The arena reserves exactly the plan (docs/ARCHITECTURE.md, "Plan = arena").
    if (plan > 0 && (arena > plan * m || arena < plan / m)) {
      Add(reason::kPeakOffPlan, absl::StrCat(pp, ".arena_peak_bytes"),
          absl::StrCat(pt.arena_peak_bytes(), " bytes, but the arena reserves its plan of ", pt.planned_bytes()));
    }
    // The device gave at least the arena's reservation.
    if (pt.has_device_delta_bytes() && static_cast<double>(pt.device_delta_bytes()) < arena / m) {
      Add(reason::kPeakOffPlan, absl::StrCat(pp, ".device_delta_bytes"),
          absl::StrCat(pt.device_delta_bytes(), " bytes from the device, less than the arena's ",
                       pt.arena_peak_bytes()));
    }
  }

  void CheckPreset(const std::string& pp, const v1::Workload& w, const v1::Point& pt,
                   const kernels::ModelPreset& preset) {
    const double weights = static_cast<double>(preset.ParameterCount()) * BytesPerValue(w.precision());
    if (static_cast<double>(pt.arena_peak_bytes()) < weights) {
      Add(reason::kPeakBelowWeights, absl::StrCat(pp, ".arena_peak_bytes"),
          absl::StrFormat("%d bytes, less than the %.0f bytes of %s's weights alone", pt.arena_peak_bytes(),
                          weights, preset.name));
    }
    if (!model_) return;
    const auto [bound, basis] = RooflineBound(w, pt.batch_size(), ParamsOf(preset), *model_);
    if (bound > 0 && pt.tokens_per_second_median() > bound * rules_.roofline_margin) {
      Add(reason::kAboveRoofline, absl::StrCat(pp, ".tokens_per_second_median"),
          absl::StrFormat("%.6g tokens/s exceeds %.2fx the roofline bound of %.6g on a %s (%s)",
                          pt.tokens_per_second_median(), rules_.roofline_margin, bound, model_->slug, basis));
    }
  }

  const v1::Submission& s_;
  const std::optional<CatalogueFigures>& model_;
  const uint64_t name_memory_bytes_;
  const PlausibilityRules& rules_;
  std::vector<Finding> findings_;
};

double Median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  const std::size_t n = v.size();
  return n % 2 == 1 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

}  // namespace

std::vector<Finding> CheckPlausibility(const v1::Submission& s, const std::optional<CatalogueFigures>& model,
                                       uint64_t name_memory_bytes, const PlausibilityRules& rules) {
  if (!rules.enabled) return {};
  return Checker(s, model, name_memory_bytes, rules).Run();
}

std::optional<Finding> CheckOutlier(const std::string& field, double value, std::vector<double> peers,
                                    const PlausibilityRules& rules) {
  if (!rules.enabled || static_cast<int>(peers.size()) < rules.outlier_min_machines || peers.empty()) {
    return std::nullopt;
  }
  const double median = Median(peers);
  std::vector<double> deviations;
  deviations.reserve(peers.size());
  for (double p : peers) deviations.push_back(std::abs(p - median));
  const double mad = Median(std::move(deviations));
  const double distance = std::abs(value - median);
  if (distance <= rules.outlier_z * 1.4826 * mad || distance <= rules.outlier_min_relative * median) {
    return std::nullopt;
  }
  return Finding{reason::kOutlier, field,
                 absl::StrFormat("%.6g is %.1f%% from the median %.6g of %d other machines (MAD %.4g)", value,
                                 100 * distance / median, median, static_cast<int>(peers.size()), mad)};
}

std::string SummarizeFindings(const std::vector<Finding>& findings) {
  std::string out = "plausibility:";
  for (std::size_t i = 0; i < findings.size(); ++i) {
    std::string next = absl::StrCat(i == 0 ? " " : "; ", findings[i].reason, " (", findings[i].field, ")");
    if (out.size() + next.size() > 1000) {
      absl::StrAppend(&out, "; and ", findings.size() - i, " more");
      break;
    }
    out += next;
  }
  return out;
}

}  // namespace localbench::collector
