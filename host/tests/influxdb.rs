//! The influxdb sink end to end: `onefs-sim` over HTTPS -> the built `idic` with
//! the influxdb plugin loaded from a plugins folder -> a real `influxd`
//! (`influxd.rs`), then read back through InfluxDB's `/query` API with the queries
//! the Data Insights dashboards use, and compared with the simulator's own values.

use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use onefs_sim::ClusterSpec;
use serde_json::Value;

use crate::influxd::Influxd;
use crate::sim::{self, Clusters};
use crate::util::{self, Dir, Running};

/// Relative tolerance for means computed by InfluxDB.
const TOLERANCE: f64 = 1e-9;

/// A plugins folder with the influxdb plugin and a config writing to `db`.
pub(crate) fn setup(
    dir: &Dir,
    c: &Clusters,
    server: &Influxd,
    db: &str,
    stats: &[&str],
    global_extra: &str,
) -> (PathBuf, PathBuf) {
    let plugins = dir.plugin_dir(&[(&util::workspace_plugin("influxdb"), "libinfluxdb.so")]);
    let section = format!(
        "host = \"127.0.0.1\"\nport = \"{}\"\ndatabase = \"{db}\"\nauthenticated = false",
        server.port
    );
    let config = dir.write(
        "idic.toml",
        &sim::config("influxdb", &section, c, stats, global_extra),
    );
    (plugins, config)
}

/// Every stored row of `measurement` for `cluster`, as column -> value maps
/// (`time` in Unix seconds; tags and fields by name).
fn raw(
    server: &Influxd,
    db: &str,
    measurement: &str,
    cluster: &str,
) -> Vec<BTreeMap<String, Value>> {
    let series = server.series(
        db,
        &format!("SELECT * FROM \"{measurement}\" WHERE \"cluster\" = '{cluster}'"),
    );
    let Some(s) = series.first() else {
        return Vec::new();
    };
    let columns: Vec<String> = s["columns"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c.as_str().unwrap().to_string())
        .collect();
    s["values"]
        .as_array()
        .unwrap()
        .iter()
        .map(|row| {
            columns
                .iter()
                .cloned()
                .zip(row.as_array().unwrap().iter().cloned())
                .filter(|(_, v)| !v.is_null())
                .collect()
        })
        .collect()
}

/// The distinct times of `measurement` for `cluster`, sorted.
fn times(server: &Influxd, db: &str, measurement: &str, cluster: &str) -> Vec<i64> {
    let set: BTreeSet<i64> = raw(server, db, measurement, cluster)
        .iter()
        .map(|r| r["time"].as_i64().unwrap())
        .collect();
    set.into_iter().collect()
}

fn f(v: &Value) -> f64 {
    v.as_f64().unwrap_or_else(|| panic!("not a number: {v}"))
}

fn close(got: f64, want: f64, what: &str) {
    assert!(
        (got - want).abs() <= TOLERANCE * want.abs().max(1.0),
        "{what}: InfluxDB says {got}, the simulator {want}"
    );
}

fn now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64
}

/// No error in idic's log, and nothing refused or dropped when it stopped.
fn assert_no_errors(log: &str) {
    let errors: Vec<&str> = log.lines().filter(|l| l.contains(" ERROR ")).collect();
    assert!(errors.is_empty(), "{errors:#?}");
    for line in log.lines().filter(|l| l.contains(" stopped: delivered ")) {
        assert!(
            line.ends_with("dropped: 0 queue full, 0 after retries, 0 refused"),
            "{line}"
        );
    }
}

/// The rows of a protostats answer that idic writes: (op_name, class_name) ->
/// the record; the latency-less notify operations are dropped, as the spec says.
fn proto_rows(value: &Value) -> BTreeMap<(String, String), Value> {
    value
        .as_array()
        .unwrap()
        .iter()
        .filter(|r| {
            !matches!(
                r["op_name"].as_str(),
                Some("change_notify" | "read_directory_change")
            )
        })
        .map(|r| {
            (
                (
                    r["op_name"].as_str().unwrap().to_string(),
                    r["class_name"].as_str().unwrap().to_string(),
                ),
                r.clone(),
            )
        })
        .collect()
}

