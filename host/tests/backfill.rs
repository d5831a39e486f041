//! History backfill end to end (issue 12): the built `idic` with the influxdb
//! and jsonl plugins, simulated clusters over HTTPS whose clocks the tests move
//! forward (a 60 s stop, a two-minute outage, an hour) instead of waiting, and
//! a real `influxd`. Every expected timestamp is checked from the data; values
//! against the simulator's `expected`.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use onefs_sim::{ClusterSpec, Sim, SimConfig, EXAMPLE_STAT_GROUPS};
use serde_json::Value;

use crate::influxd::Influxd;
use crate::sim::{self, Clusters};
use crate::util::{self, Dir, Running};

/// A statistic with history (5 s in the simulator).
const CPU: &str = "cluster.cpu.idle.avg";
/// A node-scoped statistic with history (5 s).
const LOAD: &str = "node.load.1min";

/// A config for `sinks` with fast retries, the clusters, `stats`, `extra`
/// `[global]` lines and `rest` (the sinks' sections).
fn config(c: &Clusters, sinks: &str, stats: &[&str], extra: &str, rest: &str) -> String {
    let global = format!(
        "stats_processor_retry_interval = 1\nmax_backoff = 2\nstats_processor_max_retries = 1\n{extra}"
    );
    sim::sinks_config(sinks, &global, rest, c, stats)
}

fn influx(port: u16, db: &str) -> String {
    format!("host = \"127.0.0.1\"\nport = \"{port}\"\ndatabase = \"{db}\"\nauthenticated = false\n")
}

fn plugins(dir: &Dir) -> PathBuf {
    dir.plugin_dir(&[
        (&util::workspace_plugin("influxdb"), "libinfluxdb.so"),
        (&util::workspace_plugin("jsonl"), "libjsonl.so"),
    ])
}

fn spawn(dir: &Dir, config: &Path, plugins: &Path, log: &str) -> Running {
    Running::launch(
        Command::new(util::idic_bin()),
        dir.join(log),
        config,
        plugins,
        &[],
    )
}

fn stop(mut idic: Running) -> String {
    idic.signal("TERM");
    assert_eq!(idic.wait_exit(Duration::from_secs(30)), 0);
    idic.log_text()
}

/// Per devid tag ("" for a cluster-scoped key), the stored times and `value`
/// fields (null when the key has no `value` field) of `key` for `cluster`.
fn stored(
    server: &Influxd,
    db: &str,
    key: &str,
    cluster: &str,
) -> BTreeMap<String, BTreeMap<i64, Value>> {
    let mut out: BTreeMap<String, BTreeMap<i64, Value>> = BTreeMap::new();
    let q = format!("SELECT * FROM \"{key}\" WHERE \"cluster\" = '{cluster}' GROUP BY \"devid\"");
    for s in server.series(db, &q) {
        let devid = s["tags"]["devid"].as_str().unwrap_or("").to_string();
        let columns: Vec<&str> = s["columns"]
            .as_array()
            .unwrap()
            .iter()
            .map(|c| c.as_str().unwrap())
            .collect();
        let value_at = columns.iter().position(|c| *c == "value");
        let times = out.entry(devid).or_default();
        for row in s["values"].as_array().unwrap() {
            let t = row[0].as_i64().unwrap();
            let v = value_at.map_or(Value::Null, |i| row[i].clone());
            times.insert(t, v);
        }
    }
    out
}

fn cpu_times(server: &Influxd, db: &str, cluster: &str) -> BTreeSet<i64> {
    stored(server, db, CPU, cluster)
        .remove("")
        .unwrap_or_default()
        .into_keys()
        .collect()
}

/// The times between the first and the last of `times`, every `step`, that are
/// missing.
pub fn holes(times: &BTreeSet<i64>, step: i64) -> Vec<i64> {
    let (Some(&first), Some(&last)) = (times.first(), times.last()) else {
        return Vec::new();
    };
    (0..)
        .map(|n| first + n * step)
        .take_while(|&t| t <= last)
        .filter(|t| !times.contains(t))
        .collect()
}

/// The interval idic collects `key` at with `min_update_interval_override = 5`.
fn step(sim: &Sim, key: &str) -> i64 {
    i64::from(
        sim.catalog()
            .get(key)
            .unwrap()
            .update_interval()
            .unwrap_or(5)
            .max(5),
    )
}

