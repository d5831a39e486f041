//! What is done about keys that answer badly, per cluster: keys a cluster says it
//! does not have (error codes 1, 2, 9, 10) stay out until the next reconnect;
//! keys whose value is of an unusable type are set aside and asked again later
//! with a back-off (a re-probe), never dropped for the life of the process by one
//! bad answer; keys skipped this time are only warned about; and (with
//! `-check-stat-return`) requested keys missing from an answer are reported.
//!
//! Pure bookkeeping with the time passed in ([`KeyCare`]); the cluster task calls
//! it around each cycle. It logs, once per key and episode, and keeps nothing of
//! the answers themselves.

use std::collections::{BTreeSet, HashMap, HashSet};
use std::time::{Duration, Instant};

use super::decode::Problem;
use super::schedule::{Bucket, Fetch};

/// The longest wait between two re-probes of a key with unusable values.
pub const MAX_REPROBE_WAIT: Duration = Duration::from_secs(3600);

/// How many intervals of its bucket a key with unusable values first waits before
/// it is asked again; the wait then doubles up to [`MAX_REPROBE_WAIT`].
pub const FIRST_REPROBE_INTERVALS: u32 = 2;

/// The keys of one cluster that are out of their buckets, and why.
#[derive(Debug, Default)]
pub struct KeyCare {
    /// Keys with unusable values, waiting for their re-probe.
    parked: Vec<Parked>,
    /// Keys back in their bucket for a re-probe: (bucket, key) to the wait that
    /// preceded it (the next one doubles it).
    probing: HashMap<(usize, String), Duration>,
    /// Keys the cluster does not have: (bucket, key), back on reconnect.
    unavailable: Vec<(usize, String)>,
    /// Keys already warned about in their current episode.
    warned: HashSet<String>,
}

/// A key with unusable values waiting for its re-probe.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Parked {
    bucket: usize,
    key: String,
    retry_at: Instant,
    wait: Duration,
}

impl KeyCare {
    /// Acts on the per-key problems of a successful cycle of bucket number
    /// `index`: takes out unavailable and unusable keys (warned once per key and
    /// episode), warns about skipped ones, and notes the re-probed keys that
    /// answered well this time (they are back for good).
    pub fn handle(
        &mut self,
        cluster: &str,
        index: usize,
        bucket: &mut Bucket,
        problems: &[Problem],
        now: Instant,
    ) {
        let mut unusable: Vec<(&str, &str)> = Vec::new();
        for p in problems {
            match p {
                Problem::Unavailable { key, code, error } => {
                    if take_out(bucket, key) {
                        self.probing.remove(&(index, key.clone()));
                        self.unavailable.push((index, key.clone()));
                    }
                    if self.warned.insert(key.clone()) {
                        log::warn!("cluster={cluster} statistic {key:?} is unavailable (error_code {code}: {error}); no longer asking for it until the next reconnect");
                    }
                }
                Problem::Unusable { key, why, .. } => {
                    if take_out(bucket, key) {
                        let wait = match self.probing.remove(&(index, key.clone())) {
                            Some(prev) => prev.saturating_mul(2).min(MAX_REPROBE_WAIT),
                            None => first_wait(bucket.interval),
                        };
                        self.parked.push(Parked {
                            bucket: index,
                            key: key.clone(),
                            retry_at: now + wait,
                            wait,
                        });
                        if self.warned.insert(key.clone()) {
                            unusable.push((key, why));
                        } else {
                            log::debug!("cluster={cluster} statistic {key:?} still has no usable value ({why}); asking again in {} s", wait.as_secs());
                        }
                    }
                }
                Problem::Skipped {
                    key,
                    devid,
                    code,
                    error,
                } => {
                    log::warn!("cluster={cluster} statistic {key:?} devid {devid} skipped this time (error_code {code}: {error})");
                }
                Problem::UnknownCode {
                    key,
                    devid,
                    code,
                    error,
                } => {
                    log::error!("cluster={cluster} statistic {key:?} devid {devid} answered unknown error_code {code} ({error}); skipped");
                }
            }
        }
        if let Some((first, why)) = unusable.first() {
            let keys: Vec<String> = unusable.iter().map(|(k, _)| format!("{k:?}")).collect();
            log::warn!(
                "cluster={cluster} {} statistic(s) answered no usable value (e.g. {first:?}: {why}); they are skipped and asked again in {} s, then less and less often: {}",
                keys.len(),
                first_wait(bucket.interval).as_secs(),
                keys.join(", ")
            );
        }
        let Fetch::Stats(keys) = &bucket.what else {
            return;
        };
        let recovered: Vec<String> = self
            .probing
            .keys()
            .filter(|(b, k)| *b == index && keys.contains(k))
            .map(|(_, k)| k.clone())
            .collect();
        for key in recovered {
            self.probing.remove(&(index, key.clone()));
            self.warned.remove(&key);
            log::info!("cluster={cluster} statistic {key:?} answers usable values again; collecting it again");
        }
    }

