//! A scraper in its own process: GETs a `/metrics` URL `count` times in a row
//! over one keep-alive connection, as Prometheus does, and prints the median,
//! p90 and slowest time until the last byte, the fewest and most samples a
//! body held, and the last body's size. With
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
    let (mut sent, mut text) = (0, 0);
    let (mut fewest, mut most) = (usize::MAX, 0);
    for _ in 0..count {
        let t = Instant::now();
        let mut request = agent.get(&url);
        if gzip {
            request = request.header("Accept-Encoding", "gzip");
        }
        let mut answer = request.call().expect("a scrape succeeds");
        let mut body = Vec::with_capacity(sent);
        let mut reader = answer.body_mut().with_config().limit(u64::MAX).reader();
        let mut buf = vec![0u8; 1 << 20];
        loop {
            let n = reader.read(&mut buf).expect("a whole body");
            if n == 0 {
                break;
            }
            body.extend_from_slice(&buf[..n]);
        }
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
        let lines = body
            .split(|&b| b == b'\n')
            .filter(|l| !l.is_empty() && l[0] != b'#')
            .count();
        fewest = fewest.min(lines);
        most = most.max(lines);
    }
    times.sort();
    let pct = |p: f64| times[((times.len() as f64 - 1.0) * p).round() as usize];
    println!(
        "{count} scrapes of {fewest}-{most} samples, {:.1} MB of text{}: median {:.1?}, p90 {:.1?}, max {:.1?}",
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
