//! The delivery queues' metrics, read at scrape time from each queue's own
//! counters (`deliver::Counters`, which the writer keeps anyway), so the write
//! path has no telemetry hook at all. A queue registers itself once when it
//! starts; when it is gone, its final counts are folded into the totals of its
//! (cluster, sink), so counters never go backwards across reconnects and
//! reloads.

use std::collections::BTreeMap;
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex, Weak};

use prometheus::core::{Collector, Desc};
use prometheus::proto::{Counter, Gauge, LabelPair, Metric, MetricFamily, MetricType};

use crate::deliver::Counters;

/// What the scrape reads from a live queue besides its counters.
pub trait QueueProbe: Send + Sync {
    /// Batches waiting.
    fn depth(&self) -> u64;
    /// Bytes they take (in memory, or in the disk buffer's segments).
    fn bytes(&self) -> u64;
}

/// Reads one drop counter.
type ReadCount = fn(&Counters) -> u64;

/// Why batches were dropped, as the `reason` label, with how to read the count.
const DROP_REASONS: [(&str, ReadCount); 5] = [
    ("queue_full", |c| c.dropped_full.load(Ordering::Relaxed)),
    ("max_retries", |c| c.dropped_retries.load(Ordering::Relaxed)),
    ("refused", |c| c.dropped_refused.load(Ordering::Relaxed)),
    ("shutdown", |c| c.dropped_shutdown.load(Ordering::Relaxed)),
    ("damaged", |c| c.dropped_damaged.load(Ordering::Relaxed)),
];

/// Totals of one (cluster, sink): batches, points, retries, drops by reason.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
struct Totals {
    batches: u64,
    points: u64,
    retries: u64,
    dropped: [u64; 5],
}

impl Totals {
    fn of(c: &Counters) -> Totals {
        Totals {
            batches: c.delivered.load(Ordering::Relaxed),
            points: c.delivered_points.load(Ordering::Relaxed),
            retries: c.retries.load(Ordering::Relaxed),
            dropped: DROP_REASONS.map(|(_, read)| read(c)),
        }
    }

    fn add(&mut self, o: &Totals) {
        self.batches += o.batches;
        self.points += o.points;
        self.retries += o.retries;
        for (a, b) in self.dropped.iter_mut().zip(o.dropped) {
            *a += b;
        }
    }
}

struct Tracked {
    key: (String, String),
    counters: Arc<Counters>,
    probe: Weak<dyn QueueProbe>,
}

#[derive(Default)]
struct State {
    live: Vec<Tracked>,
    retired: BTreeMap<(String, String), Totals>,
}

/// Every queue of the process (a prometheus `Collector`).
#[derive(Clone)]
pub struct Queues {
    state: Arc<Mutex<State>>,
    descs: Arc<Vec<Desc>>,
}

const FAMILIES: [(&str, &str); 6] = [
    ("idic_sink_batches_written_total", "Batches the sink acknowledged."),
    ("idic_sink_points_written_total", "Points in the batches the sink acknowledged."),
    ("idic_sink_retries_total", "Write attempts that failed and were retried."),
    ("idic_sink_dropped_batches_total", "Batches dropped, by reason: queue_full (byte or batch bound), max_retries (memory queues), refused (permanent error or plugin panic), shutdown (left in memory at exit), damaged (disk record)."),
    ("idic_sink_queue_batches", "Batches waiting in the queue."),
    ("idic_sink_queue_bytes", "Bytes the waiting batches take (memory, or disk segments)."),
];

impl Default for Queues {
    fn default() -> Queues {
        let descs = FAMILIES
            .iter()
            .map(|(name, help)| {
                let mut labels = vec!["cluster".to_string(), "sink".to_string()];
                if name.contains("dropped") {
                    labels.push("reason".to_string());
                }
                Desc::new(
                    name.to_string(),
                    help.to_string(),
                    labels,
                    Default::default(),
                )
                .expect("a valid metric name")
            })
            .collect();
        Queues {
            state: Arc::default(),
            descs: Arc::new(descs),
        }
    }
}

impl Queues {
    /// Registers a queue of `cluster` into `sink` (its log label, `plugin` or
    /// `plugin sink=NAME`: the label is the sink's name).
    pub fn track(
        &self,
        cluster: &str,
        sink: &str,
        counters: Arc<Counters>,
        probe: Weak<dyn QueueProbe>,
    ) {
        let sink = sink.rsplit_once(" sink=").map_or(sink, |(_, name)| name);
        let mut state = self.state.lock().unwrap_or_else(|p| p.into_inner());
        state.live.push(Tracked {
            key: (cluster.to_string(), sink.to_string()),
            counters,
            probe,
        });
    }

