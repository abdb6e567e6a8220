#!/usr/bin/env bash
# llama.cpp as the same-run baseline of the kernels benchmark: installs
# node-llama-cpp 3.21.1 and its prebuilt linux-x64 CPU binaries (install
# scripts not run, other platforms' optional packages left out, nothing
# downloaded or compiled at run time) into the git-ignored build-bench/llamacpp,
# writes random-weight Llama GGUFs of the same shape as our preset
# (kernels/bench/llamacpp/make_gguf.py), then alternates our benchmark and
# llama.cpp's (one process per type) ROUNDS times, and prints the median per
# figure over the rounds and the ratios ours/llama.cpp. Timings through Node
# vary from process to process on 2 cores, hence medians per process.
# Where npm is unreachable it prints one "skipped" line and exits 0.
#
#   scripts/bench-llamacpp.sh [--preset llama-3.2-1b|tiny] [--types bf16,f16] [--rounds N] [--threads N]
#
# Figures: prefill P=128 (one sequence), decode at batch 1 and 4 (tokens/s
# summed over the batch). Ours runs its bf16 workload in every round.
# llama.cpp's decode is timed through its native batch API (decode-b*) and
# through node-llama-cpp's generator (decode-js-b*, JS overhead included);
# see kernels/bench/llamacpp/bench.mjs. ggml's worker threads spin at
# barriers: with other processes on the same 2 cores a 2-thread llama.cpp
# step can take 100x longer (seen: 5.7 tokens/s on the tiny model under load
# 7, 4100 with 1 thread), so the load average printed before each process is
# part of the result; compare only quiet rounds.
set -euo pipefail
cd "$(dirname "$0")/.."
preset=llama-3.2-1b types=bf16,f16 rounds=3 threads=2
while [ $# -gt 0 ]; do
  case "$1" in
    --preset) preset=$2; shift 2 ;;
    --type|--types) types=$2; shift 2 ;;
    --rounds) rounds=$2; shift 2 ;;
    --threads) threads=$2; shift 2 ;;
    *) echo "usage: $0 [--preset NAME] [--types bf16,f16] [--rounds N] [--threads N]" >&2; exit 2 ;;
  esac
done
build="${LOCALBENCH_BENCH_BUILD_DIR:-build-bench}"
dir="$build/llamacpp"
. scripts/lib/llamacpp.sh
llamacpp_install "$dir" || exit 0
cp kernels/bench/llamacpp/bench.mjs "$dir/bench.mjs"
IFS=, read -r -a type_list <<<"$types"
for t in "${type_list[@]}"; do
  [ -f "$dir/$preset-$t.gguf" ] ||
    /usr/bin/python3 kernels/bench/llamacpp/make_gguf.py "$dir/$preset-$t.gguf" --preset "$preset" --type "$t"
done
lscpu | grep -E '^Model name' || true
grep -m1 -E '^flags' /proc/cpuinfo | tr ' ' '\n' | grep -E '^(avx2|fma|f16c|avx512f|avx512_bf16|avx512_vnni|amx_bf16)$' |
  tr '\n' ' ' | sed 's/^/cpu flags: /'; echo
ours_preset=$preset; [ "$preset" = tiny ] && ours_preset=tiny-llama
log="$dir/last-run.log"
: >"$log"
# Each figure goes to the log as "KEY VALUE" for the summary below.
for r in $(seq 1 "$rounds"); do
  echo "== round $r: ours ($(cut -d' ' -f1-3 /proc/loadavg) load)"
  out=$(scripts/bench-kernels.sh --preset "$ours_preset" --threads "$threads" --only prefill;
        scripts/bench-kernels.sh --preset "$ours_preset" --threads "$threads" --only decode)
  echo "$out" | grep -E '^\| (prefill|decode) '
  echo "$out" | awk -F'|' '/^\| prefill /{print "ours prefill", $4+0}
                           /^\| decode /{print "ours decode-b" $3+0, $4+0}' >>"$log"
  for t in "${type_list[@]}"; do
    echo "== round $r: llama.cpp $t ($(cut -d' ' -f1-3 /proc/loadavg) load)"
    out=$(node "$dir/bench.mjs" "$dir/$preset-$t.gguf" --threads="$threads")
    echo "$out"
    # decode-native (llama_decode driven directly) is the figure compared with
    # ours; decode through the library's generator is kept as decode-js.
    echo "$out" | awk -v t="$t" '/^llama.cpp prefill/{print "llama.cpp-" t " prefill", $(NF-1)}
                     /^llama.cpp decode-native /{sub("batch=", "", $3); print "llama.cpp-" t " decode-b" $3, $(NF-1); next}
                     /^llama.cpp decode /{sub("batch=", "", $3); print "llama.cpp-" t " decode-js-b" $3, $(NF-1)}' >>"$log"
  done
done
echo "== medians over $rounds rounds (tokens/s; ratio = ours / llama.cpp)"
/usr/bin/python3 - "$log" <<'PY'
import statistics, sys
runs = {}
for line in open(sys.argv[1]):
    who, what, value = line.split()
    runs.setdefault((who, what), []).append(float(value))
med = {k: statistics.median(v) for k, v in runs.items()}
for (who, what), v in sorted(runs.items()):
    print(f"{who:16} {what:10} median {med[who, what]:8.2f}   runs: {' '.join(f'{x:.2f}' for x in v)}")
for (who, what) in sorted(med):
    if who != "ours" and ("ours", what) in med:
        print(f"ratio ours/{who} {what}: {med['ours', what] / med[who, what]:.2f}x")
PY
