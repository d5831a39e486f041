//! The whole `/metrics` body for a fixed set of points, shaped as idic decodes
//! real OneFS answers (scalars, node-scoped values, protocol rows with `op_id`,
//! `.total` records, cache counters, heat lists, summaries), compared with
//! `tests/golden/metrics.txt`. The body is sorted by construction (families by
//! name, series by label set), so any naming change shows up as a diff in review.
//! `UPDATE_GOLDEN=1 cargo test -p idic-prometheus golden` rewrites the file.
//! `promtool check metrics` lints it.

use std::io::Write;
use std::path::PathBuf;
use std::process::{Command, Stdio};

use idic_plugin_api::{Plugin, Point, Sink, StatInfo};
use prometheus::Prometheus;

use crate::support::*;

const T: i64 = 1_700_000_000;

fn golden_path() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/golden/metrics.txt")
}

fn stats() -> Vec<StatInfo> {
    vec![
        stat(
            "cluster.cpu.idle.avg",
            "Cluster average of idle CPU usage in tenths of a percent",
            5,
        ),
        stat(
            "cluster.health",
            "Health of the cluster: 0 = Healthy, 1 = Attention, 2 = Down",
            30,
        ),
        stat(
            "cluster.protostats.nfs",
            "NFS3 protocol statistics per operation",
            5,
        ),
        stat(
            "cluster.protostats.nfs.total",
            "NFS3 protocol statistics for all operations",
            5,
        ),
        stat("ifs.bytes.total", "Total cluster bytes", 30),
        stat("node.ifs.cache", "Cache statistics", 5),
        stat(
            "node.ifs.heat.lock.total",
            "Hottest files by lock events",
            30,
        ),
        stat("node.load.1min", "Load average over the last minute", 30),
        stat("node.summary.client", "OneFS client summary statistics", 5),
        stat("node.summary.drive", "OneFS drive summary statistics", 5),
        stat(
            "node.summary.protocol",
            "OneFS protocol summary statistics",
            5,
        ),
    ]
}

/// Node-scoped tags for LNN `n` (devid = n + 1, as on a cluster that lost a node).
fn node(n: u32) -> [(&'static str, &'static str); 3] {
    const DEVIDS: [&str; 4] = ["1", "2", "3", "4"];
    const LNNS: [&str; 4] = ["1", "2", "3", "4"];
    [
        ("cluster", "c1"),
        ("devid", DEVIDS[n as usize]),
        ("node", LNNS[n as usize - 1]),
    ]
}

fn points() -> Vec<Point> {
    let proto_tags = |op: &'static str, class: &'static str| -> Vec<(&'static str, &'static str)> {
        vec![("cluster", "c1"), ("class_name", class), ("op_name", op)]
    };
    let (read, write, getattr) = (
        proto_tags("read", "read"),
        proto_tags("write", "write"),
        proto_tags("getattr", "file_state"),
    );
    let n1 = node(1);
    let n2 = node(2);
    let n3 = node(3);
    let heat_system = [
        ("cluster", "c1"),
        ("devid", "2"),
        ("node", "1"),
        ("lin", "1:0000:0000"),
        ("path", "SYSTEM (0x0)"),
    ];
    let heat_file = [
        ("cluster", "c1"),
        ("devid", "2"),
        ("node", "1"),
        ("lin", "1:2a3f:0001"),
        ("path", "/ifs/data/project7/file1.dat"),
    ];
    let client = [
        ("cluster", "c1"),
        ("node", "1"),
        ("class", "read"),
        ("local_addr", "10.0.0.11"),
        ("local_name", "c1-1"),
        ("protocol", "smb2"),
        ("remote_addr", "10.1.2.3"),
        ("remote_name", "ws-17 \"lab\""),
        ("user_id", "UID:2001"),
        ("user_name", "CORP\\alice"),
        ("user_type", "user"),
    ];
    let drive = [("cluster", "c1"), ("drive_id", "1:3"), ("type", "SATA")];
    let protocol = [
        ("cluster", "c1"),
        ("node", "1"),
        ("class", "read"),
        ("operation", "read"),
        ("protocol", "nfs3"),
    ];
    vec![
        cpu_idle("c1", T, 912.0),
        point(
            "cluster.health",
            T,
            &[(&[("cluster", "c1")], &[("value", 0.0)])],
        ),
        point(
            "ifs.bytes.total",
            T,
            &[(&[("cluster", "c1")], &[("value", 1_969_570_185_969_664.0)])],
        ),
        point(
            "node.load.1min",
            T + 1,
            &[
                (&n1, &[("value", 1.25)]),
                (&n2, &[("value", 0.5)]),
                (&n3, &[("value", 12.0)]),
            ],
        ),
        point(
            "cluster.protostats.nfs",
            T + 2,
            &[
                (
                    &read,
                    &[
                        ("op_id", 12.0),
                        ("op_count", 2110.0),
                        ("op_rate", 422.2),
                        ("in_rate", 50_664.0),
                        ("out_rate", 27_668_480.0),
                        ("time_avg", 310.5),
                    ],
                ),
                (
                    &write,
                    &[
                        ("op_id", 13.0),
                        ("op_count", 750.0),
                        ("op_rate", 150.0),
                        ("in_rate", 9_830_400.0),
                        ("out_rate", 18_000.0),
                        ("time_avg", 655.0),
                    ],
                ),
                (
                    &getattr,
                    &[
                        ("op_id", 3.0),
                        ("op_count", 9.0),
                        ("op_rate", 1.8),
                        ("in_rate", 216.0),
                        ("out_rate", 324.0),
                        ("time_avg", 95.25),
                    ],
                ),
            ],
        ),
        point(
            "cluster.protostats.nfs.total",
            T + 2,
            &[(
                &[("cluster", "c1")],
                &[
                    ("op_count", 2869.0),
                    ("op_rate", 574.0),
                    ("in_rate", 9_881_280.0),
                    ("out_rate", 27_686_804.0),
                    ("time_avg", 402.125),
                ],
            )],
        ),
        point(
            "node.ifs.cache",
            T + 3,
            &[(
                &n1,
                &[
                    ("l1_data_read_start", 81_234_567.0),
                    ("l1_data_read_hit", 61_000_000.0),
                    ("l1_data_read_miss", 20_234_567.0),
                    ("oldest_page_age", 0.001),
                ],
            )],
        ),
        point(
            "node.ifs.heat.lock.total",
            T + 4,
            &[
                (&heat_system, &[("op_rate", 1520.5)]),
                (&heat_file, &[("op_rate", 760.25)]),
            ],
        ),
        point(
            "node.summary.protocol",
            T + 5,
            &[(
                &protocol,
                &[
                    ("in", 1.5e7),
                    ("operation_rate", 3.25e-5),
                    ("time_avg", 250.0),
                ],
            )],
        ),
        point(
            "node.summary.client",
            T + 5,
            &[(
                &client,
                &[
                    ("in", 4096.0),
                    ("operation_rate", 12.5),
                    ("time_avg", 180.0),
                ],
            )],
        ),
        point(
            "node.summary.drive",
            T + 6,
            &[(
                &drive,
                &[
                    ("busy", 12.5),
                    ("used_bytes_percent", 61.25),
                    ("xfers_in", 88.0),
                ],
            )],
        ),
    ]
}

