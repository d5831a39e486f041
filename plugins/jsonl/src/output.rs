//! The file (or standard output) that sinks write to: the plugin's only I/O.
//!
//! Several clusters' sinks in one process may share a path. They share one
//! [`Output`]: the path is opened once (in append mode, so that another process
//! appending to the same file cannot overwrite lines either), and each batch goes
//! out in a single `write_all` under the output's lock, so lines never interleave.
//! The handle is closed when the last sink using it is dropped.

use std::collections::{HashMap, HashSet};
use std::fs::{File, OpenOptions};
use std::io::{self, Write};
use std::path::PathBuf;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError, Weak};

/// A shared destination for lines.
pub struct Output {
    /// The path as the operator wrote it (`-` for standard output), for messages.
    name: String,
    target: Mutex<Target>,
}

/// Where the bytes go.
enum Target {
    Stdout,
    File(File),
}

/// Every open output in the process, and the files already emptied once.
#[derive(Default)]
struct Registry {
    open: HashMap<PathBuf, Weak<Output>>,
    truncated: HashSet<PathBuf>,
}

/// The output for `path` (`-` = standard output), shared with every other sink of
/// this process that writes there. With `append == false` a file is emptied the
/// first time this process opens it, never again.
pub fn open(path: &str, append: bool) -> io::Result<Arc<Output>> {
    static REGISTRY: Mutex<Option<Registry>> = Mutex::new(None);
    let mut guard = lock(&REGISTRY);
    let registry = guard.get_or_insert_with(Registry::default);
    let key = if path == "-" {
        PathBuf::from("-")
    } else {
        std::path::absolute(path)?
    };
    if let Some(output) = registry.open.get(&key).and_then(Weak::upgrade) {
        return Ok(output);
    }
    let target = if path == "-" {
        Target::Stdout
    } else {
        let file = OpenOptions::new().append(true).create(true).open(&key)?;
        if !append && registry.truncated.insert(key.clone()) {
            file.set_len(0)?;
        }
        Target::File(file)
    };
    let output = Arc::new(Output {
        name: path.to_string(),
        target: Mutex::new(target),
    });
    registry.open.retain(|_, weak| weak.strong_count() > 0);
    registry.open.insert(key, Arc::downgrade(&output));
    Ok(output)
}

/// Whether `path` can be opened for writing (for `idic doctor`), without
/// leaving a file behind that was not there; returns how to name it.
pub fn writable(path: &str) -> io::Result<String> {
    if path == "-" {
        return Ok("standard output".to_string());
    }
    let existed = std::path::Path::new(path).exists();
    OpenOptions::new().append(true).create(true).open(path)?;
    if !existed {
        let _ = std::fs::remove_file(path);
    }
    Ok(path.to_string())
}

impl Output {
    /// The path as configured (`-` for standard output).
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Writes whole lines in one call, under the lock; standard output is flushed.
    pub fn write_lines(&self, bytes: &[u8]) -> io::Result<()> {
        match &mut *lock(&self.target) {
            Target::Stdout => {
                let mut stdout = io::stdout().lock();
                stdout.write_all(bytes)?;
                stdout.flush()
            }
            Target::File(file) => file.write_all(bytes),
        }
    }

    /// Pushes out anything buffered (files are written unbuffered: nothing to do).
    pub fn flush(&self) -> io::Result<()> {
        match &mut *lock(&self.target) {
            Target::Stdout => io::stdout().lock().flush(),
            Target::File(_) => Ok(()),
        }
    }
}

/// Locks `mutex`, going on after a panic elsewhere: lines are written whole or
/// fail, so no half-done state can be observed through the lock.
fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn path_in(dir: &tempfile::TempDir, name: &str) -> String {
        dir.path().join(name).to_str().unwrap().to_string()
    }

    #[test]
    fn sinks_on_one_path_share_one_output() {
        let dir = tempfile::tempdir().unwrap();
        let path = path_in(&dir, "shared.jsonl");
        let a = open(&path, true).unwrap();
        let b = open(&path, true).unwrap();
        assert!(Arc::ptr_eq(&a, &b));
    }

    #[test]
    fn lines_from_many_threads_never_interleave() {
        let dir = tempfile::tempdir().unwrap();
        let path = path_in(&dir, "threads.jsonl");
        let threads: Vec<_> = (0..4)
            .map(|t| {
                let output = open(&path, true).unwrap();
                std::thread::spawn(move || {
                    for batch in 0..100 {
                        let lines: String = (0..10)
                            .map(|i| {
                                format!(
                                    "{{\"t\":{t},\"b\":{batch},\"i\":{i},\"pad\":\"{}\"}}\n",
                                    "x".repeat(200)
                                )
                            })
                            .collect();
                        output.write_lines(lines.as_bytes()).unwrap();
                    }
                })
            })
            .collect();
        for t in threads {
            t.join().unwrap();
        }
        let text = std::fs::read_to_string(&path).unwrap();
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines.len(), 4 * 100 * 10);
        for line in lines {
            let v: serde_json::Value = serde_json::from_str(line).expect(line);
            assert_eq!(v["pad"].as_str().map(str::len), Some(200));
        }
    }

    #[test]
    fn append_false_empties_the_file_only_on_the_first_open() {
        let dir = tempfile::tempdir().unwrap();
        let path = path_in(&dir, "fresh.jsonl");
        std::fs::write(&path, "old\n").unwrap();
        let first = open(&path, false).unwrap();
        first.write_lines(b"one\n").unwrap();
        drop(first);
        let again = open(&path, false).unwrap();
        again.write_lines(b"two\n").unwrap();
        assert_eq!(std::fs::read_to_string(&path).unwrap(), "one\ntwo\n");
    }

    #[test]
    fn append_true_keeps_what_the_file_holds() {
        let dir = tempfile::tempdir().unwrap();
        let path = path_in(&dir, "kept.jsonl");
        std::fs::write(&path, "old\n").unwrap();
        open(&path, true).unwrap().write_lines(b"new\n").unwrap();
        assert_eq!(std::fs::read_to_string(&path).unwrap(), "old\nnew\n");
    }

    #[test]
    fn missing_folder_is_an_os_error() {
        let dir = tempfile::tempdir().unwrap();
        let path = path_in(&dir, "no/such/folder/out.jsonl");
        let err = open(&path, true).err().expect("cannot open");
        assert_eq!(err.kind(), io::ErrorKind::NotFound);
    }
}
