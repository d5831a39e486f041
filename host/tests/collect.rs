//! Collection end to end: `onefs-sim` over HTTPS -> the built `idic` -> the jsonl
//! sink plugin loaded from a plugins folder; what arrives is read back and checked
//! against the simulator's own expected values.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::time::Duration;

use onefs_sim::{ClusterSpec, Malformed};
use serde_json::Value;

use crate::sim::{self, Clusters};
use crate::util::{self, Dir, Running};

/// One delivered point, as the jsonl plugin wrote it.
#[derive(Debug, Clone)]
pub struct Line {
    pub cluster: String,
    pub measurement: String,
    pub time: i64,
    pub rows: Vec<Value>,
}

impl Line {
    fn devid(&self) -> u32 {
        self.rows[0]["tags"]["devid"]
            .as_str()
            .map_or(0, |d| d.parse().expect("numeric devid"))
    }
}

pub fn read_lines(path: &Path) -> Vec<Line> {
    std::fs::read_to_string(path)
        .unwrap_or_default()
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| {
            let v: Value =
                serde_json::from_str(l).unwrap_or_else(|e| panic!("bad jsonl line {l}: {e}"));
            Line {
                cluster: v["cluster"].as_str().unwrap().to_string(),
                measurement: v["measurement"].as_str().unwrap().to_string(),
                time: v["time"].as_i64().unwrap(),
                rows: v["rows"].as_array().unwrap().clone(),
            }
        })
        .collect()
}

/// A plugins folder with the jsonl plugin, and a config for it.
pub fn jsonl_setup(
    dir: &Dir,
    c: &Clusters,
    stats: &[&str],
    global_extra: &str,
) -> (PathBuf, PathBuf, PathBuf) {
    let lib = util::workspace_plugin("jsonl");
    sim::file_sink(dir, c, "jsonl", &lib, stats, global_extra)
}

/// The rows the collector should make of `value`, as sorted (tags, fields)
/// strings: an independent, simplified rendering of the spec's flattening rules
/// (maps: numbers are fields, strings are tags; lists: one row each; nested lists
/// multiply; change_notify rows dropped).
fn expected_rows(value: &Value) -> BTreeSet<String> {
    type Rows = Vec<(BTreeMap<String, String>, BTreeMap<String, f64>)>;
    fn flatten(
        v: &Value,
        tags: &BTreeMap<String, String>,
        fields: &BTreeMap<String, f64>,
        out: &mut Rows,
    ) {
        match v {
            Value::Number(n) => {
                let mut f = fields.clone();
                f.insert("value".into(), n.as_f64().unwrap());
                out.push((tags.clone(), f));
            }
            Value::Array(items) => {
                for item in items {
                    flatten(item, tags, fields, out);
                }
            }
            Value::Object(map) => {
                let (mut t, mut f) = (tags.clone(), fields.clone());
                let mut lists = Vec::new();
                for (k, v) in map {
                    match v {
                        Value::Number(n) if k != "time" => {
                            f.insert(k.clone(), n.as_f64().unwrap());
                        }
                        Value::String(s) => {
                            t.insert(k.clone(), s.clone());
                        }
                        Value::Array(_) => lists.push(v),
                        _ => {}
                    }
                }
                if lists.is_empty() {
                    out.push((t, f));
                } else {
                    for l in lists {
                        flatten(l, &t, &f, out);
                    }
                }
            }
            _ => {}
        }
    }
    let mut rows = Vec::new();
    flatten(value, &BTreeMap::new(), &BTreeMap::new(), &mut rows);
    rows.into_iter()
        .filter(|(t, _)| {
            !matches!(
                t.get("op_name").map(String::as_str),
                Some("change_notify" | "read_directory_change")
            )
        })
        .filter(|(_, f)| !f.is_empty())
        .map(|(t, f)| format!("{t:?} {f:?}"))
        .collect()
}

