#!/bin/sh
# `make run`: start two simulated OneFS clusters and idic against them, printing
# every collected point as a JSON line until Ctrl-C. Needs only `make` (dist/).
# Ports: DEMO_PORT (default 18081) and DEMO_PORT + 1.
set -eu
cd "$(dirname "$0")/.."
port1=${DEMO_PORT:-18081}
port2=$((port1 + 1))
work=$(mktemp -d)
sim_pid=""
cleanup() {
    [ -n "$sim_pid" ] && kill "$sim_pid" 2>/dev/null
    rm -rf "$work"
}
trap cleanup EXIT INT TERM

dist/onefs-sim --cluster "DemoCluster:$port1" --cluster "OtherCluster:$port2" \
    --ca-cert-out "$work/ca.pem" >"$work/sim.out" 2>&1 &
sim_pid=$!
i=0
until [ "$(grep -c '^listening' "$work/sim.out" 2>/dev/null)" = 2 ]; do
    i=$((i + 1))
    if [ $i -gt 100 ] || ! kill -0 "$sim_pid" 2>/dev/null; then
        echo "demo: onefs-sim did not start:" >&2
        cat "$work/sim.out" >&2
        exit 1
    fi
    sleep 0.1
done
cat "$work/sim.out" >&2
sed -e "s|@PORT1@|$port1|" -e "s|@PORT2@|$port2|" -e "s|@CA@|$work/ca.pem|" \
    scripts/demo.toml >"$work/idic.toml"
echo "demo: idic -config-file $work/idic.toml (points below as JSON lines; Ctrl-C stops)" >&2
dist/idic -config-file "$work/idic.toml" --plugin-dir dist/plugins
