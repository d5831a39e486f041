//! Durable, fanned-out delivery end to end: the built `idic` with the influxdb
//! plugin, simulated clusters over HTTPS and real `influxd` servers. InfluxDB
//! outages, a SIGKILL during one (after which no cycle at all is missing: the
//! ones nobody polled come from history backfill), a sink that never comes up beside live ones, a
//! damaged buffer file and a full disk. Outages are compressed to seconds; every
//! wait is a condition with a deadline.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use onefs_sim::ClusterSpec;

use crate::influxd::{self, Influxd};
use crate::sim::{self, Clusters};
use crate::util::{self, Dir, Running};

/// The statistic whose cycles the tests count (5 s in the simulator).
const CPU: &str = "cluster.cpu.idle.avg";

/// A config for `sinks` with fast retries, `rest` (the sinks' sections and any
/// other), the clusters and one stat group.
fn config(c: &Clusters, sinks: &str, stats: &[&str], rest: &str) -> String {
    let retries =
        "stats_processor_retry_interval = 1\nmax_backoff = 2\nstats_processor_max_retries = 1";
    sim::sinks_config(sinks, retries, rest, c, stats)
}

/// An influxdb section (or `[sink.NAME]` body) writing to `port`, database `db`.
fn influx(port: u16, db: &str) -> String {
    format!("host = \"127.0.0.1\"\nport = \"{port}\"\ndatabase = \"{db}\"\nauthenticated = false\n")
}

fn plugins(dir: &Dir) -> PathBuf {
    dir.plugin_dir(&[(&util::workspace_plugin("influxdb"), "libinfluxdb.so")])
}

/// Starts idic logging to `dir/<log>`, optionally through `wrap` (a shell
/// command line ending in `exec "$@"`).
fn spawn(dir: &Dir, config: &Path, plugins: &Path, log: &str, wrap: Option<&str>) -> Running {
    let cmd = match wrap {
        Some(script) => {
            let mut c = Command::new("unshare");
            c.args(["-rm", "--propagation", "private", "sh", "-c", script, "sh"]);
            c.arg(util::idic_bin());
            c
        }
        None => Command::new(util::idic_bin()),
    };
    Running::launch(cmd, dir.join(log), config, plugins, &[])
}

fn secs(t: SystemTime) -> i64 {
    t.duration_since(UNIX_EPOCH).unwrap().as_secs() as i64
}

/// The timestamps of `key` that cluster `i` answered (status 200) before `until`.
fn polled(c: &Clusters, i: usize, key: &str, until: SystemTime) -> BTreeSet<i64> {
    let step = c.sim.catalog().get(key).unwrap().update_interval().unwrap() as i64;
    c.sim.clusters()[i]
        .request_log()
        .iter()
        .filter(|r| r.status == 200 && is_cycle(&r.target, key) && r.at < until)
        .map(|r| secs(r.at) - secs(r.at) % step)
        .collect()
}

/// Whether a request target fetches `key`'s current value (not its metadata).
fn is_cycle(target: &str, key: &str) -> bool {
    target.starts_with("/platform/1/statistics/current") && target.contains(key)
}

/// Answered requests for `key` by cluster `i`.
fn answered(c: &Clusters, i: usize, key: &str) -> usize {
    c.sim.clusters()[i]
        .request_log()
        .iter()
        .filter(|r| r.status == 200 && is_cycle(&r.target, key))
        .count()
}

/// The timestamps of `key` stored for `cluster` (lower-cased name).
fn stored(server: &Influxd, db: &str, key: &str, cluster: &str) -> BTreeSet<i64> {
    server
        .rows(
            db,
            &format!("SELECT \"value\" FROM \"{key}\" WHERE \"cluster\" = '{cluster}'"),
        )
        .iter()
        .filter_map(|r| r[0].as_i64())
        .collect()
}

/// Bytes in `*.seg` files under `dir`.
fn segment_bytes(dir: &Path) -> u64 {
    let mut total = 0;
    for e in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        let p = e.path();
        if p.is_dir() {
            total += segment_bytes(&p);
        } else if p.extension().is_some_and(|x| x == "seg") {
            total += e.metadata().map(|m| m.len()).unwrap_or(0);
        }
    }
    total
}

