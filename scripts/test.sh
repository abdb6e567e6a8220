#!/usr/bin/env bash
# The test command (README, .ci/run): installs what is missing, builds
# everything with warnings as errors, and runs every test through ctest.
# Integration tests start their own throwaway PostgreSQL clusters; GPU tests
# skip, visibly, where no GPU is present.
set -euo pipefail
cd "$(dirname "$0")/.."

scripts/bootstrap.sh
cmake --preset ci
cmake --build --preset ci
ctest --preset ci "$@"
