#!/usr/bin/env bash
# Installs every Debian package localbench needs to build, test and run.
# Idempotent: packages already present are skipped, so a second run is fast
# and changes nothing. Needs root (or sudo) on Debian 12 "bookworm".
set -euo pipefail

packages=(
  # build
  cmake ninja-build g++ pkg-config git
  # wire contract and RPC
  libgrpc++-dev protobuf-compiler-grpc libprotobuf-dev protobuf-compiler libabsl-dev
  # storage
  libpqxx-dev libpq-dev postgresql
  # hashing, tokens, TLS; the agent CLI
  libssl-dev libcli11-dev
  # the collector's HTTP API (cpp-httplib: see docs/ARCHITECTURE.md)
  libcpp-httplib-dev
  # kernels (CPU GEMM baseline and blocked kernels)
  libopenblas-dev
  # tests and benchmarks
  libgtest-dev libgmock-dev libbenchmark-dev
  # fuzzing: clang with libFuzzer, ASan and UBSan (scripts/fuzz.sh, ctest label fuzz)
  clang-15 libclang-common-15-dev
  # the kernels' outside oracle (NumPy reference of the Llama/Qwen forward)
  python3-numpy
  # AMD GPU backend (compiled everywhere; run only where an AMD GPU exists)
  hipcc libamdhip64-dev librocm-smi-dev
  # deployment
  ansible ansible-lint haproxy curl systemd
  # charts (nlohmann-json) and the example site: node for npm ci of the
  # vega bundles and puppeteer-core, chromium for the browser tests
  nlohmann-json3-dev nodejs chromium
)
# Debian's nodejs comes without npm (a package of its own); a nodejs from
# elsewhere (e.g. NodeSource) ships npm itself and conflicts with Debian's.
if ! command -v npm >/dev/null 2>&1; then packages+=(npm); fi

missing=()
for p in "${packages[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q '^install ok installed$'; then
    missing+=("$p")
  fi
done

if [ ${#missing[@]} -eq 0 ]; then
  echo "bootstrap: all ${#packages[@]} packages present"
  exit 0
fi

sudo=""
if [ "$(id -u)" -ne 0 ]; then sudo="sudo"; fi
echo "bootstrap: installing ${missing[*]}"
$sudo apt-get update -q
DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -q --no-install-recommends "${missing[@]}"
echo "bootstrap: done"
