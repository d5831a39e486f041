//! When to fetch what: each statistic's interval, the buckets of keys fetched
//! together, and drift-free timers.
//!
//! Pure functions; the cluster task in `cluster.rs` runs them.

use std::collections::{BTreeMap, HashMap};
use std::time::{Duration, Instant};

use crate::config::{StatGroup, SummaryStats, UpdateInterval};
use crate::decode::SummaryKind;
use crate::onefs::KeyMeta;

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
pub fn stat_interval(group: UpdateInterval, key_interval: u64, min: u64) -> u64 {
    let secs = match group {
        UpdateInterval::Absolute(s) => s,
        _ if key_interval == 0 => min,
        UpdateInterval::Own => key_interval,
        UpdateInterval::Multiplier(m) => (m * key_interval as f64).round() as u64,
    };
    secs.max(min).max(1)
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
pub fn next_due(prev: Instant, interval: Duration, now: Instant) -> Instant {
    let next = prev + interval;
    if next > now {
        return next;
    }
    let behind = now.duration_since(prev);
    let periods = behind.as_nanos() / interval.as_nanos().max(1) + 1;
    prev + interval.mul_f64(periods as f64)
}

/// Back-off after `failures` failed cycles in a row: 10 s doubling to 1280 s.
pub fn cycle_backoff(failures: u32) -> Duration {
    Duration::from_secs(10u64 << failures.saturating_sub(1).min(7))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn meta(key: &str, interval: u64) -> (String, KeyMeta) {
        (
            key.to_string(),
            KeyMeta {
                key: key.to_string(),
                description: String::new(),
                units: String::new(),
                interval,
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
    fn cycle_backoff_doubles_from_10_to_1280() {
        assert_eq!(cycle_backoff(1), Duration::from_secs(10));
        assert_eq!(cycle_backoff(2), Duration::from_secs(20));
        assert_eq!(cycle_backoff(8), Duration::from_secs(1280));
        assert_eq!(cycle_backoff(30), Duration::from_secs(1280));
    }
}
