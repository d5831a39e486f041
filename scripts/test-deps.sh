#!/bin/sh
# Makes sure the real services the sink tests start are installed: Debian's
# influxdb (influxd 1.6), prometheus (prometheus, promtool 2.42) and
# victoria-metrics (1.79, the remote_write plugin's second receiver), and man-db (the man page test). The tests run
# them as their own child processes on loopback ports; no system service is used.
# Called by `make test`; installs with apt-get when run as root, else says how.
set -eu
missing=""
for tool in influxd prometheus promtool victoria-metrics man; do
    command -v "$tool" >/dev/null 2>&1 || missing="$missing $tool"
done
[ -z "$missing" ] && exit 0
echo "test-deps: missing:$missing; installing Debian's influxdb, prometheus, victoria-metrics and man-db packages"
if [ "$(id -u)" != 0 ]; then
    echo "test-deps: run as root, or: sudo apt-get install -y --no-install-recommends influxdb prometheus victoria-metrics man-db" >&2
    exit 1
fi
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends influxdb prometheus victoria-metrics man-db >/dev/null
# The packages may start system services; the tests never use them.
systemctl stop influxdb prometheus victoria-metrics 2>/dev/null || true
for tool in influxd prometheus promtool victoria-metrics man; do
    command -v "$tool" >/dev/null 2>&1 || {
        echo "test-deps: $tool is still missing after installing influxdb, prometheus, victoria-metrics and man-db" >&2
        exit 1
    }
done
