// A tensor view: a device pointer, a storage dtype and up to four dims.
//
// Views own nothing (the arena owns memory). Layout is always row-major and
// contiguous: the last dim varies fastest.
#pragma once

#include <array>
#include <cstdint>
#include <initializer_list>

#include "localbench/kernels/dtype.h"

namespace localbench::kernels {

// A non-owning view of a contiguous row-major tensor in device memory.
struct Tensor {
  void* data = nullptr;              // device pointer (nullptr: "absent")
  DType dtype = DType::kF32;         // storage type
  std::array<std::int64_t, 4> dims{};  // sizes, outermost first
  int rank = 0;                      // how many of dims are used

  // Builds a view; `shape` has 1 to 4 entries.
  static Tensor Of(void* ptr, DType type, std::initializer_list<std::int64_t> shape) {
    Tensor t;
    t.data = ptr;
    t.dtype = type;
    for (std::int64_t d : shape) t.dims[static_cast<std::size_t>(t.rank++)] = d;
    return t;
  }
  // Whether the view points at memory (optional arguments may be absent).
  bool present() const { return data != nullptr; }
  // Size of dim `i` (negative counts from the end).
  std::int64_t dim(int i) const { return dims[static_cast<std::size_t>(i < 0 ? rank + i : i)]; }
  // Number of elements.
  std::int64_t numel() const {
    std::int64_t n = 1;
    for (int i = 0; i < rank; ++i) n *= dims[static_cast<std::size_t>(i)];
    return rank == 0 ? 0 : n;
  }
  // Bytes the elements occupy.
  std::uint64_t bytes() const { return static_cast<std::uint64_t>(numel()) * DTypeSize(dtype); }
  // Elements of the last dim ("columns" when seen as a matrix).
  std::int64_t cols() const { return rank == 0 ? 0 : dim(-1); }
  // Product of all dims but the last ("rows" when seen as a matrix).
  std::int64_t rows() const { return cols() == 0 ? 0 : numel() / cols(); }
};

}  // namespace localbench::kernels
