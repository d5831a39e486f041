//! Encoding throughput on one core: rows per second of line protocol for scalar
//! rows (a node-scoped statistic: 3 tags, 1 field) and protocol-statistic rows
//! (4 tags, 20 fields), through the same `Encoder` the sinks use (1 MiB bodies).
//!
//! `cargo bench -p idic-lineproto`; the figures are in plugins/influxdb/README.md.

use std::time::Duration;

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use idic_lineproto::settings::DEFAULT_MAX_REQUEST_BYTES;
use idic_lineproto::Encoder;
use idic_plugin_api::{Field, Point, Row, Tag, Value};

const ROWS: usize = 10_000;
const T0: i64 = 1_700_000_000;

/// `node.load.1min`-like points: one row each, tags cluster, devid, node.
fn scalar_batch() -> Vec<Point> {
    (0..ROWS)
        .map(|i| Point {
            measurement: "node.disk.xfers.in.rate.avg".into(),
            time: T0 + (i / 100) as i64,
            rows: vec![Row {
                tags: vec![
                    Tag::new("cluster", "simcluster1"),
                    Tag::new("devid", &(i % 100 + 1).to_string()),
                    Tag::new("node", &(i % 100 + 1).to_string()),
                ]
                .into(),
                fields: vec![Field::new("value", Value::Float(i as f64 * 1.37 + 0.25))].into(),
            }]
            .into(),
        })
        .collect()
}

/// `cluster.protostats.nfs`-like points: 50 rows each (one per operation),
/// tags cluster, class_name, op_name, op_id, 20 float fields.
fn protocol_batch() -> Vec<Point> {
    const FIELDS: [&str; 20] = [
        "in_max",
        "in_min",
        "in_rate",
        "in_standard_dev",
        "op_count",
        "op_rate",
        "out_max",
        "out_min",
        "out_rate",
        "out_standard_dev",
        "time_avg",
        "time_max",
        "time_min",
        "time_standard_dev",
        "in_avg",
        "out_avg",
        "op_total",
        "err_count",
        "err_rate",
        "queue_len",
    ];
    (0..ROWS / 50)
        .map(|p| Point {
            measurement: "cluster.protostats.nfs".into(),
            time: T0 + p as i64,
            rows: (0..50)
                .map(|op| Row {
                    tags: vec![
                        Tag::new("cluster", "simcluster1"),
                        Tag::new("op_name", &format!("op_{op}")),
                        Tag::new(
                            "class_name",
                            ["read", "write", "namespace_read", "other"][op % 4],
                        ),
                        Tag::new("op_id", &op.to_string()),
                    ]
                    .into(),
                    fields: FIELDS
                        .iter()
                        .enumerate()
                        .map(|(f, name)| {
                            let v = (p * 50 + op) as f64 * 0.731 + f as f64 * 13.5;
                            let v = if f % 3 == 0 { v.round() } else { v };
                            Field::new(name, Value::Float(v))
                        })
                        .collect(),
                })
                .collect(),
        })
        .collect()
}

fn encode(c: &mut Criterion) {
    let mut group = c.benchmark_group("encode");
    group.throughput(Throughput::Elements(ROWS as u64));
    for (name, batch) in [
        ("scalar_rows", scalar_batch()),
        ("protocol_rows", protocol_batch()),
    ] {
        let mut encoder = Encoder::new(DEFAULT_MAX_REQUEST_BYTES);
        group.bench_with_input(BenchmarkId::from_parameter(name), &batch, |b, batch| {
            b.iter(|| {
                encoder.clear();
                for point in batch {
                    encoder.point(point);
                }
                assert_eq!(encoder.stats().lines, ROWS as u64);
            })
        });
    }
    group.finish();
}

criterion_group! {
    name = benches;
    config = Criterion::default().measurement_time(Duration::from_secs(5));
    targets = encode
}
criterion_main!(benches);
