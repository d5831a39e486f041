#!/bin/sh
# Remote-write throughput into a local VictoriaMetrics (Debian's
# victoria-metrics package): starts it on a free port with a temporary data
# folder, runs the remote_write plugin's `throughput` example (release build)
# and checks that the receiver holds every sample. docs/SCALING.md has figures.
# Usage: sh scripts/remote-write-bench.sh [CLUSTERS] [ROUNDS]
set -eu
clusters=${1:-100}
rounds=${2:-20}
dir=$(mktemp -d)
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
victoria-metrics -httpListenAddr=127.0.0.1:$port -storageDataPath=$dir/data >$dir/vm.log 2>&1 &
vm=$!
trap 'kill $vm; wait $vm 2>/dev/null; rm -rf $dir' EXIT
until curl -sf http://127.0.0.1:$port/health >/dev/null; do sleep 0.2; done
cargo run --quiet --release -p idic-remote-write --example throughput -- \
    http://127.0.0.1:$port/api/v1/write "$clusters" "$rounds"
curl -sf http://127.0.0.1:$port/internal/force_flush >/dev/null
stored=$(curl -sf "http://127.0.0.1:$port/api/v1/export" --data-urlencode 'match[]={__name__=~"isilon_stat_.*"}' \
    | python3 -c 'import sys,json; print(sum(len(json.loads(l)["timestamps"]) for l in sys.stdin if l.strip()))')
echo "VictoriaMetrics holds $stored samples (expected $((clusters * rounds * 850)))"
