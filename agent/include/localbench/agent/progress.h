// Progress of a run: on a terminal one live line (what runs now, what is
// left, an estimate of the time left); otherwise plain log lines, one per
// event, so logs and CI output stay readable.
#ifndef LOCALBENCH_AGENT_PROGRESS_H_
#define LOCALBENCH_AGENT_PROGRESS_H_

#include <chrono>
#include <cstdio>
#include <functional>
#include <optional>
#include <string>

namespace localbench::agent {

// Counts units of work (sweep points) and reports them.
class Progress {
 public:
  using Clock = std::chrono::steady_clock;

  // `live` selects the single redrawn line (use isatty on `out`). `now` is
  // injectable so tests control time.
  Progress(std::FILE* out, bool live, std::function<Clock::time_point()> now = Clock::now);

  // Sets how many units the run plans.
  void SetTotal(int units);
  // A unit starts: `what` says what runs now.
  void Start(const std::string& what);
  // The whole run's estimate in seconds (estimate.h): the time left is then
  // the estimate of the units not yet finished, scaled by how the finished
  // ones compared with theirs, so the line stays honest as points finish.
  void SetEstimate(double seconds);
  // When the time budget ends: the run stops there, so the time left never
  // reads past it.
  void SetDeadline(Clock::time_point deadline) { deadline_ = deadline; }
  // The running unit finished; `result` is a short outcome ("312.5 tok/s");
  // `estimated_seconds` what the estimate gave it (negative: not planned).
  void Finish(const std::string& result, double estimated_seconds = -1);
  // Planned units that will not run (a sweep stopped at its OOM threshold).
  void Drop(int units);
  // A message that is not a unit (a skipped preset, a written file).
  void Note(const std::string& line);
  // Ends the live line.
  void Close();

  // The estimate of the time left, in seconds; negative when unknown.
  double EstimateSecondsLeft() const;
  // Units finished so far and planned in all.
  int done() const { return done_; }
  int total() const { return total_; }

 private:
  void Draw();
  std::string Counter() const;

  std::FILE* out_;
  bool live_;
  std::function<Clock::time_point()> now_;
  Clock::time_point begin_;
  int total_ = 0;
  int done_ = 0;
  double estimate_total_ = -1;  // seconds; negative: no estimate
  double estimate_done_ = 0;    // estimated seconds of the finished units
  double actual_done_ = 0;      // what those units really took
  std::optional<Clock::time_point> deadline_;
  std::string current_;
  Clock::time_point unit_begin_;
  bool line_open_ = false;
};

// "1m05s", "42s".
std::string FormatDuration(double seconds);

}  // namespace localbench::agent

#endif  // LOCALBENCH_AGENT_PROGRESS_H_
