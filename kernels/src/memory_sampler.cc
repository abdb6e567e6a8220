// The background memory sampler and the /proc readings of the CPU's RSS.
#include "localbench/kernels/memory_sampler.h"

#include <unistd.h>

#include <fstream>
#include <string>

namespace localbench::kernels {

PeakSampler::PeakSampler(MemoryReader read, std::chrono::microseconds period)
    : read_(std::move(read)), period_(period) {
  Take();  // a first reading before the thread exists: never an empty peak
  thread_ = std::thread([this] { Loop(); });
}

PeakSampler::~PeakSampler() { Stop(); }

void PeakSampler::Take() {
  // The reader runs outside the lock: NVML can take a millisecond.
  const std::optional<std::uint64_t> v = read_();
  std::lock_guard<std::mutex> lock(mu_);
  ++samples_;
  if (v && (!peak_ || *v > *peak_)) peak_ = v;
}

void PeakSampler::Loop() {
  std::unique_lock<std::mutex> lock(mu_);
  while (!stop_) {
    // Woken early by Stop(); otherwise one reading per period.
    if (wake_.wait_for(lock, period_, [this]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) { return stop_; })) break;
    lock.unlock();
    Take();
    lock.lock();
  }
}

std::optional<std::uint64_t> PeakSampler::Stop() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stop_ = true;
  }
  wake_.notify_all();
  if (thread_.joinable()) {
    thread_.join();
    Take();  // the state at the end of the steps counts too
  }
  std::lock_guard<std::mutex> lock(mu_);
  return peak_;
}

int PeakSampler::samples() const {
  std::lock_guard<std::mutex> lock(mu_);
  return samples_;
}

std::optional<std::uint64_t> ProcessResidentBytes() {
  std::ifstream in("/proc/self/statm");
  std::uint64_t size_pages = 0, resident_pages = 0;
  if (!(in >> size_pages >> resident_pages)) return std::nullopt;
  const long page = sysconf(_SC_PAGESIZE);
  if (page <= 0) return std::nullopt;
  return resident_pages * static_cast<std::uint64_t>(page);
}

bool ResetPeakResidentBytes() {
  std::ofstream out("/proc/self/clear_refs");
  if (!out) return false;
  out << "5";
  out.flush();
  return static_cast<bool>(out);
}

std::optional<std::uint64_t> PeakResidentBytes() {
  std::ifstream in("/proc/self/status");
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind("VmHWM:", 0) != 0) continue;
    try {
      return std::stoull(line.substr(6)) * 1024;  // "VmHWM:   123456 kB"
    } catch (...) {
      return std::nullopt;
    }
  }
  return std::nullopt;
}

}  // namespace localbench::kernels
