//! Load benchmark: starts the `onefs-sim` binary with many clusters and polls each one
//! like a collector (session login, CSRF headers, keep-alive, the 116 example keys split
//! under the 8198-byte limit) every few seconds, then prints the CPU the simulator
//! process used, read from `/proc/<pid>/stat` (Linux only).
//!
//! ```text
//! cargo build --release -p onefs-sim
//! cargo run --release -p onefs-sim --example load -- [--clusters 200] [--nodes 4]
//!     [--seconds 60] [--interval 5] [--threads 16] [--sim target/release/onefs-sim]
//! ```

use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use onefs_sim::{EXAMPLE_STAT_GROUPS, MAX_TARGET};

struct Args {
    clusters: usize,
    nodes: u32,
    seconds: u64,
    interval: u64,
    threads: usize,
    sim: PathBuf,
}

/// One polled cluster.
struct Target {
    url: String,
    agent: ureq::Agent,
    cookie: String,
    csrf: String,
    next: Instant,
}

#[derive(Default)]
struct Totals {
    polls: AtomicU64,
    requests: AtomicU64,
    errors: AtomicU64,
    bytes: AtomicU64,
    latency_us: AtomicU64,
    max_latency_us: AtomicU64,
}

/// Stops the simulator by PID when the benchmark ends, even on panic.
struct SimProcess(Child);

