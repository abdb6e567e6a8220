#!/usr/bin/env bash
# Builds the libFuzzer targets with clang-15 (ASan + UBSan) in a build
# directory of their own and runs each for a bounded time from its committed
# seed corpus. The ctest tests labelled `fuzz` call this; so can you:
#
#   scripts/fuzz.sh                          # all targets, 60 s each
#   scripts/fuzz.sh --seconds 300 submit     # one target, longer
#   scripts/fuzz.sh --build-only             # just the clang build
#
# Targets: submit (collector Submit bytes -> parse -> validate),
# http_params (HTTP query parameters -> request messages), agent_results
# (agent results files -> submission -> local report).
# New inputs go to BUILD_DIR/corpus/<target> (the committed seeds are read,
# never written); a crash leaves BUILD_DIR/artifacts/<target>-crash-* and a
# non-zero exit. Reproduce one: BUILD_DIR/tests/fuzz/<target>_fuzz FILE.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
build_dir="$root/build-fuzz"
seconds=60
build=1
run=1
targets=()
while [[ $# -gt 0 ]]; do
  case "$1" in
    --build-dir) build_dir="$2"; shift 2 ;;
    --seconds) seconds="$2"; shift 2 ;;
    --build-only) run=0; shift ;;
    --no-build) build=0; shift ;;
    -h|--help) sed -n '2,16p' "$0"; exit 0 ;;
    -*) echo "fuzz.sh: unknown option $1" >&2; exit 2 ;;
    *) targets+=("$1"); shift ;;
  esac
done
[[ ${#targets[@]} -gt 0 ]] || targets=(submit http_params agent_results)
for t in "${targets[@]}"; do
  [[ -d "$root/tests/fuzz/corpus/$t" ]] || { echo "fuzz.sh: unknown target $t (no tests/fuzz/corpus/$t)" >&2; exit 2; }
done

if [[ $build == 1 ]]; then
  command -v clang++-15 >/dev/null || { echo "fuzz.sh: clang++-15 not found (scripts/bootstrap.sh installs it)" >&2; exit 1; }
  launcher=()
  if command -v ccache >/dev/null; then launcher=(-DCMAKE_CXX_COMPILER_LAUNCHER=ccache); fi
  cmake -S "$root" -B "$build_dir" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo \
    -DCMAKE_C_COMPILER=clang-15 -DCMAKE_CXX_COMPILER=clang++-15 "${launcher[@]}" \
    -DLOCALBENCH_FUZZ=ON -DLOCALBENCH_CUDA=OFF -DLOCALBENCH_HIP=OFF >/dev/null
  cmake --build "$build_dir" -j "${LOCALBENCH_FUZZ_JOBS:-2}" \
    --target submit_fuzz http_params_fuzz agent_results_fuzz
fi
[[ $run == 1 ]] || exit 0

status=0
for t in "${targets[@]}"; do
  work="$build_dir/corpus/$t"
  mkdir -p "$work" "$build_dir/artifacts"
  log="$build_dir/$t.log"
  echo "fuzz.sh: $t for ${seconds}s (seeds: tests/fuzz/corpus/$t, new inputs: $work)"
  # -timeout: one input running > 10 s is a finding (a hang); -rss_limit_mb
  # likewise for memory. Seeds come second so new inputs land in $work.
  if ! "$build_dir/tests/fuzz/${t}_fuzz" -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 \
      -print_final_stats=1 -artifact_prefix="$build_dir/artifacts/$t-" \
      "$work" "$root/tests/fuzz/corpus/$t" >"$log" 2>&1; then
    status=1
    echo "fuzz.sh: $t FOUND A CRASH; log: $log" >&2
    tail -n 60 "$log" >&2
  fi
  execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)
  cov=$(grep -o 'cov: [0-9]*' "$log" | tail -1 || true)
  echo "fuzz.sh: $t: ${execs:-?} executions in ${seconds}s, ${cov:-cov: ?}, corpus $(ls "$work" | wc -l) new + $(ls "$root/tests/fuzz/corpus/$t" | wc -l) seeds"
done
exit $status
