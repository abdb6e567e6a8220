// Plausibility of a well-formed submission against physics and the device
// catalogue (docs/ARCHITECTURE.md, "Trust"). Validation (validation.h)
// refuses what cannot be stored; these checks decide what may be stored but
// not published: a submission with findings is stored with them and flagged
// in the same transaction, so public tables leave it out until an editor
// restores it. Pure functions: the writer supplies the catalogue figures and
// the other machines' medians, tests call them directly.
#ifndef LOCALBENCH_COLLECTOR_PLAUSIBILITY_H_
#define LOCALBENCH_COLLECTOR_PLAUSIBILITY_H_

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "localbench/v1/results.pb.h"

namespace localbench::collector {

// The reasons a finding can name (stored in plausibility_findings.reason).
namespace reason {
// A measured or reported memory figure beyond what the catalogued model has.
inline constexpr char kMemoryAboveDevice[] = "memory_above_device";
// tokens/s beyond the roofline bound of the workload on the catalogued model.
inline constexpr char kAboveRoofline[] = "above_roofline";
// The OOM bracket's failing batch needed no more memory than one that ran.
inline constexpr char kOomBracketInconsistent[] = "oom_bracket_inconsistent";
// A measured peak below the bytes of the model's weights alone.
inline constexpr char kPeakBelowWeights[] = "peak_below_weights";
// The arena peak off its own plan, or the device delta below the arena.
inline constexpr char kPeakOffPlan[] = "peak_off_plan";
// tokens/s and step seconds disagree, or repetitions differ from the command.
inline constexpr char kTimingsInconsistent[] = "timings_inconsistent";
// A clock or throttle figure no device reports.
inline constexpr char kClockImplausible[] = "clock_implausible";
// Hardware slowdown (thermal, power brake) was active during the run.
inline constexpr char kThrottled[] = "throttled";
// Far from the other machines of the same device model and workload.
inline constexpr char kOutlier[] = "outlier";
}  // namespace reason

// One reason a submission is implausible.
struct Finding {
  std::string reason;  // one of reason::k*
  std::string field;   // path of the figure, e.g. "sweeps[0].points[2].tokens_per_second_median"
  std::string detail;  // human explanation with the figures compared (<= 1024 characters)
};

// The catalogue's figures of the submission's device model; 0 = unknown
// (never guessed, so a check that needs it is skipped).
struct CatalogueFigures {
  std::string slug;
  uint64_t memory_bytes = 0;
  double memory_bandwidth_bytes_per_second = 0;
  double bf16_tflops = 0;
  double fp32_tflops = 0;
};

// Thresholds, each a stated margin so honest runs are never flagged.
struct PlausibilityRules {
  // Off: nothing is checked or flagged (tools re-importing old data).
  bool enabled = true;
  // Measured tokens/s may exceed the roofline bound by this factor
  // (published peaks are rounded, boost clocks exceed base figures).
  double roofline_margin = 1.5;
  // Memory may exceed the catalogued figure by this factor (drivers count
  // memory slightly differently).
  double memory_margin = 1.05;
  // Arena peak within [1/plan_margin, plan_margin] x planned_bytes; the
  // device delta at least the arena peak / plan_margin.
  double plan_margin = 1.10;
  // tokens/s x step seconds must equal tokens per step within this fraction.
  double timing_tolerance = 0.02;
  // Highest plausible SM clock.
  uint32_t max_sm_clock_mhz = 4000;
  // Outliers: at least this many other machines in the cell ...
  int outlier_min_machines = 5;
  // ... and |x - median| > outlier_z x 1.4826 x MAD (the modified z-score,
  // Iglewicz & Hoaglin) ...
  double outlier_z = 3.5;
  // ... and |x - median| > outlier_min_relative x median, so a cluster of
  // near-identical machines does not turn run-to-run noise into outliers.
  double outlier_min_relative = 0.25;
};

// Every finding of `s` against physics and `model` (absent: the device
// model is not catalogued, so only the checks that need no catalogue run).
// `name_memory_bytes` is the most memory any catalogued model of the
// device's name has (0: none), which bounds the reported memory when the
// reported size makes an uncatalogued slug. `s` must be valid
// (ValidateSubmission).
std::vector<Finding> CheckPlausibility(const v1::Submission& s, const std::optional<CatalogueFigures>& model,
                                       uint64_t name_memory_bytes, const PlausibilityRules& rules);

// The outlier finding for `value` among `peers` (the other machines'
// medians of the same cell), or nothing when the cell has fewer than
// rules.outlier_min_machines peers or `value` lies within the band.
std::optional<Finding> CheckOutlier(const std::string& field, double value, std::vector<double> peers,
                                    const PlausibilityRules& rules);

// One line for the moderation event: "plausibility: reason (field); ..."
// within 1024 characters.
std::string SummarizeFindings(const std::vector<Finding>& findings);

}  // namespace localbench::collector

#endif  // LOCALBENCH_COLLECTOR_PLAUSIBILITY_H_
