//! The on-disk log of one (cluster, sink) queue: a folder of segment files with
//! checksummed, length-prefixed records, and a cursor file saying which records
//! are done (acknowledged by the sink, refused for good, or evicted).
//!
//! Layout of `<state_dir>/<sink>/<cluster>/`:
//! - `lock`: held with `flock` while a queue has the folder open, so that two
//!   queues (or two idic processes) never share it;
//! - `<first seq, 20 digits>.seg`: an 8-byte header (`IDICBUF` and the format
//!   [`VERSION`]), then records: magic `u32`, payload length `u32`, sequence
//!   number `u64`, CRC-32 of the sequence number and payload `u32`, payload
//!   (a batch, `codec.rs`). Little-endian.
//! - `cursor`: the first sequence number still needed, with a CRC-32.
//!
//! Appends go to the newest segment until it reaches its target size; a segment
//! whose records are all done is deleted. Opening scans every segment: a record
//! whose length or checksum is wrong (a torn write, a flipped bit) is reported
//! with its file and offset and skipped by searching for the next magic, so the
//! intact records around it are kept. Nothing here decides policy (ordering,
//! bounds, fsync timing): that is `queue.rs` and `sync.rs`.

use std::fs::{self, File, OpenOptions};
use std::io::{self, Write};
use std::os::unix::fs::FileExt;
use std::os::unix::io::AsRawFd;
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// The segment format version written into every segment header.
pub const VERSION: u8 = 1;

const HEADER: &[u8; 7] = b"IDICBUF";
const HEADER_LEN: u64 = 8;
const MAGIC: u32 = 0x5245_4449; // "IDER" little-endian
const RECORD_HEAD: usize = 20;
/// A record larger than this is taken for garbage (a batch is far smaller).
const MAX_RECORD: usize = 1 << 30;

/// Where a record is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Loc {
    /// The first sequence number of its segment (names the file).
    pub segment: u64,
    /// The record's offset in the file.
    pub offset: u64,
    /// The payload's length.
    pub len: u32,
}

/// A record found when opening the log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Found {
    /// Its sequence number.
    pub seq: u64,
    /// Where it is.
    pub loc: Loc,
}

/// What opening a log found.
#[derive(Debug, Default)]
pub struct Recovered {
    /// The records still needed, oldest first.
    pub records: Vec<Found>,
    /// One message per damaged spot: file, offset and what was wrong.
    pub problems: Vec<String>,
    /// The next sequence number to use.
    pub next_seq: u64,
}

/// Why a log cannot be opened.
#[derive(Debug)]
pub enum OpenError {
    /// Another queue (in this process or another) has the folder open.
    Busy(PathBuf),
    /// The folder or a file in it cannot be created or read.
    Io(PathBuf, io::Error),
}

impl std::fmt::Display for OpenError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            OpenError::Busy(p) => write!(
                f,
                "{} is in use by another queue or another idic process",
                p.display()
            ),
            OpenError::Io(p, e) => write!(f, "{}: {e}", p.display()),
        }
    }
}

struct Segment {
    first_seq: u64,
    /// The last sequence number written into it (`first_seq - 1` when none).
    last_seq: u64,
    len: u64,
}

/// One open queue folder.
pub struct Log {
    dir: PathBuf,
    _lock: File,
    dir_handle: Arc<File>,
    segments: Vec<Segment>,
    /// The newest segment, open for appending, when it may take more records.
    head: Option<Arc<File>>,
    cursor: Arc<File>,
    target: u64,
}