#[test]
fn dashboard_queries_return_the_simulators_values() {
    if !crate::services::available("influxd", "dashboard_queries_return_the_simulators_values") {
        return;
    }
    let server = Influxd::start();
    server.create_database("isi_data_insights");
    let dir = Dir::new();
    let c = sim::clusters(
        &dir,
        vec![
            ClusterSpec::new("SimCluster1"),
            ClusterSpec::new("SimCluster2"),
        ],
    );
    let stats = [
        "cluster.cpu.idle.avg",
        "ifs.percent.avail",
        "cluster.protostats.nfs",
        "cluster.protostats.nfs.total",
        "node.ifs.cache",
    ];
    let (plugins, config) = setup(&dir, &c, &server, "isi_data_insights", &stats, "");
    let mut idic = Running::start(&dir, &config, &plugins, &[]);
    let db = "isi_data_insights";
    // ifs.* keys have a 30 s interval in the simulator, the others 5 s.
    let cycles = |m: &str| if m.starts_with("ifs.") { 2 } else { 4 };
    idic.wait_until(Duration::from_secs(120), "cycles of every key", || {
        ["simcluster1", "simcluster2"].iter().all(|cl| {
            stats.iter().all(|m| {
                server.query(
                    db,
                    &format!("SELECT count(*) FROM \"{m}\" WHERE \"cluster\" = '{cl}'"),
                )["series"][0]["values"][0]
                    .as_array()
                    .is_some_and(|r| r[1..].iter().any(|n| n.as_i64().unwrap_or(0) >= cycles(m)))
            })
        })
    });
    idic.signal("TERM");
    assert_eq!(idic.wait_exit(Duration::from_secs(30)), 0);
    let log = idic.log_text();
    assert!(
        log.contains("InfluxDB 1.6")
            && log.contains("is up; writing to database \"isi_data_insights\""),
        "the start-up ping is logged:\n{log}"
    );
    assert_no_errors(&log);

    // Every stored value is exactly what the simulator answered.
    for cl in ["simcluster1", "simcluster2"] {
        let sim_name = if cl == "simcluster1" {
            "SimCluster1"
        } else {
            "SimCluster2"
        };
        for m in ["cluster.cpu.idle.avg", "ifs.percent.avail"] {
            let rows = raw(&server, db, m, cl);
            assert!(rows.len() >= cycles(m) as usize, "{m} {cl}: {rows:?}");
            for r in rows {
                let t = r["time"].as_i64().unwrap();
                let want = c.sim.expected(sim_name, m, 0, t).unwrap();
                assert_eq!(f(&r["value"]), f(&want), "{m} {cl} at {t}");
            }
        }
    }

    let sim = |key: &str, devid: u32, t: i64| c.sim.expected("SimCluster1", key, devid, t).unwrap();

    // SELECT mean("value") ... GROUP BY time(30s)
    let cpu_times = times(&server, db, "cluster.cpu.idle.avg", "simcluster1");
    let series = server.series(
        db,
        "SELECT mean(\"value\") FROM \"cluster.cpu.idle.avg\" WHERE \"cluster\" =~ /^simcluster1$/ AND time > now() - 5m GROUP BY time(30s)",
    );
    let mut buckets = 0;
    for row in series[0]["values"].as_array().unwrap() {
        let (start, mean) = (row[0].as_i64().unwrap(), &row[1]);
        let inside: Vec<f64> = cpu_times
            .iter()
            .filter(|t| (start..start + 30).contains(t))
            .map(|&t| f(&sim("cluster.cpu.idle.avg", 0, t)))
            .collect();
        if inside.is_empty() {
            assert!(mean.is_null(), "bucket {start}: {row:?}");
            continue;
        }
        close(
            f(mean),
            inside.iter().sum::<f64>() / inside.len() as f64,
            "mean(value)",
        );
        buckets += 1;
    }
    assert!(buckets >= 1);

    // last() is exact.
    let last = server.rows(
        db,
        "SELECT last(\"value\") FROM \"cluster.cpu.idle.avg\" WHERE \"cluster\" = 'simcluster1'",
    );
    let t_last = *cpu_times.last().unwrap();
    assert_eq!(last[0][0].as_i64(), Some(t_last));
    assert_eq!(f(&last[0][1]), f(&sim("cluster.cpu.idle.avg", 0, t_last)));

    // SELECT mean("op_count") ... GROUP BY time(30s), "op_name", "class_name"
    let nfs_times = times(&server, db, "cluster.protostats.nfs", "simcluster1");
    let series = server.series(
        db,
        "SELECT mean(\"op_count\") FROM \"cluster.protostats.nfs\" WHERE \"cluster\" =~ /^simcluster1$/ AND time > now() - 5m GROUP BY time(30s), \"op_name\", \"class_name\"",
    );
    let mut ops = BTreeSet::new();
    for s in &series {
        let op = (
            s["tags"]["op_name"].as_str().unwrap().to_string(),
            s["tags"]["class_name"].as_str().unwrap().to_string(),
        );
        for row in s["values"].as_array().unwrap() {
            let start = row[0].as_i64().unwrap();
            let inside: Vec<f64> = nfs_times
                .iter()
                .filter(|t| (start..start + 30).contains(t))
                .filter_map(|&t| {
                    proto_rows(&sim("cluster.protostats.nfs", 0, t))
                        .get(&op)
                        .map(|r| f(&r["op_count"]))
                })
                .collect();
            if inside.is_empty() {
                assert!(row[1].is_null(), "{op:?} bucket {start}: {row:?}");
            } else {
                close(
                    f(&row[1]),
                    inside.iter().sum::<f64>() / inside.len() as f64,
                    "mean(op_count)",
                );
            }
        }
        ops.insert(op);
    }
    let expected_ops: BTreeSet<(String, String)> = nfs_times
        .iter()
        .flat_map(|&t| proto_rows(&sim("cluster.protostats.nfs", 0, t)).into_keys())
        .collect();
    assert_eq!(ops, expected_ops, "one series per operation");
    assert!(ops.len() >= 2, "{ops:?}");

    // cluster.protostats.nfs.total: in_rate, out_rate, op_rate, time_avg.
    let total_times = times(&server, db, "cluster.protostats.nfs.total", "simcluster1");
    let t = *total_times.last().unwrap();
    let last = server.rows(
        db,
        "SELECT last(\"in_rate\"), last(\"out_rate\"), last(\"op_rate\"), last(\"time_avg\") FROM \"cluster.protostats.nfs.total\" WHERE \"cluster\" = 'simcluster1'",
    );
    let want = sim("cluster.protostats.nfs.total", 0, t);
    let want = want.as_array().map_or(&want, |a| &a[0]);
    for (i, field) in ["in_rate", "out_rate", "op_rate", "time_avg"]
        .iter()
        .enumerate()
    {
        assert_eq!(f(&last[0][i + 1]), f(&want[field]), "last({field})");
    }

    // SELECT mean("l1_data_read_hit") / mean("l1_data_read_start") ... GROUP BY "node"
    let cache = raw(&server, db, "node.ifs.cache", "simcluster1");
    let series = server.series(
        db,
        "SELECT mean(\"l1_data_read_hit\") / mean(\"l1_data_read_start\") FROM \"node.ifs.cache\" WHERE \"cluster\" =~ /^simcluster1$/ AND time > now() - 5m GROUP BY \"node\"",
    );
    let handle = c.sim.cluster("SimCluster1").unwrap();
    assert_eq!(series.len(), handle.nodes() as usize, "one series per node");
    for s in &series {
        let node = s["tags"]["node"].as_str().unwrap();
        let (devid, _) = handle
            .devices()
            .into_iter()
            .find(|(_, lnn)| lnn.to_string() == node)
            .unwrap();
        let node_times: Vec<i64> = cache
            .iter()
            .filter(|r| r["devid"] == Value::String(devid.to_string()))
            .map(|r| r["time"].as_i64().unwrap())
            .collect();
        assert!(!node_times.is_empty());
        let (mut hit, mut start) = (0.0, 0.0);
        for &t in &node_times {
            let v = sim("node.ifs.cache", devid, t);
            hit += f(&v["l1_data_read_hit"]);
            start += f(&v["l1_data_read_start"]);
        }
        close(
            f(&s["values"][0][1]),
            hit / start,
            &format!("node {node} hit ratio"),
        );
    }

    // SHOW TAG VALUES WITH KEY = "cluster"
    let values: BTreeSet<String> = server
        .series(db, "SHOW TAG VALUES WITH KEY = \"cluster\"")
        .iter()
        .flat_map(|s| s["values"].as_array().unwrap().clone())
        .map(|r| r[1].as_str().unwrap().to_string())
        .collect();
    assert_eq!(
        values,
        BTreeSet::from(["simcluster1".to_string(), "simcluster2".to_string()])
    );

    // Every field is a float, as gostats writes them.
    for s in server.series(db, "SHOW FIELD KEYS") {
        for k in s["values"].as_array().unwrap() {
            assert_eq!(k[1], "float", "{} {}", s["name"], k[0]);
        }
    }
}