fn has_history(sim: &Sim, key: &str) -> bool {
    sim.catalog().get(key).unwrap().policies.is_some()
}

fn example_keys() -> Vec<&'static str> {
    EXAMPLE_STAT_GROUPS
        .iter()
        .flat_map(|(_, keys)| keys.iter().copied())
        .collect()
}

fn secs(t: SystemTime) -> i64 {
    t.duration_since(UNIX_EPOCH).unwrap().as_secs() as i64
}

/// Every history key of `keys` is stored without a hole from `from` on, over
/// a window that includes the gap ending after `after`; `Err` says which is
/// not (yet).
fn complete(
    server: &Influxd,
    db: &str,
    sim: &Sim,
    cluster: &str,
    keys: &[&str],
    (from, after): (i64, i64),
) -> Result<(), String> {
    for key in keys.iter().filter(|k| has_history(sim, k)) {
        let series = stored(server, db, key, cluster);
        if series.is_empty() {
            return Err(format!("{key}: nothing stored"));
        }
        for (devid, points) in series {
            let times: BTreeSet<i64> = points.range(from..).map(|(t, _)| *t).collect();
            if times.last().is_none_or(|&t| t < after) {
                return Err(format!("{key} devid {devid:?}: nothing after {after} yet"));
            }
            let missing = holes(&times, step(sim, key));
            if !missing.is_empty() {
                return Err(format!("{key} devid {devid:?}: missing {missing:?}"));
            }
        }
    }
    Ok(())
}

/// The keys listed in the log's "keep no history" lines, with how often each.
fn said_without_history(log: &str) -> BTreeMap<String, usize> {
    let mut said = BTreeMap::new();
    for line in log.lines().filter(|l| l.contains("keep no history")) {
        let list = line.rsplit(": ").next().unwrap_or("");
        for key in list.split(", ") {
            *said.entry(key.trim().to_string()).or_default() += 1;
        }
    }
    said
}

/// Points in a jsonl capture that appear more than once (same measurement,
/// time and devid).
fn duplicates(capture: &Path) -> Vec<String> {
    let text = std::fs::read_to_string(capture).unwrap_or_default();
    let mut seen = BTreeMap::new();
    for line in text.lines() {
        let v: Value = serde_json::from_str(line).unwrap();
        let id = format!(
            "{} {} {}",
            v["measurement"], v["time"], v["rows"][0]["tags"]["devid"]
        );
        *seen.entry(id).or_insert(0) += 1;
    }
    seen.into_iter()
        .filter(|(_, n)| *n > 1)
        .map(|(id, _)| id)
        .collect()
}

#[test]
fn a_restart_after_60_s_fills_every_cycle_of_keys_with_history_with_the_cluster_values() {
    let test =
        "a_restart_after_60_s_fills_every_cycle_of_keys_with_history_with_the_cluster_values";
    if !crate::services::available("influxd", test) {
        return;
    }
    let server = Influxd::start();
    let db = "restart";
    server.create_database(db);
    let dir = Dir::new();
    let c = sim::clusters(&dir, vec![ClusterSpec::new("Restart1")]);
    let cluster = &c.sim.clusters()[0];
    let keys = example_keys();
    let capture = dir.join("capture.jsonl");
    let rest = format!(
        "[influxdb]\n{}\n[sink.capture]\nplugin = \"jsonl\"\npath = {:?}\n",
        influx(server.port, db),
        capture.display().to_string()
    );
    let config = dir.write(
        "idic.toml",
        &config(&c, "[\"influxdb\", \"capture\"]", &keys, "", &rest),
    );
    let plugins = plugins(&dir);
    let mut idic = spawn(&dir, &config, &plugins, "first.log");
    idic.wait_until(Duration::from_secs(60), "two cycles stored", || {
        cpu_times(&server, db, "restart1").len() >= 2
    });
    stop(idic);
    let last = *cpu_times(&server, db, "restart1").last().unwrap();

    // idic is away for 60 s of the cluster's time.
    cluster.advance_clock(60);
    let mut idic = spawn(&dir, &config, &plugins, "second.log");
    idic.wait_until(
        Duration::from_secs(90),
        "every history key complete",
        || complete(&server, db, &c.sim, "restart1", &keys, (0, last + 30)).is_ok(),
    );
    let log = stop(idic);

    let mut filled = 0;
    for key in &keys {
        let step = step(&c.sim, key);
        for (devid, points) in stored(&server, db, key, "restart1") {
            let times: BTreeSet<i64> = points.keys().copied().collect();
            let gap: Vec<i64> = (1..60 / step).map(|n| last + n * step).collect();
            if has_history(&c.sim, key) {
                assert_eq!(
                    holes(&times, step),
                    Vec::<i64>::new(),
                    "{key} devid {devid:?}"
                );
                filled += 1;
                // Exactly the simulator's values, backfilled ones included.
                let d: u32 = devid.parse().unwrap_or(0);
                for (t, v) in points.iter().filter(|(_, v)| !v.is_null()) {
                    let want = cluster.expected(key, d, *t).unwrap();
                    if want.is_number() {
                        assert_eq!(v.as_f64(), want.as_f64(), "{key} devid {d} at {t}");
                    }
                }
            } else if step == 5 {
                assert!(
                    gap.iter().any(|t| !times.contains(t)),
                    "{key} keeps no history, yet its gap is filled"
                );
            }
        }
    }
    assert!(filled > 100, "only {filled} series with history");
    // Keys without history are said so once; all cluster.protostats.* among them.
    let said = said_without_history(&log);
    let protostats: Vec<&&str> = keys
        .iter()
        .filter(|k| k.starts_with("cluster.protostats."))
        .collect();
    for key in protostats {
        assert_eq!(said.get(*key), Some(&1), "{key}: {said:?}\n{log}");
    }
    assert!(said.values().all(|&n| n == 1), "{said:?}");
    assert_eq!(duplicates(&capture), Vec::<String>::new());
}

