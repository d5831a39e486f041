//! Delivery to one cluster's sink: a bounded queue of batches and the writer thread
//! that owns the sink.
//!
//! Collection never waits for a sink: [`Delivery::push`] only takes a short lock.
//! The writer retries retryable failures with the spec's back-off
//! (`stats_processor_retry_interval`, doubling, capped at 1280 s); unlike gostats,
//! exhausting `stats_processor_max_retries` drops the batch (counted) and carries
//! on. When the queue is full the oldest batch is dropped (counted). A panicking
//! sink is reported and reopened.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use abi_stable::std_types::RSlice;
use idic_plugin_api::{ErrorKind, OpenContext, Point, SinkBox};

use crate::loader::{into_result, Plugin};
use crate::onefs::Stop;

/// The longest wait between write retries (gostats' cap).
pub const MAX_RETRY_WAIT: Duration = Duration::from_secs(1280);

/// How a delivery behaves.
#[derive(Debug, Clone)]
pub struct Settings {
    /// Batches that may wait; beyond it the oldest is dropped.
    pub capacity: usize,
    /// Write retries per batch; 0 or less = forever.
    pub max_retries: i64,
    /// First retry wait.
    pub retry_interval: Duration,
}

/// What happened to the batches, for logs and tests.
#[derive(Debug, Default)]
pub struct Counters {
    /// Batches written.
    pub delivered: AtomicU64,
    /// Points written.
    pub delivered_points: AtomicU64,
    /// Write attempts that failed and were retried.
    pub retries: AtomicU64,
    /// Batches dropped because the queue was full.
    pub dropped_full: AtomicU64,
    /// Batches dropped after `stats_processor_max_retries`.
    pub dropped_retries: AtomicU64,
    /// Batches the sink refused for good, or that made it panic.
    pub dropped_refused: AtomicU64,
    /// Batches still queued when a shutdown deadline passed.
    pub dropped_shutdown: AtomicU64,
}

/// One cluster's queue and writer.
pub struct Delivery {
    shared: Arc<Shared>,
    writer: Option<JoinHandle<()>>,
}

struct Shared {
    cluster: String,
    plugin: String,
    settings: Settings,
    state: Mutex<State>,
    wake: Condvar,
    counters: Counters,
    /// Set when the shutdown deadline passes: the writer gives up waiting.
    abort: Stop,
}

struct State {
    batches: VecDeque<Vec<Point>>,
    closing: bool,
}

impl Delivery {
    /// Starts the writer thread, which opens the sink (retrying if it fails).
    pub fn start(plugin: Plugin, ctx: OpenContext, settings: Settings) -> Delivery {
        let shared = Arc::new(Shared {
            cluster: ctx.cluster.to_string(),
            plugin: plugin.info.name.clone(),
            settings,
            state: Mutex::new(State {
                batches: VecDeque::new(),
                closing: false,
            }),
            wake: Condvar::new(),
            counters: Counters::default(),
            abort: Stop::new(),
        });
        let s = Arc::clone(&shared);
        let writer = std::thread::Builder::new()
            .name(format!("sink-{}", shared.cluster))
            .spawn(move || s.run(&plugin, &ctx))
            .expect("spawning a thread only fails when the OS is out of resources");
        Delivery {
            shared,
            writer: Some(writer),
        }
    }

    /// Queues a batch; drops the oldest when full. Never blocks on the sink.
    pub fn push(&self, batch: Vec<Point>) {
        if batch.is_empty() {
            return;
        }
        let s = &self.shared;
        let mut state = s.lock();
        if state.batches.len() >= s.settings.capacity.max(1) {
            state.batches.pop_front();
            let n = s.counters.dropped_full.fetch_add(1, Ordering::Relaxed) + 1;
            log::warn!(
                "cluster={} plugin={} queue full ({} batches): dropped the oldest batch ({n} dropped so far); the sink is not keeping up",
                s.cluster,
                s.plugin,
                state.batches.len()
            );
        }
        state.batches.push_back(batch);
        drop(state);
        s.wake.notify_all();
    }

    /// Batches waiting.
    pub fn depth(&self) -> usize {
        self.shared.lock().batches.len()
    }

    /// The counters.
    pub fn counters(&self) -> &Counters {
        &self.shared.counters
    }

    /// Lets the writer deliver what is queued within `grace`, then closes the sink.
    /// A sink stuck in a call past the deadline is left behind (and logged).
    pub fn close(mut self, grace: Duration) {
        let s = Arc::clone(&self.shared);
        s.lock().closing = true;
        s.wake.notify_all();
        let deadline = Instant::now() + grace;
        let Some(writer) = self.writer.take() else {
            return;
        };
        while !writer.is_finished() && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(10));
        }
        if !writer.is_finished() {
            s.abort.stop();
            let hard = Instant::now() + Duration::from_secs(2);
            while !writer.is_finished() && Instant::now() < hard {
                std::thread::sleep(Duration::from_millis(10));
            }
        }
        if writer.is_finished() {
            let _ = writer.join();
        } else {
            log::error!(
                "cluster={} plugin={} the sink did not return within the shutdown deadline; leaving it behind",
                s.cluster,
                s.plugin
            );
        }
    }
}

