// The CPU device: host memory behind the Device interface, with a limit so
// that out-of-memory is a real, recoverable event on machines without a GPU.
#include <sys/mman.h>

#include <chrono>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <mutex>
#include <string>
#include <thread>
#include <unordered_map>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "localbench/kernels/arena.h"
#include "localbench/kernels/device.h"

namespace localbench::kernels {

const char* DeviceKindName(DeviceKind kind) {
  switch (kind) {
    case DeviceKind::kCpu: return "cpu";
    case DeviceKind::kCuda: return "cuda";
    case DeviceKind::kHip: return "hip";
  }
  return "?";
}

namespace {

// Value of a "key : value" line of /proc/cpuinfo, or "".
std::string CpuInfoField(const std::string& key) {
  std::ifstream in("/proc/cpuinfo");
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind(key, 0) != 0) continue;
    const auto colon = line.find(':');
    if (colon == std::string::npos) continue;
    std::string value = line.substr(colon + 1);
    const auto first = value.find_first_not_of(" \t");
    return first == std::string::npos ? "" : value.substr(first);
  }
  return "";
}

// A /proc/meminfo entry in bytes, or 0.
std::uint64_t MemInfoBytes(const std::string& key) {
  std::ifstream in("/proc/meminfo");
  std::string name;
  std::uint64_t kib = 0;
  std::string unit;
  while (in >> name >> kib >> unit) {
    if (name == key + ":") return kib * 1024;
  }
  return 0;
}

constexpr std::uint64_t kHugePage = std::uint64_t{2} << 20;

// An anonymous mapping of AlignUp(bytes, 2 MiB) starting on a 2 MiB
// boundary (mmap promises only page alignment: map one huge page more and
// unmap the excess at both ends), advised for huge pages; null on failure.
void* MapHuge(std::uint64_t bytes) {
  const std::uint64_t length = AlignUp(bytes, kHugePage);
  void* raw = mmap(nullptr, length + kHugePage, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (raw == MAP_FAILED) return nullptr;
  const auto base = reinterpret_cast<std::uintptr_t>(raw);
  const std::uintptr_t aligned = AlignUp(base, kHugePage);
  if (aligned > base) munmap(raw, aligned - base);
  const std::uintptr_t tail = aligned + length;
  const std::uintptr_t end = base + length + kHugePage;
  if (end > tail) munmap(reinterpret_cast<void*>(tail), end - tail);
  void* ptr = reinterpret_cast<void*>(aligned);
  madvise(ptr, length, MADV_HUGEPAGE);
  return ptr;
}

// Steady-clock timer: CPU work is synchronous, so host time is device time.
class CpuTimer final : public Timer {
 public:
  absl::Status RecordStart() override {
    start_ = std::chrono::steady_clock::now();
    started_ = true;
    return absl::OkStatus();
  }
  absl::Status RecordStop() override {
    if (!started_) return absl::FailedPreconditionError("timer stopped before it started");
    stop_ = std::chrono::steady_clock::now();
    stopped_ = true;
    return absl::OkStatus();
  }
  absl::StatusOr<double> ElapsedSeconds() override {
    if (!stopped_) return absl::FailedPreconditionError("timer read before it stopped");
    return std::chrono::duration<double>(stop_ - start_).count();
  }

 private:
  std::chrono::steady_clock::time_point start_, stop_;
  bool started_ = false;
  bool stopped_ = false;
};

}  // namespace

struct CpuDevice::State {
  std::mutex mu;
  std::uint64_t allocated ABSL_GUARDED_BY(mu) = 0;
  std::unordered_map<void*, std::uint64_t> sizes ABSL_GUARDED_BY(mu);
};

CpuDevice::CpuDevice(const CpuDeviceOptions& options) : state_(std::make_unique<State>()) {
  threads_ = options.threads > 0 ? options.threads
                                 : static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
  limit_bytes_ = options.memory_limit_bytes;
  if (limit_bytes_ == 0) {
    std::uint64_t available = MemInfoBytes("MemAvailable");
    if (available == 0) available = std::uint64_t{4} << 30;  // no /proc: a modest default
    limit_bytes_ = available / 10 * 8;
  }
  info_.kind = DeviceKind::kCpu;
  info_.name = CpuInfoField("model name");
  if (info_.name.empty()) info_.name = "CPU";
  const std::string vendor = CpuInfoField("vendor_id");
  info_.vendor = vendor == "AuthenticAMD" ? Vendor::kAmd
                 : vendor == "GenuineIntel" ? Vendor::kIntel
                 : vendor.empty()          ? Vendor::kUnknown
                                           : Vendor::kOther;
  info_.memory_total_bytes = limit_bytes_;
  info_.memory_free_bytes = limit_bytes_;
  info_.multiprocessor_count = static_cast<std::uint32_t>(threads_);
  info_.warp_size = 1;
}

