//! One cluster's latest samples, shared by the sink (which writes) and its
//! listener (which renders scrapes), kept compact.
//!
//! Memory: each series is an entry of its family's sorted vector, its label
//! set and a 24-byte sample (value, Unix seconds, expiry in milliseconds): 40
//! bytes. A label set is formatted once, when its series first appears, and
//! interned: the fields of one row (a client summary row has fourteen) share
//! one string, and metric names and HELP texts exist once per family. Nothing
//! is allocated per sample on a write that only updates values.
//!
//! Locking: a write formats its batch (names, label sets, values) without the
//! lock and finds each sample's series under the read lock (scrapes copy
//! meanwhile); under the write lock it then only stores the values and merges
//! new series in (positions are found again if another write moved series in
//! between). A scrape holds the read lock just long enough to copy the live
//! samples (reference-counted label sets, values, times: [`Snapshot`]) and
//! renders from that copy without the lock, so a write waits at most for that
//! copy and a scrape for the storing of one batch.
//!
//! Expiry: a sample is exposed until its key's update interval (at least 5 s)
//! has passed since it *arrived* without a newer write of the same series;
//! measuring from arrival, not from the cluster's timestamp, keeps a cluster
//! whose clock is off from losing or keeping its samples. Expired samples are
//! skipped by scrapes and removed by the next write (at most once a second).

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

use idic_plugin_api::{Point, StatInfo};

use crate::encode::{self, Format, Scratch};
use crate::ppstat;
use crate::snapshot::{self, Snapshots, NO_TIME};

/// The shortest time a sample stays exposed (gostats' clamp).
pub const MIN_EXPIRY: Duration = Duration::from_secs(5);

/// How long a sample of a key the host did not describe stays exposed.
pub const UNKNOWN_KEY_EXPIRY: Duration = Duration::from_secs(300);

/// The position of a series a write does not hold yet.
const NEW: u32 = u32::MAX;

/// How often a write sweeps expired samples out of the map.
const PURGE_EVERY: Duration = Duration::from_secs(1);

/// How much rendered text is gathered before it is handed on, when a body is
/// rendered in pieces ([`Snapshot::render_piece`]). Pieces are small on
/// purpose: glibc's malloc (which a plugin uses) serves blocks above its mmap
/// threshold (64 KiB under idic, which sets it; 128 KiB by default) with a
/// fresh mapping each time, so 256 KiB pieces cost a page fault per 4 KiB of
/// every body. A piece and its slack stay under [`PIECE_CAPACITY`], the
/// capacity of the recycled piece buffers (`recycle.rs`).
const PIECE: usize = 24 * 1024;

/// The capacity a piece is allocated with: under the 64 KiB threshold.
const PIECE_CAPACITY: usize = crate::recycle::CAPACITY;

/// Series rendered between two looks at a piece's size: at a few hundred bytes
/// a line, a piece stays within [`PIECE_CAPACITY`].
const LINES_PER_STEP: usize = 64;

/// One cluster's samples and the metadata to expose them.
#[derive(Debug)]
pub struct Store {
    cluster: String,
    instance_label: Option<String>,
    keys: HashMap<String, KeyMeta>,
    /// Expiry times are milliseconds since this instant.
    epoch: Instant,
    inner: RwLock<Inner>,
    /// Whole snapshots (quotas), served beside the samples.
    snapshots: Arc<Snapshots>,
}

#[derive(Debug)]
struct KeyMeta {
    help: Arc<str>,
    expiry: Duration,
}

#[derive(Debug)]
struct Inner {
    /// Families by metric name (so bodies come out sorted).
    families: BTreeMap<Arc<str>, Family>,
    /// Every label set held by some series: one string per row, shared by the
    /// row's families.
    label_sets: HashSet<Arc<str>>,
    /// Series held, expired ones included until the next sweep.
    series: usize,
    /// Counts the changes that move series (new ones merged in, sweeps), so
    /// that positions found under the read lock are known to be still right.
    generation: u64,
    last_purge: Instant,
}

