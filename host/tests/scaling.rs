//! Several idic processes, one backend (docs/SCALING.md): sharding splits the
//! clusters between instances; two active-active instances store what one
//! stores, without doubled points, and one of them killed mid-run loses no
//! timestamp. `onefs-sim` over HTTPS -> the built `idic` processes with the
//! influxdb plugin -> one real `influxd`, read back through `/query`.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::time::Duration;

use onefs_sim::ClusterSpec;
use serde_json::Value;

use crate::influxd::Influxd;
use crate::sim::{self, Clusters};
use crate::util::{self, Dir, Running};

/// A key with a 5 s update interval (its points carry the start of OneFS'
/// interval) and one without (its points carry the poll time).
const TIMED: &str = "cluster.cpu.idle.avg";
const POLLED: &str = "cluster.protostats.nfs";

/// One idic instance: its own folder (config, log, disk buffer), the same
/// config text as every other instance writing to `db`.
struct Instance {
    run: Running,
    _dir: Dir,
}

fn instance(c: &Clusters, server: &Influxd, db: &str, extra: &[&str]) -> Instance {
    let dir = Dir::new();
    let (plugins, config) = crate::influxdb::setup(&dir, c, server, db, &[TIMED, POLLED], "");
    let run = Running::start(&dir, &config, &plugins, extra);
    Instance { run, _dir: dir }
}

fn config_only(c: &Clusters) -> (Dir, PathBuf) {
    let dir = Dir::new();
    let config = dir.write(
        "idic.toml",
        &sim::config("influxdb", "database = \"x\"", c, &[TIMED], ""),
    );
    (dir, config)
}

/// Every stored row of `measurement` by cluster: (time, tags and fields).
fn rows(server: &Influxd, db: &str, measurement: &str) -> BTreeMap<String, Vec<Vec<Value>>> {
    let mut out = BTreeMap::new();
    for s in server.series(
        db,
        &format!("SELECT * FROM \"{measurement}\" GROUP BY \"cluster\""),
    ) {
        let cluster = s["tags"]["cluster"].as_str().unwrap().to_string();
        let values: Vec<Vec<Value>> = s["values"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| r.as_array().unwrap().clone())
            .collect();
        out.insert(cluster, values);
    }
    out
}

fn times(rows: &[Vec<Value>]) -> Vec<i64> {
    let set: BTreeSet<i64> = rows.iter().map(|r| r[0].as_i64().unwrap()).collect();
    set.into_iter().collect()
}

fn names(c: &Clusters) -> Vec<String> {
    c.sim
        .clusters()
        .iter()
        .map(|h| h.name().to_lowercase())
        .collect()
}

/// Whether every cluster has at least `n` timestamps of `TIMED` in `db`.
fn has_cycles(server: &Influxd, db: &str, clusters: &[String], n: usize) -> bool {
    let r = rows(server, db, TIMED);
    clusters
        .iter()
        .all(|cl| r.get(cl).is_some_and(|rows| times(rows).len() >= n))
}

/// The PAPI ports of the clusters `idic check-config --shard K/N` lists.
fn owned_by(config: &Path, k: u32, n: u32) -> BTreeSet<u16> {
    let out = util::idic(&[
        "check-config",
        config.to_str().unwrap(),
        "--shard",
        &format!("{k}/{n}"),
        "--plugin-dir",
        util::workspace_plugin_dir().to_str().unwrap(),
    ]);
    let text = String::from_utf8_lossy(&out.stdout).to_string();
    let prefix = format!("shard {k}/{n} collects ");
    let line = text
        .lines()
        .find(|l| l.starts_with(&prefix))
        .unwrap_or_else(|| {
            panic!(
                "no shard line in:\n{text}\n{}",
                String::from_utf8_lossy(&out.stderr)
            )
        });
    line.split(": ")
        .nth(1)
        .unwrap()
        .split(", ")
        .filter(|s| *s != "none")
        .map(|s| s.rsplit(':').next().unwrap().parse().unwrap())
        .collect()
}

fn stop(i: &mut Instance) {
    i.run.signal("TERM");
    assert_eq!(i.run.wait_exit(Duration::from_secs(30)), 0);
}

fn available(test: &str) -> bool {
    crate::services::available("influxd", test)
}