impl Log {
    /// Opens (creating) the log in `dir`; segments rotate at about `target` bytes.
    pub fn open(dir: &Path, target: u64) -> Result<(Log, Recovered), OpenError> {
        let io = |p: &Path| {
            let p = p.to_path_buf();
            move |e| OpenError::Io(p, e)
        };
        fs::create_dir_all(dir).map_err(io(dir))?;
        let lock_path = dir.join("lock");
        let lock = OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&lock_path)
            .map_err(io(&lock_path))?;
        // SAFETY: flock on a descriptor we own; no memory is involved.
        if unsafe { libc::flock(lock.as_raw_fd(), libc::LOCK_EX | libc::LOCK_NB) } != 0 {
            let e = io::Error::last_os_error();
            return Err(if e.kind() == io::ErrorKind::WouldBlock {
                OpenError::Busy(dir.to_path_buf())
            } else {
                OpenError::Io(lock_path, e)
            });
        }
        let dir_handle = Arc::new(File::open(dir).map_err(io(dir))?);
        let cursor_path = dir.join("cursor");
        let cursor = OpenOptions::new()
            .create(true)
            .truncate(false)
            .read(true)
            .write(true)
            .open(&cursor_path)
            .map_err(io(&cursor_path))?;
        let mut rec = Recovered::default();
        let needed = read_cursor(&cursor, &cursor_path, &mut rec.problems);
        rec.next_seq = needed;
        let mut names: Vec<(u64, PathBuf)> = fs::read_dir(dir)
            .map_err(io(dir))?
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter_map(|p| {
                let seq = p
                    .file_name()?
                    .to_str()?
                    .strip_suffix(".seg")?
                    .parse()
                    .ok()?;
                Some((seq, p))
            })
            .collect();
        names.sort();
        let mut segments = Vec::new();
        for (first_seq, path) in names {
            // A new segment's name never collides with an old one.
            rec.next_seq = rec.next_seq.max(first_seq + 1);
            let bytes = fs::read(&path).map_err(io(&path))?;
            let mut seg = Segment {
                first_seq,
                last_seq: first_seq.saturating_sub(1),
                len: bytes.len() as u64,
            };
            // A segment of another format version is left alone, untracked.
            if scan(&path, &bytes, first_seq, needed, &mut seg, &mut rec) {
                segments.push(seg);
            }
        }
        let mut log = Log {
            dir: dir.to_path_buf(),
            _lock: lock,
            dir_handle,
            segments,
            head: None,
            cursor: Arc::new(cursor),
            target: target.max(HEADER_LEN + 1),
        };
        // New records go to a new segment, never after a possibly torn tail.
        log.consume(needed);
        Ok((log, rec))
    }

    /// The folder.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The segment new records go to, while it has room.
    pub fn head_segment(&self) -> Option<u64> {
        self.head.as_ref()?;
        self.segments.last().map(|s| s.first_seq)
    }

    /// Bytes on disk in segment files.
    pub fn bytes(&self) -> u64 {
        self.segments.iter().map(|s| s.len).sum()
    }

    /// Appends a record; on failure nothing of it stays in the file.
    pub fn append(&mut self, seq: u64, payload: &[u8]) -> io::Result<Loc> {
        let full = self.segments.last().is_none_or(|s| s.len >= self.target);
        if self.head.is_none() || full {
            self.rotate(seq)?;
        }
        let (head, seg) = match (&self.head, self.segments.last_mut()) {
            (Some(h), Some(s)) => (h, s),
            _ => return Err(io::Error::other("no segment open")),
        };
        let len = u32::try_from(payload.len())
            .ok()
            .filter(|&n| (n as usize) <= MAX_RECORD)
            .ok_or_else(|| io::Error::other("batch too large for one record"))?;
        // The head and the payload go in two writes rather than one copy: a
        // batch is tens of kilobytes, and a buffer kept per queue for the copy
        // added up to megabytes. A crash between the two leaves a torn record,
        // which the checksum finds.
        let mut record_head = [0u8; RECORD_HEAD];
        record_head[0..4].copy_from_slice(&MAGIC.to_le_bytes());
        record_head[4..8].copy_from_slice(&len.to_le_bytes());
        record_head[8..16].copy_from_slice(&seq.to_le_bytes());
        record_head[16..20].copy_from_slice(&checksum(seq, payload).to_le_bytes());
        let offset = seg.len;
        let written = head
            .write_all_at(&record_head, offset)
            .and_then(|()| head.write_all_at(payload, offset + RECORD_HEAD as u64));
        if let Err(e) = written {
            let _ = head.set_len(offset);
            return Err(e);
        }
        seg.len += (RECORD_HEAD + payload.len()) as u64;
        seg.last_seq = seq;
        Ok(Loc {
            segment: seg.first_seq,
            offset,
            len,
        })
    }

    /// Reads the payload at `loc`, checking its checksum.
    pub fn read(&self, seq: u64, loc: Loc) -> io::Result<Vec<u8>> {
        let path = self.segment_path(loc.segment);
        let file = File::open(&path)?;
        let mut buf = vec![0; RECORD_HEAD + loc.len as usize];
        file.read_exact_at(&mut buf, loc.offset)?;
        match record_at(&buf, 0) {
            Some((s, payload)) if s == seq => Ok(payload.to_vec()),
            _ => Err(io::Error::new(
                io::ErrorKind::InvalidData,
                format!(
                    "{} offset {}: the record is damaged (checksum or header)",
                    path.display(),
                    loc.offset
                ),
            )),
        }
    }

    /// Records that every record before `needed` is done: writes the cursor and
    /// deletes the segments that hold nothing else. Returns the bytes freed.
    pub fn consume(&mut self, needed: u64) -> u64 {
        self.release(needed, needed, None)
    }

    /// Writes `cursor` (the first record a restart must replay) and deletes the
    /// segments whose records all precede `queued_from`, except segment
    /// `pinned` (the writer holds one of its records) and the head while it has
    /// room. Evicted records in a kept segment come back after a crash (at most
    /// delivered late); deleted ones never do. Returns the bytes freed.
    pub fn release(&mut self, cursor: u64, queued_from: u64, pinned: Option<u64>) -> u64 {
        let needed = cursor;
        let mut c = [0u8; 12];
        c[..8].copy_from_slice(&needed.to_le_bytes());
        let crc = crc32fast::hash(&c[..8]);
        c[8..].copy_from_slice(&crc.to_le_bytes());
        if let Err(e) = self.cursor.write_all_at(&c, 0) {
            log::debug!("{}: cannot write the cursor: {e}", self.dir.display());
        }
        let mut freed = 0;
        let last = self.segments.len();
        let mut keep = Vec::with_capacity(last);
        for (i, s) in std::mem::take(&mut self.segments).into_iter().enumerate() {
            // The head stays while it may take more records: no file per batch.
            let is_head = i + 1 == last && self.head.is_some();
            if s.last_seq < queued_from
                && Some(s.first_seq) != pinned
                && !(is_head && s.len < self.target)
            {
                let path = self.segment_path(s.first_seq);
                match fs::remove_file(&path) {
                    Ok(()) => freed += s.len,
                    Err(e) if e.kind() == io::ErrorKind::NotFound => freed += s.len,
                    Err(e) => {
                        log::debug!("{}: cannot delete: {e}", path.display());
                        keep.push(s);
                        continue;
                    }
                }
                if is_head {
                    self.head = None;
                }
            } else {
                keep.push(s);
            }
        }
        self.segments = keep;
        freed
    }

    /// The files whose data must reach the disk: the head segment, the cursor
    /// and the folder (new and deleted files).
    pub fn sync_handles(&self) -> Vec<Arc<File>> {
        let mut v = vec![Arc::clone(&self.cursor), Arc::clone(&self.dir_handle)];
        v.extend(self.head.iter().cloned());
        v
    }

    fn segment_path(&self, first_seq: u64) -> PathBuf {
        self.dir.join(format!("{first_seq:020}.seg"))
    }

    fn rotate(&mut self, seq: u64) -> io::Result<()> {
        let path = self.segment_path(seq);
        let mut f = OpenOptions::new()
            .create_new(true)
            .read(true)
            .write(true)
            .open(&path)?;
        let mut header = [0u8; HEADER_LEN as usize];
        header[..7].copy_from_slice(HEADER);
        header[7] = VERSION;
        if let Err(e) = f.write_all(&header) {
            drop(f);
            let _ = fs::remove_file(&path);
            return Err(e);
        }
        self.head = Some(Arc::new(f));
        self.segments.push(Segment {
            first_seq: seq,
            last_seq: seq.saturating_sub(1),
            len: HEADER_LEN,
        });
        Ok(())
    }
}

