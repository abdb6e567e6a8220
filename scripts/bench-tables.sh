#!/usr/bin/env bash
# Tables benchmark, one command: builds what it needs (in build-bench-tables/,
# Release), fills a throwaway PostgreSQL with ~1,000,000 generated points,
# then times the table mix through TableService (cold and warm, 16 threads)
# next to the same aggregate SQL run directly. Extra arguments go to the
# benchmark, e.g. scripts/bench-tables.sh --threads 16 --seconds 30
# Figures: docs/BENCHMARKS.md, ## Tables.
set -euo pipefail
cd "$(dirname "$0")/.."

build_dir="${LOCALBENCH_TABLES_BENCH_BUILD_DIR:-build-bench-tables}"
cmake -G Ninja -S . -B "$build_dir" -DCMAKE_BUILD_TYPE=Release -DLOCALBENCH_SERVICES=ON \
  -DLOCALBENCH_CUDA=OFF -DLOCALBENCH_HIP=OFF >/dev/null
cmake --build "$build_dir" --target localbench_tables_bench -- -j"$(nproc)"

log="$build_dir/bench-tables.log"
echo "bench-tables: collector log in $log"
"$build_dir/collector/bench/localbench_tables_bench" "$@" 2>"$log"
