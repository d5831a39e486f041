//! Synthetic input for the benchmarks: batches shaped like per-node protocol
//! statistics (labels cluster, devid, node, class_name, op_name; five fields per
//! row), so that names, labels and line lengths are those of real scrapes.

#![allow(dead_code)]

use idic_plugin_api::{Field, Point, Row, StatInfo, Tag, Value};

pub mod summary;

/// Keys per node.
pub const KEYS: usize = 10;
/// Operations (rows) per key.
pub const OPS: usize = 20;
/// Fields per row (each its own series).
pub const FIELDS: [&str; 5] = ["op_count", "op_rate", "in_rate", "out_rate", "time_avg"];

/// The number of nodes that gives `series` series.
pub fn nodes_for(series: usize) -> usize {
    series.div_ceil(KEYS * OPS * FIELDS.len())
}

/// The metadata of the synthetic keys (interval 3600 s: nothing expires).
pub fn stats() -> Vec<StatInfo> {
    (0..KEYS)
        .map(|k| StatInfo {
            key: format!("node.protostats.proto{k}").into(),
            description: format!("Synthetic protocol {k} statistics per operation").into(),
            units: "".into(),
            update_interval: 3600,
        })
        .collect()
}

/// One collection cycle for `nodes` nodes at `time`, values varying with `round`.
pub fn batch(nodes: usize, time: i64, round: u64) -> Vec<Point> {
    let mut points = Vec::with_capacity(nodes * KEYS);
    for n in 1..=nodes {
        let devid = n.to_string();
        for k in 0..KEYS {
            let rows = (0..OPS)
                .map(|op| Row {
                    tags: vec![
                        Tag::new("cluster", "bench"),
                        Tag::new("devid", &devid),
                        Tag::new("node", &devid),
                        Tag::new(
                            "class_name",
                            ["read", "write", "namespace_read", "other"][op % 4],
                        ),
                        Tag::new("op_name", &format!("operation_{op}")),
                    ]
                    .into(),
                    fields: FIELDS
                        .iter()
                        .enumerate()
                        .map(|(f, name)| {
                            let v = ((n * 31 + k * 7 + op * 3 + f) as u64 + round) as f64 * 1.37;
                            Field::new(name, Value::Float(v))
                        })
                        .collect(),
                })
                .collect();
            points.push(Point {
                measurement: format!("node.protostats.proto{k}").into(),
                time,
                rows,
            });
        }
    }
    points
}
