#!/usr/bin/env bash
# Builds and runs the kernels benchmark (CPU backend): GEMM vs OpenBLAS,
# decode GEMV vs memory-copy bandwidth, and prefill/decode/LoRA tokens/s on
# Llama 3.2 1B shapes. Extra arguments go to the benchmark (--quick,
# --preset NAME). Results are recorded in docs/BENCHMARKS.md.
set -euo pipefail
cd "$(dirname "$0")/.."
build="${LOCALBENCH_BENCH_BUILD_DIR:-build-bench}"
cmake -G Ninja -S . -B "$build" -DCMAKE_BUILD_TYPE=Release -DLOCALBENCH_SERVICES=OFF \
  -DLOCALBENCH_CUDA=OFF -DLOCALBENCH_HIP=OFF >/dev/null
ninja -C "$build" -j2 localbench_bench_kernels
lscpu | grep -E '^Model name|^CPU\(s\)' || true
"$build/kernels/bench/localbench_bench_kernels" "$@"
