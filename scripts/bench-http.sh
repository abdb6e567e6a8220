#!/usr/bin/env bash
# Tables over HTTP, one command (issue 9's benchmark): builds what it needs
# (in build-bench-http/, Release), starts a throwaway PostgreSQL, fills it
# with ~1,000,000 generated points (collector/bench/tables_data.sql), runs the
# real collector (gRPC + HTTP API on port 0) and, from a separate client
# process, times cold and warm table requests from 16 HTTP clients, the same
# aggregates as raw SQL, and gRPC ingest alone vs while the clients read.
# Extra arguments go to the benchmark, e.g.
#   scripts/bench-http.sh --clients 16 --seconds 30 --cold-rounds 5 --ingest-clients 4
#   scripts/bench-http.sh --submissions 600 --seconds 5     # a quick, smaller run
# Figures: docs/BENCHMARKS.md, ## Tables over HTTP.
set -euo pipefail
cd "$(dirname "$0")/.."

build_dir="${LOCALBENCH_HTTP_BENCH_BUILD_DIR:-build-bench-http}"
launcher=()
if command -v ccache >/dev/null; then launcher=(-DCMAKE_CXX_COMPILER_LAUNCHER=ccache); fi
cmake -G Ninja -S . -B "$build_dir" -DCMAKE_BUILD_TYPE=Release -DLOCALBENCH_SERVICES=ON \
  -DLOCALBENCH_CUDA=OFF -DLOCALBENCH_HIP=OFF "${launcher[@]}" >/dev/null
cmake --build "$build_dir" --target localbench_http_bench -- -j"$(nproc)"

# The collector logs one line per request and submission: kept out of the
# figures, on disk for a look.
log="$build_dir/bench-http.log"
echo "bench-http: collector log in $log; load average $(cut -d' ' -f1-3 /proc/loadavg)"
"$build_dir/collector/bench/localbench_http_bench" "$@" 2>"$log"
echo "bench-http: load average afterwards $(cut -d' ' -f1-3 /proc/loadavg)"
