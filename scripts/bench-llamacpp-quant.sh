#!/usr/bin/env bash
# llama.cpp's Q4_0 and Q8_0 decode beside ours on the same shape, in the same
# run (issue 15; docs/BENCHMARKS.md "Quantized weights"). Installs
# node-llama-cpp 3.21.1 as scripts/bench-llamacpp.sh does (prebuilt linux-x64
# CPU binaries, nothing compiled or downloaded at run time) into the
# git-ignored build-bench/llamacpp, writes random-weight GGUFs of the preset in
# each type (kernels/bench/llamacpp/make_gguf.py: the projections in the
# block format, embeddings and the tied head bf16, as in our workloads), then
# alternates, ROUNDS times, ours (localbench_bench_quant --decode TYPE: the
# whole decode workload, batch 1, 4 tokens per step after a 64-token prompt)
# and llama.cpp's native decode at batch 1 (bench.mjs decode-native, after a
# 16-token prompt), one process each, and prints the medians and the ratios
# ours / llama.cpp. The load average before each process is printed: ggml's
# threads spin at barriers, so only quiet rounds compare (see bench.mjs).
# Where npm is unreachable it prints one "skipped" line and exits 0.
#
#   scripts/bench-llamacpp-quant.sh [--preset llama-3.2-1b] [--types q4_0,q8_0] [--rounds N] [--threads N]
#
# LOCALBENCH_BENCH_QUANT=PATH runs that localbench_bench_quant binary instead
# of building one (Release) in build-bench.
set -euo pipefail
cd "$(dirname "$0")/.."
preset=llama-3.2-1b types=q4_0,q8_0 rounds=3 threads=2
while [ $# -gt 0 ]; do
  case "$1" in
    --preset) preset=$2; shift 2 ;;
    --types) types=$2; shift 2 ;;
    --rounds) rounds=$2; shift 2 ;;
    --threads) threads=$2; shift 2 ;;
    *) echo "usage: $0 [--preset NAME] [--types q4_0,q8_0] [--rounds N] [--threads N]" >&2; exit 2 ;;
  esac
done
build="${LOCALBENCH_BENCH_BUILD_DIR:-build-bench}"
dir="$build/llamacpp"
. scripts/lib/llamacpp.sh
llamacpp_install "$dir" || exit 0
ours="${LOCALBENCH_BENCH_QUANT:-}"
if [ -z "$ours" ]; then
  cmake -G Ninja -S . -B "$build" -DCMAKE_BUILD_TYPE=Release -DLOCALBENCH_SERVICES=OFF \
    -DLOCALBENCH_CUDA=OFF -DLOCALBENCH_HIP=OFF >/dev/null
  ninja -C "$build" -j2 localbench_bench_quant
  ours="$build/kernels/bench/localbench_bench_quant"
fi
cp kernels/bench/llamacpp/bench.mjs "$dir/bench.mjs"
IFS=, read -r -a type_list <<<"$types"
for t in "${type_list[@]}"; do
  [ -f "$dir/$preset-$t.gguf" ] ||
    /usr/bin/python3 kernels/bench/llamacpp/make_gguf.py "$dir/$preset-$t.gguf" --preset "$preset" --type "$t"
done
lscpu | grep -E '^Model name' || true
log="$dir/last-quant-run.log"
: >"$log"
for r in $(seq 1 "$rounds"); do
  for t in "${type_list[@]}"; do
    echo "== round $r: ours $t ($(cut -d' ' -f1-3 /proc/loadavg) load)"
    out=$("$ours" --preset "$preset" --formats "$t" --layers 1 --reps 1 --threads "$threads" --decode "$t")
    echo "$out" | grep 'decode workload'
    echo "$out" | awk -F'|' -v t="$t" '/decode workload tokens/{print "ours-" t " decode-b1", $5+0}' >>"$log"
    echo "== round $r: llama.cpp $t ($(cut -d' ' -f1-3 /proc/loadavg) load)"
    out=$(node "$dir/bench.mjs" "$dir/$preset-$t.gguf" --threads="$threads" --prompt=16 --gen=16 --batches=1)
    echo "$out" | grep decode-native
    echo "$out" | awk -v t="$t" '/^llama.cpp decode-native /{print "llama.cpp-" t " decode-b1", $(NF-1)}' >>"$log"
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
    if who.startswith("ours-"):
        other = "llama.cpp-" + who[len("ours-"):]
        if (other, what) in med:
            print(f"ratio {who}/{other} {what}: {med[who, what] / med[other, what]:.2f}x")
PY
