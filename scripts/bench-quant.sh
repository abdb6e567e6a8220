#!/usr/bin/env bash
# Builds and runs the quantized-weights benchmark (issue 15, CPU): the decode
# GEMV over Llama 3.1 8B's layer projections in q4_0, q8_0 and nf4, as weight
# bytes/s (scales included) against the memory-copy bandwidth of the same
# run. Extra arguments go to the benchmark (--preset NAME, --formats LIST,
# --layers N, --threads N, --reps N). Results are recorded in docs/BENCHMARKS.md.
set -euo pipefail
cd "$(dirname "$0")/.."
build="${LOCALBENCH_BENCH_BUILD_DIR:-build-bench}"
cmake -G Ninja -S . -B "$build" -DCMAKE_BUILD_TYPE=Release -DLOCALBENCH_SERVICES=OFF \
  -DLOCALBENCH_CUDA=OFF -DLOCALBENCH_HIP=OFF >/dev/null
ninja -C "$build" -j2 localbench_bench_quant
lscpu | grep -E '^Model name|^CPU\(s\)' || true
"$build/kernels/bench/localbench_bench_quant" "$@"