/// The delivered rows of a line in the same rendering, base tags removed.
fn delivered_rows(line: &Line) -> BTreeSet<String> {
    line.rows
        .iter()
        .map(|r| {
            let t: BTreeMap<String, String> = r["tags"]
                .as_object()
                .unwrap()
                .iter()
                .filter(|(k, _)| !matches!(k.as_str(), "cluster" | "devid" | "node" | "degraded"))
                .map(|(k, v)| (k.clone(), v.as_str().unwrap().to_string()))
                .collect();
            let f: BTreeMap<String, f64> = r["fields"]
                .as_object()
                .unwrap()
                .iter()
                .map(|(k, v)| (k.clone(), v.as_f64().unwrap()))
                .collect();
            format!("{t:?} {f:?}")
        })
        .collect()
}

/// The example config with its clusters replaced by the simulated ones and the
/// jsonl sink writing to `out`.
fn example_config(c: &Clusters, out: &Path) -> String {
    let example =
        std::fs::read_to_string(util::workspace_root().join("idic.toml.example")).unwrap();
    let start = example.find("\n[[cluster]]\n").unwrap() + 1;
    let end = example.find("\n[summary_stats]\n").unwrap() + 1;
    let text = format!(
        "{}{}{}",
        &example[..start],
        sim::cluster_tables(c),
        &example[end..]
    );
    text.replace(
        "stats_processor = \"influxdb\"",
        "stats_processor = \"jsonl\"",
    )
    .replace(
        "# path = \"-\"",
        &format!("path = {:?}", out.display().to_string()),
    )
    .replace("logfile = \"gostats.log\"", "")
}

#[test]
fn example_config_collects_every_key_of_every_cluster_with_exact_values() {
    let dir = Dir::new();
    let c = sim::clusters(
        &dir,
        vec![
            ClusterSpec::new("SimCluster1"),
            ClusterSpec::new("SimCluster2"),
        ],
    );
    let plugins = dir.plugin_dir(&[(&util::workspace_plugin("jsonl"), "libjsonl.so")]);
    let out = dir.join("points.jsonl");
    let config = dir.write("idic.toml", &example_config(&c, &out));
    let example_keys: BTreeSet<String> = onefs_sim::EXAMPLE_STAT_GROUPS
        .iter()
        .flat_map(|(_, keys)| keys.iter().map(|k| k.to_string()))
        .collect();
    assert_eq!(example_keys.len(), 116);
    let mut idic = Running::start(&dir, &config, &plugins, &[]);
    idic.wait_until(
        Duration::from_secs(90),
        "every key from both clusters",
        || {
            let lines = read_lines(&out);
            ["simcluster1", "simcluster2"].iter().all(|cl| {
                let seen: BTreeSet<&str> = lines
                    .iter()
                    .filter(|l| l.cluster == *cl)
                    .map(|l| l.measurement.as_str())
                    .collect();
                example_keys.iter().all(|k| seen.contains(k.as_str()))
            })
        },
    );
    // idic brings its own pow (host/src/main.rs): a collecting idic, whose
    // runtime calls it, has not loaded the system's libm.
    if cfg!(target_os = "linux") {
        let maps = std::fs::read_to_string(format!("/proc/{}/maps", idic.child.id())).unwrap();
        assert!(!maps.contains("/libm.so"), "idic loaded libm:\n{maps}");
    }
    idic.signal("TERM");
    assert_eq!(idic.wait_exit(Duration::from_secs(30)), 0);

    let lines = read_lines(&out);
    let mut checked = 0;
    for line in &lines {
        let sim_name = if line.cluster == "simcluster1" {
            "SimCluster1"
        } else {
            "SimCluster2"
        };
        let expected = c
            .sim
            .expected(sim_name, &line.measurement, line.devid(), line.time)
            .unwrap_or_else(|| panic!("simulator has no value for {line:?}"));
        assert_eq!(
            delivered_rows(line),
            expected_rows(&expected),
            "{} devid {} at {}",
            line.measurement,
            line.devid(),
            line.time
        );
        checked += 1;
    }
    assert!(checked > 2 * 116, "{checked} points checked");
    // Node-scoped points carry the LNN, which differs from the devid for some nodes.
    let handle = c.sim.cluster("SimCluster1").unwrap();
    let node_line = lines
        .iter()
        .find(|l| {
            l.measurement == "node.load.1min"
                && l.devid() != 0
                && handle.lnn(l.devid()) != Some(l.devid())
        })
        .expect("a node whose LNN differs from its devid");
    assert_eq!(
        node_line.rows[0]["tags"]["node"].as_str().unwrap(),
        handle.lnn(node_line.devid()).unwrap().to_string()
    );
}