#[test]
fn shards_split_the_clusters_between_instances_and_check_config_lists_them() {
    if !available("shards_split_the_clusters_between_instances") {
        return;
    }
    let dir = Dir::new();
    let specs = (1..=6)
        .map(|i| ClusterSpec::new(format!("Shard{i}")))
        .collect();
    let c = sim::clusters(&dir, specs);
    let server = Influxd::start();
    server.create_database("shards");
    // What check-config says each shard owns.
    let (_cdir, config) = config_only(&c);
    let owned: Vec<BTreeSet<u16>> = (1..=2).map(|k| owned_by(&config, k, 2)).collect();
    let all: BTreeSet<u16> = c.sim.clusters().iter().map(|h| h.port()).collect();
    assert!(owned[0].is_disjoint(&owned[1]), "{owned:?}");
    assert_eq!(&owned[0] | &owned[1], all, "every cluster has one shard");

    let mut shards: Vec<Instance> = (1..=2)
        .map(|k| instance(&c, &server, "shards", &["--shard", &format!("{k}/2")]))
        .collect();
    let clusters = names(&c);
    shards[0].run.wait_until(
        Duration::from_secs(90),
        "two cycles of every cluster",
        || has_cycles(&server, "shards", &clusters, 2),
    );
    for s in &mut shards {
        stop(s);
    }
    // Each instance connected to exactly the clusters check-config listed.
    for (k, s) in shards.iter().enumerate() {
        let log = s.run.log_text();
        for port in &all {
            let connected = log.contains(&format!("connected to 127.0.0.1:{port} "));
            assert_eq!(
                connected,
                owned[k].contains(port),
                "shard {}/2, port {port}:\n{log}",
                k + 1
            );
        }
        assert!(
            log.contains(&format!(
                "shard {}/2: collecting {} of the 6 enabled clusters",
                k + 1,
                owned[k].len()
            )),
            "{log}"
        );
    }
}

#[test]
fn two_active_instances_store_what_one_stores_without_doubled_points() {
    if !available("two_active_instances_store_what_one_stores") {
        return;
    }
    let dir = Dir::new();
    let c = sim::clusters(
        &dir,
        vec![ClusterSpec::new("HaOne"), ClusterSpec::new("HaTwo")],
    );
    let server = Influxd::start();
    server.create_database("single");
    server.create_database("pair");
    let mut single = instance(&c, &server, "single", &[]);
    let mut pair = [
        instance(&c, &server, "pair", &[]),
        instance(&c, &server, "pair", &[]),
    ];
    let clusters = names(&c);
    single.run.wait_until(
        Duration::from_secs(90),
        "four cycles in both databases",
        || has_cycles(&server, "single", &clusters, 4) && has_cycles(&server, "pair", &clusters, 4),
    );
    stop(&mut single);
    for p in &mut pair {
        stop(p);
    }
    let (one, two) = (rows(&server, "single", TIMED), rows(&server, "pair", TIMED));
    for cl in &clusters {
        let (a, b) = (&one[cl], &two[cl]);
        // Over the time both runs covered, the same rows: same timestamps, same
        // values, one point per timestamp.
        let (ta, tb) = (times(a), times(b));
        let from = ta[0].max(tb[0]);
        let to = *ta.last().unwrap().min(tb.last().unwrap());
        let within = |rows: &Vec<Vec<Value>>| -> Vec<Vec<Value>> {
            rows.iter()
                .filter(|r| (from..=to).contains(&r[0].as_i64().unwrap()))
                .cloned()
                .collect()
        };
        assert!(within(a).len() >= 3, "{cl}: {a:?}");
        assert_eq!(within(a), within(b), "{cl}: one instance vs two");
        assert_eq!(times(b).len(), b.len(), "{cl}: one point per timestamp");
    }
    // Keys without an update interval carry the poll time: both instances poll
    // at the same Unix-aligned instants (the phase is the cluster's, not the
    // instance's), so each poll is within a second of the single instance's,
    // and an instant gives at most two points (docs/SCALING.md).
    let (one, two) = (
        rows(&server, "single", POLLED),
        rows(&server, "pair", POLLED),
    );
    for cl in &clusters {
        let (ta, tb) = (times(&one[cl]), times(&two[cl]));
        let (from, to) = (
            ta[0].max(tb[0]),
            *ta.last().unwrap().min(tb.last().unwrap()),
        );
        let tb: Vec<i64> = tb.into_iter().filter(|t| (from..=to).contains(t)).collect();
        let ta: Vec<i64> = ta.into_iter().filter(|t| (from..=to).contains(t)).collect();
        for t in &tb {
            assert!(
                ta.iter().any(|a| (a - t).abs() <= 1),
                "{cl}: poll at {t} not near {ta:?}"
            );
        }
        assert!(tb.len() <= 2 * ta.len() + 2, "{cl}: {tb:?} vs {ta:?}");
    }
}

