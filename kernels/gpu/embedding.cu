// Token embedding lookup and its deterministic scatter-add gradient. An id
// outside the table is reported through IndexError (common.cuh), not trapped.
// One source for CUDA and HIP (vendor.h); embedding.hip includes this file.
#include <cmath>
#include <cstdint>

#include "ops.cuh"

namespace localbench::kernels::LB_GPU_NS {
namespace {

__global__ void EmbeddingForwardKernel(const void* table, Elem te, std::int64_t vocab, const std::int32_t* ids,
                                       DevBuf out, std::int64_t rows, std::int64_t hidden, IndexError* err) {
  const std::int64_t n = rows * hidden;
  for (std::int64_t i = GlobalThread(); i < n; i += GridStride()) {
    const std::int64_t r = i / hidden, h = i % hidden;
    const std::int32_t id = ids[r];
    if (id < 0 || id >= vocab) {
      if (h == 0) ReportIndexError(err, IndexOp::kEmbeddingForward, r, id, vocab);
      out.Set(i, 0.f);
      continue;
    }
    out.Set(i, LoadF(table, te, static_cast<std::int64_t>(id) * hidden + h));
  }
}

// One thread per column walks the tokens in order: repeated ids add in the
// same order as the CPU (deterministic, no atomics).
__global__ void EmbeddingBackwardKernel(const float* d_out, const std::int32_t* ids, void* d_table, Elem te,
                                        std::int64_t vocab, std::int64_t rows, std::int64_t hidden,
                                        IndexError* err) {
  const std::int64_t h = GlobalThread();
  if (h >= hidden) return;
  for (std::int64_t r = 0; r < rows; ++r) {
    const std::int32_t id = ids[r];
    if (id < 0 || id >= vocab) {
      if (h == 0) ReportIndexError(err, IndexOp::kEmbeddingBackward, r, id, vocab);
      continue;
    }
    const std::int64_t i = static_cast<std::int64_t>(id) * hidden + h;
    StoreF(d_table, te, i, LoadF(d_table, te, i) + d_out[r * hidden + h]);
  }
}

}  // namespace

absl::Status LaunchEmbeddingForward(const void* table, Elem te, std::int64_t vocab, const std::int32_t* ids,
                                    DevBuf out, std::int64_t rows, std::int64_t hidden, IndexError* err,
                                    gpuStream_t s) {
  if (rows * hidden == 0) return absl::OkStatus();
  EmbeddingForwardKernel<<<GridFor(rows * hidden), kThreads, 0, s>>>(table, te, vocab, ids, out, rows, hidden, err);
  return LaunchStatus("EmbeddingForwardKernel");
}

absl::Status LaunchEmbeddingBackward(const float* d_out, const std::int32_t* ids, void* d_table, Elem te,
                                     std::int64_t vocab, std::int64_t rows, std::int64_t hidden, IndexError* err,
                                     gpuStream_t s) {
  if (rows * hidden == 0) return absl::OkStatus();
  EmbeddingBackwardKernel<<<CeilDiv(hidden, kThreads), kThreads, 0, s>>>(d_out, ids, d_table, te, vocab, rows,
                                                                        hidden, err);
  return LaunchStatus("EmbeddingBackwardKernel");
}

}  // namespace localbench::kernels::LB_GPU_NS
