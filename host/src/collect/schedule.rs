//! When to fetch what: each statistic's interval, the buckets of keys fetched
//! together, each cluster's phase, and drift-free timers.
//!
//! Pure functions; the cluster task in `cluster.rs` runs them. Every duration
//! computed here is bounded ([`MAX_INTERVAL`]), whatever the config or the cluster
//! says, so no time computation can overflow.

use std::collections::{BTreeMap, HashMap};
use std::time::{Duration, Instant};

use super::decode::SummaryKind;
use crate::config::{StatGroup, SummaryStats, UpdateInterval};
use crate::onefs::KeyMeta;

/// The longest interval idic schedules (one day), whatever the config or a
/// cluster's metadata asks for.
pub const MAX_INTERVAL: u64 = 86_400;

/// How often summary statistics are fetched, when enabled.
pub const SUMMARY_INTERVAL: Duration = Duration::from_secs(5);

/// Keys fetched together on one timer.
#[derive(Debug, Clone, PartialEq)]
pub struct Bucket {
    /// For logs: `every 30 s` or `cluster_cpu_stats every 30 s`.
    pub name: String,
    /// The timer's period.
    pub interval: Duration,
    /// What is fetched.
    pub what: Fetch,
}

/// What a bucket fetches.
#[derive(Debug, Clone, PartialEq)]
pub enum Fetch {
    /// Current values of these keys.
    Stats(Vec<String>),
    /// One summary endpoint.
    Summary(SummaryKind),
}

/// A statistic's interval in seconds: the group's absolute seconds or multiple of
/// the key's own interval, never below `min`; a key with no interval uses `min`.
/// Always within 1..=[`MAX_INTERVAL`].
pub fn stat_interval(group: UpdateInterval, key_interval: u64, min: u64) -> u64 {
    let secs = match group {
        UpdateInterval::Absolute(s) => s,
        _ if key_interval == 0 => min,
        UpdateInterval::Own => key_interval,
        // `as` saturates: NaN becomes 0, huge products u64::MAX.
        UpdateInterval::Multiplier(m) => (m * key_interval as f64).round() as u64,
    };
    secs.max(min).clamp(1, MAX_INTERVAL)
}

/// Groups the keys the cluster knows into buckets: by interval across groups, or
/// by (group, interval) with `fetch_by_statgroup`. Keys missing from `metas` (the
/// cluster does not know them) are left out.
pub fn buckets(
    groups: &[StatGroup],
    metas: &HashMap<String, KeyMeta>,
    min: u64,
    by_group: bool,
) -> Vec<Bucket> {
    let mut map: BTreeMap<(String, u64), Vec<String>> = BTreeMap::new();
    for group in groups {
        for key in &group.stats {
            let Some(meta) = metas.get(key) else { continue };
            let secs = stat_interval(group.update_interval, meta.interval, min);
            let owner = if by_group {
                group.name.clone()
            } else {
                String::new()
            };
            map.entry((owner, secs)).or_default().push(key.clone());
        }
    }
    map.into_iter()
        .map(|((owner, secs), keys)| Bucket {
            name: if owner.is_empty() {
                format!("every {secs} s")
            } else {
                format!("{owner} every {secs} s")
            },
            interval: Duration::from_secs(secs),
            what: Fetch::Stats(keys),
        })
        .collect()
}

/// One 5 s bucket per summary endpoint enabled in `[summary_stats]`.
pub fn summary_buckets(enabled: SummaryStats) -> Vec<Bucket> {
    [
        (enabled.protocol, SummaryKind::Protocol),
        (enabled.client, SummaryKind::Client),
        (enabled.drive, SummaryKind::Drive),
    ]
    .into_iter()
    .filter(|(on, _)| *on)
    .map(|(_, kind)| Bucket {
        name: kind.measurement().to_string(),
        interval: SUMMARY_INTERVAL,
        what: Fetch::Summary(kind),
    })
    .collect()
}

/// The next due time after a cycle due at `prev`: `prev + interval`, or the first
/// multiple of `interval` after `now` when cycles were missed (no catch-up burst).
/// `interval` is at most [`MAX_INTERVAL`] (the buckets guarantee it).
pub fn next_due(prev: Instant, interval: Duration, now: Instant) -> Instant {
    let interval = interval.clamp(Duration::from_millis(1), Duration::from_secs(MAX_INTERVAL));
    let next = prev + interval;
    if next > now {
        return next;
    }
    let behind = now.duration_since(prev);
    let periods = behind.as_nanos() / interval.as_nanos() + 1;
    prev + interval * u32::try_from(periods).unwrap_or(u32::MAX)
}

/// No source request (quotas, partitioned performance) starts less than this
/// before a statistics request is due, or a quarter of the statistics interval
/// when that is shorter (so that sources still run beside statistics fetched
/// every second).
pub const SOURCE_MARGIN: Duration = Duration::from_secs(1);

