//! Sources beside statistics: what else produces points for a cluster on a
//! schedule, sharing the cluster's connection, session and back-off with the
//! statistics (`collect/`, the first source, which stays where it is for now:
//! a later move into this room is planned, see docs/ARCHITECTURE.md).
//!
//! A source is enabled per config (`[quotas] enabled`, overridden by a
//! `[[cluster]]`'s `quotas = true|false`), has its own interval, and runs on
//! the cluster's task between two statistics requests ([`Sources`], hooked into
//! `collect/cluster.rs`): requests to one cluster stay sequential on its one
//! connection, and a source's failure never moves a statistics timer except
//! when the cluster could not be reached at all (then every timer of the
//! cluster waits for the shared back-off).
//!
//! `perf.rs` is the partitioned-performance source (datasets discovered
//! every interval, then each dataset's workloads), `perf_points.rs` its
//! answers to goppstats' points (pure), `perf_exports.rs` the NFS export id
//! to `export_path` cache (pure). `quotas.rs` is the quota source (paging, filters, the `max_quotas` guard,
//! a refused privilege said once), `quota_points.rs` the quota answer to
//! points (pure), `snapshot.rs` the `snapshot` control message that tells
//! plugins where a whole quota snapshot begins and ends.

mod perf;
mod perf_exports;
mod perf_points;
mod quota_points;
mod quotas;
mod snapshot;

use std::time::Instant;

use idic_plugin_api::Point;

use crate::collect::schedule;
use crate::config::Config;
use crate::deliver::Delivery;
use crate::onefs::{self, Client};
use crate::pool::Pool;
use crate::supervise::Target;

pub use quota_points::MEASUREMENT as QUOTA_MEASUREMENT;

/// The sources of one cluster beside its statistics, with their timers.
pub struct Sources {
    timers: Vec<Timer>,
}

/// A source and when it runs.
struct Timer {
    /// When its current run began to be due (its next one is an interval later).
    due: Instant,
    /// When its next request is due: `due`, or the end of its last request
    /// while a run takes several.
    next: Instant,
    source: Source,
}

/// One source.
enum Source {
    Quotas(quotas::QuotaSource),
    Perf(perf::PerfSource),
}

/// What a source's run did, for the cluster's task.
pub enum Ran {
    /// Done (points delivered, or a failure logged); nothing for the task to do.
    Done,
    /// One request of a run that needs more: the source is due again at once,
    /// after any statistics timer already due.
    More,
    /// The cluster could not be reached: every timer of the cluster should
    /// wait the shared back-off.
    Unreachable {
        /// Which source (for the log: "quotas", "partitioned performance").
        source: &'static str,
        /// What happened.
        error: onefs::Error,
    },
}

/// Where a source's points go and how the plugins hear of a snapshot.
pub struct Outlet<'a> {
    /// The cluster's name (as its points' `cluster` tag and the sinks know it).
    pub cluster: &'a str,
    /// One delivery per sink.
    pub deliveries: &'a [Delivery],
    /// The sinks, whose plugins get the `snapshot` control message.
    pub targets: &'a [Target],
    /// The pool plugin calls run on.
    pub sinks_pool: &'a Pool,
}

impl Sources {
    /// The sources enabled for cluster `index` of `config`, first due at `now`
    /// (a quota snapshot an hour after start would leave dashboards empty for
    /// an hour).
    pub fn new(config: &Config, index: usize, now: Instant) -> Sources {
        let mut timers = Vec::new();
        let cluster = &config.clusters[index];
        if config.quotas_enabled(cluster) {
            timers.push(Timer {
                due: now,
                next: now,
                source: Source::Quotas(quotas::QuotaSource::new(config.quotas.clone())),
            });
        }
        if config.partitioned_performance_enabled(cluster) {
            timers.push(Timer {
                due: now,
                next: now,
                source: Source::Perf(perf::PerfSource::new(
                    config.partitioned_performance.clone(),
                )),
            });
        }
        Sources { timers }
    }

    /// When the next source is due, if any is enabled.
    pub fn next_due(&self) -> Option<Instant> {
        self.timers.iter().map(|t| t.next).min()
    }

    /// Runs the source that is due first and sets its next due time (its own
    /// interval, without drift). `client` is the cluster's, shared with the
    /// statistics.
    pub async fn run_next(&mut self, client: &mut Client, out: &Outlet<'_>) -> Ran {
        let Some(timer) = self.timers.iter_mut().min_by_key(|t| t.next) else {
            return Ran::Done;
        };
        let (ran, interval) = match &mut timer.source {
            Source::Quotas(q) => (q.run(client, out).await, q.interval()),
            Source::Perf(p) => (p.run(client, out).await, p.interval()),
        };
        let now = Instant::now();
        if matches!(ran, Ran::More) {
            timer.next = now;
        } else {
            timer.due = schedule::next_due(timer.due, interval, now);
            timer.next = timer.due;
        }
        ran
    }

    /// Puts every source's next run after `until` (the shared back-off of a
    /// cluster that could not be reached).
    pub fn wait_until(&mut self, until: Instant) {
        for t in &mut self.timers {
            t.next = t.next.max(until);
        }
    }
}

/// Pushes `points`, one batch decoded once, to every sink.
fn deliver(out: &Outlet<'_>, points: Vec<Point>) {
    let batch = std::sync::Arc::new(points);
    for d in out.deliveries {
        d.push(std::sync::Arc::clone(&batch));
    }
}
