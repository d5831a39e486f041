//! Remote-write throughput: opens one sink per simulated cluster (as the host
//! does) and writes `ROUNDS` cycles of OneFS-shaped points (50 scalar keys and
//! 5 protocol statistics of 20 operations x 8 fields per cluster and cycle,
//! 850 samples) to the receiver at the URL given, one call at a time, then
//! prints samples/s. Run by `scripts/remote-write-bench.sh` against a local
//! VictoriaMetrics; see docs/SCALING.md for the figures.
//!
//! Usage: throughput URL [CLUSTERS] [ROUNDS]

use std::time::{Instant, SystemTime, UNIX_EPOCH};

use idic_plugin_api::{testing, Field, Plugin, Point, Row, Sink, Tag, Value};
use remote_write::RemoteWrite;

fn cycle(cluster: &str, time: i64, round: usize) -> Vec<Point> {
    let mut points = Vec::new();
    for k in 0..50 {
        points.push(Point {
            measurement: format!("cluster.bench.scalar{k}").into(),
            time,
            rows: vec![Row {
                tags: vec![Tag::new("cluster", cluster)].into(),
                fields: vec![Field::new("value", Value::Float((k + round) as f64 * 0.5))].into(),
            }]
            .into(),
        });
    }
    for p in 0..5 {
        let rows: Vec<Row> = (0..20)
            .map(|op| Row {
                tags: vec![
                    Tag::new("cluster", cluster),
                    Tag::new("op_name", &format!("op{op}")),
                    Tag::new("class_name", "read"),
                ]
                .into(),
                fields: (0..8)
                    .map(|f| Field::new(&format!("f{f}"), Value::Float((op * f + round) as f64)))
                    .collect(),
            })
            .collect();
        points.push(Point {
            measurement: format!("cluster.protostats.bench{p}").into(),
            time,
            rows: rows.into(),
        });
    }
    points
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let url = args
        .get(1)
        .expect("usage: throughput URL [CLUSTERS] [ROUNDS]");
    let clusters: usize = args.get(2).map_or(100, |s| s.parse().unwrap());
    let rounds: usize = args.get(3).map_or(20, |s| s.parse().unwrap());
    let section = format!("url = \"{url}\"");
    let mut sinks: Vec<_> = (0..clusters)
        .map(|c| {
            RemoteWrite
                .open(&testing::open_context(
                    "remote_write",
                    &format!("bench{c}"),
                    &section,
                ))
                .expect("open")
        })
        .collect();
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64;
    let start = now - 5 * rounds as i64;
    let batches: Vec<Vec<Vec<Point>>> = (0..rounds)
        .map(|r| {
            (0..clusters)
                .map(|c| cycle(&format!("bench{c}"), start + 5 * r as i64, r))
                .collect()
        })
        .collect();
    let began = Instant::now();
    for round in &batches {
        for (sink, batch) in sinks.iter_mut().zip(round) {
            sink.write(batch).expect("write");
        }
    }
    let secs = began.elapsed().as_secs_f64();
    let samples = clusters * rounds * 850;
    println!(
        "{samples} samples ({clusters} clusters x {rounds} cycles x 850) in {secs:.2} s: {:.0} samples/s, {:.0} cluster-cycles/s",
        samples as f64 / secs,
        (clusters * rounds) as f64 / secs
    );
}