#[test]
fn each_key_is_collected_at_its_own_interval_without_drift() {
    let dir = Dir::new();
    let c = sim::clusters(&dir, vec![ClusterSpec::new("Interval")]);
    let (plugins, config, out) =
        jsonl_setup(&dir, &c, &["cluster.cpu.idle.avg", "cluster.health"], "");
    let interval_of =
        |key: &str| c.sim.catalog().get(key).unwrap().update_interval().unwrap() as i64;
    let (fast, slow) = (
        interval_of("cluster.cpu.idle.avg"),
        interval_of("cluster.health"),
    );
    assert!(
        slow > fast,
        "the simulator gives cluster.health a longer interval"
    );
    let mut idic = Running::start(&dir, &config, &plugins, &[]);
    idic.wait_until(Duration::from_secs(60), "three slow points", || {
        read_lines(&out)
            .iter()
            .filter(|l| l.measurement == "cluster.health")
            .count()
            >= 3
    });
    let lines = read_lines(&out);
    for (key, interval) in [("cluster.cpu.idle.avg", fast), ("cluster.health", slow)] {
        let times: Vec<i64> = lines
            .iter()
            .filter(|l| l.measurement == key)
            .map(|l| l.time)
            .collect();
        for pair in times.windows(2) {
            assert_eq!(
                pair[1] - pair[0],
                interval,
                "{key}: consecutive points one interval apart: {times:?}"
            );
        }
    }
}

#[test]
fn session_expiry_mid_run_misses_no_cycle() {
    let dir = Dir::new();
    let c = sim::clusters(&dir, vec![ClusterSpec::new("Expiry")]);
    let (plugins, config, out) = jsonl_setup(&dir, &c, &["cluster.cpu.idle.avg"], "");
    let mut idic = Running::start(&dir, &config, &plugins, &[]);
    let count = || read_lines(&out).len();
    idic.wait_until(Duration::from_secs(30), "two points", || count() >= 2);
    c.sim.clusters()[0].faults().expire_sessions();
    let before = count();
    idic.wait_until(Duration::from_secs(30), "three more points", || {
        count() >= before + 3
    });
    let times: Vec<i64> = read_lines(&out).iter().map(|l| l.time).collect();
    for pair in times.windows(2) {
        assert_eq!(
            pair[1] - pair[0],
            5,
            "no missed cycle across the expiry: {times:?}"
        );
    }
    let counters = c.sim.clusters()[0].counters();
    assert!(
        counters.unauthorized >= 1,
        "the expired session was refused once"
    );
    assert!(counters.logins >= 2, "idic logged in again");
}

#[test]
fn cluster_down_for_a_while_is_picked_up_again() {
    let dir = Dir::new();
    let c = sim::clusters(
        &dir,
        vec![ClusterSpec::new("Flaky"), ClusterSpec::new("Steady")],
    );
    let (plugins, config, out) =
        jsonl_setup(&dir, &c, &["cluster.cpu.idle.avg"], "max_retries = 2");
    let mut idic = Running::start(&dir, &config, &plugins, &[]);
    let of = |cl: &str| {
        read_lines(&out)
            .into_iter()
            .filter(|l| l.cluster == cl)
            .collect::<Vec<_>>()
    };
    idic.wait_until(Duration::from_secs(30), "a point from each", || {
        !of("flaky").is_empty() && !of("steady").is_empty()
    });
    let flaky = c.sim.cluster("Flaky").unwrap().faults();
    flaky.set_down(true);
    idic.wait_log(Duration::from_secs(30), "the failure logged", |log| {
        log.contains("cluster=flaky") && log.contains("failed")
    });
    let steady_before = of("steady").len();
    idic.wait_until(
        Duration::from_secs(20),
        "the other cluster kept being collected",
        || of("steady").len() >= steady_before + 2,
    );
    flaky.set_down(false);
    let up_time = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64;
    idic.wait_until(
        Duration::from_secs(60),
        "points again after the outage",
        || of("flaky").iter().any(|l| l.time >= up_time - 5),
    );
}

