//! The partitioned-performance source end to end: `onefs-sim`'s datasets and
//! workload summaries over HTTPS -> the built `idic` with
//! `[partitioned_performance]` enabled -> a real InfluxDB, compared with the
//! simulator's own rows (`PerfSet::expected`), goppstats' names, with NFS
//! export ids turned into `export_path` (`perf::export_path`).

use std::collections::BTreeMap;
use std::time::Duration;

use onefs_sim::ClusterSpec;
use serde_json::Value;

use crate::influxd::Influxd;
use crate::sim;
use crate::util::{self, Dir, Running};

/// The eleven numbers of a workload row, as the simulator serves them.
const FIELDS: [&str; 11] = onefs_sim::perf::PERF_FIELDS;

/// Stored rows of `measurement` as (time, node, username or workload_type) -> fields.
fn stored(
    server: &Influxd,
    db: &str,
    measurement: &str,
) -> BTreeMap<(i64, String, String), BTreeMap<String, f64>> {
    let mut out = BTreeMap::new();
    for s in server.series(db, &format!("SELECT * FROM \"{measurement}\"")) {
        let columns: Vec<String> = s["columns"]
            .as_array()
            .unwrap()
            .iter()
            .map(|c| c.as_str().unwrap().to_string())
            .collect();
        for row in s["values"].as_array().unwrap() {
            let m: BTreeMap<String, Value> = columns
                .iter()
                .cloned()
                .zip(row.as_array().unwrap().iter().cloned())
                .collect();
            let text = |k: &str| m.get(k).and_then(Value::as_str);
            let who = text("username")
                .or(text("path"))
                .or(text("export_id"))
                .or(text("workload_type"))
                .unwrap_or_default()
                .to_string();
            let fields = FIELDS
                .iter()
                .map(|f| (f.to_string(), m[*f].as_f64().unwrap()))
                .collect();
            out.insert(
                (
                    m["time"].as_i64().unwrap(),
                    m["node"].as_str().unwrap().to_string(),
                    who,
                ),
                fields,
            );
        }
    }
    out
}

#[test]
fn datasets_and_workloads_are_discovered_and_reach_influxdb_with_exact_values() {
    let test = "datasets_and_workloads_are_discovered_and_reach_influxdb_with_exact_values";
    if !crate::services::available("influxd", test) {
        return;
    }
    let server = Influxd::start();
    let db = "pp";
    server.create_database(db);
    let dir = Dir::new();
    let c = sim::clusters(&dir, vec![ClusterSpec::new("P1").with_nodes(2)]);
    let handle = &c.sim.clusters()[0];
    handle
        .perf()
        .add_dataset("paths", &["path", "zone_name"], 1);
    // Export ids 1 and 2; export 2 cannot be looked up.
    handle.perf().add_dataset("exports", &["export_id"], 2);
    handle.perf().remove_export(2);
    let plugins = dir.plugin_dir(&[(&util::workspace_plugin("influxdb"), "libinfluxdb.so")]);
    let section = format!(
        "host = \"127.0.0.1\"\nport = \"{}\"\ndatabase = \"{db}\"\nauthenticated = false\n\n\
         [partitioned_performance]\nenabled = true\ninterval = 2\nlookup_export_ids = true\n",
        server.port
    );
    let config = dir.write(
        "idic.toml",
        &sim::config("influxdb", &section, &c, &["cluster.cpu.idle.avg"], ""),
    );
    let mut idic = Running::start(&dir, &config, &plugins, &[]);
    let users = "cluster.performance.dataset.1";
    let paths = "cluster.performance.dataset.2";
    let exports = "cluster.performance.dataset.3";
    idic.wait_until(
        Duration::from_secs(60),
        "the three datasets in InfluxDB",
        || {
            [users, paths, exports]
                .iter()
                .all(|m| !stored(&server, db, m).is_empty())
        },
    );
    // Exact values: every stored row is the simulator's row of its time.
    for (measurement, name, dimension) in [
        (users, "users", "username"),
        (paths, "paths", "path"),
        (exports, "exports", "export_id"),
    ] {
        let rows = stored(&server, db, measurement);
        let times: std::collections::BTreeSet<i64> = rows.keys().map(|k| k.0).collect();
        for t in times {
            let want = handle.perf().expected(name, t).unwrap();
            for row in &want {
                let who = match &row[dimension] {
                    Value::Number(n) => n.to_string(),
                    other => other
                        .as_str()
                        .or(row["workload_type"].as_str())
                        .unwrap()
                        .to_string(),
                };
                let key = (t, row["node"].to_string(), who.clone());
                let got = rows
                    .get(&key)
                    .unwrap_or_else(|| panic!("{measurement}: no row {key:?}"));
                for f in FIELDS {
                    assert_eq!(
                        got[f],
                        row[f].as_f64().unwrap(),
                        "{measurement} {key:?} {f}"
                    );
                }
            }
        }
    }
    // A workload added on the cluster appears within one discovery interval
    // (the next 30 s bucket of OneFS' numbers at the latest).
    handle.perf().add_workload("users");
    idic.wait_until(
        Duration::from_secs(60),
        "the added workload (user2)",
        || stored(&server, db, users).keys().any(|k| k.2 == "user2"),
    );
    // Export ids became goppstats' `export_path` (the id stays); the id whose
    // lookup fails keeps its id only, and the failure is logged once although
    // it is tried again at every discovery.
    let mut seen = BTreeMap::new();
    for s in server.series(db, &format!("SELECT * FROM \"{exports}\"")) {
        let columns: Vec<&str> = s["columns"]
            .as_array()
            .unwrap()
            .iter()
            .map(|c| c.as_str().unwrap())
            .collect();
        let col = |n: &str| {
            columns
                .iter()
                .position(|c| *c == n)
                .unwrap_or_else(|| panic!("{exports}: no column {n} in {columns:?}"))
        };
        let (id, path) = (col("export_id"), col("export_path"));
        for row in s["values"].as_array().unwrap() {
            if let Some(id) = row[id].as_str() {
                seen.insert(id.to_string(), row[path].as_str().map(str::to_string));
            }
        }
    }
    assert_eq!(
        seen,
        BTreeMap::from([
            ("1".to_string(), Some(onefs_sim::perf::export_path(1))),
            ("2".to_string(), None),
        ])
    );
    let log = idic.log_text();
    let failures = log
        .lines()
        .filter(|l| l.contains("cannot look up NFS export 2") && l.contains("trying again in"))
        .count();
    assert_eq!(failures, 1, "{log}");
    idic.signal("TERM");
    assert_eq!(idic.wait_exit(Duration::from_secs(20)), 0);
}

