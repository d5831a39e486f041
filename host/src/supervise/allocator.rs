//! The host's global allocator: mimalloc, asked for memory the way Rust's own
//! `System` allocator asks glibc's malloc.
//!
//! The `mimalloc` crate passes every request to `mi_malloc_aligned`, alignment
//! 1 or 8 included. When the size class's current page has no free block at
//! hand, mimalloc's aligned path can only promise alignment by allocating
//! `size + align - 1` bytes (one size class up) and marking the page as holding
//! interior pointers, which every later free on that page pays for. Collecting
//! allocates millions of small word-aligned blocks a minute (the tags, fields
//! and rows of points), so perf put 3 % of idic's CPU in those slow paths.
//! Every mimalloc block is at least word-aligned (blocks are whole words from a
//! 16-byte aligned page start), so a layout aligned to a word or less goes to
//! plain `mi_malloc`; only larger alignments take the aligned calls.

use std::alloc::{GlobalAlloc, Layout};
use std::ffi::c_void;

use libmimalloc_sys as mi;

/// The alignment every mimalloc block has, whatever its size.
const WORD: usize = std::mem::size_of::<usize>();

/// mimalloc as the global allocator (see the module documentation).
pub struct Allocator;

// SAFETY: every method forwards to the mimalloc function of the same contract
// (malloc/calloc/free/realloc, with the alignment honoured: natively for a
// word or less, through the `_aligned` calls above that).
unsafe impl GlobalAlloc for Allocator {
    #[inline]
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        if layout.align() <= WORD {
            mi::mi_malloc(layout.size()).cast()
        } else {
            mi::mi_malloc_aligned(layout.size(), layout.align()).cast()
        }
    }

    #[inline]
    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        if layout.align() <= WORD {
            mi::mi_zalloc(layout.size()).cast()
        } else {
            mi::mi_zalloc_aligned(layout.size(), layout.align()).cast()
        }
    }

    #[inline]
    unsafe fn dealloc(&self, ptr: *mut u8, _layout: Layout) {
        mi::mi_free(ptr.cast::<c_void>());
    }

    #[inline]
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        if layout.align() <= WORD {
            mi::mi_realloc(ptr.cast(), new_size).cast()
        } else {
            mi::mi_realloc_aligned(ptr.cast(), new_size, layout.align()).cast()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Sizes around mimalloc's size classes, powers of two and not.
    fn sizes() -> impl Iterator<Item = usize> {
        (1..=600).chain([1000, 4095, 4096, 4097, 70_000, 1 << 20, 5 << 20])
    }

    #[test]
    fn every_block_honours_its_alignment() {
        for align in [1, 2, 4, 8, 16, 32, 64, 4096] {
            for size in sizes() {
                let layout = Layout::from_size_align(size, align).unwrap();
                // SAFETY: non-zero sizes; each block is freed with its layout.
                unsafe {
                    let p = Allocator.alloc(layout);
                    assert!(!p.is_null());
                    assert_eq!(p as usize % align, 0, "size {size} align {align}");
                    p.write_bytes(0xA5, size);
                    let z = Allocator.alloc_zeroed(layout);
                    assert_eq!(z as usize % align, 0, "zeroed size {size} align {align}");
                    assert!(std::slice::from_raw_parts(z, size).iter().all(|&b| b == 0));
                    let grown = Allocator.realloc(p, layout, size * 3);
                    assert_eq!(
                        grown as usize % align,
                        0,
                        "realloc size {size} align {align}"
                    );
                    assert!(std::slice::from_raw_parts(grown, size)
                        .iter()
                        .all(|&b| b == 0xA5));
                    Allocator.dealloc(grown, Layout::from_size_align(size * 3, align).unwrap());
                    Allocator.dealloc(z, layout);
                }
            }
        }
    }

    #[test]
    fn word_aligned_blocks_are_not_over_allocated() {
        // Many blocks of a size that is not a power of two, so that pages fill
        // up and the aligned call would have to over-allocate.
        for size in [24, 48, 144, 200, 328] {
            let layout = Layout::from_size_align(size, WORD).unwrap();
            let blocks: Vec<*mut u8> = (0..5000)
                // SAFETY: non-zero size.
                .map(|_| unsafe { Allocator.alloc(layout) })
                .collect();
            for &p in &blocks {
                // SAFETY: p is a live mimalloc block.
                let usable = unsafe { mi::mi_usable_size(p.cast()) };
                // SAFETY: a pure size-class lookup.
                let good = unsafe { mi::mi_good_size(size) };
                assert_eq!(usable, good, "size {size}");
            }
            for p in blocks {
                // SAFETY: allocated above with this layout.
                unsafe { Allocator.dealloc(p, layout) };
            }
        }
    }
}
