//! Recycled body buffers, shared by every sink of the process. A sink writes
//! once per cycle and frees its bodies afterwards (a thousand sinks' idle
//! bodies would add up to hundreds of megabytes), but a typical cycle's body is
//! larger than glibc's 64 KiB mmap threshold (idic sets it): allocated fresh,
//! every write mapped new pages, faulted them in and unmapped them again,
//! about a tenth of the plugin's CPU. A finished body's buffer comes back here
//! instead, and the next write, of any sink, takes it: at most [`KEPT`]
//! buffers of at most [`MAX_KEPT_CAPACITY`] bytes each stay allocated, about
//! as many as writes run at once (the host's `sink_workers`, 4 by default).

use std::sync::Mutex;

/// At most this many idle buffers are kept.
pub const KEPT: usize = 4;

/// A buffer larger than this is freed, not kept: 512 KiB holds a cycle of a
/// cluster of about twenty nodes; bodies of larger clusters cost what they
/// always did. Idle memory is bounded by `KEPT` times this (2 MiB).
pub const MAX_KEPT_CAPACITY: usize = 512 * 1024;

static IDLE: Mutex<Vec<Vec<u8>>> = Mutex::new(Vec::new());

/// An empty buffer: a recycled one when there is one, else a new one with
/// room for `capacity` bytes.
pub fn take(capacity: usize) -> Vec<u8> {
    let idle = IDLE.lock().unwrap_or_else(|e| e.into_inner()).pop();
    idle.unwrap_or_else(|| Vec::with_capacity(capacity))
}

/// Gives `buffer` back for the next [`take`], or frees it when it is too large
/// or enough buffers are idle.
pub fn give(mut buffer: Vec<u8>) {
    if buffer.capacity() == 0 || buffer.capacity() > MAX_KEPT_CAPACITY {
        return;
    }
    buffer.clear();
    let mut idle = IDLE.lock().unwrap_or_else(|e| e.into_inner());
    if idle.len() < KEPT {
        idle.push(buffer);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_given_buffer_is_taken_again_empty() {
        let mut first = take(1024);
        first.extend_from_slice(b"line\n");
        let address = first.as_ptr();
        give(first);
        // Other tests may take buffers meanwhile: look for ours among a few.
        let taken: Vec<Vec<u8>> = (0..KEPT).map(|_| take(1024)).collect();
        let ours = taken.iter().find(|b| b.as_ptr() == address);
        assert!(ours.is_some_and(|b| b.is_empty() && b.capacity() >= 5));
        taken.into_iter().for_each(give);
    }

    #[test]
    fn large_buffers_are_freed_and_idle_ones_are_bounded() {
        let large = Vec::with_capacity(MAX_KEPT_CAPACITY + 1);
        let address = large.as_ptr();
        give(large);
        for _ in 0..KEPT * 3 {
            give(Vec::with_capacity(64));
        }
        let idle = IDLE.lock().unwrap();
        assert!(idle.len() <= KEPT);
        assert!(idle.iter().all(|b| b.as_ptr() != address));
    }
}
