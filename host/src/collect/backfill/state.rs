//! What backfill remembers of one cluster across restarts and reloads, in
//! `<state_dir>/backfill/<GUID>.json`: per key the time of the last point
//! accepted for delivery, and the gaps still being filled with how far each got.
//!
//! The file is rewritten whole (a temporary file renamed over it) after every
//! change: a crash leaves the old or the new file, never a torn one. It is not
//! fsynced: after a power loss a slightly older file means a few samples
//! fetched twice, which a time-series store keeps once. A file that cannot be
//! read is logged and started afresh (backfill then waits for the next gap).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde_json::{json, Value};

use super::window::Window;

/// The file's format version.
const VERSION: u64 = 1;

/// A gap being filled: keys of one interval and what is left of their window.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pending {
    /// The keys (all sampled every `interval`).
    pub keys: Vec<String>,
    /// Their interval in seconds.
    pub interval: i64,
    /// The whole window to fill.
    pub window: Window,
    /// The first second not fetched yet.
    pub next: i64,
}

/// The state of one cluster.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct State {
    /// Per key, the time of the last point accepted for delivery.
    pub last: BTreeMap<String, i64>,
    /// The gaps still being filled, oldest first.
    pub pending: Vec<Pending>,
}

/// Where a cluster's state lives: `<state_dir>/backfill/<guid>.json`.
pub fn path(state_dir: &Path, guid: &str) -> PathBuf {
    let name: String = guid
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' {
                c
            } else {
                '_'
            }
        })
        .collect();
    state_dir.join("backfill").join(format!("{name}.json"))
}

impl State {
    /// The state as JSON text.
    pub fn to_json(&self, guid: &str) -> String {
        let pending: Vec<Value> = self
            .pending
            .iter()
            .map(|p| {
                json!({"keys": p.keys, "interval": p.interval, "begin": p.window.begin,
                       "end": p.window.end, "next": p.next})
            })
            .collect();
        json!({"version": VERSION, "guid": guid, "last": self.last, "pending": pending}).to_string()
    }

    /// Reads the JSON text of [`State::to_json`]; `Err` says why not.
    pub fn from_json(text: &str) -> Result<State, String> {
        let v: Value = serde_json::from_str(text).map_err(|e| e.to_string())?;
        if v["version"].as_u64() != Some(VERSION) {
            return Err(format!("unknown format version {}", v["version"]));
        }
        let mut state = State::default();
        for (key, t) in v["last"].as_object().into_iter().flatten() {
            let t = t
                .as_i64()
                .ok_or_else(|| format!("last time of {key} is no integer"))?;
            state.last.insert(key.clone(), t);
        }
        for p in v["pending"].as_array().into_iter().flatten() {
            let int = |name: &str| {
                p[name]
                    .as_i64()
                    .ok_or_else(|| format!("a pending gap's {name} is no integer"))
            };
            let keys = p["keys"]
                .as_array()
                .ok_or("a pending gap has no keys")?
                .iter()
                .filter_map(|k| k.as_str().map(str::to_string))
                .collect();
            state.pending.push(Pending {
                keys,
                interval: int("interval")?,
                window: Window {
                    begin: int("begin")?,
                    end: int("end")?,
                },
                next: int("next")?,
            });
        }
        Ok(state)
    }

    /// Reads the file; a missing file is an empty state, an unreadable one an
    /// error naming the file.
    pub fn load(file: &Path) -> Result<State, String> {
        match std::fs::read_to_string(file) {
            Ok(text) => State::from_json(&text).map_err(|e| format!("{}: {e}", file.display())),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(State::default()),
            Err(e) => Err(format!("{}: {e}", file.display())),
        }
    }

    /// Writes the file (through a temporary file renamed over it).
    pub fn save(&self, file: &Path, guid: &str) -> std::io::Result<()> {
        if let Some(dir) = file.parent() {
            std::fs::create_dir_all(dir)?;
        }
        let tmp = file.with_extension("json.tmp");
        std::fs::write(&tmp, self.to_json(guid))?;
        std::fs::rename(&tmp, file)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> State {
        let mut s = State::default();
        s.last.insert("cluster.cpu.user.avg".into(), 1_750_000_005);
        s.pending.push(Pending {
            keys: vec!["node.load.1min".into(), "node.load.5min".into()],
            interval: 5,
            window: Window {
                begin: 1_749_999_001,
                end: 1_750_000_004,
            },
            next: 1_749_999_301,
        });
        s
    }

    #[test]
    fn the_state_survives_a_round_trip_through_its_file() {
        let dir = tempfile::tempdir().unwrap();
        let file = path(dir.path(), "0123abcd");
        assert_eq!(State::load(&file).unwrap(), State::default());
        sample().save(&file, "0123abcd").unwrap();
        assert_eq!(State::load(&file).unwrap(), sample());
        assert!(file.ends_with("backfill/0123abcd.json"));
    }

    #[test]
    fn a_damaged_file_is_an_error_naming_it() {
        let dir = tempfile::tempdir().unwrap();
        let file = path(dir.path(), "g");
        std::fs::create_dir_all(file.parent().unwrap()).unwrap();
        std::fs::write(&file, "{\"version\": 1, \"last\": {\"k\": \"x\"}}").unwrap();
        let e = State::load(&file).unwrap_err();
        assert!(e.contains("g.json") && e.contains("last time of k"), "{e}");
        std::fs::write(&file, "{\"version\": 9}").unwrap();
        assert!(State::load(&file).unwrap_err().contains("version 9"));
    }

    #[test]
    fn guids_become_safe_file_names() {
        assert!(path(Path::new("/s"), "../x").ends_with("backfill/___x.json"));
    }
}
