//! The writer of one (cluster, sink) queue: an async task that takes batches in
//! order and hands the sink to the sink pool for each call.
//!
//! Retryable and config errors are retried with the host's back-off
//! (`stats_processor_retry_interval` doubling up to `max_backoff`, jittered);
//! for a memory queue, unlike gostats, exhausting `stats_processor_max_retries`
//! drops the batch (counted) and carries on; a disk queue retries until the
//! sink acknowledges (only the byte bound evicts). Permanent errors drop the
//! batch at once. A sink that panicked is unusable: the batch is dropped and the
//! sink reopened. A sink that cannot be opened is retried with the same back-off
//! while batches queue. When the writer itself fails (a bug), it is logged and
//! restarted with the back-off; the queue survives it. When the queue closes, a
//! memory queue's writer drains until `Writers::abort` and counts what is left as
//! lost; a disk queue's writer delivers the batches still in memory while the
//! sink accepts them and stops at the first failure or the first batch only on
//! disk, leaving the rest there for the next start.

use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

use abi_stable::std_types::RSlice;
use idic_plugin_api::{ErrorKind, SinkBox, SinkError};
use tokio_util::sync::CancellationToken;

use super::queue::{Batch, Shared, Taken};
use super::{Opener, Writers};
use crate::backoff::Backoff;
use crate::pool::Pool;
use crate::supervise::panic_message;

/// Starts the writer of `shared` under `writers`, restarting it if it fails.
pub(super) fn spawn(shared: Arc<Shared>, open: Opener, pool: Pool, writers: &Writers) {
    let abort = writers.abort.clone();
    writers.tracker.spawn(async move {
        let mut restarts = Backoff::new(Duration::from_secs(1), shared.settings.max_backoff);
        loop {
            let run = tokio::spawn(run(
                Arc::clone(&shared),
                Arc::clone(&open),
                pool.clone(),
                abort.clone(),
            ));
            match run.await {
                Err(e) if e.is_panic() => {
                    let wait = restarts.next_wait();
                    log::error!(
                        "cluster={} plugin={} the sink writer failed ({}); this is a bug in idic; restarting it in {} s with {} batches queued",
                        shared.names.cluster,
                        shared.names.plugin,
                        panic_message(e),
                        wait.as_secs_f64().ceil(),
                        shared.depth()
                    );
                    if sleep_or_abort(&abort, wait).await {
                        finish(&shared);
                        return;
                    }
                }
                _ => return,
            }
        }
    });
}

/// Delivers batches until the queue closes and drains, or the deadline passes.
async fn run(shared: Arc<Shared>, open: Opener, pool: Pool, abort: CancellationToken) {
    let w = Writer {
        shared,
        open,
        pool,
        abort,
    };
    let mut sink: Option<SinkBox> = None;
    let mut backoff = Backoff::new(
        w.shared.settings.retry_interval,
        w.shared.settings.max_backoff,
    );
    while let Some(taken) = w.next_batch().await {
        match w.deliver(&mut sink, taken.batch, &mut backoff).await {
            Ok(()) => w.shared.done(taken.seq),
            Err(Aborted) => break,
        }
    }
    if let Some(s) = sink {
        if !w.abort.is_cancelled() {
            w.close(s).await;
        }
    }
    finish(&w.shared);
}

/// The shutdown deadline passed, or a disk queue closed while its sink fails.
struct Aborted;

struct Writer {
    shared: Arc<Shared>,
    open: Opener,
    pool: Pool,
    abort: CancellationToken,
}

impl Writer {
    async fn next_batch(&self) -> Option<Taken> {
        tokio::select! {
            b = self.shared.next_batch() => b,
            () = self.abort.cancelled() => None,
        }
    }

