#!/bin/sh
# Builds the idic Debian package from dist/ (run `make` first; `make deb` does
# both): build-deb.sh [OUTDIR]  ->  OUTDIR/idic_<version>_<arch>.deb
#
#   /usr/bin/idic                        the collector
#   /usr/lib/idic/plugins/lib*.so         the bundled sink plugins
#   /etc/idic/idic.toml                   the example config (a conffile), logging
#                                         to standard error, i.e. the journal
#   /lib/systemd/system/idic.service      the hardened unit (packaging/debian/)
#   /usr/share/{bash-completion,zsh,fish} completions; /usr/share/man/man1/idic.1.gz
#   /usr/share/doc/idic/                  README, example config, Grafana dashboard
#
# dpkg-deb (Debian's own tool) rather than cargo-deb: the package is a handful of
# files from dist/, maintainer scripts and a unit, and dpkg-deb needs nothing
# built or downloaded (packaging/README.md).
set -eu
cd "$(dirname "$0")/.."
out=${1:-dist}
version=$(sed -n 's/^version = "\(.*\)"/\1/p' host/Cargo.toml | head -n 1)
arch=$(dpkg --print-architecture)
for f in dist/idic dist/plugins/libjsonl.so; do
    [ -f "$f" ] || { echo "build-deb: $f is missing: run make first" >&2; exit 1; }
done
stage=$(mktemp -d)
trap 'rm -rf "$stage"' EXIT
install -d "$stage/DEBIAN" "$stage/usr/bin" "$stage/usr/lib/idic/plugins" "$stage/etc/idic" \
    "$stage/lib/systemd/system" "$stage/usr/share/doc/idic"
install -m 755 dist/idic "$stage/usr/bin/idic"
install -m 644 dist/plugins/*.so "$stage/usr/lib/idic/plugins/"
# The example, logging to standard error (the journal under systemd): with
# ProtectSystem=strict nothing outside /var/lib/idic is writable.
sed -e 's/^logfile = "gostats.log"/# logfile = "\/var\/log\/idic.log"  (the journal is used while unset)/' \
    idic.toml.example > "$stage/etc/idic/idic.toml"
chmod 640 "$stage/etc/idic/idic.toml"
install -m 644 packaging/debian/idic.service "$stage/lib/systemd/system/idic.service"
sh scripts/install-manual.sh dist/idic "$stage/usr"
install -m 644 README.md idic.toml.example contrib/grafana/idic-telemetry.json "$stage/usr/share/doc/idic/"
printf 'idic\nLicense: Apache-2.0 (see /usr/share/common-licenses/Apache-2.0)\n' > "$stage/usr/share/doc/idic/copyright"
install -m 755 packaging/debian/postinst packaging/debian/prerm packaging/debian/postrm "$stage/DEBIAN/"
echo /etc/idic/idic.toml > "$stage/DEBIAN/conffiles"
size=$(du -sk --exclude=DEBIAN "$stage" | cut -f1)
sed -e "s/@VERSION@/$version/" -e "s/@ARCH@/$arch/" packaging/debian/control.in > "$stage/DEBIAN/control"
echo "Installed-Size: $size" >> "$stage/DEBIAN/control"
(cd "$stage" && find usr lib -type f -exec md5sum {} + > DEBIAN/md5sums)
mkdir -p "$out"
dpkg-deb --root-owner-group -Zxz --build "$stage" "$out/idic_${version}_${arch}.deb" >/dev/null
echo "$out/idic_${version}_${arch}.deb"
