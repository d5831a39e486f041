//! The plugin's own small tokio runtime, on which every listener of the process
//! runs (each cluster's `/metrics` and the discovery endpoint). It owns the
//! threads and nothing else: what runs on it is `server.rs`'s.
//!
//! A tokio handle cannot cross the plugin boundary, so the plugin brings its own
//! runtime: started by the plugin's `start` hook (or by the first `open` when a
//! caller drives sinks without it, as the tests do) and shut down when the last
//! holder lets go, which is the `stop` hook when the host has closed every sink
//! first, as it does. Two worker threads serve every connection of every
//! endpoint; rendering a body is CPU work and runs on at most two blocking
//! threads, which exit after a few idle seconds.

use std::io;
use std::time::Duration;

/// Threads that run the connections of every endpoint.
pub const WORKER_THREADS: usize = 2;

/// Threads that render and compress bodies (two cores are the target machine).
pub const RENDER_THREADS: usize = 2;

/// How long an idle render thread lives before it exits.
const RENDER_THREAD_KEEP_ALIVE: Duration = Duration::from_secs(10);

/// How long shutting down waits for a render still in progress.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(5);

/// The running runtime; dropping it stops every task on it.
pub struct Runtime {
    inner: Option<tokio::runtime::Runtime>,
}

impl Runtime {
    /// Starts the worker threads, named `name` (15 bytes at most show).
    pub fn start(name: &str) -> io::Result<Runtime> {
        let inner = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(WORKER_THREADS)
            .max_blocking_threads(RENDER_THREADS)
            .thread_keep_alive(RENDER_THREAD_KEEP_ALIVE)
            .thread_name(name)
            .enable_io()
            .enable_time()
            .build()?;
        Ok(Runtime { inner: Some(inner) })
    }

    /// Where to spawn tasks.
    pub fn handle(&self) -> &tokio::runtime::Handle {
        self.inner
            .as_ref()
            .expect("the runtime is only taken out in drop")
            .handle()
    }
}

impl Drop for Runtime {
    fn drop(&mut self) {
        let Some(rt) = self.inner.take() else {
            return;
        };
        if tokio::runtime::Handle::try_current().is_ok() {
            // Dropped on a runtime thread, where tokio refuses to block: let
            // the threads end on their own.
            rt.shutdown_background();
        } else {
            rt.shutdown_timeout(SHUTDOWN_GRACE);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn threads_named(prefix: &str) -> usize {
        std::fs::read_dir("/proc/self/task")
            .unwrap()
            .flatten()
            .filter(|t| {
                std::fs::read_to_string(t.path().join("comm"))
                    .is_ok_and(|name| name.trim_end().starts_with(prefix))
            })
            .count()
    }

    /// The count of threads named `prefix` once it reaches `want`, or what it
    /// is after ten seconds: a thread names itself a moment after it starts,
    /// and a joined one lingers in /proc a moment. Bounded, so never a hang.
    fn settled(prefix: &str, want: usize) -> usize {
        for _ in 0..1000 {
            if threads_named(prefix) == want {
                break;
            }
            std::thread::sleep(Duration::from_millis(10));
        }
        threads_named(prefix)
    }

    #[test]
    fn runs_tasks_on_two_workers_whose_threads_end_on_drop() {
        let rt = Runtime::start("prom-rt-test").unwrap();
        let (tx, rx) = std::sync::mpsc::channel();
        rt.handle().spawn(async move { tx.send(6 * 7).unwrap() });
        assert_eq!(rx.recv().unwrap(), 42);
        assert_eq!(settled("prom-rt-test", WORKER_THREADS), WORKER_THREADS);
        drop(rt);
        assert_eq!(settled("prom-rt-test", 0), 0);
    }
}
