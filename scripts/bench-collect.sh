#!/usr/bin/env bash
# Measures a collector under a simulated load: CPU, memory, threads, errors and
# missed cycles of dist/idic (and of gostats beside it, with --gostats) while it
# collects the example config's statistics from simulated OneFS clusters. Prints
# the figures; changes nothing outside a temporary folder. Method and standard
# runs: docs/PERFORMANCE.md. Run `scripts/bench-collect.sh --help`.
set -euo pipefail
cd "$(dirname "$0")/.."
repo=$PWD

usage() {
    cat <<'EOF'
Usage: scripts/bench-collect.sh [OPTIONS] [CLUSTERS [SECONDS]]

Starts onefs-sim with simulated clusters, runs dist/idic against them with the
example config's stat groups (idic.toml.example), waits until every healthy
cluster has been polled, then measures for --seconds and prints:
CPU (% of one core and CPU-seconds), RSS and peak RSS (VmHWM), threads (now and
the most seen, sampled every second), errors logged, and missed cycles (from
each healthy cluster's request log in the simulator, against the schedule the
config calls for).

Options:
  --clusters N      healthy simulated clusters (default 200; 20 with --gostats)
  --nodes N         nodes per cluster (default 4; 3 with --gostats)
  --seconds S       measured time in seconds (default 60)
  --interval S      min_update_interval_override: no statistic more often than
                    every S seconds; the simulator's keys update every 5 s (some
                    10, 15, 30 s), so the default 5 polls them at their own pace
  --sink NAME       discard (default; influxdb with --gostats), influxdb (a real
                    influxd from Debian's package, on loopback, data in the temp
                    folder) or prometheus (each cluster gets a prometheus_port)
  --refusing N      N more clusters on ports that refuse connections (bound, no
                    listener)
  --hanging N       N more clusters on ports that accept TCP and never answer
                    (a python3 listener that never accepts)
  --gostats PATH    side by side: run gostats (PATH) and idic at the same time,
                    each in its own network namespace (needs root) with its own
                    simulator processes and influxd, the same config file
  --buffer KIND     add [delivery] buffer = "KIND" (disk or memory) to the
                    config; without it each sink's default applies (the
                    InfluxDB plugins buffer on disk, under idic-state/ in the
                    temporary folder)
  --quotas S        add [quotas] enabled = true, interval = S, every quota type
                    (the simulator lists 24 quotas per cluster: one request per
                    type, six per cluster every S seconds)
  --backfill-max S  set [global] backfill_max = S (0 turns history backfill
                    off; without it the default applies)
  --idic-only       ignore $GOSTATS
  -h, --help        this help
CLUSTERS and SECONDS, as in the script's first version, are --clusters and
--seconds.

Environment:
  GOSTATS=PATH      as --gostats PATH
  IDIC=PATH         the idic binary (default dist/idic; plugins from dist/plugins)
  BENCH_WARMUP=S    longest wait for every cluster's first poll (default 300)
  BENCH_KEEP=1      keep the temporary folder (configs, logs) and print its path

Examples:
  make && scripts/bench-collect.sh --clusters 1000 --seconds 60
  scripts/bench-collect.sh --clusters 3 --refusing 300 --hanging 300
  GOSTATS=/tmp/gostats/gostats scripts/bench-collect.sh
EOF
}

die() {
    echo "bench: $*" >&2
    exit 1
}
say() { echo "bench: $*" >&2; }

clusters="" nodes="" seconds=60 interval=5 sink="" refusing=0 hanging=0 buffer="" quotas="" backfill_max=""
gostats=${GOSTATS:-}
while [ $# -gt 0 ]; do
    case $1 in
    --clusters | --nodes | --seconds | --interval | --sink | --refusing | --hanging | --gostats | --buffer | --quotas | --backfill-max)
        [ $# -ge 2 ] || die "$1 needs a value" ;;
    esac
    case $1 in
    --clusters) clusters=$2 && shift ;;
    --nodes) nodes=$2 && shift ;;
    --seconds) seconds=$2 && shift ;;
    --interval) interval=$2 && shift ;;
    --sink) sink=$2 && shift ;;
    --refusing) refusing=$2 && shift ;;
    --hanging) hanging=$2 && shift ;;
    --gostats) gostats=$2 && shift ;;
    --buffer) buffer=$2 && shift ;;
    --quotas) quotas=$2 && shift ;;
    --backfill-max) backfill_max=$2 && shift ;;
    --idic-only) gostats="" ;;
    -h | --help) usage && exit 0 ;;
    [0-9]*) [ -z "$clusters" ] && clusters=$1 || seconds=$1 ;;
    *) usage >&2 && die "unknown option $1" ;;
    esac
    shift
