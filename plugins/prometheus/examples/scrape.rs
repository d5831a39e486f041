//! A scraper in its own process: GETs a `/metrics` URL `count` times in a row
//! over one keep-alive connection, as Prometheus does, and prints the median,
//! p90 and slowest time until the last byte, and the body's size. With
//! `GZIP=1` it asks for gzip (as Prometheus does) and unpacks every body.
//!
//! `cargo run --release -p idic-prometheus --example scrape URL [count]`

use std::io::Read;
use std::time::{Duration, Instant};

fn main() {
    let mut args = std::env::args().skip(1);
    let url = args.next().expect("a /metrics URL");
    let count: usize = args.next().map_or(20, |c| c.parse().expect("a count"));
    let gzip = std::env::var_os("GZIP").is_some();
    let agent = ureq::Agent::config_builder()
        .timeout_global(Some(Duration::from_secs(30)))
        .build()
        .new_agent();
    let mut times = Vec::new();
    let (mut sent, mut text, mut lines) = (0, 0, 0);
    for _ in 0..count {
        let t = Instant::now();
        let mut request = agent.get(&url);
        if gzip {
            request = request.header("Accept-Encoding", "gzip");
        }
        let body = request
            .call()
            .and_then(|mut r| r.body_mut().with_config().limit(u64::MAX).read_to_vec())
            .expect("a scrape succeeds");
        times.push(t.elapsed());
        sent = body.len();
        let body = if gzip {
            let mut out = Vec::new();
            flate2::read::GzDecoder::new(&body[..])
                .read_to_end(&mut out)
                .expect("a whole gzip body");
            out
        } else {
            body
        };
        assert!(body.ends_with(b"\n"), "a whole body");
        text = body.len();
        lines = body
            .split(|&b| b == b'\n')
            .filter(|l| !l.is_empty() && l[0] != b'#')
            .count();
    }
    times.sort();
    let pct = |p: f64| times[((times.len() as f64 - 1.0) * p).round() as usize];
    println!(
        "{count} scrapes of {lines} samples, {:.1} MB of text{}: median {:.1?}, p90 {:.1?}, max {:.1?}",
        text as f64 / 1e6,
        if gzip {
            format!(" sent as {:.1} MB gzip", sent as f64 / 1e6)
        } else {
            String::new()
        },
        pct(0.5),
        pct(0.9),
        times[times.len() - 1]
    );
}
