//! One cluster's collection task: connect, read identity and key metadata, open
//! the sink's delivery, then run each bucket of keys on its own drift-free timer,
//! at the cluster's phase of the shortest interval (so that the buckets due at
//! the same tick deliver one batch), forever. The supervisor ends the task
//! by dropping it (at any await point) and restarts it if it fails.
//!
//! A cluster never waits for another: requests are async (a cluster that never
//! answers holds a socket and a timer, not a thread), decoding takes one of a few
//! process-wide permits, delivery has its own queue and writer. After a failure
//! the cluster waits with the host's back-off; when it could not be reached at
//! all, every timer of the cluster waits, so an outage costs one attempt per
//! back-off, not one per timer.

use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use idic_plugin_api::Point;
use tokio::time::sleep_until;

use super::backfill::{self, Backfill};
use super::connect::{self, Connected};
use super::context::open_context;
use super::decode::{self, Decoded};
use super::failures::Failures;
use super::problems::{report_missing, KeyCare};
use super::schedule::{self, Bucket, Fetch};
use crate::backoff::Backoff;
use crate::config::Config;
use crate::deliver::{self, Delivery, Syncer, Writers};
use crate::onefs::{self, Client, TlsConfigs};
use crate::pool::{Pool, Pools};
use crate::supervise::{cluster_folder, Target};
use crate::telemetry;

/// The first wait after a failure; it doubles up to `[global] max_backoff`.
const FIRST_WAIT: Duration = Duration::from_secs(1);

/// Everything one cluster task needs.
#[derive(Clone)]
pub struct Job {
    /// The whole config (shared, read-only).
    pub config: Arc<Config>,
    /// Index of this cluster in `config.clusters`.
    pub index: usize,
    /// The sink instances to deliver to (each gets its own queue and writer).
    pub targets: Arc<[Target]>,
    /// `-check-stat-return`.
    pub check_stat_return: bool,
    /// The bounded pools for blocking work.
    pub pools: Pools,
    /// Shared TLS client settings.
    pub tls: Arc<TlsConfigs>,
    /// Where sink writers run, and their shutdown deadline.
    pub writers: Writers,
    /// Syncs the disk buffers once a second.
    pub syncer: Syncer,
    /// Over how long the clusters of this configuration start ([`start_spread`]).
    pub start_spread: Duration,
}

impl Job {
    /// `host:port` as configured, for log lines before the cluster's name is known.
    pub fn label(&self) -> String {
        let c = &self.config.clusters[self.index];
        format!("{}:{}", c.hostname, c.port)
    }

    fn max_backoff(&self) -> Duration {
        Duration::from_secs(self.config.global.max_backoff.max(1))
    }
}

/// One timer: a bucket and when it is due.
struct Timer {
    bucket: Bucket,
    due: Instant,
}

/// Clusters start connecting spread over 10 ms per cluster, at most 10 s, each at
/// its phase, so that a thousand TLS handshakes and metadata reads do not all
/// happen at once (and two clusters start at once).
const START_SPREAD_PER_CLUSTER: Duration = Duration::from_millis(10);
const START_SPREAD_MAX: Duration = Duration::from_secs(10);

/// The start spread for `clusters` enabled clusters.
pub fn start_spread(clusters: usize) -> Duration {
    START_SPREAD_PER_CLUSTER
        .saturating_mul(u32::try_from(clusters).unwrap_or(u32::MAX))
        .min(START_SPREAD_MAX)
}

