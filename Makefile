# idic: build, test, run, install.
#
#   make                  release build into dist/ (dist/idic, dist/onefs-sim, dist/plugins/)
#   make test             everything CI runs: fmt check, clippy -D warnings, all tests
#                         (installs influxd/prometheus for the sink tests if missing)
#   make run              the demo: simulated clusters -> idic -> jsonl sink, until Ctrl-C
#   make install PREFIX=/usr/local
#   make clean

CARGO   ?= cargo
PREFIX  ?= /usr/local
PLUGINS := discard jsonl influxdb influxdbv2 prometheus
DIST    := dist

.PHONY: all build dist test run install clean

all: dist

build:
	$(CARGO) build --release --workspace

dist: build
	mkdir -p $(DIST)/plugins
	cp target/release/idic target/release/onefs-sim $(DIST)/
	for p in $(PLUGINS); do cp target/release/lib$$p.so $(DIST)/plugins/; done

test:
	sh scripts/test-deps.sh
	$(CARGO) fmt --all -- --check
	$(CARGO) clippy --workspace --all-targets -- -D warnings
	$(CARGO) build --workspace
	$(CARGO) test --workspace

run: dist
	sh scripts/demo.sh

install: dist
	install -d $(DESTDIR)$(PREFIX)/bin $(DESTDIR)$(PREFIX)/lib/idic/plugins
	install -m 755 $(DIST)/idic $(DIST)/onefs-sim $(DESTDIR)$(PREFIX)/bin/
	install -m 644 $(DIST)/plugins/*.so $(DESTDIR)$(PREFIX)/lib/idic/plugins/

clean:
	$(CARGO) clean
	rm -rf $(DIST)
