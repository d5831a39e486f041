//! Turns OneFS statistics answers into [`Point`]s, exactly as the gostats contract
//! describes ("Turning answers into points" in the compatibility spec).
//!
//! Two answers are understood: `/platform/1/statistics/current` ([`current`]) and
//! `/platform/3/statistics/summary/{protocol,client,drive}` ([`summary`]). Both
//! read the body's bytes once, as a stream (`json.rs`, `envelope.rs`): each entry
//! or row becomes its point as the parser reaches it, and no JSON tree of the
//! answer is built. They return the points plus the per-key [`Problem`]s the
//! caller logs and acts on: one bad key never spoils the batch. Only a body that
//! is unusable as a whole is a [`DecodeError`].
//!
//! This module owns the shape of points (measurement, timestamp, tags, fields and
//! their order). It does no I/O and no logging, keeps no state between answers
//! ("warn once" and "stop asking" are the caller's memory), and knows nothing of
//! sinks or line protocol. An entry's `value` is flattened in `value.rs`; the
//! summary endpoints' tables are in `summary.rs`.
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
//! - A value's map keys are taken in alphabetical order, the last of repeated keys
//!   winning, whatever the answer's order: the order of tags and fields that
//!   idic has always produced.
//! - A repeated member of the envelope or an entry: the last one counts, as for
//!   any JSON object read into a map.

mod envelope;
mod json;
mod summary;
mod value;

use std::collections::BTreeSet;
use std::fmt;

use idic_plugin_api::{Field, Point, Row, Tag, Value};
use serde::de::{IgnoredAny, MapAccess, SeqAccess};

use envelope::Elements;
use json::{Expect, Scalar, Shape, Text};
use value::Item;

pub use summary::{summary, SummaryKind};

/// How to decode one cluster's answers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Options {
    /// The cluster's name for the `cluster` tag, already case-normalised.
    pub cluster: String,
    /// Add a `degraded` tag (`"true"`/`"false"`) to every point of a statistics
    /// answer (`[global] include_degraded`).
    pub include_degraded: bool,
    /// Fill [`Decoded::keys_seen`] (`-check-stat-return`); without it the set
    /// stays empty and costs nothing.
    pub keys_seen: bool,
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
    /// Every key present in a statistics answer, errors included, when
    /// [`Options::keys_seen`] asks for them (`-check-stat-return`); empty for
    /// summary answers, which carry no keys.
    pub keys_seen: BTreeSet<String>,
}

/// The whole body is unusable.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DecodeError {
    /// Not JSON at all (the parser's words, with the line and column).
    NotJson(String),
    /// JSON, but not an answer: not an object, no expected array, or OneFS'
    /// `{"errors":[...]}` answer (whose messages the text includes).
    Shape(String),
}

/// Decodes a `/platform/1/statistics/current` answer, straight from its bytes:
/// one [`Point`] per (key, devid) entry whose error code allows it, measurement =
/// key, time = the entry's `time`.
///
/// Tags: `cluster`; for node-scoped entries (devid != 0) `devid` and `node` (the LNN,
/// the devid when absent); then the value's own tags; `degraded` last when
/// [`Options::include_degraded`] is set. Every number is a [`Value::Float`].
pub fn current(body: &[u8], opts: &Options) -> Result<Decoded, DecodeError> {
    let mut out = Decoded::default();
    let entries = Entries {
        opts,
        out: &mut out,
        unavailable: BTreeSet::new(),
    };
    envelope::read(body, "stats", entries)?;
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
        match self {
            DecodeError::NotJson(e) => write!(f, "the answer is not valid JSON ({e})"),
            DecodeError::Shape(why) => f.write_str(why),
        }
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

/// The `stats` array's entries, each decoded into `out` as the parser reaches it.
struct Entries<'o> {
    opts: &'o Options,
    out: &'o mut Decoded,
    /// Keys already reported unavailable in this answer.
    unavailable: BTreeSet<String>,
}

impl<'de> Elements<'de> for Entries<'_> {
    fn reset(&mut self) {
        *self.out = Decoded::default();
        self.unavailable.clear();
    }

    fn next<A: SeqAccess<'de>>(&mut self, seq: &mut A) -> Result<bool, A::Error> {
        Ok(seq.next_element_seed(Expect(EntrySeed(self)))?.is_some())
    }
}

/// One `stats` entry's members, as far as they are read.
#[derive(Default)]
struct Entry<'de> {
    key: Option<Scalar<'de>>,
    devid: Option<Scalar<'de>>,
    node: Option<Scalar<'de>>,
    error_code: Option<Scalar<'de>>,
    error: Option<Scalar<'de>>,
    time: Option<Scalar<'de>>,
    value: Option<Item<'de>>,
}

/// Reads one entry and decodes it.
struct EntrySeed<'a, 'o>(&'a mut Entries<'o>);

impl<'de> Shape<'de> for EntrySeed<'_, '_> {
    type Out = ();