done
if [ -n "$gostats" ]; then
    clusters=${clusters:-20} nodes=${nodes:-3} sink=${sink:-influxdb}
else
    clusters=${clusters:-200} nodes=${nodes:-4} sink=${sink:-discard}
fi
for v in clusters nodes seconds interval refusing hanging; do
    case ${!v} in '' | *[!0-9]*) die "--$v needs a whole number, not '${!v}'" ;; esac
done
[ "$clusters" -ge 1 ] && [ "$seconds" -ge 1 ] && [ "$interval" -ge 1 ] || die "--clusters, --seconds and --interval must be at least 1"
case $sink in discard | influxdb | prometheus) ;; *) die "--sink must be discard, influxdb or prometheus" ;; esac
case $buffer in '' | disk | memory) ;; *) die "--buffer must be disk or memory" ;; esac
idic=${IDIC:-$repo/dist/idic}
[ -x "$idic" ] && [ -x "$repo/dist/onefs-sim" ] || die "dist/idic or dist/onefs-sim missing: run make first"
command -v python3 >/dev/null || die "python3 is needed (scripts/bench-sim.py)"
if [ "$sink" = influxdb ]; then
    command -v influxd >/dev/null || die "influxd missing: apt-get install -y --no-install-recommends influxdb (or sh scripts/test-deps.sh)"
fi
if [ -n "$gostats" ]; then
    [ -x "$gostats" ] || die "gostats binary $gostats is not executable"
    [ "$refusing" = 0 ] && [ "$hanging" = 0 ] || die "--refusing/--hanging are not supported side by side with gostats"
    [ "$(id -u)" = 0 ] || die "the side-by-side run needs root: gostats only talks to port 8080, so each collector gets its own network namespace (unshare)"
    [ "$clusters" -le 40000 ] || die "--clusters: at most 40000 side by side"
fi

