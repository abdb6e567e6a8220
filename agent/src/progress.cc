#include "localbench/agent/progress.h"

#include <algorithm>
#include <cmath>

namespace localbench::agent {

std::string FormatDuration(double seconds) {
  const long s = std::lround(std::max(0.0, seconds));
  char buf[32];
  if (s >= 3600) std::snprintf(buf, sizeof buf, "%ldh%02ldm", s / 3600, (s % 3600) / 60);
  else if (s >= 60) std::snprintf(buf, sizeof buf, "%ldm%02lds", s / 60, s % 60);
  else std::snprintf(buf, sizeof buf, "%lds", s);
  return buf;
}

Progress::Progress(std::FILE* out, bool live, std::function<Clock::time_point()> now)
    : out_(out), live_(live), now_(std::move(now)), begin_(now_()) {}

void Progress::SetTotal(int units) { total_ = std::max(units, done_); }

void Progress::SetEstimate(double seconds) { estimate_total_ = seconds; }

double Progress::EstimateSecondsLeft() const {
  if (estimate_total_ >= 0) {
    // The estimate's own figure until a planned unit has finished, then the
    // remainder at the pace the finished units showed against theirs.
    const double left = std::max(0.0, estimate_total_ - estimate_done_);
    const double pace = estimate_done_ > 0 ? actual_done_ / estimate_done_ : 1.0;
    double seconds = left * pace;
    if (deadline_) seconds = std::min(seconds, std::max(0.0, std::chrono::duration<double>(*deadline_ - now_()).count()));
    return seconds;
  }
  if (done_ == 0) return -1;
  const double elapsed = std::chrono::duration<double>(now_() - begin_).count();
  return elapsed / done_ * std::max(0, total_ - done_);
}

std::string Progress::Counter() const {
  std::string s = "[" + std::to_string(std::min(done_ + 1, std::max(total_, 1))) + "/" + std::to_string(total_) + "]";
  return s;
}

void Progress::Draw() {
  if (!live_) return;
  std::string line = Counter() + " " + current_ + " | " + std::to_string(std::max(0, total_ - done_)) + " left";
  const double eta = EstimateSecondsLeft();
  line += eta >= 0 ? ", about " + FormatDuration(eta) + " to go" : ", estimating...";
  // \r + "erase line" redraws in place; long lines are cut so they never wrap.
  if (line.size() > 118) line.resize(118);
  std::fprintf(out_, "\r\033[K%s", line.c_str());
  std::fflush(out_);
  line_open_ = true;
}

void Progress::Start(const std::string& what) {
  current_ = what;
  unit_begin_ = now_();
  if (live_) {
    Draw();
  } else {
    std::fprintf(out_, "localbench-agent: %s running %s\n", Counter().c_str(), what.c_str());
    std::fflush(out_);
  }
}

void Progress::Finish(const std::string& result, double estimated_seconds) {
  ++done_;
  if (estimated_seconds >= 0) {
    estimate_done_ += estimated_seconds;
    actual_done_ += std::chrono::duration<double>(now_() - unit_begin_).count();
  }
  total_ = std::max(total_, done_);
  if (live_) {
    // Keep a finished point on screen: the live line becomes a log line.
    std::fprintf(out_, "\r\033[K  %s: %s\n", current_.c_str(), result.c_str());
    line_open_ = false;
  } else {
    const double eta = EstimateSecondsLeft();
    std::fprintf(out_, "localbench-agent: done %s: %s (%d/%d, about %s to go)\n", current_.c_str(),
                 result.c_str(), done_, total_, eta >= 0 ? FormatDuration(eta).c_str() : "?");
  }
  std::fflush(out_);
}

void Progress::Drop(int units) { total_ = std::max(done_, total_ - units); }

void Progress::Note(const std::string& line) {
  if (live_ && line_open_) std::fprintf(out_, "\r\033[K");
  std::fprintf(out_, "%s%s\n", live_ ? "  " : "localbench-agent: ", line.c_str());
  line_open_ = false;
  std::fflush(out_);
}

void Progress::Close() {
  if (live_ && line_open_) {
    std::fprintf(out_, "\r\033[K");
    std::fflush(out_);
  }
  line_open_ = false;
}

}  // namespace localbench::agent