CpuDevice::~CpuDevice() {
  for (auto& [ptr, bytes] : state_->sizes) {
    if (bytes >= 2 * kHugePage) {
      munmap(ptr, AlignUp(bytes, kHugePage));
    } else {
      std::free(ptr);
    }
  }
}

absl::StatusOr<void*> CpuDevice::Allocate(std::uint64_t bytes) {
  const std::uint64_t rounded = AlignUp(bytes == 0 ? 1 : bytes, kAlignment);
  std::lock_guard<std::mutex> lock(state_->mu);
  if (rounded > limit_bytes_ - state_->allocated) {
    return absl::ResourceExhaustedError(absl::StrCat(
        "CPU device out of memory: requested ", rounded, " bytes with ", state_->allocated,
        " of the ", limit_bytes_, "-byte limit in use"));
  }
  // Large buffers: their own 2 MiB-aligned mapping, marked for transparent
  // huge pages, so first touch costs hundreds instead of hundreds of
  // thousands of page faults (the device still counts exactly `rounded`
  // bytes). Mapped rather than malloc'ed so Free gives the pages back to the
  // OS at once: glibc would keep a freed block this size in its heap, and the
  // next point's resident-set readings would count the last point's arena.
  const bool huge = rounded >= 2 * kHugePage;
  void* ptr = huge ? MapHuge(rounded) : std::aligned_alloc(kAlignment, rounded);
  if (ptr == nullptr) {
    return absl::ResourceExhaustedError(
        absl::StrCat("host allocation of ", rounded, " bytes failed"));
  }
  state_->allocated += rounded;
  state_->sizes.emplace(ptr, rounded);
  return ptr;
}

void CpuDevice::Free(void* ptr) {
  if (ptr == nullptr) return;
  std::lock_guard<std::mutex> lock(state_->mu);
  auto it = state_->sizes.find(ptr);
  if (it == state_->sizes.end()) {
    std::fprintf(stderr, "CpuDevice::Free: pointer %p was not allocated by this device\n", ptr);
    std::abort();
  }
  const std::uint64_t bytes = it->second;
  state_->allocated -= bytes;
  state_->sizes.erase(it);
  if (bytes >= 2 * kHugePage) {
    munmap(ptr, AlignUp(bytes, kHugePage));
  } else {
    std::free(ptr);
  }
}

absl::Status CpuDevice::CopyHostToDevice(void* dst, const void* src, std::uint64_t bytes) {
  if (bytes != 0) std::memcpy(dst, src, bytes);
  return absl::OkStatus();
}
absl::Status CpuDevice::CopyDeviceToHost(void* dst, const void* src, std::uint64_t bytes) {
  if (bytes != 0) std::memcpy(dst, src, bytes);
  return absl::OkStatus();
}
absl::Status CpuDevice::CopyDeviceToDevice(void* dst, const void* src, std::uint64_t bytes) {
  if (bytes != 0) std::memmove(dst, src, bytes);
  return absl::OkStatus();
}

absl::Status CpuDevice::Synchronize() { return absl::OkStatus(); }

absl::StatusOr<std::unique_ptr<Timer>> CpuDevice::CreateTimer() {
  return std::unique_ptr<Timer>(std::make_unique<CpuTimer>());
}

absl::StatusOr<MemoryInfo> CpuDevice::GetMemoryInfo() {
  std::lock_guard<std::mutex> lock(state_->mu);
  return MemoryInfo{limit_bytes_ - state_->allocated, limit_bytes_};
}

std::uint64_t CpuDevice::allocated_bytes() const {
  std::lock_guard<std::mutex> lock(state_->mu);
  return state_->allocated;
}

}  // namespace localbench::kernels
