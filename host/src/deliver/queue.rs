//! The queue between one cluster task and one sink's writer, and the counters
//! of what happened to its batches.
//!
//! [`Delivery`] is the producer's handle: `push` never blocks on the sink. A
//! queue is in memory, or on disk (`segment.rs`) when the sink's buffer is
//! `"disk"`: then a batch is appended to the log before the writer can take it,
//! and leaves the log only when the writer reports it done ([`Shared::done`]):
//! acknowledged by the sink, refused for good, or evicted. Both kinds are
//! bounded by the bytes of their sink instance ([`Budget`], all clusters
//! together: the oldest batches of the pushing cluster go first, counted and
//! logged); a memory queue also by `queue_size` batches. When the disk fails
//! (full, unwritable) a batch stays in memory instead, in order, and the failure
//! is logged once per sink. Dropping the handle closes the queue.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use idic_plugin_api::Point;
use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;

use super::segment::{Loc, Log, OpenError};
use super::{codec, writer, Disk, Names, Opener, Settings, Writers};
use crate::pool::Pool;

/// One cycle's points, shared (not copied) by every sink that delivers them.
pub type Batch = Arc<Vec<Point>>;

/// How long a queue waits for its folder while a previous queue of the same
/// (cluster, sink) lets go of it, before falling back to memory.
const BUSY_WAIT: Duration = Duration::from_secs(30);

/// What happened to the batches, for logs and tests.
#[derive(Debug, Default)]
pub struct Counters {
    /// Batches written.
    pub delivered: AtomicU64,
    /// Points written.
    pub delivered_points: AtomicU64,
    /// Write attempts that failed and were retried.
    pub retries: AtomicU64,
    /// Batches dropped because the queue was full (batches or bytes).
    pub dropped_full: AtomicU64,
    /// Batches dropped after `stats_processor_max_retries` (memory queues only).
    pub dropped_retries: AtomicU64,
    /// Batches the sink refused for good, or that made it panic.
    pub dropped_refused: AtomicU64,
    /// Batches still queued in memory when the shutdown deadline passed.
    pub dropped_shutdown: AtomicU64,
    /// Buffered records found damaged when read back, and skipped.
    pub dropped_damaged: AtomicU64,
    /// Batches left in the disk buffer when the writer stopped, for the next start.
    pub kept: AtomicU64,
}

/// The byte bound of one sink instance, shared by its queues.
#[derive(Debug)]
pub struct Budget {
    max: u64,
    used: AtomicU64,
}

impl Budget {
    /// A bound of `max` bytes.
    pub fn new(max: u64) -> Arc<Budget> {
        Arc::new(Budget {
            max,
            used: AtomicU64::new(0),
        })
    }

    /// Bytes counted now.
    pub fn used(&self) -> u64 {
        self.used.load(Ordering::Relaxed)
    }

    fn add(&self, n: u64) {
        self.used.fetch_add(n, Ordering::Relaxed);
    }

    fn sub(&self, n: u64) {
        let _ = self
            .used
            .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |u| {
                Some(u.saturating_sub(n))
            });
    }

    fn over(&self) -> bool {
        self.used() > self.max
    }
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
    /// Cancelled when the producer is gone.
    pub closed: CancellationToken,
    pub counters: Arc<Counters>,
}

/// A batch the writer took: report it with [`Shared::done`].
pub(super) struct Taken {
    pub seq: u64,
    pub batch: Batch,
}

struct State {
    entries: VecDeque<Entry>,
    next_seq: u64,
    /// The batch the writer holds: its sequence number and where it is on disk.
    in_flight: Option<(u64, Option<Loc>)>,
    /// The open log of a disk queue.
    log: Option<Log>,
}

struct Entry {
    seq: u64,
    /// The points, when in memory (a memory queue, a recent batch, or a batch the
    /// disk refused).
    batch: Option<Batch>,
    /// Where it is on disk.
    loc: Option<Loc>,
    /// Counted against the budget while queued in memory (0 for disk records:
    /// their segment's bytes are counted).
    bytes: u64,
}

