#!/usr/bin/env bash
# llama.cpp as the same-run baseline of the kernels benchmark: installs
# node-llama-cpp 3.21.1 (prebuilt CPU binaries; install scripts not run,
# nothing downloaded or compiled) into the git-ignored build-bench/llamacpp,
# writes a random-weight Llama GGUF (kernels/bench/llamacpp/make_gguf.py),
# then alternates our benchmark and llama.cpp's ROUNDS times (timings through
# Node vary from process to process on 2 cores: compare medians per process).
# Where npm is unreachable it prints one "skipped" line and exits 0.
#
#   scripts/bench-llamacpp.sh [--preset llama-3.2-1b|tiny] [--type bf16|f16] [--rounds N] [--threads N]
set -euo pipefail
cd "$(dirname "$0")/.."
preset=llama-3.2-1b type=bf16 rounds=3 threads=2
while [ $# -gt 0 ]; do
  case "$1" in
    --preset) preset=$2; shift 2 ;;
    --type) type=$2; shift 2 ;;
    --rounds) rounds=$2; shift 2 ;;
    --threads) threads=$2; shift 2 ;;
    *) echo "usage: $0 [--preset NAME] [--type bf16|f16] [--rounds N] [--threads N]" >&2; exit 2 ;;
  esac
done
build="${LOCALBENCH_BENCH_BUILD_DIR:-build-bench}"
dir="$build/llamacpp"
mkdir -p "$dir"
export NODE_LLAMA_CPP_SKIP_DOWNLOAD=true
if [ ! -d "$dir/node_modules/node-llama-cpp" ]; then
  if ! (cd "$dir" && npm i -E --ignore-scripts --no-audit --no-fund node-llama-cpp@3.21.1 >npm.log 2>&1); then
    echo "llama.cpp baseline skipped: npm could not install node-llama-cpp@3.21.1 (see $dir/npm.log)"
    exit 0
  fi
fi
cp kernels/bench/llamacpp/bench.mjs "$dir/bench.mjs"
model="$dir/$preset-$type.gguf"
[ -f "$model" ] || /usr/bin/python3 kernels/bench/llamacpp/make_gguf.py "$model" --preset "$preset" --type "$type"
grep -m1 -E '^flags' /proc/cpuinfo | tr ' ' '\n' | grep -E '^(avx2|avx512f|avx512_bf16|amx_bf16)$' | tr '\n' ' ' |
  sed 's/^/cpu flags: /'; echo
ours_preset=$preset; [ "$preset" = tiny ] && ours_preset=tiny-llama
for r in $(seq 1 "$rounds"); do
  echo "== round $r: ours"
  scripts/bench-kernels.sh --preset "$ours_preset" --threads "$threads" --only prefill
  scripts/bench-kernels.sh --preset "$ours_preset" --threads "$threads" --only decode
  echo "== round $r: llama.cpp"
  node "$dir/bench.mjs" "$model" --threads="$threads"
done
