//! Whole snapshots: measurements whose points are not a stream of samples but
//! the complete current set of something (a cluster's quotas), exposed under
//! their own metric names without timestamps and replaced as a whole, so that a
//! series whose object was deleted disappears at the next snapshot.
//!
//! Recognised by measurement name ([`SNAPSHOT_MEASUREMENTS`]: `quota`, the
//! host's quota source). The host announces each snapshot with the `snapshot`
//! control message (`{"cluster", "measurement", "time", "points"}`, see
//! docs/PLUGINS.md) before writing its points; the points of that time are
//! gathered aside and, once all of them arrived, swapped in at once: a scrape
//! sees the old snapshot or the new one, never a mix. A snapshot announced
//! with 0 points empties the set at once; a newer time abandons an incomplete
//! older one (its batch was lost), and the previous complete one stays.
//!
//! Names are goquotas' (Isilon/powerscale_data_insights
//! `cmd/goquotas/prometheus.go`): `isilon_quota_<field>` gauges with HELP
//! `OneFS quota <field> value.`, served without timestamps (Prometheus stamps
//! each scrape, so an hourly snapshot stays queryable), plus
//! `isilon_quota_collector_quotas` and `isilon_quota_collector_series` (the
//! snapshot's sizes) and `isilon_quota_collector_last_success_timestamp_seconds`.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard};

use idic_plugin_api::Point;

use crate::encode::{self, Scratch};

/// Measurements delivered as whole snapshots.
pub const SNAPSHOT_MEASUREMENTS: [&str; 1] = ["quota"];

/// The time of a sample served without a timestamp.
pub const NO_TIME: i64 = i64::MIN;

/// One cluster's snapshots, shared by the plugin's `control` (which announces)
/// and the cluster's sink (which writes and renders).
#[derive(Debug, Default)]
pub struct Snapshots {
    cluster: String,
    inner: Mutex<State>,
}

#[derive(Debug, Default)]
struct State {
    /// The `instance_label_name` of the cluster's sink: (label name, cluster).
    instance: Option<(String, String)>,
    /// The latest announcement per measurement: (time, points).
    announced: HashMap<String, (i64, usize)>,
    /// Points gathered per measurement for one time.
    pending: HashMap<String, (i64, Vec<Point>)>,
    /// The complete snapshot served per measurement.
    current: HashMap<String, Arc<Built>>,
}

/// One family of a snapshot: metric name, HELP, series (label set, value).
pub type Family = (Arc<str>, Arc<str>, Vec<(Arc<str>, f64)>);

/// A complete snapshot, its families ready to copy into a scrape.
#[derive(Debug, Default)]
pub struct Built {
    /// (metric name, HELP, series (label set, value)), sorted by name.
    pub families: Vec<Family>,
}

/// The payload of the `snapshot` control message.
#[derive(Debug, serde::Deserialize)]
pub struct Announcement {
    /// The cluster's name, as its sink was opened with.
    pub cluster: String,
    /// The snapshot's measurement.
    pub measurement: String,
    /// The time of every point of the snapshot, Unix seconds.
    pub time: i64,
    /// How many points of that measurement and time follow.
    pub points: usize,
}

impl Announcement {
    /// Reads the payload, or says what is wrong with it.
    pub fn parse(payload: &str) -> Result<Announcement, String> {
        serde_json::from_str(payload).map_err(|e| {
            format!("the snapshot payload is not {{cluster, measurement, time, points}}: {e}")
        })
    }
}

/// Whether `measurement` is delivered as whole snapshots.
pub fn is_snapshot(measurement: &str) -> bool {
    SNAPSHOT_MEASUREMENTS.contains(&measurement)
}

impl Snapshots {
    /// No snapshot yet for `cluster`.
    pub fn new(cluster: &str) -> Snapshots {
        Snapshots {
            cluster: cluster.to_string(),
            inner: Mutex::default(),
        }
    }

    fn state(&self) -> MutexGuard<'_, State> {
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The host announced the snapshot of `measurement` at `time` with `points`
    /// points.
    pub fn announce(&self, measurement: &str, time: i64, points: usize) {
        let mut s = self.state();
        s.announced.insert(measurement.to_string(), (time, points));
        s.complete(&self.cluster, measurement);
    }

    /// Gathers `points` (all of snapshot measurements).
    pub fn write<'a>(&self, points: impl Iterator<Item = &'a Point>) {
        let mut s = self.state();
        let mut touched: Vec<String> = Vec::new();
        for p in points {
            let m = p.measurement.as_str();
            let slot = s
                .pending
                .entry(m.to_string())
                .or_insert_with(|| (p.time, Vec::new()));
            if slot.0 != p.time {
                *slot = (p.time, Vec::new());
            }
            slot.1.push(p.clone());
            if !touched.iter().any(|t| t == m) {
                touched.push(m.to_string());
            }
        }
        for m in touched {
            s.complete(&self.cluster, &m);
        }
    }

    /// The sink's `instance_label_name` label, added to every snapshot built
    /// from now on.
    pub fn set_instance_label(&self, name: Option<&str>) {
        self.state().instance = name.map(|n| (n.to_string(), self.cluster.clone()));
    }

    /// The complete snapshots, by measurement name.
    pub fn current(&self) -> Vec<Arc<Built>> {
        let s = self.state();
        let mut names: Vec<&String> = s.current.keys().collect();
        names.sort();
        names.iter().map(|n| Arc::clone(&s.current[*n])).collect()
    }
}

