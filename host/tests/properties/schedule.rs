//! The scheduler's promises, over weeks of simulated time with an injected
//! clock: the cluster task's loop (`first_delay`, then `next_due` after each
//! cycle) replayed with random intervals, phases, start times and cycle lengths.
//!
//! - no drift: every due time falls on the timer's grid, `k * interval + phase *
//!   interval` in Unix time;
//! - no burst: a cycle is never due before the previous one ended, so a late
//!   cycle is followed by at most one cycle, not a catch-up series;
//! - every key at its interval: a cycle that ends within its interval is followed
//!   by the very next grid point (every expected timestamp present), and a late
//!   one by the first grid point after it ended (only the ticks it overlapped are
//!   skipped).

use std::time::{Duration, Instant};

use idic::collect::schedule::{first_delay, next_due, phase};
use proptest::prelude::*;

/// One timer replayed for `cycles` cycles, each taking the next of `work`
/// (in milliseconds, cycled); checks every promise and returns the number of
/// skipped grid points.
fn replay(start_unix_ms: u64, interval_s: u64, host: &str, work: &[u64], cycles: usize) -> u64 {
    let interval = Duration::from_secs(interval_s);
    let phase = phase(host);
    let t0 = Instant::now();
    let start_unix = Duration::from_millis(start_unix_ms);
    let unix_at = |t: Instant| start_unix + t.duration_since(t0);
    let on_grid = |t: Instant| {
        let offset = interval.mul_f64(phase).as_nanos() % interval.as_nanos();
        let into = (unix_at(t).as_nanos() + interval.as_nanos() - offset) % interval.as_nanos();
        // first_delay rounds to whole nanoseconds.
        into <= 1 || into >= interval.as_nanos() - 1
    };
    let mut due = t0 + first_delay(start_unix, interval, phase);
    assert!(
        due.duration_since(t0) <= interval,
        "the first cycle within one interval"
    );
    let mut skipped = 0;
    for i in 0..cycles {
        assert!(on_grid(due), "cycle {i} off the grid: drift");
        let ended = due + Duration::from_millis(work[i % work.len()]);
        let next = next_due(due, interval, ended);
        assert!(
            next > ended,
            "cycle {i}: next due before the cycle ended: a burst"
        );
        let periods = next.duration_since(due).as_nanos() / interval.as_nanos();
        assert_eq!(
            next.duration_since(due).as_nanos() % interval.as_nanos(),
            0,
            "cycle {i}: not a whole number of intervals"
        );
        let overlapped = ended.duration_since(due).as_nanos() / interval.as_nanos();
        assert_eq!(
            periods,
            overlapped + 1,
            "cycle {i}: the first grid point after the cycle, no later"
        );
        skipped += (periods - 1) as u64;
        due = next;
    }
    skipped
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn timers_stay_on_their_grid_without_bursts_over_weeks(
        start_unix_ms in 1_500_000_000_000u64..2_000_000_000_000,
        interval_s in prop_oneof![Just(5u64), Just(10), Just(30), Just(300), 1u64..=86_400],
        host in "[a-z0-9.]{1,20}:[0-9]{2,5}",
        work in prop::collection::vec(0u64..120_000, 1..16),
    ) {
        // At least four weeks of cycles.
        let cycles = (28 * 86_400 / interval_s).clamp(200, 20_000) as usize;
        replay(start_unix_ms, interval_s, &host, &work, cycles);
    }

    #[test]
    fn cycles_shorter_than_the_interval_miss_no_timestamp(
        start_unix_ms in 1_500_000_000_000u64..2_000_000_000_000,
        interval_s in 1u64..=3_600,
        host in "[a-z0-9.]{1,20}:[0-9]{2,5}",
        work_fraction in prop::collection::vec(0.0f64..0.99, 1..16),
    ) {
        let work: Vec<u64> = work_fraction
            .iter()
            .map(|f| (f * interval_s as f64 * 1000.0) as u64)
            .collect();
        let cycles = (14 * 86_400 / interval_s).clamp(200, 20_000) as usize;
        prop_assert_eq!(replay(start_unix_ms, interval_s, &host, &work, cycles), 0);
    }
}