#[test]
fn a_cluster_refusing_connections_for_two_minutes_is_filled_when_it_returns() {
    let test = "a_cluster_refusing_connections_for_two_minutes_is_filled_when_it_returns";
    if !crate::services::available("influxd", test) {
        return;
    }
    let server = Influxd::start();
    let db = "outage";
    server.create_database(db);
    let dir = Dir::new();
    let c = sim::clusters(&dir, vec![ClusterSpec::new("Outage1")]);
    let cluster = &c.sim.clusters()[0];
    let config = dir.write(
        "idic.toml",
        &config(
            &c,
            "\"influxdb\"",
            &[CPU, LOAD],
            "",
            &format!("[influxdb]\n{}", influx(server.port, db)),
        ),
    );
    let plugins = plugins(&dir);
    let mut idic = spawn(&dir, &config, &plugins, "idic.log");
    idic.wait_until(Duration::from_secs(60), "two cycles stored", || {
        cpu_times(&server, db, "outage1").len() >= 2
    });
    let last = *cpu_times(&server, db, "outage1").last().unwrap();
    cluster.faults().set_down(true);
    // Let a few cycles fail against the refusing cluster.
    std::thread::sleep(Duration::from_secs(6));
    // Two minutes of the cluster's time pass while it refuses connections.
    cluster.advance_clock(120);
    cluster.faults().set_down(false);
    idic.wait_until(Duration::from_secs(60), "the outage filled", || {
        complete(
            &server,
            db,
            &c.sim,
            "outage1",
            &[CPU, LOAD],
            (0, last + 120),
        )
        .is_ok()
    });
    let log = stop(idic);
    assert!(log.contains("backfilled 2 statistics"), "{log}");
    let times = cpu_times(&server, db, "outage1");
    assert!(times.range(last + 1..last + 120).count() >= 23, "{times:?}");
}

