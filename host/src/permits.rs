//! A counting semaphore for blocking threads: bounds how many clusters parse and
//! decode answers at once.
//!
//! Fetching stays fully concurrent (a slow cluster never waits for another), but
//! turning a body into points is CPU work whose transient memory (the JSON tree,
//! several times the body) would otherwise peak for every cluster at once when
//! their timers coincide.

use std::sync::{Condvar, Mutex, MutexGuard};

/// How many decodes may run at once, process-wide.
pub const DECODERS: usize = 4;

/// A fixed number of permits.
pub struct Permits {
    free: Mutex<usize>,
    freed: Condvar,
}

/// Held while decoding; gives the permit back on drop.
pub struct Permit<'a> {
    permits: &'a Permits,
}

impl Permits {
    /// `n` permits.
    pub const fn new(n: usize) -> Permits {
        Permits {
            free: Mutex::new(n),
            freed: Condvar::new(),
        }
    }

    /// Waits for a permit.
    pub fn acquire(&self) -> Permit<'_> {
        let mut free = self.lock();
        while *free == 0 {
            free = self.freed.wait(free).unwrap_or_else(|e| e.into_inner());
        }
        *free -= 1;
        Permit { permits: self }
    }

    fn lock(&self) -> MutexGuard<'_, usize> {
        self.free.lock().unwrap_or_else(|e| e.into_inner())
    }
}

impl Drop for Permit<'_> {
    fn drop(&mut self) {
        *self.permits.lock() += 1;
        self.permits.freed.notify_one();
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::Arc;

    use super::*;

    #[test]
    fn never_more_holders_than_permits() {
        static PERMITS: Permits = Permits::new(2);
        let (now, max) = (Arc::new(AtomicUsize::new(0)), Arc::new(AtomicUsize::new(0)));
        let threads: Vec<_> = (0..8)
            .map(|_| {
                let (now, max) = (Arc::clone(&now), Arc::clone(&max));
                std::thread::spawn(move || {
                    for _ in 0..50 {
                        let _p = PERMITS.acquire();
                        let n = now.fetch_add(1, Ordering::SeqCst) + 1;
                        max.fetch_max(n, Ordering::SeqCst);
                        std::thread::yield_now();
                        now.fetch_sub(1, Ordering::SeqCst);
                    }
                })
            })
            .collect();
        for t in threads {
            t.join().unwrap();
        }
        assert!(max.load(Ordering::SeqCst) <= 2);
        assert_eq!(*PERMITS.lock(), 2, "every permit came back");
    }
}
