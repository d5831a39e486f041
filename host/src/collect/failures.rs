//! How one cluster's failed cycles are logged: the first failure of each kind
//! (unreachable, HTTP status, malformed or undecodable answer, ...) at error
//! level with the cluster and the problem, repeats of a kind already reported at
//! debug, and the return to health once, at info. A cluster answering garbage
//! for an hour therefore writes a few lines, not one per timer and cycle.
//!
//! Only logging: what to do after a failure (back-off, skipping the cycle) is the
//! cluster task's.

use std::collections::BTreeSet;
use std::fmt::Display;
use std::time::Duration;

/// The failures of the current episode of one cluster (since its last success).
#[derive(Debug, Default)]
pub struct Failures {
    /// The kinds already reported in this episode.
    reported: BTreeSet<String>,
    /// Failed cycles in this episode.
    cycles: u64,
}

impl Failures {
    /// Logs a failed cycle of `bucket`; `next` is the wait before its next try.
    /// Returns whether the line went out at error level (a new kind).
    pub fn failed(
        &mut self,
        cluster: &str,
        bucket: &str,
        kind: String,
        error: &dyn Display,
        next: Duration,
    ) -> bool {
        self.cycles += 1;
        let secs = next.as_secs_f64().ceil();
        if self.reported.insert(kind) {
            log::error!("cluster={cluster} collecting {bucket} failed: {error}; this cycle is skipped, next try in {secs} s (further failures of this kind are logged at debug level until collection works again)");
            true
        } else {
            log::debug!(
                "cluster={cluster} collecting {bucket} failed again: {error}; next try in {secs} s"
            );
            false
        }
    }

    /// Notes a successful cycle; logs the end of an episode of failures once.
    pub fn succeeded(&mut self, cluster: &str) {
        if self.cycles > 0 {
            log::info!(
                "cluster={cluster} collecting works again after {} failed cycle(s)",
                self.cycles
            );
            self.cycles = 0;
            self.reported.clear();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_kind_is_reported_once_per_episode() {
        let mut f = Failures::default();
        let fail = |f: &mut Failures, kind: &str| {
            f.failed("c", "every 5 s", kind.into(), &"boom", Duration::ZERO)
        };
        assert!(fail(&mut f, "HTTP 500"));
        assert!(!fail(&mut f, "HTTP 500"));
        assert!(fail(&mut f, "malformed answer"));
        assert!(!fail(&mut f, "HTTP 500"));
        f.succeeded("c");
        assert!(fail(&mut f, "HTTP 500"), "a new episode reports again");
    }
}
