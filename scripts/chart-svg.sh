#!/usr/bin/env bash
# Renders a chart of the collector's HTTP API to an SVG file, without a
# browser, for editors pasting charts into articles:
#
#   scripts/chart-svg.sh URL FILE
#   scripts/chart-svg.sh 'http://127.0.0.1:7412/v1/charts/memory?device_model=rtx-4090-24gb&model_preset=llama-3.2-1b&kind=decode&as_of=42' memory.svg
#
# URL is any /v1/charts/... route (add as_of to pin the data version the
# article cites). The spec is rendered by vl2svg from the vega-lite package
# the build installed (CMake target `site`); set VL2SVG to use another one.
# Exit codes: 0 written, 1 fetching or rendering failed, 2 bad arguments.
set -euo pipefail
cd "$(dirname "$0")/.."

if [ $# -ne 2 ]; then
  echo "usage: scripts/chart-svg.sh URL FILE" >&2
  exit 2
fi
url="$1"
out="$2"
case "$url" in
  http://*/v1/charts/* | https://*/v1/charts/*) ;;
  *) echo "chart-svg: URL must be a /v1/charts/... route of the HTTP API, not: $url" >&2; exit 2 ;;
esac

vl2svg="${VL2SVG:-}"
if [ -z "$vl2svg" ]; then
  for dir in build build-cpu build-ci; do
    if [ -x "$dir/site/npm/node_modules/.bin/vl2svg" ]; then vl2svg="$dir/site/npm/node_modules/.bin/vl2svg"; break; fi
  done
fi
if [ -z "$vl2svg" ]; then
  echo "chart-svg: vl2svg not found: build the CMake target site first (cmake --build build --target site)" >&2
  exit 1
fi

spec="$(mktemp)"
trap 'rm -f "$spec"' EXIT
if ! curl -fsS -o "$spec" "$url"; then
  echo "chart-svg: cannot fetch $url" >&2
  exit 1
fi
"$vl2svg" "$spec" "$out"
echo "chart-svg: wrote $out"
