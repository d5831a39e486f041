#!/bin/sh
# What `make test-packaging` needs that a fresh Debian machine lacks: systemd's
# tools (systemd-analyze), podman with runc, debootstrap (the local base image),
# curl. Installs them with apt-get as root, else says how.
set -eu
missing=""
for tool in systemd-analyze podman runc debootstrap curl dpkg-deb runuser; do
    command -v "$tool" >/dev/null 2>&1 || missing="$missing $tool"
done
[ -z "$missing" ] && exit 0
echo "packaging-deps: missing:$missing; installing Debian's systemd podman runc debootstrap curl"
if [ "$(id -u)" != 0 ]; then
    echo "packaging-deps: run as root, or: sudo apt-get install -y systemd podman runc debootstrap curl" >&2
    exit 1
fi
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends systemd podman runc debootstrap curl >/dev/null
