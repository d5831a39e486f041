# idic's container image (README "Docker"; packaging/README.md).
#
#   docker build -t idic .                            # build stage: the official Rust image
#   docker build --target prebuilt -t idic .          # from an already built dist/ (make)
#   docker run -d --name idic -v "$PWD/idic:/app" -p 9090-9099:9090-9099 idic
#
# The config is /app/idic.toml from the bind-mounted folder, a relative logfile
# (gostats' example: gostats.log) lands there too, and the disk buffers go to
# /var/lib/idic (a volume). The process runs as user idic, UID and GID 10001:
# give that UID the folder (chown -R 10001:10001 idic/) or run with --user.

ARG RUST_IMAGE=docker.io/library/rust:1-bookworm
ARG RUNTIME_IMAGE=docker.io/library/debian:bookworm-slim

# Build: the whole workspace in release mode, into dist/.
FROM ${RUST_IMAGE} AS build
WORKDIR /src
COPY . .
RUN make dist

# What both runtime images share: CA certificates, the idic user, the folders.
FROM ${RUNTIME_IMAGE} AS base
RUN apt-get update \
    && apt-get install -y --no-install-recommends ca-certificates \
    && rm -rf /var/lib/apt/lists/*
RUN groupadd --system --gid 10001 idic \
    && useradd --system --uid 10001 --gid 10001 --home-dir /app --no-create-home \
        --shell /usr/sbin/nologin idic \
    && install -d -o 10001 -g 10001 -m 750 /app /var/lib/idic
COPY packaging/docker/entrypoint.sh /usr/local/bin/idic-entrypoint
WORKDIR /app
VOLUME ["/var/lib/idic"]
USER 10001:10001
ENTRYPOINT ["/usr/local/bin/idic-entrypoint"]

# The runtime image from an already built dist/ (`make`, then
# `docker build --target prebuilt`): what the tests build, since the Rust image
# cannot be pulled there.
FROM base AS prebuilt
COPY dist/idic /usr/bin/idic
COPY dist/plugins/ /usr/lib/idic/plugins/

# The default: the runtime image from the build stage.
FROM base AS runtime
COPY --from=build /src/dist/idic /usr/bin/idic
COPY --from=build /src/dist/plugins/ /usr/lib/idic/plugins/