/// Runs one cluster until the task is dropped.
pub async fn run(job: Job) {
    let label = job.label();
    tokio::time::sleep(job.start_spread.mul_f64(schedule::phase(&label))).await;
    let mut backoff = Backoff::new(FIRST_WAIT, job.max_backoff());
    let connected = loop {
        let attempt = match connect::client(&job.config, job.index, &job.tls, &job.pools.resolve) {
            Ok(client) => connect::connect(client, Arc::clone(&job.config), job.index)
                .await
                .map_err(|(_, e)| e),
            Err(e) => Err(e),
        };
        match attempt {
            Ok(c) => break c,
            Err(e) => {
                crate::telemetry::global().connect_failed(&label);
                let wait = wait_after(&mut backoff, &e);
                log::error!(
                    "cluster={label} cannot start collecting: {e}; trying again in {} s",
                    wait.as_secs_f64().ceil()
                );
                tokio::time::sleep(wait).await;
            }
        }
    };
    backoff.reset();
    #[cfg(debug_assertions)]
    test_hook_panic_once(&label);
    collect(&job, &label, connected, backoff).await;
}

/// Test hook, in debug builds only: `IDIC_TEST_PANIC_ONCE=host:port` makes that
/// cluster's task panic once after connecting, so that the integration tests can
/// watch the supervisor log it and restart it.
#[cfg(debug_assertions)]
fn test_hook_panic_once(label: &str) {
    use std::sync::atomic::{AtomicBool, Ordering};
    static DONE: AtomicBool = AtomicBool::new(false);
    if std::env::var("IDIC_TEST_PANIC_ONCE").is_ok_and(|v| v == label)
        && !DONE.swap(true, Ordering::SeqCst)
    {
        panic!("IDIC_TEST_PANIC_ONCE test hook");
    }
}

/// The wait before the next try after `e`: the back-off, or at once its cap when
/// an operator must change something (retrying a refused password sooner helps
/// nobody).
fn wait_after(backoff: &mut Backoff, e: &onefs::Error) -> Duration {
    if e.is_config() {
        backoff.next_wait();
        backoff.cap()
    } else {
        backoff.next_wait()
    }
}