impl State {
    /// Swaps the pending points of `measurement` in when they are the whole
    /// announced snapshot.
    fn complete(&mut self, cluster: &str, measurement: &str) {
        let Some(&(time, want)) = self.announced.get(measurement) else {
            return;
        };
        let have = match self.pending.get(measurement) {
            Some((t, points)) if *t == time => points.len(),
            _ => 0,
        };
        if have < want {
            return;
        }
        let points = self
            .pending
            .remove(measurement)
            .filter(|(t, _)| *t == time)
            .map(|(_, p)| p)
            .unwrap_or_default();
        self.announced.remove(measurement);
        let instance = self
            .instance
            .as_ref()
            .map(|(n, c)| (n.as_str(), c.as_str()));
        let built = build(cluster, measurement, time, &points, instance);
        self.current
            .insert(measurement.to_string(), Arc::new(built));
    }
}

/// The families of a snapshot of `measurement`'s `points` at `time`.
fn build(
    cluster: &str,
    measurement: &str,
    time: i64,
    points: &[Point],
    instance: Option<(&str, &str)>,
) -> Built {
    let mut families: HashMap<String, Vec<(Arc<str>, f64)>> = HashMap::new();
    let mut scratch = Scratch::default();
    let stat_prefix = encode::metric_name(measurement, Some(""));
    let family = format!("isilon_{measurement}_");
    for p in points {
        let mut shared: Option<Arc<str>> = None;
        encode::for_each_sample(p, instance, &mut scratch, |name, labels, value| {
            let field = name.strip_prefix(stat_prefix.as_str()).unwrap_or(name);
            let labels = match &shared {
                Some(l) if **l == *labels => Arc::clone(l),
                _ => {
                    let l: Arc<str> = Arc::from(labels);
                    shared = Some(Arc::clone(&l));
                    l
                }
            };
            families
                .entry(format!("{family}{field}"))
                .or_default()
                .push((labels, value));
        });
    }
    let series: usize = families.values().map(Vec::len).sum();
    let mut out: Vec<Family> = families
        .into_iter()
        .map(|(name, mut series)| {
            series.sort_by(|a, b| a.0.cmp(&b.0));
            let field = &name[family.len()..];
            let help: Arc<str> = format!("OneFS {measurement} {field} value.").into();
            (Arc::from(name.as_str()), help, series)
        })
        .collect();
    let mut labels = String::from("{cluster=\"");
    encode::push_label_value(&mut labels, cluster);
    labels.push('"');
    if let Some((name, value)) = instance {
        labels.push_str(&format!(",{name}=\""));
        encode::push_label_value(&mut labels, value);
        labels.push('"');
    }
    labels.push('}');
    let labels: Arc<str> = labels.into();
    for (what, help, value) in [
        (
            "quotas",
            "Number of quotas in the current successful snapshot.",
            points.len() as f64,
        ),
        (
            "series",
            "Number of quota value series in the current successful snapshot.",
            series as f64,
        ),
        (
            "last_success_timestamp_seconds",
            "Unix time of the last successful complete quota collection.",
            time as f64,
        ),
    ] {
        if points.is_empty() && what != "quotas" && what != "series" {
            continue;
        }
        out.push((
            format!("{family}collector_{what}").into(),
            help.into(),
            vec![(Arc::clone(&labels), value)],
        ));
    }
    out.sort_by(|a, b| a.0.cmp(&b.0));
    Built { families: out }
}

#[cfg(test)]
mod tests {
    use super::*;
    use idic_plugin_api::{Field, Row, Tag, Value};

    fn quota(id: &str, time: i64, used: f64) -> Point {
        Point {
            measurement: "quota".into(),
            time,
            rows: vec![Row {
                tags: vec![
                    Tag::new("cluster", "c1"),
                    Tag::new("quota_id", id),
                    Tag::new("linked", ""),
                ]
                .into(),
                fields: vec![
                    Field::new("present", Value::Bool(true)),
                    Field::new("usage_bytes", Value::Float(used)),
                ]
                .into(),
            }]
            .into(),
        }
    }

    fn names(s: &Snapshots) -> Vec<String> {
        s.current()
            .iter()
            .flat_map(|b| {
                b.families.iter().flat_map(|(n, _, series)| {
                    series.iter().map(move |(l, v)| format!("{n}{l} {v}"))
                })
            })
            .collect()
    }

    #[test]
    fn a_snapshot_is_served_only_once_complete_and_replaces_the_previous_one() {
        let s = Snapshots::new("c1");
        s.announce("quota", 10, 2);
        s.write([quota("a", 10, 1.0)].iter());
        assert!(names(&s).is_empty(), "incomplete");
        s.write([quota("b", 10, 2.0)].iter());
        let first = names(&s);
        assert!(
            first
                .contains(&"isilon_quota_usage_bytes{cluster=\"c1\",quota_id=\"a\"} 1".to_string()),
            "{first:?}"
        );
        assert!(
            first.contains(&"isilon_quota_collector_quotas{cluster=\"c1\"} 2".to_string()),
            "{first:?}"
        );
        // b is deleted: the next snapshot has only a.
        s.announce("quota", 20, 1);
        s.write([quota("a", 20, 5.0)].iter());
        let second = names(&s);
        assert!(second
            .contains(&"isilon_quota_usage_bytes{cluster=\"c1\",quota_id=\"a\"} 5".to_string()));
        assert!(
            !second.iter().any(|l| l.contains("quota_id=\"b\"")),
            "{second:?}"
        );
    }

    #[test]
    fn an_empty_snapshot_empties_the_set_at_once() {
        let s = Snapshots::new("c1");
        s.announce("quota", 10, 1);
        s.write([quota("a", 10, 1.0)].iter());
        s.announce("quota", 20, 0);
        let now = names(&s);
        assert!(!now.iter().any(|l| l.contains("usage_bytes")), "{now:?}");
        assert!(
            now.contains(&"isilon_quota_collector_quotas{cluster=\"c1\"} 0".to_string()),
            "{now:?}"
        );
    }
}