impl Delivery {
    /// Opens the queue (for a disk queue: its folder, replaying what a previous
    /// run left) and starts the writer (tracked by `writers`), which opens the
    /// sink with `open` on `pool` when the first batch comes.
    pub async fn start(
        names: Names,
        open: Opener,
        settings: Settings,
        pool: &Pool,
        writers: &Writers,
    ) -> Delivery {
        let mut state = State {
            entries: VecDeque::new(),
            next_seq: 0,
            in_flight: None,
            log: None,
        };
        if let Some(disk) = &settings.disk {
            open_log(&names, disk, &settings, pool, &mut state).await;
        }
        let shared = Arc::new(Shared {
            names,
            settings,
            state: Mutex::new(state),
            wake: Notify::new(),
            closed: CancellationToken::new(),
            counters: Arc::default(),
        });
        let weak = Arc::downgrade(&shared);
        let probe: std::sync::Weak<dyn crate::telemetry::QueueProbe> = weak;
        crate::telemetry::global().queues.track(
            &shared.names.cluster,
            &shared.names.plugin,
            Arc::clone(&shared.counters),
            probe,
        );
        writer::spawn(Arc::clone(&shared), open, pool.clone(), writers);
        Delivery { shared }
    }

    /// Queues a batch (on disk first for a disk queue); evicts the oldest when
    /// over the bounds. Never blocks on the sink.
    pub fn push(&self, batch: Batch) {
        if batch.is_empty() {
            return;
        }
        let s = &self.shared;
        let mut state = s.lock();
        let seq = state.next_seq;
        state.next_seq += 1;
        // While the writer keeps up (fewer than two batches waiting), a disk
        // record's batch also stays in memory so that the writer need not read
        // it back; the budget counts its segment bytes, not this copy.
        let keep_in_memory = state.entries.len() < 2;
        let (loc, bytes) = match (state.log.as_mut(), &s.settings.disk) {
            (Some(log), Some(disk)) => {
                let mut buf = Vec::new();
                codec::encode(&batch, &mut buf);
                (s.append(log, disk, seq, &buf), buf.len())
            }
            _ => (None, codec::encoded_len(&batch)),
        };
        let entry = match loc {
            Some(loc) => Entry {
                seq,
                batch: keep_in_memory.then_some(batch),
                loc: Some(loc),
                bytes: 0,
            },
            None => {
                s.settings.budget.add(bytes as u64);
                Entry {
                    seq,
                    batch: Some(batch),
                    loc: None,
                    bytes: bytes as u64,
                }
            }
        };
        state.entries.push_back(entry);
        s.enforce_bounds(&mut state);
        drop(state);
        s.wake.notify_one();
    }
}

