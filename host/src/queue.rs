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
use idic_plugin_api::{ErrorKind, Point, SinkBox, SinkError};

use crate::onefs::Stop;

/// Opens (or reopens) the cluster's sink; called on the writer thread.
pub type Opener = Box<dyn FnMut() -> Result<SinkBox, SinkError> + Send>;

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
    /// Starts the writer thread, which opens the sink with `open` (retrying if it
    /// fails). `cluster` and `plugin` name the delivery in log lines.
    pub fn start(cluster: &str, plugin: &str, open: Opener, settings: Settings) -> Delivery {
        let shared = Arc::new(Shared {
            cluster: cluster.to_string(),
            plugin: plugin.to_string(),
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
            .spawn(move || s.run(open))
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

    fn run(&self, mut open: Opener) {
        let mut sink = self.open(&mut open);
        while let Some(batch) = self.next_batch() {
            if sink.is_none() {
                sink = self.open(&mut open);
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
            if let Err(e) = s
                .flush()
                .into_result()
                .and_then(|()| s.close().into_result())
            {
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
    fn open(&self, open: &mut Opener) -> Option<SinkBox> {
        let mut attempt = 0;
        loop {
            match open() {
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
            match sink.write(RSlice::from_slice(batch)).into_result() {
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
        self.settings
            .retry_interval
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

#[cfg(test)]
mod tests {
    use std::sync::mpsc;

    use abi_stable::sabi_trait::TD_Opaque;
    use abi_stable::std_types::RResult;
    use idic_plugin_api::{FfiSink, FfiSink_TO};

    use super::*;

    /// What the scripted sink answers, in order; `Ok` once the script runs out.
    #[derive(Clone)]
    enum Step {
        Fail(SinkError),
        Panic,
        /// Wait for a message on the gate before answering Ok.
        Block,
    }

    #[derive(Clone, Default)]
    struct Script {
        steps: Arc<Mutex<VecDeque<Step>>>,
        written: Arc<Mutex<Vec<i64>>>,
        opened: Arc<AtomicU64>,
        gate: Arc<Mutex<Option<mpsc::Receiver<()>>>>,
    }

    struct Scripted(Script);

    impl FfiSink for Scripted {
        fn write(&mut self, batch: RSlice<'_, Point>) -> RResult<(), SinkError> {
            let step = self.0.steps.lock().unwrap().pop_front();
            match step {
                Some(Step::Fail(e)) => return RResult::RErr(e),
                Some(Step::Panic) => {
                    return RResult::RErr(SinkError::new(ErrorKind::Panicked, "scripted panic"))
                }
                Some(Step::Block) => {
                    if let Some(gate) = self.0.gate.lock().unwrap().as_ref() {
                        let _ = gate.recv();
                    }
                }
                None => {}
            }
            self.0
                .written
                .lock()
                .unwrap()
                .extend(batch.iter().map(|p| p.time));
            RResult::ROk(())
        }
        fn flush(&mut self) -> RResult<(), SinkError> {
            RResult::ROk(())
        }
        fn close(&mut self) -> RResult<(), SinkError> {
            RResult::ROk(())
        }
    }

    fn start(script: &Script, capacity: usize, max_retries: i64) -> Delivery {
        let s = script.clone();
        Delivery::start(
            "c1",
            "test",
            Box::new(move || {
                s.opened.fetch_add(1, Ordering::SeqCst);
                Ok(FfiSink_TO::from_value(Scripted(s.clone()), TD_Opaque))
            }),
            Settings {
                capacity,
                max_retries,
                retry_interval: Duration::from_millis(5),
            },
        )
    }

    fn batch(time: i64) -> Vec<Point> {
        vec![Point {
            measurement: "k".into(),
            time,
            rows: Default::default(),
        }]
    }

    fn script(steps: Vec<Step>) -> Script {
        let s = Script::default();
        *s.steps.lock().unwrap() = steps.into();
        s
    }

    #[test]
    fn retryable_failures_are_retried_until_delivered() {
        let s = script(vec![
            Step::Fail(SinkError::retryable("down")),
            Step::Fail(SinkError::config("bad token")),
        ]);
        let d = start(&s, 10, 8);
        d.push(batch(1));
        d.close(Duration::from_secs(10));
        assert_eq!(*s.written.lock().unwrap(), vec![1]);
    }

    #[test]
    fn exhausted_retries_drop_the_batch_and_delivery_goes_on() {
        let fail = || Step::Fail(SinkError::retryable("down"));
        let s = script(vec![fail(), fail(), fail()]);
        let d = start(&s, 10, 2);
        d.push(batch(1));
        d.push(batch(2));
        let counters = Arc::clone(&d.shared);
        d.close(Duration::from_secs(10));
        assert_eq!(*s.written.lock().unwrap(), vec![2]);
        assert_eq!(counters.counters.dropped_retries.load(Ordering::SeqCst), 1);
        assert_eq!(counters.counters.retries.load(Ordering::SeqCst), 2);
    }

    #[test]
    fn permanent_errors_drop_the_batch_at_once() {
        let s = script(vec![Step::Fail(SinkError::permanent("bad line"))]);
        let d = start(&s, 10, 8);
        d.push(batch(1));
        d.push(batch(2));
        let shared = Arc::clone(&d.shared);
        d.close(Duration::from_secs(10));
        assert_eq!(*s.written.lock().unwrap(), vec![2]);
        assert_eq!(shared.counters.dropped_refused.load(Ordering::SeqCst), 1);
        assert_eq!(shared.counters.retries.load(Ordering::SeqCst), 0);
    }

    #[test]
    fn a_panicked_sink_is_reopened() {
        let s = script(vec![Step::Panic]);
        let d = start(&s, 10, 8);
        d.push(batch(1));
        d.push(batch(2));
        d.close(Duration::from_secs(10));
        assert_eq!(*s.written.lock().unwrap(), vec![2]);
        assert_eq!(s.opened.load(Ordering::SeqCst), 2);
    }

    #[test]
    fn a_full_queue_drops_the_oldest_batches_without_blocking_the_producer() {
        let (release, gate) = mpsc::channel();
        let s = script(vec![Step::Block]);
        *s.gate.lock().unwrap() = Some(gate);
        let d = start(&s, 2, 8);
        d.push(batch(1)); // taken by the writer, which blocks in write
        while d.depth() > 0 {
            std::thread::yield_now();
        }
        for t in 2..=6 {
            d.push(batch(t)); // never blocks: the queue keeps the newest two
        }
        assert_eq!(d.depth(), 2);
        assert_eq!(d.counters().dropped_full.load(Ordering::SeqCst), 3);
        release.send(()).unwrap();
        d.close(Duration::from_secs(10));
        assert_eq!(*s.written.lock().unwrap(), vec![1, 5, 6]);
    }

    #[test]
    fn close_gives_up_on_a_sink_that_never_recovers_and_counts_the_loss() {
        let fail = || Step::Fail(SinkError::retryable("down"));
        let s = script((0..1000).map(|_| fail()).collect());
        let d = Delivery::start(
            "c1",
            "test",
            {
                let s = s.clone();
                Box::new(move || Ok(FfiSink_TO::from_value(Scripted(s.clone()), TD_Opaque)))
            },
            Settings {
                capacity: 10,
                max_retries: 0,
                retry_interval: Duration::from_secs(3600),
            },
        );
        d.push(batch(1));
        d.push(batch(2));
        let shared = Arc::clone(&d.shared);
        d.close(Duration::from_millis(100));
        assert!(s.written.lock().unwrap().is_empty());
        assert_eq!(shared.counters.dropped_shutdown.load(Ordering::SeqCst), 2);
    }
}