#[test]
fn a_sigkill_during_an_influxdb_outage_loses_no_polled_cycle() {
    if !crate::services::available(
        "influxd",
        "a_sigkill_during_an_influxdb_outage_loses_no_polled_cycle",
    ) {
        return;
    }
    let mut server = Influxd::start();
    let db = "killed";
    server.create_database(db);
    let dir = Dir::new();
    let c = sim::clusters(&dir, vec![ClusterSpec::new("K1"), ClusterSpec::new("K2")]);
    let config = dir.write(
        "idic.toml",
        &config(
            &c,
            "\"influxdb\"",
            &[CPU],
            &format!("[influxdb]\n{}", influx(server.port, db)),
        ),
    );
    let plugins = plugins(&dir);
    let names = ["k1", "k2"];
    let mut idic = spawn(&dir, &config, &plugins, "first.log", None);
    idic.wait_until(Duration::from_secs(40), "two cycles stored", || {
        names.iter().all(|n| stored(&server, db, CPU, n).len() >= 2)
    });

    server.stop();
    // The outage lasts three cycles, or IDIC_TEST_OUTAGE_SECS before the kill
    // (600 for the 10-minute benchmark of docs/PERFORMANCE.md).
    let outage: u64 = std::env::var("IDIC_TEST_OUTAGE_SECS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    let down_at = SystemTime::now();
    let before: Vec<usize> = (0..2).map(|i| answered(&c, i, CPU)).collect();
    idic.wait_until(
        Duration::from_secs(40 + outage),
        "three cycles polled during the outage",
        || {
            (0..2).all(|i| answered(&c, i, CPU) >= before[i] + 3)
                && down_at.elapsed().unwrap_or_default() >= Duration::from_secs(outage)
        },
    );
    // Kill right after every cluster's latest cycle reached the disk buffer.
    let state = dir.join("idic-state/influxdb");
    let (size, seen): (u64, Vec<usize>) = (
        segment_bytes(&state),
        (0..2).map(|i| answered(&c, i, CPU)).collect(),
    );
    idic.wait_until(
        Duration::from_secs(20),
        "a new cycle of each cluster on disk",
        || (0..2).all(|i| answered(&c, i, CPU) > seen[i]) && segment_bytes(&state) > size,
    );
    let grown = segment_bytes(&state);
    idic.wait_until(Duration::from_secs(5), "the last cycle appended", || {
        segment_bytes(&state) >= grown
    });
    let killed_at = SystemTime::now();
    idic.signal("KILL");
    idic.wait_exit(Duration::from_secs(10));
    let lost_with_process: Vec<BTreeSet<i64>> =
        (0..2).map(|i| polled(&c, i, CPU, killed_at)).collect();
    // idic stays dead for two cycles nobody polls: backfill must bring them.
    std::thread::sleep(Duration::from_secs(11));

    let mut idic = spawn(&dir, &config, &plugins, "second.log", None);
    idic.wait_log(Duration::from_secs(30), "the backlog resumed", |log| {
        log.matches("resuming").count() >= 2
    });
    let again: Vec<usize> = (0..2).map(|i| answered(&c, i, CPU)).collect();
    idic.wait_until(
        Duration::from_secs(30),
        "new cycles while InfluxDB is still down",
        || (0..2).all(|i| answered(&c, i, CPU) >= again[i] + 2),
    );
    server.restart();
    idic.wait_until(
        Duration::from_secs(90 + outage),
        "every polled cycle stored",
        || {
            (0..2).all(|i| {
                polled(&c, i, CPU, SystemTime::now() - Duration::from_secs(2))
                    .is_subset(&stored(&server, db, CPU, names[i]))
            })
        },
    );
    // Backfill (issue 12): the cycles nobody polled while idic was dead come
    // from the clusters' history, so not one cycle of CPU is missing at all.
    idic.wait_until(Duration::from_secs(60), "no cycle missing", || {
        (0..2).all(|i| crate::backfill::holes(&stored(&server, db, CPU, names[i]), 5).is_empty())
    });
    idic.signal("TERM");
    assert_eq!(idic.wait_exit(Duration::from_secs(30)), 0);
    for i in 0..2 {
        let got = stored(&server, db, CPU, names[i]);
        let missing: Vec<&i64> = lost_with_process[i].difference(&got).collect();
        assert!(
            missing.is_empty(),
            "{}: cycles polled before the SIGKILL and lost: {missing:?}",
            names[i]
        );
        // Exactly once per series and timestamp, with the simulator's values.
        let counts = server.rows(
            db,
            &format!("SELECT count(\"value\") FROM \"{CPU}\" WHERE \"cluster\" = '{}' GROUP BY time(5s) fill(none)", names[i]),
        );
        assert!(
            counts.iter().all(|r| r[1].as_i64() == Some(1)),
            "{counts:?}"
        );
        assert_eq!(counts.len(), got.len());
    }
    let log = idic.log_text();
    assert!(!log.contains("dropped the batch"), "{log}");
}

#[test]
fn fan_out_two_influxdb_servers_complete_beside_a_dead_sink_whose_buffer_stays_bounded() {
    if !crate::services::available(
        "influxd",
        "fan_out_two_influxdb_servers_complete_beside_a_dead_sink_whose_buffer_stays_bounded",
    ) {
        return;
    }
    let main = Influxd::start();
    let second = Influxd::start();
    main.create_database("main");
    second.create_database("second");
    let dir = Dir::new();
    let specs = vec![
        ClusterSpec::new("F1").with_summary_rows(100),
        ClusterSpec::new("F2").with_summary_rows(100),
    ];
    let c = sim::clusters(&dir, specs);
    let bound = 64 * 1024;
    let rest = format!(
        "[influxdb]\n{}\n[sink.second]\nplugin = \"influxdb\"\n{}\n[sink.dead]\nplugin = \"influxdb\"\n{}\n\
         [delivery.dead]\nbuffer_max_bytes = {bound}\n\n[summary_stats]\nprotocol = true\n",
        influx(main.port, "main"),
        influx(second.port, "second"),
        influx(influxd::free_port(), "dead"),
    );
    let config = dir.write(
        "idic.toml",
        &config(&c, "[\"influxdb\", \"second\", \"dead\"]", &[CPU], &rest),
    );
    let plugins = plugins(&dir);
    let mut idic = spawn(&dir, &config, &plugins, "idic.log", None);
    let names = ["f1", "f2"];
    idic.wait_log(
        Duration::from_secs(60),
        "the dead sink's buffer evicting",
        |log| log.contains("plugin=influxdb sink=dead queue full"),
    );
    let start = SystemTime::now();
    idic.wait_until(
        Duration::from_secs(60),
        "six more cycles in both live sinks",
        || {
            let done = |s: &Influxd, db: &str| {
                (0..2).all(|i| {
                    let p = polled(&c, i, CPU, SystemTime::now() - Duration::from_secs(2));
                    p.iter().filter(|&&t| t >= secs(start)).count() >= 6
                        && p.is_subset(&stored(s, db, CPU, names[i]))
                })
            };
            done(&main, "main") && done(&second, "second")
        },
    );
    let dead = dir.join("idic-state/dead");
    let size = segment_bytes(&dead);
    idic.signal("TERM");
    assert_eq!(idic.wait_exit(Duration::from_secs(30)), 0);
    // The bound, plus per cluster the segment filling and the one the writer
    // holds (4 KiB segments here), each up to one batch over.
    let largest = 40 * 1024;
    assert!(
        size <= bound + 2 * 2 * (4096 + largest),
        "the dead sink's buffer holds {size} bytes"
    );
    for (s, db) in [(&main, "main"), (&second, "second")] {
        for (i, name) in names.iter().enumerate() {
            let got = stored(s, db, CPU, name);
            let want = polled(&c, i, CPU, start);
            assert!(
                want.is_subset(&got),
                "{db} {name}: {:?}",
                want.difference(&got)
            );
        }
        let summary = s.rows(db, "SELECT count(*) FROM \"node.summary.protocol\"");
        assert!(!summary.is_empty(), "{db} has the summary rows");
    }
    let log = idic.log_text();
    assert!(log.contains("plugin=influxdb sink=second"), "{log}");
    assert!(
        !log.contains("plugin=influxdb queue full"),
        "only the dead sink evicts"
    );
}

#[test]
fn a_damaged_buffer_file_is_reported_and_the_intact_records_are_replayed() {
    if !crate::services::available(
        "influxd",
        "a_damaged_buffer_file_is_reported_and_the_intact_records_are_replayed",
    ) {
        return;
    }
    let mut server = Influxd::start();
    let db = "damaged";
    server.create_database(db);
    server.stop();
    let dir = Dir::new();
    let c = sim::clusters(&dir, vec![ClusterSpec::new("D1")]);
    let config = dir.write(
        "idic.toml",
        &config(
            &c,
            "\"influxdb\"",
            &[CPU],
            &format!("[influxdb]\n{}", influx(server.port, db)),
        ),
    );
    let plugins = plugins(&dir);
    let mut idic = spawn(&dir, &config, &plugins, "first.log", None);
    let before = answered(&c, 0, CPU);
    idic.wait_until(Duration::from_secs(40), "four cycles buffered", || {
        answered(&c, 0, CPU) >= before + 4
    });
    idic.signal("TERM");
    assert_eq!(idic.wait_exit(Duration::from_secs(30)), 0);
    assert!(idic.log_text().contains("stay in the disk buffer"));
    let buffered = polled(&c, 0, CPU, SystemTime::now());

    // Flip a byte in the second record and cut the last one short.
    let folder = std::fs::read_dir(dir.join("idic-state/influxdb"))
        .unwrap()
        .next()
        .unwrap()
        .unwrap()
        .path();
    let seg = std::fs::read_dir(&folder)
        .unwrap()
        .map(|e| e.unwrap().path())
        .find(|p| p.extension().is_some_and(|x| x == "seg"))
        .unwrap();
    let mut bytes = std::fs::read(&seg).unwrap();
    let records: Vec<usize> = (8..bytes.len() - 3)
        .filter(|&i| bytes[i..i + 4] == 0x5245_4449u32.to_le_bytes())
        .collect();
    assert!(records.len() >= 4, "{records:?}");
    bytes[records[1] + 30] ^= 0xff;
    bytes.truncate(bytes.len() - 5);
    std::fs::write(&seg, &bytes).unwrap();

    server.restart();
    let mut idic = spawn(&dir, &config, &plugins, "second.log", None);
    idic.wait_log(Duration::from_secs(30), "the damage reported", |log| {
        log.contains(&format!("{} offset {}", seg.display(), records[1]))
    });
    let after = answered(&c, 0, CPU);
    idic.wait_until(Duration::from_secs(40), "new cycles stored", || {
        answered(&c, 0, CPU) >= after + 2
            && polled(&c, 0, CPU, SystemTime::now() - Duration::from_secs(2))
                .iter()
                .filter(|t| !buffered.contains(t))
                .all(|t| stored(&server, db, CPU, "d1").contains(t))
    });
    idic.signal("TERM");
    assert_eq!(idic.wait_exit(Duration::from_secs(30)), 0);
    let got = stored(&server, db, CPU, "d1");
    let lost: Vec<&i64> = buffered.difference(&got).collect();
    assert_eq!(
        lost.len(),
        2,
        "the damaged and the truncated cycle only: {lost:?}"
    );
    let log = idic.log_text();
    assert!(log.contains("truncated record"), "{log}");
}

#[test]
fn a_full_disk_is_logged_once_and_collection_goes_on_in_memory() {
    if !crate::services::available(
        "influxd",
        "a_full_disk_is_logged_once_and_collection_goes_on_in_memory",
    ) {
        return;
    }
    let server = Influxd::start();
    let db = "full";
    server.create_database(db);
    let dir = Dir::new();
    let c = sim::clusters(
        &dir,
        vec![ClusterSpec::new("Full1"), ClusterSpec::new("Full2")],
    );
    let state = dir.join("state");
    std::fs::create_dir_all(&state).unwrap();
    let rest = format!(
        "[influxdb]\n{}\n[delivery]\nstate_dir = \"{}\"\n",
        influx(server.port, db),
        state.display()
    );
    let config = dir.write("idic.toml", &config(&c, "\"influxdb\"", &[CPU], &rest));
    let plugins = plugins(&dir);
    // A 64 KiB tmpfs over the state folder, filled up before idic starts.
    let script = format!(
        "mount -t tmpfs -o size=64k tmpfs '{0}' && {{ head -c 1048576 /dev/zero > '{0}/filler' 2>/dev/null; exec \"$@\"; }}",
        state.display()
    );
    let mut idic = spawn(&dir, &config, &plugins, "idic.log", Some(&script));
    idic.wait_log(Duration::from_secs(40), "the full disk reported", |log| {
        log.contains("cannot write to the disk buffer")
    });
    let start = SystemTime::now();
    idic.wait_until(Duration::from_secs(40), "three more cycles stored", || {
        (0..2).all(|i| {
            let p = polled(&c, i, CPU, SystemTime::now() - Duration::from_secs(2));
            p.iter().filter(|&&t| t >= secs(start)).count() >= 3
                && p.is_subset(&stored(&server, db, CPU, ["full1", "full2"][i]))
        })
    });
    idic.signal("TERM");
    assert_eq!(idic.wait_exit(Duration::from_secs(30)), 0);
    let log = idic.log_text();
    assert_eq!(
        log.matches("cannot write to the disk buffer").count(),
        1,
        "logged once:\n{log}"
    );
    assert!(log.contains("No space left on device"), "{log}");
    assert!(!log.contains("panicked"), "{log}");
}

#[test]
fn a_second_prometheus_sink_is_refused_with_a_clear_message() {
    let dir = Dir::new();
    let plugins = dir.plugin_dir(&[(&util::workspace_plugin("prometheus"), "libprometheus.so")]);
    let config = dir.write(
        "idic.toml",
        "[global]\nversion = \"0.39\"\nstats_processor = [\"prometheus\", \"other\"]\nactive_stat_groups = [\"g\"]\n\n[sink.other]\nplugin = \"prometheus\"\n\n[[cluster]]\nhostname = \"127.0.0.1\"\nusername = \"u\"\npassword = \"p\"\n\n[[statgroup]]\nname = \"g\"\nstats = [\"cluster.cpu.idle.avg\"]\n",
    );
    let out = util::idic(&[
        "-config-file",
        config.to_str().unwrap(),
        "--plugin-dir",
        plugins.to_str().unwrap(),
    ]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(
        err.contains("names 2 sinks of plugin \"prometheus\"") && err.contains("serves at most 1"),
        "{err}"
    );
}