/// One metric family: its HELP text and its series with their rendered label
/// set (`{cluster="c1",node="1"}`, or empty), sorted by it and unique: found
/// by binary search, and written out in order. A sorted vector, not a tree:
/// 40 bytes a series and nothing more.
#[derive(Debug)]
struct Family {
    help: Arc<str>,
    series: Vec<(Arc<str>, Sample)>,
}

/// The latest value of one series.
#[derive(Debug, Clone, Copy, PartialEq)]
struct Sample {
    value: f64,
    /// The statistic's own time, Unix seconds.
    time: i64,
    /// When the sample stops being exposed unless refreshed: milliseconds since
    /// the store's epoch.
    expires: u64,
}

/// The live samples of a store at one instant, copied out of it so that a body
/// is rendered without holding the store's lock.
#[derive(Debug, Default)]
pub struct Snapshot {
    /// (name, HELP, end of its series in `series`), sorted by name.
    families: Vec<(Arc<str>, Arc<str>, usize)>,
    /// (label set, value, Unix seconds), family after family, sorted.
    series: Vec<(Arc<str>, f64, i64)>,
    /// The length of the text body, give or take the values' digits.
    size_hint: usize,
}

/// Where the rendering of a [`Snapshot`] stands ([`Snapshot::render_piece`]).
#[derive(Debug, Default)]
pub struct Cursor {
    /// The family being rendered (an index in `families`).
    family: usize,
    /// Its next series (an index in `series`).
    from: usize,
    /// Samples rendered so far.
    written: usize,
    /// Whether the end mark is written.
    finished: bool,
}

impl Cursor {
    /// The number of samples rendered so far.
    pub fn written(&self) -> usize {
        self.written
    }
}

