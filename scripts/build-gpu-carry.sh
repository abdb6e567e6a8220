#!/usr/bin/env bash
# Builds the GPU test and benchmark binaries here (nvcc is here, the GPU is
# elsewhere) and packs them, with the shared libraries a bare CUDA image
# lacks, into gpu-carry/ (git-ignored, < 64 MiB) with a run script:
#
#   scripts/build-gpu-carry.sh          # configure preset gpu-kernels, build, pack
#   # on the GPU machine, from the repository root (or wherever gpu-carry/ lands):
#   gpu-carry/run.sh                    # GPU tests, the outside oracle, then the benchmark
#   gpu-carry/run.sh tests [gtest args] # tests only
#   gpu-carry/run.sh oracle             # the outside oracle's fixtures on the GPU
#   gpu-carry/run.sh bench [--model=..] # benchmark only (its quantized part alone: bench --quant)
#
# Libraries left out are those every CUDA machine has: the driver (libcuda,
# libnvidia-*), the CUDA runtime and cuBLAS/cuBLASLt, and glibc itself.
# LOCALBENCH_CUDA_ARCHS overrides the architectures (default 80;90: sm_80 code
# also runs on sm_86 and sm_89, sm_90's PTX on newer GPUs; all four archs
# make each binary's kernels twice as large and the carry over 64 MiB).
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
archs=${LOCALBENCH_CUDA_ARCHS:-80;90}
build="$root/build-gpu"
out="$root/gpu-carry"
limit=$((64 * 1024 * 1024))

cd "$root"
cmake --preset gpu-kernels "-DCMAKE_CUDA_ARCHITECTURES=$archs" >/dev/null
cmake --build "$build" --parallel "${LOCALBENCH_JOBS:-2}" --target localbench_gpu_tests localbench_gpu_oracle_tests \
  localbench_gpu_bench

rm -rf "$out"
mkdir -p "$out/bin" "$out/lib"
bins=("$build/tests/gpu/localbench_gpu_tests" "$build/tests/gpu/localbench_gpu_oracle_tests"
  "$build/kernels/gpu/bench/localbench_gpu_bench")
for b in "${bins[@]}"; do
  [[ -x "$b" ]] || { echo "build-gpu-carry: missing $b" >&2; exit 1; }
  cp "$b" "$out/bin/"
  strip --strip-unneeded "$out/bin/$(basename "$b")"
done

# The oracle's fixtures, made here (NumPy is here, not on the GPU machine).
/usr/bin/python3 "$root/tests/oracle/make_fixtures.py" "$out/oracle"

# Every resolved dependency except the GPU image's own and glibc's.
skip='^(libcuda|libnvidia|libcudart|libcublas|libcublasLt|libc\.so|libm\.so|libdl\.so|libpthread\.so|librt\.so|libresolv\.so|ld-linux|linux-vdso)'
for b in "${bins[@]}"; do
  ldd "$b" | awk '/=> \// {print $1, $3}' | while read -r name path; do
    if [[ ! "$name" =~ $skip ]]; then
      cp -L "$path" "$out/lib/$name"
    fi
  done
done

cat > "$out/run.sh" <<'RUN'
#!/bin/sh
# Runs the carried GPU tests and benchmark with the carried libraries.
set -e
here=$(cd "$(dirname "$0")" && pwd)
LD_LIBRARY_PATH="$here/lib${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
export LD_LIBRARY_PATH
what=${1:-all}
[ $# -gt 0 ] && shift
case "$what" in
  tests) exec "$here/bin/localbench_gpu_tests" "$@" ;;
  oracle) LOCALBENCH_ORACLE_DIR="$here/oracle" exec "$here/bin/localbench_gpu_oracle_tests" "$@" ;;
  bench) exec "$here/bin/localbench_gpu_bench" "$@" ;;
  all)
    status=0
    "$here/bin/localbench_gpu_tests" "$@" || status=$?
    LOCALBENCH_ORACLE_DIR="$here/oracle" "$here/bin/localbench_gpu_oracle_tests" || status=$?
    "$here/bin/localbench_gpu_bench" || status=$?
    exit $status ;;
  *) echo "usage: $0 [tests|oracle|bench|all] [args]" >&2; exit 2 ;;
esac
RUN
chmod +x "$out/run.sh"

size=$(du -sb "$out" | cut -f1)
echo "gpu-carry: $(ls "$out/lib" | wc -l) libraries, $((size / 1024 / 1024)) MiB in $out"
ls "$out/lib"
if (( size > limit )); then
  echo "build-gpu-carry: $size bytes exceeds the 64 MiB carry limit" >&2
  exit 1
fi
