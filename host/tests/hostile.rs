//! Hostile answers end to end (issue #14): clusters answering, for two answers
//! each, truncated JSON, an HTML page, values of the wrong type, random bytes, an
//! endless body, a body at a byte a second and a reset mid-body, beside a calm
//! cluster. idic must stay alive, log each cluster's problem once per kind, keep
//! the calm cluster on schedule, keep its memory bounded, and collect every key of
//! every faulted cluster again afterwards.

use std::collections::BTreeSet;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use onefs_sim::{ClusterSpec, Malformed};

use crate::collect::{jsonl_setup, read_lines};
use crate::sim;
use crate::util::{Dir, Running};

/// Keys of one 5 s bucket: cluster- and node-scoped.
const KEYS: [&str; 3] = ["cluster.cpu.idle.avg", "node.load.1min", "node.load.5min"];

/// The faulted clusters, by the kind of answer each gives.
const HOSTILE: [(&str, Malformed); 7] = [
    ("Truncated", Malformed::TruncatedJson),
    ("Html", Malformed::HtmlPage),
    ("WrongTypes", Malformed::WrongTypes),
    ("Random", Malformed::RandomBytes),
    ("Oversized", Malformed::Oversized),
    ("Slow", Malformed::SlowBody),
    ("Reset", Malformed::ResetMidBody),
];

/// What the process has used at most, in bytes (`VmHWM`).
fn peak_rss(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
        .map_or(0, |kb| kb * 1024)
}

fn unix_now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64
}

#[test]
fn hostile_answers_are_survived_logged_once_and_full_collection_resumes() {
    let dir = Dir::new();
    let mut specs: Vec<ClusterSpec> = HOSTILE.iter().map(|(n, _)| ClusterSpec::new(*n)).collect();
    specs.push(ClusterSpec::new("Calm"));
    let c = sim::clusters(&dir, specs);
    let (plugins, config, out) = jsonl_setup(&dir, &c, &KEYS, "request_timeout = 3");
    let mut idic = Running::start(&dir, &config, &plugins, &[]);
    let clusters_seen = |since: i64| -> BTreeSet<(String, String)> {
        read_lines(&out)
            .into_iter()
            .filter(|l| l.time >= since)
            .map(|l| (l.cluster, l.measurement))
            .collect()
    };
    let everything = |since: i64| {
        let seen = clusters_seen(since);
        HOSTILE.iter().map(|(n, _)| *n).chain(["Calm"]).all(|n| {
            KEYS.iter()
                .all(|k| seen.contains(&(n.to_lowercase(), k.to_string())))
        })
    };
    idic.wait_until(
        Duration::from_secs(40),
        "every key of every cluster",
        || everything(0),
    );

    for (name, kind) in HOSTILE {
        c.sim
            .cluster(name)
            .unwrap()
            .faults()
            .set_malformed_for(kind, 2);
    }
    idic.wait_until(
        Duration::from_secs(60),
        "two hostile answers from every faulted cluster",
        || {
            HOSTILE.iter().all(|(n, _)| {
                c.sim
                    .cluster(n)
                    .unwrap()
                    .faults()
                    .settings()
                    .malformed
                    .is_none()
            })
        },
    );
    let fault_over = unix_now();
    idic.wait_until(
        Duration::from_secs(90),
        "every key of every faulted cluster collected again",
        || everything(fault_over),
    );

    let log = idic.log_text();
    for (name, kind) in HOSTILE {
        let cluster = format!("cluster={}", name.to_lowercase());
        let errors = log
            .lines()
            .filter(|l| l.contains(" ERROR ") && l.contains(&cluster))
            .count();
        if kind == Malformed::WrongTypes {
            let warned = log
                .lines()
                .filter(|l| l.contains(&cluster) && l.contains("answered no usable value"))
                .count();
            assert_eq!(
                (errors, warned),
                (0, 1),
                "{name}: one warning for all its keys\n{log}"
            );
        } else {
            assert!(
                (1..=2).contains(&errors),
                "{name}: {errors} error lines, once per kind\n{log}"
            );
        }
    }
    assert!(
        !log.contains("cluster=calm collecting"),
        "the calm cluster never failed\n{log}"
    );
    let calm: Vec<i64> = read_lines(&out)
        .into_iter()
        .filter(|l| l.cluster == "calm" && l.measurement == "cluster.cpu.idle.avg")
        .map(|l| l.time)
        .collect();
    for pair in calm.windows(2) {
        assert_eq!(pair[1] - pair[0], 5, "calm cluster on schedule: {calm:?}");
    }
    let peak = peak_rss(idic.child.id());
    eprintln!("idic peak RSS over the hostile run: {} MiB", peak >> 20);
    assert!(peak < 256 << 20, "memory bounded: peak {} MiB", peak >> 20);
}