#[test]
fn one_instance_killed_mid_run_leaves_every_timestamp_stored() {
    if !available("one_instance_killed_mid_run") {
        return;
    }
    let dir = Dir::new();
    let c = sim::clusters(
        &dir,
        vec![ClusterSpec::new("KillOne"), ClusterSpec::new("KillTwo")],
    );
    let server = Influxd::start();
    server.create_database("ha");
    let mut a = instance(&c, &server, "ha", &[]);
    let mut b = instance(&c, &server, "ha", &[]);
    let clusters = names(&c);
    a.run.wait_until(Duration::from_secs(90), "two cycles", || {
        has_cycles(&server, "ha", &clusters, 2)
    });
    a.run.child.kill().expect("SIGKILL");
    let _ = a.run.child.wait();
    let before: BTreeMap<String, usize> = rows(&server, "ha", TIMED)
        .iter()
        .map(|(k, v)| (k.clone(), times(v).len()))
        .collect();
    b.run.wait_until(
        Duration::from_secs(90),
        "three more cycles after the kill",
        || {
            let now = rows(&server, "ha", TIMED);
            clusters.iter().all(|cl| {
                now.get(cl)
                    .is_some_and(|r| times(r).len() >= before[cl] + 3)
            })
        },
    );
    stop(&mut b);
    for (cl, r) in rows(&server, "ha", TIMED) {
        let t = times(&r);
        let want: Vec<i64> = (t[0]..=*t.last().unwrap()).step_by(5).collect();
        assert_eq!(t, want, "{cl}: every 5 s timestamp, no gap at the kill");
        assert_eq!(t.len(), r.len(), "{cl}: one point per timestamp");
    }
}

#[test]
fn each_shards_http_service_discovery_lists_only_its_own_clusters() {
    let dir = Dir::new();
    let specs = (1..=4)
        .map(|i| ClusterSpec::new(format!("Sd{i}")))
        .collect();
    let c = sim::clusters(&dir, specs);
    let prom_ports: Vec<u16> = (0..4).map(|_| crate::promd::free_port()).collect();
    let plugins = dir.plugin_dir(&[(&util::workspace_plugin("prometheus"), "libprometheus.so")]);
    let mut listed = Vec::new();
    for k in 1..=2 {
        let own = Dir::new();
        let sd_port = crate::promd::free_port();
        let section = format!(
            "\n[prom_http_sd]\nenabled = true\nlisten_addr = \"127.0.0.1\"\nsd_port = {sd_port}\n"
        );
        let config = own.write(
            "idic.toml",
            &crate::prometheus::config(&c, &section, &prom_ports, ""),
        );
        // The i-th cluster's prometheus_port is prom_ports[i].
        let papi = owned_by(&config, k, 2);
        let mine: BTreeSet<u16> = c
            .sim
            .clusters()
            .iter()
            .zip(&prom_ports)
            .filter(|(h, _)| papi.contains(&h.port()))
            .map(|(_, p)| *p)
            .collect();
        let mut idic = Running::start(&own, &config, &plugins, &["--shard", &format!("{k}/2")]);
        let url = format!("http://127.0.0.1:{sd_port}/");
        idic.wait_until(Duration::from_secs(20), "the discovery endpoint", || {
            crate::prometheus::http_get(&url).is_some()
        });
        let (_, body) = crate::prometheus::http_get(&url).unwrap();
        let sd: Value = serde_json::from_str(&body).unwrap();
        let targets: BTreeSet<u16> = sd
            .as_array()
            .unwrap()
            .iter()
            .flat_map(|g| g["targets"].as_array().unwrap().clone())
            .map(|t| {
                t.as_str()
                    .unwrap()
                    .rsplit(':')
                    .next()
                    .unwrap()
                    .parse()
                    .unwrap()
            })
            .collect();
        assert_eq!(
            targets, mine,
            "shard {k}/2 lists its own clusters only: {body}"
        );
        idic.signal("TERM");
        assert_eq!(idic.wait_exit(Duration::from_secs(30)), 0);
        listed.push(targets);
    }
    assert!(listed[0].is_disjoint(&listed[1]));
    assert_eq!(
        &listed[0] | &listed[1],
        prom_ports.iter().copied().collect()
    );
}
