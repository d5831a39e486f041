//! Summary statistics from `onefs-sim` as the host hands them to a sink: each
//! row of `expected_summary` becomes one point with the tags and fields the
//! contract lists (`host/src/collect/decode/summary.rs` does the same for real
//! answers), so benchmarks, examples and tests load the plugin with the
//! simulator's exact rows without running the collector.

#![allow(dead_code)]

use idic_plugin_api::{Field, Point, Row, StatInfo, Tag, Value};
use onefs_sim::SummaryKind;
use serde_json::Value as Json;

/// The three kinds, in the order the host collects them.
pub const KINDS: [SummaryKind; 3] = [
    SummaryKind::Protocol,
    SummaryKind::Client,
    SummaryKind::Drive,
];

/// The measurement of a kind: `node.summary.protocol`, ...
pub fn measurement(kind: SummaryKind) -> &'static str {
    match kind {
        SummaryKind::Protocol => "node.summary.protocol",
        SummaryKind::Client => "node.summary.client",
        SummaryKind::Drive => "node.summary.drive",
    }
}

/// Tags after `cluster`, each with where it is read in a row.
pub fn tags(kind: SummaryKind) -> &'static [(&'static str, &'static [&'static str])] {
    match kind {
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
pub fn fields(kind: SummaryKind) -> &'static [&'static str] {
    match kind {
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

/// The metadata of the three summary keys, with `interval` seconds.
pub fn stats(interval: u64) -> Vec<StatInfo> {
    KINDS
        .iter()
        .map(|&kind| StatInfo {
            key: measurement(kind).into(),
            description: format!("OneFS {} summary statistics", kind.name()).into(),
            units: "".into(),
            update_interval: interval,
        })
        .collect()
}

/// A row's tags as (name, text) pairs: `cluster` first, then the kind's tags
/// present in the row (strings as they are, numbers without `.0`).
pub fn row_tags(kind: SummaryKind, cluster: &str, row: &Json) -> Vec<(String, String)> {
    let mut out = vec![("cluster".to_string(), cluster.to_string())];
    for (name, path) in tags(kind) {
        let value = path.iter().try_fold(row, |v, k| v.get(k));
        let text = match value {
            Some(Json::String(s)) => s.clone(),
            Some(Json::Number(n)) => n.to_string(),
            _ => continue,
        };
        out.push((name.to_string(), text));
    }
    out
}

/// The points of `rows` (one per row, at the row's `time`).
pub fn points(kind: SummaryKind, cluster: &str, rows: &[Json]) -> Vec<Point> {
    rows.iter()
        .map(|row| {
            let tags: Vec<Tag> = row_tags(kind, cluster, row)
                .iter()
                .map(|(k, v)| Tag::new(k, v))
                .collect();
            let fields: Vec<Field> = fields(kind)
                .iter()
                .filter_map(|name| {
                    let x = row.get(name)?.as_f64()?;
                    Some(Field::new(name, Value::Float(x)))
                })
                .collect();
            Point {
                measurement: measurement(kind).into(),
                time: row["time"].as_i64().expect("a summary row has a time"),
                rows: vec![Row {
                    tags: tags.into(),
                    fields: fields.into(),
                }]
                .into(),
            }
        })
        .collect()
}