/// Whether a source's request that can start at `start` goes before the
/// statistics request due at `live` (its timer's period `interval`): only when
/// it starts at least [`SOURCE_MARGIN`] before it. Statistics that are due, or
/// overdue on a loaded machine, go first even when a source fell due earlier:
/// a statistics answer holds the values of the time bucket the request reaches
/// the cluster in, so each request a source slips in before it can cost a
/// cycle, while a quota snapshot or a workload reading a little later loses
/// nothing.
pub fn source_goes_first(start: Instant, live: Instant, interval: Duration) -> bool {
    start + SOURCE_MARGIN.min(interval / 4) <= live
}

/// A cluster's phase: where in every interval its timers fire, as a fraction of
/// the interval from 0.1 to 0.9 (never near the boundary of the cluster's own
/// time buckets). Stable across runs and versions: FNV-1a (64 bit) of the
/// lower-cased `host:port`, so a thousand clusters spread evenly over the
/// interval instead of firing in the same millisecond. Timestamps come from
/// OneFS, so the phase never changes the data.
pub fn phase(host_port: &str) -> f64 {
    let hash = crate::config::shard::fnv1a64(host_port.to_ascii_lowercase().bytes());
    0.1 + 0.8 * (hash >> 11) as f64 / (1u64 << 53) as f64
}

/// The phase of one of a cluster's timers, so that all of them fire at the same
/// offset past a multiple of their interval: `phase` of the cluster's
/// `shortest` interval. Timers whose intervals are multiples of the shortest
/// (the example config's 5, 10, 15 and 30 s) then fall on the same instants,
/// ticks of the shortest, and the cluster task delivers a tick's points as one
/// batch (one sink write) instead of one per timer. Clusters stay spread by
/// their own phase across the shortest interval.
pub fn timer_phase(phase: f64, interval: Duration, shortest: Duration) -> f64 {
    if interval.is_zero() || shortest >= interval {
        return phase;
    }
    phase * shortest.as_secs_f64() / interval.as_secs_f64()
}

