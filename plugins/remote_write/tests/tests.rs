//! The plugin driven through its library API as the host drives it (start,
//! open, write), against real receivers.

// Whether the receivers are installed: skip, or fail under make test.
#[path = "../../../host/tests/services.rs"]
mod services;
// The receivers: Prometheus 2.42 and VictoriaMetrics, started per test.
mod receivers;
// Exact values and timestamps read back from each receiver; refusals, auth, TLS.
mod real;
// The README keeps its skeleton and its config block matches idic.toml.example.
mod readme;
