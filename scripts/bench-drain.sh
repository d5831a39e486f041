#!/usr/bin/env bash
# Measures how fast a disk-buffer backlog drains: the drain benchmark of
# host/src/deliver/drain.rs, in a release build, writes one hour of 5 s cycles
# for 200 clusters in the buffer's format, then drains it through idic's queues,
# writers and sink pool into the discard plugin while every cluster pushes a new
# cycle every 5 s; fails unless that is at least 10x faster than real time.
# With --influxdb it then drains a smaller backlog into a real influxd (from
# Debian's package, on loopback, data in a temporary folder) through the
# influxdb plugin. Figures and method: docs/PERFORMANCE.md.
#
#   scripts/bench-drain.sh [--clusters N] [--cycles N] [--influxdb [N]]
set -euo pipefail
cd "$(dirname "$0")/.."
clusters=200 cycles=720 influx_clusters=
while [ $# -gt 0 ]; do
    case $1 in
    --clusters) clusters=$2; shift 2 ;;
    --cycles) cycles=$2; shift 2 ;;
    --influxdb)
        influx_clusters=20
        if [ $# -gt 1 ] && [ "${2#-}" = "$2" ]; then influx_clusters=$2; shift; fi
        shift ;;
    *) echo "usage: $0 [--clusters N] [--cycles N] [--influxdb [CLUSTERS]]" >&2; exit 2 ;;
    esac
done
target=${CARGO_TARGET_DIR:-target}
cargo build --quiet --release -p idic-discard -p idic-influxdb
bench() { cargo test --quiet --release -p idic --lib deliver::drain -- --nocapture 2>&1 | grep -E '^(backlog|drained)'; }

echo "== discard: $clusters clusters x $cycles cycles"
out=$(IDIC_BENCH_DRAIN="${clusters}x${cycles}" IDIC_BENCH_PLUGIN="$target/release/libdiscard.so" bench)
echo "$out"
factor=$(echo "$out" | sed -n 's/.* \([0-9.]*\)x real time.*/\1/p')
status=0
awk -v f="$factor" 'BEGIN { exit !(f >= 10) }' || { echo "FAIL: $factor x real time, below 10x" >&2; status=1; }

if [ -n "$influx_clusters" ]; then
    command -v influxd >/dev/null || { echo "influxd missing: sh scripts/test-deps.sh" >&2; exit 2; }
    work=$(mktemp -d)
    pids=()
    trap 'kill "${pids[@]}" 2>/dev/null; wait 2>/dev/null; rm -rf "$work"' EXIT
    read -r port rpc < <(python3 scripts/bench-sim.py free-ports 2 | paste -sd' ')
    # shellcheck source=scripts/influxd.sh
    . scripts/influxd.sh
    influxd_start "$work" "$port" "$rpc" bench || exit 1
    echo "== influxdb (influxd $(influxd version 2>/dev/null | awk '{print $2}')): $influx_clusters clusters x $cycles cycles"
    IDIC_BENCH_DRAIN="${influx_clusters}x${cycles}" IDIC_BENCH_PLUGIN="$target/release/libinfluxdb.so" \
        IDIC_BENCH_PLUGIN_CONFIG="host = \"127.0.0.1\"
port = \"$port\"
database = \"bench\"
authenticated = false" bench
fi
exit $status
