//! Fault injection: added latency, a fraction of 500/503 answers, dropped connections,
//! a cluster going down and up, forced session expiry, hostile answers (truncated JSON,
//! HTML pages, values of the wrong type, random bytes, huge or oversized bodies, a body
//! at a byte a second, a connection reset mid-body; for every answer or for the next
//! N), per-key errors and a degraded node, settable at start ([`FaultSettings`] in the cluster spec) and
//! while running ([`Faults`], or `POST /sim/faults`).
//!
//! This file owns the fault state and the decision for each request; `server` applies
//! the decision (sleep, drop, error page, body rewrite) and the listener's down state.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use crate::state::ClusterState;

/// Faults of one cluster.
#[derive(Clone, Debug, PartialEq)]
pub struct FaultSettings {
    /// Added before every answer to a non-`/sim` request.
    ///
    /// Default: zero.
    pub latency: Duration,
    /// Fraction (0.0..=1.0) of requests answered with `error_status` instead.
    ///
    /// Default: 0.
    pub error_rate: f64,
    /// Status of injected errors: 500 (OneFS errors body) or 503 (HTML page).
    ///
    /// Default: 500.
    pub error_status: u16,
    /// Fraction (0.0..=1.0) of requests whose connection is closed without an answer.
    ///
    /// Default: 0.
    pub drop_rate: f64,
    /// The cluster refuses connections (its listener is closed).
    ///
    /// Default: false.
    pub down: bool,
    /// Every `/platform` answer's body is replaced by a malformed one.
    ///
    /// Default: none.
    pub malformed: Option<Malformed>,
    /// How many more `/platform` answers get `malformed` before it clears itself;
    /// `None` for every answer until changed.
    ///
    /// Default: none (every answer).
    pub malformed_left: Option<u64>,
}

/// A malformed (hostile) answer.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Malformed {
    /// The real JSON cut in half (Content-Length matches the cut body).
    TruncatedJson,
    /// Status 200 with an HTML error page instead of JSON.
    HtmlPage,
    /// A valid but 32 MiB JSON body.
    HugeBody,
    /// Valid JSON whose statistics values have the wrong type: each entry's `value`
    /// becomes in turn a string, a list of strings or an object of strings, and
    /// every number of a summary row a string.
    WrongTypes,
    /// As many pseudo-random bytes as the real body, labelled JSON.
    RandomBytes,
    /// [`OVERSIZED_BODY_BYTES`] without a Content-Length, until the connection
    /// closes: only a streaming size limit stops reading it.
    Oversized,
    /// The real answer's head, then its body at one byte per [`SLOW_BODY_PACE`].
    SlowBody,
    /// The real answer's head and half its body, then a TCP reset.
    ResetMidBody,
}

/// Size of a [`Malformed::HugeBody`] answer.
pub const HUGE_BODY_BYTES: usize = 32 << 20;

/// Size of a [`Malformed::Oversized`] answer (200 MiB).
pub const OVERSIZED_BODY_BYTES: usize = 200 << 20;

/// The pause between two bytes of a [`Malformed::SlowBody`] answer.
pub const SLOW_BODY_PACE: Duration = Duration::from_secs(1);

/// Every malformed kind, in the order of [`Malformed::name`]'s documentation.
pub const ALL_MALFORMED: [Malformed; 8] = [
    Malformed::TruncatedJson,
    Malformed::HtmlPage,
    Malformed::HugeBody,
    Malformed::WrongTypes,
    Malformed::RandomBytes,
    Malformed::Oversized,
    Malformed::SlowBody,
    Malformed::ResetMidBody,
];

/// Live fault controls of one cluster (cheap to clone).
#[derive(Clone)]
pub struct Faults {
    cluster: Arc<ClusterState>,
}

/// What to do with one request.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Verdict {
    /// Answer normally (possibly with a malformed body).
    Serve(Option<Malformed>),
    /// Close the connection without answering.
    Drop,
    /// Answer with this error status.
    Fail(u16),
}

/// Mutable fault state of a cluster.
pub(crate) struct FaultState {
    settings: Mutex<FaultSettings>,
    key_errors: Mutex<HashMap<String, u32>>,
    degraded: Mutex<Option<u32>>,
    rng: AtomicU64,
    /// Statistics answer 403 (the user lacks ISI_PRIV_STATISTICS).
    statistics_forbidden: std::sync::atomic::AtomicBool,
    /// Seconds added to the cluster's clock (its statistics' timestamps).
    clock_offset: std::sync::atomic::AtomicI64,
}

impl Default for FaultSettings {
    fn default() -> FaultSettings {
        FaultSettings {
            latency: Duration::ZERO,
            error_rate: 0.0,
            error_status: 500,
            drop_rate: 0.0,
            down: false,
            malformed: None,
            malformed_left: None,
        }
    }
}