#[test]
fn degraded_node_is_tagged_with_include_degraded() {
    let dir = Dir::new();
    let c = sim::clusters(&dir, vec![ClusterSpec::new("Deg").with_degraded_devid(2)]);
    let (plugins, config, out) = jsonl_setup(
        &dir,
        &c,
        &["node.load.1min", "cluster.cpu.idle.avg"],
        "include_degraded = true",
    );
    let mut idic = Running::start(&dir, &config, &plugins, &[]);
    idic.wait_until(Duration::from_secs(30), "node points", || {
        read_lines(&out)
            .iter()
            .filter(|l| l.measurement == "node.load.1min")
            .count()
            >= 4
    });
    for line in read_lines(&out) {
        let degraded = line.rows[0]["tags"]["degraded"]
            .as_str()
            .expect("degraded tag on every point");
        let want = if line.measurement == "node.load.1min" && line.devid() == 2 {
            "true"
        } else {
            "false"
        };
        assert_eq!(degraded, want, "{line:?}");
    }
}

#[test]
fn not_present_keys_stop_being_asked_for() {
    let dir = Dir::new();
    let c = sim::clusters(
        &dir,
        vec![ClusterSpec::new("Np").with_not_present("node.load.5min")],
    );
    let (plugins, config, out) = jsonl_setup(&dir, &c, &["node.load.1min", "node.load.5min"], "");
    let mut idic = Running::start(&dir, &config, &plugins, &[]);
    idic.wait_until(Duration::from_secs(40), "three cycles", || {
        read_lines(&out)
            .iter()
            .filter(|l| l.measurement == "node.load.1min")
            .count()
            >= 12
    });
    let asked: Vec<String> = c.sim.clusters()[0]
        .request_log()
        .iter()
        .filter(|r| r.path().starts_with("/platform/1/statistics/current"))
        .map(|r| r.target.clone())
        .collect();
    let with_key = asked
        .iter()
        .filter(|t| t.contains("key=node.load.5min"))
        .count();
    assert!(asked.len() >= 3);
    assert!(with_key <= 1, "asked again after not-present: {asked:?}");
    assert!(
        idic.log_text()
            .contains("\"node.load.5min\" is unavailable"),
        "{}",
        idic.log_text()
    );
    assert!(!read_lines(&out)
        .iter()
        .any(|l| l.measurement == "node.load.5min"));
}

#[test]
fn unavailable_keys_are_asked_again_after_a_reconnect() {
    let dir = Dir::new();
    let c = sim::clusters(
        &dir,
        vec![ClusterSpec::new("Back").with_not_present("node.load.5min")],
    );
    let (plugins, config, out) = jsonl_setup(&dir, &c, &["node.load.1min", "node.load.5min"], "");
    let mut idic = Running::start(&dir, &config, &plugins, &[]);
    idic.wait_log(Duration::from_secs(30), "the key set aside", |log| {
        log.contains("\"node.load.5min\" is unavailable")
    });
    let faults = c.sim.clusters()[0].faults();
    faults.set_key_error("node.load.5min", None);
    // Longer than an interval, so that a cycle finds the cluster unreachable: a
    // reconnect is the first successful cycle after that.
    faults.set_down_for(Duration::from_secs(7));
    idic.wait_until(
        Duration::from_secs(60),
        "the key collected after the reconnect",
        || {
            read_lines(&out)
                .iter()
                .any(|l| l.measurement == "node.load.5min")
        },
    );
}

#[test]
fn hundreds_of_keys_are_split_so_no_request_gets_414() {
    let reference = util::workspace_root().join("onefs-sim/catalogs/onefs-9.11-keys.json");
    let catalog = onefs_sim::Catalog::load(&reference).expect("the reference catalog loads");
    let keys: Vec<String> = catalog.keys().iter().map(|k| k.key.clone()).collect();
    assert!(
        keys.iter().map(|k| k.len() + 5).sum::<usize>() > 8198,
        "enough keys to need splitting"
    );
    let dir = Dir::new();
    let sim_config = onefs_sim::SimConfig {
        clusters: vec![ClusterSpec::new("Wide")],
        catalog: std::sync::Arc::new(catalog),
        ..Default::default()
    };
    let simulator = onefs_sim::Sim::start(sim_config).unwrap();
    let ca = dir.write("ca.pem", &simulator.ca_cert_pem());
    let c = Clusters { sim: simulator, ca };
    let refs: Vec<&str> = keys.iter().map(String::as_str).collect();
    let (plugins, config, out) = jsonl_setup(&dir, &c, &refs, "");
    let mut idic = Running::start(&dir, &config, &plugins, &[]);
    idic.wait_until(Duration::from_secs(60), "most keys delivered", || {
        let seen: BTreeSet<String> = read_lines(&out)
            .into_iter()
            .map(|l| l.measurement)
            .collect();
        seen.len() > keys.len() / 2
    });
    let counters = c.sim.clusters()[0].counters();
    assert_eq!(counters.status(414), 0);
    assert!(
        counters.requests_to("/platform/1/statistics/current") >= 3,
        "split into several requests"
    );
}

