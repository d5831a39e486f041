//! The 225 000-series load: one cluster's `/metrics` endpoint holding the
//! simulator's summary statistics (protocol, client and drive, `rows` rows
//! each, on `nodes` nodes) plus the example configuration's stat groups, fed
//! from `onefs-sim`'s expected values as the collector would feed it, a new
//! cycle every 5 s. It prints the endpoint, the series count, the heap the
//! store holds (bytes allocated since the sink opened and not freed, the batch
//! already dropped: between scrapes that is the store alone) and this
//! process's memory after every cycle, and serves until killed (or for
//! `SECONDS`); scrape it from another process (`--example scrape`).
//!
//! `cargo run --release -p idic-prometheus --example summary [nodes] [rows]`
//! (default 8 nodes, 8000 rows; `PORT=9101` for a fixed port)

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use idic_plugin_api::{
    testing, Field, OpenContext, Plugin, Point, Row, Sink, StatInfo, Tag, Value,
};
use onefs_sim::{ClusterSpec, Scope, Sim, SimConfig};
use prometheus::Prometheus;

#[path = "../benches/common/mod.rs"]
mod common;

use common::summary;

/// Counts the bytes allocated and not yet freed, to tell the store's own
/// memory from what the process keeps around (the simulator, the batches).
struct Counting;

static LIVE: AtomicUsize = AtomicUsize::new(0);

unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        LIVE.fetch_add(layout.size(), Ordering::Relaxed);
        unsafe { System.alloc(layout) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        LIVE.fetch_sub(layout.size(), Ordering::Relaxed);
        unsafe { System.dealloc(ptr, layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        LIVE.fetch_add(new_size, Ordering::Relaxed);
        LIVE.fetch_sub(layout.size(), Ordering::Relaxed);
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static ALLOCATOR: Counting = Counting;

fn main() {
    let args: Vec<usize> = std::env::args()
        .skip(1)
        .map(|a| a.parse().expect("a number"))
        .collect();
    let nodes = args.first().copied().unwrap_or(8) as u32;
    let rows = args.get(1).copied().unwrap_or(8000);
    let port: u16 = std::env::var("PORT").map_or(0, |p| p.parse().expect("a port"));
    let seconds: Option<u64> = std::env::var("SECONDS")
        .ok()
        .map(|s| s.parse().expect("seconds"));

    let sim = Sim::start(SimConfig::with_clusters([ClusterSpec::new("sim1")
        .with_nodes(nodes)
        .with_summary_rows(rows)]))
    .expect("the simulator starts");
    let cluster = &sim.clusters()[0];
    let keys = example_keys();
    let mut stats = summary::stats(5);
    stats.extend(keys.iter().filter_map(|k| {
        let info = sim.catalog().get(k)?;
        Some(StatInfo {
            key: k.as_str().into(),
            description: info.description.as_str().into(),
            units: info.units.as_str().into(),
            update_interval: u64::from(info.update_interval().unwrap_or(5)),
        })
    }));

    let ctx = OpenContext {
        cluster_config: format!("prometheus_port = {port}\n").into(),
        stats: stats.into(),
        ..testing::open_context("prometheus", "sim1", "")
    };
    println!("before the sink: {}", memory());
    let before = LIVE.load(Ordering::Relaxed);
    let mut sink = Prometheus::default().open(&ctx).expect("sink opens");
    println!(
        "serving http://127.0.0.1:{}/metrics",
        sink.local_addr().port()
    );
    // A cycle every 5 s on a fixed schedule, as the collector's summary
    // buckets: each batch is built before its turn and written on time, so a
    // series is refreshed before its 5 s expiry.
    let started = Instant::now();
    let mut due = started;
    loop {
        let now = unix_now();
        let mut batch = Vec::new();
        for kind in summary::KINDS {
            batch.extend(summary::points(
                kind,
                "sim1",
                &cluster.expected_summary(kind, now),
            ));
        }
        for key in &keys {
            if let Some(p) = stat_point(&sim, key, now) {
                batch.push(p);
            }
        }
        std::thread::sleep(due.saturating_duration_since(Instant::now()));
        let t = Instant::now();
        sink.write(&batch).unwrap();
        let took = t.elapsed();
        drop(batch);
        println!(
            "cycle at {now}: {} series stored in {took:.1?}; the store's heap {:.1} MB; process {}",
            sink.store().len(),
            LIVE.load(Ordering::Relaxed).saturating_sub(before) as f64 / 1e6,
            memory()
        );
        if seconds.is_some_and(|s| started.elapsed() >= Duration::from_secs(s)) {
            break;
        }
        due += Duration::from_secs(5);
    }
    sink.close().unwrap();
}

/// The keys of gostats' example stat groups (those of `idic.toml.example`).
fn example_keys() -> Vec<String> {
    onefs_sim::EXAMPLE_STAT_GROUPS
        .iter()
        .flat_map(|(_, keys)| keys.iter().map(|k| k.to_string()))
        .collect()
}

/// `key`'s point at `now` as the host makes it from a numeric answer: one row
/// per node (tags cluster, devid, node) or one cluster row; `None` for keys
/// whose value is not a number.
fn stat_point(sim: &Sim, key: &str, now: i64) -> Option<Point> {
    let info = sim.catalog().get(key)?;
    let time = onefs_sim::answer_time(info, now);
    let cluster = &sim.clusters()[0];
    let devices = match info.scope {
        Scope::Cluster => vec![(0, 0)],
        Scope::Node => cluster.devices(),
    };
    let rows: Vec<Row> = devices
        .into_iter()
        .filter_map(|(devid, lnn)| {
            let value = cluster.expected(key, devid, time)?.as_f64()?;
            let mut tags = vec![Tag::new("cluster", "sim1")];
            if devid != 0 {
                tags.push(Tag::new("devid", &devid.to_string()));
                tags.push(Tag::new("node", &lnn.to_string()));
            }
            Some(Row {
                tags: tags.into(),
                fields: vec![Field::new("value", Value::Float(value))].into(),
            })
        })
        .collect();
    (!rows.is_empty()).then(|| Point {
        measurement: key.into(),
        time,
        rows: rows.into(),
    })
}

fn unix_now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64
}

/// This process's resident memory now and at its peak.
fn memory() -> String {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    let field = |name: &str| {
        status
            .lines()
            .find_map(|l| l.strip_prefix(name))
            .and_then(|v| v.trim().strip_suffix(" kB"))
            .and_then(|v| v.trim().parse::<f64>().ok())
            .map_or("?".to_string(), |kb| format!("{:.1} MB", kb / 1024.0))
    };
    format!("RSS {} (peak {})", field("VmRSS:"), field("VmHWM:"))
}
