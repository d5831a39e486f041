//! Turns OneFS statistics answers into [`Point`]s, exactly as the gostats contract
//! describes ("Turning answers into points" in the compatibility spec).
//!
//! Two answers are understood: `/platform/1/statistics/current` ([`current`]) and
//! `/platform/3/statistics/summary/{protocol,client,drive}` ([`summary`]). Both take
//! the body already parsed as JSON and return the points plus the per-key
//! [`Problem`]s the caller logs and acts on: one bad key never spoils the batch.
//! Only a body that is unusable as a whole is a [`DecodeError`].
//!
//! This module owns the shape of points (measurement, timestamp, tags, fields and
//! their order). It does no I/O and no logging, keeps no state between answers
//! ("warn once" and "stop asking" are the caller's memory), and knows nothing of
//! sinks or line protocol. The summary endpoints' tables are in `summary.rs`.
//!
//! Decisions where gostats is silent or crashes:
//! - Booleans become float fields, `1.0` for true and `0.0` for false, wherever a
//!   number could stand (gostats panics on them). Nulls inside maps and lists are
//!   skipped; a null value at the top is unusable.
//! - A nested map is merged into its parent (its keys unprefixed, as gostats does).
//!   Several nested lists in one map add their rows one after the other, each merged
//!   over the map's own tags and fields; an empty nested list leaves no row.
//! - A number directly inside a list is a row with one field `value`; a string
//!   directly inside a list (no name to tag it with) makes the stat unusable.
//! - A number named `time` inside a value is dropped (`time` is never a field). A
//!   row left without fields is dropped; a value whose rows all lack fields (only
//!   strings) is unusable, while one whose rows were all `change_notify` or which
//!   is an empty list simply yields no point.
//! - Map keys come in the order the parsed map yields them: serde_json is built
//!   without `preserve_order` here, so that order is alphabetical.

mod summary;

use std::collections::BTreeSet;
use std::fmt;

use idic_plugin_api::{Field, Point, Row, Tag, Value};
use serde_json::{Map, Value as Json};

pub use summary::{summary, SummaryKind};

/// How to decode one cluster's answers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Options {
    /// The cluster's name for the `cluster` tag, already case-normalised.
    pub cluster: String,
    /// Add a `degraded` tag (`"true"`/`"false"`) to every point of a statistics
    /// answer (`[global] include_degraded`).
    pub include_degraded: bool,
}

/// What went wrong with one key of an answer: the caller logs it and acts on it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Problem {
    /// error_code 1 not present, 2 not implemented, 9 not configured, 10 no data:
    /// warn once, stop asking for the key on this cluster. Reported once per key and
    /// answer, whichever node said it first.
    Unavailable {
        /// The statistics key.
        key: String,
        /// OneFS' error code.
        code: i64,
        /// OneFS' error text (empty when it gave none).
        error: String,
    },
    /// error_code 4 stale, 5 connection timeout, 6 timeout, 7 no history, 8 system:
    /// skip this time with a warning.
    Skipped {
        /// The statistics key.
        key: String,
        /// The node's devid (0 for a cluster-scoped key).
        devid: i64,
        /// OneFS' error code.
        code: i64,
        /// OneFS' error text (empty when it gave none).
        error: String,
    },
    /// Any other error code: skip with an error.
    UnknownCode {
        /// The statistics key.
        key: String,
        /// The node's devid (0 for a cluster-scoped key).
        devid: i64,
        /// OneFS' error code.
        code: i64,
        /// OneFS' error text (empty when it gave none).
        error: String,
    },
    /// A value that cannot become fields (a string or null at the top, an entry
    /// missing `time`, a summary row without numbers, ...): log and skip that stat;
    /// the rest of the batch goes on (gostats aborts the batch, a bug not copied).
    Unusable {
        /// The statistics key (the measurement for a summary row; empty when the
        /// entry carried no key).
        key: String,
        /// The node's devid (0 for a cluster-scoped key or a summary row).
        devid: i64,
        /// Why, for the operator.
        why: String,
    },
}

/// The outcome of decoding one answer: points and per-key problems.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Decoded {
    /// The points, in answer order; every point has at least one row.
    pub points: Vec<Point>,
    /// What went wrong with individual keys, in answer order.
    pub problems: Vec<Problem>,
    /// Every key present in a statistics answer, errors included (for
    /// `-check-stat-return`); empty for summary answers, which carry no keys.
    pub keys_seen: BTreeSet<String>,
}