/// A batch prepared outside the lock: names and label sets formatted once.
#[derive(Default)]
struct Prepared<'a> {
    /// (metric name, statistics key), one per family the batch touches.
    names: Vec<(String, &'a str)>,
    ids: HashMap<String, u32>,
    /// The batch's label sets, one per row, one after another (one
    /// allocation for the batch, not one per row).
    label_text: String,
    /// Where each label set is in `label_text`.
    label_sets: Vec<(u32, u32)>,
    /// (index in `names`, index in `label_sets`, sample).
    updates: Vec<(u32, u32, Sample)>,
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
                let meta = KeyMeta {
                    help: help.into(),
                    expiry,
                };
                (s.key.to_string(), meta)
            })
            .collect();
        let epoch = Instant::now();
        Store {
            snapshots: Arc::new(Snapshots::new(cluster)),
            cluster: cluster.to_string(),
            instance_label: instance_label.map(str::to_string),
            keys,
            epoch,
            inner: RwLock::new(Inner {
                families: BTreeMap::new(),
                label_sets: HashSet::new(),
                series: 0,
                generation: 0,
                last_purge: epoch,
            }),
        }
    }

    /// The store with `snapshots` (the plugin's, kept across sinks of the
    /// cluster) instead of its own.
    pub fn with_snapshots(mut self, snapshots: Arc<Snapshots>) -> Store {
        snapshots.set_instance_label(self.instance_label.as_deref());
        self.snapshots = snapshots;
        self
    }

    /// Records every sample of `batch` as arrived at `now`; points of snapshot
    /// measurements go to the cluster's [`Snapshots`]. Returns how many
    /// samples were written (snapshot points not counted).
    pub fn write(&self, batch: &[Point], now: Instant) -> usize {
        if batch.iter().any(|p| snapshot::is_snapshot(&p.measurement)) {
            self.snapshots.write(
                batch
                    .iter()
                    .filter(|p| snapshot::is_snapshot(&p.measurement)),
            );
        }
        let prepared = self.prepare(batch, now);
        let located = self.locate(&prepared);
        self.store(&prepared, located, now)
    }

    /// Where each sample of `prepared` goes, found under the read lock (so
    /// that scrapes copy meanwhile), and the generation it was found in.
    fn locate(&self, prepared: &Prepared<'_>) -> (Vec<u32>, u64) {
        let inner = self.inner.read().unwrap_or_else(|e| e.into_inner());
        (prepared.positions(&inner), inner.generation)
    }

    /// Stores `prepared` under the write lock at the positions `located`
    /// found (found again if series moved since), merges new series in and
    /// sweeps when due. Returns how many samples were written.
    fn store(
        &self,
        prepared: &Prepared<'_>,
        (mut positions, seen): (Vec<u32>, u64),
        now: Instant,
    ) -> usize {
        let now_ms = self.millis(now);
        let mut inner = self.inner.write().unwrap_or_else(|e| e.into_inner());
        if inner.generation != seen {
            positions = prepared.positions(&inner);
        }
        let Inner {
            families,
            label_sets,
            series,
            generation,
            last_purge,
        } = &mut *inner;
        let mut touched: Vec<Option<&mut Family>> = Vec::new();
        // Each family the batch touches, looked up (or made) once.
        for (name, key) in &prepared.names {
            if !families.contains_key(name.as_str()) {
                let family = Family {
                    help: self.help(key, name),
                    series: Vec::new(),
                };
                families.insert(Arc::from(name.as_str()), family);
            }
        }
        let mut wanted: Vec<(&str, usize)> = prepared
            .names
            .iter()
            .enumerate()
            .map(|(i, (name, _))| (name.as_str(), i))
            .collect();
        wanted.sort_unstable();
        touched.resize_with(prepared.names.len(), || None);
        let mut wanted = wanted.into_iter().peekable();
        for (name, family) in families.iter_mut() {
            match wanted.peek() {
                Some((w, i)) if **w == **name => {
                    touched[*i] = Some(family);
                    wanted.next();
                }
                Some(_) => {}
                None => break,
            }
        }
        // Known series are updated in place; new ones are gathered and merged
        // into their families afterwards, each family once.
        let mut new_series: Vec<(u32, u32, Sample)> = Vec::new();
        for (&(name, labels, sample), at) in prepared.updates.iter().zip(&positions) {
            let Some(family) = touched[name as usize].as_deref_mut() else {
                continue;
            };
            match *at {
                NEW => new_series.push((name, labels, sample)),
                i => family.series[i as usize].1 = sample,
            }
        }
        // By family, then label text; of equal ones (a label set twice in one
        // batch) the last written is kept, as an update would have done.
        let text = |l: u32| prepared.labels(l);
        new_series.sort_by(|a, b| a.0.cmp(&b.0).then_with(|| text(a.1).cmp(text(b.1))));
        let mut kept: Vec<(u32, u32, Sample)> = Vec::with_capacity(new_series.len());
        for entry in new_series {
            match kept.last_mut() {
                Some(last) if last.0 == entry.0 && text(last.1) == text(entry.1) => *last = entry,
                _ => kept.push(entry),
            }
        }
        for group in kept.chunk_by(|a, b| a.0 == b.0) {
            let Some(family) = touched[group[0].0 as usize].as_deref_mut() else {
                continue;
            };
            let added = group.iter().map(|&(_, labels, sample)| {
                let labels = text(labels);
                let shared = match label_sets.get(labels) {
                    Some(l) => Arc::clone(l),
                    None => {
                        let l: Arc<str> = Arc::from(labels);
                        label_sets.insert(Arc::clone(&l));
                        l
                    }
                };
                (shared, sample)
            });
            family.merge(added.collect());
            *series += group.len();
            *generation += 1;
        }
        drop(touched);
        if now.saturating_duration_since(*last_purge) >= PURGE_EVERY {
            *last_purge = now;
            families.retain(|_, f| {
                f.series.retain(|(_, s)| s.expires > now_ms);
                if f.series.capacity() > 2 * f.series.len() + 16 {
                    f.series.shrink_to_fit();
                }
                !f.series.is_empty()
            });
            *series = families.values().map(|f| f.series.len()).sum();
            *generation += 1;
            // A label set only the index still holds belongs to no series.
            label_sets.retain(|l| Arc::strong_count(l) > 1);
        }
        prepared.updates.len()
    }

    /// A copy of every sample live at `now`, to render without the lock.
    pub fn snapshot(&self, now: Instant) -> Snapshot {
        let now_ms = self.millis(now);
        let inner = self.inner.read().unwrap_or_else(|e| e.into_inner());
        let mut snap = Snapshot {
            families: Vec::with_capacity(inner.families.len()),
            series: Vec::with_capacity(inner.series),
            size_hint: 0,
        };
        for (name, family) in &inner.families {
            let start = snap.series.len();
            let mut labels_len = 0;
            for (labels, s) in &family.series {
                if s.expires > now_ms {
                    labels_len += labels.len();
                    snap.series.push((Arc::clone(labels), s.value, s.time));
                }
            }
            let n = snap.series.len() - start;
            if n > 0 {
                snap.families.push((
                    Arc::clone(name),
                    Arc::clone(&family.help),
                    snap.series.len(),
                ));
                // Two header lines, then per series the name, labels and about
                // 30 bytes of value and timestamp.
                snap.size_hint += 2 * name.len() + family.help.len() + 20;
                snap.size_hint += n * (name.len() + 30) + labels_len;
            }
        }
        drop(inner);
        for built in self.snapshots.current() {
            for (name, help, series) in &built.families {
                for (labels, value) in series {
                    snap.size_hint += name.len() + labels.len() + 20;
                    snap.series.push((Arc::clone(labels), *value, NO_TIME));
                }
                snap.size_hint += 2 * name.len() + help.len() + 20;
                snap.families
                    .push((Arc::clone(name), Arc::clone(help), snap.series.len()));
            }
        }
        snap
    }

    /// The exposition body of every sample live at `now`, and how many samples
    /// it holds.
    pub fn render(&self, format: Format, now: Instant) -> (String, usize) {
        let snap = self.snapshot(now);
        let mut out = String::new();
        let n = snap.render(format, &mut out);
        (out, n)
    }

    /// The number of series held, expired ones included until the next sweep.
    pub fn len(&self) -> usize {
        self.inner.read().unwrap_or_else(|e| e.into_inner()).series
    }

    /// Whether no series is held.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Formats `batch` into names, label sets and samples (no lock held).
    fn prepare<'a>(&self, batch: &'a [Point], now: Instant) -> Prepared<'a> {
        let instance = self
            .instance_label
            .as_deref()
            .map(|name| (name, self.cluster.as_str()));
        let now_ms = self.millis(now);
        let mut scratch = Scratch::default();
        let mut p = Prepared::default();
        let mut pp_bases: HashMap<&str, String> = HashMap::new();
        for point in batch
            .iter()
            .filter(|p| !snapshot::is_snapshot(&p.measurement))
        {
            let key = point.measurement.as_str();
            let pp = ppstat::is_ppstat(key);
            let expiry = if pp {
                ppstat::EXPIRY
            } else {
                self.keys.get(key).map_or(UNKNOWN_KEY_EXPIRY, |m| m.expiry)
            };
            let expires = now_ms.saturating_add(expiry.as_millis() as u64);
            let mut each = |name: &str, labels: &str, value: f64| {
                // The samples of a row come together: one label set per row.
                let last = p
                    .label_sets
                    .last()
                    .map(|&(from, to)| &p.label_text[from as usize..to as usize]);
                if last != Some(labels) {
                    let from = p.label_text.len() as u32;
                    p.label_text.push_str(labels);
                    p.label_sets.push((from, p.label_text.len() as u32));
                }
                let id = match p.ids.get(name) {
                    Some(&id) => id,
                    None => {
                        let id = p.names.len() as u32;
                        p.names.push((name.to_string(), key));
                        p.ids.insert(name.to_string(), id);
                        id
                    }
                };
                let sample = Sample {
                    value,
                    time: point.time,
                    expires,
                };
                p.updates
                    .push((id, (p.label_sets.len() - 1) as u32, sample));
            };
            if pp {
                let base = pp_bases
                    .entry(key)
                    .or_insert_with(|| ppstat::base_name(batch, key));
                ppstat::for_each_sample(point, base, instance, &mut each);
            } else {
                encode::for_each_sample(point, instance, &mut scratch, &mut each);
            }
        }
        p
    }

    fn millis(&self, t: Instant) -> u64 {
        t.saturating_duration_since(self.epoch).as_millis() as u64
    }

    /// The HELP text of family `name` (statistics key `key`): goppstats'
    /// texts for a partitioned-performance family, else the key's description.
    fn help(&self, key: &str, name: &str) -> Arc<str> {
        if let Some(help) = ppstat::help(key, name) {
            return help.into();
        }
        match self.keys.get(key) {
            Some(meta) => Arc::clone(&meta.help),
            None => format!("OneFS statistic {key}").into(),
        }
    }
}