    fn object<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        let mut entry = Entry::default();
        while let Some(Text(name)) = map.next_key::<Text>()? {
            let slot = match &*name {
                "value" => {
                    entry.value = Some(map.next_value()?);
                    continue;
                }
                "key" => &mut entry.key,
                "devid" => &mut entry.devid,
                "node" => &mut entry.node,
                "error_code" => &mut entry.error_code,
                "error" => &mut entry.error,
                "time" => &mut entry.time,
                _ => {
                    map.next_value::<IgnoredAny>()?;
                    continue;
                }
            };
            *slot = Some(map.next_value()?);
        }
        let Entries {
            opts,
            out,
            unavailable,
        } = self.0;
        decode_entry(entry, opts, out, unavailable);
        Ok(())
    }

    fn other(self, value: Scalar<'de>) {
        self.0.out.problems.push(Problem::Unusable {
            key: String::new(),
            devid: 0,
            why: format!("entry is {}, not an object", value.kind()),
        });
    }
}

/// Decodes one `stats` entry into `out`.
fn decode_entry(
    entry: Entry<'_>,
    opts: &Options,
    out: &mut Decoded,
    unavailable: &mut BTreeSet<String>,
) {
    let key = entry.key.as_ref().and_then(Scalar::as_str).unwrap_or("");
    let devid = entry.devid.as_ref().and_then(Scalar::as_i64);
    let unusable = |why: String| Problem::Unusable {
        key: key.to_string(),
        devid: devid.unwrap_or(0),
        why,
    };
    if key.is_empty() {
        out.problems.push(unusable("entry has no key".to_string()));
        return;
    }
    if opts.keys_seen && !out.keys_seen.contains(key) {
        out.keys_seen.insert(key.to_string());
    }
    let Some(devid) = devid else {
        out.problems
            .push(unusable("entry has no integer devid".to_string()));
        return;
    };
    let code = match &entry.error_code {
        None | Some(Scalar::Null) => 0,
        Some(c) => match c.as_i64() {
            Some(c) => c,
            None => {
                out.problems
                    .push(unusable(format!("error_code {c} is not an integer")));
                return;
            }
        },
    };
    let error = || {
        entry
            .error
            .as_ref()
            .and_then(Scalar::as_str)
            .unwrap_or("")
            .to_string()
    };
    let degraded = match classify(code) {
        Status::Keep { degraded } => degraded,
        Status::Unavailable => {
            if unavailable.insert(key.to_string()) {
                out.problems.push(Problem::Unavailable {
                    key: key.to_string(),
                    code,
                    error: error(),
                });
            }
            return;
        }
        Status::Skip => {
            out.problems.push(Problem::Skipped {
                key: key.to_string(),
                devid,
                code,
                error: error(),
            });
            return;
        }
        Status::Unknown => {
            out.problems.push(Problem::UnknownCode {
                key: key.to_string(),
                devid,
                code,
                error: error(),
            });
            return;
        }
    };
    let Some(time) = entry.time.as_ref().and_then(Scalar::as_seconds) else {
        out.problems.push(unusable("entry has no time".to_string()));
        return;
    };
    let mut devid_text = itoa::Buffer::new();
    let mut node_text = itoa::Buffer::new();
    let mut base = [("cluster", opts.cluster.as_str()), ("", ""), ("", "")];
    let mut tagged = 1;
    if devid != 0 {
        let node = entry
            .node
            .as_ref()
            .and_then(Scalar::as_i64)
            .unwrap_or(devid);
        base[1] = ("devid", devid_text.format(devid));
        base[2] = ("node", node_text.format(node));
        tagged = 3;
    }
    let base = &base[..tagged];
    let degraded = opts
        .include_degraded
        .then_some(if degraded { "true" } else { "false" });
    // Most entries are one number: their row is made without drafts.
    if let Some(Item::Number(x)) = entry.value {
        out.points.push(Point {
            measurement: key.into(),
            time,
            rows: vec![scalar_row(base, degraded, x)].into(),
        });
        return;
    }
    let drafts = match value::flatten_top(entry.value) {
        Ok(drafts) => drafts,
        Err(why) => {
            out.problems.push(unusable(why));
            return;
        }
    };
    let mut rows = Vec::with_capacity(drafts.len());
    let mut fieldless = false;
    let mut tags: Vec<(&str, &str)> = Vec::with_capacity(base.len() + 4);
    for draft in &drafts {
        if draft.fields.is_empty() {
            fieldless = true;
            continue;
        }
        tags.clear();
        tags.extend_from_slice(base);
        for (k, v) in &draft.tags {
            value::set(&mut tags, k, v);
        }
        if let Some(d) = degraded {
            value::set(&mut tags, "degraded", d);
        }
        let dropped = tags
            .iter()
            .any(|(k, v)| *k == "op_name" && DROPPED_OPS.contains(v));
        if !dropped {
            rows.push(Row {
                tags: tags.iter().map(|(k, v)| Tag::new(k, v)).collect(),
                fields: draft
                    .fields
                    .iter()
                    .map(|(k, x)| Field::new(k, Value::Float(*x)))
                    .collect(),
            });
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

/// The row of an entry whose value is one number: the base tags, `degraded`
/// when asked for, and the field `value` (what flattening the number makes).
fn scalar_row(base: &[(&str, &str)], degraded: Option<&str>, x: f64) -> Row {
    let mut tags = Vec::with_capacity(base.len() + usize::from(degraded.is_some()));
    tags.extend(base.iter().map(|(k, v)| Tag::new(k, v)));
    if let Some(d) = degraded {
        tags.push(Tag::new("degraded", d));
    }
    Row {
        tags: tags.into(),
        fields: vec![Field::new("value", Value::Float(x))].into(),
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

#[cfg(test)]
mod tests;
