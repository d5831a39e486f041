//! Summary answers (`/platform/3/statistics/summary/{protocol,client,drive}`):
//! which endpoint, which measurement, and exactly which tags and fields each row
//! gives. The shared rules (error bodies, numbers as floats) live in the parent.

use idic_plugin_api::{Field, Point, Row, Tag, Value};
use serde_json::Value as Json;

use super::{
    as_float, as_seconds, expect_array, json_kind, DecodeError, Decoded, Options, Problem,
};

/// Which summary endpoint an answer came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SummaryKind {
    /// `/platform/3/statistics/summary/protocol`: per node, protocol and operation.
    Protocol,
    /// `/platform/3/statistics/summary/client`: per client and operation class.
    Client,
    /// `/platform/3/statistics/summary/drive`: per drive.
    Drive,
}

/// Decodes a summary answer: each row becomes its own [`Point`] (measurement
/// [`SummaryKind::measurement`], time = the row's `time`) with exactly the tags and
/// fields the contract lists for that kind, in that order, `cluster` first. Absent
/// or null entries are left out; `time` is never a field; no `degraded` tag (gostats
/// adds none to summary points).
pub fn summary(kind: SummaryKind, body: &Json, opts: &Options) -> Result<Decoded, DecodeError> {
    let rows = expect_array(body, kind.answer_key())?;
    let mut out = Decoded::default();
    for (i, row) in rows.iter().enumerate() {
        match summary_point(kind, row, opts) {
            Ok(point) => out.points.push(point),
            Err(why) => out.problems.push(Problem::Unusable {
                key: kind.measurement().to_string(),
                devid: 0,
                why: format!("row {i}: {why}"),
            }),
        }
    }
    Ok(out)
}

impl SummaryKind {
    /// The measurement name: `node.summary.protocol`, `.client` or `.drive`.
    pub fn measurement(&self) -> &'static str {
        match self {
            SummaryKind::Protocol => "node.summary.protocol",
            SummaryKind::Client => "node.summary.client",
            SummaryKind::Drive => "node.summary.drive",
        }
    }

    /// The request path and query, e.g.
    /// `/platform/3/statistics/summary/protocol?degraded=true`.
    pub fn path(&self) -> &'static str {
        match self {
            SummaryKind::Protocol => "/platform/3/statistics/summary/protocol?degraded=true",
            SummaryKind::Client => "/platform/3/statistics/summary/client?degraded=true",
            SummaryKind::Drive => "/platform/3/statistics/summary/drive?degraded=true",
        }
    }

    /// The answer's array key: `protocol`, `client` or `drive`.
    pub fn answer_key(&self) -> &'static str {
        match self {
            SummaryKind::Protocol => "protocol",
            SummaryKind::Client => "client",
            SummaryKind::Drive => "drive",
        }
    }

    /// Tags after `cluster`, each with where it is read in a row.
    fn tags(&self) -> &'static [(&'static str, &'static [&'static str])] {
        match self {
            SummaryKind::Protocol => &[
                ("node", &["node"]),
                ("class", &["class"]),
                ("operation", &["operation"]),
                ("protocol", &["protocol"]),
            ],
            SummaryKind::Client => &[
                ("node", &["node"]),
                ("class", &["class"]),
                ("local_addr", &["local_addr"]),
                ("local_name", &["local_name"]),
                ("protocol", &["protocol"]),
                ("remote_addr", &["remote_addr"]),
                ("remote_name", &["remote_name"]),
                ("user_id", &["user", "id"]),
                ("user_name", &["user", "name"]),
                ("user_type", &["user", "type"]),
            ],
            SummaryKind::Drive => &[("drive_id", &["drive_id"]), ("type", &["type"])],
        }
    }

    /// Fields, in the contract's order.
    fn fields(&self) -> &'static [&'static str] {
        match self {
            SummaryKind::Protocol => &[
                "in",
                "in_avg",
                "in_max",
                "in_min",
                "in_standard_dev",
                "operation_count",
                "operation_rate",
                "out",
                "out_avg",
                "out_max",
                "out_min",
                "out_standard_dev",
                "time_avg",
                "time_max",
                "time_min",
                "time_standard_dev",
            ],
            SummaryKind::Client => &[
                "in",
                "in_avg",
                "in_max",
                "in_min",
                "num_operations",
                "operation_rate",
                "out",
                "out_avg",
                "out_max",
                "out_min",
                "time_avg",
                "time_max",
                "time_min",
            ],
            SummaryKind::Drive => &[
                "access_latency",
                "access_slow",
                "busy",
                "bytes_in",
                "bytes_out",
                "iosched_latency",
                "iosched_queue",
                "used_bytes_percent",
                "used_inodes",
                "xfer_size_in",
                "xfer_size_out",
                "xfers_in",
                "xfers_out",
            ],
        }
    }
}

/// One summary row as a point, or why it is unusable.
fn summary_point(kind: SummaryKind, row: &Json, opts: &Options) -> Result<Point, String> {
    if !row.is_object() {
        return Err(format!("{}, not an object", json_kind(row)));
    }
    let time = row.get("time").and_then(as_seconds).ok_or("no time")?;
    let mut tags = vec![Tag::new("cluster", &opts.cluster)];
    for (name, path) in kind.tags() {
        let value = path.iter().try_fold(row, |v, k| v.get(k));
        if let Some(text) = value.and_then(tag_text) {
            tags.push(Tag::new(name, &text));
        }
    }
    let fields: Vec<Field> = kind
        .fields()
        .iter()
        .filter_map(|name| {
            let x = row.get(name).and_then(as_float)?;
            Some(Field::new(name, Value::Float(x)))
        })
        .collect();
    if fields.is_empty() {
        return Err("no numeric fields".to_string());
    }
    Ok(Point {
        measurement: kind.measurement().into(),
        time,
        rows: vec![Row {
            tags: tags.into(),
            fields: fields.into(),
        }]
        .into(),
    })
}

/// A summary tag's text: strings as they are, integers without `.0`.
fn tag_text(value: &Json) -> Option<String> {
    match value {
        Json::String(s) => Some(s.clone()),
        Json::Number(n) => Some(match (n.as_i64(), n.as_u64()) {
            (Some(i), _) => i.to_string(),
            (None, Some(u)) => u.to_string(),
            _ => n.as_f64().map(|x| x.to_string()).unwrap_or_default(),
        }),
        Json::Bool(b) => Some(b.to_string()),
        _ => None,
    }
}