    /// Puts back into bucket number `index` the keys whose re-probe is due at
    /// `now`, before that bucket's cycle.
    pub fn reprobe_due(&mut self, cluster: &str, index: usize, bucket: &mut Bucket, now: Instant) {
        let Fetch::Stats(keys) = &mut bucket.what else {
            return;
        };
        let mut i = 0;
        while i < self.parked.len() {
            let p = &self.parked[i];
            if p.bucket == index && p.retry_at <= now {
                let p = self.parked.swap_remove(i);
                log::debug!(
                    "cluster={cluster} asking again for statistic {:?}, which had no usable value",
                    p.key
                );
                keys.push(p.key.clone());
                self.probing.insert((index, p.key), p.wait);
            } else {
                i += 1;
            }
        }
    }

    /// After a reconnect: every key taken out goes back, as (bucket number, key)
    /// for the caller to put back into its bucket, and is warned about again if
    /// it answers badly again.
    pub fn reconnected(&mut self) -> Vec<(usize, String)> {
        let back = self
            .parked
            .drain(..)
            .map(|p| (p.bucket, p.key))
            .chain(self.unavailable.drain(..))
            .collect();
        self.probing.clear();
        self.warned.clear();
        back
    }

    /// Whether keys are waiting to be asked again.
    pub fn has_parked(&self) -> bool {
        !self.parked.is_empty()
    }
}

/// The first wait of a key with unusable values in a bucket of this interval.
fn first_wait(interval: Duration) -> Duration {
    interval
        .saturating_mul(FIRST_REPROBE_INTERVALS)
        .min(MAX_REPROBE_WAIT)
}

/// Removes `key` from the bucket; whether it was there.
fn take_out(bucket: &mut Bucket, key: &str) -> bool {
    let Fetch::Stats(keys) = &mut bucket.what else {
        return false;
    };
    let before = keys.len();
    keys.retain(|k| k != key);
    keys.len() != before
}