    /// Per (cluster, sink): totals, depth and bytes. Folds gone queues into the
    /// retired totals.
    fn snapshot(&self) -> BTreeMap<(String, String), (Totals, u64, u64)> {
        let mut state = self.state.lock().unwrap_or_else(|p| p.into_inner());
        let State { live, retired } = &mut *state;
        live.retain(|t| {
            if t.probe.strong_count() > 0 {
                return true;
            }
            retired
                .entry(t.key.clone())
                .or_default()
                .add(&Totals::of(&t.counters));
            false
        });
        let mut out: BTreeMap<_, (Totals, u64, u64)> = retired
            .iter()
            .map(|(k, t)| (k.clone(), (*t, 0, 0)))
            .collect();
        for t in live.iter() {
            let entry = out.entry(t.key.clone()).or_default();
            entry.0.add(&Totals::of(&t.counters));
            if let Some(p) = t.probe.upgrade() {
                entry.1 += p.depth();
                entry.2 += p.bytes();
            }
        }
        out
    }
}

fn labels(pairs: &[(&str, &str)]) -> Vec<LabelPair> {
    pairs
        .iter()
        .map(|(n, v)| {
            let mut l = LabelPair::default();
            l.set_name(n.to_string());
            l.set_value(v.to_string());
            l
        })
        .collect()
}

fn sample(kind: MetricType, pairs: &[(&str, &str)], value: u64) -> Metric {
    let mut m = Metric::from_label(labels(pairs));
    if kind == MetricType::COUNTER {
        let mut c = Counter::default();
        c.set_value(value as f64);
        m.set_counter(c);
    } else {
        let mut g = Gauge::default();
        g.set_value(value as f64);
        m.set_gauge(g);
    }
    m
}

impl Collector for Queues {
    fn desc(&self) -> Vec<&Desc> {
        self.descs.iter().collect()
    }

    fn collect(&self) -> Vec<MetricFamily> {
        let snap = self.snapshot();
        FAMILIES
            .iter()
            .enumerate()
            .map(|(i, (name, help))| {
                let kind = if name.ends_with("_total") {
                    MetricType::COUNTER
                } else {
                    MetricType::GAUGE
                };
                let mut metrics = Vec::new();
                for ((cluster, sink), (t, depth, bytes)) in &snap {
                    let base = [("cluster", cluster.as_str()), ("sink", sink.as_str())];
                    match i {
                        0 => metrics.push(sample(kind, &base, t.batches)),
                        1 => metrics.push(sample(kind, &base, t.points)),
                        2 => metrics.push(sample(kind, &base, t.retries)),
                        3 => {
                            for (r, (reason, _)) in DROP_REASONS.iter().enumerate() {
                                let l = [base[0], base[1], ("reason", reason)];
                                metrics.push(sample(kind, &l, t.dropped[r]));
                            }
                        }
                        4 => metrics.push(sample(kind, &base, *depth)),
                        _ => metrics.push(sample(kind, &base, *bytes)),
                    }
                }
                let mut f = MetricFamily::default();
                f.set_name(name.to_string());
                f.set_help(help.to_string());
                f.set_field_type(kind);
                f.set_metric(metrics);
                f
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    struct Fixed(u64, u64);
    impl QueueProbe for Fixed {
        fn depth(&self) -> u64 {
            self.0
        }
        fn bytes(&self) -> u64 {
            self.1
        }
    }

    #[test]
    fn a_gone_queue_keeps_its_counts_and_a_new_one_adds_to_them() {
        let q = Queues::default();
        let first = Arc::new(Counters::default());
        first.delivered.store(3, Ordering::Relaxed);
        first.dropped_full.store(1, Ordering::Relaxed);
        let probe: Arc<dyn QueueProbe> = Arc::new(Fixed(2, 50));
        q.track(
            "c1",
            "influxdb sink=archive",
            Arc::clone(&first),
            Arc::downgrade(&probe),
        );
        let snap = q.snapshot();
        let (t, depth, bytes) = snap[&("c1".to_string(), "archive".to_string())];
        assert_eq!((t.batches, t.dropped[0], depth, bytes), (3, 1, 2, 50));
        drop(probe);
        let second = Arc::new(Counters::default());
        second.delivered.store(4, Ordering::Relaxed);
        let probe2: Arc<dyn QueueProbe> = Arc::new(Fixed(0, 0));
        q.track(
            "c1",
            "influxdb sink=archive",
            second,
            Arc::downgrade(&probe2),
        );
        let snap = q.snapshot();
        let (t, depth, _) = snap[&("c1".to_string(), "archive".to_string())];
        assert_eq!((t.batches, t.dropped[0], depth), (7, 1, 0));
        let families = q.collect();
        assert_eq!(families.len(), FAMILIES.len());
        assert_eq!(families[3].get_metric().len(), DROP_REASONS.len());
    }
}