/// The whole body is unusable: not an object, no expected array, or OneFS'
/// `{"errors":[...]}` answer (whose messages the text includes).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DecodeError(pub String);

/// Decodes a `/platform/1/statistics/current` answer: one [`Point`] per (key, devid)
/// entry whose error code allows it, measurement = key, time = the entry's `time`.
///
/// Tags: `cluster`; for node-scoped entries (devid != 0) `devid` and `node` (the LNN,
/// the devid when absent); then the value's own tags; `degraded` last when
/// [`Options::include_degraded`] is set. Every number is a [`Value::Float`].
pub fn current(body: &Json, opts: &Options) -> Result<Decoded, DecodeError> {
    let stats = expect_array(body, "stats")?;
    let mut out = Decoded::default();
    let mut unavailable = BTreeSet::new();
    for entry in stats {
        decode_entry(entry, opts, &mut out, &mut unavailable);
    }
    Ok(out)
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Problem::Unavailable { key, code, error } => {
                write!(f, "stat {key} is unavailable (error {code}: {error})")
            }
            Problem::Skipped {
                key,
                devid,
                code,
                error,
            } => write!(
                f,
                "stat {key} devid {devid} skipped this time (error {code}: {error})"
            ),
            Problem::UnknownCode {
                key,
                devid,
                code,
                error,
            } => write!(
                f,
                "stat {key} devid {devid} has unknown error code {code}: {error}"
            ),
            Problem::Unusable { key, devid, why } => {
                write!(f, "stat {key} devid {devid} is unusable: {why}")
            }
        }
    }
}

impl fmt::Display for DecodeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for DecodeError {}

/// Rows whose `op_name` tag is one of these are dropped: their latencies are
/// meaningless.
const DROPPED_OPS: [&str; 2] = ["change_notify", "read_directory_change"];

/// What an entry's `error_code` asks for.
enum Status {
    /// 0 or null: keep; 3: keep, degraded.
    Keep { degraded: bool },
    /// 1, 2, 9, 10.
    Unavailable,
    /// 4 to 8.
    Skip,
    /// Anything else.
    Unknown,
}

/// A row being built: tags and fields in insertion order, a repeated key
/// replacing the earlier value in place.
#[derive(Debug, Clone, Default)]
struct Draft {
    tags: Vec<(String, String)>,
    fields: Vec<(String, f64)>,
}

/// The body's `key` array, or why the body is unusable.
fn expect_array<'a>(body: &'a Json, key: &str) -> Result<&'a Vec<Json>, DecodeError> {
    let Some(obj) = body.as_object() else {
        return Err(DecodeError(format!(
            "answer is {}, not a json object",
            json_kind(body)
        )));
    };
    if let Some(errors) = obj.get("errors") {
        return Err(DecodeError(format!(
            "onefs answered with errors: {}",
            error_messages(errors)
        )));
    }
    obj.get(key)
        .and_then(Json::as_array)
        .ok_or_else(|| DecodeError(format!("answer has no {key:?} array")))
}

/// OneFS' `errors` list as `message (code); ...`.
fn error_messages(errors: &Json) -> String {
    let Some(list) = errors.as_array().filter(|l| !l.is_empty()) else {
        return errors.to_string();
    };
    list.iter()
        .map(|e| {
            let message = e.get("message").and_then(Json::as_str);
            let code = e.get("code").and_then(Json::as_str);
            match (message, code) {
                (Some(m), Some(c)) => format!("{m} ({c})"),
                (Some(m), None) => m.to_string(),
                _ => e.to_string(),
            }
        })
        .collect::<Vec<_>>()
        .join("; ")
}

