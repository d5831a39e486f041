#!/bin/sh
# `make run`: start two simulated OneFS clusters and idic against them with the
# prometheus sink, print the URLs to open and a sample of what is served, and run
# until Ctrl-C. Needs only `make` (dist/): no cluster, database or network.
# Ports: DEMO_PORT (default 18081) and the next four.
set -eu
cd "$(dirname "$0")/.."
port1=${DEMO_PORT:-18081}
port2=$((port1 + 1))
prom1=$((port1 + 2))
prom2=$((port1 + 3))
sd=$((port1 + 4))
work=$(mktemp -d)
sim_pid=""
idic_pid=""
cleanup() {
    [ -n "$idic_pid" ] && kill "$idic_pid" 2>/dev/null && wait "$idic_pid" 2>/dev/null
    [ -n "$sim_pid" ] && kill "$sim_pid" 2>/dev/null
    rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 0' INT TERM

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
cat "$work/sim.out"
sed -e "s|@PORT1@|$port1|" -e "s|@PORT2@|$port2|" -e "s|@PROM1@|$prom1|" \
    -e "s|@PROM2@|$prom2|" -e "s|@SD@|$sd|" -e "s|@CA@|$work/ca.pem|" \
    scripts/demo.toml >"$work/idic.toml"
echo "demo: dist/idic -config-file $work/idic.toml"
dist/idic -config-file "$work/idic.toml" --plugin-dir dist/plugins &
idic_pid=$!

command -v curl >/dev/null || { echo "demo: (curl is not installed: no sample below)"; wait "$idic_pid"; }
i=0
until curl -sf "http://127.0.0.1:$prom1/metrics" 2>/dev/null | grep -q '^isilon_stat'; do
    i=$((i + 1))
    if [ $i -gt 300 ] || ! kill -0 "$idic_pid" 2>/dev/null; then
        echo "demo: idic is not serving metrics yet; see its log above" >&2
        break
    fi
    sleep 0.1
done
cat <<MSG

demo: open these in a browser or with curl (Ctrl-C stops everything):
  http://127.0.0.1:$prom1/          democluster: landing page
  http://127.0.0.1:$prom1/metrics   democluster: metrics
  http://127.0.0.1:$prom2/metrics   othercluster: metrics
  http://127.0.0.1:$sd/            Prometheus HTTP service discovery
demo: a sample of http://127.0.0.1:$prom1/metrics:
MSG
curl -sf "http://127.0.0.1:$prom1/metrics" 2>/dev/null | grep -E '^isilon_stat_(cluster_cpu_idle_avg|cluster_protostats_nfs_total_op_rate|node_load_1min)' | head -n 8 || true
echo
wait "$idic_pid"