impl Prepared<'_> {
    /// Label set `i` of the batch.
    fn labels(&self, i: u32) -> &str {
        let (from, to) = self.label_sets[i as usize];
        &self.label_text[from as usize..to as usize]
    }

    /// Where each update's series is in its family ([`NEW`]: a new series).
    fn positions(&self, inner: &Inner) -> Vec<u32> {
        let families: Vec<Option<&Family>> = self
            .names
            .iter()
            .map(|(name, _)| inner.families.get(name.as_str()))
            .collect();
        self.updates
            .iter()
            .map(|&(name, labels, _)| {
                families[name as usize]
                    .and_then(|family| family.find(self.labels(labels)).ok())
                    .map_or(NEW, |i| i as u32)
            })
            .collect()
    }
}

impl Family {
    /// Where the series of label set `labels` is, or where it would go.
    fn find(&self, labels: &str) -> Result<usize, usize> {
        self.series.binary_search_by(|(l, _)| (**l).cmp(labels))
    }

    /// Adds `added`, sorted by label set and none of them already held,
    /// keeping the series sorted: one merge, one allocation of the exact size.
    fn merge(&mut self, added: Vec<(Arc<str>, Sample)>) {
        let old = std::mem::take(&mut self.series);
        let mut merged = Vec::with_capacity(old.len() + added.len());
        let mut old = old.into_iter().peekable();
        let mut added = added.into_iter().peekable();
        loop {
            let take_old = match (old.peek(), added.peek()) {
                (Some(o), Some(a)) => o.0 < a.0,
                (Some(_), None) => true,
                (None, Some(_)) => false,
                (None, None) => break,
            };
            let next = if take_old { old.next() } else { added.next() };
            merged.extend(next);
        }
        self.series = merged;
    }
}

