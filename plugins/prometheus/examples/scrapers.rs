//! Ten scrapers against a live `/metrics` listener holding 100 000 series while a
//! writer keeps storing new collection cycles: counts errors and prints scrape
//! and write latencies. Loopback only; bounded in count and time.
//!
//! `cargo run --release -p idic-prometheus --example scrapers [series] [scrapers] [scrapes each]`
//! (`GZIP=1`: ask for gzip, as Prometheus does; the time is until the last
//! compressed byte arrives, and every body is unpacked and checked afterwards)

use std::io::Read;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};

use idic_plugin_api::{testing, OpenContext, Plugin, Sink};
use prometheus::Prometheus;

#[path = "../benches/common/mod.rs"]
mod common;

fn main() {
    let args: Vec<usize> = std::env::args()
        .skip(1)
        .map(|a| a.parse().expect("a number"))
        .collect();
    let series = args.first().copied().unwrap_or(100_000);
    let scrapers = args.get(1).copied().unwrap_or(10);
    let scrapes = args.get(2).copied().unwrap_or(20);
    let nodes = common::nodes_for(series);
    let gzip = std::env::var_os("GZIP").is_some();

    let ctx = OpenContext {
        cluster_config: "prometheus_port = 0\n".into(),
        stats: common::stats().into(),
        ..testing::open_context("prometheus", "bench", "")
    };
    let mut sink = Prometheus::default().open(&ctx).expect("sink opens");
    let port = sink.local_addr().port();
    sink.write(&common::batch(nodes, 1_700_000_000, 0)).unwrap();

    // The writer: a new cycle as fast as it can be built and stored.
    let done = Arc::new(AtomicBool::new(false));
    let writes = Arc::new(Mutex::new(Vec::new()));
    let writer = {
        let (done, writes) = (Arc::clone(&done), Arc::clone(&writes));
        thread::spawn(move || {
            let mut round = 1;
            let writing = std::env::var_os("NO_WRITES").is_none();
            while !done.load(Ordering::Relaxed) {
                if !writing {
                    thread::sleep(Duration::from_millis(10));
                    continue;
                }
                let batch = common::batch(nodes, 1_700_000_000 + round as i64, round);
                let t = Instant::now();
                sink.write(&batch).unwrap();
                writes.lock().unwrap().push(t.elapsed());
                round += 1;
            }
            sink.close().unwrap();
            round
        })
    };

    let url = format!("http://127.0.0.1:{port}/metrics");
    let started = Instant::now();
    let workers: Vec<_> = (0..scrapers)
        .map(|i| {
            let url = url.clone();
            thread::spawn(move || {
                if let Some(ms) = std::env::var("STAGGER_MS")
                    .ok()
                    .and_then(|v| v.parse::<u64>().ok())
                {
                    thread::sleep(Duration::from_millis(ms * i as u64));
                }
                let agent = ureq::Agent::config_builder()
                    .timeout_global(Some(Duration::from_secs(30)))
                    .build()
                    .new_agent();
                let mut times = Vec::new();
                let mut errors = Vec::new();
                let mut bytes = 0;
                for _ in 0..scrapes {
                    let t = Instant::now();
                    let mut request = agent.get(&url);
                    if gzip {
                        request = request.header("Accept-Encoding", "gzip");
                    }
                    let got = request
                        .call()
                        .and_then(|mut r| r.body_mut().with_config().limit(u64::MAX).read_to_vec());
                    let elapsed = t.elapsed();
                    let got = got.map(|body| if gzip { gunzip(&body) } else { body });
                    match got {
                        Ok(body) if body.ends_with(b"\n") => {
                            bytes = body.len();
                            times.push(elapsed);
                        }
                        Ok(body) => errors.push(format!("truncated body of {} bytes", body.len())),
                        Err(e) => errors.push(e.to_string()),
                    }
                }
                (times, errors, bytes)
            })
        })
        .collect();
    let mut times = Vec::new();
    let mut errors = Vec::new();
    let mut bytes = 0;
    for w in workers {
        let (t, e, b) = w.join().unwrap();
        times.extend(t);
        errors.extend(e);
        bytes = bytes.max(b);
    }
    let wall = started.elapsed();
    done.store(true, Ordering::Relaxed);
    let rounds = writer.join().unwrap();

    times.sort();
    let mut writes = writes.lock().unwrap().clone();
    writes.sort();
    let pct = |v: &[Duration], p: f64| v[((v.len() as f64 - 1.0) * p).round() as usize];
    println!(
        "{series} series, body {:.1} MB{}, {scrapers} scrapers x {scrapes} scrapes in {wall:.2?}",
        bytes as f64 / 1e6,
        if gzip { " (sent gzipped)" } else { "" }
    );
    println!("errors: {}", errors.len());
    for e in errors.iter().take(5) {
        println!("  {e}");
    }
    if !times.is_empty() {
        println!(
            "scrape latency: p50 {:.1?}  p99 {:.1?}  max {:.1?}",
            pct(&times, 0.5),
            pct(&times, 0.99),
            times[times.len() - 1]
        );
    }
    if std::env::var_os("SHOW_ALL").is_some() {
        println!(
            "{:?}",
            times.iter().map(|t| t.as_millis()).collect::<Vec<_>>()
        );
    }
    if !writes.is_empty() {
        println!(
            "meanwhile {} writes of {series} series: p50 {:.1?}  max {:.1?}",
            rounds - 1,
            pct(&writes, 0.5),
            writes[writes.len() - 1]
        );
    }
    if !errors.is_empty() {
        std::process::exit(1);
    }
}

/// The unpacked body, or nothing when it is not whole gzip (then counted as
/// truncated).
fn gunzip(packed: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    match flate2::read::GzDecoder::new(packed).read_to_end(&mut out) {
        Ok(_) => out,
        Err(_) => Vec::new(),
    }
}