/// `v` formatted as gostats' Go client writes a float field (`strconv` 'f', -1:
/// integral values without a decimal point, never an exponent).
fn go_float(v: f64) -> String {
    format!("{v}")
}

/// Line protocol for one simulator answer, written the way gostats writes it:
/// strings are tags, numbers float fields, lists one line per element.
fn gostats_lines(
    measurement: &str,
    base: &[(&str, String)],
    value: &Value,
    time: i64,
) -> Vec<String> {
    let records: Vec<&Value> = match value {
        Value::Array(a) => a.iter().collect(),
        v => vec![v],
    };
    records
        .into_iter()
        .map(|r| {
            let mut tags: BTreeMap<String, String> = base
                .iter()
                .map(|(k, v)| (k.to_string(), v.clone()))
                .collect();
            let mut fields = Vec::new();
            match r {
                Value::Object(map) => {
                    for (k, v) in map {
                        match v {
                            Value::String(s) => {
                                tags.insert(k.clone(), s.clone());
                            }
                            Value::Number(n) if k != "time" => {
                                fields.push(format!("{k}={}", go_float(n.as_f64().unwrap())))
                            }
                            _ => {}
                        }
                    }
                }
                v => fields.push(format!("value={}", go_float(f(v)))),
            }
            let tags: String = tags.iter().map(|(k, v)| format!(",{k}={v}")).collect();
            format!("{measurement}{tags} {} {time}", fields.join(","))
        })
        .collect()
}

