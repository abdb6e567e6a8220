#!/usr/bin/env bash
# Builds and runs the training-options benchmark (CPU backend): the memory
# plan at published settings (calibration) and the LoRA step on Llama 3.2 1B
# shapes with gradient checkpointing off/on and fp32/bf16 activations. Extra
# arguments go to the benchmark (--layers N, --steps N, --plan-only).
# Results are recorded in docs/BENCHMARKS.md ("Training").
set -euo pipefail
cd "$(dirname "$0")/.."
build="${LOCALBENCH_BENCH_BUILD_DIR:-build-bench}"
cmake -G Ninja -S . -B "$build" -DCMAKE_BUILD_TYPE=Release -DLOCALBENCH_SERVICES=OFF \
  -DLOCALBENCH_CUDA=OFF -DLOCALBENCH_HIP=OFF >/dev/null
ninja -C "$build" -j2 localbench_bench_train
lscpu | grep -E '^Model name|^CPU\(s\)' || true
"$build/kernels/bench/localbench_bench_train" "$@"
