//! idic's own metrics, `/health` and `/ready` (`[telemetry]`), scraped during a
//! real run against onefs-sim with the jsonl sink, and checked against what
//! happened: the points the sink wrote, the cycles a faulted cluster failed,
//! the logins. Also the long-run helpers: `$file:` secrets and SIGUSR1.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::Path;
use std::time::Duration;

use onefs_sim::{ClusterSpec, Malformed};

use crate::collect::{jsonl_setup, read_lines};
use crate::promd::free_port;
use crate::sim;
use crate::util::{Dir, Running};

const STATS: &[&str] = &["cluster.cpu.idle.avg", "node.ifs.bytes.in.rate"];

/// GET `path` on `port`; returns the status and the body.
fn get(port: u16, path: &str, auth: Option<&str>) -> (u16, String) {
    let Ok(mut s) = TcpStream::connect(("127.0.0.1", port)) else {
        return (0, String::new());
    };
    let auth = auth.map_or(String::new(), |a| format!("Authorization: Basic {a}\r\n"));
    write!(s, "GET {path} HTTP/1.0\r\nHost: x\r\n{auth}\r\n").unwrap();
    let mut text = String::new();
    let _ = s.read_to_string(&mut text);
    let status = text
        .split(' ')
        .nth(1)
        .and_then(|c| c.parse().ok())
        .unwrap_or(0);
    let body = text.split_once("\r\n\r\n").map_or("", |(_, b)| b);
    (status, body.to_string())
}

/// Appends a `[telemetry]` section listening on `port` to the config file.
fn listen_on(config: &Path, port: u16) {
    let text = std::fs::read_to_string(config).unwrap();
    std::fs::write(
        config,
        format!("{text}\n[telemetry]\nlisten = \"127.0.0.1:{port}\"\n"),
    )
    .unwrap();
}

/// The sum of every sample of `name` whose labels contain all of `labels`.
fn value(body: &str, name: &str, labels: &[&str]) -> f64 {
    body.lines()
        .filter(|l| !l.starts_with('#'))
        .filter_map(|l| {
            let (series, v) = l.rsplit_once(' ')?;
            let bare = series.split('{').next()?;
            (bare == name && labels.iter().all(|want| series.contains(want)))
                .then(|| v.parse::<f64>().ok())?
        })
        .sum()
}

