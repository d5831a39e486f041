#!/bin/sh
# The container image, built and run with podman (run by `make test-packaging`,
# as root, on Debian with podman, runc and debootstrap installed):
#  - no registry is reachable here, so the Dockerfile's runtime base
#    (docker.io/library/debian:bookworm-slim) is made locally with debootstrap
#    under that very name (once; later runs reuse it), and the image is built
#    with `--target prebuilt` from the already built dist/ (the build stage's
#    official Rust image cannot be pulled): the Dockerfile stays standard;
#  - podman runs with runc, --cgroup-manager=cgroupfs and default_ulimits = []
#    (containers.conf): crun fails on this machine's hybrid cgroups;
#  - checks: a missing /app/idic.toml is one clear message and exit 78; with a
#    bind-mounted folder, idic runs as UID 10001, collects from onefs-sim on the
#    host into the Prometheus sink, whose port is published with -p and
#    scraped from the host; gostats.log lands in the folder; SIGTERM exits 0.
set -eu
cd "$(dirname "$0")/.."
fail() { echo "test-container: FAIL: $*" >&2; exit 1; }
[ "$(id -u)" = 0 ] || fail "run as root"
for tool in podman runc debootstrap curl; do
    command -v "$tool" >/dev/null || fail "$tool is missing (apt-get install podman runc debootstrap curl)"
done
[ -x dist/idic ] && [ -x dist/onefs-sim ] || fail "dist/ is not built: run make"
work=$(mktemp -d)
sim_pid=""
cleanup() {
    podman rm -f idic-test >/dev/null 2>&1 || true
    [ -n "$sim_pid" ] && kill "$sim_pid" 2>/dev/null || true
    rm -rf "$work"
}
trap cleanup EXIT
cat > "$work/containers.conf" <<CONF
[containers]
default_ulimits = []
[engine]
runtime = "runc"
cgroup_manager = "cgroupfs"
CONF
export CONTAINERS_CONF="$work/containers.conf"
pod() { podman --runtime runc --cgroup-manager cgroupfs "$@"; }

base=docker.io/library/debian:bookworm-slim
if ! pod image exists "$base"; then
    echo "== the base image $base, made with debootstrap (no registry here)"
    root="$work/rootfs"
    debootstrap --variant=minbase bookworm "$root" http://deb.debian.org/debian >/dev/null
    tar -C "$root" -c . | pod import --change 'CMD ["bash"]' - "$base" >/dev/null
fi

echo "== build (--target prebuilt, from dist/)"
start=$(date +%s)
pod build --network host --target prebuilt -t localhost/idic:test . >"$work/build.log" 2>&1 \
    || { tail -n 30 "$work/build.log" >&2; fail "podman build"; }
echo "  built in $(( $(date +%s) - start )) s"

echo "== no config: one clear message"
mkdir -p "$work/empty"
chown 10001:10001 "$work/empty"
status=0
pod run --rm -v "$work/empty:/app" localhost/idic:test >"$work/out" 2>&1 || status=$?
[ "$status" = 78 ] || { cat "$work/out" >&2; fail "exit $status, not 78, without /app/idic.toml"; }
grep -q '/app/idic.toml is missing: bind-mount the folder' "$work/out" || { cat "$work/out" >&2; fail "the message"; }

echo "== run against onefs-sim, Prometheus published with -p"
sim_port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
prom_port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
mkdir -p "$work/app"
dist/onefs-sim --cluster "Boxed:$sim_port" --bind 0.0.0.0 --cert-name host.containers.internal \
    --ca-cert-out "$work/app/ca.pem" --log-level warn &
sim_pid=$!
for _ in $(seq 100); do [ -s "$work/app/ca.pem" ] && break; sleep 0.1; done
cat > "$work/app/idic.toml" <<TOML
[global]
version = "0.39"
stats_processor = "prometheus"
min_update_interval_override = 5
active_stat_groups = ["box"]

[logging]
logfile = "gostats.log"

[prometheus]

[[cluster]]
hostname = "host.containers.internal"
port = $sim_port
username = "statsreader"
password = "s3kret"
ca_cert = "/app/ca.pem"
prometheus_port = 9090

[[statgroup]]
name = "box"
update_interval = "*"
stats = ["cluster.cpu.idle.avg"]
TOML
chown -R 10001:10001 "$work/app"
pod run -d --name idic-test -v "$work/app:/app" -p "127.0.0.1:$prom_port:9090" localhost/idic:test >/dev/null \
    || fail "podman run"
ok=""
for _ in $(seq 120); do
    if curl -sf "http://127.0.0.1:$prom_port/metrics" 2>/dev/null | grep -q '^isilon_stat_cluster_cpu_idle_avg{cluster="boxed"'; then
        ok=1
        break
    fi
    sleep 0.5
done
[ -n "$ok" ] || { pod logs idic-test >&2; cat "$work/app/gostats.log" >&2 || true; fail "no metric of cluster boxed on the published port"; }
[ "$(pod exec idic-test id -u)" = 10001 ] || fail "idic does not run as UID 10001"
grep -q 'cluster=boxed connected' "$work/app/gostats.log" || fail "the log is not in the bind-mounted folder"
pod stop -t 20 idic-test >/dev/null
[ "$(pod inspect -f '{{.State.ExitCode}}' idic-test)" = 0 ] || fail "exit $(pod inspect -f '{{.State.ExitCode}}' idic-test) after SIGTERM"
echo "test-container: ok"