#[test]
fn a_database_filled_by_gostats_keeps_growing_without_type_conflicts() {
    if !crate::services::available(
        "influxd",
        "a_database_filled_by_gostats_keeps_growing_without_type_conflicts",
    ) {
        return;
    }
    let server = Influxd::start();
    let db = "gostats_history";
    server.create_database(db);
    let dir = Dir::new();
    let c = sim::clusters(&dir, vec![ClusterSpec::new("Legacy")]);
    let handle = c.sim.cluster("Legacy").unwrap();
    let stats = [
        "cluster.cpu.idle.avg",
        "cluster.protostats.nfs",
        "node.ifs.cache",
        "node.load.1min",
    ];
    // An hour of history, every minute, as gostats wrote it (the same shard as
    // what idic adds, so a type mismatch would be refused).
    let mut lines = Vec::new();
    for minute in 1..=60 {
        let t = now() - 60 * minute;
        let t = t - t % 5;
        let base = vec![("cluster", "legacy".to_string())];
        for key in ["cluster.cpu.idle.avg", "cluster.protostats.nfs"] {
            let v = handle.expected(key, 0, t).unwrap();
            lines.extend(gostats_lines(key, &base, &v, t));
        }
        for (devid, lnn) in handle.devices() {
            let mut node = base.clone();
            node.push(("devid", devid.to_string()));
            node.push(("node", lnn.to_string()));
            for key in ["node.ifs.cache", "node.load.1min"] {
                let v = handle.expected(key, devid, t).unwrap();
                lines.extend(gostats_lines(key, &node, &v, t));
            }
        }
    }
    assert!(
        lines.iter().any(|l| l
            .split(' ')
            .nth(1)
            .is_some_and(|fields| fields.split(',').any(|kv| !kv.contains('.')))),
        "integral floats without a decimal point, as Go writes them"
    );
    let (status, body) = server.write(db, &(lines.join("\n") + "\n"));
    assert_eq!(status, 204, "{body}");
    let before = |m: &str| {
        server.rows(db, &format!("SELECT count(*) FROM \"{m}\""))[0][1..]
            .iter()
            .map(|n| n.as_i64().unwrap())
            .max()
            .unwrap()
    };
    let counts: Vec<i64> = stats.iter().map(|m| before(m)).collect();

    let (plugins, config) = setup(&dir, &c, &server, db, &stats, "");
    let mut idic = Running::start(&dir, &config, &plugins, &[]);
    idic.wait_until(
        Duration::from_secs(60),
        "three new cycles of every key",
        || stats.iter().zip(&counts).all(|(m, n)| before(m) >= n + 3),
    );
    idic.signal("TERM");
    assert_eq!(idic.wait_exit(Duration::from_secs(30)), 0);
    let log = idic.log_text();
    assert!(!log.contains("conflict"), "{log}");
    assert_no_errors(&log);
    for s in server.series(db, "SHOW FIELD KEYS") {
        for k in s["values"].as_array().unwrap() {
            assert_eq!(k[1], "float", "{} {}", s["name"], k[0]);
        }
    }
    // The history and the new points are one series per node, not two.
    let series = server.series(db, "SHOW SERIES FROM \"node.load.1min\"");
    assert_eq!(
        series[0]["values"].as_array().unwrap().len(),
        handle.nodes() as usize
    );
}