#[test]
fn a_gap_longer_than_backfill_max_fills_exactly_the_capped_window() {
    let test = "a_gap_longer_than_backfill_max_fills_exactly_the_capped_window";
    if !crate::services::available("influxd", test) {
        return;
    }
    let server = Influxd::start();
    let db = "capped";
    server.create_database(db);
    let dir = Dir::new();
    let c = sim::clusters(&dir, vec![ClusterSpec::new("Capped1")]);
    let cluster = &c.sim.clusters()[0];
    let config = dir.write(
        "idic.toml",
        &config(
            &c,
            "\"influxdb\"",
            &[CPU],
            "backfill_max = 60",
            &format!("[influxdb]\n{}", influx(server.port, db)),
        ),
    );
    let plugins = plugins(&dir);
    let mut idic = spawn(&dir, &config, &plugins, "first.log");
    idic.wait_until(Duration::from_secs(60), "a cycle stored", || {
        !cpu_times(&server, db, "capped1").is_empty()
    });
    stop(idic);
    let last = *cpu_times(&server, db, "capped1").last().unwrap();
    cluster.advance_clock(300);
    let restarted = SystemTime::now();
    let mut idic = spawn(&dir, &config, &plugins, "second.log");
    idic.wait_log(Duration::from_secs(60), "the capped window filled", |log| {
        log.contains("backfilled 1 statistics")
    });
    let log = stop(idic);
    // The first live cycle after the restart, in the cluster's time.
    let offset = cluster.now() - secs(SystemTime::now());
    let first_live = cluster
        .request_log()
        .iter()
        .filter(|r| r.at >= restarted && r.target.starts_with("/platform/1/statistics/current"))
        .map(|r| secs(r.at) + offset)
        .next()
        .expect("a live cycle after the restart");
    let first_live = first_live - first_live % 5;
    let times = cpu_times(&server, db, "capped1");
    let in_gap: Vec<i64> = times.range(last + 1..first_live).copied().collect();
    let want: Vec<i64> = (1..=12).rev().map(|n| first_live - 5 * n).collect();
    assert_eq!(in_gap, want, "{log}");
    assert!(
        log.contains("longer ago than backfill_max = 60 s: not recoverable"),
        "{log}"
    );
}

#[test]
fn live_cycles_of_50_clusters_stay_on_time_while_an_hour_is_backfilled() {
    let test = "live_cycles_of_50_clusters_stay_on_time_while_an_hour_is_backfilled";
    if !crate::services::available("influxd", test) {
        return;
    }
    let server = Influxd::start();
    let db = "fifty";
    server.create_database(db);
    let dir = Dir::new();
    let specs: Vec<ClusterSpec> = (1..=50)
        .map(|i| ClusterSpec::new(format!("Many{i}")))
        .collect();
    let sim = Sim::start(SimConfig {
        clusters: specs,
        request_log_capacity: 1000,
        ..SimConfig::default()
    })
    .expect("simulator starts");
    let ca = dir.write("ca.pem", &sim.ca_cert_pem());
    let c = Clusters { sim, ca };
    let names: Vec<String> = (1..=50).map(|i| format!("many{i}")).collect();
    let config = dir.write(
        "idic.toml",
        &config(
            &c,
            "\"influxdb\"",
            &[CPU, LOAD],
            "",
            &format!("[influxdb]\n{}", influx(server.port, db)),
        ),
    );
    let plugins = plugins(&dir);
    let mut idic = spawn(&dir, &config, &plugins, "first.log");
    idic.wait_until(Duration::from_secs(90), "a cycle of every cluster", || {
        let q = format!("SELECT count(\"value\") FROM \"{CPU}\" GROUP BY \"cluster\"");
        server.series(db, &q).len() == 50
    });
    stop(idic);
    // The clusters' clocks move an hour ahead: an hour to backfill for each.
    for h in c.sim.clusters() {
        h.advance_clock(3600);
    }
    let restarted = SystemTime::now();
    let mut idic = spawn(&dir, &config, &plugins, "second.log");
    idic.wait_log(Duration::from_secs(150), "50 backfills done", |log| {
        log.matches("backfilled 2 statistics").count() >= 50
    });
    // Two more live cycles after the last backfill.
    std::thread::sleep(Duration::from_secs(11));
    let log = stop(idic);
    assert!(
        log.matches("backfilled 2 statistics").count() >= 50,
        "{log}"
    );
    for (i, h) in c.sim.clusters().iter().enumerate() {
        let offset = h.now() - secs(SystemTime::now());
        let log = h.request_log();
        let live: BTreeSet<i64> = log
            .iter()
            .filter(|r| r.at >= restarted && r.status == 200)
            .filter(|r| r.target.starts_with("/platform/1/statistics/current"))
            .map(|r| {
                let t = secs(r.at) + offset;
                t - t % 5
            })
            .collect();
        let history: Vec<i64> = log
            .iter()
            .filter(|r| r.at >= restarted && r.target.starts_with("/platform/1/statistics/history"))
            .map(|r| secs(r.at) + offset)
            .collect();
        // Live cycles on every 5 s slot while the backfill ran, and after.
        assert_eq!(holes(&live, 5), Vec::<i64>::new(), "{}", names[i]);
        assert!(live.len() >= 3, "{}: {live:?}", names[i]);
        assert!(!history.is_empty(), "{}: no history request", names[i]);
        // Every live timestamp is in InfluxDB, and the hour is complete.
        let stored = cpu_times(&server, db, &names[i]);
        assert!(
            live.is_subset(&stored),
            "{}: {live:?} not all in {stored:?}",
            names[i]
        );
        let first_live = *live.first().unwrap();
        assert_eq!(
            stored.range(first_live - 3600..first_live).count(),
            720,
            "{}",
            names[i]
        );
        assert_eq!(
            holes(&stored.range(first_live - 3600..).copied().collect(), 5),
            Vec::<i64>::new(),
            "{}",
            names[i]
        );
    }
}

