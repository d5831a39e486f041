//! idic's own metrics and health: counters the collection engine updates once
//! per cycle or batch (never per point), gathered with the `prometheus` crate,
//! and an optional listener (`[telemetry] listen`) serving `/metrics`,
//! `/health` and `/ready`.
//!
//! `metrics.rs` owns the process-wide families and the readiness state;
//! `cluster.rs` the per-cluster handle a cluster task updates after each cycle;
//! `queues.rs` reads the delivery queues' own counters at scrape time (no hook in
//! the writer); `server.rs` the tiny_http listener. The rest of the host calls
//! one function per event and knows nothing else of this room.

mod cluster;
mod metrics;
mod queues;
mod server;

pub use cluster::{ClusterMetrics, Cycle};
pub use metrics::{global, Metrics, Readiness};
pub use queues::{QueueProbe, Queues};
pub use server::{serve, Listener};