/// Opens the folder of a disk queue into `state`; on failure the queue stays in
/// memory and the failure is logged (once per sink).
async fn open_log(names: &Names, disk: &Disk, settings: &Settings, pool: &Pool, state: &mut State) {
    let since = Instant::now();
    let result = loop {
        // Opening reads and checks every segment: after an outage that is a
        // backlog of megabytes, which must not hold a runtime worker.
        let (dir, segment_bytes) = (disk.dir.clone(), disk.segment_bytes);
        let opened = pool.run(move || Log::open(&dir, segment_bytes)).await;
        let opened = opened.unwrap_or_else(|e| {
            Err(OpenError::Io(
                disk.dir.clone(),
                std::io::Error::other(crate::supervise::panic_message(e)),
            ))
        });
        match opened {
            Err(OpenError::Busy(_)) if since.elapsed() < BUSY_WAIT => {
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
            other => break other,
        }
    };
    match result {
        Ok((log, recovered)) => {
            for p in &recovered.problems {
                log::error!(
                    "cluster={} plugin={} disk buffer damaged: {p}",
                    names.cluster,
                    names.plugin
                );
            }
            if !recovered.records.is_empty() {
                log::info!(
                    "cluster={} plugin={} resuming {} buffered batches ({} bytes) from {}",
                    names.cluster,
                    names.plugin,
                    recovered.records.len(),
                    log.bytes(),
                    disk.dir.display()
                );
            }
            settings.budget.add(log.bytes());
            state.next_seq = recovered.next_seq;
            state.entries = recovered
                .records
                .into_iter()
                .map(|f| Entry {
                    seq: f.seq,
                    batch: None,
                    loc: Some(f.loc),
                    bytes: 0,
                })
                .collect();
            state.log = Some(log);
        }
        Err(e) => {
            if !disk.failing.swap(true, Ordering::Relaxed) {
                log::error!(
                    "cluster={} plugin={} cannot use the disk buffer: {e}; using the memory queue instead (batches are lost if idic stops); fix state_dir in [delivery] or its permissions",
                    names.cluster,
                    names.plugin
                );
            } else {
                log::debug!(
                    "cluster={} plugin={} cannot use the disk buffer: {e}; using the memory queue",
                    names.cluster,
                    names.plugin
                );
            }
        }
    }
}

/// The points of a queued record that only the disk holds.
fn read_back(log: Option<&Log>, e: &Entry) -> std::io::Result<Vec<Point>> {
    let (Some(log), Some(loc)) = (log, e.loc) else {
        return Err(std::io::Error::other("no log"));
    };
    let bytes = log.read(e.seq, loc)?;
    codec::decode(&bytes).map_err(|d| {
        std::io::Error::new(
            std::io::ErrorKind::InvalidData,
            format!("{} offset {}: {d}", log.dir().display(), loc.offset),
        )
    })
}

impl Drop for Delivery {
    fn drop(&mut self) {
        self.shared.closed.cancel();
        self.shared.wake.notify_one();
    }
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Appends an encoded batch to the log and counts the bytes it grew by;
    /// `None` when the disk refuses it (logged once per sink, as is the
    /// recovery).
    fn append(&self, log: &mut Log, disk: &Disk, seq: u64, payload: &[u8]) -> Option<Loc> {
        let before = log.bytes();
        match log.append(seq, payload) {
            Ok(loc) => {
                self.settings.budget.add(log.bytes().saturating_sub(before));
                disk.syncer.mark(log.sync_handles());
                if disk.failing.swap(false, Ordering::Relaxed) {
                    log::info!(
                        "plugin={} the disk buffer under {} works again",
                        self.names.plugin,
                        log.dir().display()
                    );
                }
                Some(loc)
            }
            Err(e) => {
                if !disk.failing.swap(true, Ordering::Relaxed) {
                    log::error!(
                        "cluster={} plugin={} cannot write to the disk buffer under {}: {e}; batches are kept in memory until it works again (they are lost if idic stops meanwhile); free space or fix state_dir in [delivery]",
                        self.names.cluster,
                        self.names.plugin,
                        log.dir().display()
                    );
                }
                None
            }
        }
    }

    /// Whether the queue keeps batches on disk.
    pub fn durable(&self) -> bool {
        self.lock().log.is_some()
    }

    /// Batches waiting.
    pub fn depth(&self) -> usize {
        self.lock().entries.len()
    }

    /// Bytes the waiting batches take: in memory, plus the disk buffer's segments.
    fn bytes(&self) -> u64 {
        let state = self.lock();
        let memory: u64 = state.entries.iter().map(|e| e.bytes).sum();
        memory + state.log.as_ref().map_or(0, Log::bytes)
    }

    /// Evicts the oldest batches while over `queue_size` (memory batches) or
    /// the sink's byte bound; never the newest.
    fn enforce_bounds(&self, state: &mut State) {
        let in_memory = state.entries.iter().filter(|e| e.loc.is_none()).count();
        let mut excess = in_memory.saturating_sub(self.settings.capacity.max(1));
        while state.entries.len() > 1 && (excess > 0 || self.settings.budget.over()) {
            // A disk record frees bytes only with its whole segment: the newest
            // segment is left to fill (the bound's slack is one segment).
            let head_segment = state.log.as_ref().and_then(Log::head_segment);
            let front = &state.entries[0];
            if excess == 0 && front.loc.is_some_and(|l| Some(l.segment) == head_segment) {
                break;
            }
            let Some(e) = state.entries.pop_front() else {
                break;
            };
            if e.loc.is_none() {
                excess = excess.saturating_sub(1);
            }
            self.settings.budget.sub(e.bytes);
            let n = self.counters.dropped_full.fetch_add(1, Ordering::Relaxed) + 1;
            log::warn!(
                "cluster={} plugin={} queue full ({} batches, {} bytes for this sink): dropped the oldest batch ({n} dropped so far); the sink is not keeping up",
                self.names.cluster,
                self.names.plugin,
                state.entries.len(),
                self.settings.budget.used()
            );
            self.release(state);
        }
    }

    /// Tells the log which records are still needed (the writer's, then the
    /// queued ones); frees done segments.
    fn release(&self, state: &mut State) {
        let queued_from = state.entries.front().map_or(state.next_seq, |e| e.seq);
        let cursor = state.in_flight.map_or(queued_from, |(seq, _)| seq);
        let pinned = state.in_flight.and_then(|(_, loc)| loc).map(|l| l.segment);
        if let (Some(log), Some(disk)) = (state.log.as_mut(), &self.settings.disk) {
            let freed = log.release(cursor, queued_from, pinned);
            self.settings.budget.sub(freed);
            disk.syncer.mark(log.sync_handles());
        }
    }

    /// The next batch, or `None` once the producer is gone and the queue is empty.
    pub async fn next_batch(&self) -> Option<Taken> {
        loop {
            let notified = self.wake.notified();
            {
                let mut state = self.lock();
                // A closed disk queue leaves its backlog on disk for the next
                // queue of this (cluster, sink), which may be waiting for the
                // folder; only batches still in memory are delivered now.
                let closed = self.closed.is_cancelled();
                if closed
                    && state.log.is_some()
                    && state.entries.front().is_some_and(|e| e.batch.is_none())
                {
                    return None;
                }
                while let Some(e) = state.entries.pop_front() {
                    self.settings.budget.sub(e.bytes);
                    let batch = match e.batch {
                        Some(batch) => Ok(batch),
                        None => read_back(state.log.as_ref(), &e).map(Arc::new),
                    };
                    match batch {
                        Ok(batch) => {
                            state.in_flight = Some((e.seq, e.loc));
                            return Some(Taken { seq: e.seq, batch });
                        }
                        Err(err) => {
                            self.counters
                                .dropped_damaged
                                .fetch_add(1, Ordering::Relaxed);
                            log::error!(
                                "cluster={} plugin={} a buffered batch cannot be read back: {err}; it is skipped",
                                self.names.cluster,
                                self.names.plugin
                            );
                            self.release(&mut state);
                        }
                    }
                }
                if closed {
                    return None;
                }
            }
            notified.await;
        }
    }

    /// The writer is done with `seq` (delivered, refused or dropped): a disk
    /// queue forgets it.
    pub fn done(&self, seq: u64) {
        let mut state = self.lock();
        if state.in_flight.is_some_and(|(s, _)| s == seq) {
            state.in_flight = None;
        }
        self.release(&mut state);
    }

    /// The writer stops: what the disk holds (queued or in the writer's hands)
    /// stays there for the next start and is counted `kept`; what only memory
    /// holds is counted lost. Returns (lost, kept).
    pub fn discard_all(&self) -> (u64, u64) {
        let mut state = self.lock();
        let entries = std::mem::take(&mut state.entries);
        let in_flight = state.in_flight.take();
        // Only an open log gives a batch a place on disk.
        let kept = entries.iter().filter(|e| e.loc.is_some()).count() as u64
            + u64::from(in_flight.is_some_and(|(_, loc)| loc.is_some()));
        let total = entries.len() as u64 + u64::from(in_flight.is_some());
        let lost = total - kept;
        for e in &entries {
            self.settings.budget.sub(e.bytes);
        }
        if let Some(log) = state.log.take() {
            self.settings.budget.sub(log.bytes());
        }
        self.counters
            .dropped_shutdown
            .fetch_add(lost, Ordering::Relaxed);
        self.counters.kept.fetch_add(kept, Ordering::Relaxed);
        (lost, kept)
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

impl crate::telemetry::QueueProbe for Shared {
    fn depth(&self) -> u64 {
        Shared::depth(self) as u64
    }

    fn bytes(&self) -> u64 {
        Shared::bytes(self)
    }
}
