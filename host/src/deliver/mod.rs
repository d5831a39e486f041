//! What delivers points: per (cluster, sink) a bounded queue ([`Delivery`]) and an
//! async writer task that hands the sink to the sink pool for one call at a time.
//!
//! Collection never waits for a sink: [`Delivery::push`] only takes a short lock.
//! No sink has a thread of its own: a writer waits (for batches, for the back-off,
//! for a pool permit) without holding one, and a sink call runs on one of
//! `[global] sink_workers` blocking threads shared by every writer. A sink is
//! called from one thread at a time and never after `close`.
//!
//! `queue.rs` is the queue (in memory, or on disk through `segment.rs`, whose
//! records `codec.rs` encodes), its byte bound and its counters; `sync.rs` the
//! once-a-second fsync of disk queues; `writer.rs` the writer: retries with the
//! host's back-off, drops (counted and logged), reopening a sink that panicked,
//! and draining on shutdown. `drain.rs` is the drain benchmark, a test only.

mod codec;
#[cfg(test)]
mod drain;
mod queue;
mod segment;
mod sync;
mod writer;

use std::path::PathBuf;
use std::sync::atomic::AtomicBool;
use std::sync::Arc;
use std::time::Duration;

use idic_plugin_api::{SinkBox, SinkError};
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

pub use queue::{Budget, Counters, Delivery};
pub use sync::Syncer;

/// Opens (or reopens) a cluster's sink; called on the sink pool.
pub type Opener = Arc<dyn Fn() -> Result<SinkBox, SinkError> + Send + Sync>;

/// What a delivery is called in log lines.
#[derive(Debug, Clone)]
pub struct Names {
    /// The cluster's name.
    pub cluster: String,
    /// The plugin's name.
    pub plugin: String,
}

/// How a delivery behaves.
#[derive(Clone)]
pub struct Settings {
    /// Batches that may wait in memory; beyond it the oldest is dropped.
    pub capacity: usize,
    /// The byte bound of the sink instance, shared by its queues.
    pub budget: Arc<Budget>,
    /// Where the queue keeps its batches on disk; `None` for a memory queue.
    pub disk: Option<Disk>,
    /// Write retries per batch of a memory queue; 0 or less = forever.
    pub max_retries: i64,
    /// First retry wait (`stats_processor_retry_interval`).
    pub retry_interval: Duration,
    /// The longest retry wait (`max_backoff`).
    pub max_backoff: Duration,
}

/// The disk buffer of one (cluster, sink) queue.
#[derive(Clone)]
pub struct Disk {
    /// The queue's own folder (`<state_dir>/<sink>/<cluster>`).
    pub dir: PathBuf,
    /// The size at which a segment file is closed and a new one started.
    pub segment_bytes: u64,
    /// Syncs changed files once a second.
    pub syncer: Syncer,
    /// Whether the sink's disk buffer is failing now (shared by its queues, so
    /// that a full disk is logged once per sink, not once per cluster).
    pub failing: Arc<AtomicBool>,
}

/// Where the writers of one running configuration live, and their deadline.
#[derive(Clone, Default)]
pub struct Writers {
    /// Every writer task, so that shutdown can wait for them to drain.
    pub tracker: TaskTracker,
    /// Cancelled when the shutdown grace period is over: writers stop retrying
    /// and count what is left as lost.
    pub abort: CancellationToken,
}

impl Writers {
    /// Lets every writer deliver what is queued within `grace`, then aborts them;
    /// `false` when some writer was still stuck in a sink call after that.
    pub async fn drain(&self, grace: Duration) -> bool {
        self.tracker.close();
        if tokio::time::timeout(grace, self.tracker.wait())
            .await
            .is_ok()
        {
            return true;
        }
        self.abort.cancel();
        tokio::time::timeout(Duration::from_secs(2), self.tracker.wait())
            .await
            .is_ok()
    }
}
