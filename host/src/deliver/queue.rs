//! The bounded queue between one cluster task and one sink's writer, and the
//! counters of what happened to its batches.
//!
//! [`Delivery`] is the producer's handle: `push` never blocks on the sink, and
//! when the queue holds `capacity` batches the oldest is dropped (counted and
//! logged). Dropping the handle closes the queue: the writer delivers what is
//! left, closes the sink and logs a summary.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};

use idic_plugin_api::Point;
use tokio::sync::Notify;

use super::{writer, Names, Opener, Settings, Writers};
use crate::pool::Pool;

/// One cycle's points, shared (not copied) by whoever delivers them.
pub type Batch = Arc<Vec<Point>>;

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
    /// Batches still queued when the shutdown deadline passed.
    pub dropped_shutdown: AtomicU64,
}

/// The producer's handle on one (cluster, sink) queue.
pub struct Delivery {
    shared: Arc<Shared>,
}

/// What the producer and the writer share.
pub(super) struct Shared {
    pub names: Names,
    pub settings: Settings,
    state: Mutex<State>,
    wake: Notify,
    pub counters: Counters,
}

struct State {
    batches: VecDeque<Batch>,
    closing: bool,
}

impl Delivery {
    /// Starts the writer (tracked by `writers`), which opens the sink with `open`
    /// on `pool` when the first batch comes.
    pub fn start(
        names: Names,
        open: Opener,
        settings: Settings,
        pool: &Pool,
        writers: &Writers,
    ) -> Delivery {
        let shared = Arc::new(Shared {
            names,
            settings,
            state: Mutex::new(State {
                batches: VecDeque::new(),
                closing: false,
            }),
            wake: Notify::new(),
            counters: Counters::default(),
        });
        writer::spawn(Arc::clone(&shared), open, pool.clone(), writers);
        Delivery { shared }
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
                s.names.cluster,
                s.names.plugin,
                state.batches.len()
            );
        }
        state.batches.push_back(Arc::new(batch));
        drop(state);
        s.wake.notify_one();
    }
}

impl Drop for Delivery {
    fn drop(&mut self) {
        self.shared.lock().closing = true;
        self.shared.wake.notify_one();
    }
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Batches waiting.
    pub fn depth(&self) -> usize {
        self.lock().batches.len()
    }

    /// The next batch, or `None` once the producer is gone and the queue is empty.
    pub async fn next_batch(&self) -> Option<Batch> {
        loop {
            let notified = self.wake.notified();
            {
                let mut state = self.lock();
                if let Some(b) = state.batches.pop_front() {
                    return Some(b);
                }
                if state.closing {
                    return None;
                }
            }
            notified.await;
        }
    }

    /// Counts every batch still queued as lost; returns how many.
    pub fn discard_all(&self) -> u64 {
        let n = std::mem::take(&mut self.lock().batches).len() as u64;
        self.counters
            .dropped_shutdown
            .fetch_add(n, Ordering::Relaxed);
        n
    }
}

#[cfg(test)]
impl Delivery {
    /// Batches waiting.
    pub fn depth(&self) -> usize {
        self.shared.depth()
    }

    /// The counters.
    pub fn counters(&self) -> &Counters {
        &self.shared.counters
    }

    /// The shared state, to read counters after the handle is gone.
    pub(super) fn shared_for_tests(&self) -> Arc<Shared> {
        Arc::clone(&self.shared)
    }
}