#[test]
fn workloads_reach_metrics_under_goppstats_names() {
    let dir = Dir::new();
    let c = sim::clusters(&dir, vec![ClusterSpec::new("P1").with_nodes(2)]);
    let handle = &c.sim.clusters()[0];
    let port = crate::promd::free_port();
    let plugins = dir.plugin_dir(&[(&util::workspace_plugin("prometheus"), "libprometheus.so")]);
    let text = sim::config(
        "prometheus",
        "\n[partitioned_performance]\nenabled = true\ninterval = 2\n",
        &c,
        &["cluster.cpu.idle.avg"],
        "",
    )
    .replace(
        "[[cluster]]\n",
        &format!("[[cluster]]\nprometheus_port = {port}\n"),
    );
    let config = dir.write("idic.toml", &text);
    let mut idic = Running::start(&dir, &config, &plugins, &[]);
    let url = format!("http://127.0.0.1:{port}/metrics");
    let get = || -> Option<String> {
        let agent = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .timeout_global(Some(Duration::from_secs(5)))
            .build()
            .new_agent();
        agent
            .get(&url)
            .call()
            .ok()?
            .body_mut()
            .read_to_string()
            .ok()
    };
    idic.wait_until(Duration::from_secs(30), "isilon_ppstat_ samples", || {
        get().is_some_and(|b| b.contains("isilon_ppstat_protocol_username_ops{"))
    });
    let body = get().unwrap();
    let line = body
        .lines()
        .find(|l| {
            l.starts_with("isilon_ppstat_protocol_username_ops{")
                && l.contains("username=\"user0\"")
                && l.contains("node=\"1\"")
        })
        .unwrap_or_else(|| panic!("no user0 sample on node 1:\n{body}"));
    assert!(line.contains("pinned=\"false\""), "{line}");
    let mut parts = line.rsplit(' ');
    let time_ms: i64 = parts.next().unwrap().parse().unwrap();
    let value: f64 = parts.next().unwrap().parse().unwrap();
    let rows = handle.perf().expected("users", time_ms / 1000).unwrap();
    let want = rows
        .iter()
        .find(|r| r["username"] == "user0" && r["node"] == 1)
        .unwrap()["ops"]
        .as_f64()
        .unwrap();
    assert_eq!(value, want);
    assert!(
        body.contains("isilon_ppstat_protocol_username_Additional_ops{cluster=\"p1\",node=\"1\"}"),
        "{body}"
    );
    // goppstats' HELP texts.
    for help in [
        "# HELP isilon_ppstat_protocol_username_ops pp dataset 1, metric ops\n",
        "# HELP isilon_ppstat_protocol_username_Additional_ops pp dataset 1, overflow bucket Additional, metric ops\n",
    ] {
        assert!(body.contains(help), "no {help:?} in\n{body}");
    }
}
