// Progress of a run: on a terminal one live line (what runs now, what is
// left, an estimate of the time left); otherwise plain log lines, one per
// event, so logs and CI output stay readable.
#ifndef LOCALBENCH_AGENT_PROGRESS_H_
#define LOCALBENCH_AGENT_PROGRESS_H_

#include <chrono>
#include <cstdio>
#include <functional>
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
  // The running unit finished; `result` is a short outcome ("312.5 tok/s").
  void Finish(const std::string& result);
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
  std::string current_;
  bool line_open_ = false;
};

// "1m05s", "42s".
std::string FormatDuration(double seconds);

}  // namespace localbench::agent

#endif  // LOCALBENCH_AGENT_PROGRESS_H_