impl Snapshot {
    /// The number of samples.
    pub fn len(&self) -> usize {
        self.series.len()
    }

    /// Whether there is no sample.
    pub fn is_empty(&self) -> bool {
        self.series.is_empty()
    }

    /// About how long the text body is (for sizing buffers).
    pub fn size_hint(&self) -> usize {
        self.size_hint
    }

    /// Appends the whole body in `format` to `out` (reserving about its size
    /// first). Returns the number of samples written.
    pub fn render(&self, format: Format, out: &mut String) -> usize {
        out.reserve(self.size_hint + 16);
        let mut written = 0;
        let mut start = 0;
        for (name, help, end) in &self.families {
            written += self.render_family(out, format, name, help, start, *end);
            start = *end;
        }
        encode::finish(out, format);
        written
    }

    /// The capacity to allocate a piece with: [`PIECE_CAPACITY`], or less for
    /// a small body.
    pub fn piece_capacity(&self) -> usize {
        PIECE_CAPACITY.min(self.size_hint + 16)
    }

    /// Appends the next piece of the body in `format` to `out`: whole lines,
    /// about [`PIECE`] bytes, where `cursor` left off; the body's end mark
    /// comes with the last piece. Returns whether more is to come. A body is
    /// pulled this way by its answer as the client takes it, so a fast
    /// renderer never piles up a slow client's body in memory.
    pub fn render_piece(&self, format: Format, cursor: &mut Cursor, out: &mut String) -> bool {
        let begin = out.len();
        while let Some((name, help, end)) = self.families.get(cursor.family) {
            let start = match cursor.family {
                0 => 0,
                i => self.families[i - 1].2,
            };
            // Large families are split so that a piece stays near its size.
            let to = (cursor.from + LINES_PER_STEP).min(*end);
            cursor.written += if cursor.from == start {
                self.render_family(out, format, name, help, cursor.from, to)
            } else {
                self.render_lines(out, format, name, cursor.from, to)
            };
            cursor.from = to;
            if to == *end {
                cursor.family += 1;
            }
            if out.len() - begin >= PIECE {
                return cursor.family < self.families.len();
            }
        }
        if !cursor.finished {
            encode::finish(out, format);
            cursor.finished = true;
        }
        false
    }

