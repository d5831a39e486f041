#!/bin/sh
# The .deb as an operator gets it (run by `make test-packaging`, as root, on a
# Debian machine with systemd's tools; installs and purges the package on this
# machine):
#  1. build it from dist/ and install it with dpkg: files, conffile, user;
#  2. `systemd-analyze verify` the unit, and print `systemd-analyze security`;
#  3. the packaged config passes check-config (the unit's ExecStartPre);
#  4. point /etc/idic/idic.toml at onefs-sim and start idic as packaged: the
#     unit's ExecStartPre and ExecStart lines, run as its User with setpriv (systemd is not
#     running here; /var/lib/idic is made as StateDirectory= would), until
#     points arrive in /var/lib/idic and the disk buffer is there; SIGTERM exits 0;
#  5. purge: files, state and user are gone.
set -eu
cd "$(dirname "$0")/.."
fail() { echo "test-deb: FAIL: $*" >&2; exit 1; }
[ "$(id -u)" = 0 ] || fail "run as root (it installs the package)"
for tool in dpkg-deb systemd-analyze runuser setpriv; do
    command -v "$tool" >/dev/null || fail "$tool is missing (apt-get install systemd)"
done
work=$(mktemp -d)
sim_pid=""
idic_pid=""
cleanup() {
    [ -n "$idic_pid" ] && kill "$idic_pid" 2>/dev/null || true
    [ -n "$sim_pid" ] && kill "$sim_pid" 2>/dev/null || true
    dpkg --purge idic >/dev/null 2>&1 || true
    rm -rf "$work"
}
trap cleanup EXIT

echo "== build and install"
deb=$(sh scripts/build-deb.sh "$work")
dpkg-deb --info "$deb" | sed -n 's/^ *\(Package\|Version\|Architecture\|Depends\):/  &/p'
dpkg -i "$deb" >/dev/null || fail "dpkg -i $deb"
for f in /usr/bin/idic /usr/lib/idic/plugins/libjsonl.so /usr/lib/idic/plugins/libinfluxdb.so \
    /etc/idic/idic.toml /lib/systemd/system/idic.service /usr/share/man/man1/idic.1.gz \
    /usr/share/bash-completion/completions/idic; do
    [ -f "$f" ] || fail "$f was not installed"
done
dpkg-query -W -f='${Conffiles}\n' idic | grep -q '/etc/idic/idic.toml' || fail "/etc/idic/idic.toml is not a conffile"
getent passwd idic >/dev/null || fail "postinst made no idic user"
[ "$(stat -c %U:%G:%a /etc/idic/idic.toml)" = root:idic:640 ] || fail "/etc/idic/idic.toml is $(stat -c %U:%G:%a /etc/idic/idic.toml), not root:idic:640"
/usr/bin/idic plugins --plugin-dir /usr/lib/idic/plugins >/dev/null || fail "a packaged plugin does not load"

echo "== systemd-analyze"
verify=$(systemd-analyze verify /lib/systemd/system/idic.service 2>&1) || fail "systemd-analyze verify: $verify"
[ -z "$verify" ] || fail "systemd-analyze verify complains: $verify"
exposure=$(systemd-analyze security --offline=yes /lib/systemd/system/idic.service 2>/dev/null | tail -n 1)
echo "  $exposure"
case "$exposure" in
    *"exposure level for idic.service: "[0-1].*) ;;
    *) fail "the unit's exposure is above 2 (systemd-analyze security): $exposure" ;;
esac

echo "== the packaged config passes check-config (ExecStartPre)"
runuser -u idic -- /usr/bin/idic check-config /etc/idic/idic.toml >/dev/null || fail "check-config of the packaged config"

echo "== start idic as packaged against onefs-sim"
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
dist/onefs-sim --cluster "DebCluster:$port" --ca-cert-out "$work/ca.pem" --log-level warn &
sim_pid=$!
for _ in $(seq 100); do [ -s "$work/ca.pem" ] && break; sleep 0.1; done
install -m 644 "$work/ca.pem" /etc/idic/sim-ca.pem
cat > /etc/idic/idic.toml <<TOML
[global]
version = "0.39"
stats_processor = "jsonl"
min_update_interval_override = 5
active_stat_groups = ["deb"]

[jsonl]
path = "/var/lib/idic/points.jsonl"

[[cluster]]
hostname = "127.0.0.1"
port = $port
username = "statsreader"
password = "\$file:/etc/idic/cluster.pw"
ca_cert = "/etc/idic/sim-ca.pem"

[[statgroup]]
name = "deb"
update_interval = "*"
stats = ["cluster.cpu.idle.avg", "node.ifs.bytes.in.rate"]
TOML
printf 's3kret\n' > /etc/idic/cluster.pw
chown root:idic /etc/idic/cluster.pw
chmod 640 /etc/idic/cluster.pw
# What StateDirectory=idic would make.
install -d -o idic -g idic -m 750 /var/lib/idic
unit=/lib/systemd/system/idic.service
pre=$(sed -n 's/^ExecStartPre=//p' "$unit")
start=$(sed -n 's/^ExecStart=//p' "$unit")
user=$(sed -n 's/^User=//p' "$unit")
# setpriv execs (runuser would stay as idic's parent and take the SIGTERM).
as_user() { setpriv --reuid="$user" --regid="$user" --init-groups -- "$@"; }
as_user $pre >/dev/null || fail "ExecStartPre: $pre"
(cd / && exec setpriv --reuid="$user" --regid="$user" --init-groups -- $start) 2> "$work/idic.log" &
idic_pid=$!
for _ in $(seq 600); do
    [ -s /var/lib/idic/points.jsonl ] && break
    kill -0 "$idic_pid" 2>/dev/null || { cat "$work/idic.log" >&2; fail "idic exited"; }
    sleep 0.1
done
[ -s /var/lib/idic/points.jsonl ] || { cat "$work/idic.log" >&2; fail "no points within 60 s"; }
grep -q '"cluster":"debcluster"' /var/lib/idic/points.jsonl || fail "the points are not debcluster's"
[ -d "/var/lib/idic/jsonl/127.0.0.1_$port" ] || [ -n "$(ls -d /var/lib/idic/jsonl/* 2>/dev/null)" ] \
    || { ls -lR /var/lib/idic >&2; fail "no disk buffer under the default state_dir /var/lib/idic"; }
[ "$(stat -c %U /var/lib/idic/points.jsonl)" = idic ] || fail "the points file is not idic's"
echo "  $(wc -l < /var/lib/idic/points.jsonl) points from debcluster, disk buffer in $(ls -d /var/lib/idic/jsonl/*)"
kill -TERM "$idic_pid"
status=0
wait "$idic_pid" || status=$?
idic_pid=""
[ "$status" = 0 ] || { cat "$work/idic.log" >&2; fail "idic exited $status after SIGTERM"; }

echo "== purge"
rm -f /etc/idic/sim-ca.pem /etc/idic/cluster.pw
dpkg --purge idic >/dev/null || fail "dpkg --purge"
[ ! -e /usr/bin/idic ] || fail "/usr/bin/idic is still there"
[ ! -e /var/lib/idic ] || fail "/var/lib/idic is still there"
! getent passwd idic >/dev/null || fail "the idic user is still there"
echo "test-deb: ok"