impl Malformed {
    /// The name used on the command line and in `/sim/faults`: `truncated`, `html`,
    /// `huge`, `wrong-types`, `random`, `oversized`, `slow`, `reset`.
    pub fn name(self) -> &'static str {
        match self {
            Malformed::TruncatedJson => "truncated",
            Malformed::HtmlPage => "html",
            Malformed::HugeBody => "huge",
            Malformed::WrongTypes => "wrong-types",
            Malformed::RandomBytes => "random",
            Malformed::Oversized => "oversized",
            Malformed::SlowBody => "slow",
            Malformed::ResetMidBody => "reset",
        }
    }

    /// Parses [`Malformed::name`].
    pub fn from_name(name: &str) -> Option<Malformed> {
        ALL_MALFORMED.into_iter().find(|m| m.name() == name)
    }

    /// Every kind's name, for messages: `truncated, html, ..., slow or reset`.
    pub fn names() -> String {
        let names: Vec<&str> = ALL_MALFORMED.iter().map(|m| m.name()).collect();
        let (last, rest) = names.split_last().expect("at least one kind");
        format!("{} or {last}", rest.join(", "))
    }
}

impl Faults {
    pub(crate) fn new(cluster: Arc<ClusterState>) -> Faults {
        Faults { cluster }
    }

    /// Adds `latency` before every answer.
    pub fn set_latency(&self, latency: Duration) {
        self.cluster.faults.lock().latency = latency;
    }

    /// Answers a fraction `rate` of requests with `status` (500 or 503).
    pub fn set_error_rate(&self, rate: f64, status: u16) {
        let mut s = self.cluster.faults.lock();
        s.error_rate = rate.clamp(0.0, 1.0);
        s.error_status = status;
    }

    /// Closes the connection of a fraction `rate` of requests without answering.
    pub fn set_drop_connections(&self, rate: f64) {
        self.cluster.faults.lock().drop_rate = rate.clamp(0.0, 1.0);
    }

    /// Takes the cluster down (listener closed, open connections cut) or back up on the
    /// same port. Returns once the change is in effect.
    pub fn set_down(&self, down: bool) {
        self.cluster.listener.set_down(down);
    }

    /// Takes the cluster down now and back up after `duration` (without blocking).
    pub fn set_down_for(&self, duration: Duration) {
        self.set_down(true);
        let cluster = self.cluster.clone();
        let spawned = std::thread::Builder::new()
            .name("sim-down-timer".into())
            .spawn(move || {
                std::thread::sleep(duration);
                cluster.listener.set_down(false);
            });
        if spawned.is_err() {
            self.set_down(false);
        }
    }

    /// Whether the cluster is down.
    pub fn is_down(&self) -> bool {
        self.cluster.listener.is_down()
    }

    /// Ends every session now: their next use answers 401.
    pub fn expire_sessions(&self) {
        self.cluster.sessions.clear();
    }

    /// Replaces every `/platform` answer body by a malformed one, or stops doing so.
    pub fn set_malformed(&self, malformed: Option<Malformed>) {
        let mut s = self.cluster.faults.lock();
        s.malformed = malformed;
        s.malformed_left = None;
    }

    /// Replaces the next `count` successful `/platform` answers by malformed ones,
    /// then answers normally again.
    pub fn set_malformed_for(&self, malformed: Malformed, count: u64) {
        let mut s = self.cluster.faults.lock();
        s.malformed = (count > 0).then_some(malformed);
        s.malformed_left = Some(count);
    }

    /// Makes one node degraded (error_code 3, value kept), or none.
    pub fn set_degraded(&self, devid: Option<u32>) {
        *lock(&self.cluster.faults.degraded) = devid;
    }

    /// Makes `key` answer `error_code` (1..=10), or clears its error.
    pub fn set_key_error(&self, key: &str, error_code: Option<u32>) {
        let mut errors = lock(&self.cluster.faults.key_errors);
        match error_code {
            Some(code) => errors.insert(key.to_string(), code),
            None => errors.remove(key),
        };
    }

    /// Answers every `/platform/N/statistics` request with 403, as OneFS does
    /// for an account without the ISI_PRIV_STATISTICS privilege (logins and
    /// `cluster/config` still work).
    pub fn set_statistics_forbidden(&self, forbidden: bool) {
        self.cluster
            .faults
            .statistics_forbidden
            .store(forbidden, Ordering::Relaxed);
    }

    /// Sets the cluster's clock `seconds` ahead of this host's (negative:
    /// behind): the timestamps of its statistics move with it.
    pub fn set_clock_offset(&self, seconds: i64) {
        self.cluster
            .faults
            .clock_offset
            .store(seconds, Ordering::Relaxed);
    }

    /// Removes every fault (and brings the cluster up).
    pub fn clear(&self) {
        self.set_statistics_forbidden(false);
        self.set_clock_offset(0);
        *self.cluster.faults.lock() = FaultSettings::default();
        lock(&self.cluster.faults.key_errors).clear();
        *lock(&self.cluster.faults.degraded) = None;
        self.set_down(false);
    }

    /// The current settings (with `down` as the listener reports it).
    pub fn settings(&self) -> FaultSettings {
        let mut s = self.cluster.faults.lock().clone();
        s.down = self.is_down();
        s
    }

    /// The degraded node, if any.
    pub fn degraded(&self) -> Option<u32> {
        self.cluster.faults.degraded()
    }