/// The cursor's value, 0 (replay everything) when missing or damaged.
fn read_cursor(file: &File, path: &Path, problems: &mut Vec<String>) -> u64 {
    let mut c = [0u8; 12];
    match file.read_exact_at(&mut c, 0) {
        Ok(()) => {
            let needed = u64::from_le_bytes(c[..8].try_into().unwrap_or_default());
            if crc32fast::hash(&c[..8]).to_le_bytes() == c[8..] {
                needed
            } else {
                problems.push(format!(
                    "{} offset 0: the cursor is damaged; every record in the folder is replayed (some may be delivered twice)",
                    path.display()
                ));
                0
            }
        }
        Err(_) => 0,
    }
}

/// Reads every record of one segment file into `rec`, reporting damage; `false`
/// when the file is of another format version (left alone).
fn scan(
    path: &Path,
    bytes: &[u8],
    first_seq: u64,
    needed: u64,
    seg: &mut Segment,
    rec: &mut Recovered,
) -> bool {
    let d = path.display();
    if bytes.len() < HEADER_LEN as usize || &bytes[..7] != HEADER {
        rec.problems.push(format!(
            "{d} offset 0: not an idic buffer segment (bad header); its records are skipped"
        ));
        return true;
    }
    if bytes[7] != VERSION {
        rec.problems.push(format!(
            "{d} offset 7: buffer format version {} is not known to this idic (it writes version {VERSION}); the file is left as it is and not replayed",
            bytes[7]
        ));
        return false;
    }
    let mut at = HEADER_LEN as usize;
    let mut last = None;
    while at < bytes.len() {
        match record_at(bytes, at) {
            Some((seq, payload)) if last.is_none_or(|l| seq > l) => {
                last = Some(seq);
                seg.last_seq = seg.last_seq.max(seq);
                rec.next_seq = rec.next_seq.max(seq + 1);
                if seq >= needed {
                    rec.records.push(Found {
                        seq,
                        loc: Loc {
                            segment: first_seq,
                            offset: at as u64,
                            len: payload.len() as u32,
                        },
                    });
                }
                at += RECORD_HEAD + payload.len();
            }
            _ => {
                let next = find_magic(bytes, at + 1);
                let what = if bytes.len() - at < RECORD_HEAD
                    || next.is_none() && looks_truncated(bytes, at)
                {
                    "a truncated record (a write cut short)"
                } else {
                    "a damaged record (wrong length or checksum)"
                };
                rec.problems.push(format!(
                    "{d} offset {at}: {what}; skipped {} bytes, the intact records around it are kept",
                    next.unwrap_or(bytes.len()) - at
                ));
                match next {
                    Some(n) => at = n,
                    None => break,
                }
            }
        }
    }
    true
}

