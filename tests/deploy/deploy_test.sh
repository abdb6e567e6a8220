#!/usr/bin/env bash
# Deployment tests (ctest label "deploy"), one mode per ctest entry:
#   lint      ansible-lint, production profile
#   syntax    syntax check of site.yml with both example inventories
#   check     check mode of site.yml against this machine (test inventory)
#   render    renders every template for real (twice: the second run must
#             change nothing), validates each rendered file with the program
#             that reads it (the collector's --check-config, haproxy -c,
#             systemd-analyze verify, sh -n), then runs the rendered units'
#             commands directly, since there is no systemd as PID 1 here:
#             the collector's migrate + serve against a throwaway PostgreSQL
#             over TCP with the rendered password, /healthz, and the nightly
#             backup script.
# Usage: deploy_test.sh MODE BUILD_DIR
set -euo pipefail
mode="$1"
build_dir="$(cd "$2" && pwd)"
here="$(cd "$(dirname "$0")" && pwd)"
repo="$(cd "$here/../.." && pwd)"
export ANSIBLE_CONFIG="$repo/ansible/ansible.cfg" ANSIBLE_PIPELINING=true ANSIBLE_NOCOLOR=1
inventory="$here/inventory.yml"
test_vars="$here/test-vars.yml"
collector="$build_dir/collector/localbench-collector"

fail() { echo "deploy_test: FAIL: $*" >&2; exit 1; }

