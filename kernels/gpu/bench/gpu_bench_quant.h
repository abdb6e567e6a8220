// The quantized section of localbench_gpu_bench (gpu_bench_quant.cc).
#pragma once

#include "localbench/kernels/gpu/gpu_backend.h"

namespace localbench_gpu_bench {

// Prints the quantized decode figures of `backend` as Markdown: GEMV weight
// bytes/s per format against the copy kernel, and Llama 2 7B Q4_0 decode
// tokens/s against llama.cpp's published tg128. Exits the process on a
// device error, as the rest of the benchmark does.
void RunQuantBench(localbench::kernels::gpu::GpuBackend& backend, int reps);

}  // namespace localbench_gpu_bench