/// Decodes one `stats` entry into `out`.
fn decode_entry(
    entry: &Json,
    opts: &Options,
    out: &mut Decoded,
    unavailable: &mut BTreeSet<String>,
) {
    let key = entry.get("key").and_then(Json::as_str).unwrap_or("");
    let devid = entry.get("devid").and_then(Json::as_i64);
    let unusable = |why: String| Problem::Unusable {
        key: key.to_string(),
        devid: devid.unwrap_or(0),
        why,
    };
    if !entry.is_object() {
        out.problems.push(unusable(format!(
            "entry is {}, not an object",
            json_kind(entry)
        )));
        return;
    }
    if key.is_empty() {
        out.problems.push(unusable("entry has no key".to_string()));
        return;
    }
    out.keys_seen.insert(key.to_string());
    let Some(devid) = devid else {
        out.problems
            .push(unusable("entry has no integer devid".to_string()));
        return;
    };
    let code = match entry.get("error_code") {
        None | Some(Json::Null) => 0,
        Some(c) => match c.as_i64() {
            Some(c) => c,
            None => {
                out.problems
                    .push(unusable(format!("error_code {c} is not an integer")));
                return;
            }
        },
    };
    let error = entry
        .get("error")
        .and_then(Json::as_str)
        .unwrap_or("")
        .to_string();
    let degraded = match classify(code) {
        Status::Keep { degraded } => degraded,
        Status::Unavailable => {
            if unavailable.insert(key.to_string()) {
                out.problems.push(Problem::Unavailable {
                    key: key.to_string(),
                    code,
                    error,
                });
            }
            return;
        }
        Status::Skip => {
            out.problems.push(Problem::Skipped {
                key: key.to_string(),
                devid,
                code,
                error,
            });
            return;
        }
        Status::Unknown => {
            out.problems.push(Problem::UnknownCode {
                key: key.to_string(),
                devid,
                code,
                error,
            });
            return;
        }
    };
    let Some(time) = entry.get("time").and_then(as_seconds) else {
        out.problems.push(unusable("entry has no time".to_string()));
        return;
    };
    let drafts = match flatten_top(entry.get("value").unwrap_or(&Json::Null)) {
        Ok(drafts) => drafts,
        Err(why) => {
            out.problems.push(unusable(why));
            return;
        }
    };

    let mut base = Draft::default();
    base.tag("cluster", &opts.cluster);
    if devid != 0 {
        let node = entry.get("node").and_then(Json::as_i64).unwrap_or(devid);
        base.tag("devid", &devid.to_string());
        base.tag("node", &node.to_string());
    }
    let mut rows = Vec::new();
    let mut fieldless = false;
    for draft in drafts {
        let mut row = base.clone();
        row.merge(draft);
        if opts.include_degraded {
            row.tag("degraded", if degraded { "true" } else { "false" });
        }
        if row.fields.is_empty() {
            fieldless = true;
        } else if !row.is_dropped_op() {
            rows.push(row.into_row());
        }
    }
    if !rows.is_empty() {
        out.points.push(Point {
            measurement: key.into(),
            time,
            rows: rows.into(),
        });
    } else if fieldless {
        out.problems
            .push(unusable("value holds no numbers".to_string()));
    }
}

/// Maps an error code to what to do with the entry.
fn classify(code: i64) -> Status {
    match code {
        0 => Status::Keep { degraded: false },
        3 => Status::Keep { degraded: true },
        1 | 2 | 9 | 10 => Status::Unavailable,
        4..=8 => Status::Skip,
        _ => Status::Unknown,
    }
}

/// Flattens an entry's `value` into drafts (tags and fields relative to the base).
fn flatten_top(value: &Json) -> Result<Vec<Draft>, String> {
    match value {
        Json::Number(_) | Json::Bool(_) => Ok(vec![Draft::scalar(value)]),
        Json::String(s) => Err(format!("value is a string ({}), not a number", clip(s))),
        Json::Null => Err("value is null".to_string()),
        Json::Array(items) => flatten_list(items),
        Json::Object(map) => flatten_map(map),
    }
}

/// One draft per element (several for an element that is a map with lists).
fn flatten_list(items: &[Json]) -> Result<Vec<Draft>, String> {
    let mut drafts = Vec::new();
    for item in items {
        match item {
            Json::Null => {}
            Json::Number(_) | Json::Bool(_) => drafts.push(Draft::scalar(item)),
            Json::String(s) => {
                return Err(format!("a list holds a string ({}) with no name", clip(s)))
            }
            Json::Array(inner) => drafts.extend(flatten_list(inner)?),
            Json::Object(map) => drafts.extend(flatten_map(map)?),
        }
    }
    Ok(drafts)
}