/// How long after `now_unix` (time since the Unix epoch) the first cycle of a
/// timer with this `interval` and `phase` is due: the next instant whose Unix time
/// is `k * interval + phase * interval`.
pub fn first_delay(now_unix: Duration, interval: Duration, phase: f64) -> Duration {
    let interval = interval.clamp(Duration::from_millis(1), Duration::from_secs(MAX_INTERVAL));
    let period = interval.as_nanos();
    let offset = interval.mul_f64(phase.clamp(0.0, 1.0)).as_nanos() % period;
    let into = (now_unix.as_nanos() + period - offset) % period;
    let wait = (period - into) % period;
    Duration::from_nanos(wait as u64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timers_of_multiple_intervals_fall_on_the_shortest_ones_ticks() {
        let shortest = Duration::from_secs(5);
        for phase in [0.1, 0.37, 0.5, 0.9] {
            for now in [0u64, 1_700_000_003, 1_700_000_017] {
                let now = Duration::from_millis(now * 1000 + 123);
                let tick = first_delay(now, shortest, phase);
                for secs in [10, 15, 30] {
                    let interval = Duration::from_secs(secs);
                    let first = first_delay(now, interval, timer_phase(phase, interval, shortest));
                    // The first cycle is one of the shortest timer's ticks.
                    let apart = first.abs_diff(tick).as_nanos() % shortest.as_nanos();
                    let apart = apart.min(shortest.as_nanos() - apart);
                    assert!(
                        apart < 1_000,
                        "phase {phase} interval {secs} s: {apart} ns off"
                    );
                }
            }
        }
        assert_eq!(timer_phase(0.3, shortest, shortest), 0.3);
    }

    fn meta(key: &str, interval: u64) -> (String, KeyMeta) {
        (
            key.to_string(),
            KeyMeta {
                key: key.to_string(),
                description: String::new(),
                units: String::new(),
                interval,
                has_history: true,
            },
        )
    }

    fn group(name: &str, interval: UpdateInterval, stats: &[&str]) -> StatGroup {
        StatGroup {
            name: name.to_string(),
            update_interval: interval,
            stats: stats.iter().map(|s| s.to_string()).collect(),
        }
    }

    #[test]
    fn intervals_follow_the_group_rule_and_the_floor() {
        assert_eq!(stat_interval(UpdateInterval::Own, 5, 30), 30);
        assert_eq!(stat_interval(UpdateInterval::Own, 60, 30), 60);
        assert_eq!(stat_interval(UpdateInterval::Own, 0, 5), 5);
        assert_eq!(stat_interval(UpdateInterval::Multiplier(2.5), 10, 5), 25);
        assert_eq!(stat_interval(UpdateInterval::Multiplier(3.0), 0, 5), 5);
        assert_eq!(stat_interval(UpdateInterval::Absolute(120), 5, 30), 120);
        assert_eq!(stat_interval(UpdateInterval::Absolute(1), 5, 30), 30);
    }

    #[test]
    fn keys_with_the_same_interval_share_a_bucket_across_groups() {
        let metas: HashMap<_, _> = [meta("a", 5), meta("b", 5), meta("c", 30)].into();
        let groups = [
            group("g1", UpdateInterval::Own, &["a", "c"]),
            group("g2", UpdateInterval::Own, &["b", "unknown"]),
        ];
        let b = buckets(&groups, &metas, 5, false);
        assert_eq!(b.len(), 2);
        assert_eq!(b[0].what, Fetch::Stats(vec!["a".into(), "b".into()]));
        assert_eq!(b[0].interval, Duration::from_secs(5));
        assert_eq!(b[1].what, Fetch::Stats(vec!["c".into()]));
    }

    #[test]
    fn fetch_by_statgroup_keeps_groups_apart() {
        let metas: HashMap<_, _> = [meta("a", 5), meta("b", 5)].into();
        let groups = [
            group("g1", UpdateInterval::Own, &["a"]),
            group("g2", UpdateInterval::Own, &["b"]),
        ];
        let b = buckets(&groups, &metas, 5, true);
        assert_eq!(b.len(), 2);
        assert_eq!(b[0].name, "g1 every 5 s");
    }

    #[test]
    fn each_enabled_summary_gets_a_5_s_bucket() {
        let b = summary_buckets(SummaryStats {
            protocol: true,
            client: false,
            drive: true,
        });
        assert_eq!(b.len(), 2);
        assert_eq!(b[0].what, Fetch::Summary(SummaryKind::Protocol));
        assert_eq!(b[1].what, Fetch::Summary(SummaryKind::Drive));
        assert!(b.iter().all(|b| b.interval == SUMMARY_INTERVAL));
    }

    #[test]
    fn sources_go_first_only_well_before_a_statistics_request() {
        let t0 = Instant::now();
        let s = |ms: u64| t0 + Duration::from_millis(ms);
        let five = Duration::from_secs(5);
        assert!(source_goes_first(s(0), s(1000), five));
        assert!(source_goes_first(s(0), s(4000), five));
        assert!(!source_goes_first(s(0), s(999), five));
        // Both overdue: the statistics first, whichever fell due earlier.
        assert!(!source_goes_first(s(2000), s(1000), five));
        assert!(!source_goes_first(s(1000), s(1000), five));
        // Statistics every second: a quarter of it.
        let one = Duration::from_secs(1);
        assert!(source_goes_first(s(0), s(250), one));
        assert!(!source_goes_first(s(0), s(249), one));
    }

    #[test]
    fn timers_do_not_drift_or_burst() {
        let t0 = Instant::now();
        let i = Duration::from_secs(10);
        assert_eq!(next_due(t0, i, t0 + Duration::from_secs(3)), t0 + i);
        // 35 s late: next is the next multiple after now, not three catch-up cycles.
        assert_eq!(
            next_due(t0, i, t0 + Duration::from_secs(35)),
            t0 + Duration::from_secs(40)
        );
    }

    #[test]
    fn absurd_intervals_are_bounded() {
        let max = MAX_INTERVAL;
        assert_eq!(stat_interval(UpdateInterval::Multiplier(1e300), 5, 5), max);
        assert_eq!(stat_interval(UpdateInterval::Own, u64::MAX, 5), max);
        assert_eq!(stat_interval(UpdateInterval::Absolute(u64::MAX), 5, 5), max);
        assert_eq!(stat_interval(UpdateInterval::Multiplier(f64::NAN), 5, 5), 5);
        let t0 = Instant::now();
        let far = t0 + Duration::from_secs(10 * 365 * 86_400);
        assert!(next_due(t0, Duration::from_secs(u64::MAX), far) > far);
    }

    #[test]
    fn phases_are_stable_and_away_from_bucket_boundaries() {
        assert_eq!(
            phase("Cluster1.example.com:8080"),
            phase("cluster1.example.com:8080")
        );
        let phases: Vec<f64> = (0..1000)
            .map(|i| phase(&format!("10.0.{}.{}:8080", i / 250, i % 250)))
            .collect();
        assert!(phases.iter().all(|p| (0.1..=0.9).contains(p)));
        // Spread: every tenth of the usable range holds some clusters.
        for slot in 0..8 {
            let lo = 0.1 + 0.1 * slot as f64;
            let n = phases
                .iter()
                .filter(|p| **p >= lo && **p < lo + 0.1)
                .count();
            assert!(n > 60, "{n} clusters in [{lo}, {})", lo + 0.1);
        }
    }

    #[test]
    fn the_first_cycle_falls_on_the_clusters_phase() {
        let i = Duration::from_secs(10);
        // At Unix time 1000.0 with phase 0.25 the grid is ..., 1002.5, 1012.5, ...
        assert_eq!(
            first_delay(Duration::from_secs(1000), i, 0.25),
            Duration::from_millis(2500)
        );
        assert_eq!(
            first_delay(Duration::from_millis(1_003_000), i, 0.25),
            Duration::from_millis(9500)
        );
        assert_eq!(
            first_delay(Duration::from_millis(1_002_500), i, 0.25),
            Duration::ZERO
        );
    }
}
