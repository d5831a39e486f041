//! When buffered data reaches the disk: the fsync policy of every disk queue.
//!
//! Appends and cursor updates go to the page cache at once (a process crash
//! loses nothing) and a [`Syncer`] writes what changed to the disk once a second
//! (`fdatasync` of each changed segment, cursor and folder), on a blocking pool
//! of its own, so a power loss loses at most about the last second and no async
//! worker ever waits for the disk.

use std::collections::HashMap;
use std::fs::File;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio_util::sync::CancellationToken;

use crate::pool::Pool;

/// How often changed buffer files are synced to the disk.
pub const SYNC_PERIOD: Duration = Duration::from_secs(1);

/// The files changed since the last sync, shared by every disk queue of one
/// running configuration.
#[derive(Clone, Default)]
pub struct Syncer {
    dirty: Arc<Mutex<HashMap<usize, Arc<File>>>>,
}

impl Syncer {
    /// Notes that `files` changed.
    pub fn mark(&self, files: Vec<Arc<File>>) {
        let mut dirty = self.dirty.lock().unwrap_or_else(|e| e.into_inner());
        for f in files {
            dirty.insert(Arc::as_ptr(&f) as usize, f);
        }
    }

    /// Syncs what changed every [`SYNC_PERIOD`] until `stop`, then once more.
    pub async fn run(self, pool: Pool, stop: CancellationToken) {
        loop {
            let stopped = tokio::select! {
                () = tokio::time::sleep(SYNC_PERIOD) => false,
                () = stop.cancelled() => true,
            };
            self.sync_now(&pool).await;
            if stopped {
                return;
            }
        }
    }

    /// Syncs every changed file now.
    pub async fn sync_now(&self, pool: &Pool) {
        let files: Vec<Arc<File>> =
            std::mem::take(&mut *self.dirty.lock().unwrap_or_else(|e| e.into_inner()))
                .into_values()
                .collect();
        if files.is_empty() {
            return;
        }
        let _ = pool
            .run(move || {
                for f in files {
                    if let Err(e) = f.sync_data() {
                        log::debug!("syncing a buffer file: {e}");
                    }
                }
            })
            .await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn changed_files_are_synced_once_and_forgotten() {
        let tmp = tempfile::tempdir().unwrap();
        let f = Arc::new(File::create(tmp.path().join("x")).unwrap());
        let s = Syncer::default();
        s.mark(vec![Arc::clone(&f), Arc::clone(&f)]);
        assert_eq!(s.dirty.lock().unwrap().len(), 1);
        s.sync_now(&Pool::new(1)).await;
        assert!(s.dirty.lock().unwrap().is_empty());
    }
}