#[test]
fn an_influxdb_outage_pauses_no_collection_and_loses_no_point() {
    if !crate::services::available(
        "influxd",
        "an_influxdb_outage_pauses_no_collection_and_loses_no_point",
    ) {
        return;
    }
    let mut server = Influxd::start();
    let db = "outage";
    server.create_database(db);
    let dir = Dir::new();
    let c = sim::clusters(&dir, vec![ClusterSpec::new("Outage")]);
    let stats = ["cluster.cpu.idle.avg", "node.load.1min"];
    let (plugins, config) = setup(
        &dir,
        &c,
        &server,
        db,
        &stats,
        "stats_processor_retry_interval = 1\nstats_processor_max_retries = 0",
    );
    let mut idic = Running::start(&dir, &config, &plugins, &[]);
    let stored = |server: &Influxd| times(server, db, "cluster.cpu.idle.avg", "outage");
    idic.wait_until(Duration::from_secs(30), "two points", || {
        stored(&server).len() >= 2
    });

    server.stop();
    let down_at = now();
    let requests = || {
        c.sim.clusters()[0]
            .request_log()
            .iter()
            .filter(|r| r.path() == "/platform/1/statistics/current" && r.status == 200)
            .count()
    };
    let before = requests();
    idic.wait_log(Duration::from_secs(30), "a failed write", |log| {
        log.contains("cannot reach InfluxDB")
    });
    // Collection goes on while InfluxDB is down: three more cycles at least.
    idic.wait_until(
        Duration::from_secs(40),
        "collection during the outage",
        || requests() >= before + 3 && now() >= down_at + 15,
    );
    server.restart();
    let up_at = now();
    idic.wait_until(
        Duration::from_secs(90),
        "the queued points delivered",
        || stored(&server).last().is_some_and(|&t| t >= up_at),
    );
    idic.signal("TERM");
    assert_eq!(idic.wait_exit(Duration::from_secs(30)), 0);

    // Every cycle, before, during and after the outage, is in the database.
    let interval = c
        .sim
        .catalog()
        .get("cluster.cpu.idle.avg")
        .unwrap()
        .update_interval()
        .unwrap() as i64;
    let cpu = stored(&server);
    for pair in cpu.windows(2) {
        assert_eq!(pair[1] - pair[0], interval, "no gap: {cpu:?}");
    }
    assert!(
        cpu.first().unwrap() < &down_at && cpu.last().unwrap() >= &up_at,
        "{cpu:?}"
    );
    let during = cpu.iter().filter(|&&t| t > down_at && t < up_at).count();
    assert!(during >= 2, "points collected during the outage: {cpu:?}");
    let node_rows = raw(&server, db, "node.load.1min", "outage");
    let handle = &c.sim.clusters()[0];
    for (devid, _) in handle.devices() {
        let t: Vec<i64> = node_rows
            .iter()
            .filter(|r| r["devid"] == Value::String(devid.to_string()))
            .map(|r| r["time"].as_i64().unwrap())
            .collect();
        let step = c
            .sim
            .catalog()
            .get("node.load.1min")
            .unwrap()
            .update_interval()
            .unwrap() as i64;
        for pair in t.windows(2) {
            assert_eq!(
                pair[1] - pair[0],
                step,
                "node.load.1min devid {devid}: {t:?}"
            );
        }
        assert!(
            t.len() as i64 >= (up_at - down_at) / step,
            "devid {devid}: {t:?}"
        );
    }
    assert!(
        idic.log_text().contains("cannot reach InfluxDB"),
        "the outage is logged"
    );
}
