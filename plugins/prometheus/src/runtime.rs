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
        if let Some(rt) = self.inner.take() {
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

    #[test]
    fn runs_tasks_and_its_threads_end_on_drop() {
        let rt = Runtime::start("prom-rt-test").unwrap();
        let (tx, rx) = std::sync::mpsc::channel();
        rt.handle().spawn(async move { tx.send(6 * 7).unwrap() });
        assert_eq!(rx.recv().unwrap(), 42);
        assert_eq!(threads_named("prom-rt-test"), WORKER_THREADS);
        drop(rt);
        // A joined thread can linger in /proc for a moment after it signalled
        // its end: wait for the count to reach zero (bounded, so never a hang).
        let mut left = threads_named("prom-rt-test");
        for _ in 0..1000 {
            if left == 0 {
                break;
            }
            std::thread::sleep(Duration::from_millis(10));
            left = threads_named("prom-rt-test");
        }
        assert_eq!(left, 0);
    }
}