/// `-check-stat-return`: warns about every requested key the answer lacks.
pub fn report_missing(cluster: &str, what: &Fetch, seen: &BTreeSet<String>) {
    if let Fetch::Stats(keys) = what {
        for k in keys.iter().filter(|k| !seen.contains(*k)) {
            log::warn!(
                "cluster={cluster} statistic {k:?} was requested but is missing from the answer"
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn bucket(keys: &[&str]) -> Bucket {
        Bucket {
            name: "every 5 s".into(),
            interval: Duration::from_secs(5),
            what: Fetch::Stats(keys.iter().map(|k| k.to_string()).collect()),
        }
    }

    fn keys(b: &Bucket) -> Vec<&str> {
        match &b.what {
            Fetch::Stats(k) => k.iter().map(String::as_str).collect(),
            Fetch::Summary(_) => Vec::new(),
        }
    }

    fn unusable(key: &str) -> Problem {
        Problem::Unusable {
            key: key.into(),
            devid: 0,
            why: "the value is a string".into(),
        }
    }

    fn unavailable(key: &str) -> Problem {
        Problem::Unavailable {
            key: key.into(),
            code: 1,
            error: "statistic not present".into(),
        }
    }

    #[test]
    fn an_unusable_key_is_asked_again_after_two_intervals_then_less_often() {
        let t0 = Instant::now();
        let mut care = KeyCare::default();
        let mut b = bucket(&["a", "b"]);
        care.handle("c", 0, &mut b, &[unusable("b")], t0);
        assert_eq!(keys(&b), ["a"]);
        care.reprobe_due("c", 0, &mut b, t0 + Duration::from_secs(9));
        assert_eq!(keys(&b), ["a"], "not before two intervals");
        care.reprobe_due("c", 0, &mut b, t0 + Duration::from_secs(10));
        assert_eq!(keys(&b), ["a", "b"], "re-probed after 10 s");
        let t1 = t0 + Duration::from_secs(10);
        care.handle("c", 0, &mut b, &[unusable("b")], t1);
        care.reprobe_due("c", 0, &mut b, t1 + Duration::from_secs(19));
        assert_eq!(keys(&b), ["a"], "the second wait is doubled");
        care.reprobe_due("c", 0, &mut b, t1 + Duration::from_secs(20));
        assert_eq!(keys(&b), ["a", "b"]);
    }

    #[test]
    fn the_reprobe_wait_stops_growing_at_an_hour() {
        let mut t = Instant::now();
        let mut care = KeyCare::default();
        let mut b = bucket(&["a"]);
        for _ in 0..20 {
            care.handle("c", 0, &mut b, &[unusable("a")], t);
            t += MAX_REPROBE_WAIT;
            care.reprobe_due("c", 0, &mut b, t);
            assert_eq!(keys(&b), ["a"], "back within an hour, every time");
        }
    }

    #[test]
    fn a_reprobed_key_that_answers_well_starts_over_with_the_first_wait() {
        let t0 = Instant::now();
        let mut care = KeyCare::default();
        let mut b = bucket(&["a"]);
        care.handle("c", 0, &mut b, &[unusable("a")], t0);
        let t1 = t0 + Duration::from_secs(10);
        care.reprobe_due("c", 0, &mut b, t1);
        care.handle("c", 0, &mut b, &[], t1);
        assert!(care.probing.is_empty() && care.warned.is_empty() && !care.has_parked());
        care.handle("c", 0, &mut b, &[unusable("a")], t1);
        care.reprobe_due("c", 0, &mut b, t1 + Duration::from_secs(10));
        assert_eq!(keys(&b), ["a"], "a new episode waits two intervals again");
    }

    #[test]
    fn unavailable_keys_stay_out_until_a_reconnect() {
        let t0 = Instant::now();
        let mut care = KeyCare::default();
        let mut b = bucket(&["a", "b"]);
        care.handle("c", 0, &mut b, &[unavailable("a"), unusable("b")], t0);
        care.reprobe_due("c", 0, &mut b, t0 + Duration::from_secs(86_400));
        assert_eq!(keys(&b), ["b"], "only the unusable key is re-probed");
        care.handle("c", 0, &mut b, &[unusable("b")], t0);
        let mut back = care.reconnected();
        back.sort();
        assert_eq!(back, [(0, "a".to_string()), (0, "b".to_string())]);
        assert!(!care.has_parked());
    }

    #[test]
    fn keys_of_other_buckets_wait_for_their_own_bucket() {
        let t0 = Instant::now();
        let mut care = KeyCare::default();
        let mut fast = bucket(&["a"]);
        let mut slow = bucket(&["z"]);
        care.handle("c", 1, &mut slow, &[unusable("z")], t0);
        care.reprobe_due("c", 0, &mut fast, t0 + Duration::from_secs(60));
        assert_eq!(keys(&fast), ["a"]);
        care.reprobe_due("c", 1, &mut slow, t0 + Duration::from_secs(60));
        assert_eq!(keys(&slow), ["z"]);
    }
}
