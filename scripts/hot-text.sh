#!/usr/bin/env bash
# Regenerates the hot-text linker scripts (hot-text/idic.ld, influxdb.ld,
# prometheus.ld), which put the functions a collecting idic and its two most
# used plugins run ahead of the rest of their code (docs/PERFORMANCE.md, fourth
# pass; scripts/hot-text.py says how). Profiles dist/idic under
# callgrind in the runs operators use most: InfluxDB with its default disk
# buffer, InfluxDB with a memory queue, and the Prometheus sink, each for
# 30 s against simulated clusters (scripts/bench-collect.sh). Needs valgrind,
# nm, python3 and what bench-collect.sh needs (influxd); about 5 minutes.
# Run it after `make` when the code a collecting idic runs has changed much,
# then `make` again and compare `scripts/bench-collect.sh` figures.
# HOT_TEXT_KEEP=1 keeps the profiles (and prints where).
set -euo pipefail
cd "$(dirname "$0")/.."
repo=$PWD

for tool in valgrind nm python3; do
    command -v "$tool" >/dev/null || { echo "hot-text: $tool is missing" >&2; exit 1; }
done
[ -x dist/idic ] || { echo "hot-text: dist/idic is missing: run make first" >&2; exit 1; }

work=$(mktemp -d /tmp/idic-hot-text.XXXXXX)
if [ -n "${HOT_TEXT_KEEP:-}" ]; then
    echo "hot-text: keeping the profiles in $work"
else
    trap 'rm -rf "$work"' EXIT
fi
cat >"$work/idic" <<EOF
#!/bin/sh
exec valgrind --tool=callgrind --callgrind-out-file=$work/callgrind.%p.out "$repo/dist/idic" "\$@"
EOF
chmod +x "$work/idic"

runs=(
    "--sink influxdb"
    "--sink influxdb --buffer memory"
    "--sink prometheus"
)
for run in "${runs[@]}"; do
    echo "hot-text: profiling $run"
    # shellcheck disable=SC2086 # each run is a list of options
    IDIC="$work/idic" scripts/bench-collect.sh --idic-only --clusters 20 --nodes 3 \
        --seconds 30 $run >"$work/bench.log" 2>&1 \
        || { cat "$work/bench.log" >&2; exit 1; }
done

described=()
for run in "${runs[@]}"; do
    described+=(--run "scripts/bench-collect.sh --clusters 20 --nodes 3 --seconds 30 $run")
done
python3 scripts/hot-text.py "${described[@]}" \
    --target dist/idic=hot-text/idic.ld \
    --target dist/plugins/libinfluxdb.so=hot-text/influxdb.ld \
    --target dist/plugins/libprometheus.so=hot-text/prometheus.ld \
    "$work"/callgrind.*.out