/// The first pending gap of the one backfill state file under `dir`:
/// (begin, next), when there is one.
fn pending(dir: &Dir) -> Option<(i64, i64)> {
    let folder = dir.join("idic-state/backfill");
    let file = std::fs::read_dir(folder)
        .ok()?
        .flatten()
        .find(|e| e.path().extension().is_some_and(|x| x == "json"))?;
    let v: Value = serde_json::from_str(&std::fs::read_to_string(file.path()).ok()?).ok()?;
    let p = &v["pending"][0];
    Some((p["begin"].as_i64()?, p["next"].as_i64()?))
}

#[test]
fn an_interrupted_backfill_resumes_where_it_stopped() {
    let test = "an_interrupted_backfill_resumes_where_it_stopped";
    if !crate::services::available("influxd", test) {
        return;
    }
    let server = Influxd::start();
    let db = "resume";
    server.create_database(db);
    let dir = Dir::new();
    let c = sim::clusters(&dir, vec![ClusterSpec::new("Resume1")]);
    let cluster = &c.sim.clusters()[0];
    let capture = dir.join("capture.jsonl");
    let rest = format!(
        "[influxdb]\n{}\n[sink.capture]\nplugin = \"jsonl\"\npath = {:?}\n",
        influx(server.port, db),
        capture.display().to_string()
    );
    let config = dir.write(
        "idic.toml",
        &config(&c, "[\"influxdb\", \"capture\"]", &[CPU, LOAD], "", &rest),
    );
    let plugins = plugins(&dir);
    let mut idic = spawn(&dir, &config, &plugins, "first.log");
    idic.wait_until(Duration::from_secs(60), "a cycle stored", || {
        !cpu_times(&server, db, "resume1").is_empty()
    });
    stop(idic);
    let last = *cpu_times(&server, db, "resume1").last().unwrap();

    // An hour to fill from a cluster that answers slowly: stop idic once a
    // part of it is done.
    cluster.advance_clock(3600);
    cluster.faults().set_latency(Duration::from_millis(1500));
    let mut idic = spawn(&dir, &config, &plugins, "second.log");
    idic.wait_until(Duration::from_secs(60), "a part of the hour filled", || {
        pending(&dir).is_some_and(|(begin, next)| next > begin)
    });
    stop(idic);
    let (begin, next) = pending(&dir).expect("the gap is still pending");
    assert!(next > begin && begin > last, "{begin} {next} {last}");

    cluster.faults().set_latency(Duration::ZERO);
    let resumed = SystemTime::now();
    let mut idic = spawn(&dir, &config, &plugins, "third.log");
    idic.wait_until(Duration::from_secs(60), "the hour complete", || {
        complete(
            &server,
            db,
            &c.sim,
            "resume1",
            &[CPU, LOAD],
            (begin, last + 3600),
        )
        .is_ok()
    });
    let log = stop(idic);
    assert!(log.contains("resuming the backfill of 1 gaps"), "{log}");
    // The first request after the restart starts where the last one ended.
    let first = cluster
        .request_log()
        .into_iter()
        .find(|r| r.at >= resumed && r.target.starts_with("/platform/1/statistics/history"))
        .expect("a history request after the restart");
    assert!(
        first.target.contains(&format!("begin={next}&")),
        "{}",
        first.target
    );
    assert_eq!(duplicates(&capture), Vec::<String>::new());
    let times = cpu_times(&server, db, "resume1");
    assert!(times.range(begin..begin + 3600).count() >= 700, "{times:?}");
}