/// A map's own tags and fields, each row of its nested lists merged over them.
fn flatten_map(map: &Map<String, Json>) -> Result<Vec<Draft>, String> {
    let (own, nested) = split_map(map)?;
    Ok(match nested {
        None => vec![own],
        Some(rows) => rows
            .into_iter()
            .map(|row| {
                let mut merged = own.clone();
                merged.merge(row);
                merged
            })
            .collect(),
    })
}

/// A map's scalars (nested maps merged in) and, if it holds lists, their rows.
fn split_map(map: &Map<String, Json>) -> Result<(Draft, Option<Vec<Draft>>), String> {
    let mut own = Draft::default();
    let mut nested: Option<Vec<Draft>> = None;
    for (key, value) in map {
        match value {
            Json::Null => {}
            Json::Number(_) | Json::Bool(_) => {
                if let Some(x) = as_float(value) {
                    own.field(key, x);
                }
            }
            Json::String(s) => own.tag(key, s),
            Json::Array(items) => nested
                .get_or_insert_with(Vec::new)
                .extend(flatten_list(items)?),
            Json::Object(inner) => {
                let (inner_own, inner_nested) = split_map(inner)?;
                own.merge(inner_own);
                if let Some(rows) = inner_nested {
                    nested.get_or_insert_with(Vec::new).extend(rows);
                }
            }
        }
    }
    Ok((own, nested))
}

impl Draft {
    /// A row with the single field `value`.
    fn scalar(value: &Json) -> Draft {
        let mut draft = Draft::default();
        if let Some(x) = as_float(value) {
            draft.field("value", x);
        }
        draft
    }

    fn tag(&mut self, key: &str, value: &str) {
        match self.tags.iter_mut().find(|(k, _)| k == key) {
            Some(slot) => slot.1 = value.to_string(),
            None => self.tags.push((key.to_string(), value.to_string())),
        }
    }

    /// Sets a field; `time` is never a field (it is the point's timestamp).
    fn field(&mut self, key: &str, value: f64) {
        if key == "time" {
            return;
        }
        match self.fields.iter_mut().find(|(k, _)| k == key) {
            Some(slot) => slot.1 = value,
            None => self.fields.push((key.to_string(), value)),
        }
    }

    /// Sets every tag and field of `other` over this draft's.
    fn merge(&mut self, other: Draft) {
        for (k, v) in other.tags {
            self.tag(&k, &v);
        }
        for (k, v) in other.fields {
            self.field(&k, v);
        }
    }

    fn is_dropped_op(&self) -> bool {
        self.tags
            .iter()
            .any(|(k, v)| k == "op_name" && DROPPED_OPS.contains(&v.as_str()))
    }

    fn into_row(self) -> Row {
        Row {
            tags: self.tags.iter().map(|(k, v)| Tag::new(k, v)).collect(),
            fields: self
                .fields
                .iter()
                .map(|(k, v)| Field::new(k, Value::Float(*v)))
                .collect(),
        }
    }
}

/// A number or boolean as a float (booleans: 1.0 / 0.0).
fn as_float(value: &Json) -> Option<f64> {
    match value {
        Json::Number(n) => n.as_f64(),
        Json::Bool(b) => Some(if *b { 1.0 } else { 0.0 }),
        _ => None,
    }
}

/// A Unix time in seconds (an integer, or a float truncated).
fn as_seconds(value: &Json) -> Option<i64> {
    value
        .as_i64()
        .or_else(|| value.as_f64().filter(|x| x.is_finite()).map(|x| x as i64))
}

/// What kind of JSON value this is, for messages.
fn json_kind(value: &Json) -> &'static str {
    match value {
        Json::Null => "null",
        Json::Bool(_) => "a boolean",
        Json::Number(_) => "a number",
        Json::String(_) => "a string",
        Json::Array(_) => "an array",
        Json::Object(_) => "an object",
    }
}

/// A string quoted and cut to a length fit for a log line.
fn clip(s: &str) -> String {
    const MAX: usize = 60;
    match s.char_indices().nth(MAX) {
        Some((at, _)) => format!("{:?}...", &s[..at]),
        None => format!("{s:?}"),
    }
}

#[cfg(test)]
mod tests;