fn main() {
    let args = parse_args();
    let keys: Vec<&str> = EXAMPLE_STAT_GROUPS
        .iter()
        .flat_map(|(_, k)| k.iter().copied())
        .collect();
    let paths = split_paths(&keys);
    println!(
        "{} clusters x {} nodes, {} keys in {} request(s) per poll, every {} s for {} s",
        args.clusters,
        args.nodes,
        keys.len(),
        paths.len(),
        args.interval,
        args.seconds
    );

    let dir = std::env::temp_dir().join(format!("onefs-sim-load-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let ca_path = dir.join("ca.pem");
    let mut sim = start_sim(&args, &ca_path);
    let pid = sim.0.id();
    let urls = listening_urls(&mut sim.0, args.clusters);
    let ca = std::fs::read(&ca_path).expect("CA file");

    let setup_started = Instant::now();
    let mut targets: Vec<Target> = urls.iter().map(|url| connect(url, &ca, &keys)).collect();
    println!(
        "setup (login, cluster config, {} key lookups per cluster): {:.1} s",
        keys.len(),
        setup_started.elapsed().as_secs_f64()
    );

    let start = Instant::now() + Duration::from_millis(500);
    let n = targets.len() as u64;
    for (i, t) in targets.iter_mut().enumerate() {
        t.next = start + Duration::from_millis(i as u64 * args.interval * 1000 / n);
    }
    let end = start + Duration::from_secs(args.seconds);
    let warmup_end = start + Duration::from_secs(args.interval);
    let totals = Arc::new(Totals::default());
    let paths = Arc::new(paths);

    let mut groups: Vec<Vec<Target>> = (0..args.threads).map(|_| Vec::new()).collect();
    for (i, t) in targets.into_iter().enumerate() {
        groups[i % args.threads].push(t);
    }
    let workers: Vec<_> = groups
        .into_iter()
        .map(|group| {
            let (totals, paths) = (totals.clone(), paths.clone());
            let interval = Duration::from_secs(args.interval);
            std::thread::spawn(move || poll_loop(group, &paths, interval, end, &totals))
        })
        .collect();

    sleep_until(warmup_end);
    let (cpu0, wall0, self0) = (
        cpu_seconds(pid),
        Instant::now(),
        cpu_seconds(std::process::id()),
    );
    let polls0 = totals.polls.load(Ordering::Relaxed);
    sleep_until(warmup_end + (end - warmup_end) / 2);
    let (rss_kb, threads) = (status_field(pid, "VmRSS:"), status_field(pid, "Threads:"));
    let connections = sample_connections(&urls[0], &ca);
    sleep_until(end);
    let (cpu1, wall1, self1) = (
        cpu_seconds(pid),
        Instant::now(),
        cpu_seconds(std::process::id()),
    );
    let polls1 = totals.polls.load(Ordering::Relaxed);
    for w in workers {
        w.join().expect("poller thread");
    }
    let window = (wall1 - wall0).as_secs_f64();
    let requests = totals.requests.load(Ordering::Relaxed);
    println!(
        "polls: {} ({:.1}/s in the measured window), requests: {}, errors: {}, received: {:.1} MB",
        totals.polls.load(Ordering::Relaxed),
        (polls1 - polls0) as f64 / window,
        requests,
        totals.errors.load(Ordering::Relaxed),
        totals.bytes.load(Ordering::Relaxed) as f64 / 1e6
    );
    println!(
        "latency: mean {:.1} ms, max {:.1} ms",
        totals.latency_us.load(Ordering::Relaxed) as f64 / requests.max(1) as f64 / 1000.0,
        totals.max_latency_us.load(Ordering::Relaxed) as f64 / 1000.0
    );
    println!(
        "simulator RSS: {} MB, threads: {threads}; connections accepted by {}: {connections}",
        rss_kb / 1024,
        urls[0]
    );
    println!(
        "load generator CPU: {:.1}% of one core",
        (self1 - self0) / window * 100.0
    );
    println!(
        "simulator CPU: {:.1}% of one core over {:.0} s (steady state, after the first interval)",
        (cpu1 - cpu0) / window * 100.0,
        window
    );
    drop(sim);
    let _ = std::fs::remove_dir_all(&dir);
}

fn parse_args() -> Args {
    let mut a = Args {
        clusters: 200,
        nodes: 4,
        seconds: 60,
        interval: 5,
        threads: 16,
        sim: default_sim_path(),
    };
    let argv: Vec<String> = std::env::args().skip(1).collect();
    let mut i = 0;
    while i < argv.len() {
        let value = argv.get(i + 1).cloned().unwrap_or_default();
        match argv[i].as_str() {
            "--clusters" => a.clusters = value.parse().expect("--clusters N"),
            "--nodes" => a.nodes = value.parse().expect("--nodes N"),
            "--seconds" => a.seconds = value.parse().expect("--seconds S"),
            "--interval" => a.interval = value.parse().expect("--interval S"),
            "--threads" => a.threads = value.parse().expect("--threads N"),
            "--sim" => a.sim = PathBuf::from(value),
            other => panic!("unknown argument {other}"),
        }
        i += 2;
    }
    a.threads = a.threads.clamp(1, a.clusters.max(1));
    a
}

/// `target/<profile>/onefs-sim`, next to `target/<profile>/examples/load`.
fn default_sim_path() -> PathBuf {
    let exe = std::env::current_exe().expect("current exe");
    exe.parent()
        .and_then(|p| p.parent())
        .map(|p| p.join("onefs-sim"))
        .expect("target dir")
}

fn start_sim(args: &Args, ca: &std::path::Path) -> SimProcess {
    assert!(
        args.sim.exists(),
        "{} not found: run `cargo build --release -p onefs-sim` first, or pass --sim PATH",
        args.sim.display()
    );
    let child = Command::new(&args.sim)
        .args([
            "--clusters",
            &args.clusters.to_string(),
            "--base-port",
            "0",
            "--nodes",
            &args.nodes.to_string(),
        ])
        .args([
            "--log-level",
            "warn",
            "--request-log",
            "16",
            "--ca-cert-out",
        ])
        .arg(ca)
        .stdout(Stdio::piped())
        .spawn()
        .expect("start onefs-sim");
    SimProcess(child)
}

fn listening_urls(child: &mut Child, n: usize) -> Vec<String> {
    let stdout = child.stdout.take().expect("stdout");
    BufReader::new(stdout)
        .lines()
        .take(n)
        .map(|l| {
            let l = l.expect("listening line");
            l.split(" at ")
                .nth(1)
                .and_then(|r| r.split(' ').next())
                .expect("URL in listening line")
                .to_string()
        })
        .collect()
}

/// Logs in and does what a collector does once at start.
fn connect(url: &str, ca: &[u8], keys: &[&str]) -> Target {
    let cert = ureq::tls::Certificate::from_pem(ca).expect("CA PEM");
    let tls = ureq::tls::TlsConfig::builder()
        .root_certs(ureq::tls::RootCerts::Specific(Arc::new(vec![cert])))
        .build();
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .tls_config(tls)
        .http_status_as_error(false)
        .timeout_global(Some(Duration::from_secs(30)))
        .user_agent("onefs-sim-load/1.0")
        .build()
        .into();
    let mut t = Target {
        url: url.to_string(),
        agent,
        cookie: String::new(),
        csrf: String::new(),
        next: Instant::now(),
    };
    login(&mut t);
    get(&t, "/platform/1/cluster/config").expect("cluster config");
    for key in keys {
        get(&t, &format!("/platform/1/statistics/keys/{key}")).expect("key metadata");
    }
    t
}

fn login(t: &mut Target) {
    let body = r#"{"username":"statsreader","password":"s3kret","services":["platform"]}"#;
    let r = t
        .agent
        .post(format!("{}/session/1/session", t.url))
        .header("Content-Type", "application/json")
        .send(body)
        .expect("login");
    assert_eq!(r.status().as_u16(), 201, "login");
    for c in r.headers().get_all("set-cookie") {
        let c = c.to_str().unwrap_or("");
        let pair = c.split(';').next().unwrap_or("");
        if pair.starts_with("isisessid=") {
            t.cookie = pair.to_string();
        } else if let Some(v) = pair.strip_prefix("isicsrf=") {
            t.csrf = v.to_string();
        }
    }
}

/// GET with the session; returns status and body length.
fn get(t: &Target, path: &str) -> Result<(u16, usize), ureq::Error> {
    let mut r = t
        .agent
        .get(format!("{}{path}", t.url))
        .header("Cookie", &t.cookie)
        .header("X-CSRF-Token", &t.csrf)
        .header("Referer", &t.url)
        .call()?;
    let body = r.body_mut().with_config().limit(64 << 20).read_to_vec()?;
    Ok((r.status().as_u16(), body.len()))
}

fn poll_loop(
    mut group: Vec<Target>,
    paths: &[String],
    interval: Duration,
    end: Instant,
    totals: &Totals,
) {
    while let Some(i) = (0..group.len()).min_by_key(|&i| group[i].next) {
        let due = group[i].next;
        if due >= end {
            return;
        }
        sleep_until(due);
        for path in paths {
            let started = Instant::now();
            let mut result = get(&group[i], path);
            if matches!(result, Ok((401, _))) {
                login(&mut group[i]);
                result = get(&group[i], path);
            }
            let us = started.elapsed().as_micros() as u64;
            totals.requests.fetch_add(1, Ordering::Relaxed);
            totals.latency_us.fetch_add(us, Ordering::Relaxed);
            totals.max_latency_us.fetch_max(us, Ordering::Relaxed);
            match result {
                Ok((200, bytes)) => {
                    totals.bytes.fetch_add(bytes as u64, Ordering::Relaxed);
                }
                _ => {
                    totals.errors.fetch_add(1, Ordering::Relaxed);
                }
            }
        }
        totals.polls.fetch_add(1, Ordering::Relaxed);
        group[i].next = due + interval;
    }
}

/// The `/statistics/current` requests for `keys`, each target under the limit.
fn split_paths(keys: &[&str]) -> Vec<String> {
    let base = "/platform/1/statistics/current?degraded=true&devid=all&show_nodes=true";
    let mut paths = vec![base.to_string()];
    for key in keys {
        let last = paths.last_mut().expect("one path");
        if last.len() + 5 + key.len() >= MAX_TARGET && last.len() > base.len() {
            paths.push(base.to_string());
        }
        let last = paths.last_mut().expect("one path");
        last.push_str("&key=");
        last.push_str(key);
    }
    paths
}

/// Connections a cluster accepted so far, from its `/sim/counters` (1 = keep-alive worked).
fn sample_connections(url: &str, ca: &[u8]) -> u64 {
    let cert = ureq::tls::Certificate::from_pem(ca).expect("CA PEM");
    let tls = ureq::tls::TlsConfig::builder()
        .root_certs(ureq::tls::RootCerts::Specific(Arc::new(vec![cert])))
        .build();
    let agent: ureq::Agent = ureq::Agent::config_builder().tls_config(tls).build().into();
    let text = agent
        .get(format!("{url}/sim/counters"))
        .call()
        .and_then(|mut r| r.body_mut().read_to_string())
        .unwrap_or_default();
    let counters: serde_json::Value = serde_json::from_str(&text).unwrap_or_default();
    // Minus the one this request opened.
    counters["connections"]
        .as_u64()
        .unwrap_or(0)
        .saturating_sub(1)
}

fn sleep_until(t: Instant) {
    let now = Instant::now();
    if t > now {
        std::thread::sleep(t - now);
    }
}

/// User + system CPU seconds of a process, from `/proc/<pid>/stat` (clock ticks of 1/100 s).
fn cpu_seconds(pid: u32) -> f64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    let after_name = stat.rsplit_once(')').map_or("", |(_, rest)| rest);
    let fields: Vec<&str> = after_name.split_whitespace().collect();
    let ticks = |i: usize| {
        fields
            .get(i)
            .and_then(|f| f.parse::<f64>().ok())
            .unwrap_or(0.0)
    };
    // Fields 14 (utime) and 15 (stime) of stat(5); `fields` starts at field 3.
    (ticks(11) + ticks(12)) / clock_ticks()
}

fn clock_ticks() -> f64 {
    Command::new("getconf")
        .arg("CLK_TCK")
        .output()
        .ok()
        .and_then(|o| String::from_utf8(o.stdout).ok())
        .and_then(|s| s.trim().parse().ok())
        .unwrap_or(100.0)
}

fn status_field(pid: u32, name: &str) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .unwrap_or_default()
        .lines()
        .find(|l| l.starts_with(name))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|v| v.parse().ok())
        .unwrap_or(0)
}

impl Drop for SimProcess {
    fn drop(&mut self) {
        let pid = self.0.id().to_string();
        let _ = Command::new("kill").args(["-TERM", &pid]).status();
        let deadline = Instant::now() + Duration::from_secs(5);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.0.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}