    /// Keys with a forced error code, sorted by key.
    pub fn key_errors(&self) -> Vec<(String, u32)> {
        let mut v: Vec<(String, u32)> = lock(&self.cluster.faults.key_errors)
            .iter()
            .map(|(k, c)| (k.clone(), *c))
            .collect();
        v.sort();
        v
    }
}

impl FaultState {
    pub(crate) fn new(
        name: &str,
        settings: FaultSettings,
        key_errors: HashMap<String, u32>,
        degraded: Option<u32>,
    ) -> FaultState {
        let seed = name.bytes().fold(0x2545_f491_4f6c_dd1d_u64, |h, b| {
            (h ^ u64::from(b)).wrapping_mul(0x100_0000_01b3)
        });
        FaultState {
            settings: Mutex::new(settings),
            key_errors: Mutex::new(key_errors),
            degraded: Mutex::new(degraded),
            rng: AtomicU64::new(seed | 1),
            statistics_forbidden: Default::default(),
            clock_offset: Default::default(),
        }
    }

    /// Whether statistics answer 403 (a user without ISI_PRIV_STATISTICS).
    pub(crate) fn statistics_forbidden(&self) -> bool {
        self.statistics_forbidden.load(Ordering::Relaxed)
    }

    /// Seconds the cluster's clock is ahead (negative: behind).
    pub(crate) fn clock_offset(&self) -> i64 {
        self.clock_offset.load(Ordering::Relaxed)
    }

    pub(crate) fn lock(&self) -> MutexGuard<'_, FaultSettings> {
        lock(&self.settings)
    }

    /// The forced error code of a key, if any.
    pub(crate) fn key_error(&self, key: &str) -> Option<u32> {
        lock(&self.key_errors).get(key).copied()
    }

    pub(crate) fn degraded(&self) -> Option<u32> {
        *lock(&self.degraded)
    }

    /// Counts one answer made malformed: a fault limited to N answers clears itself
    /// after the Nth.
    pub(crate) fn malformed_applied(&self) {
        let mut s = self.lock();
        if let Some(left) = s.malformed_left.as_mut() {
            *left = left.saturating_sub(1);
            if *left == 0 {
                s.malformed = None;
            }
        }
    }

    /// The next pseudo-random 64 bits of this cluster's sequence.
    pub(crate) fn next_u64(&self) -> u64 {
        (self.roll() * (1u64 << 53) as f64) as u64 ^ self.rng.load(Ordering::Relaxed)
    }

    /// The latency to add and the verdict for one request.
    pub(crate) fn decide(&self) -> (Duration, Verdict) {
        let s = self.lock().clone();
        if s.drop_rate > 0.0 && self.roll() < s.drop_rate {
            return (s.latency, Verdict::Drop);
        }
        if s.error_rate > 0.0 && self.roll() < s.error_rate {
            return (s.latency, Verdict::Fail(s.error_status));
        }
        (s.latency, Verdict::Serve(s.malformed))
    }

    /// Uniform in [0, 1) from a xorshift sequence seeded by the cluster name.
    fn roll(&self) -> f64 {
        let step = |mut x: u64| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x
        };
        let prev = self
            .rng
            .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |x| Some(step(x)))
            .unwrap_or(1);
        (step(prev) >> 11) as f64 / (1u64 << 53) as f64
    }
}

/// Locks a mutex, ignoring poisoning (state stays usable after a panicking thread).
pub(crate) fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn state(settings: FaultSettings) -> FaultState {
        FaultState::new("T", settings, HashMap::new(), None)
    }

    #[test]
    fn error_rate_is_roughly_honoured() {
        let s = state(FaultSettings {
            error_rate: 0.3,
            error_status: 503,
            ..FaultSettings::default()
        });
        let fails = (0..10_000)
            .filter(|_| s.decide().1 == Verdict::Fail(503))
            .count();
        assert!((2_500..3_500).contains(&fails), "{fails}");
    }

    #[test]
    fn no_faults_serves_everything() {
        let s = state(FaultSettings::default());
        assert!((0..1000).all(|_| s.decide() == (Duration::ZERO, Verdict::Serve(None))));
        let s = state(FaultSettings {
            drop_rate: 1.0,
            ..FaultSettings::default()
        });
        assert_eq!(s.decide().1, Verdict::Drop);
    }

    #[test]
    fn malformed_names_round_trip() {
        for m in ALL_MALFORMED {
            assert_eq!(Malformed::from_name(m.name()), Some(m));
        }
        assert_eq!(Malformed::from_name("nope"), None);
    }

    #[test]
    fn a_malformed_fault_for_n_answers_clears_itself_after_the_nth() {
        let s = state(FaultSettings::default());
        *s.lock() = FaultSettings {
            malformed: Some(Malformed::HtmlPage),
            malformed_left: Some(2),
            ..FaultSettings::default()
        };
        assert_eq!(s.decide().1, Verdict::Serve(Some(Malformed::HtmlPage)));
        s.malformed_applied();
        assert_eq!(s.decide().1, Verdict::Serve(Some(Malformed::HtmlPage)));
        s.malformed_applied();
        assert_eq!(s.decide().1, Verdict::Serve(None));
    }
}
