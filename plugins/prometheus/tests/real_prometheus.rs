//! A real Prometheus scraping a large endpoint: the simulator's summary
//! statistics with thousands of rows per kind (about 60 000 series, a body of
//! about 15 MB that Prometheus asks to get gzipped), scraped with Prometheus'
//! default 10 s timeout. Every series Prometheus stored must equal the
//! simulator's row: value, labels and timestamp, the `_time` gauges included;
//! the plugin's own log says the body went out gzipped.
//!
//! The full 225 000-series load of the README (8 nodes, 8 000 rows), in
//! release as it runs in production:
//! `IDIC_PROMD_NODES=8 IDIC_PROMD_ROWS=8000 cargo test --release -p idic-prometheus --test plugin real_prometheus`

use std::collections::BTreeMap;
use std::sync::Mutex;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use idic_plugin_api::{Plugin, Sink};
use onefs_sim::{ClusterSpec, Sim, SimConfig, SummaryKind};
use prometheus::Prometheus;
use serde_json::Value;

use crate::promd::Promd;
use crate::summary;
use crate::support::*;

/// The simulated cluster's nodes and summary rows per kind, unless
/// `IDIC_PROMD_NODES` / `IDIC_PROMD_ROWS` say otherwise.
fn size() -> (u32, usize) {
    let var = |name: &str, default| {
        std::env::var(name)
            .ok()
            .map(|v| {
                v.parse()
                    .unwrap_or_else(|_| panic!("{name}={v}: not a number"))
            })
            .unwrap_or(default)
    };
    (
        var("IDIC_PROMD_NODES", 4) as u32,
        var("IDIC_PROMD_ROWS", 2000),
    )
}
/// The cluster's name, which no other test uses, so that its log lines are
/// this test's.
const CLUSTER: &str = "promc1";

/// The plugin's log lines about [`CLUSTER`] (this test binary has no other
/// logger: tests open sinks without the host's entry points).
struct Recorder(Mutex<Vec<String>>);

static RECORDER: Recorder = Recorder(Mutex::new(Vec::new()));

impl log::Log for Recorder {
    fn enabled(&self, _: &log::Metadata<'_>) -> bool {
        true
    }

    fn log(&self, record: &log::Record<'_>) {
        let line = record.args().to_string();
        if line.starts_with(&format!("cluster={CLUSTER} ")) {
            self.0.lock().unwrap().push(line);
        }
    }

    fn flush(&self) {}
}

/// Label set (without `job` and `instance`) -> (value, Unix seconds).
type Series = BTreeMap<Vec<(String, String)>, (f64, i64)>;

/// What the simulator's rows of `kind` give for `field`: the last row of a
/// label set wins, as in the store.
fn expected(kind: SummaryKind, rows: &[Value], field: &str) -> Series {
    let mut out = Series::new();
    for row in rows {
        let mut labels = summary::row_tags(kind, CLUSTER, row);
        labels.sort();
        let time = row["time"].as_i64().unwrap();
        let value = if field == "time" {
            time as f64
        } else {
            row[field].as_f64().unwrap()
        };
        out.insert(labels, (value, time));
    }
    out
}

/// What Prometheus stored for `metric`: every series with its one sample (a
/// range selector returns samples as stored, with their own timestamps; a
/// second scrape of the same samples adds nothing).
fn stored(p: &Promd, metric: &str) -> Series {
    p.query(&format!("{metric}[5m]"))
        .iter()
        .map(|s| {
            let mut labels: Vec<(String, String)> = s["metric"]
                .as_object()
                .unwrap()
                .iter()
                .filter(|(k, _)| !matches!(k.as_str(), "__name__" | "job" | "instance"))
                .map(|(k, v)| (k.clone(), v.as_str().unwrap().to_string()))
                .collect();
            labels.sort();
            let values = s["values"].as_array().unwrap();
            assert_eq!(values.len(), 1, "{metric}{labels:?}: {values:?}");
            let time = values[0][0].as_f64().unwrap();
            let value = values[0][1].as_str().unwrap().parse().unwrap();
            (labels, (value, time as i64))
        })
        .collect()
}

#[test]
fn prometheus_scrapes_thousands_of_summary_rows_gzipped_within_its_timeout() {
    if !crate::services::available(
        "prometheus",
        "prometheus_scrapes_thousands_of_summary_rows_gzipped_within_its_timeout",
    ) {
        return;
    }
    log::set_logger(&RECORDER).expect("no other logger in this test binary");
    log::set_max_level(log::LevelFilter::Debug);
    let (nodes, rows_per_kind) = size();
    let sim = Sim::start(SimConfig::with_clusters([ClusterSpec::new(CLUSTER)
        .with_nodes(nodes)
        .with_summary_rows(rows_per_kind)]))
    .unwrap();
    let cluster = &sim.clusters()[0];
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64;
    let rows: Vec<(SummaryKind, Vec<Value>)> = summary::KINDS
        .iter()
        .map(|&kind| (kind, cluster.expected_summary(kind, now)))
        .collect();

    // An hour-long interval: nothing expires while Prometheus gets going.
    let mut sink = Prometheus::default()
        .open(&ctx(CLUSTER, "", ANY_PORT, summary::stats(3600)))
        .unwrap();
    for (kind, rows) in &rows {
        assert_eq!(rows.len(), rows_per_kind);
        sink.write(&summary::points(*kind, CLUSTER, rows)).unwrap();
    }
    let want_series = sink.store().len();
    assert!(want_series > 50_000, "{want_series} series");

    // No global settings: the default 10 s scrape timeout (the interval may
    // not be shorter than it).
    let port = sink.local_addr().port();
    let mut prom = Promd::start(&format!(
        "  - job_name: isilon\n    scrape_interval: 10s\n    static_configs:\n      - targets: ['127.0.0.1:{port}']\n"
    ));
    prom.wait(Duration::from_secs(60), "a whole scrape stored", |p| {
        p.scalar("scrape_samples_scraped{job=\"isilon\"}") == Some(want_series as f64)
    });
    // A scrape that overran the timeout would count as down, with nothing
    // scraped.
    assert_eq!(prom.scalar("up{job=\"isilon\"}"), Some(1.0));
    assert_eq!(
        prom.scalar("scrape_series_added{job=\"isilon\"}"),
        Some(want_series as f64)
    );

    // The endpoint logs each body it renders, and its gzipped size.
    let renders = RECORDER.0.lock().unwrap().clone();
    assert!(
        renders
            .iter()
            .any(|l| l.contains(&format!("{want_series} samples")) && l.contains("gzipped")),
        "{renders:?}"
    );

    let mut checked = 0;
    for (kind, rows) in &rows {
        let fields = summary::fields(*kind).iter().chain(["time"].iter());
        for field in fields {
            let metric = format!("isilon_stat_node_summary_{}_{field}", kind.name());
            let want = expected(*kind, rows, field);
            let got = stored(&prom, &metric);
            assert_eq!(got.len(), want.len(), "{metric}: series count");
            for (labels, value) in &want {
                assert_eq!(got.get(labels), Some(value), "{metric}{labels:?}");
            }
            checked += want.len();
        }
    }
    assert_eq!(checked, want_series);
    sink.close().unwrap();
}