#[test]
fn malformed_answers_are_survived() {
    let dir = Dir::new();
    let c = sim::clusters(&dir, vec![ClusterSpec::new("Garbage")]);
    let (plugins, config, out) = jsonl_setup(&dir, &c, &["cluster.cpu.idle.avg"], "");
    let mut idic = Running::start(&dir, &config, &plugins, &[]);
    idic.wait_until(Duration::from_secs(30), "a point", || {
        !read_lines(&out).is_empty()
    });
    let faults = c.sim.clusters()[0].faults();
    for (bad, what) in [
        (Malformed::TruncatedJson, "not valid JSON"),
        (Malformed::HtmlPage, "not valid JSON"),
    ] {
        faults.set_malformed(Some(bad));
        idic.wait_log(Duration::from_secs(30), what, |log| log.contains(what));
        faults.set_malformed(None);
        let n = read_lines(&out).len();
        idic.wait_until(Duration::from_secs(40), "points again", || {
            read_lines(&out).len() > n
        });
    }
}

#[test]
fn a_hanging_or_failing_sink_does_not_delay_polling() {
    let dir = Dir::new();
    let c = sim::clusters(
        &dir,
        vec![ClusterSpec::new("Hang"), ClusterSpec::new("Fail")],
    );
    // The jsonl sink of every cluster writes to a FIFO nobody reads: opening it
    // blocks forever, exactly like a backend that hangs.
    let fifo = dir.join("nobody-reads");
    assert!(std::process::Command::new("mkfifo")
        .arg(&fifo)
        .status()
        .unwrap()
        .success());
    let plugins = dir.plugin_dir(&[(&util::workspace_plugin("jsonl"), "libjsonl.so")]);
    let config = dir.write(
        "idic.toml",
        &sim::config(
            "jsonl",
            &format!("path = {:?}", fifo.display().to_string()),
            &c,
            &["cluster.cpu.idle.avg"],
            "",
        ),
    );
    let mut idic = Running::start(&dir, &config, &plugins, &[]);
    let polls = || {
        c.sim
            .clusters()
            .iter()
            .map(|h| h.counters().requests_to("/platform/1/statistics/current"))
            .min()
            .unwrap()
    };
    idic.wait_until(
        Duration::from_secs(60),
        "four polling cycles on each cluster",
        || polls() >= 4,
    );

    // A sink that fails (its folder does not exist): polling goes on, the log says why.
    let dir2 = Dir::new();
    let (plugins2, config2, _) = jsonl_setup(&dir2, &c, &["cluster.cpu.idle.avg"], "");
    let broken = std::fs::read_to_string(&config2)
        .unwrap()
        .replace("points.jsonl", "no/such/folder/points.jsonl");
    std::fs::write(&config2, broken).unwrap();
    let mut failing = Running::start(&dir2, &config2, &plugins2, &[]);
    failing.wait_log(Duration::from_secs(30), "the sink error", |log| {
        log.contains("cannot open the sink") && log.contains("[jsonl] path")
    });
    let before = polls();
    failing.wait_until(Duration::from_secs(30), "polling goes on", || {
        polls() >= before + 2
    });
}

