# Sourced by the benchmark scripts (bench-collect.sh, bench-drain.sh): a real
# InfluxDB 1.x (Debian's influxd) for a benchmark, on loopback, its data in a
# folder of the caller's.
#
# influxd_start DIR PORT RPC_PORT DATABASE [PREFIX...]: starts influxd with its
# data in DIR, HTTP on 127.0.0.1:PORT, and creates DATABASE; PREFIX runs it
# (nsenter). Appends its PID to the caller's `pids` array, which the caller kills
# on exit. Returns non-zero, after printing influxd's output, when it does not
# answer /ping within 30 s or the database cannot be created.
influxd_start() {
    local dir=$1 port=$2 rpc=$3 db=$4 i=0
    shift 4
    mkdir -p "$dir"
    cat >"$dir/influxdb.conf" <<EOF
reporting-disabled = true
bind-address = "127.0.0.1:$rpc"
[meta]
  dir = "$dir/meta"
[data]
  dir = "$dir/data"
  wal-dir = "$dir/wal"
  query-log-enabled = false
[monitor]
  store-enabled = false
[http]
  bind-address = "127.0.0.1:$port"
  log-enabled = false
[logging]
  level = "warn"
[continuous_queries]
  enabled = false
EOF
    "$@" influxd run -config "$dir/influxdb.conf" >"$dir/influxd.out" 2>&1 &
    pids+=($!)
    until [ "$("$@" curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$port/ping")" = 204 ]; do
        i=$((i + 1))
        if [ $i -gt 300 ] || ! kill -0 "${pids[-1]}" 2>/dev/null; then
            cat "$dir/influxd.out" >&2
            echo "influxd did not start" >&2
            return 1
        fi
        sleep 0.1
    done
    "$@" curl -sf -o /dev/null -XPOST "http://127.0.0.1:$port/query" \
        --data-urlencode "q=CREATE DATABASE \"$db\"" || {
        echo "CREATE DATABASE $db failed" >&2
        return 1
    }
}
