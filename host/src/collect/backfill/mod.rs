//! History backfill (issue 12): after any gap in a cluster's data, fetch the
//! missing window from the cluster's own `/platform/1/statistics/history` and
//! deliver it, with the original timestamps, to the sinks that want history.
//!
//! One mechanism covers every cause of a gap (idic stopped or restarted, the
//! cluster unreachable, failed cycles, a session that could not be renewed):
//! per key, the time of the last point accepted for delivery is remembered in
//! the state folder (`state.rs`); when a live cycle delivers a point more than
//! one interval after it, the seconds between are a gap (`window.rs`, capped by
//! `[global] backfill_max`; the older rest is logged as not recoverable). Gaps
//! are fetched in slices of about [`TARGET_SAMPLES`] samples (`history.rs`),
//! only while the cluster's next live cycle is at least [`LIVE_MARGIN`] away:
//! live cycles always go first, on the same connection and session. A slice's
//! points go to a second sink per backfill-capable sink, opened with `extra`
//! `{"backfill": true}`, through its own queue and byte bound (a long backfill
//! never evicts live batches); each step of progress is saved, so an
//! interrupted backfill resumes where it stopped, and a timestamp already
//! delivered is never asked for again (windows exclude both delivered ends).
//! Live cycles move the remembered times without a new gap or key: that is
//! saved at most every [`SAVE_EVERY`] and when the task ends, not after every cycle
//! (rewriting the file each cycle was a quarter of idic's CPU at 20 clusters).
//! After a crash the first gap therefore starts up to [`SAVE_EVERY`] early: those
//! samples are delivered again with their original times and values, which a
//! time-series store keeps once (the live queues are at-least-once after a
//! crash too).
//!
//! Keys without history (no `policies`, error code 7) and summary statistics
//! are skipped and said so once per cluster task. This module owns none of the
//! live path: `cluster.rs` calls [`Backfill::observe`] after each live push and
//! [`Backfill::step`] when it has time to spare.

mod history;
mod state;
mod window;

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use idic_plugin_api::{OpenContext, Point};

use super::cluster::Job;
use super::decode;
use super::schedule::{Bucket, Fetch};
use crate::backoff::Backoff;
use crate::deliver::{self, Delivery};
use crate::onefs::{self, Client, Identity, KeyMeta};
use crate::pool::Pool;
use crate::supervise::{cluster_folder, default_state_dir};
use state::{Pending, State};
use window::Window;

/// A slice starts only when the next live cycle is at least this far away.
pub const LIVE_MARGIN: Duration = Duration::from_secs(1);
/// About how many samples one history request carries (keys x nodes x times).
pub const TARGET_SAMPLES: usize = 10_000;
/// The span of the first request of a gap, in seconds.
const FIRST_SPAN: i64 = 300;
/// What a backfill sink finds in its `OpenContext.extra`.
pub const EXTRA: &str = r#"{"backfill": true}"#;
/// The longest a change of the remembered times alone waits to be saved.
const SAVE_EVERY: Duration = Duration::from_secs(30);

/// The backfill of one cluster task.
pub struct Backfill {
    name: String,
    guid: String,
    file: PathBuf,
    max: i64,
    state: State,
    /// Keys the cluster keeps history of.
    with_history: BTreeSet<String>,
    /// Keys and measurements already said to have no history.
    said: BTreeSet<String>,
    deliveries: Vec<Delivery>,
    opts: decode::Options,
    span: i64,
    retry_at: Option<Instant>,
    backoff: Backoff,
    /// Per pending gap (by its window's begin): points delivered and the
    /// coarsest resolution read, for the closing log line.
    progress: HashMap<i64, (usize, i64)>,
    save_failing: bool,
    /// When the file was last written, and whether the state changed since.
    saved_at: Instant,
    dirty: bool,
}

/// The folder of a backfill queue, given its sink's live queue folder
/// `<state_dir>/<sink>`: `<state_dir>/backfill/<sink>/<host_port>`.
fn backfill_queue_dir(sink_dir: &std::path::Path, label: &str) -> PathBuf {
    let sink = sink_dir.file_name().unwrap_or_default();
    sink_dir
        .parent()
        .unwrap_or(std::path::Path::new(""))
        .join("backfill")
        .join(sink)
        .join(cluster_folder(label))
}

