#!/usr/bin/env bash
# HTTP API benchmark, one command: builds what it needs (in
# build-bench-http/, Release) and runs concurrent HTTP clients against the
# collector's HTTP server on a throwaway PostgreSQL cluster: warm (cached),
# revalidated (304) and uncached requests. Extra arguments go to the
# benchmark, e.g. scripts/bench-http.sh --clients 16 --seconds 30
set -euo pipefail
cd "$(dirname "$0")/.."

build_dir="${LOCALBENCH_HTTP_BENCH_BUILD_DIR:-build-bench-http}"
cmake -G Ninja -S . -B "$build_dir" -DCMAKE_BUILD_TYPE=Release -DLOCALBENCH_SERVICES=ON \
  -DLOCALBENCH_CUDA=OFF -DLOCALBENCH_HIP=OFF >/dev/null
cmake --build "$build_dir" --target localbench_http_bench -- -j"$(nproc)"

# One log line per request: kept out of the figures, on disk for a look.
log="$build_dir/bench-http.log"
echo "bench-http: collector log in $log"
"$build_dir/collector/bench/localbench_http_bench" "$@" 2>"$log"
