//! The plugin driven through its library API as the host drives it (open, write,
//! close, start, stop), scraped over real loopback sockets.

// The stub host, point builders and HTTP helpers.
mod support;
// Whether prometheus and promtool are installed: skip, or fail under make test.
#[path = "../../../host/tests/services.rs"]
mod services;

// /metrics, the landing page, 404, formats, expiry, ports: one cluster's listener.
mod endpoint;
// Basic auth on /metrics: right, wrong and missing credentials, `$env:` passwords.
mod auth;
// HTTPS with tls_cert / tls_key, and a stalled handshake not blocking scrapes.
mod tls;
// HTTP service discovery from the start hook.
mod sd;
// The full /metrics body for fixed OneFS-shaped input, against tests/golden/.
mod golden;
// Ten scrapers at once while writes go on; a stalled reader holding up no one.
mod concurrency;
// A real Prometheus scraping thousands of summary rows, gzipped, in time.
mod real_prometheus;
// Its runner, and the simulator's summary rows as the host's points.
mod promd;
#[path = "../benches/common/summary.rs"]
mod summary;
// The README keeps its skeleton and its config blocks match idic.toml.example.
mod readme;
