//! What produces points: one task per cluster that connects, schedules its
//! statistics on drift-free timers, fetches answers and decodes them into points
//! for delivery.
//!
//! `cluster.rs` is the task, `connect.rs` the OneFS connect sequence,
//! `schedule.rs` and `decode/` the pure rules, `context.rs` what a sink learns of
//! the cluster, `problems.rs` what is done about keys that answer badly (set aside,
//! re-probed with a back-off), `failures.rs` how failed cycles are logged,
//! `backfill/` how gaps are filled from the cluster's statistics history.

mod backfill;
pub mod cluster;
pub mod connect;
mod context;
pub mod decode;
mod failures;
mod problems;
pub mod schedule;
