//! The `idic` library: everything the `idic` binary is made of, one module per
//! concern (see `docs/ARCHITECTURE.md`). `main.rs` only dispatches to it; the
//! library target exists so that fuzz targets and property tests can drive the
//! pure parts (the OneFS answer decoder, the config loader, the scheduler)
//! without a process. Its API is internal to this repository, not a promise.

pub mod backoff;
pub mod cli;
pub mod collect;
pub mod commands;
pub mod config;
pub mod conformance;
pub mod deliver;
pub mod doctor;
pub mod loader;
pub mod logging;
pub mod manual;
pub mod onefs;
pub mod plugin_host;
pub mod pool;
pub mod scaffold;
pub mod sources;
pub mod supervise;
pub mod telemetry;