#[test]
fn sighup_with_a_broken_file_keeps_the_running_config() {
    let dir = Dir::new();
    let c = sim::clusters(&dir, vec![ClusterSpec::new("Hup")]);
    let (plugins, config, out) = jsonl_setup(&dir, &c, &["cluster.cpu.idle.avg"], "");
    let good = std::fs::read_to_string(&config).unwrap();
    let mut idic = Running::start(&dir, &config, &plugins, &[]);
    idic.wait_until(Duration::from_secs(30), "a point", || {
        !read_lines(&out).is_empty()
    });
    std::fs::write(&config, "[global\nthis is not toml").unwrap();
    idic.signal("HUP");
    idic.wait_log(Duration::from_secs(20), "the refusal", |log| {
        log.contains("reload after SIGHUP refused")
    });
    let n = read_lines(&out).len();
    idic.wait_until(Duration::from_secs(30), "points keep coming", || {
        read_lines(&out).len() >= n + 2
    });

    // A good change is picked up (here through the file watcher, no signal).
    std::fs::write(
        &config,
        good.replace(
            "stats = [\"cluster.cpu.idle.avg\"]",
            "stats = [\"cluster.cpu.idle.avg\", \"cluster.cpu.user.avg\"]",
        ),
    )
    .unwrap();
    idic.wait_until(Duration::from_secs(40), "the new key", || {
        read_lines(&out)
            .iter()
            .any(|l| l.measurement == "cluster.cpu.user.avg")
    });
}

#[test]
fn sigterm_exits_0_having_delivered_what_was_queued() {
    let dir = Dir::new();
    let c = sim::clusters(&dir, vec![ClusterSpec::new("Term")]);
    let (plugins, config, out) =
        jsonl_setup(&dir, &c, &["cluster.cpu.idle.avg", "node.load.1min"], "");
    let mut idic = Running::start(&dir, &config, &plugins, &[]);
    idic.wait_until(Duration::from_secs(30), "points", || {
        read_lines(&out).len() >= 5
    });
    idic.signal("TERM");
    assert_eq!(idic.wait_exit(Duration::from_secs(30)), 0);
    let log = idic.log_text();
    assert!(log.contains("cluster=term stopped: delivered"), "{log}");
    assert!(
        log.contains("dropped: 0 queue full, 0 after retries, 0 refused"),
        "{log}"
    );
}

#[test]
fn a_panicking_cluster_task_is_logged_and_restarted_while_the_others_go_on() {
    let dir = Dir::new();
    let c = sim::clusters(
        &dir,
        vec![ClusterSpec::new("Fragile"), ClusterSpec::new("Steady")],
    );
    let (plugins, config, out) = jsonl_setup(&dir, &c, &["cluster.cpu.idle.avg"], "");
    let label = format!("127.0.0.1:{}", c.sim.cluster("Fragile").unwrap().port());
    let mut idic = Running::start_env(
        &dir,
        &config,
        &plugins,
        &[],
        &[("IDIC_TEST_PANIC_ONCE", label.as_str())],
    );
    idic.wait_log(Duration::from_secs(30), "the panic, logged", |log| {
        log.contains(&format!(
            "cluster={label} collection failed: panicked: IDIC_TEST_PANIC_ONCE test hook; this is a bug in idic; restarting it in"
        ))
    });
    idic.wait_until(
        Duration::from_secs(60),
        "points from the restarted cluster",
        || {
            let lines = read_lines(&out);
            lines.iter().any(|l| l.cluster == "fragile")
                && lines.iter().any(|l| l.cluster == "steady")
        },
    );
}

#[test]
fn out_of_tree_plugin_receives_points_through_the_real_loading_path() {
    let dir = Dir::new();
    let c = sim::clusters(&dir, vec![ClusterSpec::new("Tp1"), ClusterSpec::new("Tp2")]);
    let (plugins, config, out) = sim::file_sink(
        &dir,
        &c,
        "outoftree",
        &util::fixture_plugin("outoftree"),
        &["cluster.cpu.idle.avg", "node.load.1min"],
        "",
    );
    let mut idic = Running::start(&dir, &config, &plugins, &[]);
    idic.wait_until(Duration::from_secs(30), "points from both clusters", || {
        let text = std::fs::read_to_string(&out).unwrap_or_default();
        text.contains("tp1 node.load.1min") && text.contains("tp2 cluster.cpu.idle.avg")
    });
    let text = std::fs::read_to_string(&out).unwrap();
    assert!(
        text.contains("open tp1 ") && text.contains("9.11"),
        "{text}"
    );
}

