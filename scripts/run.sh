#!/usr/bin/env bash
# The main job (README): installs what is missing, builds the collector and
# the agent, starts a local collector on its own embedded PostgreSQL, enrols
# an agent with it, runs the standard suite on this machine's best device
# (progress shown), publishes the results and prints the results table. The
# collector is stopped cleanly on exit, whatever happens.
#
# Extra arguments go to `localbench-agent run`, e.g.
#   scripts/run.sh --device cpu --presets qwen2.5-0.5b
set -euo pipefail
cd "$(dirname "$0")/.."
root="$(pwd)"

say() { echo "run.sh: $*" >&2; }

scripts/bootstrap.sh

say "building localbench-collector and localbench-agent"
# LOCALBENCH_PRESET=cpu-only skips the GPU backends (a faster build where no
# GPU will be measured); the default builds whatever GPU toolkits are here.
preset="${LOCALBENCH_PRESET:-default}"
case "$preset" in
  default) build_dir="$root/build" ;;
  cpu-only) build_dir="$root/build-cpu" ;;
  *) say "LOCALBENCH_PRESET must be default or cpu-only, not $preset"; exit 2 ;;
esac
cmake --preset "$preset" >/dev/null
# `site`: the example pages the collector serves under /site/ (npm ci of the
# pinned vega bundles on the first build).
cmake --build --preset "$preset" --target localbench-collector localbench-agent site

collector_bin="$build_dir/collector/localbench-collector"
agent_bin="$build_dir/agent/localbench-agent"

# State lives under the checkout (.localbench/ is git-ignored).
state="$root/.localbench"
mkdir -p "$state"
chmod 755 "$state"
data_dir="$state/collector"
agent_home="$state/agent"

# As root, the embedded PostgreSQL runs as the postgres user, which must be
# able to reach the data directory through every parent (a checkout under
# /root is not). Fall back to a directory it can reach, and say so.
if [ "$(id -u)" -eq 0 ]; then
  # Walk down from / so the message names the directory that blocks.
  unreachable=""
  p=""
  IFS=/ read -r -a parts <<<"${state#/}"
  for part in "${parts[@]}"; do
    p="$p/$part"
    if ! runuser -u postgres -- test -x "$p" 2>/dev/null; then unreachable="$p"; break; fi
  done
  if [ -n "$unreachable" ]; then
    fallback="/var/tmp/localbench-$(printf '%s' "$root" | sha256sum | cut -c1-12)/collector"
    say "the postgres user cannot reach $unreachable; the collector's data goes to $fallback instead"
    mkdir -p "$(dirname "$fallback")"
    chmod 755 "$(dirname "$fallback")"
    data_dir="$fallback"
  fi
fi

log="$state/collector.log"
collector_pid=""
stop_collector() {
  if [ -n "$collector_pid" ] && kill -0 "$collector_pid" 2>/dev/null; then
    say "stopping the collector"
    kill -TERM "$collector_pid" 2>/dev/null || true
    wait "$collector_pid" 2>/dev/null || true
  fi
  collector_pid=""
}
trap stop_collector EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

say "starting localbench-collector (embedded PostgreSQL in $data_dir; log: $log)"
: >"$log"
"$collector_bin" --listen 127.0.0.1:0 --http-listen 127.0.0.1:0 --data-dir "$data_dir" >>"$log" 2>&1 &
collector_pid=$!

# The collector prints "localbench-collector: listening on HOST:PORT" once
# it serves; a first start includes initdb (seconds).
address=""
for _ in $(seq 1 600); do
  address="$(sed -n 's/^localbench-collector: listening on \([^ ]*\).*/\1/p' "$log" | head -n1)"
  [ -n "$address" ] && break
  if ! kill -0 "$collector_pid" 2>/dev/null; then
    say "the collector exited before it was ready:"
    tail -n 20 "$log" >&2
    exit 1
  fi
  sleep 0.1
done
if [ -z "$address" ]; then
  say "the collector did not report its address within 60 s:"
  tail -n 20 "$log" >&2
  exit 1
fi
http="$(sed -n 's/^localbench-collector: http listening on \([^ ]*\).*/\1/p' "$log" | head -n1)"
say "collector listening on $address (gRPC), http://$http (tables)"

# Plaintext only because the collector is on loopback in this process tree.
"$agent_bin" enroll --collector "$address" --insecure --state-dir "$agent_home"

status=0
run_json="$state/last-run.json"
rm -f "$run_json"
"$agent_bin" run --yes --collector "$address" --insecure --state-dir "$agent_home" --json "$run_json" "$@" || status=$?
if [ "$status" -ne 0 ]; then
  say "the agent run ended with status $status (results it finished are kept in $agent_home/outbox)"
  exit "$status"
fi
say "done: results stored by the local collector (data in $data_dir)"
# The tables this run just filled, as the HTTP API serves them (JSON; add
# .csv for CSV). `as_of` pins the data version this run produced.
version="$(curl -fsS "http://$http/v1/devices" | sed -n 's/.*"data_version": *"\{0,1\}\([0-9]*\).*/\1/p' | head -n1)"
echo
echo "Tables at data version ${version:-?}:"
echo "  http://$http/v1/tables/oom?as_of=${version}"
echo "  http://$http/v1/devices?as_of=${version}"
# The page of the device this run measured: its submission names the device
# model the collector filed it under.
submission="$(sed -n 's/.*"submissionId": *"\([^"]*\)".*/\1/p' "$run_json" 2>/dev/null | head -n1)"
slug=""
if [ -n "$submission" ]; then
  slug="$(curl -fsS "http://$http/v1/submissions/$submission" |
    sed -n 's/.*"device_model": *"\([^"]*\)".*/\1/p' | head -n1)"
fi
echo
if [ -n "$slug" ]; then
  echo "This machine's benchmark page:"
  echo "  http://$http/site/device.html?model=$slug"
else
  echo "Benchmark pages: http://$http/site/device.html"
fi
if [ -t 0 ] && [ -t 1 ]; then
  echo "Serving them until Ctrl-C."
  trap 'exit 0' INT
  wait "$collector_pid" || true
else
  echo "(the collector stops now; serve them again with:"
  echo "   $collector_bin --data-dir $data_dir --http-listen 127.0.0.1:7412 )"
fi
