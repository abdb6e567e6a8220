#!/usr/bin/env bash
# Ingest benchmark, one command: configures and builds what it needs (in
# build-bench-ingest/, Release), then runs concurrent gRPC Submit against a raw
# COPY of the same rows, in the same run, on a throwaway PostgreSQL cluster.
# The collector runs in the benchmark process; the gRPC load comes from a
# separate client process (the same binary with --client), so the clients'
# CPU is not counted against the server. Every round is printed.
# Extra arguments go to the benchmark, e.g.
#   scripts/bench-ingest.sh --clients 8 --submissions 2000 --rounds 3 --durable 1 --writers 2
# Figures and their analysis: docs/BENCHMARKS.md, ## Ingest.
set -euo pipefail
cd "$(dirname "$0")/.."

build_dir="${LOCALBENCH_INGEST_BENCH_BUILD_DIR:-build-bench-ingest}"
cmake -G Ninja -S . -B "$build_dir" -DCMAKE_BUILD_TYPE=Release -DLOCALBENCH_SERVICES=ON \
  -DLOCALBENCH_CUDA=OFF -DLOCALBENCH_HIP=OFF >/dev/null
cmake --build "$build_dir" --target localbench_ingest_bench -- -j"$(nproc)"

# The collector logs one line per stored submission; keep them out of the
# figures but on disk for a look afterwards.
log="$build_dir/bench-ingest.log"
echo "bench-ingest: collector log in $log"
"$build_dir/collector/bench/localbench_ingest_bench" "$@" 2>"$log"