#[test]
fn no_cluster_password_reaches_a_plugin() {
    let dir = Dir::new();
    let c = sim::clusters(&dir, vec![ClusterSpec::new("Lp1"), ClusterSpec::new("Lp2")]);
    let plugins = dir.plugin_dir(&[
        (&util::fixture_plugin("outoftree"), "liboutoftree.so"),
        (&util::workspace_plugin("discard"), "libdiscard.so"),
    ]);
    let out = dir.join("outoftree.txt");
    // Beside its own section: another sink's secret, an unused plugin's token,
    // the section it declares in config_sections and one it has no business with.
    let sections = format!(
        "[outoftree]\npath = {:?}\ndump = true\nprobe = \"IDIC_TEST_CLUSTER_PW,IDIC_TEST_OTHER_PW,IDIC_TEST_SINK_PW\"\ntoken = \"$env:IDIC_TEST_SINK_PW\"\n\n[sink.other]\nplugin = \"discard\"\npassword = \"$env:IDIC_TEST_OTHER_PW\"\nkey = \"other-sink-literal\"\n\n[influxdb]\ntoken = \"unused-influx-literal\"\n\n[outoftree_extra]\nnote = \"declared-extra\"\n\n[unrelated]\nnote = \"undeclared-extra\"\n",
        out.display().to_string()
    );
    // One cluster's password is literal, the other's comes from the environment.
    let config = sim::sinks_config(
        "[\"outoftree\", \"other\"]",
        "",
        &sections,
        &c,
        &["cluster.cpu.idle.avg"],
    )
    .replacen(
        "password = \"s3kret\"",
        "password = \"$env:IDIC_TEST_CLUSTER_PW\"",
        1,
    );
    let config = dir.write("idic.toml", &config);
    let env = [
        ("IDIC_TEST_CLUSTER_PW", "s3kret"),
        ("IDIC_TEST_SINK_PW", "sink-secret"),
        ("IDIC_TEST_OTHER_PW", "other-secret"),
    ];
    let mut idic = Running::start_env(&dir, &config, &plugins, &[], &env);
    idic.wait_until(Duration::from_secs(30), "both clusters opened", || {
        let text = std::fs::read_to_string(&out).unwrap_or_default();
        text.contains("lp1 cluster.cpu.idle.avg") && text.contains("lp2 cluster.cpu.idle.avg")
    });
    let text = std::fs::read_to_string(&out).unwrap();
    assert!(text.contains("dump start cluster:"), "{text}");
    assert!(text.contains("dump open cluster config:"), "{text}");
    for leak in [
        "s3kret",
        "password",
        "username",
        "other-sink-literal",
        "$env:IDIC_TEST_OTHER_PW\"",
        "unused-influx-literal",
        "undeclared-extra",
        "[sink.other]",
    ] {
        assert!(!text.contains(leak), "{leak:?} reached the plugin:\n{text}");
    }
    assert!(text.contains("[outoftree_extra]"), "{text}");
    assert!(text.contains("declared-extra"), "{text}");
    assert!(
        text.contains("prometheus_port") || text.contains("hostname"),
        "{text}"
    );
    assert!(
        text.contains("dump secret IDIC_TEST_CLUSTER_PW: Err(\"\\\"$env:IDIC_TEST_CLUSTER_PW\\\" is not in this plugin's settings"),
        "{text}"
    );
    assert!(
        text.contains("dump secret IDIC_TEST_OTHER_PW: Err("),
        "{text}"
    );
    assert!(
        text.contains("dump secret IDIC_TEST_SINK_PW: Ok(\"sink-secret\")"),
        "{text}"
    );
}