case "$mode" in
  lint)
    cd "$repo/ansible"
    ansible-lint --profile production --nocolor
    ;;
  syntax)
    for inv in single scale-out; do
      ansible-playbook -i "$repo/ansible/inventories/$inv" --syntax-check "$repo/ansible/site.yml"
    done
    ;;
  check)
    out="$(ansible-playbook -i "$inventory" "$repo/ansible/site.yml" --check \
           -e @"$test_vars" -e localbench_build_dir="$build_dir")" || { echo "$out"; fail "check mode failed"; }
    echo "$out" | tail -n 3
    echo "$out" | grep -Eq 'localhost +: ok=[0-9]+ +changed=[0-9]+ +unreachable=0 +failed=0' ||
      fail "check mode reported failures"
    ;;
  render)
    work="$(mktemp -d /tmp/localbench-deploy.XXXXXX)"
    chmod 755 "$work"
    pgdir="$work/pg"
    collector_pid=""
    cleanup() {
      [ -n "$collector_pid" ] && kill -TERM "$collector_pid" 2>/dev/null && wait "$collector_pid" 2>/dev/null
      if [ -f "$pgdir/postmaster.pid" ]; then
        runuser -u postgres -- /usr/lib/postgresql/15/bin/pg_ctl -D "$pgdir" -m immediate stop >/dev/null 2>&1 ||
          /usr/lib/postgresql/15/bin/pg_ctl -D "$pgdir" -m immediate stop >/dev/null 2>&1 || true
      fi
      rm -rf "$work"
    }
    trap cleanup EXIT
    as_pg() { if [ "$(id -u)" -eq 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi; }
    pg_owner="$(id -un)"; [ "$(id -u)" -eq 0 ] && pg_owner=postgres
    free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
    pg_port="$(free_port)"
    backup_dir="$work/backups"
    sock="$work/sock"
    mkdir -p "$backup_dir" "$pgdir" "$sock"
    chown "$pg_owner" "$backup_dir" "$pgdir" "$sock"
    extra=(-e @"$test_vars" -e render_dir="$work/rendered" -e localbench_db_port="$pg_port"
           -e postgresql_port="$pg_port" -e postgresql_backup_dir="$backup_dir"
           -e localbench_collector_listen=127.0.0.1:0 -e localbench_collector_http_listen=127.0.0.1:0)

    # 1. Render twice: the second run must change nothing.
    ansible-playbook -i "$inventory" "$here/render.yml" "${extra[@]}" >/dev/null
    second="$(ansible-playbook -i "$inventory" "$here/render.yml" "${extra[@]}")"
    echo "$second" | grep -Eq 'changed=0 ' || { echo "$second"; fail "rendering is not idempotent"; }
    r="$work/rendered"

    # 2. Each rendered file checked by what reads it.
    "$collector" --config "$r/collector.conf" --check-config || fail "collector rejected its rendered configuration"
    sed 's/^db-connections = .*/db-connections = banana/' "$r/collector.conf" >"$work/bad.conf"
    grep -q '^db-connections = banana' "$work/bad.conf" || fail "could not break the configuration"
    if "$collector" --config "$work/bad.conf" --check-config 2>/dev/null; then
      fail "--check-config accepted an invalid configuration"
    fi
    haproxy -c -f "$r/haproxy.cfg" >/dev/null || fail "haproxy rejected its rendered configuration"
    for unit in localbench-collector.service localbench-agent.service localbench-agent.timer \
                localbench-backup.service localbench-backup.timer; do
      # Only the unit's own syntax: binaries and users do not exist here.
      out="$(systemd-analyze verify --man=no "$r/$unit" 2>&1 || true)"
      if echo "$out" | grep -E "Unknown (key|section)|Failed to parse|Invalid" >/dev/null; then
        echo "$out"; fail "systemd rejects $unit"
      fi
    done
    sh -n "$r/localbench-backup.sh" && sh -n "$r/localbench-agent-idle.sh"
    sh "$r/localbench-agent-idle.sh" >/dev/null || fail "idle check says busy on a machine without GPUs"

    # 3. A throwaway PostgreSQL over TCP with the rendered role and password.
    as_pg /usr/lib/postgresql/15/bin/initdb -D "$pgdir" -A trust -U postgres >/dev/null
    cp "$r/localbench.conf" "$pgdir/conf.d.localbench.conf"
    sed -i -e "s/^listen_addresses.*/listen_addresses = '127.0.0.1'/" \
           -e "s/^shared_buffers.*/shared_buffers = 32MB/" -e "s/^effective_cache_size.*/effective_cache_size = 64MB/" \
           "$pgdir/conf.d.localbench.conf"
    echo "include 'conf.d.localbench.conf'" >>"$pgdir/postgresql.conf"
    # The rendered pg_hba with a superuser line for this test's set-up.
    { echo "local all postgres trust"; grep -v '^local' "$r/pg_hba.conf"; } >"$pgdir/pg_hba.conf"
    chown "$pg_owner" "$pgdir"/*.conf
    as_pg /usr/lib/postgresql/15/bin/pg_ctl -D "$pgdir" -o "-k $sock -p $pg_port" -l "$pgdir/server.log" -w start >/dev/null ||
      { cat "$pgdir/server.log"; fail "PostgreSQL did not start"; }
    psql_pg() { as_pg psql -h "$sock" -p "$pg_port" -U postgres -v ON_ERROR_STOP=1 -qAt "$@"; }
    psql_pg -c "CREATE ROLE localbench LOGIN PASSWORD 'test-only-password-0123456789'" postgres
    psql_pg -c "CREATE DATABASE localbench OWNER localbench" postgres

    # 4. The collector unit's commands, as systemd would run them.
    exec_line() { sed -n "s/^$1=//p" "$r/localbench-collector.service" |
                  sed "s#/usr/local/bin/localbench-collector#$collector#; s#/etc/localbench/collector.conf#$r/collector.conf#"; }
    pre="$(exec_line ExecStartPre)"; start="$(exec_line ExecStart)"
    $pre || fail "ExecStartPre (migrate) failed"
    $start >"$work/collector.log" 2>&1 &
    collector_pid=$!
    http=""
    for _ in $(seq 1 300); do
      http="$(sed -n 's/^localbench-collector: http listening on \([^ ]*\).*/\1/p' "$work/collector.log" | head -n1)"
      [ -n "$http" ] && break
      kill -0 "$collector_pid" 2>/dev/null || { cat "$work/collector.log"; fail "collector exited"; }
      sleep 0.1
    done
    [ -n "$http" ] || { cat "$work/collector.log"; fail "collector did not report its HTTP address"; }
    code="$(curl -s -o "$work/healthz" -w '%{http_code}' "http://$http/healthz")"
    [ "$code" = 200 ] || { cat "$work/healthz"; fail "/healthz answered $code"; }
    kill -TERM "$collector_pid"; wait "$collector_pid" || fail "collector did not stop cleanly on SIGTERM"
    collector_pid=""

    # 5. The nightly backup script, as its unit's user would run it.
    sed -i "s#^pg_dump #pg_dump --host=$sock #" "$r/localbench-backup.sh"
    # The rendered files are private to this test's user: hand the script over.
    install -m 0755 -o "$pg_owner" "$r/localbench-backup.sh" "$sock/localbench-backup"
    as_pg sh "$sock/localbench-backup" || fail "backup script failed"
    dump="$(ls "$backup_dir"/localbench-*.dump)"
    listing="$(as_pg pg_restore --list "$dump")"
    grep -q "TABLE public submissions" <<<"$listing" || fail "backup lacks the submissions table"
    echo "deploy render: rendered, validated, idempotent; collector served /healthz; backup $(basename "$dump") restorable"
    ;;
  *)
    fail "unknown mode $mode"
    ;;
esac