fn body() -> String {
    let mut sink = Prometheus::default()
        .open(&ctx("c1", "", ANY_PORT, stats()))
        .unwrap();
    sink.write(&points()).unwrap();
    let a = get(sink.local_addr().port(), "/metrics");
    assert_eq!(a.status, 200);
    sink.close().unwrap();
    a.body
}

#[test]
fn metrics_body_matches_the_golden_file() {
    let got = body();
    let path = golden_path();
    if std::env::var_os("UPDATE_GOLDEN").is_some() {
        std::fs::write(&path, &got).unwrap();
        return;
    }
    let want = std::fs::read_to_string(&path).unwrap_or_default();
    if got != want {
        let diff: Vec<String> = diff_lines(&want, &got);
        panic!(
            "/metrics differs from {} (run with UPDATE_GOLDEN=1 to accept):\n{}",
            path.display(),
            diff.join("\n")
        );
    }
}

#[test]
fn golden_file_passes_promtool_check_metrics() {
    if !crate::services::available("promtool", "golden_file_passes_promtool_check_metrics") {
        return;
    }
    let text = std::fs::read_to_string(golden_path()).unwrap();
    let child = Command::new("promtool")
        .args(["check", "metrics"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn();
    let mut child = match child {
        Ok(c) => c,
        Err(e) => panic!(
            "promtool cannot be run ({e}): install Debian's prometheus package \
             (`bash .ci/run` does it) so that this lint runs"
        ),
    };
    child
        .stdin
        .take()
        .unwrap()
        .write_all(text.as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    let report = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    // gostats' names are the contract: lints about naming conventions those names
    // break cannot be fixed here, anything else (syntax, duplicates) must not occur.
    let problems: Vec<&str> = report
        .lines()
        .filter(|l| !l.trim().is_empty())
        .filter(|l| !ACCEPTED_LINTS.iter().any(|a| l.contains(a)))
        .collect();
    // Exit code 3 means "lint problems only"; anything else but 0 is a parse error.
    assert!(
        matches!(out.status.code(), Some(0 | 3)),
        "promtool check metrics failed ({}):\n{report}",
        out.status
    );
    assert!(problems.is_empty(), "promtool check metrics:\n{report}");
}

/// promtool lints that gostats' names trigger by design (`ifs.bytes.total`,
/// `node.ifs.heat.*.total`, fields named `op_count`, `node.summary.*`).
const ACCEPTED_LINTS: &[&str] = &[
    "non-counter metrics should not have \"_total\" suffix",
    "non-histogram and non-summary metrics should not have \"_count\" suffix",
    "metric name should not include type 'summary'",
];

fn diff_lines(want: &str, got: &str) -> Vec<String> {
    let w: Vec<&str> = want.lines().collect();
    let g: Vec<&str> = got.lines().collect();
    let mut out = Vec::new();
    for l in &w {
        if !g.contains(l) {
            out.push(format!("- {l}"));
        }
    }
    for l in &g {
        if !w.contains(l) {
            out.push(format!("+ {l}"));
        }
    }
    out
}