impl Backfill {
    /// Loads the cluster's state and starts one backfill delivery per sink that
    /// wants history; `None` when backfill is off or no sink wants it.
    /// `contexts` are the live sinks' open contexts, one per `job.targets`: a
    /// backfill sink opens with a copy of its live sink's (plus [`EXTRA`]), made
    /// only when a gap's first points come, so a cluster without gaps holds no
    /// second context.
    pub async fn start(
        job: &Job,
        label: &str,
        name: &str,
        identity: &Identity,
        metas: &HashMap<String, KeyMeta>,
        contexts: &[Arc<OpenContext>],
    ) -> Option<Backfill> {
        let g = &job.config.global;
        if g.backfill_max == 0 || job.targets.iter().all(|t| t.backfill.is_none()) {
            return None;
        }
        let state_dir = job
            .config
            .table
            .get("delivery")
            .and_then(|d| d.get("state_dir"))
            .and_then(toml::Value::as_str)
            .map_or_else(|| default_state_dir(&job.config.path), PathBuf::from);
        let guid = if identity.guid.is_empty() {
            cluster_folder(label)
        } else {
            identity.guid.clone()
        };
        let file = state::path(&state_dir, &guid);
        let state = State::load(&file).unwrap_or_else(|e| {
            log::warn!("cluster={name} backfill state {e}; starting afresh (gaps before now are not filled)");
            State::default()
        });
        if !state.pending.is_empty() {
            log::info!(
                "cluster={name} resuming the backfill of {} gaps",
                state.pending.len()
            );
        }
        let mut deliveries = Vec::new();
        for (target, live) in job.targets.iter().zip(contexts) {
            let Some(budget) = &target.backfill else {
                continue;
            };
            let live = Arc::clone(live);
            let plugin = target.plugin.clone();
            let delivery = Delivery::start(
                deliver::Names {
                    cluster: name.to_string(),
                    plugin: format!("{} (backfill)", target.label),
                },
                Arc::new(move || {
                    let mut ctx = OpenContext::clone(&live);
                    ctx.extra = EXTRA.into();
                    plugin.open(&ctx)
                }),
                deliver::Settings {
                    capacity: g.queue_size,
                    budget: Arc::clone(budget),
                    // `<state_dir>/backfill/<sink>/<host_port>/`: beside the
                    // state files, out of the live queues' folders.
                    disk: target.disk.as_ref().map(|dir| deliver::Disk {
                        dir: backfill_queue_dir(dir, label),
                        segment_bytes: target.segment_bytes,
                        syncer: job.syncer.clone(),
                        failing: Arc::clone(&target.failing),
                    }),
                    max_retries: g.stats_processor_max_retries,
                    retry_interval: Duration::from_secs(
                        g.stats_processor_retry_interval.max(1) as u64
                    ),
                    max_backoff: Duration::from_secs(g.max_backoff.max(1)),
                },
                &job.pools.sinks,
                &job.writers,
            )
            .await;
            deliveries.push(delivery);
        }
        Some(Backfill {
            name: name.to_string(),
            guid,
            file,
            max: i64::try_from(g.backfill_max).unwrap_or(i64::MAX),
            state,
            with_history: metas
                .values()
                .filter(|m| m.has_history)
                .map(|m| m.key.clone())
                .collect(),
            said: BTreeSet::new(),
            deliveries,
            opts: decode::Options {
                cluster: name.to_string(),
                include_degraded: g.include_degraded,
                keys_seen: false,
            },
            span: FIRST_SPAN,
            retry_at: None,
            backoff: Backoff::new(
                Duration::from_secs(1),
                Duration::from_secs(g.max_backoff.max(1)),
            ),
            progress: HashMap::new(),
            save_failing: false,
            saved_at: Instant::now(),
            dirty: false,
        })
    }