    fn render_family(
        &self,
        out: &mut String,
        format: Format,
        name: &str,
        help: &str,
        from: usize,
        to: usize,
    ) -> usize {
        let series = self.series[from..to]
            .iter()
            .map(|(labels, value, time)| (&**labels, *value, *time));
        encode::render_family(out, format, name, help, series)
    }

    /// The lines of series `from..to` of family `name`, without its header.
    fn render_lines(
        &self,
        out: &mut String,
        format: Format,
        name: &str,
        from: usize,
        to: usize,
    ) -> usize {
        let series = self.series[from..to]
            .iter()
            .map(|(labels, value, time)| (&**labels, *value, *time));
        encode::render_lines(out, format, name, series)
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

    fn multi_field_point(key: &str, time: i64, nodes: u32) -> Point {
        Point {
            measurement: key.into(),
            time,
            rows: (1..=nodes)
                .map(|n| Row {
                    tags: vec![Tag::new("cluster", "c1"), Tag::new("node", &n.to_string())].into(),
                    fields: vec![
                        Field::new("in", Value::Float(f64::from(n))),
                        Field::new("out", Value::Float(0.5)),
                    ]
                    .into(),
                })
                .collect::<Vec<_>>()
                .into(),
        }
    }

    #[test]
    fn the_fields_of_a_row_share_one_label_set() {
        let store = Store::new("c1", None, &[stat("k.m", "d", 30)]);
        store.write(&[multi_field_point("k.m", 1, 3)], Instant::now());
        let inner = store.inner.read().unwrap();
        assert_eq!(inner.label_sets.len(), 3);
        let first = |name: &str| Arc::clone(&inner.families[name].series[0].0);
        assert!(Arc::ptr_eq(
            &first("isilon_stat_k_m_in"),
            &first("isilon_stat_k_m_out")
        ));
        assert_eq!(store.len(), 6);
    }

    #[test]
    fn a_sweep_forgets_the_label_sets_of_expired_series() {
        let store = Store::new("c1", None, &[stat("k.m", "d", 5), stat("j", "d", 60)]);
        let t0 = Instant::now();
        store.write(&[multi_field_point("k.m", 1, 3)], t0);
        store.write(&[point("j", 1, "9", 1.0)], t0 + Duration::from_secs(6));
        let inner = store.inner.read().unwrap();
        assert_eq!(inner.label_sets.len(), 1);
        assert_eq!(inner.series, 1);
    }

    #[test]
    fn a_snapshot_keeps_the_samples_of_its_instant_while_writes_go_on() {
        let store = Store::new("c1", None, &[stat("node.load.1min", "Load", 30)]);
        let t0 = Instant::now();
        store.write(&[point("node.load.1min", 100, "1", 1.0)], t0);
        let snapshot = store.snapshot(t0);
        // The write is not held up by the snapshot still being alive.
        store.write(&[point("node.load.1min", 105, "1", 2.0)], t0);
        let mut old = String::new();
        assert_eq!(snapshot.render(Format::Text, &mut old), 1);
        assert!(
            old.ends_with("{cluster=\"c1\",node=\"1\"} 1 100000\n"),
            "{old}"
        );
        assert!(text(&store, t0).ends_with("{cluster=\"c1\",node=\"1\"} 2 105000\n"));
    }

    #[test]
    fn a_body_rendered_in_pieces_is_the_whole_body() {
        let store = Store::new("c1", None, &[stat("k.m", "d", 30), stat("j", "d", 30)]);
        let t0 = Instant::now();
        store.write(
            &[
                multi_field_point("k.m", 1, 20_000),
                point("j", 1, "1", 1.0),
                multi_field_point("k.m.n", 1, 3),
            ],
            t0,
        );
        for format in [Format::Text, Format::OpenMetrics] {
            let snapshot = store.snapshot(t0);
            let mut whole = String::new();
            let n = snapshot.render(format, &mut whole);
            let mut pieces = Vec::new();
            let mut cursor = Cursor::default();
            loop {
                let mut piece = String::new();
                let more = snapshot.render_piece(format, &mut cursor, &mut piece);
                pieces.push(piece);
                if !more {
                    break;
                }
            }
            assert_eq!((n, cursor.written()), (40_007, 40_007));
            assert!(pieces.len() > 2, "{} pieces", pieces.len());
            assert!(pieces.iter().all(|p| p.ends_with('\n')));
            assert_eq!(pieces.concat(), whole);
            assert!(
                whole.len() <= snapshot.size_hint() + 16,
                "{} > {}",
                whole.len(),
                snapshot.size_hint()
            );
        }
    }

    #[test]
    fn new_series_take_their_place_in_label_order() {
        let store = Store::new("c1", None, &[stat("k", "d", 30)]);
        let t0 = Instant::now();
        store.write(&[point("k", 1, "1", 1.0), point("k", 1, "4", 4.0)], t0);
        store.write(&[point("k", 2, "3", 3.0), point("k", 2, "2", 2.0)], t0);
        let body = text(&store, t0);
        let nodes: Vec<&str> = body
            .lines()
            .filter_map(|l| l.split("node=\"").nth(1))
            .map(|rest| &rest[..1])
            .collect();
        assert_eq!(nodes, ["1", "2", "3", "4"], "{body}");
        assert_eq!(store.len(), 4);
    }

    #[test]
    fn a_new_series_twice_in_one_batch_keeps_the_last_value() {
        let store = Store::new("c1", None, &[stat("k", "d", 30)]);
        let t0 = Instant::now();
        store.write(&[point("k", 1, "1", 1.0), point("k", 2, "1", 2.0)], t0);
        assert_eq!(store.len(), 1);
        assert!(text(&store, t0).ends_with("{cluster=\"c1\",node=\"1\"} 2 2000\n"));
        store.write(&[point("k", 3, "1", 3.0), point("k", 4, "1", 4.0)], t0);
        assert_eq!(store.len(), 1);
        assert!(text(&store, t0).ends_with("{cluster=\"c1\",node=\"1\"} 4 4000\n"));
    }

    #[test]
    fn series_moved_by_a_write_in_between_are_found_again() {
        let store = Store::new("c1", None, &[stat("k", "d", 30)]);
        let t0 = Instant::now();
        store.write(&[point("k", 1, "2", 2.0)], t0);
        let batch = [point("k", 5, "2", 20.0)];
        let prepared = store.prepare(&batch, t0);
        let located = store.locate(&prepared);
        assert_eq!(located.0, [0]);
        // Another write puts node 1 in front of node 2 meanwhile.
        store.write(&[point("k", 3, "1", 1.0)], t0);
        assert_eq!(store.store(&prepared, located, t0), 1);
        let body = text(&store, t0);
        assert!(
            body.ends_with(
                "{cluster=\"c1\",node=\"1\"} 1 3000\nisilon_stat_k{cluster=\"c1\",node=\"2\"} 20 5000\n"
            ),
            "{body}"
        );
    }
}
