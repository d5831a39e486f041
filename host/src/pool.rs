//! Bounded blocking work: a semaphore in front of tokio's blocking threads.
//!
//! Everything idic does that blocks a thread goes through one of four pools,
//! each with a fixed number of permits: sink calls (`[global] sink_workers`),
//! decoding large answers ([`DECODERS`]), host-name lookups ([`RESOLVERS`])
//! and syncing disk buffers ([`SYNCERS`]). The runtime's blocking-thread limit
//! is their sum, so work never queues inside tokio behind another kind of work,
//! and the number of threads does not grow with clusters or sinks. Waiting for a permit is async:
//! it holds no thread.

use std::sync::Arc;

use tokio::sync::Semaphore;
use tokio::task::JoinError;

/// How many large answers (summary tables; smaller ones are decoded on their
/// cluster's task) may be decoded at once, process-wide: the points of clusters
/// whose timers coincide would otherwise peak together.
pub const DECODERS: usize = 2;

/// How many host-name lookups may run at once (a lookup blocks in the resolver).
pub const RESOLVERS: usize = 2;

/// How many disk syncs of the buffers may run at once (one, once a second).
pub const SYNCERS: usize = 1;

/// A named number of permits for blocking work.
#[derive(Debug, Clone)]
pub struct Pool {
    permits: Arc<Semaphore>,
}

/// The pools of one running configuration.
#[derive(Debug, Clone)]
pub struct Pools {
    /// Sink calls: open, write, flush, close.
    pub sinks: Pool,
    /// Parsing and decoding OneFS answers.
    pub decode: Pool,
    /// Resolving cluster host names.
    pub resolve: Pool,
    /// Syncing disk buffers to the disk.
    pub disk: Pool,
}

impl Pool {
    /// A pool running at most `n` (at least 1) jobs at once.
    pub fn new(n: usize) -> Pool {
        Pool {
            permits: Arc::new(Semaphore::new(n.max(1))),
        }
    }

    /// Runs `job` on a blocking thread once a permit is free. `Err` when the job
    /// panicked (the panic is in the error).
    pub async fn run<T, F>(&self, job: F) -> Result<T, JoinError>
    where
        F: FnOnce() -> T + Send + 'static,
        T: Send + 'static,
    {
        let permit = Arc::clone(&self.permits)
            .acquire_owned()
            .await
            .expect("the semaphore is never closed");
        tokio::task::spawn_blocking(move || {
            let _permit = permit;
            job()
        })
        .await
    }

    /// Permits free now.
    #[cfg(test)]
    pub fn size(&self) -> usize {
        self.permits.available_permits()
    }
}

impl Pools {
    /// The pools for `sink_workers` concurrent sink calls.
    pub fn new(sink_workers: usize) -> Pools {
        Pools {
            sinks: Pool::new(sink_workers),
            decode: Pool::new(DECODERS),
            resolve: Pool::new(RESOLVERS),
            disk: Pool::new(SYNCERS),
        }
    }

    /// The blocking threads the runtime needs for these pools.
    pub fn threads(sink_workers: usize) -> usize {
        sink_workers.max(1) + DECODERS + RESOLVERS + SYNCERS
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicUsize, Ordering};

    use super::*;

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn never_more_jobs_at_once_than_permits() {
        let pool = Pool::new(2);
        let (now, max) = (Arc::new(AtomicUsize::new(0)), Arc::new(AtomicUsize::new(0)));
        let jobs: Vec<_> = (0..16)
            .map(|_| {
                let (pool, now, max) = (pool.clone(), Arc::clone(&now), Arc::clone(&max));
                tokio::spawn(async move {
                    pool.run(move || {
                        let n = now.fetch_add(1, Ordering::SeqCst) + 1;
                        max.fetch_max(n, Ordering::SeqCst);
                        std::thread::yield_now();
                        now.fetch_sub(1, Ordering::SeqCst);
                    })
                    .await
                    .unwrap()
                })
            })
            .collect();
        for j in jobs {
            j.await.unwrap();
        }
        assert!(max.load(Ordering::SeqCst) <= 2);
        assert_eq!(pool.size(), 2, "every permit came back");
    }

    #[tokio::test]
    async fn a_panicking_job_is_an_error_and_gives_its_permit_back() {
        let pool = Pool::new(1);
        let r = pool.run(|| panic!("boom")).await;
        assert!(r.unwrap_err().is_panic());
        assert_eq!(pool.run(|| 7).await.unwrap(), 7);
    }
}