    /// After a live cycle of `bucket` delivered `points`: remembers their times
    /// and turns any gap they reveal into pending work.
    pub fn observe(&mut self, bucket: &Bucket, points: &[Point]) {
        let interval = i64::try_from(bucket.interval.as_secs()).unwrap_or(i64::MAX);
        // The newest time of each key; a key's rows (one per node) come together.
        let mut newest: Vec<(&str, i64)> = Vec::new();
        for p in points {
            match newest.last_mut() {
                Some((key, t)) if *key == p.measurement.as_str() => *t = (*t).max(p.time),
                _ => newest.push((p.measurement.as_str(), p.time)),
            }
        }
        newest.sort_unstable();
        newest.dedup_by(|later, first| {
            let same = later.0 == first.0;
            if same {
                first.1 = first.1.max(later.1);
            }
            same
        });
        let stats = matches!(bucket.what, Fetch::Stats(_));
        let mut fills: BTreeMap<(i64, i64), Vec<String>> = BTreeMap::new();
        let mut lost: BTreeMap<(i64, i64), usize> = BTreeMap::new();
        let mut without: Vec<String> = Vec::new();
        self.dirty |= !newest.is_empty();
        // A key seen for the first time must reach the file at once: without it
        // a crash before the next save would leave no start for the gap.
        let mut first_seen = false;
        for (key, t) in newest {
            let last = match self.state.last.get_mut(key) {
                Some(last) => std::mem::replace(last, t),
                None => {
                    self.state.last.insert(key.to_string(), t);
                    first_seen = true;
                    continue;
                }
            };
            let gap = window::gap(last, t, interval, self.max);
            if gap.fill.is_none() && gap.lost.is_none() {
                continue;
            }
            if !stats || !self.with_history.contains(key) {
                if self.said.insert(key.to_string()) {
                    without.push(key.to_string());
                }
                continue;
            }
            if let Some(w) = gap.fill {
                fills
                    .entry((w.begin, w.end))
                    .or_default()
                    .push(key.to_string());
            }
            if let Some(w) = gap.lost {
                *lost.entry((w.begin, w.end)).or_default() += 1;
            }
        }
        if !without.is_empty() {
            log::info!(
                "cluster={} {} statistics keep no history on this cluster (summary statistics never do): their gaps stay missing: {}",
                self.name,
                without.len(),
                without.join(", ")
            );
        }
        for ((begin, end), n) in lost {
            log::warn!(
                "cluster={} {n} statistics missed {begin} to {end} ({} s), longer ago than backfill_max = {} s: not recoverable",
                self.name,
                end - begin + 1,
                self.max
            );
        }
        let found = first_seen || !fills.is_empty();
        for ((begin, end), keys) in fills {
            log::info!(
                "cluster={} gap of {} s ({begin} to {end}) in {} statistics ({}): filling it from the cluster's history",
                self.name,
                end - begin + 1,
                keys.len(),
                bucket.name
            );
            self.state.pending.push(Pending {
                keys,
                interval,
                window: Window { begin, end },
                next: begin,
            });
        }
        // A new key or gap is saved at once; moved times alone at most every
        // SAVE_EVERY.
        if found || self.saved_at.elapsed() >= SAVE_EVERY {
            self.save();
        }
    }

    /// Whether a slice is waiting and may run now.
    pub fn has_work(&self, now: Instant) -> bool {
        !self.state.pending.is_empty() && self.retry_at.is_none_or(|r| now >= r)
    }

    /// Fetches and delivers one slice of the oldest pending gap. Decoding that
    /// has not finished by `deadline` (the decode pool is busy: many clusters
    /// backfill at once) is given up, so the next live cycle is not delayed: the
    /// slice is fetched again later, half as long.
    pub async fn step(&mut self, client: &mut Client, decode_pool: &Pool, deadline: Instant) {
        let Some(p) = self.state.pending.first().cloned() else {
            return;
        };
        let keys: Vec<String> = p
            .keys
            .iter()
            .filter(|k| !self.said.contains(*k))
            .cloned()
            .collect();
        if keys.is_empty() {
            self.state.pending.remove(0);
            self.save();
            return;
        }
        let w = window::slice(p.window, p.next, self.span);
        let mut answers = Vec::new();
        for target in history::targets(&keys, w) {
            match client.get(&target).await {
                Ok(body) => answers.push(body),
                Err(e) => return self.failed(&p, w, e),
            }
        }
        let opts = self.opts.clone();
        let decoding = decode_pool.run(move || {
            let mut all = history::Slice::default();
            for body in &answers {
                let s = history::decode(body, w, &opts)?;
                all.decoded.points.extend(s.decoded.points);
                all.decoded.problems.extend(s.decoded.problems);
                all.samples += s.samples;
                all.no_history.extend(s.no_history);
                for (k, r) in s.resolution {
                    let e = all.resolution.entry(k).or_insert(r);
                    *e = (*e).max(r);
                }
            }
            Ok::<_, String>(all)
        });
        let Ok(outcome) = tokio::time::timeout_at(deadline.into(), decoding).await else {
            self.span = (self.span / 2).max(p.interval);
            log::debug!(
                "cluster={} backfill: decoding {} to {} would delay a live cycle; later, {} s at a time",
                self.name,
                w.begin,
                w.end,
                self.span
            );
            return;
        };
        let outcome = outcome
            .map_err(crate::supervise::panic_message)
            .and_then(|r| r);
        let slice = match outcome {
            Ok(s) => s,
            Err(e) => {
                log::warn!(
                    "cluster={} the history of {} to {} could not be decoded ({e}); that part is skipped",
                    self.name,
                    w.begin,
                    w.end
                );
                self.advance(&p, w, 0, p.interval);
                return;
            }
        };
        self.backoff.reset();
        self.retry_at = None;
        let new: Vec<String> = slice
            .no_history
            .iter()
            .filter(|k| self.said.insert((*k).clone()))
            .cloned()
            .collect();
        if !new.is_empty() {
            log::info!(
                "cluster={} {} statistics answer that their history is not kept; their gaps stay missing: {}",
                self.name,
                new.len(),
                new.join(", ")
            );
        }
        for problem in &slice.decoded.problems {
            log::debug!("cluster={} backfill: {problem}", self.name);
        }
        let points = slice.decoded.points.len();
        if points > 0 {
            let batch = Arc::new(slice.decoded.points);
            for d in &self.deliveries {
                d.push(Arc::clone(&batch));
            }
        }
        let coarsest = slice
            .resolution
            .values()
            .copied()
            .max()
            .unwrap_or(p.interval);
        self.span = window::next_span(
            w.end - w.begin + 1,
            slice.samples,
            TARGET_SAMPLES,
            p.interval,
        );
        self.advance(&p, w, points, coarsest);
    }

