# idic: build, test, run, install.
#
#   make                  release build into dist/ (dist/idic, dist/onefs-sim, dist/plugins/)
#   make test             everything CI runs: fmt check, clippy -D warnings, all tests
#                         (installs influxd/prometheus for the sink tests if missing)
#   make run              the demo: simulated clusters -> idic -> prometheus sink, until Ctrl-C
#   make fuzz             every fuzz target for FUZZ_SECONDS (default 60) each, on nightly
#                         with cargo-fuzz (docs/TESTING.md); make fuzz-smoke: 10 s each
#   make bench            the standard benchmarks (docs/PERFORMANCE.md), about 5 min;
#                         GOSTATS=/path/to/gostats adds the side-by-side run
#   make install PREFIX=/usr/local   (binaries, plugins, and the plugin SDK in
#                         PREFIX/share/idic/sdk)
#   make clean

CARGO   ?= cargo
PREFIX  ?= /usr/local
PLUGINS := discard jsonl influxdb influxdbv2 prometheus remote_write
DIST    := dist

.PHONY: all build dist test fuzz fuzz-smoke run bench install clean

all: dist

build:
	$(CARGO) build --release --workspace

# Every file is written beside its destination and renamed over it: a running
# dist/idic keeps its old file ("Text file busy" otherwise), and a running idic
# never sees a half-written plugin (it loads private copies anyway).
dist: build
	mkdir -p $(DIST)/plugins
	for f in idic onefs-sim; do \
		cp target/release/$$f $(DIST)/.$$f.new && mv -f $(DIST)/.$$f.new $(DIST)/$$f || exit 1; \
	done
	for p in $(PLUGINS); do \
		cp target/release/lib$$p.so $(DIST)/plugins/.lib$$p.so.new && \
		mv -f $(DIST)/plugins/.lib$$p.so.new $(DIST)/plugins/lib$$p.so || exit 1; \
	done

# IDIC_REQUIRE_SERVICES=1: the InfluxDB and Prometheus tests fail, rather than
# skip, when influxd or prometheus is missing. The fuzz crate's corpus test
# replays every seed and regression input on stable.
test:
	sh scripts/test-deps.sh
	$(CARGO) fmt --all -- --check
	$(CARGO) clippy --workspace --all-targets -- -D warnings
	$(CARGO) build --workspace
	IDIC_REQUIRE_SERVICES=1 $(CARGO) test --workspace

FUZZ_SECONDS ?= 60

# Not part of `test`: needs nightly and cargo-fuzz, and building the targets with
# sanitizers takes about 5 min on two cores.
fuzz:
	sh scripts/fuzz.sh $(FUZZ_SECONDS)

fuzz-smoke:
	sh scripts/fuzz.sh 10

run: dist
	sh scripts/demo.sh

# Not part of `test`: minutes long, and its figures depend on the machine's load.
# Runs every benchmark even when one fails, then fails if any did.
bench: dist
	@status=0; \
	echo "== bench 1/3: 1000 clusters x 4 nodes, discard sink, every 5 s, 60 s"; \
	scripts/bench-collect.sh --idic-only --clusters 1000 --sink discard --interval 5 --seconds 60 || status=1; \
	echo "== bench 2/3: 3 healthy clusters beside 300 refusing and 300 hanging, 60 s"; \
	scripts/bench-collect.sh --idic-only --clusters 3 --refusing 300 --hanging 300 --seconds 60 || status=1; \
	if [ -n "$(GOSTATS)" ]; then \
		echo "== bench 3/3: side by side with gostats $(GOSTATS): 20 clusters x 3 nodes, influxdb sink, 60 s"; \
		scripts/bench-collect.sh --gostats "$(GOSTATS)" --seconds 60 || status=1; \
	else \
		echo "== bench 3/3: side by side with gostats SKIPPED: set GOSTATS=/path/to/gostats (docs/PERFORMANCE.md)"; \
	fi; \
	exit $$status

install: dist
	install -d $(DESTDIR)$(PREFIX)/bin $(DESTDIR)$(PREFIX)/lib/idic/plugins
	for f in idic onefs-sim; do \
		install -m 755 $(DIST)/$$f $(DESTDIR)$(PREFIX)/bin/.$$f.new && \
		mv -f $(DESTDIR)$(PREFIX)/bin/.$$f.new $(DESTDIR)$(PREFIX)/bin/$$f || exit 1; \
	done
	for p in $(PLUGINS); do \
		install -m 644 $(DIST)/plugins/lib$$p.so $(DESTDIR)$(PREFIX)/lib/idic/plugins/.lib$$p.so.new && \
		mv -f $(DESTDIR)$(PREFIX)/lib/idic/plugins/.lib$$p.so.new $(DESTDIR)$(PREFIX)/lib/idic/plugins/lib$$p.so || exit 1; \
	done
	# The plugin SDK (idic-plugin-api with vendored dependencies) for `idic plugin new`.
	sh scripts/install-sdk.sh $(DESTDIR)$(PREFIX)/share/idic/sdk $(PREFIX)/share/idic/sdk

clean:
	$(CARGO) clean
	rm -rf $(DIST)
