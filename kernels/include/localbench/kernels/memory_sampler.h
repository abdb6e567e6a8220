// Memory peaks measured while a step runs: a background thread reads a
// process-level figure every few milliseconds and keeps the largest, so the
// reported peak is the step's, not one reading taken before or after it.
// The readers: the process's resident set on the CPU (/proc), and the
// process's device memory on a GPU (Backend::SampleTelemetry: NVML /
// rocm-smi), which is thread safe.
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <mutex>
#include <optional>
#include <thread>

#include "absl/base/thread_annotations.h"

namespace localbench::kernels {

// One reading; absent when the source cannot tell (no NVML, no /proc).
using MemoryReader = std::function<std::optional<std::uint64_t>()>;

// Samples `read` on its own thread from construction until Stop().
class PeakSampler {
 public:
  // Takes a first reading at once, then one every `period`.
  PeakSampler(MemoryReader read, std::chrono::microseconds period);
  // Stops the thread if Stop() was not called.
  ~PeakSampler();
  PeakSampler(const PeakSampler&) = delete;
  PeakSampler& operator=(const PeakSampler&) = delete;

  // Takes a last reading, joins the thread and returns the largest reading
  // (absent when every reading was absent). Idempotent.
  std::optional<std::uint64_t> Stop();
  // Readings taken so far (for tests and reports).
  int samples() const;

 private:
  void Loop();
  void Take();

  MemoryReader read_;
  std::chrono::microseconds period_;
  mutable std::mutex mu_;
  std::condition_variable wake_;
  bool stop_ ABSL_GUARDED_BY(mu_) = false;
  std::optional<std::uint64_t> peak_ ABSL_GUARDED_BY(mu_);
  int samples_ ABSL_GUARDED_BY(mu_) = 0;
  std::thread thread_;  // last member: starts after the others exist
};

// The calling process's resident set size now (/proc/self/statm), absent
// where /proc cannot tell.
std::optional<std::uint64_t> ProcessResidentBytes();

// Resets the kernel's peak-RSS counter (VmHWM) to the current RSS (writes
// "5" to /proc/self/clear_refs, Linux 4.0+). False when refused.
bool ResetPeakResidentBytes();

// The kernel's peak RSS since start or the last reset (VmHWM), absent where
// /proc cannot tell.
std::optional<std::uint64_t> PeakResidentBytes();

}  // namespace localbench::kernels
