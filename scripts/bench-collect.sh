#!/bin/sh
# Measures idic itself: CPU and memory while it collects the example config's 116
# statistics from N simulated 4-node clusters (default 200) every 5 s into the
# discard plugin, for S seconds (default 60). Prints the figures; changes nothing.
# Needs `make` first (dist/). Usage: scripts/bench-collect.sh [CLUSTERS] [SECONDS]
set -eu
cd "$(dirname "$0")/.."
n=${1:-200}
secs=${2:-60}
base=${BENCH_PORT:-19000}
work=$(mktemp -d)
sim_pid=""
idic_pid=""
cleanup() {
    [ -n "$idic_pid" ] && kill "$idic_pid" 2>/dev/null
    [ -n "$sim_pid" ] && kill "$sim_pid" 2>/dev/null
    rm -rf "$work"
}
trap cleanup EXIT INT TERM

dist/onefs-sim --clusters "$n" --base-port "$base" --ca-cert-out "$work/ca.pem" >"$work/sim.out" 2>&1 &
sim_pid=$!
i=0
until [ "$(grep -c '^listening' "$work/sim.out" 2>/dev/null)" = "$n" ]; do
    i=$((i + 1))
    [ $i -le 300 ] && kill -0 "$sim_pid" 2>/dev/null || { cat "$work/sim.out" >&2; exit 1; }
    sleep 0.1
done

# The example config: its stat groups, the discard sink, the simulated clusters.
sed -n '1,/^\[\[cluster\]\]/p' idic.toml.example | sed '$d' \
    | sed -e 's/^stats_processor = .*/stats_processor = "discard"/' -e 's/^logfile = .*//' >"$work/idic.toml"
p=0
while [ $p -lt "$n" ]; do
    printf '[[cluster]]\nhostname = "127.0.0.1"\nport = %d\nusername = "statsreader"\npassword = "s3kret"\nca_cert = "%s"\n\n' \
        $((base + p)) "$work/ca.pem" >>"$work/idic.toml"
    p=$((p + 1))
done
sed -n '/^\[summary_stats\]/,$p' idic.toml.example >>"$work/idic.toml"

dist/idic -config-file "$work/idic.toml" --plugin-dir dist/plugins -loglevel WARNING 2>"$work/idic.log" &
idic_pid=$!
sleep 15 # connect and read metadata of every cluster before measuring
ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }
hz=$(getconf CLK_TCK)
t0=$(ticks $idic_pid)
s0=$(ticks $sim_pid)
sleep "$secs"
t1=$(ticks $idic_pid)
s1=$(ticks $sim_pid)
rss=$(awk '/VmRSS/ {print $2}' "/proc/$idic_pid/status")
hwm=$(awk '/VmHWM/ {print $2}' "/proc/$idic_pid/status")
threads=$(awk '/Threads/ {print $2}' "/proc/$idic_pid/status")
polls=$(curl -sk "https://127.0.0.1:$base/sim/counters" | grep -o '"/platform/1/statistics/current":[0-9]*' | cut -d: -f2 || echo "?")
echo "clusters: $n x 4 nodes, 116 keys each, every 5 s, ${secs} s measured"
echo "idic CPU: $(awk -v a="$t0" -v b="$t1" -v h="$hz" -v s="$secs" 'BEGIN {printf "%.1f%% of one core", (b - a) / h / s * 100}')"
echo "idic memory: RSS $((rss / 1024)) MiB (peak $((hwm / 1024)) MiB), $threads threads"
echo "onefs-sim CPU: $(awk -v a="$s0" -v b="$s1" -v h="$hz" -v s="$secs" 'BEGIN {printf "%.1f%% of one core", (b - a) / h / s * 100}')"
echo "first cluster: $polls statistics requests so far"
errors=$(grep -c ERROR "$work/idic.log" || true)
echo "idic errors logged: $errors"