#[test]
fn telemetry_counts_what_happened_during_a_run_and_probes_follow_readiness() {
    let dir = Dir::new();
    let c = sim::clusters(
        &dir,
        vec![ClusterSpec::new("TelOne"), ClusterSpec::new("TelTwo")],
    );
    let port = free_port();
    let telemetry = format!(
        "[telemetry]\nlisten = \"127.0.0.1:{port}\"\nusername = \"ops\"\npassword = \"$file:{}\"\n",
        dir.write("telemetry.pw", "scrape-me\n").display()
    );
    let lib = crate::util::workspace_plugin("jsonl");
    let plugins = dir.plugin_dir(&[(&lib, "libjsonl.so")]);
    let out = dir.join("points.jsonl");
    let text = sim::sinks_config(
        "\"jsonl\"",
        "",
        &format!(
            "[jsonl]\npath = {:?}\n\n{telemetry}",
            out.display().to_string()
        ),
        &c,
        STATS,
    );
    let config = dir.write("idic.toml", &text);
    // TelTwo refuses connections at first: /ready must wait for TelOne only,
    // and its failed connects are counted by host:port.
    let two = c.sim.cluster("TelTwo").unwrap();
    two.faults().set_down(true);
    let mut idic = Running::start(&dir, &config, &plugins, &[]);
    idic.wait_until(Duration::from_secs(20), "/health answers", || {
        get(port, "/health", None).0 == 200
    });
    idic.wait_until(Duration::from_secs(30), "/ready says ready", || {
        get(port, "/ready", None).0 == 200
    });
    two.faults().set_down(false);
    // Two failed cycles on TelOne, then everything flows.
    c.sim
        .cluster("TelOne")
        .unwrap()
        .faults()
        .set_malformed_for(Malformed::HtmlPage, 2);
    let auth = "b3BzOnNjcmFwZS1tZQ=="; // ops:scrape-me
    idic.wait_until(
        Duration::from_secs(90),
        "both clusters delivered after the faults",
        || {
            let body = get(port, "/metrics", Some(auth)).1;
            value(
                &body,
                "idic_cluster_cycles_failed_total",
                &["cluster=\"telone\""],
            ) >= 2.0
                && value(
                    &body,
                    "idic_sink_batches_written_total",
                    &["cluster=\"teltwo\""],
                ) >= 2.0
                && value(
                    &body,
                    "idic_sink_batches_written_total",
                    &["cluster=\"telone\""],
                ) >= 2.0
        },
    );

    let (status, _) = get(port, "/metrics", None);
    assert_eq!(status, 401, "credentials are required for /metrics");
    let (status, _) = get(port, "/metrics", Some("b3BzOndyb25n"));
    assert_eq!(status, 401, "a wrong password is refused");
    let before = read_lines(&out).len() as f64;
    let (status, body) = get(port, "/metrics", Some(auth));
    let after = read_lines(&out).len() as f64;
    assert_eq!(status, 200);
    // One jsonl line per point: the sink's counter lies between two reads of the file.
    let written = value(&body, "idic_sink_points_written_total", &["sink=\"jsonl\""]);
    assert!(
        before <= written && written <= after,
        "{before} <= {written} <= {after}\n{body}"
    );
    for cluster in ["telone", "teltwo"] {
        let l = format!("cluster=\"{cluster}\"");
        let cycles = value(&body, "idic_cluster_cycles_total", &[&l]);
        let decoded = value(&body, "idic_cluster_points_decoded_total", &[&l]);
        let batches = value(&body, "idic_sink_batches_written_total", &[&l]);
        assert!(
            cycles >= batches && batches >= 2.0,
            "{cluster}: {cycles} cycles, {batches} batches\n{body}"
        );
        assert!(
            decoded >= value(&body, "idic_sink_points_written_total", &[&l]),
            "{body}"
        );
        assert!(
            value(&body, "idic_cluster_answer_bytes_total", &[&l]) > 0.0,
            "{body}"
        );
        assert_eq!(
            value(&body, "idic_cluster_logins_total", &[&l]),
            1.0,
            "one session each\n{body}"
        );
        assert_eq!(value(&body, "idic_cluster_connected", &[&l]), 1.0, "{body}");
        let polls = value(&body, "idic_cluster_poll_duration_seconds_count", &[&l]);
        let failed = value(&body, "idic_cluster_cycles_failed_total", &[&l]);
        assert_eq!(polls, cycles + failed, "every cycle is timed\n{body}");
    }
    assert_eq!(
        value(
            &body,
            "idic_cluster_cycles_failed_total",
            &["cluster=\"telone\""]
        ),
        2.0,
        "{body}"
    );
    assert_eq!(
        value(
            &body,
            "idic_cluster_cycles_failed_total",
            &["cluster=\"teltwo\""]
        ),
        0.0,
        "{body}"
    );
    let target = format!("target=\"127.0.0.1:{}\"", two.port());
    assert!(
        value(&body, "idic_cluster_connect_failures_total", &[&target]) >= 1.0,
        "{body}"
    );
    assert_eq!(
        value(&body, "idic_sink_dropped_batches_total", &[]),
        0.0,
        "{body}"
    );
    assert_eq!(
        value(&body, "idic_plugin_info", &["plugin=\"jsonl\""]),
        1.0,
        "{body}"
    );
    assert_eq!(value(&body, "idic_build_info", &[]), 1.0, "{body}");
    assert_eq!(value(&body, "idic_panics_total", &[]), 0.0, "{body}");

    // Every metric the shipped Grafana dashboard queries is one idic exports.
    let dashboard = std::fs::read_to_string(
        crate::util::workspace_root().join("contrib/grafana/idic-telemetry.json"),
    )
    .unwrap();
    serde_json::from_str::<serde_json::Value>(&dashboard).expect("the dashboard is JSON");
    let exported: Vec<&str> = body
        .lines()
        .filter_map(|l| l.strip_prefix("# TYPE "))
        .filter_map(|l| l.split(' ').next())
        .collect();
    let mut queried = 0;
    for word in dashboard.split(|c: char| !(c.is_ascii_alphanumeric() || c == '_')) {
        if !word.starts_with("idic_") {
            continue;
        }
        queried += 1;
        let base = word.strip_suffix("_bucket").unwrap_or(word);
        assert!(
            exported.contains(&base),
            "the dashboard queries {word}, which idic does not export"
        );
    }
    assert!(
        queried >= 15,
        "{queried} metric references in the dashboard"
    );

    // A reload is counted.
    idic.signal("HUP");
    idic.wait_until(Duration::from_secs(30), "the reload is counted", || {
        let body = get(port, "/metrics", Some(auth)).1;
        value(&body, "idic_reloads_total", &["result=\"ok\""]) == 1.0
    });
    idic.signal("TERM");
    assert_eq!(idic.wait_exit(Duration::from_secs(30)), 0);
}