/// The timers of a connected cluster, forever.
async fn collect(job: &Job, label: &str, connected: Connected, mut backoff: Backoff) {
    let Connected {
        mut client,
        name,
        identity,
        metas,
    } = connected;
    let g = &job.config.global;
    let mut buckets = schedule::buckets(
        &job.config.stat_groups,
        &metas,
        g.min_update_interval_override as u64,
        g.fetch_by_statgroup,
    );
    buckets.extend(schedule::summary_buckets(job.config.summary_stats));
    log::info!(
        "cluster={name} connected to {label} ({}); {} statistics in {} timers",
        identity.version,
        metas.len(),
        buckets.len()
    );
    let mut deliveries = Vec::with_capacity(job.targets.len());
    let mut contexts = Vec::with_capacity(job.targets.len());
    for target in job.targets.iter() {
        let ctx = Arc::new(open_context(
            &job.config,
            job.index,
            (&target.plugin.info.name, &target.settings),
            &name,
            &identity,
            &metas,
            &buckets,
        ));
        contexts.push(Arc::clone(&ctx));
        let plugin = target.plugin.clone();
        let delivery = Delivery::start(
            deliver::Names {
                cluster: name.clone(),
                plugin: target.label.clone(),
            },
            Arc::new(move || plugin.open(&ctx)),
            deliver::Settings {
                capacity: g.queue_size,
                budget: Arc::clone(&target.budget),
                disk: target.disk.as_ref().map(|dir| deliver::Disk {
                    dir: dir.join(cluster_folder(label)),
                    segment_bytes: target.segment_bytes,
                    syncer: job.syncer.clone(),
                    failing: Arc::clone(&target.failing),
                }),
                max_retries: g.stats_processor_max_retries,
                retry_interval: Duration::from_secs(g.stats_processor_retry_interval.max(1) as u64),
                max_backoff: job.max_backoff(),
            },
            &job.pools.sinks,
            &job.writers,
        )
        .await;
        deliveries.push(delivery);
    }
    // Backfill (issue 12): its own sinks and state; None when off.
    let mut backfill = Backfill::start(job, label, &name, &identity, &metas, &contexts).await;
    // The metadata is in the contexts now; a thousand clusters' copies add up.
    drop(metas);
    drop(contexts);
    let opts = decode::Options {
        cluster: name.clone(),
        include_degraded: g.include_degraded,
        keys_seen: job.check_stat_return,
    };
    let phase = schedule::phase(label);
    let since_epoch = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default();
    let start = Instant::now();
    let shortest = buckets.iter().map(|b| b.interval).min().unwrap_or_default();
    let mut timers: Vec<Timer> = buckets
        .into_iter()
        .map(|bucket| {
            let phase = schedule::timer_phase(phase, bucket.interval, shortest);
            Timer {
                due: start + schedule::first_delay(since_epoch, bucket.interval, phase),
                bucket,
            }
        })
        .collect();
    let mut care = KeyCare::default();
    let mut failures = Failures::default();
    let mut metrics = telemetry::ClusterMetrics::connected(&name);
    let mut down_until: Option<Instant> = None;
    // Hook (sources/): quotas and other sources share this task's client and
    // back-off; they run between statistics requests, when they are due first
    // and the next statistics request is not (`schedule::source_goes_first`).
    let mut sources = crate::sources::Sources::new(&job.config, job.index, start);
    // The points of the buckets due at the same tick, delivered as one batch.
    let mut tick_points = TickPoints::new(&deliveries);
    loop {
        let has_keys = |t: &Timer| !matches!(&t.bucket.what, Fetch::Stats(k) if k.is_empty());
        if !timers.iter().any(has_keys) && !care.has_parked() {
            tick_points.deliver();
            log::warn!("cluster={name} has no statistics left to collect; waiting for a reload");
            std::future::pending::<()>().await;
            return;
        }
        let Some((index, timer)) = timers.iter_mut().enumerate().min_by_key(|(_, t)| t.due) else {
            return;
        };
        let wake = down_until.map_or(timer.due, |d| d.max(timer.due));
        if wake > Instant::now() {
            // No other bucket runs at this tick: its points go out now.
            tick_points.deliver();
        }
        // Hook (sources/): a source due well before this timer runs first; a
        // timer that is due (or nearly) goes before any source.
        let source_start = sources
            .next_due()
            .map(|due| down_until.map_or(due, |d| d.max(due)));
        if let Some(start) = source_start.filter(|&start| {
            schedule::source_goes_first(start.max(Instant::now()), wake, timer.bucket.interval)
        }) {
            sleep_until(start.into()).await;
            let outlet = crate::sources::Outlet {
                cluster: &name,
                deliveries: &deliveries,
                targets: &job.targets,
                sinks_pool: &job.pools.sinks,
            };
            if let crate::sources::Ran::Unreachable { source, error } =
                sources.run_next(&mut client, &outlet).await
            {
                let now = Instant::now();
                let wait = wait_after(&mut backoff, &error);
                down_until = Some(now + wait);
                sources.wait_until(now + wait);
                failures.failed(&name, source, "unreachable".into(), &error, wait);
            }
            continue;
        }
        // Backfill uses the time between live cycles, never theirs.
        if let Some(b) = backfill.as_mut() {
            let now = Instant::now();
            // The next live cycle or source, whichever comes first.
            let next = sources.next_due().map_or(wake, |d| d.min(wake));
            if down_until.is_none() && b.has_work(now) && next > now + backfill::LIVE_MARGIN {
                let deadline = next - backfill::LIVE_MARGIN / 2;
                b.step(&mut client, &job.pools.decode, deadline).await;
                continue;
            }
        }
        sleep_until(wake.into()).await;
        care.reprobe_due(&name, index, &mut timer.bucket, Instant::now());
        if !has_keys(timer) {
            // Every key of this bucket is waiting for its re-probe: no request.
            timer.due = schedule::next_due(timer.due, timer.bucket.interval, Instant::now());
            continue;
        }
        let tick = timer.due;
        let result = fetch(&mut client, &timer.bucket.what, &opts, &job.pools.decode).await;
        let now = Instant::now();
        let mut cycle = telemetry::Cycle {
            duration: now.saturating_duration_since(wake.max(tick)),
            logins: client.logins(),
            failed: result.is_err(),
            ..telemetry::Cycle::default()
        };
        match result {
            Ok((decoded, answer_bytes)) => {
                backoff.reset();
                timer.due = schedule::next_due(timer.due, timer.bucket.interval, now);
                cycle.late = timer.due > tick + timer.bucket.interval;
                cycle.answer_bytes = answer_bytes as u64;
                cycle.points = decoded.points.len() as u64;
                cycle.keys_skipped = decoded.problems.len() as u64;
                metrics.cycle(cycle);
                failures.succeeded(&name);
                if job.check_stat_return {
                    report_missing(&name, &timer.bucket.what, &decoded.keys_seen);
                }
                // Re-probes are timed from the cycle's tick, so that they fall on one.
                care.handle(&name, index, &mut timer.bucket, &decoded.problems, tick);
                if let Some(b) = backfill.as_mut() {
                    b.observe(&timer.bucket, &decoded.points);
                }
                tick_points.add(decoded.points);
                if down_until.take().is_some() {
                    // Reconnected: keys taken out since the last connection get
                    // another chance at once.
                    for (i, key) in care.reconnected() {
                        if let Some(Fetch::Stats(keys)) =
                            timers.get_mut(i).map(|t| &mut t.bucket.what)
                        {
                            keys.push(key);
                        }
                    }
                }
            }
            Err(e) => {
                metrics.cycle(cycle);
                let wait = match &e {
                    CycleError::Onefs(e) => wait_after(&mut backoff, e),
                    _ => backoff.next_wait(),
                };
                if e.is_connection() {
                    down_until = Some(now + wait);
                }
                timer.due = schedule::next_due(timer.due, timer.bucket.interval, now + wait);
                failures.failed(
                    &name,
                    &timer.bucket.name,
                    e.kind(),
                    &e,
                    timer.due.saturating_duration_since(now),
                );
            }
        }
    }
}

