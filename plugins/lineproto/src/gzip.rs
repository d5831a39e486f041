//! gzip request bodies with reused compressors.
//!
//! A deflate state is a few hundred kilobytes that zlib zeroes when it is made.
//! Making one per request (what `GzEncoder` does) cost more CPU in fresh pages
//! than the compression itself: 20 clusters writing every 5 s spent 4.5 % of
//! idic's CPU clearing pages for it. Idle compressors wait in one small
//! process-wide stack instead, so there are at most as many as writes that ran at
//! the same time (the host's `sink_workers`), and [`MAX_IDLE`] in any case.

use std::sync::Mutex;

use flate2::{Compress, Compression, Crc, FlushCompress, Status};

/// The most idle compressors kept.
const MAX_IDLE: usize = 8;

/// deflate's window: 8 KiB instead of zlib's 32 KiB. Line protocol repeats
/// itself from one line to the next (measurement, tags), so a short window
/// compresses as well, and the state shrinks by about 100 KB.
const WINDOW_BITS: u8 = 13;

/// Idle compressors, ready to be reset and used.
static IDLE: Mutex<Vec<Compress>> = Mutex::new(Vec::new());

/// The gzip member header: deflate, no flags, no time, no extra fields, OS
/// unknown (RFC 1952).
const HEADER: [u8; 10] = [0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 255];

/// Compresses `body` as one gzip member into `out` (cleared first), at the
/// fast level. `false` if deflate failed (nothing a caller can do but send the
/// body plain).
pub fn compress(body: &[u8], out: &mut Vec<u8>) -> bool {
    let mut deflate = take();
    out.clear();
    out.reserve(body.len() / 4 + HEADER.len() + 8 + 64);
    out.extend_from_slice(&HEADER);
    let done = deflate_all(&mut deflate, body, out);
    give_back(deflate);
    if !done {
        return false;
    }
    let mut crc = Crc::new();
    crc.update(body);
    out.extend_from_slice(&crc.sum().to_le_bytes());
    out.extend_from_slice(&(body.len() as u32).to_le_bytes());
    true
}

/// Raw deflate of all of `input`, appended to `out`.
fn deflate_all(deflate: &mut Compress, input: &[u8], out: &mut Vec<u8>) -> bool {
    let start = deflate.total_in();
    loop {
        if out.capacity() - out.len() < 1024 {
            out.reserve(out.capacity().max(4096));
        }
        let consumed = (deflate.total_in() - start) as usize;
        match deflate.compress_vec(&input[consumed..], out, FlushCompress::Finish) {
            Ok(Status::StreamEnd) => return true,
            Ok(Status::Ok | Status::BufError) => {}
            Err(_) => return false,
        }
    }
}

/// An idle compressor, reset, or a new one.
fn take() -> Compress {
    let idle = IDLE.lock().ok().and_then(|mut idle| idle.pop());
    match idle {
        Some(mut deflate) => {
            deflate.reset();
            deflate
        }
        None => Compress::new_with_window_bits(Compression::fast(), false, WINDOW_BITS),
    }
}

/// Keeps a compressor for the next body, unless enough are idle.
fn give_back(deflate: Compress) {
    if let Ok(mut idle) = IDLE.lock() {
        if idle.len() < MAX_IDLE {
            idle.push(deflate);
        }
    }
}

#[cfg(test)]
mod tests {
    use std::io::Read;

    use super::*;

    fn gunzip(bytes: &[u8]) -> Vec<u8> {
        let mut plain = Vec::new();
        flate2::read::GzDecoder::new(bytes)
            .read_to_end(&mut plain)
            .expect("a valid gzip member");
        plain
    }

    #[test]
    fn bodies_round_trip_through_a_standard_gzip_reader() {
        let body: Vec<u8> = (0..200_000u32)
            .flat_map(|i| format!("m,cluster=c{} value={i} 17\n", i % 7).into_bytes())
            .collect();
        let mut out = Vec::new();
        assert!(compress(&body, &mut out));
        assert!(
            out.len() < body.len() / 4,
            "{} of {}",
            out.len(),
            body.len()
        );
        assert_eq!(gunzip(&out), body);
    }

    #[test]
    fn a_reused_compressor_starts_afresh() {
        let mut first = Vec::new();
        let mut second = Vec::new();
        assert!(compress(b"first body, first body, first body", &mut first));
        assert!(compress(b"second", &mut second));
        assert_eq!(gunzip(&first), b"first body, first body, first body");
        assert_eq!(gunzip(&second), b"second");
        let mut empty = Vec::new();
        assert!(compress(b"", &mut empty));
        assert_eq!(gunzip(&empty), b"");
    }
}
