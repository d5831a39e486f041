//! Restarting what fails: a task that panics is logged with what it was, the
//! cause and what happens next, and started again after the host's back-off.
//! Nothing is ever silently dropped from collection, and a task that keeps
//! failing costs one attempt per back-off, never a hot loop.

use std::future::Future;
use std::time::Duration;

use tokio::task::JoinError;
use tokio_util::sync::CancellationToken;

use crate::backoff::Backoff;

/// Runs `make()` as a task until it returns or `stop` is cancelled; when it
/// panics, logs `what` and the panic and runs a fresh `make()` after the
/// back-off (1 s doubling up to `cap`). On `stop` the running task is aborted and
/// waited for (dropping it at its current await point).
pub async fn supervised<F, Fut>(what: &str, cap: Duration, stop: CancellationToken, mut make: F)
where
    F: FnMut() -> Fut,
    Fut: Future<Output = ()> + Send + 'static,
{
    let mut backoff = Backoff::new(Duration::from_secs(1), cap);
    loop {
        let mut task = tokio::spawn(make());
        let result = tokio::select! {
            r = &mut task => r,
            () = stop.cancelled() => {
                task.abort();
                let _ = task.await;
                return;
            }
        };
        match result {
            Ok(()) => return,
            Err(e) if e.is_panic() => {
                crate::telemetry::global().panicked("task");
                let wait = backoff.next_wait();
                log::error!(
                    "{what} failed: {}; this is a bug in idic; restarting it in {} s ({} restarts so far)",
                    panic_message(e),
                    wait.as_secs_f64().ceil(),
                    backoff.failures()
                );
                tokio::select! {
                    () = tokio::time::sleep(wait) => {}
                    () = stop.cancelled() => return,
                }
            }
            Err(_) => return,
        }
    }
}

/// The message of a panicked task, or what else ended it.
pub fn panic_message(e: JoinError) -> String {
    if !e.is_panic() {
        return e.to_string();
    }
    payload_message(e.into_panic())
}

/// A caught panic's message (`std::panic::catch_unwind`'s error).
pub fn payload_message(payload: Box<dyn std::any::Any + Send>) -> String {
    if let Some(s) = payload.downcast_ref::<&str>() {
        format!("panicked: {s}")
    } else if let Some(s) = payload.downcast_ref::<String>() {
        format!("panicked: {s}")
    } else {
        "panicked".to_string()
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicU32, Ordering};
    use std::sync::Arc;

    use super::*;

    #[tokio::test(start_paused = true)]
    async fn a_panicking_task_is_restarted_with_back_off_until_it_succeeds() {
        let runs = Arc::new(AtomicU32::new(0));
        let started = tokio::time::Instant::now();
        let r = Arc::clone(&runs);
        supervised(
            "cluster=x collection",
            Duration::from_secs(60),
            CancellationToken::new(),
            move || {
                let r = Arc::clone(&r);
                async move {
                    if r.fetch_add(1, Ordering::SeqCst) < 3 {
                        panic!("boom");
                    }
                }
            },
        )
        .await;
        assert_eq!(runs.load(Ordering::SeqCst), 4);
        // Waits of at most 1 + 2 + 4 s and at least half of that: no hot loop.
        let waited = started.elapsed();
        assert!(
            waited >= Duration::from_millis(3500) && waited <= Duration::from_secs(7),
            "{waited:?}"
        );
    }

    #[tokio::test(start_paused = true)]
    async fn stop_ends_a_task_that_keeps_failing() {
        let stop = CancellationToken::new();
        let runs = Arc::new(AtomicU32::new(0));
        let r = Arc::clone(&runs);
        let s = stop.clone();
        let supervisor = tokio::spawn(async move {
            supervised("writer", Duration::from_secs(60), s, move || {
                let r = Arc::clone(&r);
                async move {
                    r.fetch_add(1, Ordering::SeqCst);
                    panic!("always");
                }
            })
            .await
        });
        tokio::time::sleep(Duration::from_secs(600)).await;
        stop.cancel();
        supervisor.await.unwrap();
        let n = runs.load(Ordering::SeqCst);
        // 600 s with waits capped at 60 s (at least 30 s): a handful, not thousands.
        assert!((5..=25).contains(&n), "{n} runs");
    }

    #[tokio::test(start_paused = true)]
    async fn stop_aborts_a_running_task() {
        let stop = CancellationToken::new();
        let s = stop.clone();
        let supervisor = tokio::spawn(async move {
            supervised("cluster=x collection", Duration::from_secs(60), s, || {
                std::future::pending::<()>()
            })
            .await
        });
        tokio::time::sleep(Duration::from_secs(1)).await;
        stop.cancel();
        supervisor.await.unwrap();
    }

    #[tokio::test]
    async fn the_panic_message_is_kept() {
        let e = tokio::spawn(async { panic!("key {} broke", 7) })
            .await
            .unwrap_err();
        assert_eq!(panic_message(e), "panicked: key 7 broke");
    }
}