/// The points of the buckets due at the same tick (the 5 s bucket's and, every
/// other tick, the 10 s bucket's, ...), delivered together: one batch, so one
/// sink write, per tick rather than per bucket. With the example config's
/// buckets (5, 10, 15 and 30 s) that halves the writes, each a request to the
/// backend and two thread hand-overs. Decoded once, the batch is shared by
/// every sink. Points still held when the task is dropped (the supervisor
/// stops it at any await point, such as the tick's next request) are
/// delivered then, so that a stop loses nothing already collected.
struct TickPoints<'d> {
    points: Vec<Point>,
    deliveries: &'d [Delivery],
}

impl<'d> TickPoints<'d> {
    fn new(deliveries: &'d [Delivery]) -> TickPoints<'d> {
        TickPoints {
            points: Vec::new(),
            deliveries,
        }
    }

    fn add(&mut self, points: Vec<Point>) {
        if self.points.is_empty() {
            self.points = points;
        } else {
            self.points.extend(points);
        }
    }

    /// Pushes what the tick collected to every delivery.
    fn deliver(&mut self) {
        if self.points.is_empty() {
            return;
        }
        let batch = Arc::new(std::mem::take(&mut self.points));
        for d in self.deliveries {
            d.push(Arc::clone(&batch));
        }
    }
}

impl Drop for TickPoints<'_> {
    fn drop(&mut self) {
        self.deliver();
    }
}

/// Why a cycle produced nothing.
enum CycleError {
    Onefs(onefs::Error),
    Decode(String),
    Panicked(String),
}

impl CycleError {
    /// An answer that could not be decoded: a body that is not JSON is the
    /// cluster's fault (a malformed answer), one of the wrong shape a decode error.
    fn decode(answer: &onefs::Answer, e: decode::DecodeError) -> CycleError {
        match e {
            decode::DecodeError::NotJson(why) => {
                CycleError::Onefs(onefs::not_json(&answer.path, &answer.body, why))
            }
            decode::DecodeError::Shape(why) => CycleError::Decode(why),
        }
    }

