#!/bin/sh
# The container's entry point: with no arguments, or only flags, run idic on
# /app/idic.toml (the bind-mounted folder, as gostats' image does); with a
# command (idic doctor /app/idic.toml, sh, ...), run that.
set -eu
if [ "$#" -eq 0 ] || [ "${1#-}" != "$1" ]; then
    if [ ! -f /app/idic.toml ]; then
        echo "idic: /app/idic.toml is missing: bind-mount the folder that holds your idic.toml on /app, e.g. docker run -v \"\$PWD/idic:/app\" idic (the container runs as UID 10001: chown -R 10001:10001 that folder, or add --user \$(id -u):\$(id -g))" >&2
        exit 78
    fi
    set -- /usr/bin/idic -config-file /app/idic.toml "$@"
fi
exec "$@"