impl Shared {
    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn run(&self, plugin: &Plugin, ctx: &OpenContext) {
        let mut sink = self.open(plugin, ctx);
        while let Some(batch) = self.next_batch() {
            if sink.is_none() {
                sink = self.open(plugin, ctx);
            }
            let Some(s) = sink.as_mut() else {
                self.lose(1, "the sink could not be opened before shutdown");
                break;
            };
            if !self.deliver(s, &batch) {
                // The sink panicked: its state is gone; open a fresh one.
                let _ = s.close();
                sink = None;
            }
        }
        if let Some(mut s) = sink {
            if let Err(e) = into_result(s.flush()).and_then(|()| into_result(s.close())) {
                log::warn!(
                    "cluster={} plugin={} closing the sink: {e}",
                    self.cluster,
                    self.plugin
                );
            }
        }
        let left = self.lock().batches.len() as u64;
        if left > 0 {
            self.lose(left, "shutdown deadline passed");
        }
    }

    /// The next batch, or `None` when closing and drained (or aborted).
    fn next_batch(&self) -> Option<Vec<Point>> {
        let mut state = self.lock();
        loop {
            if self.abort.is_stopped() {
                return None;
            }
            if let Some(b) = state.batches.pop_front() {
                return Some(b);
            }
            if state.closing {
                return None;
            }
            state = self
                .wake
                .wait_timeout(state, Duration::from_millis(500))
                .unwrap_or_else(|e| e.into_inner())
                .0;
        }
    }

    /// Opens the sink, retrying with back-off until it works or we are closing.
    fn open(&self, plugin: &Plugin, ctx: &OpenContext) -> Option<SinkBox> {
        let mut attempt = 0;
        loop {
            match plugin.open(ctx) {
                Ok(sink) => {
                    if attempt > 0 {
                        log::info!(
                            "cluster={} plugin={} sink opened",
                            self.cluster,
                            self.plugin
                        );
                    }
                    return Some(sink);
                }
                Err(e) => {
                    attempt += 1;
                    let wait = self.retry_wait(attempt);
                    log::error!(
                        "cluster={} plugin={} cannot open the sink: {e}; trying again in {} s ({} batches queued)",
                        self.cluster,
                        self.plugin,
                        wait.as_secs(),
                        self.lock().batches.len()
                    );
                    if self.lock().closing || self.abort.sleep(wait) {
                        return None;
                    }
                }
            }
        }
    }

    /// Writes one batch with retries. Returns `false` when the sink panicked.
    fn deliver(&self, sink: &mut SinkBox, batch: &[Point]) -> bool {
        let mut attempt: u32 = 0;
        loop {
            match into_result(sink.write(RSlice::from_slice(batch))) {
                Ok(()) => {
                    self.counters.delivered.fetch_add(1, Ordering::Relaxed);
                    self.counters
                        .delivered_points
                        .fetch_add(batch.len() as u64, Ordering::Relaxed);
                    if attempt > 0 {
                        log::info!(
                            "cluster={} plugin={} write succeeded after {attempt} retries; {} batches queued",
                            self.cluster,
                            self.plugin,
                            self.lock().batches.len()
                        );
                    } else {
                        log::debug!(
                            "cluster={} plugin={} wrote {} points",
                            self.cluster,
                            self.plugin,
                            batch.len()
                        );
                    }
                    return true;
                }
                Err(e) if e.kind == ErrorKind::Panicked => {
                    self.counters
                        .dropped_refused
                        .fetch_add(1, Ordering::Relaxed);
                    log::error!(
                        "cluster={} plugin={} the sink failed: {e}; the batch ({} points) is dropped and the sink reopened; collection goes on",
                        self.cluster,
                        self.plugin,
                        batch.len()
                    );
                    return false;
                }
                Err(e) if e.is_retryable() => {
                    attempt += 1;
                    let max = self.settings.max_retries;
                    if max > 0 && i64::from(attempt) > max {
                        let n = self
                            .counters
                            .dropped_retries
                            .fetch_add(1, Ordering::Relaxed)
                            + 1;
                        log::error!(
                            "cluster={} plugin={} write failed {attempt} times ({e}); dropped the batch of {} points after stats_processor_max_retries = {max} ({n} dropped so far); collection goes on",
                            self.cluster,
                            self.plugin,
                            batch.len()
                        );
                        return true;
                    }
                    self.counters.retries.fetch_add(1, Ordering::Relaxed);
                    let wait = self.retry_wait(attempt);
                    log::warn!(
                        "cluster={} plugin={} write failed: {e}; retry {attempt} in {} s ({} batches queued)",
                        self.cluster,
                        self.plugin,
                        wait.as_secs(),
                        self.lock().batches.len()
                    );
                    if self.abort.sleep(wait) {
                        self.lose(1, "shutdown deadline passed during a retry");
                        return true;
                    }
                }
                Err(e) => {
                    let n = self
                        .counters
                        .dropped_refused
                        .fetch_add(1, Ordering::Relaxed)
                        + 1;
                    log::error!(
                        "cluster={} plugin={} the sink refused a batch of {} points: {e}; dropped ({n} refused so far)",
                        self.cluster,
                        self.plugin,
                        batch.len()
                    );
                    return true;
                }
            }
        }
    }

    fn retry_wait(&self, attempt: u32) -> Duration {
        let first = self.settings.retry_interval.max(Duration::from_secs(1));
        first
            .saturating_mul(1u32 << (attempt.saturating_sub(1)).min(16))
            .min(MAX_RETRY_WAIT)
    }

    fn lose(&self, batches: u64, why: &str) {
        self.counters
            .dropped_shutdown
            .fetch_add(batches, Ordering::Relaxed);
        log::error!(
            "cluster={} plugin={} {why}: {batches} queued batches were not delivered",
            self.cluster,
            self.plugin
        );
    }
}
