//! `onefs-sim`: a simulated Dell PowerScale (OneFS) cluster serving the Platform API
//! endpoints a statistics collector uses, so a collector can be tested (and demonstrated)
//! without a real cluster.
//!
//! One process serves many clusters, each on its own port with its own name, node
//! count, devid-to-LNN layout and OneFS release. It speaks HTTPS with a certificate made
//! at start (or plain HTTP), authenticates like OneFS (session cookies with CSRF token,
//! or Basic auth), and answers:
//!
//! - `POST /session/1/session` (login), `GET /platform/1/cluster/config`,
//! - `GET /platform/1/statistics/keys/<KEY>` and `/platform/1/statistics/keys`,
//! - `GET /platform/1/statistics/current?key=...` with per-key errors like OneFS,
//! - `GET /platform/1/statistics/history?key=...&begin=...&end=...`, the same values
//!   back in time within each key's retention,
//! - `GET /platform/3/statistics/summary/{protocol,client,drive}`,
//! - `GET /platform/8/quota/quotas` (paged) and `/platform/1/quota/quotas-summary`
//!   ([`quotas`]),
//! - `GET /platform/10/performance/datasets` and
//!   `/platform/10/statistics/summary/workload?dataset=NAME`, and
//!   `/platform/1/protocols/nfs/exports/EID` (export id to path) ([`perf`]),
//! - `/sim/...`: a control endpoint (faults, counters, request log, expected values).
//!
//! Every number is a pure function of (cluster, key, devid, field, row, time bucket),
//! so a test can compute exactly what a collector should have stored: see
//! [`expected`], [`ClusterHandle::expected`] and [`answer_time`]. Faults (latency,
//! 500/503 answers, dropped connections, cluster down, session expiry, hostile (malformed,
//! wrong-type, random, oversized, slow, reset)
//! bodies, per-key errors, a degraded node) can be set at start and while running.
//!
//! # Example
//!
//! ```
//! use onefs_sim::{ClusterSpec, Sim, SimConfig};
//!
//! let sim = Sim::start(SimConfig::default().cluster(ClusterSpec::new("DemoCluster").with_nodes(3)))?;
//! let cluster = &sim.clusters()[0];
//! assert!(cluster.url().starts_with("https://127.0.0.1:"));
//! assert_eq!(cluster.lnn(3), Some(4)); // devid 3 is LNN 4 in the default layout
//! assert!(sim.ca_cert_pem().contains("BEGIN CERTIFICATE"));
//!
//! // What /platform/1/statistics/current answers for this key at this answer time:
//! let value = cluster.expected("cluster.node.count.all", 0, 1_750_000_000);
//! assert_eq!(value, Some(serde_json::json!(3)));
//!
//! cluster.faults().set_down(true); // refuses connections until set_down(false)
//! sim.shutdown();
//! # Ok::<(), std::io::Error>(())
//! ```
#![deny(missing_docs)]

mod api;
mod auth;
pub mod catalog;
pub mod cli;
mod config;
mod control;
mod faults;
mod history;
mod http;
mod ops;
pub mod perf;
pub mod quotas;
mod record;
mod response;
mod server;
mod shapes;
mod sim;
mod state;
mod summary;
mod tls;
mod values;

pub use api::error_string;
pub use catalog::{
    Catalog, CatalogError, CatalogErrorKind, KeyInfo, Policy, Scope, EXAMPLE_STAT_GROUPS,
};
pub use config::{
    default_devices, ClusterSpec, SimConfig, DEFAULT_NODES, DEFAULT_ONEFS_VERSION,
    DEFAULT_PASSWORD, DEFAULT_QUOTAS, DEFAULT_SUMMARY_ROWS, DEFAULT_USER,
};
pub use faults::{
    FaultSettings, Faults, Malformed, ALL_MALFORMED, HUGE_BODY_BYTES, OVERSIZED_BODY_BYTES,
    SLOW_BODY_PACE,
};
pub use history::MAX_HISTORY_VALUES;
pub use http::{parse_all as parse_requests, MAX_TARGET};
pub use record::{Counters, LoggedRequest};
pub use sim::{ClusterHandle, Sim};
pub use summary::{SummaryKind, SUMMARY_INTERVAL};
pub use values::{answer_time, expected};