    /// Records that `w` of gap `p` is done.
    fn advance(&mut self, p: &Pending, w: Window, points: usize, resolution: i64) {
        let progress = self.progress.entry(p.window.begin).or_insert((0, 0));
        progress.0 += points;
        progress.1 = progress.1.max(resolution);
        let (total, coarsest) = *progress;
        let Some(gap) = self.state.pending.first_mut() else {
            return;
        };
        gap.next = w.end + 1;
        if gap.next > gap.window.end {
            self.state.pending.remove(0);
            self.progress.remove(&p.window.begin);
            let how = if coarsest > p.interval {
                format!(
                    "at {coarsest} s resolution: the cluster no longer holds its {} s samples of that time",
                    p.interval
                )
            } else {
                format!("at {} s resolution", p.interval)
            };
            log::info!(
                "cluster={} backfilled {} statistics from {} to {}: {total} points, {how}",
                self.name,
                p.keys.len(),
                p.window.begin,
                p.window.end
            );
        }
        self.save();
    }

    /// A request failed: a refused one (400) is asked for again half as long,
    /// and skipped when it is one interval already; anything else waits with
    /// the back-off (the live cycles report the cluster's troubles).
    fn failed(&mut self, p: &Pending, w: Window, e: onefs::Error) {
        match &e {
            onefs::Error::Status { status: 400, .. } if self.span > p.interval => {
                self.span = (self.span / 2).max(p.interval);
                log::debug!(
                    "cluster={} history answer refused ({e}); asking for {} s at a time",
                    self.name,
                    self.span
                );
            }
            onefs::Error::Status { status: 400, .. } => {
                log::warn!(
                    "cluster={} refuses the history of {} to {} ({e}); that part is skipped",
                    self.name,
                    w.begin,
                    w.end
                );
                self.advance(p, w, 0, p.interval);
            }
            onefs::Error::Status { status: 404, .. } => {
                log::warn!(
                    "cluster={} does not serve /platform/1/statistics/history ({e}); its gaps are not filled",
                    self.name
                );
                self.state.pending.clear();
                self.with_history.clear();
                self.save();
            }
            _ => {
                let wait = self.backoff.next_wait();
                log::warn!(
                    "cluster={} backfill request failed: {e}; trying again in {} s",
                    self.name,
                    wait.as_secs_f64().ceil()
                );
                self.retry_at = Some(Instant::now() + wait);
            }
        }
    }

    fn save(&mut self) {
        self.saved_at = Instant::now();
        self.dirty = false;
        match self.state.save(&self.file, &self.guid) {
            Ok(()) if self.save_failing => {
                self.save_failing = false;
                log::info!(
                    "cluster={} backfill state is saved again in {}",
                    self.name,
                    self.file.display()
                );
            }
            Ok(()) => {}
            Err(e) if !self.save_failing => {
                self.save_failing = true;
                log::error!(
                    "cluster={} cannot save the backfill state {}: {e}; gaps are still filled while idic runs, but a restart forgets them",
                    self.name,
                    self.file.display()
                );
            }
            Err(_) => {}
        }
    }
}

impl Drop for Backfill {
    /// Saves what the last live cycles moved: a stop or reload loses nothing.
    fn drop(&mut self) {
        if self.dirty {
            self.save();
        }
    }
}
