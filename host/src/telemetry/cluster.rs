//! The per-cluster handle: a cluster task makes one when it is connected and
//! reports each cycle to it with one call ([`ClusterMetrics::cycle`]); the
//! label values are looked up once, so a cycle costs a few atomic additions.

use std::sync::atomic::Ordering;
use std::time::Duration;

use prometheus::{Histogram, IntCounter, IntGauge};

use super::metrics::global;

/// What one cycle did.
#[derive(Debug, Clone, Copy, Default)]
pub struct Cycle {
    /// From the first request to the decoded points.
    pub duration: Duration,
    /// Whether it failed (nothing was delivered).
    pub failed: bool,
    /// A successful cycle that ended after its next slot.
    pub late: bool,
    /// Bytes of answers decoded.
    pub answer_bytes: u64,
    /// Points decoded.
    pub points: u64,
    /// Keys the answers left out.
    pub keys_skipped: u64,
    /// The client's session logins so far (a running total; the handle counts the
    /// difference).
    pub logins: u64,
}

/// One connected cluster's counters. Dropping it (the task ends or is
/// restarted) marks the cluster disconnected.
pub struct ClusterMetrics {
    cycles: IntCounter,
    late: IntCounter,
    failed: IntCounter,
    poll: Histogram,
    bytes: IntCounter,
    points: IntCounter,
    skipped: IntCounter,
    logins: IntCounter,
    connected: IntGauge,
    logins_seen: u64,
}

impl ClusterMetrics {
    /// `cluster` (its name as tagged) is connected.
    pub fn connected(cluster: &str) -> ClusterMetrics {
        let m = global();
        let l = [cluster];
        let connected = m.connected_gauge(cluster);
        connected.inc();
        m.readiness
            .clusters_connected
            .fetch_add(1, Ordering::Relaxed);
        ClusterMetrics {
            cycles: m.cycles.with_label_values(&l),
            late: m.cycles_late.with_label_values(&l),
            failed: m.cycles_failed.with_label_values(&l),
            poll: m.poll_seconds.with_label_values(&l),
            bytes: m.answer_bytes.with_label_values(&l),
            points: m.points.with_label_values(&l),
            skipped: m.keys_skipped.with_label_values(&l),
            logins: m.logins.with_label_values(&l),
            connected,
            logins_seen: 0,
        }
    }

    /// Counts one cycle.
    pub fn cycle(&mut self, c: Cycle) {
        self.poll.observe(c.duration.as_secs_f64());
        if c.failed {
            self.failed.inc();
        } else {
            self.cycles.inc();
            if c.late {
                self.late.inc();
            }
        }
        self.bytes.inc_by(c.answer_bytes);
        self.points.inc_by(c.points);
        self.skipped.inc_by(c.keys_skipped);
        self.logins
            .inc_by(c.logins.saturating_sub(self.logins_seen));
        self.logins_seen = self.logins_seen.max(c.logins);
    }
}

impl Drop for ClusterMetrics {
    fn drop(&mut self) {
        self.connected.dec();
        global()
            .readiness
            .clusters_connected
            .fetch_sub(1, Ordering::Relaxed);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_cycle_counts_its_work_and_logins_once() {
        let mut m = ClusterMetrics::connected("unit-test-cluster");
        assert!(global().clusters_connected() >= 1);
        let ok = Cycle {
            duration: Duration::from_millis(20),
            answer_bytes: 100,
            points: 7,
            keys_skipped: 1,
            logins: 1,
            ..Cycle::default()
        };
        m.cycle(ok);
        m.cycle(Cycle { late: true, ..ok });
        m.cycle(Cycle {
            failed: true,
            late: true,
            ..Cycle::default()
        });
        assert_eq!(m.cycles.get(), 2);
        assert_eq!(m.late.get(), 1);
        assert_eq!(m.failed.get(), 1);
        assert_eq!(m.points.get(), 14);
        assert_eq!(m.bytes.get(), 200);
        assert_eq!(m.logins.get(), 1, "a running total is counted once");
        assert_eq!(m.poll.get_sample_count(), 3);
        assert_eq!(m.connected.get(), 1);
        drop(m);
        let text = global().render();
        assert!(
            text.contains("idic_cluster_connected{cluster=\"unit-test-cluster\"} 0"),
            "{text}"
        );
    }
}