    /// Writes one batch, opening the sink first if needed, with retries.
    async fn deliver(
        &self,
        sink: &mut Option<SinkBox>,
        batch: Batch,
        backoff: &mut Backoff,
    ) -> Result<(), Aborted> {
        let (names, counters) = (&self.shared.names, &self.shared.counters);
        let mut attempt: u32 = 0;
        loop {
            let Some(s) = sink.take() else {
                *sink = Some(self.open(backoff).await?);
                continue;
            };
            let b = Arc::clone(&batch);
            let call = self.pool.run(move || {
                let mut s = s;
                let r = s.write(RSlice::from_slice(&b)).into_result();
                (s, r)
            });
            let result = tokio::select! {
                r = call => r,
                () = self.abort.cancelled() => return Err(Aborted),
            };
            let error = match result {
                Ok((s, Ok(()))) => {
                    *sink = Some(s);
                    backoff.reset();
                    counters.delivered.fetch_add(1, Ordering::Relaxed);
                    counters
                        .delivered_points
                        .fetch_add(batch.len() as u64, Ordering::Relaxed);
                    if attempt > 0 {
                        log::info!(
                            "cluster={} plugin={} write succeeded after {attempt} retries; {} batches queued",
                            names.cluster,
                            names.plugin,
                            self.shared.depth()
                        );
                    } else {
                        log::debug!(
                            "cluster={} plugin={} wrote {} points",
                            names.cluster,
                            names.plugin,
                            batch.len()
                        );
                    }
                    return Ok(());
                }
                Ok((s, Err(e))) => {
                    if e.kind != ErrorKind::Panicked {
                        *sink = Some(s);
                    }
                    e
                }
                // The host's side of the call failed: the sink went with it.
                Err(join) => SinkError::new(ErrorKind::Panicked, panic_message(join)),
            };
            if error.kind == ErrorKind::Panicked {
                crate::telemetry::global().panicked("plugin");
                counters.dropped_refused.fetch_add(1, Ordering::Relaxed);
                log::error!(
                    "cluster={} plugin={} the sink failed: {error}; the batch ({} points) is dropped and the sink reopened; collection goes on",
                    names.cluster,
                    names.plugin,
                    batch.len()
                );
                return Ok(());
            }
            if !error.is_retryable() {
                let n = counters.dropped_refused.fetch_add(1, Ordering::Relaxed) + 1;
                log::error!(
                    "cluster={} plugin={} the sink refused a batch of {} points: {error}; dropped ({n} refused so far)",
                    names.cluster,
                    names.plugin,
                    batch.len()
                );
                return Ok(());
            }
            attempt += 1;
            let max = self.shared.settings.max_retries;
            let durable = self.shared.durable();
            if durable && self.shared.closed.is_cancelled() {
                return Err(Aborted);
            }
            if !durable && max > 0 && i64::from(attempt) > max {
                let n = counters.dropped_retries.fetch_add(1, Ordering::Relaxed) + 1;
                log::error!(
                    "cluster={} plugin={} write failed {attempt} times ({error}); dropped the batch of {} points after stats_processor_max_retries = {max} ({n} dropped so far); collection goes on",
                    names.cluster,
                    names.plugin,
                    batch.len()
                );
                return Ok(());
            }
            counters.retries.fetch_add(1, Ordering::Relaxed);
            let wait = backoff.next_wait();
            log::warn!(
                "cluster={} plugin={} write failed: {error}; retry {attempt} in {} s ({} batches queued)",
                names.cluster,
                names.plugin,
                wait.as_secs_f64().ceil(),
                self.shared.depth()
            );
            if self.sleep_or_stop(wait).await {
                return Err(Aborted);
            }
        }
    }

    /// Sleeps `wait`; `true` when the deadline passed instead, or a disk queue
    /// closed (what it holds stays on disk).
    async fn sleep_or_stop(&self, wait: Duration) -> bool {
        let closed = async {
            if self.shared.durable() {
                self.shared.closed.cancelled().await
            } else {
                std::future::pending().await
            }
        };
        tokio::select! {
            stop = sleep_or_abort(&self.abort, wait) => stop,
            () = closed => true,
        }
    }

