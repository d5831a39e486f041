//! InfluxDB line protocol for idic: encoding and escaping, request bodies of a
//! bounded size, and the HTTP write client, shared by the `influxdb` (1.x) and
//! `influxdbv2` (2.x) plugins. A plain library, not a plugin.
//!
//! - [`encode`]: points to lines (pure), split into [`Body`]s of at most
//!   `max_request_bytes`; [`escape`] holds the escaping rules.
//! - [`Client`]: one InfluxDB write destination over HTTP(S), v1 or v2
//!   ([`ProtocolVersion`]), gzip, every failure classified ([`Error`]).
//! - [`LineSink`]: a cluster's write path: encode, send each body once, log
//!   refusals once per measurement, answer the host.
//! - [`settings`]: the config pieces both plugins read the same way.
//! - `recycle`: the few body buffers all sinks of the process reuse.
//!
//! What is written is gostats' schema: measurement = statistics key, tags as
//! collected (sorted), every number a float field, timestamps in seconds.
//!
//! # Example
//!
//! ```
//! use idic_lineproto::encode_point;
//! use idic_plugin_api::{Field, Point, Row, Tag, Value};
//!
//! let point = Point {
//!     measurement: "cluster.cpu.idle.avg".into(),
//!     time: 1_700_000_000,
//!     rows: vec![Row {
//!         tags: vec![Tag::new("cluster", "c1")].into(),
//!         fields: vec![Field::new("value", Value::Float(97.0))].into(),
//!     }]
//!     .into(),
//! };
//! let mut out = Vec::new();
//! encode_point(&point, &mut out);
//! assert_eq!(out, b"cluster.cpu.idle.avg,cluster=c1 value=97.0 1700000000\n");
//! ```

#![deny(missing_docs)]

pub mod client;
pub mod encode;
pub mod error;
pub mod escape;
mod gzip;
mod recycle;
pub mod settings;
pub mod sink;

pub use client::{Client, ClientConfig, Destination, ProtocolVersion};
pub use encode::{encode_point, Body, Encoder, Stats};
pub use error::{Error, ErrorKind, Rejection};
pub use sink::LineSink;