#[test]
fn ready_is_503_while_no_cluster_is_connected() {
    let dir = Dir::new();
    let c = sim::clusters(&dir, vec![ClusterSpec::new("Down")]);
    c.sim.cluster("Down").unwrap().faults().set_down(true);
    let port = free_port();
    let (plugins, config, _) = sim::file_sink(
        &dir,
        &c,
        "jsonl",
        &crate::util::workspace_plugin("jsonl"),
        STATS,
        "",
    );
    listen_on(&config, port);
    let mut idic = Running::start(&dir, &config, &plugins, &[]);
    idic.wait_log(Duration::from_secs(20), "a failed connect", |l| {
        l.contains("cannot start collecting")
    });
    assert_eq!(get(port, "/health", None).0, 200);
    let (status, body) = get(port, "/ready", None);
    assert_eq!(
        (status, body.as_str()),
        (503, "not ready: no cluster is connected\n")
    );
    assert_eq!(
        get(port, "/metrics", None).0,
        200,
        "no credentials configured"
    );
    assert_eq!(get(port, "/nothing", None).0, 404);
}

#[test]
fn a_cluster_password_can_come_from_a_secret_file() {
    let dir = Dir::new();
    let c = sim::clusters(&dir, vec![ClusterSpec::new("FromFile")]);
    let (plugins, config, out) = sim::file_sink(
        &dir,
        &c,
        "jsonl",
        &crate::util::workspace_plugin("jsonl"),
        STATS,
        "",
    );
    let secret = dir.write("cluster.pw", "s3kret\n");
    let text = std::fs::read_to_string(&config)
        .unwrap()
        .replace("\"s3kret\"", &format!("\"$file:{}\"", secret.display()));
    std::fs::write(&config, text).unwrap();
    let mut idic = Running::start(&dir, &config, &plugins, &[]);
    idic.wait_until(Duration::from_secs(30), "points from the cluster", || {
        !read_lines(&out).is_empty()
    });
    // A missing secret file is one clear message at start.
    let missing = std::fs::read_to_string(&config)
        .unwrap()
        .replace(&secret.display().to_string(), "/nonexistent/pw");
    let bad = dir.write("bad.toml", &missing);
    let o = crate::util::idic(&["check-config", bad.to_str().unwrap()]);
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(!o.status.success());
    assert!(
        err.contains("cannot read the secret file /nonexistent/pw"),
        "{err}"
    );
    assert!(!err.contains("s3kret"), "{err}");
}

#[test]
fn sigusr1_reopens_a_rotated_log_file() {
    let dir = Dir::new();
    let c = sim::clusters(&dir, vec![ClusterSpec::new("Rotate")]);
    let (plugins, config, _) = sim::file_sink(
        &dir,
        &c,
        "jsonl",
        &crate::util::workspace_plugin("jsonl"),
        STATS,
        "",
    );
    let mut idic = Running::start(&dir, &config, &plugins, &[]);
    idic.wait_log(Duration::from_secs(30), "connected", |l| {
        l.contains("connected to")
    });
    let rotated = dir.join("idic.log.1");
    std::fs::rename(&idic.log, &rotated).unwrap();
    idic.signal("USR1");
    idic.wait_log(Duration::from_secs(20), "the log in a fresh file", |l| {
        l.contains("SIGUSR1: log file reopened")
    });
    let old = std::fs::read_to_string(&rotated).unwrap();
    assert!(!old.contains("reopened"), "the rotated file is let go of");
    idic.signal("TERM");
    assert_eq!(idic.wait_exit(Duration::from_secs(30)), 0);
}

#[test]
fn buckets_due_at_the_same_tick_reach_the_sink_as_one_batch() {
    // cluster.cpu.idle.avg updates every 5 s, cluster.health every 10 s: every
    // 10 s cycle falls on a 5 s tick and shares its batch, so the sink gets one
    // write per 5 s tick, not one per bucket's cycle.
    let dir = Dir::new();
    let c = sim::clusters(&dir, vec![ClusterSpec::new("Ticks")]);
    let port = free_port();
    let (plugins, config, out) =
        jsonl_setup(&dir, &c, &["cluster.cpu.idle.avg", "cluster.health"], "");
    listen_on(&config, port);
    let mut idic = Running::start(&dir, &config, &plugins, &[]);
    let slow = || {
        read_lines(&out)
            .iter()
            .filter(|l| l.measurement == "cluster.health")
            .count() as f64
    };
    idic.wait_until(
        Duration::from_secs(90),
        "four 10 s cycles delivered",
        || slow() >= 4.0,
    );
    // Read in this order, each count can only be behind the next one's moment:
    // slow cycles written <= slow cycles run, and batches written <= one per
    // 5 s tick run (cycles run minus slow cycles run).
    let slow_cycles = slow();
    let body = get(port, "/metrics", None).1;
    let cycles = value(&body, "idic_cluster_cycles_total", &["cluster=\"ticks\""]);
    let batches = value(
        &body,
        "idic_sink_batches_written_total",
        &["cluster=\"ticks\""],
    );
    assert!(
        batches >= 4.0 && batches <= cycles - slow_cycles + 1.0,
        "{batches} batches for {cycles} cycles of which {slow_cycles} of the 10 s bucket\n{body}"
    );
}
