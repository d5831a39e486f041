#!/bin/sh
# Installs the plugin SDK into DEST (make install: PREFIX/share/idic/sdk): the
# idic-plugin-api source, its dependencies vendored (so `idic plugin new` crates
# build without network), the lock file that pins them, and the cargo config
# that points crates.io at the vendored copies. Works offline from the local
# cargo registry cache when it holds every package of the lock file; `cargo
# vendor` needs the packages of every platform (redox_syscall, windows-sys,
# ...), which a build for this platform alone never downloaded, so otherwise
# it fetches the missing ones from crates.io once (they stay in the cache).
# Writes into DEST.new and renames, so a failed run leaves the previous SDK in
# place.
set -eu
dest=${1:?usage: scripts/install-sdk.sh DEST [FINAL]   (FINAL: where DEST is at run time, without DESTDIR)}
final=${2:-$dest}
root=$(cd "$(dirname "$0")/.." && pwd)
cargo=${CARGO:-cargo}
tmp="$dest.new"
rm -rf "$tmp"
mkdir -p "$tmp/plugin-api"
cp -R "$root/plugin-api/src" "$root/plugin-api/Cargo.toml" "$root/plugin-api/README.md" "$tmp/plugin-api/"
cp "$root/host/tests/fixtures/plugins/Cargo.lock" "$tmp/plugin-api/Cargo.lock"
vendor() {
    (cd "$tmp/plugin-api" && "$cargo" vendor --quiet --locked "$@" "$tmp/vendor" >/dev/null)
}
if ! vendor --offline 2>"$tmp/vendor.err"; then
    echo "install-sdk.sh: the local cargo cache lacks some dependencies (of other platforms); fetching them from crates.io" >&2
    if ! vendor; then
        cat "$tmp/vendor.err" >&2
        echo "install-sdk.sh: cannot vendor the SDK's dependencies: crates.io must be reachable once (or the cargo cache hold them)" >&2
        exit 1
    fi
fi
rm -f "$tmp/vendor.err"
mv "$tmp/plugin-api/Cargo.lock" "$tmp/Cargo.lock"
cat > "$tmp/cargo-config.toml" <<CFG
# Build plugins from the SDK's vendored sources, without network.
[source.crates-io]
replace-with = "idic-sdk-vendored"

[source.idic-sdk-vendored]
directory = "$final/vendor"
CFG
cp "$root/docs/PLUGINS.md" "$tmp/PLUGINS.md"
rm -rf "$dest.old"
if [ -e "$dest" ]; then mv "$dest" "$dest.old"; fi
mv "$tmp" "$dest"
rm -rf "$dest.old"
