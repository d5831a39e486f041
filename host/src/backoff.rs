//! The one back-off of the host: how long to wait after the n-th failure in a row,
//! for connection retries, failed collection cycles and sink retries alike.
//!
//! The wait doubles from a first wait up to a cap (`[global] max_backoff`, 60 s by
//! default), and each wait is drawn uniformly from the upper half of that ceiling
//! (`[ceiling/2, ceiling]`), so that a thousand clusters or writers that failed
//! together do not retry together. A wait never exceeds the cap: whatever an
//! outage's length, what comes back is used again within one cap (plus the
//! request's own timeout).
//!
//! Pure apart from the seed: [`Backoff::with_seed`] makes the sequence repeatable.

use std::collections::hash_map::RandomState;
use std::hash::BuildHasher;
use std::time::Duration;

/// Failures in a row and the jitter's random state.
#[derive(Debug, Clone)]
pub struct Backoff {
    first: Duration,
    cap: Duration,
    failures: u32,
    rng: u64,
}

impl Backoff {
    /// Waits doubling from `first` up to `cap`, randomly seeded.
    pub fn new(first: Duration, cap: Duration) -> Backoff {
        Backoff::with_seed(first, cap, RandomState::new().hash_one(0u8))
    }

    /// The same with a fixed seed (tests).
    pub fn with_seed(first: Duration, cap: Duration, seed: u64) -> Backoff {
        let cap = cap.max(Duration::from_millis(1));
        Backoff {
            first: first.max(Duration::from_millis(1)).min(cap),
            cap,
            failures: 0,
            rng: seed,
        }
    }

    /// Counts one more failure and returns how long to wait before the next try.
    pub fn next_wait(&mut self) -> Duration {
        self.failures = self.failures.saturating_add(1);
        let ceiling = ceiling(self.first, self.cap, self.failures);
        // Uniform in [ceiling/2, ceiling], at millisecond resolution.
        let half = ceiling / 2;
        let spread = (ceiling - half).as_millis() as u64;
        let extra = if spread == 0 {
            0
        } else {
            self.random() % (spread + 1)
        };
        half + Duration::from_millis(extra)
    }

    /// A success: the next failure waits the first wait again.
    pub fn reset(&mut self) {
        self.failures = 0;
    }

    /// Failures in a row so far.
    pub fn failures(&self) -> u32 {
        self.failures
    }

    /// The cap, for waits that should not escalate (a refused password).
    pub fn cap(&self) -> Duration {
        self.cap
    }

    /// splitmix64: small, fast, good enough to spread retries.
    fn random(&mut self) -> u64 {
        self.rng = self.rng.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.rng;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
}

/// The longest wait after `failures` failures in a row: `first * 2^(failures-1)`,
/// at most `cap`. Never overflows.
pub fn ceiling(first: Duration, cap: Duration, failures: u32) -> Duration {
    let doublings = failures.saturating_sub(1).min(30);
    first.saturating_mul(1u32 << doublings).min(cap)
}

#[cfg(test)]
mod tests {
    use super::*;

    const S: fn(u64) -> Duration = Duration::from_secs;

    #[test]
    fn ceiling_doubles_from_the_first_wait_to_the_cap() {
        let got: Vec<u64> = (1..=9).map(|n| ceiling(S(1), S(60), n).as_secs()).collect();
        assert_eq!(got, [1, 2, 4, 8, 16, 32, 60, 60, 60]);
        assert_eq!(ceiling(S(5), S(60), u32::MAX), S(60));
    }

    #[test]
    fn every_wait_lies_in_the_upper_half_of_its_ceiling_and_never_above_the_cap() {
        for seed in 0..200 {
            let mut b = Backoff::with_seed(S(1), S(60), seed);
            for n in 1..=20 {
                let c = ceiling(S(1), S(60), n);
                let w = b.next_wait();
                assert!(
                    w >= c / 2 && w <= c,
                    "seed {seed} failure {n}: {w:?} vs {c:?}"
                );
            }
        }
    }

    #[test]
    fn waits_of_clusters_that_failed_together_are_spread() {
        let waits: std::collections::BTreeSet<Duration> = (0..100)
            .map(|seed| {
                let mut b = Backoff::with_seed(S(1), S(60), seed);
                (0..10).map(|_| b.next_wait()).last().unwrap()
            })
            .collect();
        assert!(waits.len() > 50, "only {} distinct waits", waits.len());
    }

    #[test]
    fn a_success_starts_the_doubling_again() {
        let mut b = Backoff::with_seed(S(1), S(60), 7);
        for _ in 0..10 {
            b.next_wait();
        }
        b.reset();
        assert_eq!(b.failures(), 0);
        assert!(b.next_wait() <= S(1));
    }

    #[test]
    fn a_first_wait_above_the_cap_is_capped() {
        let mut b = Backoff::with_seed(S(5), S(2), 1);
        assert!(b.next_wait() <= S(2));
    }
}