    /// Opens the sink, retrying with the back-off until it works or the deadline.
    async fn open(&self, backoff: &mut Backoff) -> Result<SinkBox, Aborted> {
        let names = &self.shared.names;
        let mut failed = false;
        loop {
            let open = Arc::clone(&self.open);
            let result = tokio::select! {
                r = self.pool.run(move || open()) => r,
                () = self.abort.cancelled() => return Err(Aborted),
            };
            let error = match result {
                Ok(Ok(sink)) => {
                    if failed {
                        log::info!(
                            "cluster={} plugin={} sink opened",
                            names.cluster,
                            names.plugin
                        );
                    }
                    backoff.reset();
                    return Ok(sink);
                }
                Ok(Err(e)) => e,
                Err(join) => SinkError::new(ErrorKind::Panicked, panic_message(join)),
            };
            failed = true;
            let wait = backoff.next_wait();
            log::error!(
                "cluster={} plugin={} cannot open the sink: {error}; trying again in {} s ({} batches queued)",
                names.cluster,
                names.plugin,
                wait.as_secs_f64().ceil(),
                self.shared.depth() + 1
            );
            if self.sleep_or_stop(wait).await {
                return Err(Aborted);
            }
        }
    }

    /// Flushes and closes the sink, unless the deadline passes first.
    async fn close(&self, sink: SinkBox) {
        let names = self.shared.names.clone();
        let call = self.pool.run(move || {
            let mut s = sink;
            if let Err(e) = s
                .flush()
                .into_result()
                .and_then(|()| s.close().into_result())
            {
                log::warn!(
                    "cluster={} plugin={} closing the sink: {e}",
                    names.cluster,
                    names.plugin
                );
            }
        });
        tokio::select! {
            _ = call => {}
            () = self.abort.cancelled() => {}
        }
    }
}

/// Logs the writer's summary; what is still queued is kept on disk or, in
/// memory, counted as lost.
fn finish(shared: &Shared) {
    let (names, c) = (&shared.names, &shared.counters);
    let (lost, kept) = shared.discard_all();
    if lost > 0 {
        log::error!(
            "cluster={} plugin={} shutdown deadline passed: {lost} queued batches were not delivered",
            names.cluster,
            names.plugin
        );
    }
    if kept > 0 {
        log::info!(
            "cluster={} plugin={} {kept} batches stay in the disk buffer; they are delivered after the next start",
            names.cluster,
            names.plugin
        );
    }
    log::info!(
        "cluster={} stopped: delivered {} batches ({} points) to plugin={}; {} write retries; dropped: {} queue full, {} after retries, {} refused",
        names.cluster,
        c.delivered.load(Ordering::Relaxed),
        c.delivered_points.load(Ordering::Relaxed),
        names.plugin,
        c.retries.load(Ordering::Relaxed),
        c.dropped_full.load(Ordering::Relaxed),
        c.dropped_retries.load(Ordering::Relaxed),
        c.dropped_refused.load(Ordering::Relaxed),
    );
}

/// Sleeps `wait`; `true` when the deadline passed instead.
async fn sleep_or_abort(abort: &CancellationToken, wait: Duration) -> bool {
    tokio::select! {
        () = tokio::time::sleep(wait) => false,
        () = abort.cancelled() => true,
    }
}

#[cfg(test)]
mod tests {
    use std::collections::VecDeque;
    use std::sync::atomic::AtomicU64;
    use std::sync::{mpsc, Mutex};

    use abi_stable::sabi_trait::TD_Opaque;
    use abi_stable::std_types::RResult;
    use idic_plugin_api::{FfiSink, FfiSink_TO, Point};

    use super::super::{Delivery, Names, Settings, Writers};
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

    fn settings(capacity: usize, max_retries: i64, retry_interval: Duration) -> Settings {
        Settings {
            capacity,
            budget: crate::deliver::Budget::new(u64::MAX),
            disk: None,
            max_retries,
            retry_interval,
            max_backoff: Duration::from_secs(60),
        }
    }

