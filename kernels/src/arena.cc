// Bump allocation from one reservation, with an exact high-water mark.
#include "localbench/kernels/arena.h"

#include <cstdio>
#include <cstdlib>
#include <utility>

namespace localbench::kernels {

absl::StatusOr<std::unique_ptr<Arena>> Arena::Create(Device& device, std::uint64_t capacity_bytes,
                                                     std::uint64_t alignment) {
  if (alignment == 0 || (alignment & (alignment - 1)) != 0 || alignment > Device::kAlignment) {
    return absl::InvalidArgumentError("arena alignment must be a power of two <= Device::kAlignment");
  }
  absl::StatusOr<void*> base = device.Allocate(capacity_bytes);
  if (!base.ok()) return base.status();
  return std::unique_ptr<Arena>(new Arena(device, *base, capacity_bytes, alignment));
}

Arena::Arena(Device& device, void* base, std::uint64_t capacity, std::uint64_t alignment)
    : device_(&device), base_(base), capacity_(capacity), alignment_(alignment) {}

Arena::~Arena() { device_->Free(base_); }

void* Arena::Allocate(std::uint64_t bytes, std::string name) {
  const std::uint64_t size = AlignUp(bytes, alignment_);
  if (size > capacity_ - used_) {
    std::fprintf(stderr,
                 "localbench arena overflow: \"%s\" needs %llu bytes, %llu of %llu in use; the "
                 "memory plan does not match the workload\n",
                 name.c_str(), static_cast<unsigned long long>(size),
                 static_cast<unsigned long long>(used_), static_cast<unsigned long long>(capacity_));
    std::abort();
  }
  void* ptr = static_cast<char*>(base_) + used_;
  records_.push_back(ArenaRecord{std::move(name), used_, bytes});
  used_ += size;
  if (used_ > high_water_) high_water_ = used_;
  return ptr;
}

void Arena::Rewind(std::uint64_t mark) {
  if (mark > used_) {
    std::fprintf(stderr, "localbench arena: rewind forward (%llu > %llu)\n",
                 static_cast<unsigned long long>(mark), static_cast<unsigned long long>(used_));
    std::abort();
  }
  used_ = mark;
}

}  // namespace localbench::kernels
