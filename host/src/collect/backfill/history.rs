//! `/platform/1/statistics/history`: the request of one slice (keys split under
//! the request-target limit) and its answer turned into the very points the
//! live path makes.
//!
//! Each sample of a series is re-shaped into the `/statistics/current` entry
//! that a live cycle would have received at that time (`devid`, `node`, `key`,
//! `time`, `value`, the series' error) and the whole goes through the live
//! decoder, so a backfilled point is byte for byte the live point it stands for
//! (measurement, tags, fields, timestamp): InfluxDB keeps one of them, and the
//! decoding rules live in one place. It costs a second pass over a slice's JSON,
//! which backfill (background work on the decode pool) can afford.

use std::collections::BTreeMap;

use serde_json::{json, Map, Value};

use super::window::Window;
use crate::collect::decode::{self, Decoded};
use crate::onefs::{split_keys, MAX_TARGET_LEN};

/// OneFS' per-series error code for "no history available for statistic".
pub const NO_HISTORY: i64 = 7;

/// The request targets for `keys` over `w`, every node, with LNNs.
pub fn targets(keys: &[String], w: Window) -> Vec<String> {
    let base = format!(
        "/platform/1/statistics/history?degraded=true&devid=all&show_nodes=true&begin={}&end={}",
        w.begin, w.end
    );
    split_keys(&base, keys, MAX_TARGET_LEN)
}

/// One history answer, decoded.
#[derive(Debug, Default)]
pub struct Slice {
    /// The points and per-key problems, as the live decoder gives them.
    pub decoded: Decoded,
    /// Samples read (values, not points).
    pub samples: usize,
    /// Keys the cluster keeps no history of (error code 7).
    pub no_history: Vec<String>,
    /// Per key, the coarsest resolution (seconds) a series of it came at.
    pub resolution: BTreeMap<String, i64>,
}

/// Decodes a history answer: only samples inside `w` are kept.
pub fn decode(body: &[u8], w: Window, opts: &decode::Options) -> Result<Slice, String> {
    let v: Value = serde_json::from_slice(body).map_err(|e| format!("not JSON ({e})"))?;
    let Some(series) = v["stats"].as_array() else {
        return Err("the answer has no \"stats\" array".to_string());
    };
    let mut out = Slice::default();
    let mut entries = Vec::new();
    for s in series {
        let key = s["key"].as_str().unwrap_or_default();
        if s["error_code"].as_i64() == Some(NO_HISTORY) {
            if !out.no_history.iter().any(|k| k == key) {
                out.no_history.push(key.to_string());
            }
            continue;
        }
        if let Some(r) = s["resolution"].as_i64() {
            let e = out.resolution.entry(key.to_string()).or_insert(r);
            *e = (*e).max(r);
        }
        let mut base = Map::new();
        for name in ["devid", "node", "key", "error", "error_code"] {
            if let Some(x) = s.get(name) {
                base.insert(name.to_string(), x.clone());
            }
        }
        match s["values"].as_array() {
            Some(values) => {
                for sample in values {
                    let Some(t) = sample["time"].as_i64() else {
                        continue;
                    };
                    if t < w.begin || t > w.end {
                        continue;
                    }
                    out.samples += 1;
                    let mut e = base.clone();
                    e.insert("time".into(), t.into());
                    e.insert("value".into(), sample["value"].clone());
                    entries.push(Value::Object(e));
                }
            }
            // An errored series: one entry, so the decoder reports the problem.
            None => {
                let mut e = base;
                e.insert("time".into(), w.end.into());
                e.insert("value".into(), Value::Null);
                entries.push(Value::Object(e));
            }
        }
    }
    let body = json!({ "stats": entries }).to_string();
    out.decoded = decode::current(body.as_bytes(), opts).map_err(|e| e.to_string())?;
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn opts() -> decode::Options {
        decode::Options {
            cluster: "c1".into(),
            include_degraded: false,
            keys_seen: false,
        }
    }

    #[test]
    fn a_history_sample_decodes_to_the_live_point_of_its_time() {
        let live = br#"{"stats":[{"devid":3,"error":null,"error_code":null,"key":"node.load.1min","node":4,"time":1000,"value":1.5}]}"#;
        let history = br#"{"stats":[{"devid":3,"error":null,"error_code":null,"key":"node.load.1min","node":4,"resolution":5,
            "values":[{"time":995,"value":1.25},{"time":1000,"value":1.5},{"time":1005,"value":2}]}]}"#;
        let w = Window {
            begin: 996,
            end: 1004,
        };
        let s = decode(history, w, &opts()).unwrap();
        assert_eq!(s.samples, 1);
        assert_eq!(
            s.decoded.points,
            decode::current(live, &opts()).unwrap().points
        );
        assert_eq!(s.resolution.get("node.load.1min"), Some(&5));
    }

    #[test]
    fn keys_without_history_are_listed_and_give_no_point() {
        let history =
            br#"{"stats":[{"devid":0,"error":"No history available for statistic","error_code":7,
            "key":"cluster.protostats.nfs","resolution":0,"values":null}]}"#;
        let s = decode(history, Window { begin: 0, end: 10 }, &opts()).unwrap();
        assert_eq!(s.no_history, vec!["cluster.protostats.nfs".to_string()]);
        assert!(s.decoded.points.is_empty() && s.decoded.problems.is_empty());
    }

    #[test]
    fn targets_carry_the_window_and_every_key() {
        let keys = vec!["a.b".to_string(), "c.d".to_string()];
        let t = targets(&keys, Window { begin: 10, end: 20 });
        assert_eq!(t.len(), 1);
        assert!(t[0].contains("begin=10&end=20") && t[0].ends_with("&key=a.b&key=c.d"));
    }

    #[test]
    fn garbage_is_an_error() {
        assert!(decode(b"<html>", Window { begin: 0, end: 1 }, &opts()).is_err());
        assert!(decode(b"{}", Window { begin: 0, end: 1 }, &opts()).is_err());
    }
}