    fn is_connection(&self) -> bool {
        matches!(self, CycleError::Onefs(e) if e.is_connection())
    }

    /// The kind of failure, for logging each kind once per episode.
    fn kind(&self) -> String {
        match self {
            CycleError::Onefs(onefs::Error::Unreachable(_)) => "unreachable".into(),
            CycleError::Onefs(onefs::Error::Auth(_)) => "authentication".into(),
            CycleError::Onefs(onefs::Error::Tls(_)) => "tls".into(),
            CycleError::Onefs(onefs::Error::Status { status, .. }) => format!("HTTP {status}"),
            CycleError::Onefs(onefs::Error::Malformed(_)) => "malformed answer".into(),
            CycleError::Decode(_) => "undecodable answer".into(),
            CycleError::Panicked(_) => "decoder panic".into(),
        }
    }
}

impl std::fmt::Display for CycleError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            CycleError::Onefs(e) => e.fmt(f),
            CycleError::Decode(e) => write!(f, "the answer could not be decoded: {e}"),
            CycleError::Panicked(e) => write!(
                f,
                "decoding the answer panicked ({e}); this is a bug in idic"
            ),
        }
    }
}

impl From<onefs::Error> for CycleError {
    fn from(e: onefs::Error) -> CycleError {
        CycleError::Onefs(e)
    }
}

/// Answers up to this size (all of a cycle's together) are decoded on the
/// cluster's own task: that takes well under a millisecond, less than handing
/// them to the decode pool and back, which costs two thread wake-ups a cycle.
/// Larger ones (summary tables run to megabytes) go to the pool, so that no
/// runtime worker is held for long.
const INLINE_DECODE_BYTES: usize = 256 * 1024;

/// One cycle: the requests (async), then decoding (inline or on the decode pool).
async fn fetch(
    client: &mut Client,
    what: &Fetch,
    opts: &decode::Options,
    decode_pool: &Pool,
) -> Result<(Decoded, usize), CycleError> {
    match what {
        Fetch::Stats(keys) => {
            let answers = client.current(keys).await?;
            let size = answers.iter().map(|a| a.body.len()).sum();
            let opts = opts.clone();
            let decoded = decode_on(decode_pool, size, move || {
                let mut all = Decoded::default();
                for answer in &answers {
                    let d = decode::current(&answer.body, &opts)
                        .map_err(|e| CycleError::decode(answer, e))?;
                    all.points.extend(d.points);
                    all.problems.extend(d.problems);
                    all.keys_seen.extend(d.keys_seen);
                }
                Ok(all)
            })
            .await?;
            Ok((decoded, size))
        }
        Fetch::Summary(kind) => {
            let kind = *kind;
            let answer = client.summary(kind.path()).await?;
            let opts = opts.clone();
            let size = answer.body.len();
            let decoded = decode_on(decode_pool, size, move || {
                decode::summary(kind, &answer.body, &opts)
                    .map_err(|e| CycleError::decode(&answer, e))
            })
            .await?;
            Ok((decoded, size))
        }
    }
}

/// Runs a decoding job of `size` bytes of answers inline or on the pool; a panic
/// in it is this cycle's error.
async fn decode_on<F>(pool: &Pool, size: usize, job: F) -> Result<Decoded, CycleError>
where
    F: FnOnce() -> Result<Decoded, CycleError> + Send + 'static,
{
    let outcome = if size <= INLINE_DECODE_BYTES {
        std::panic::catch_unwind(std::panic::AssertUnwindSafe(job))
            .map_err(crate::supervise::payload_message)
    } else {
        pool.run(job).await.map_err(crate::supervise::panic_message)
    };
    outcome.unwrap_or_else(|e| Err(CycleError::Panicked(e)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_start_spread_grows_with_clusters_up_to_ten_seconds() {
        assert_eq!(start_spread(2), Duration::from_millis(20));
        assert_eq!(start_spread(1000), Duration::from_secs(10));
        assert_eq!(start_spread(usize::MAX), Duration::from_secs(10));
    }
}
