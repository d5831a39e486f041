//! One cluster's latest samples, shared by the sink (which writes) and its
//! listener (which renders scrapes).
//!
//! A write turns its batch into (name, labels, value) triples before taking the
//! lock, then updates the map under the write lock; a scrape renders under the
//! read lock, so several scrapes run at once and a write waits at most one render.
//! A sample is exposed until its key's update interval (at least 5 s) has passed
//! since it *arrived* without a newer write of the same series; measuring from
//! arrival, not from the cluster's timestamp, keeps a cluster whose clock is off
//! from losing or keeping its samples. Expired samples are skipped by scrapes and
//! removed by the next write (at most once a second).

use std::collections::{BTreeMap, HashMap};
use std::sync::RwLock;
use std::time::{Duration, Instant};

use idic_plugin_api::{Point, StatInfo};

use crate::encode::{self, Family, Format, Sample, Scratch};

/// The shortest time a sample stays exposed (gostats' clamp).
pub const MIN_EXPIRY: Duration = Duration::from_secs(5);

/// How long a sample of a key the host did not describe stays exposed.
pub const UNKNOWN_KEY_EXPIRY: Duration = Duration::from_secs(300);

/// How often a write sweeps expired samples out of the map.
const PURGE_EVERY: Duration = Duration::from_secs(1);

/// One cluster's samples and the metadata to expose them.
#[derive(Debug)]
pub struct Store {
    cluster: String,
    instance_label: Option<String>,
    keys: HashMap<String, KeyMeta>,
    families: RwLock<Families>,
}

#[derive(Debug)]
struct KeyMeta {
    help: String,
    expiry: Duration,
}

#[derive(Debug)]
struct Families {
    map: BTreeMap<String, Family>,
    last_purge: Instant,
}

/// One prepared update: where it goes, its statistic and what it holds.
struct Update<'a> {
    name: String,
    labels: String,
    key: &'a str,
    sample: Sample,
}

impl Store {
    /// An empty store for `cluster`. `stats` gives each key's description (the
    /// HELP text) and update interval (the expiry).
    pub fn new(cluster: &str, instance_label: Option<&str>, stats: &[StatInfo]) -> Store {
        let keys = stats
            .iter()
            .map(|s| {
                let help = if s.description.is_empty() {
                    format!("OneFS statistic {}", s.key)
                } else {
                    s.description.to_string()
                };
                let expiry = Duration::from_secs(s.update_interval).max(MIN_EXPIRY);
                (s.key.to_string(), KeyMeta { help, expiry })
            })
            .collect();
        Store {
            cluster: cluster.to_string(),
            instance_label: instance_label.map(str::to_string),
            keys,
            families: RwLock::new(Families {
                map: BTreeMap::new(),
                last_purge: Instant::now(),
            }),
        }
    }

    /// Records every sample of `batch` as arrived at `now`. Returns how many
    /// samples were written.
    pub fn write(&self, batch: &[Point], now: Instant) -> usize {
        let instance = self
            .instance_label
            .as_deref()
            .map(|name| (name, self.cluster.as_str()));
        let mut scratch = Scratch::default();
        let mut updates = Vec::new();
        for point in batch {
            let key = point.measurement.as_str();
            let expiry = self.keys.get(key).map_or(UNKNOWN_KEY_EXPIRY, |m| m.expiry);
            let sample = Sample {
                value: 0.0,
                time: point.time,
                expires: now + expiry,
            };
            encode::for_each_sample(point, instance, &mut scratch, |name, labels, value| {
                updates.push(Update {
                    name: name.to_string(),
                    labels: labels.to_string(),
                    key,
                    sample: Sample { value, ..sample },
                });
            });
        }

        let mut families = self.families.write().unwrap_or_else(|e| e.into_inner());
        for u in &updates {
            let family = match families.map.get_mut(&u.name) {
                Some(f) => f,
                None => families
                    .map
                    .entry(u.name.clone())
                    .or_insert_with(|| Family {
                        help: self.help(u.key),
                        series: BTreeMap::new(),
                    }),
            };
            match family.series.get_mut(&u.labels) {
                Some(s) => *s = u.sample,
                None => {
                    family.series.insert(u.labels.clone(), u.sample);
                }
            }
        }
        if now.duration_since(families.last_purge) >= PURGE_EVERY {
            families.last_purge = now;
            families.map.retain(|_, f| {
                f.series.retain(|_, s| s.expires > now);
                !f.series.is_empty()
            });
        }
        updates.len()
    }

    /// The exposition body of every sample live at `now`, and how many samples
    /// it holds.
    pub fn render(&self, format: Format, now: Instant) -> (String, usize) {
        let families = self.families.read().unwrap_or_else(|e| e.into_inner());
        let mut out = String::with_capacity(self.size_hint(&families));
        let n = encode::render(&families.map, now, format, &mut out);
        (out, n)
    }

