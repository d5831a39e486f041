//! A thousand clusters on one plugin: opens that many `/metrics` listeners,
//! stores one node's worth of series in each, then scrapes every endpoint over
//! its own keep-alive connection (as Prometheus keeps one per target), all at
//! once, several rounds. Prints scrape latencies, the process' threads and
//! memory. Loopback only; bounded in count.
//!
//! `cargo run --release -p idic-prometheus --example endpoints [endpoints] [series each] [rounds] [scraper threads]`
//! (`GZIP=1`: ask for gzip, as Prometheus does)

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Barrier};
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
    let endpoints = args.first().copied().unwrap_or(1000);
    let series = args.get(1).copied().unwrap_or(1000);
    let rounds = args.get(2).copied().unwrap_or(5);
    let scrapers = args.get(3).copied().unwrap_or(50).clamp(1, endpoints);
    let gzip = std::env::var_os("GZIP").is_some();
    let nodes = common::nodes_for(series);

    let plugin = Prometheus::default();
    plugin
        .start(&testing::start_context("prometheus", ""))
        .expect("plugin starts");
    let opened = Instant::now();
    let mut sinks: Vec<_> = (0..endpoints)
        .map(|i| {
            plugin
                .open(&OpenContext {
                    cluster_config: "prometheus_port = 0\n".into(),
                    stats: common::stats().into(),
                    ..testing::open_context("prometheus", &format!("c{i}"), "")
                })
                .expect("sink opens")
        })
        .collect();
    let batch = common::batch(nodes, 1_700_000_000, 0);
    for sink in &mut sinks {
        sink.write(&batch).unwrap();
    }
    println!(
        "{endpoints} endpoints x {} series opened and stored in {:.2?}; {}",
        nodes * common::KEYS * common::OPS * common::FIELDS.len(),
        opened.elapsed(),
        status()
    );
    let ports: Vec<u16> = sinks.iter().map(|s| s.local_addr().port()).collect();

    // Samples the plugin's runtime threads while the scrapers run.
    let done = Arc::new(AtomicBool::new(false));
    let most_threads = Arc::new(AtomicUsize::new(0));
    let sampler = {
        let (done, most) = (Arc::clone(&done), Arc::clone(&most_threads));
        thread::spawn(move || {
            while !done.load(Ordering::Relaxed) {
                most.fetch_max(threads_named("prom-http"), Ordering::Relaxed);
                thread::sleep(Duration::from_millis(5));
            }
        })
    };

    let start = Arc::new(Barrier::new(scrapers));
    let started = Instant::now();
    let workers: Vec<_> = (0..scrapers)
        .map(|t| {
            let mine: Vec<u16> = ports.iter().copied().skip(t).step_by(scrapers).collect();
            let start = Arc::clone(&start);
            thread::spawn(move || {
                let mut conns: Vec<BufReader<TcpStream>> = mine
                    .iter()
                    .map(|&p| BufReader::new(TcpStream::connect(("127.0.0.1", p)).unwrap()))
                    .collect();
                let mut times = Vec::new();
                let mut bytes = 0;
                for _ in 0..rounds {
                    // Every scraper starts each round together: the burst of a
                    // Prometheus whose targets share one scrape interval.
                    start.wait();
                    for conn in &mut conns {
                        let t = Instant::now();
                        bytes += scrape(conn, gzip);
                        times.push(t.elapsed());
                    }
                }
                (times, bytes)
            })
        })
        .collect();
    let mut times = Vec::new();
    let mut bytes = 0;
    for w in workers {
        let (t, b) = w.join().expect("every scrape answered");
        times.extend(t);
        bytes += b;
    }
    let wall = started.elapsed();
    done.store(true, Ordering::Relaxed);
    sampler.join().unwrap();

    times.sort();
    let pct = |p: f64| times[((times.len() as f64 - 1.0) * p).round() as usize];
    println!(
        "{} scrapes ({} per endpoint, {scrapers} scraper threads{}) in {wall:.2?}, {:.1} MB received",
        times.len(),
        rounds,
        if gzip { ", gzip" } else { "" },
        bytes as f64 / 1e6
    );
    println!(
        "scrape latency: p50 {:.2?}  p99 {:.2?}  max {:.2?}",
        pct(0.5),
        pct(0.99),
        times[times.len() - 1]
    );
    println!(
        "plugin runtime threads: at most {} while scraping; process now: {}",
        most_threads.load(Ordering::Relaxed),
        status()
    );
    for mut sink in sinks {
        sink.close().unwrap();
    }
    plugin.stop();
}

/// One `GET /metrics` on a keep-alive connection; the body's size. Reads a
/// `Content-Length` or a chunked body.
fn scrape(conn: &mut BufReader<TcpStream>, gzip: bool) -> usize {
    let extra = if gzip {
        "Accept-Encoding: gzip\r\n"
    } else {
        ""
    };
    write!(
        conn.get_mut(),
        "GET /metrics HTTP/1.1\r\nHost: bench\r\n{extra}\r\n"
    )
    .unwrap();
    let mut length = None;
    let mut chunked = false;
    let mut line = String::new();
    loop {
        line.clear();
        conn.read_line(&mut line).unwrap();
        if line == "\r\n" || line.is_empty() {
            break;
        }
        let lower = line.to_ascii_lowercase();
        if let Some(v) = lower.strip_prefix("content-length:") {
            length = Some(v.trim().parse::<usize>().unwrap());
        }
        chunked |= lower.starts_with("transfer-encoding:") && lower.contains("chunked");
    }
    if !chunked {
        let mut body = vec![0u8; length.expect("a content length or chunks")];
        conn.read_exact(&mut body).unwrap();
        return body.len();
    }
    let mut total = 0;
    loop {
        line.clear();
        conn.read_line(&mut line).unwrap();
        let size = usize::from_str_radix(line.trim(), 16).expect("a chunk size");
        let mut chunk = vec![0u8; size + 2];
        conn.read_exact(&mut chunk).unwrap();
        if size == 0 {
            return total;
        }
        total += size;
    }
}

/// The process' threads and memory, from `/proc/self/status`.
fn status() -> String {
    let text = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    let field = |name: &str| {
        text.lines()
            .find_map(|l| l.strip_prefix(name))
            .map(|v| v.trim().to_string())
            .unwrap_or_default()
    };
    format!(
        "threads {}, RSS {}, peak RSS {}",
        field("Threads:"),
        field("VmRSS:"),
        field("VmHWM:")
    )
}

fn threads_named(name: &str) -> usize {
    std::fs::read_dir("/proc/self/task")
        .map(|tasks| {
            tasks
                .flatten()
                .filter(|t| {
                    std::fs::read_to_string(t.path().join("comm"))
                        .is_ok_and(|n| n.trim_end() == name)
                })
                .count()
        })
        .unwrap_or(0)
}