/// Whether the record at `at` has a sound head but runs past the end.
fn looks_truncated(bytes: &[u8], at: usize) -> bool {
    bytes.len() - at >= 8
        && u32::from_le_bytes(bytes[at..at + 4].try_into().unwrap_or_default()) == MAGIC
        && at
            + RECORD_HEAD
            + u32::from_le_bytes(bytes[at + 4..at + 8].try_into().unwrap_or_default()) as usize
            > bytes.len()
}

/// The record starting at `at` if it is whole and its checksum matches.
fn record_at(bytes: &[u8], at: usize) -> Option<(u64, &[u8])> {
    let head = bytes.get(at..at + RECORD_HEAD)?;
    let word = |i: usize| u32::from_le_bytes(head[i..i + 4].try_into().unwrap_or_default());
    if word(0) != MAGIC {
        return None;
    }
    let len = word(4) as usize;
    if len > MAX_RECORD {
        return None;
    }
    let seq = u64::from_le_bytes(head[8..16].try_into().unwrap_or_default());
    let payload = bytes.get(at + RECORD_HEAD..at + RECORD_HEAD + len)?;
    (checksum(seq, payload) == word(16)).then_some((seq, payload))
}

fn find_magic(bytes: &[u8], from: usize) -> Option<usize> {
    let m = MAGIC.to_le_bytes();
    (from..bytes.len().saturating_sub(3)).find(|&i| bytes[i..i + 4] == m)
}