    async fn start(script: &Script, writers: &Writers, settings: Settings) -> Delivery {
        let s = script.clone();
        Delivery::start(
            Names {
                cluster: "c1".into(),
                plugin: "test".into(),
            },
            Arc::new(move || {
                s.opened.fetch_add(1, Ordering::SeqCst);
                Ok(FfiSink_TO::from_value(Scripted(s.clone()), TD_Opaque))
            }),
            settings,
            &Pool::new(2),
            writers,
        )
        .await
    }

    fn batch(time: i64) -> Batch {
        Arc::new(vec![Point {
            measurement: "k".into(),
            time,
            rows: Default::default(),
        }])
    }

    fn script(steps: Vec<Step>) -> Script {
        let s = Script::default();
        *s.steps.lock().unwrap() = steps.into();
        s
    }

    const FAST: Duration = Duration::from_millis(5);

    /// Closes the delivery and waits for the writer to drain.
    async fn close(d: Delivery, writers: &Writers, grace: Duration) {
        drop(d);
        writers.drain(grace).await;
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn retryable_failures_are_retried_until_delivered() {
        let s = script(vec![
            Step::Fail(SinkError::retryable("down")),
            Step::Fail(SinkError::config("bad token")),
        ]);
        let w = Writers::default();
        let d = start(&s, &w, settings(10, 8, FAST)).await;
        d.push(batch(1));
        close(d, &w, Duration::from_secs(10)).await;
        assert_eq!(*s.written.lock().unwrap(), vec![1]);
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn exhausted_retries_drop_the_batch_and_delivery_goes_on() {
        let fail = || Step::Fail(SinkError::retryable("down"));
        let s = script(vec![fail(), fail(), fail()]);
        let w = Writers::default();
        let d = start(&s, &w, settings(10, 2, FAST)).await;
        d.push(batch(1));
        d.push(batch(2));
        let shared = Arc::clone(&d.shared_for_tests());
        close(d, &w, Duration::from_secs(10)).await;
        assert_eq!(*s.written.lock().unwrap(), vec![2]);
        assert_eq!(shared.counters.dropped_retries.load(Ordering::SeqCst), 1);
        assert_eq!(shared.counters.retries.load(Ordering::SeqCst), 2);
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn permanent_errors_drop_the_batch_at_once() {
        let s = script(vec![Step::Fail(SinkError::permanent("bad line"))]);
        let w = Writers::default();
        let d = start(&s, &w, settings(10, 8, FAST)).await;
        d.push(batch(1));
        d.push(batch(2));
        let shared = d.shared_for_tests();
        close(d, &w, Duration::from_secs(10)).await;
        assert_eq!(*s.written.lock().unwrap(), vec![2]);
        assert_eq!(shared.counters.dropped_refused.load(Ordering::SeqCst), 1);
        assert_eq!(shared.counters.retries.load(Ordering::SeqCst), 0);
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_panicked_sink_is_reopened() {
        let s = script(vec![Step::Panic]);
        let w = Writers::default();
        let d = start(&s, &w, settings(10, 8, FAST)).await;
        d.push(batch(1));
        d.push(batch(2));
        close(d, &w, Duration::from_secs(10)).await;
        assert_eq!(*s.written.lock().unwrap(), vec![2]);
        assert_eq!(s.opened.load(Ordering::SeqCst), 2);
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_full_queue_drops_the_oldest_batches_without_blocking_the_producer() {
        let (release, gate) = mpsc::channel();
        let s = script(vec![Step::Block]);
        *s.gate.lock().unwrap() = Some(gate);
        let w = Writers::default();
        let d = start(&s, &w, settings(2, 8, FAST)).await;
        d.push(batch(1)); // taken by the writer, which blocks in write
        while d.depth() > 0 {
            tokio::task::yield_now().await;
        }
        for t in 2..=6 {
            d.push(batch(t)); // never blocks: the queue keeps the newest two
        }
        assert_eq!(d.depth(), 2);
        assert_eq!(d.counters().dropped_full.load(Ordering::SeqCst), 3);
        release.send(()).unwrap();
        close(d, &w, Duration::from_secs(10)).await;
        assert_eq!(*s.written.lock().unwrap(), vec![1, 5, 6]);
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_stuck_sink_holds_one_pool_thread_and_never_another_clusters_writer() {
        let (release, gate) = mpsc::channel();
        let stuck = script(vec![Step::Block]);
        *stuck.gate.lock().unwrap() = Some(gate);
        let fine = Script::default();
        let w = Writers::default();
        let pool = Pool::new(2);
        let open = |s: &Script| -> Opener {
            let s = s.clone();
            Arc::new(move || Ok(FfiSink_TO::from_value(Scripted(s.clone()), TD_Opaque)))
        };
        let names = |c: &str| Names {
            cluster: c.into(),
            plugin: "test".into(),
        };
        let a = Delivery::start(names("a"), open(&stuck), settings(100, 8, FAST), &pool, &w).await;
        let b = Delivery::start(names("b"), open(&fine), settings(100, 8, FAST), &pool, &w).await;
        a.push(batch(1));
        for t in 1..=20 {
            b.push(batch(t));
        }
        while fine.written.lock().unwrap().len() < 20 {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        release.send(()).unwrap();
        drop((a, b));
        assert!(w.drain(Duration::from_secs(10)).await);
        assert_eq!(*stuck.written.lock().unwrap(), vec![1]);
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn the_deadline_gives_up_on_a_sink_that_never_recovers_and_counts_the_loss() {
        let fail = || Step::Fail(SinkError::retryable("down"));
        let s = script((0..1000).map(|_| fail()).collect());
        let w = Writers::default();
        let d = start(&s, &w, settings(10, 0, Duration::from_secs(3600))).await;
        d.push(batch(1));
        d.push(batch(2));
        let shared = d.shared_for_tests();
        close(d, &w, Duration::from_millis(100)).await;
        assert!(s.written.lock().unwrap().is_empty());
        assert_eq!(shared.counters.dropped_shutdown.load(Ordering::SeqCst), 2);
    }

    fn disk_settings(dir: &std::path::Path, max_bytes: u64) -> Settings {
        Settings {
            budget: crate::deliver::Budget::new(max_bytes),
            disk: Some(crate::deliver::Disk {
                dir: dir.to_path_buf(),
                segment_bytes: 256,
                syncer: crate::deliver::Syncer::default(),
                failing: Arc::new(std::sync::atomic::AtomicBool::new(false)),
            }),
            ..settings(100, 2, FAST)
        }
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_disk_queue_never_drops_after_retries_and_keeps_the_rest_for_the_next_start() {
        let tmp = tempfile::tempdir().unwrap();
        let fail = || Step::Fail(SinkError::retryable("down"));
        let down = script((0..1000).map(|_| fail()).collect());
        let w = Writers::default();
        let d = start(&down, &w, disk_settings(tmp.path(), 1 << 20)).await;
        for t in 1..=3 {
            d.push(batch(t));
        }
        let shared = d.shared_for_tests();
        while shared.counters.retries.load(Ordering::SeqCst) < 4 {
            tokio::time::sleep(FAST).await;
        }
        close(d, &w, Duration::from_secs(10)).await;
        assert_eq!(shared.counters.dropped_retries.load(Ordering::SeqCst), 0);
        assert_eq!(shared.counters.kept.load(Ordering::SeqCst), 3);
        assert_eq!(shared.counters.dropped_shutdown.load(Ordering::SeqCst), 0);

        let up = Script::default();
        let w = Writers::default();
        let d = start(&up, &w, disk_settings(tmp.path(), 1 << 20)).await;
        d.push(batch(4));
        while up.written.lock().unwrap().len() < 4 {
            tokio::time::sleep(FAST).await;
        }
        close(d, &w, Duration::from_secs(10)).await;
        assert_eq!(*up.written.lock().unwrap(), vec![1, 2, 3, 4], "in order");

        let again = Script::default();
        let w = Writers::default();
        let d = start(&again, &w, disk_settings(tmp.path(), 1 << 20)).await;
        close(d, &w, Duration::from_secs(10)).await;
        assert!(
            again.written.lock().unwrap().is_empty(),
            "acknowledged batches are gone"
        );
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn the_byte_bound_evicts_the_oldest_batches_of_a_disk_queue() {
        let tmp = tempfile::tempdir().unwrap();
        let (release, gate) = mpsc::channel();
        let s = script(vec![Step::Block]);
        *s.gate.lock().unwrap() = Some(gate);
        let w = Writers::default();
        let settings = disk_settings(tmp.path(), 2048);
        let budget = Arc::clone(&settings.budget);
        let d = start(&s, &w, settings).await;
        d.push(batch(1)); // taken by the writer, which blocks in write
        while d.depth() > 0 {
            tokio::task::yield_now().await;
        }
        for t in 2..=200 {
            d.push(batch(t));
            // The bound, plus the segment the writer holds and the one filling.
            assert!(budget.used() <= 2048 + 2 * 256 + 64, "{}", budget.used());
        }
        let dropped = d.counters().dropped_full.load(Ordering::SeqCst);
        assert!(dropped > 100, "{dropped}");
        release.send(()).unwrap();
        while s.written.lock().unwrap().last() != Some(&200) {
            tokio::time::sleep(FAST).await;
        }
        close(d, &w, Duration::from_secs(10)).await;
        let written = s.written.lock().unwrap().clone();
        assert_eq!(written[0], 1);
        assert_eq!(*written.last().unwrap(), 200);
        assert_eq!(written.len() as u64, 200 - dropped);
        assert!(
            written[1..].windows(2).all(|p| p[1] == p[0] + 1),
            "{written:?}"
        );
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_record_damaged_after_it_was_queued_is_skipped_and_counted() {
        let tmp = tempfile::tempdir().unwrap();
        let (release, gate) = mpsc::channel();
        let s = script(vec![Step::Block]);
        *s.gate.lock().unwrap() = Some(gate);
        let w = Writers::default();
        let d = start(&s, &w, disk_settings(tmp.path(), 1 << 20)).await;
        d.push(batch(1)); // taken by the writer, which blocks in write
        while d.depth() > 0 {
            tokio::task::yield_now().await;
        }
        for t in 2..=4 {
            d.push(batch(t)); // 2 and 3 stay in memory too, 4 only on disk
        }
        for f in std::fs::read_dir(tmp.path()).unwrap() {
            let path = f.unwrap().path();
            if path.extension().is_some_and(|x| x == "seg") {
                let mut bytes = std::fs::read(&path).unwrap();
                bytes[8..].fill(0);
                std::fs::write(&path, bytes).unwrap();
            }
        }
        let shared = d.shared_for_tests();
        release.send(()).unwrap();
        let settled = async {
            while shared.counters.dropped_damaged.load(Ordering::SeqCst) == 0
                && s.written.lock().unwrap().len() < 4
            {
                tokio::time::sleep(FAST).await;
            }
        };
        let _ = tokio::time::timeout(Duration::from_secs(10), settled).await;
        close(d, &w, Duration::from_secs(10)).await;
        assert_eq!(*s.written.lock().unwrap(), vec![1, 2, 3]);
        assert_eq!(shared.counters.dropped_damaged.load(Ordering::SeqCst), 1);
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn an_unusable_state_dir_falls_back_to_the_memory_queue() {
        let tmp = tempfile::tempdir().unwrap();
        std::fs::write(tmp.path().join("file"), b"").unwrap();
        let s = Script::default();
        let w = Writers::default();
        let settings = disk_settings(&tmp.path().join("file/queue"), 1 << 20);
        let failing = Arc::clone(&settings.disk.as_ref().unwrap().failing);
        let d = start(&s, &w, settings).await;
        d.push(batch(1));
        d.push(batch(2));
        close(d, &w, Duration::from_secs(10)).await;
        assert_eq!(*s.written.lock().unwrap(), vec![1, 2]);
        assert!(failing.load(Ordering::SeqCst));
    }
}
