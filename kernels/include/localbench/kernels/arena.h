// One device reservation per workload instance, handed out by bump allocation.
//
// The arena is how localbench measures memory exactly: every buffer a
// workload uses comes from it, so its high-water mark IS the workload's
// device memory, and the memory plan (plan.h) must equal it. Reserving the
// whole plan up front also makes an OOM happen at one well-defined point
// (Arena::Create), where it is recoverable, instead of mid-step.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "localbench/kernels/device.h"

namespace localbench::kernels {

// One allocation made from an arena, kept for diagnostics and plan checks.
struct ArenaRecord {
  std::string name;            // what the buffer holds, e.g. "layer3.wq"
  std::uint64_t offset = 0;    // from the start of the reservation
  std::uint64_t bytes = 0;     // requested size
};

// A fixed reservation on a device with aligned bump allocation.
class Arena {
 public:
  // Reserves `capacity_bytes` on `device` (which must outlive the arena).
  // Out of device memory: absl::ResourceExhaustedError.
  static absl::StatusOr<std::unique_ptr<Arena>> Create(Device& device, std::uint64_t capacity_bytes,
                                                        std::uint64_t alignment = Device::kAlignment);
  ~Arena();
  Arena(const Arena&) = delete;
  Arena& operator=(const Arena&) = delete;

  // Returns `bytes` of device memory, aligned. Each allocation occupies
  // `bytes` rounded up to the alignment. Allocating past the reservation is a
  // broken invariant (the plan was wrong), not a recoverable error: it aborts
  // with a message naming the buffer.
  void* Allocate(std::uint64_t bytes, std::string name);

  // Rewinds to an earlier used_bytes() (stack-style reuse of scratch space).
  // The high-water mark is kept.
  void Rewind(std::uint64_t mark);

  std::uint64_t capacity_bytes() const { return capacity_; }
  // Bytes in use now (aligned).
  std::uint64_t used_bytes() const { return used_; }
  // Most bytes ever in use: the exact peak.
  std::uint64_t high_water_bytes() const { return high_water_; }
  std::uint64_t alignment() const { return alignment_; }
  // Every allocation in order (rewound ones included).
  const std::vector<ArenaRecord>& records() const { return records_; }
  Device& device() const { return *device_; }

 private:
  Arena(Device& device, void* base, std::uint64_t capacity, std::uint64_t alignment);
  Device* device_;
  void* base_;
  std::uint64_t capacity_;
  std::uint64_t alignment_;
  std::uint64_t used_ = 0;
  std::uint64_t high_water_ = 0;
  std::vector<ArenaRecord> records_;
};

// Rounds `bytes` up to a multiple of `alignment` (a power of two).
constexpr std::uint64_t AlignUp(std::uint64_t bytes, std::uint64_t alignment) {
  return (bytes + alignment - 1) & ~(alignment - 1);
}

}  // namespace localbench::kernels
