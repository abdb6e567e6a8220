#!/usr/bin/env bash
# Load test, one command (issue 16): builds what it needs (build-bench-load/,
# Release), then runs localbench_load_bench: a throwaway durable PostgreSQL,
# the real localbench-collector (gRPC + HTTP on port 0), 200 simulated agents
# (one gRPC channel each, submitting back to back) and HTTP table clients for
# a fixed time. Prints throughput, p50/p99 of Submit and of table requests,
# the collector's RSS and thread count every second, errors, and what the
# database holds afterwards (acknowledged but lost, stored twice: both must
# be 0; the exit status is 1 otherwise). Extra arguments go to the benchmark:
#   scripts/bench-load.sh --agents 200 --seconds 60 --http-clients 8
#   scripts/bench-load.sh --agents 400 --seconds 30 --think-ms 100 --no-fsync
# Figures: docs/RELIABILITY.md, ## Load.
set -euo pipefail
cd "$(dirname "$0")/.."

# LOCALBENCH_LOAD_BENCH_BUILD_DIR=build-cpu reuses an existing build as it is
# configured (no reconfiguration, so nothing else is rebuilt).
build_dir="${LOCALBENCH_LOAD_BENCH_BUILD_DIR:-build-bench-load}"
if [[ ! -f "$build_dir/CMakeCache.txt" ]]; then
  launcher=()
  if command -v ccache >/dev/null; then launcher=(-DCMAKE_CXX_COMPILER_LAUNCHER=ccache); fi
  cmake -G Ninja -S . -B "$build_dir" -DCMAKE_BUILD_TYPE=Release -DLOCALBENCH_SERVICES=ON \
    -DLOCALBENCH_CUDA=OFF -DLOCALBENCH_HIP=OFF "${launcher[@]}" >/dev/null
fi
cmake --build "$build_dir" --target localbench_load_bench localbench-collector -- -j"${LOCALBENCH_JOBS:-2}"

log="$build_dir/load-collector.log"
echo "bench-load: collector log in $log; load average $(cut -d' ' -f1-3 /proc/loadavg)"
"$build_dir/collector/bench/localbench_load_bench" --collector-log "$log" "$@"
echo "bench-load: load average afterwards $(cut -d' ' -f1-3 /proc/loadavg)"
