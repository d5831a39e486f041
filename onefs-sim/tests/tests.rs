//! Integration tests of `onefs-sim`: each starts a simulator on ephemeral ports and
//! talks to it over HTTPS with an independent client (see `util`).

/// Harness: start, client, login, raw requests, reference files.
mod util;

/// Session login, CSRF, expiry, Basic auth, 401s.
mod auth;
/// Statistics key catalog: built-in coverage and the reference file.
mod catalog;
/// The binary: listening lines, CA file, signals, argument errors.
mod cli;
/// Cluster identity and many clusters in one process.
mod clusters;
/// `/platform/1/statistics/current`: shapes, scopes, errors, expected values.
mod current;
/// Fault injection and the `/sim` control endpoint, counters and request log.
mod faults;
/// `/platform/1/statistics/history`: values back in time, retention, the clock.
mod history;
/// `/platform/1/statistics/keys` metadata.
mod keys;
/// Bad requests and protocol limits (414, 400, 413) never crash the simulator.
mod limits;
/// `/platform/3/statistics/summary/*`.
mod summary;
