//! The arithmetic of gaps (pure): which window a late point reveals, how much of
//! it `backfill_max` lets idic fill, and how a window is cut into requests.
//!
//! Times are the cluster's Unix seconds, never the host's clock: a gap is what
//! the data says is missing, whatever the host's clock did meanwhile.

/// A window of missing samples, both ends inclusive.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Window {
    /// The first second missing.
    pub begin: i64,
    /// The last second missing.
    pub end: i64,
}

/// What one late point says: what to fill and what is beyond `backfill_max`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Gap {
    /// The part to fetch from history.
    pub fill: Option<Window>,
    /// The older part that is not recoverable (longer ago than `backfill_max`).
    pub lost: Option<Window>,
}

/// The gap between the last delivered time `last` and a new point at `new` of a
/// key sampled every `interval` seconds, capped to the `max` seconds before
/// `new` (0: nothing is filled). No gap when `new` follows `last` by at most one
/// interval.
pub fn gap(last: i64, new: i64, interval: i64, max: i64) -> Gap {
    if new <= last.saturating_add(interval.max(1)) {
        return Gap::default();
    }
    let missing = Window {
        begin: last + 1,
        end: new - 1,
    };
    let begin = missing.begin.max(new.saturating_sub(max));
    let fill = (max > 0 && begin <= missing.end).then_some(Window {
        begin,
        end: missing.end,
    });
    let lost_end = fill.map_or(missing.end, |f| f.begin - 1);
    let lost = (lost_end >= missing.begin).then_some(Window {
        begin: missing.begin,
        end: lost_end,
    });
    Gap { fill, lost }
}

/// The first request of what is left of `w` from `next` on: at most `span`
/// seconds (at least one second).
pub fn slice(w: Window, next: i64, span: i64) -> Window {
    let begin = next.max(w.begin);
    Window {
        begin,
        end: w.end.min(begin.saturating_add(span.max(1) - 1)),
    }
}

/// The span of the next request, so that it carries about `target` values:
/// `span` made it carry `got`. At least `interval`, at most an hour.
pub fn next_span(span: i64, got: usize, target: usize, interval: i64) -> i64 {
    let wanted = if got == 0 {
        span.saturating_mul(2)
    } else {
        let ratio = target as f64 / got as f64;
        (span as f64 * ratio.min(2.0)) as i64
    };
    wanted.clamp(interval.max(1), 3600)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn w(begin: i64, end: i64) -> Option<Window> {
        Some(Window { begin, end })
    }

    #[test]
    fn consecutive_points_leave_no_gap() {
        assert_eq!(gap(100, 105, 5, 3600), Gap::default());
        assert_eq!(gap(100, 100, 5, 3600), Gap::default());
        assert_eq!(gap(100, 95, 5, 3600), Gap::default());
    }

    #[test]
    fn a_gap_is_the_seconds_between_the_points() {
        assert_eq!(
            gap(100, 165, 5, 3600),
            Gap {
                fill: w(101, 164),
                lost: None
            }
        );
    }

    #[test]
    fn a_gap_longer_than_the_cap_fills_the_most_recent_part() {
        assert_eq!(
            gap(100, 1000, 5, 60),
            Gap {
                fill: w(940, 999),
                lost: w(101, 939)
            }
        );
    }

    #[test]
    fn a_cap_of_zero_fills_nothing() {
        assert_eq!(
            gap(100, 200, 5, 0),
            Gap {
                fill: None,
                lost: w(101, 199)
            }
        );
    }

    #[test]
    fn slices_walk_the_window_in_spans() {
        let win = Window {
            begin: 100,
            end: 399,
        };
        assert_eq!(
            slice(win, 100, 120),
            Window {
                begin: 100,
                end: 219
            }
        );
        assert_eq!(
            slice(win, 220, 120),
            Window {
                begin: 220,
                end: 339
            }
        );
        assert_eq!(
            slice(win, 340, 120),
            Window {
                begin: 340,
                end: 399
            }
        );
    }

    #[test]
    fn the_span_follows_the_values_an_answer_carried() {
        assert_eq!(next_span(300, 20_000, 10_000, 5), 150);
        assert_eq!(next_span(300, 1_000, 10_000, 5), 600);
        assert_eq!(next_span(300, 0, 10_000, 5), 600);
        assert_eq!(next_span(10, 1_000_000, 10_000, 5), 5);
        assert_eq!(next_span(3000, 1, 10_000, 5), 3600);
    }
}