#[test]
fn panicking_sink_is_reported_and_collection_goes_on() {
    let dir = Dir::new();
    let c = sim::clusters(
        &dir,
        vec![ClusterSpec::new("Boom"), ClusterSpec::new("Calm")],
    );
    let plugins = dir.plugin_dir(&[(&util::fixture_plugin("panicky"), "libpanicky.so")]);
    let out = dir.join("panicky.txt");
    let section = format!("path = {:?}\ncluster = \"boom\"", out.display().to_string());
    let config = dir.write(
        "idic.toml",
        &sim::config("panicky", &section, &c, &["cluster.cpu.idle.avg"], ""),
    );
    let mut idic = Running::start(&dir, &config, &plugins, &[]);
    idic.wait_log(Duration::from_secs(30), "the panic reported", |log| {
        log.contains(
            "cluster=boom plugin=panicky the sink failed: plugin panicked: fixture panic in write",
        )
    });
    let calm = || {
        std::fs::read_to_string(&out)
            .unwrap_or_default()
            .matches("calm cluster.cpu.idle.avg")
            .count()
    };
    let before = calm();
    idic.wait_until(
        Duration::from_secs(30),
        "the other cluster keeps delivering",
        || calm() >= before + 2,
    );
    idic.wait_log(
        Duration::from_secs(30),
        "the panicking cluster keeps being polled",
        |log| log.matches("fixture panic in write").count() >= 2,
    );
    assert!(
        idic.child.try_wait().unwrap().is_none(),
        "idic is still running"
    );
    // The message and where it happened go to idic's log, not to stderr.
    assert!(
        idic.log_text()
            .contains("fixture panic in write for cluster boom (at panicky/src/lib.rs:"),
        "{}",
        idic.log_text()
    );
    idic.signal("TERM");
    assert_eq!(idic.wait_exit(Duration::from_secs(30)), 0);
    let stderr = idic.stderr();
    assert!(!stderr.contains("panicked at"), "{stderr}");
}

#[test]
fn plugin_built_against_frozen_api_1_0_receives_points() {
    let dir = Dir::new();
    let c = sim::clusters(&dir, vec![ClusterSpec::new("Old")]);
    let (plugins, config, out) = sim::file_sink(
        &dir,
        &c,
        "frozen",
        &util::fixture_plugin("frozen"),
        &["cluster.cpu.idle.avg"],
        "",
    );
    let mut idic = Running::start(&dir, &config, &plugins, &[]);
    idic.wait_until(Duration::from_secs(30), "points", || {
        std::fs::read_to_string(&out)
            .unwrap_or_default()
            .contains("old ")
    });
}

#[test]
fn summary_statistics_arrive_every_5_s_with_the_simulators_rows() {
    let dir = Dir::new();
    let c = sim::clusters(&dir, vec![ClusterSpec::new("Sum")]);
    let (plugins, config, out) = jsonl_setup(&dir, &c, &["cluster.cpu.idle.avg"], "");
    let text = std::fs::read_to_string(&config).unwrap()
        + "\n[summary_stats]\nprotocol = true\ndrive = true\n";
    std::fs::write(&config, text).unwrap();
    let mut idic = Running::start(&dir, &config, &plugins, &[]);
    let summary = |m: &str| {
        read_lines(&out)
            .into_iter()
            .filter(|l| l.measurement == m)
            .collect::<Vec<_>>()
    };
    idic.wait_until(Duration::from_secs(30), "two cycles of summaries", || {
        let times: BTreeSet<i64> = summary("node.summary.protocol")
            .iter()
            .map(|l| l.time)
            .collect();
        times.len() >= 2 && !summary("node.summary.drive").is_empty()
    });
    let handle = &c.sim.clusters()[0];
    for (measurement, kind) in [
        ("node.summary.protocol", onefs_sim::SummaryKind::Protocol),
        ("node.summary.drive", onefs_sim::SummaryKind::Drive),
    ] {
        for line in summary(measurement) {
            let row = &line.rows[0];
            assert!(row["fields"].get("time").is_none(), "no field named time");
            let rows = handle.expected_summary(kind, line.time);
            let matches = rows.iter().any(|want| {
                row["fields"]
                    .as_object()
                    .unwrap()
                    .iter()
                    .all(|(k, v)| want[k].as_f64() == v.as_f64())
                    && row["tags"]
                        .as_object()
                        .unwrap()
                        .iter()
                        .filter(|(k, _)| *k != "cluster")
                        .all(|(k, v)| {
                            want[k]
                                .as_str()
                                .map(str::to_string)
                                .or_else(|| want[k].as_u64().map(|n| n.to_string()))
                                .as_deref()
                                == v.as_str()
                        })
            });
            assert!(
                matches,
                "{measurement} row {row} not among the simulator's rows at {}",
                line.time
            );
        }
    }
}