    /// The number of series held, expired ones included until the next sweep.
    pub fn len(&self) -> usize {
        let families = self.families.read().unwrap_or_else(|e| e.into_inner());
        families.map.values().map(|f| f.series.len()).sum()
    }

    /// Whether no series is held.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    fn help(&self, key: &str) -> String {
        match self.keys.get(key) {
            Some(meta) => meta.help.clone(),
            None => format!("OneFS statistic {key}"),
        }
    }

    /// A guess of the body's size, so that rendering rarely reallocates.
    fn size_hint(&self, families: &Families) -> usize {
        families
            .map
            .iter()
            .map(|(name, f)| {
                let per = f
                    .series
                    .keys()
                    .next()
                    .map_or(0, |l| name.len() + l.len() + 32);
                200 + f.series.len() * per
            })
            .sum()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use idic_plugin_api::{Field, Row, Tag, Value};

    fn stat(key: &str, description: &str, interval: u64) -> StatInfo {
        StatInfo {
            key: key.into(),
            description: description.into(),
            units: "".into(),
            update_interval: interval,
        }
    }

    fn point(key: &str, time: i64, node: &str, value: f64) -> Point {
        Point {
            measurement: key.into(),
            time,
            rows: vec![Row {
                tags: vec![Tag::new("cluster", "c1"), Tag::new("node", node)].into(),
                fields: vec![Field::new("value", Value::Float(value))].into(),
            }]
            .into(),
        }
    }

    fn text(store: &Store, now: Instant) -> String {
        store.render(Format::Text, now).0
    }

    #[test]
    fn a_write_replaces_the_series_value_and_timestamp() {
        let store = Store::new("c1", None, &[stat("node.load.1min", "Load", 30)]);
        let t0 = Instant::now();
        assert_eq!(
            store.write(&[point("node.load.1min", 100, "1", 1.0)], t0),
            1
        );
        store.write(&[point("node.load.1min", 130, "1", 2.0)], t0);
        assert_eq!(
            text(&store, t0),
            "# HELP isilon_stat_node_load_1min Load\n# TYPE isilon_stat_node_load_1min gauge\n\
             isilon_stat_node_load_1min{cluster=\"c1\",node=\"1\"} 2 130000\n"
        );
        assert_eq!(store.len(), 1);
    }

    #[test]
    fn samples_expire_after_the_key_interval_unless_refreshed() {
        let store = Store::new("c1", None, &[stat("node.load.1min", "Load", 30)]);
        let t0 = Instant::now();
        store.write(
            &[
                point("node.load.1min", 100, "1", 1.0),
                point("node.load.1min", 100, "2", 1.0),
            ],
            t0,
        );
        let t29 = t0 + Duration::from_secs(29);
        store.write(&[point("node.load.1min", 129, "2", 3.0)], t29);
        let t30 = t0 + Duration::from_secs(30);
        let body = text(&store, t30);
        assert!(!body.contains("node=\"1\""), "{body}");
        assert!(body.contains("node=\"2\"} 3 129000"), "{body}");
        assert_eq!(text(&store, t29 + Duration::from_secs(30)), "");
    }

    #[test]
    fn short_intervals_are_clamped_to_five_seconds() {
        let store = Store::new("c1", None, &[stat("k", "d", 1)]);
        let t0 = Instant::now();
        store.write(&[point("k", 1, "1", 1.0)], t0);
        assert_eq!(
            store
                .render(Format::Text, t0 + Duration::from_millis(4900))
                .1,
            1
        );
        assert_eq!(store.render(Format::Text, t0 + MIN_EXPIRY).1, 0);
    }

    #[test]
    fn unknown_keys_get_a_help_text_and_a_long_expiry() {
        let store = Store::new("c1", None, &[]);
        let t0 = Instant::now();
        store.write(&[point("x.y", 1, "1", 1.0)], t0);
        let body = text(&store, t0 + Duration::from_secs(299));
        assert!(
            body.starts_with("# HELP isilon_stat_x_y OneFS statistic x.y\n"),
            "{body}"
        );
    }

    #[test]
    fn writes_sweep_expired_series_out_of_memory() {
        let store = Store::new("c1", None, &[stat("k", "d", 5), stat("j", "d", 60)]);
        let t0 = Instant::now();
        store.write(&[point("k", 1, "1", 1.0), point("k", 1, "2", 1.0)], t0);
        assert_eq!(store.len(), 2);
        store.write(&[point("j", 1, "1", 1.0)], t0 + Duration::from_secs(6));
        assert_eq!(store.len(), 1);
        assert!(!store.is_empty());
    }

    #[test]
    fn instance_label_carries_the_cluster_name() {
        let store = Store::new("c1", Some("isilon_cluster"), &[stat("k", "d", 5)]);
        let t0 = Instant::now();
        store.write(&[point("k", 1, "1", 1.0)], t0);
        assert!(text(&store, t0).contains("{cluster=\"c1\",isilon_cluster=\"c1\",node=\"1\"}"));
    }
}
