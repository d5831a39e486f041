//! Recycled piece buffers. A streamed `/metrics` body is made of pieces of a
//! few tens of kilobytes, each freed once the connection has written it; with
//! glibc's malloc (which a plugin uses) trimming its heap as soon as 128 KiB
//! are free at its top (idic sets that threshold), every scrape would fault in
//! fresh pages for most of its body. A written piece's buffer comes back here
//! instead, and the next piece reuses it: a few hundred kilobytes stay
//! allocated, and the body costs no page faults.

use std::sync::Mutex;

use bytes::Bytes;

/// The capacity of every recycled buffer: a text piece and its slack, or a
/// gzip piece and its slack, under glibc's 64 KiB mmap threshold.
pub const CAPACITY: usize = 56 * 1024;

/// At most this many idle buffers are kept (1.8 MB), enough for the pieces a
/// few connections have in flight.
const KEPT: usize = 32;

static IDLE: Mutex<Vec<Vec<u8>>> = Mutex::new(Vec::new());

/// An empty buffer of [`CAPACITY`] bytes: a recycled one when there is one.
pub fn buffer() -> Vec<u8> {
    let idle = IDLE.lock().unwrap_or_else(|e| e.into_inner()).pop();
    idle.unwrap_or_else(|| Vec::with_capacity(CAPACITY))
}

/// `piece` as `Bytes` whose buffer comes back for reuse once it is dropped.
pub fn bytes(piece: Vec<u8>) -> Bytes {
    if piece.capacity() == CAPACITY {
        Bytes::from_owner(Recycled(piece))
    } else {
        Bytes::from(piece)
    }
}

/// A buffer that returns to the idle list when dropped.
struct Recycled(Vec<u8>);

impl AsRef<[u8]> for Recycled {
    fn as_ref(&self) -> &[u8] {
        &self.0
    }
}

impl Drop for Recycled {
    fn drop(&mut self) {
        let mut buffer = std::mem::take(&mut self.0);
        buffer.clear();
        let mut idle = IDLE.lock().unwrap_or_else(|e| e.into_inner());
        if idle.len() < KEPT {
            idle.push(buffer);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_dropped_piece_gives_its_buffer_to_the_next() {
        let mut first = buffer();
        first.extend_from_slice(b"abc");
        let address = first.as_ptr();
        let piece = bytes(first);
        assert_eq!(&piece[..], b"abc");
        drop(piece);
        // Other tests may take buffers meanwhile: look for ours among a few.
        let taken: Vec<Vec<u8>> = (0..KEPT).map(|_| buffer()).collect();
        assert!(taken.iter().any(|b| b.as_ptr() == address && b.is_empty()));
        assert!(taken.iter().all(|b| b.capacity() == CAPACITY));
    }

    #[test]
    fn a_buffer_of_another_size_is_not_kept() {
        let small = vec![1, 2, 3];
        let address = small.as_ptr();
        let piece = bytes(small);
        assert_eq!(&piece[..], &[1, 2, 3]);
        drop(piece);
        let taken: Vec<Vec<u8>> = (0..KEPT).map(|_| buffer()).collect();
        assert!(taken.iter().all(|b| b.as_ptr() != address));
        assert!(taken.iter().all(|b| b.capacity() == CAPACITY));
    }
}