fn checksum(seq: u64, payload: &[u8]) -> u32 {
    let mut h = crc32fast::Hasher::new();
    h.update(&seq.to_le_bytes());
    h.update(payload);
    h.finalize()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn open(dir: &Path) -> (Log, Recovered) {
        Log::open(dir, 200).map_err(|e| e.to_string()).unwrap()
    }

    fn payloads(log: &Log, rec: &Recovered) -> Vec<Vec<u8>> {
        rec.records
            .iter()
            .map(|f| log.read(f.seq, f.loc).unwrap())
            .collect()
    }

    #[test]
    fn records_survive_a_reopen_in_order_and_done_ones_do_not_come_back() {
        let tmp = tempfile::tempdir().unwrap();
        let (mut log, rec) = open(tmp.path());
        assert!(rec.records.is_empty() && rec.problems.is_empty());
        for seq in 0..20u64 {
            log.append(seq, format!("batch {seq}").as_bytes()).unwrap();
        }
        assert!(log.segments.len() > 1, "segments rotate");
        log.consume(5);
        drop(log);
        let (log, rec) = open(tmp.path());
        assert_eq!(rec.next_seq, 20);
        assert!(rec.problems.is_empty(), "{:?}", rec.problems);
        let want: Vec<Vec<u8>> = (5..20).map(|s| format!("batch {s}").into_bytes()).collect();
        assert_eq!(payloads(&log, &rec), want);
    }

    #[test]
    fn consumed_segments_are_deleted_but_the_head_stays_while_it_has_room() {
        let tmp = tempfile::tempdir().unwrap();
        let (mut log, _) = open(tmp.path());
        for seq in 0..20u64 {
            log.append(seq, &[7; 50]).unwrap();
        }
        let before = log.bytes();
        let freed = log.consume(20);
        assert!(freed > 0);
        assert_eq!(freed + log.bytes(), before);
        assert!(log.bytes() < log.target, "only the head is left");
        let segs = fs::read_dir(tmp.path())
            .unwrap()
            .filter(|e| {
                e.as_ref()
                    .unwrap()
                    .path()
                    .extension()
                    .is_some_and(|x| x == "seg")
            })
            .count();
        assert_eq!(segs, 1);
        log.append(20, b"after").unwrap();
        drop(log);
        let (log, rec) = open(tmp.path());
        assert_eq!(payloads(&log, &rec), vec![b"after".to_vec()]);
    }

    #[test]
    fn a_damaged_record_is_reported_with_file_and_offset_and_the_rest_is_kept() {
        let tmp = tempfile::tempdir().unwrap();
        let (mut log, _) = Log::open(tmp.path(), 1 << 20)
            .map_err(|e| e.to_string())
            .unwrap();
        let mut locs = Vec::new();
        for seq in 0..5u64 {
            locs.push(log.append(seq, &[seq as u8; 40]).unwrap());
        }
        drop(log);
        let path = tmp.path().join(format!("{:020}.seg", 0));
        let mut bytes = fs::read(&path).unwrap();
        bytes[locs[2].offset as usize + RECORD_HEAD + 3] ^= 0xff; // flip a payload bit
        bytes.truncate(bytes.len() - 10); // tear the last record
        fs::write(&path, &bytes).unwrap();
        let (log, rec) = open(tmp.path());
        let seqs: Vec<u64> = rec.records.iter().map(|f| f.seq).collect();
        assert_eq!(seqs, vec![0, 1, 3]);
        assert_eq!(rec.problems.len(), 2, "{:?}", rec.problems);
        assert!(
            rec.problems[0].contains(&format!("{} offset {}", path.display(), locs[2].offset)),
            "{}",
            rec.problems[0]
        );
        assert!(rec.problems[1].contains("truncated"), "{}", rec.problems[1]);
        assert_eq!(log.read(3, rec.records[2].loc).unwrap(), vec![3; 40]);
        assert_eq!(rec.next_seq, 4);
    }

    #[test]
    fn an_unknown_format_version_is_reported_not_misread() {
        let tmp = tempfile::tempdir().unwrap();
        let (mut log, _) = open(tmp.path());
        log.append(0, b"x").unwrap();
        drop(log);
        let path = tmp.path().join(format!("{:020}.seg", 0));
        let mut bytes = fs::read(&path).unwrap();
        bytes[7] = 99;
        fs::write(&path, &bytes).unwrap();
        let (_, rec) = open(tmp.path());
        assert!(rec.records.is_empty());
        assert!(rec.problems[0].contains("version 99"), "{:?}", rec.problems);
    }

    #[test]
    fn a_folder_is_used_by_one_log_at_a_time() {
        let tmp = tempfile::tempdir().unwrap();
        let (first, _) = open(tmp.path());
        assert!(matches!(
            Log::open(tmp.path(), 200),
            Err(OpenError::Busy(_))
        ));
        drop(first);
        assert!(Log::open(tmp.path(), 200).is_ok());
    }
}