helper() { python3 "$repo/scripts/bench-sim.py" "$@"; }
# shellcheck source=scripts/influxd.sh
. "$repo/scripts/influxd.sh"
hz=$(getconf CLK_TCK)
work=$(mktemp -d /tmp/idic-bench.XXXXXX)
pids=() # everything started here, stopped by PID on exit
cleanup() {
    local i
    for ((i = ${#pids[@]} - 1; i >= 0; i--)); do kill "${pids[i]}" 2>/dev/null || true; done
    wait 2>/dev/null || true
    if [ "${BENCH_KEEP:-}" = 1 ]; then say "kept $work"; else rm -rf "$work"; fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM
# Requests each simulated cluster keeps in its log: the whole measured window
# (the example config makes 0.4 requests per second) and the sweeps after it.
request_log=$((seconds * 2 + 128))

# waits until FILE has N "listening" lines (onefs-sim is up), or PID died
wait_listening() {
    local file=$1 n=$2 pid=$3 i=0
    until [ "$(cat "$file" 2>/dev/null | grep -c '^listening')" -ge "$n" ]; do
        i=$((i + 1))
        if [ $i -gt 1200 ] || ! kill -0 "$pid" 2>/dev/null; then
            cat "$file" >&2
            die "onefs-sim did not start"
        fi
        sleep 0.1
    done
}

# The example config's [global], [logging], sink sections and stat groups, with
# SINK, the interval and InfluxDB at HOST:PORT (no logfile: set on the command
# line), without its [[cluster]] tables; then [summary_stats] and the groups.
config_head() {
    local sink=$1 ihost=$2 iport=$3
    sed -n '1,/^\[\[cluster\]\]/p' idic.toml.example | sed '$d' | awk -v sink="$sink" \
        -v interval="$interval" -v ihost="$ihost" -v iport="$iport" -v bmax="$backfill_max" '
        /^\[/ { section = $0 }
        /^stats_processor = / { print "stats_processor = \"" sink "\""; next }
        /^min_update_interval_override = / { print "min_update_interval_override = " interval; next }
        /^logfile = / { next }
        section == "[global]" && /^# backfill_max = / && bmax != "" { print "backfill_max = " bmax; next }
        section == "[influxdb]" && /^host = / { print "host = \"" ihost "\""; next }
        section == "[influxdb]" && /^port = / { print "port = \"" iport "\""; next }
        { print }'
    if [ -n "$buffer" ]; then printf '\n[delivery]\nbuffer = "%s"\n' "$buffer"; fi
    if [ -n "$quotas" ]; then
        printf '\n[quotas]\nenabled = true\ninterval = %d\nquota_types = ["directory", "user", "group", "default-directory", "default-user", "default-group"]\n' "$quotas"
    fi
}
config_tail() { sed -n '/^\[summary_stats\]/,$p' idic.toml.example; }

# sample_threads PID FILE: writes the most threads PID had, checked every second
sample_threads() {
    local pid=$1 file=$2 max=0 t
    echo 0 >"$file"
    while t=$(awk '/^Threads:/ {print $2}' "/proc/$pid/status" 2>/dev/null) && [ -n "$t" ]; do
        [ "$t" -gt "$max" ] && max=$t && echo "$max" >"$file"
        sleep 1
    done
}

ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }
status_kb() { awk -v k="$2:" '$1 == k {print $2}' "/proc/$1/status"; }

# One collector's figures over the window: NAME PID LOG C0 C1 ELAPSED THREADSFILE;
# sets the globals f_cpu f_pct f_rss f_hwm f_thr f_thrmax f_err f_warn
measure() {
    local pid=$2 log=$3 c0=$4 c1=$5 elapsed=$6
    f_cpu=$(awk -v a="$c0" -v b="$c1" -v h="$hz" 'BEGIN {printf "%.2f", (b - a) / h}')
    f_pct=$(awk -v c="$f_cpu" -v s="$elapsed" 'BEGIN {printf "%.1f", c / s * 100}')
    f_rss=$(status_kb "$pid" VmRSS)
    f_hwm=$(status_kb "$pid" VmHWM)
    f_thr=$(status_kb "$pid" Threads)
    f_thrmax=$(cat "$7")
    [ "$f_thr" -gt "$f_thrmax" ] && f_thrmax=$f_thr
    f_err=$(level_count ERROR <"$log")
    f_warn=$(level_count 'WARN(ING)?' <"$log")
}
# lines of a log on stdin at LEVEL: idic writes "ERROR"/"WARN", gostats
# "level=ERROR"/"level=WARN"
level_count() { grep -c -E "(^|[^A-Za-z])$1([^A-Za-z]|\$)" || true; }
# series in the InfluxDB at 127.0.0.1:PORT (the curl runs under PREFIX...)
series() {
    local port=$1
    shift
    "$@" curl -s "http://127.0.0.1:$port/query?db=isi_data_insights" --data-urlencode 'q=SHOW SERIES' |
        python3 -c 'import json, sys; r = json.load(sys.stdin)["results"][0]; print(sum(len(s["values"]) for s in r.get("series", [])))'
}
mib() { awk -v k="$1" 'BEGIN {printf "%.1f", k / 1024}'; }
now() { date +%s.%N; }
# the last word on $rc: 2 = idic missed cycles, other = the check itself failed
verdict() {
    case $rc in
    0) ;;
    2) say "FAILED: idic missed cycles" ;;
    *) say "FAILED: the missed-cycle check did not run (exit $rc)" ;;
    esac
}

if [ -z "$gostats" ]; then
    # ---- idic alone: one onefs-sim process, clusters on free ports -----------
    say "starting onefs-sim: $clusters clusters x $nodes nodes"
    "$repo/dist/onefs-sim" --clusters "$clusters" --nodes "$nodes" --base-port 0 \
        --ca-cert-out "$work/ca.pem" --request-log "$request_log" >"$work/sim.out" 2>&1 &
    sim_pid=$!
    pids+=("$sim_pid")
    wait_listening "$work/sim.out" "$clusters" "$sim_pid"
    sed -n 's|^listening: cluster \([^ ]*\) at https://\([^:]*\):\([0-9]*\).*|\1 \2 \3|p' "$work/sim.out" >"$work/clusters"
    read -r _ ctl_host ctl_port <"$work/clusters"
    awk -v h="$ctl_host" -v p="$ctl_port" -v ca="$work/ca.pem" '{print h, p, $1, ca}' "$work/clusters" >"$work/targets"

    ihost=127.0.0.1 iport=8086
    if [ "$sink" = influxdb ]; then
        read -r iport irpc < <(helper free-ports 2 | paste -sd' ')
        say "starting influxd on 127.0.0.1:$iport"
        influxd_start "$work/influxd" "$iport" "$irpc" isi_data_insights || die "influxd failed"
    fi
    unreachable=$((refusing + hanging))
    if [ "$unreachable" -gt 0 ]; then
        say "holding $refusing refusing and $hanging hanging ports"
        python3 "$repo/scripts/bench-sim.py" hold-ports --refusing "$refusing" --hanging "$hanging" >"$work/ports" &
        pids+=($!)
        until grep -qx ready "$work/ports" 2>/dev/null; do
            kill -0 "${pids[-1]}" 2>/dev/null || die "hold-ports failed"
            sleep 0.1
        done
    fi
    # the clusters' ports: healthy ones, then refusing and hanging ones
    awk '{print $3}' "$work/clusters" >"$work/cluster-ports"
    [ "$unreachable" = 0 ] || awk '$1 != "ready" {print $2}' "$work/ports" >>"$work/cluster-ports"
    if [ "$sink" = prometheus ]; then
        helper free-ports $((clusters + unreachable)) >"$work/prom-ports"
    else
        awk '{print ""}' "$work/cluster-ports" >"$work/prom-ports"
    fi
    {
        config_head "$sink" "$ihost" "$iport"
        paste -d' ' "$work/cluster-ports" "$work/prom-ports" | while read -r port prom; do
            printf '[[cluster]]\nhostname = "127.0.0.1"\nport = %d\nusername = "statsreader"\npassword = "s3kret"\nca_cert = "%s"\n' \
                "$port" "$work/ca.pem"
            [ -z "$prom" ] || printf 'prometheus_port = %d\n' "$prom"
            echo
        done
        config_tail
    } >"$work/idic.toml"

    say "starting idic ($idic)"
    "$idic" -config-file "$work/idic.toml" --plugin-dir "$repo/dist/plugins" -loglevel WARNING 2>"$work/idic.log" &
    idic_pid=$!
    pids+=("$idic_pid")
    say "idic is PID $idic_pid"
    sample_threads "$idic_pid" "$work/threads" &
    pids+=($!)
    started=$(now)
    helper wait-polling "$work/targets" --timeout "${BENCH_WARMUP:-300}" || die "warm-up failed (idic log: $(tail -3 "$work/idic.log"))"
    say "every healthy cluster polled after $(awk -v a="$started" -v b="$(now)" 'BEGIN {printf "%.1f", b - a}') s; settling 5 s, then measuring $seconds s"
    sleep 5
    kill -0 "$idic_pid" 2>/dev/null || die "idic exited: $(tail -5 "$work/idic.log")"
    t0=$(now) c0=$(ticks "$idic_pid") s0=$(ticks "$sim_pid")
    sleep "$seconds"
    t1=$(now) c1=$(ticks "$idic_pid") s1=$(ticks "$sim_pid")
    elapsed=$(awk -v a="$t0" -v b="$t1" 'BEGIN {printf "%.2f", b - a}')
    measure idic "$idic_pid" "$work/idic.log" "$c0" "$c1" "$elapsed" "$work/threads"
    sim_pct=$(awk -v a="$s0" -v b="$s1" -v h="$hz" -v s="$elapsed" 'BEGIN {printf "%.1f", (b - a) / h / s * 100}')
    healthy_err=0
    if [ "$unreachable" -gt 0 ]; then
        # a healthy cluster is named by its name or its address
        healthy_err=$(grep -E '(^|[^A-Za-z])(ERROR|WARN)' "$work/idic.log" |
            grep -ciwF -f <(awk '{print $1; print $2 ":" $3}' "$work/clusters") || true)
    fi

    echo "load: $clusters clusters x $nodes nodes (+ $refusing refusing, $hanging hanging), sink $sink, interval $interval s, $elapsed s measured"
    echo "idic CPU: $f_pct% of one core ($f_cpu CPU-seconds)"
    echo "idic memory: RSS $(mib "$f_rss") MiB, peak (VmHWM) $(mib "$f_hwm") MiB"
    echo "idic threads: $f_thr now, $f_thrmax most seen"
    if [ "$unreachable" -gt 0 ]; then
        echo "idic errors logged: $f_err, warnings $f_warn ($healthy_err of them naming a healthy cluster)"
    else
        echo "idic errors logged: $f_err, warnings $f_warn"
    fi
    echo "onefs-sim CPU: $sim_pct% of one core"
    rc=0
    helper missed "$work/targets" --config "$work/idic.toml" --t0 "$t0" --t1 "$t1" || rc=$?
    if [ "$sink" = prometheus ]; then
        p=$(head -n1 "$work/prom-ports")
        echo "prometheus: /metrics of $(head -n1 "$work/clusters" | cut -d' ' -f1) serves $(curl -s "http://127.0.0.1:$p/metrics" | grep -vc '^#' || true) samples"
    fi
    if [ "$sink" = influxdb ]; then
        echo "influxdb: $(series "$iport") series written"
    fi
    verdict
    exit "$rc"
fi

# ---- side by side: gostats and idic at once, in two network namespaces ------
# gostats 0.39 always connects to port 8080, so every cluster needs an address
# of its own: cluster k is 127.1.X.Y:8080, served by its own onefs-sim process.
# Each collector runs in a network namespace of its own (unshare), with its own
# simulator processes and its own influxd on 127.0.0.1:8086, and reads the same
# config file; ca_cert paths are relative to its working folder (its world).
addr_of() { echo "127.1.$(($1 / 200)).$(($1 % 200 + 1))"; }
say "side by side: $clusters clusters x $nodes nodes, sink $sink, $seconds s; idic=$idic gostats=$gostats"
{
    config_head "$sink" 127.0.0.1 8086
    for ((k = 1; k <= clusters; k++)); do
        printf '[[cluster]]\nhostname = "%s"\nusername = "statsreader"\npassword = "s3kret"\nca_cert = "ca/%d.pem"\n' "$(addr_of "$k")" "$k"
        [ "$sink" = prometheus ] && printf 'prometheus_port = %d\n' $((20000 + k))
        echo
    done
    config_tail
} >"$work/bench.toml"

declare -A ns_of pid_of
for who in idic gostats; do
    world=$work/$who
    mkdir -p "$world/ca" "$world/sim"
    unshare --net sleep 1000000 &
    pids+=($!)
    ns_of[$who]=/proc/$!/ns/net
    # unshare execs sleep once the namespace exists: until then $! is in ours
    until [ "$(readlink "${ns_of[$who]}")" != "$(readlink /proc/self/ns/net)" ]; do sleep 0.05; done
    ns=(nsenter "--net=${ns_of[$who]}")
    "${ns[@]}" ip link set lo up
    say "$who: starting $clusters onefs-sim processes"
    sims=()
    for ((k = 1; k <= clusters; k++)); do
        "${ns[@]}" "$repo/dist/onefs-sim" --bind "$(addr_of "$k")" --cluster "SimCluster$k:8080:$nodes" \
            --ca-cert-out "$world/ca/$k.pem" --request-log "$request_log" >"$world/sim/$k.out" 2>&1 &
        sims+=($!)
        echo "$(addr_of "$k") 8080 SimCluster$k $world/ca/$k.pem" >>"$world/targets"
    done
    pids+=("${sims[@]}")
    for ((k = 1; k <= clusters; k++)); do
        wait_listening "$world/sim/$k.out" 1 "${sims[k - 1]}"
    done
    if [ "$sink" = influxdb ]; then
        influxd_start "$world/influxd" 8086 8088 isi_data_insights "${ns[@]}" || die "influxd failed"
    fi
done

for who in idic gostats; do
    ns=(nsenter "--net=${ns_of[$who]}")
    if [ "$who" = idic ]; then
        cmd=("$idic" -config-file "$work/bench.toml" --plugin-dir "$repo/dist/plugins")
    else
        cmd=("$gostats" -config-file "$work/bench.toml")
    fi
    say "starting $who"
    (cd "$work/$who" && exec "${ns[@]}" "${cmd[@]}" -logfile collector.log -loglevel WARNING >stdout.log 2>&1) &
    pid_of[$who]=$!
    pids+=($!)
    say "$who is PID $!"
    sample_threads "$!" "$work/$who/threads" &
    pids+=($!)
done
started=$(now)
for who in idic gostats; do
    nsenter "--net=${ns_of[$who]}" python3 "$repo/scripts/bench-sim.py" wait-polling "$work/$who/targets" \
        --timeout "${BENCH_WARMUP:-300}" || die "$who warm-up failed: $(tail -3 "$work/$who/collector.log" "$work/$who/stdout.log")"
done
say "every cluster polled by both after $(awk -v a="$started" -v b="$(now)" 'BEGIN {printf "%.1f", b - a}') s; settling 5 s, then measuring $seconds s"
sleep 5
for who in idic gostats; do
    kill -0 "${pid_of[$who]}" 2>/dev/null || die "$who exited: $(tail -5 "$work/$who/collector.log" "$work/$who/stdout.log")"
done
t0=$(now) i0=$(ticks "${pid_of[idic]}") g0=$(ticks "${pid_of[gostats]}")
sleep "$seconds"
t1=$(now) i1=$(ticks "${pid_of[idic]}") g1=$(ticks "${pid_of[gostats]}")
elapsed=$(awk -v a="$t0" -v b="$t1" 'BEGIN {printf "%.2f", b - a}')
measure idic "${pid_of[idic]}" "$work/idic/collector.log" "$i0" "$i1" "$elapsed" "$work/idic/threads"
i_cpu=$f_cpu i_pct=$f_pct i_rss=$f_rss i_hwm=$f_hwm i_thr=$f_thr i_thrmax=$f_thrmax i_err=$f_err i_warn=$f_warn
measure gostats "${pid_of[gostats]}" "$work/gostats/collector.log" "$g0" "$g1" "$elapsed" "$work/gostats/threads"
g_cpu=$f_cpu g_pct=$f_pct g_rss=$f_rss g_hwm=$f_hwm g_thr=$f_thr g_thrmax=$f_thrmax g_err=$f_err g_warn=$f_warn
ratio() { awk -v a="$1" -v b="$2" 'BEGIN {if (b > 0) printf "%.2f", a / b; else print "-"}'; }

echo "load: $clusters clusters x $nodes nodes each, sink $sink, interval $interval s, $elapsed s measured, both at once"
echo "gostats: $("$gostats" -version 2>&1 | head -n1)"
printf '%-22s %12s %12s %14s\n' "" idic gostats idic/gostats
printf '%-22s %12s %12s %14s\n' "CPU-seconds" "$i_cpu" "$g_cpu" "$(ratio "$i_cpu" "$g_cpu")"
printf '%-22s %12s %12s %14s\n' "CPU, % of one core" "$i_pct" "$g_pct" "$(ratio "$i_pct" "$g_pct")"
printf '%-22s %12s %12s %14s\n' "peak RSS (VmHWM) MiB" "$(mib "$i_hwm")" "$(mib "$g_hwm")" "$(ratio "$i_hwm" "$g_hwm")"
printf '%-22s %12s %12s %14s\n' "RSS MiB" "$(mib "$i_rss")" "$(mib "$g_rss")" "$(ratio "$i_rss" "$g_rss")"
printf '%-22s %12s %12s %14s\n' "threads (most seen)" "$i_thrmax" "$g_thrmax" ""
printf '%-22s %12s %12s %14s\n' "errors logged" "$i_err" "$g_err" ""
printf '%-22s %12s %12s %14s\n' "warnings logged" "$i_warn" "$g_warn" ""
rc=0 grc=0
nsenter "--net=${ns_of[idic]}" python3 "$repo/scripts/bench-sim.py" missed "$work/idic/targets" \
    --config "$work/bench.toml" --t0 "$t0" --t1 "$t1" --label idic || rc=$?
nsenter "--net=${ns_of[gostats]}" python3 "$repo/scripts/bench-sim.py" missed "$work/gostats/targets" \
    --config "$work/bench.toml" --t0 "$t0" --t1 "$t1" --label gostats || grc=$?
[ "$grc" = 0 ] || [ "$grc" = 2 ] || rc=$grc
if [ "$sink" = influxdb ]; then
    for who in idic gostats; do
        echo "$who: influxdb holds $(series 8086 nsenter "--net=${ns_of[$who]}") series"
    done
fi
verdict
exit "$rc"
