#!/bin/sh
# The 225 000-series load end to end: onefs-sim (8 nodes, summary answers of
# 8000 rows each) -> the release idic with the prometheus plugin (summary
# statistics protocol, client and drive on, plus gostats' example stat groups
# from idic.toml.example) -> curl, a separate client process. Prints idic's
# memory and the scrape times (median of the scrapes that got the whole body:
# a scrape that falls between a 5 s summary cycle's expiry and its refresh gets
# a smaller one), plain and gzip, and the page faults a scrape costs idic.
#
#   cargo build --release -p idic -p idic-prometheus -p onefs-sim
#   sh plugins/prometheus/scripts/summary-load.sh [scrapes]
#
# Ports: LOAD_PORT (default 18181) for the simulator and the next one for
# /metrics. Needs curl. With SINK=discard (after `cargo build --release -p
# idic-discard`) the same collection goes to the discard sink instead: idic's
# memory without the prometheus plugin, for comparison. PLUGIN=FILE loads that
# build of the plugin (an older one, to compare).
set -eu
cd "$(dirname "$0")/../../.."
sink=${SINK:-prometheus}
bin=${CARGO_TARGET_DIR:-target}/release
case $bin in /*) ;; *) bin=$PWD/$bin ;; esac
scrapes=${1:-31}
sim_port=${LOAD_PORT:-18181}
prom_port=$((sim_port + 1))
work=$(mktemp -d)
sim_pid=""
idic_pid=""
cleanup() {
    [ -n "$idic_pid" ] && kill "$idic_pid" 2>/dev/null && wait "$idic_pid" 2>/dev/null
    [ -n "$sim_pid" ] && kill "$sim_pid" 2>/dev/null
    rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 1' INT TERM

"$bin/onefs-sim" --cluster "load:$sim_port:8" --summary-rows 8000 \
    --ca-cert-out "$work/ca.pem" --log-level warn >"$work/sim.out" 2>&1 &
sim_pid=$!
until grep -q '^listening' "$work/sim.out" 2>/dev/null; do sleep 0.1; done

mkdir "$work/plugins"
ln -s "${PLUGIN:-$bin/lib$sink.so}" "$work/plugins/lib$sink.so"
{
    sed -n '/^\[global\]/,/^\]/p' idic.toml.example |
        sed "s/^stats_processor = .*/stats_processor = \"$sink\"/"
    cat <<TOML
[logging]
logfile = "$work/idic.log"
log_level = "WARN"
[summary_stats]
protocol = true
client = true
drive = true
[[cluster]]
hostname = "127.0.0.1"
port = $sim_port
username = "statsreader"
password = "s3kret"
ca_cert = "$work/ca.pem"
prometheus_port = $prom_port
TOML
    sed -n '/^\[\[statgroup\]\]/,$p' idic.toml.example
} >"$work/idic.toml"
"$bin/idic" -config-file "$work/idic.toml" --plugin-dir "$work/plugins" &
idic_pid=$!

rss() { awk '/^VmRSS|^VmHWM/ {printf "%s %.1f MB  ", $1, $2 / 1024}' "/proc/$idic_pid/status"; echo; }
# idic's RSS every 2 s for 40 s: the smallest, the median and the largest,
# and its peak so far.
settled() {
    for _ in $(seq 20); do
        awk '/^VmRSS/ {print $2 / 1024}' "/proc/$idic_pid/status"
        sleep 2
    done | sort -n | awk '{a[NR] = $1} END {printf "RSS %.0f / %.0f / %.0f MB (least / median / most over 40 s)", a[1], a[int((NR + 1) / 2)], a[NR]}'
    awk '/^VmHWM/ {printf ", peak %.0f MB\n", $2 / 1024}' "/proc/$idic_pid/status"
}
if [ "$sink" != prometheus ]; then
    sleep 20
    echo "idic with the $sink sink: $(settled)"
    exit 0
fi
url="http://127.0.0.1:$prom_port/metrics"
series() { curl -sf "$url" 2>/dev/null | grep -vc '^#' || true; }
# Wait for every kind of summary and two more cycles, so memory has settled.
i=0
until curl -sf "$url" 2>/dev/null | grep -q '^isilon_stat_node_summary_drive_busy'; do
    i=$((i + 1))
    [ $i -gt 600 ] && { echo "no summary samples after 60 s; see $work/idic.log" >&2; exit 1; }
    kill -0 "$idic_pid" 2>/dev/null || { echo "idic stopped" >&2; exit 1; }
    sleep 0.1
done
# idic's minor page faults (the 10th field of its stat line) and a clock: the
# collection's own rate is measured over these 10 s, then taken off the
# scrapes' count. Page faults, unlike times, do not depend on the machine's load.
faults() { awk '{print $10}' "/proc/$idic_pid/stat"; }
clock() { date +%s.%N; }
f0=$(faults) c0=$(clock)
sleep 10
idle_rate=$(awk "BEGIN {print ($(faults) - $f0) / ($(clock) - $c0)}")
echo "series: $(series)"
echo "idic after collecting, before the timed scrapes: $(rss)"
timed() {
    for _ in $(seq "$scrapes"); do
        curl -s -o /dev/null -w '%{time_total} %{size_download}\n' "$@" "$url"
    done | sort -n | awk '{t[NR] = $1; s[NR] = $2; if ($2 > max) max = $2}
        END {for (i = 1; i <= NR; i++) if (s[i] >= max * 0.99) a[++k] = t[i];
             printf "median %.1f ms, fastest %.1f, slowest %.1f (%d of %d scrapes whole, %.1f MB sent)\n",
                 a[int((k + 1) / 2)] * 1000, a[1] * 1000, a[k] * 1000, k, NR, max / 1e6}'
}
# The median scrape, and idic's minor page faults a scrape.
measured() {
    f0=$(faults) c0=$(clock)
    result=$(timed "$@")
    per=$(awk "BEGIN {printf \"%d\", (($(faults) - $f0) - $idle_rate * ($(clock) - $c0)) / $scrapes}")
    echo "$result; $per minor page faults a scrape"
}
echo "plain: $(measured)"
echo "gzip (as Prometheus asks; curl unpacks): $(measured --compressed)"
echo "idic after the scrapes: $(rss)"
echo "idic, nothing scraping: $(settled)"
