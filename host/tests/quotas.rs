//! The quota source end to end: `onefs-sim`'s SmartQuotas endpoints over HTTPS
//! -> the built `idic` with `[quotas]` enabled -> the jsonl sink, a real
//! InfluxDB (`influxd.rs`) and the prometheus sink's `/metrics`, compared with
//! the simulator's own quotas (`QuotaSet::expected`).

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use onefs_sim::ClusterSpec;
use serde_json::Value;

use crate::collect::read_lines;
use crate::influxd::Influxd;
use crate::sim::{self, Clusters};
use crate::util::{self, Dir, Running};

const STATS: &[&str] = &["cluster.cpu.idle.avg"];

/// What goquotas makes of one quota of the answer: (field -> value) for the
/// fields this test checks, an independent rendering of its rules.
fn expected_fields(q: &Value) -> BTreeMap<String, f64> {
    let mut f = BTreeMap::new();
    let b = |v: &Value| if v.as_bool().unwrap() { 1.0 } else { 0.0 };
    f.insert("enforced".into(), b(&q["enforced"]));
    f.insert("present".into(), 1.0);
    let u = &q["usage"];
    for (name, key) in [
        ("usage_fslogical_bytes", "fslogical"),
        ("usage_physical_bytes", "physical"),
        ("usage_inodes", "inodes"),
    ] {
        if u[format!("{key}_ready")] == true {
            f.insert(name.into(), u[key].as_f64().unwrap());
        }
    }
    if let Some(hard) = q["thresholds"]["hard"].as_f64() {
        f.insert("hard_bytes".into(), hard);
    }
    f
}

fn tags_of(q: &Value) -> BTreeMap<String, String> {
    let mut t = BTreeMap::new();
    t.insert("quota_id".into(), q["id"].as_str().unwrap().to_string());
    t.insert("quota_type".into(), q["type"].as_str().unwrap().to_string());
    t.insert("path".into(), q["path"].as_str().unwrap().to_string());
    if let Some(p) = q["persona"].as_object() {
        t.insert("persona_id".into(), p["id"].as_str().unwrap().to_string());
    }
    t
}

fn http_get(url: &str) -> Option<String> {
    let agent = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .timeout_global(Some(Duration::from_secs(10)))
        .build()
        .new_agent();
    agent
        .get(url)
        .call()
        .ok()?
        .body_mut()
        .with_config()
        .limit(256 * 1024 * 1024)
        .read_to_string()
        .ok()
}

/// `/metrics` samples `name{labels} value` of family `name`, by quota_id.
fn metric_by_quota(body: &str, name: &str) -> BTreeMap<String, f64> {
    let mut out = BTreeMap::new();
    for line in body.lines() {
        let Some(rest) = line.strip_prefix(name) else {
            continue;
        };
        if !rest.starts_with('{') {
            continue;
        }
        let (labels, value) = rest.rsplit_once("} ").unwrap();
        let id = labels
            .split("quota_id=\"")
            .nth(1)
            .and_then(|s| s.split('"').next())
            .unwrap_or_default();
        assert!(
            !value.contains(' '),
            "no timestamp on a quota sample: {line}"
        );
        out.insert(id.to_string(), value.parse::<f64>().unwrap());
    }
    out
}

fn collector_quotas(body: &str) -> Option<f64> {
    body.lines()
        .find(|l| l.starts_with("isilon_quota_collector_quotas{"))
        .and_then(|l| l.rsplit(' ').next())
        .and_then(|v| v.parse().ok())
}

#[test]
fn ten_thousand_quotas_over_several_pages_reach_influxdb_and_prometheus_with_exact_values() {
    let test =
        "ten_thousand_quotas_over_several_pages_reach_influxdb_and_prometheus_with_exact_values";
    if !crate::services::available("influxd", test) {
        return;
    }
    let server = Influxd::start();
    let db = "quotas";
    server.create_database(db);
    let dir = Dir::new();
    let c = sim::clusters(&dir, vec![ClusterSpec::new("Q1").with_quotas(10_000)]);
    let port = crate::promd::free_port();
    let sections = format!(
        "[influxdb]\nhost = \"127.0.0.1\"\nport = \"{}\"\ndatabase = \"{db}\"\nauthenticated = false\n\n\
         [prometheus]\n\n[quotas]\nenabled = true\ninterval = 3600\npage_limit = 1000\nmax_quotas = 20000\n\
         quota_types = [\"directory\", \"user\", \"group\", \"default-directory\", \"default-user\", \"default-group\"]\n",
        server.port
    );
    let text = sim::sinks_config("[\"influxdb\", \"prometheus\"]", "", &sections, &c, STATS)
        .replace(
            "[[cluster]]\n",
            &format!("[[cluster]]\nprometheus_port = {port}\n"),
        );
    let config = dir.write("idic.toml", &text);
    let plugins = dir.plugin_dir(&[
        (&util::workspace_plugin("influxdb"), "libinfluxdb.so"),
        (&util::workspace_plugin("prometheus"), "libprometheus.so"),
    ]);
    let mut idic = Running::start(&dir, &config, &plugins, &[]);
    let quotas = c.sim.clusters()[0].quotas().expected(None);
    assert_eq!(quotas.len(), 10_000);
    let metrics = format!("http://127.0.0.1:{port}/metrics");
    idic.wait_until(Duration::from_secs(90), "10,000 quotas in /metrics", || {
        http_get(&metrics).is_some_and(|b| collector_quotas(&b) == Some(10_000.0))
    });
    // Several pages per type were asked for, each page after the first by its token alone.
    let log = c.sim.clusters()[0].request_log();
    let resumed = log.iter().filter(|r| r.target.contains("resume=")).count();
    assert!(resumed >= 6, "{resumed} resumed pages");
    // Prometheus: every quota, exact values, goquotas' names.
    let body = http_get(&metrics).unwrap();
    for (family, field) in [
        ("isilon_quota_enforced", "enforced"),
        (
            "isilon_quota_usage_fslogical_bytes",
            "usage_fslogical_bytes",
        ),
        ("isilon_quota_usage_physical_bytes", "usage_physical_bytes"),
        ("isilon_quota_hard_bytes", "hard_bytes"),
    ] {
        let got = metric_by_quota(&body, family);
        let want: BTreeMap<String, f64> = quotas
            .iter()
            .filter_map(|q| {
                let v = *expected_fields(q).get(field)?;
                Some((q["id"].as_str().unwrap().to_string(), v))
            })
            .collect();
        assert_eq!(got.len(), want.len(), "{family}");
        assert!(got == want, "{family} differs from the simulator's quotas");
    }
    // InfluxDB: one point per quota, exact fields and tags.
    idic.wait_until(
        Duration::from_secs(60),
        "10,000 quota points in InfluxDB",
        || {
            let rows = server.rows(db, "SELECT count(\"present\") FROM \"quota\"");
            rows.first().and_then(|r| r.get(1)).and_then(Value::as_f64) == Some(10_000.0)
        },
    );
    let series = server.series(db, "SELECT * FROM \"quota\"");
    let s = &series[0];
    let columns: Vec<&str> = s["columns"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c.as_str().unwrap())
        .collect();
    let mut stored: BTreeMap<String, BTreeMap<String, Value>> = BTreeMap::new();
    for row in s["values"].as_array().unwrap() {
        let m: BTreeMap<String, Value> = columns
            .iter()
            .map(|c| c.to_string())
            .zip(row.as_array().unwrap().iter().cloned())
            .filter(|(_, v)| !v.is_null())
            .collect();
        stored.insert(m["quota_id"].as_str().unwrap().to_string(), m);
    }
    assert_eq!(stored.len(), 10_000);
    for q in &quotas {
        let row = &stored[q["id"].as_str().unwrap()];
        for (tag, value) in tags_of(q) {
            assert_eq!(row[&tag], Value::from(value), "tag {tag} of {}", q["id"]);
        }
        assert_eq!(row["cluster"], "q1");
        for (field, want) in expected_fields(q) {
            let got = match &row[&field] {
                Value::Bool(b) => f64::from(u8::from(*b)),
                v => v.as_f64().unwrap(),
            };
            assert_eq!(got, want, "field {field} of {}", q["id"]);
        }
    }
    idic.signal("TERM");
    assert_eq!(idic.wait_exit(Duration::from_secs(20)), 0);
}

/// A config with the prometheus sink on `port` and `quotas` as `[quotas]`.
fn prometheus_config(dir: &Dir, c: &Clusters, port: u16, quotas: &str) -> std::path::PathBuf {
    let text = sim::config(
        "prometheus",
        &format!("\n[quotas]\n{quotas}\n"),
        c,
        STATS,
        "",
    )
    .replace(
        "[[cluster]]\n",
        &format!("[[cluster]]\nprometheus_port = {port}\n"),
    );
    dir.write("idic.toml", &text)
}

#[test]
fn a_quota_deleted_on_the_simulator_disappears_from_metrics_within_one_interval() {
    let dir = Dir::new();
    let c = sim::clusters(&dir, vec![ClusterSpec::new("Q1").with_quotas(40)]);
    let port = crate::promd::free_port();
    let config = prometheus_config(
        &dir,
        &c,
        port,
        "enabled = true\ninterval = 2\npage_limit = 7\nquota_types = [\"directory\"]",
    );
    let plugins = dir.plugin_dir(&[(&util::workspace_plugin("prometheus"), "libprometheus.so")]);
    let mut idic = Running::start(&dir, &config, &plugins, &[]);
    let set = c.sim.clusters()[0].quotas();
    let directories = set.expected(Some("directory"));
    let metrics = format!("http://127.0.0.1:{port}/metrics");
    let count = directories.len() as f64;
    idic.wait_until(
        Duration::from_secs(30),
        "the directory quotas in /metrics",
        || http_get(&metrics).is_some_and(|b| collector_quotas(&b) == Some(count)),
    );
    let gone = directories[0]["id"].as_str().unwrap().to_string();
    let body = http_get(&metrics).unwrap();
    assert!(metric_by_quota(&body, "isilon_quota_present").contains_key(&gone));
    // Quota 0 is a directory quota: delete it; within one interval (2 s, plus a
    // request and a scrape) it is gone, the others stay.
    set.delete(0);
    idic.wait_until(Duration::from_secs(20), "the deleted quota gone", || {
        http_get(&metrics).is_some_and(|b| collector_quotas(&b) == Some(count - 1.0))
    });
    let body = http_get(&metrics).unwrap();
    let present = metric_by_quota(&body, "isilon_quota_present");
    assert!(!present.contains_key(&gone), "{gone} still served");
    assert_eq!(present.len(), directories.len() - 1);
    assert!(
        !body.contains(&gone),
        "no series of the deleted quota is left"
    );
}

#[test]
fn max_quotas_stops_at_the_limit_and_says_so_and_the_type_filter_keeps_one_type() {
    let dir = Dir::new();
    let c = sim::clusters(&dir, vec![ClusterSpec::new("Q1").with_quotas(200)]);
    let out = dir.join("points.jsonl");
    let section = format!(
        "path = {:?}\n\n[quotas]\nenabled = true\ninterval = 3600\npage_limit = 4\nmax_quotas = 10\nquota_types = [\"user\"]\n",
        out.display().to_string()
    );
    let config = dir.write("idic.toml", &sim::config("jsonl", &section, &c, STATS, ""));
    let plugins = dir.plugin_dir(&[(&util::workspace_plugin("jsonl"), "libjsonl.so")]);
    let mut idic = Running::start(&dir, &config, &plugins, &[]);
    let users = c.sim.clusters()[0].quotas().expected(Some("user"));
    assert!(users.len() > 10);
    idic.wait_until(Duration::from_secs(30), "the quota snapshot", || {
        read_lines(&out).iter().any(|l| l.measurement == "quota")
    });
    idic.wait_log(Duration::from_secs(10), "the max_quotas message", |l| {
        l.contains("max_quotas = 10") && l.contains("raise [quotas] max_quotas")
    });
    let quota_lines: Vec<_> = read_lines(&out)
        .into_iter()
        .filter(|l| l.measurement == "quota")
        .collect();
    assert_eq!(quota_lines.len(), 10, "stopped at the limit");
    let want: Vec<&str> = users[..10]
        .iter()
        .map(|q| q["id"].as_str().unwrap())
        .collect();
    let got: Vec<&str> = quota_lines
        .iter()
        .map(|l| l.rows[0]["tags"]["quota_id"].as_str().unwrap())
        .collect();
    assert_eq!(got, want);
    assert!(quota_lines
        .iter()
        .all(|l| l.rows[0]["tags"]["quota_type"] == "user"));
    assert!(idic.log_text().contains("snapshots cut so far: 1"));
}

#[test]
fn a_cluster_refusing_quotas_keeps_its_statistics_and_says_once_what_privilege_is_missing() {
    let dir = Dir::new();
    let c = sim::clusters(&dir, vec![ClusterSpec::new("Q1")]);
    c.sim.clusters()[0].quotas().set_forbidden(true);
    let out = dir.join("points.jsonl");
    let section = format!(
        "path = {:?}\n\n[quotas]\nenabled = true\ninterval = 1\n",
        out.display().to_string()
    );
    let config = dir.write("idic.toml", &sim::config("jsonl", &section, &c, STATS, ""));
    let plugins = dir.plugin_dir(&[(&util::workspace_plugin("jsonl"), "libjsonl.so")]);
    let mut idic = Running::start(&dir, &config, &plugins, &[]);
    let cluster = &c.sim.clusters()[0];
    idic.wait_until(
        Duration::from_secs(40),
        "three statistics cycles and refused quota listings",
        || {
            let stats = read_lines(&out)
                .iter()
                .filter(|l| l.measurement == "cluster.cpu.idle.avg")
                .map(|l| l.time)
                .collect::<std::collections::BTreeSet<_>>()
                .len();
            let refused = cluster
                .request_log()
                .iter()
                .filter(|r| r.target.contains("/quota/quotas") && r.status == 403)
                .count();
            stats >= 3 && refused >= 3
        },
    );
    let log = idic.log_text();
    let said = log
        .lines()
        .filter(|l| l.contains("ISI_PRIV_QUOTA") && l.contains("ERROR"))
        .count();
    assert_eq!(said, 1, "said once:\n{log}");
    assert!(log.contains("cluster=q1"), "{log}");
    assert!(!read_lines(&out).iter().any(|l| l.measurement == "quota"));
    // The privilege given back: quotas arrive, and that is said.
    cluster.quotas().set_forbidden(false);
    idic.wait_until(Duration::from_secs(20), "quota points", || {
        read_lines(&out).iter().any(|l| l.measurement == "quota")
    });
    idic.wait_log(Duration::from_secs(10), "the recovery line", |l| {
        l.contains("quotas are listed again")
    });
}

/// The points of `path` as (cluster, measurement, time), leaving out a last line
/// the sink is still writing.
fn read_whole_lines(path: &std::path::Path) -> Vec<crate::collect::Line> {
    let text = std::fs::read_to_string(path).unwrap_or_default();
    let whole = &text[..text.rfind('\n').map_or(0, |i| i + 1)];
    let tmp = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(tmp.path(), whole).unwrap();
    read_lines(tmp.path())
}

#[test]
fn statistics_quotas_and_partitioned_performance_of_twenty_clusters_do_not_delay_each_other() {
    let dir = Dir::new();
    let specs: Vec<ClusterSpec> = (1..=20)
        .map(|i| ClusterSpec::new(format!("M{i}")).with_quotas(500))
        .collect();
    let c = sim::clusters_logging(&dir, specs, 4000);
    let out = dir.join("points.jsonl");
    let section = format!(
        "path = {:?}\n\n[quotas]\nenabled = true\ninterval = 3\npage_limit = 25\n\n\
         [partitioned_performance]\nenabled = true\ninterval = 2\n",
        out.display().to_string()
    );
    let config = dir.write("idic.toml", &sim::config("jsonl", &section, &c, STATS, ""));
    let plugins = dir.plugin_dir(&[(&util::workspace_plugin("jsonl"), "libjsonl.so")]);
    let mut idic = Running::start(&dir, &config, &plugins, &[]);
    let interval = c
        .sim
        .catalog()
        .get(STATS[0])
        .unwrap()
        .update_interval()
        .unwrap() as i64;
    let names: Vec<String> = c
        .sim
        .clusters()
        .iter()
        .map(|h| h.name().to_lowercase())
        .collect();
    // Per cluster: the statistics' times, each quota snapshot's size by time,
    // and the partitioned-performance rows by (time, node, workload).
    type Rows = std::collections::BTreeSet<(i64, String, String)>;
    type Seen = BTreeMap<String, (Vec<i64>, BTreeMap<i64, usize>, Rows)>;
    let seen = || -> Seen {
        let mut s: Seen = BTreeMap::new();
        for l in read_whole_lines(&out) {
            let e = s.entry(l.cluster.clone()).or_default();
            if l.measurement == "quota" {
                *e.1.entry(l.time).or_default() += 1;
            } else if l.measurement.starts_with("cluster.performance.dataset.") {
                let tags = &l.rows[0]["tags"];
                let who = tags["username"].as_str().or(tags["workload_type"].as_str());
                e.2.insert((
                    l.time,
                    tags["node"].to_string(),
                    who.unwrap_or_default().to_string(),
                ));
            } else {
                e.0.push(l.time);
            }
        }
        s
    };
    idic.wait_until(
        Duration::from_secs(120),
        "five statistics cycles and four quota snapshots per cluster",
        || {
            let s = seen();
            names.iter().all(|n| {
                s.get(n).is_some_and(|(stats, quotas, _)| {
                    let mut t = stats.clone();
                    t.dedup();
                    t.len() >= 5 && quotas.len() >= 4
                })
            })
        },
    );
    idic.signal("TERM");
    assert_eq!(idic.wait_exit(Duration::from_secs(30)), 0);
    let s = seen();
    for (i, name) in names.iter().enumerate() {
        let (stats, quotas, perf) = &s[name];
        // idic made one statistics request per cycle of its own schedule, from
        // the first to the last, none skipped and none twice, and every time
        // the simulator answered reached the sink. Judged from the simulator's
        // request log, not from the answers' times: on a loaded machine a
        // request due late in its cluster's 5 s bucket can reach the simulator
        // in the next one, which then answers the same time twice.
        let cluster = &c.sim.clusters()[i];
        let answered =
            statistics_cycles(cluster, interval).unwrap_or_else(|e| panic!("{name}: {e}"));
        let stored: BTreeSet<i64> = stats.iter().copied().collect();
        assert_eq!(
            stored, answered,
            "{name}: the sink's statistics times are not the ones the simulator answered"
        );
        // Every quota snapshot is whole (the last one may still be on its way).
        let want = c.sim.clusters()[i]
            .quotas()
            .expected(Some("directory"))
            .len()
            + c.sim.clusters()[i]
                .quotas()
                .expected(Some("default-directory"))
                .len();
        let sizes: Vec<usize> = quotas.values().copied().collect();
        for size in &sizes[..sizes.len() - 1] {
            assert_eq!(
                *size, want,
                "{name}: a quota snapshot is incomplete: {sizes:?}"
            );
        }
        // Every partitioned-performance reading is whole: all the simulator's
        // rows of each time seen.
        let times: std::collections::BTreeSet<i64> = perf.iter().map(|r| r.0).collect();
        assert!(!times.is_empty(), "{name}: no partitioned performance");
        for t in times {
            let rows = c.sim.clusters()[i].perf().expected("users", t).unwrap();
            for row in rows {
                let who = row["username"]
                    .as_str()
                    .or(row["workload_type"].as_str())
                    .unwrap();
                let key = (t, format!("\"{}\"", row["node"]), who.to_string());
                assert!(
                    perf.contains(&key),
                    "{name}: missing partitioned-performance row {key:?}"
                );
            }
        }
    }
}

/// Checks that the statistics requests `cluster`'s log holds are one per cycle
/// of idic's schedule for it (`interval` seconds at the cluster's phase, as
/// `idic::collect::schedule` computes them for `127.0.0.1:<port>`): each
/// request belongs to the last cycle that began before the simulator read it,
/// and those cycles follow each other without a hole or a repeat. Returns the
/// times the simulator answered (the start of the key's update-interval
/// bucket of the clock it answered at); `Err` names the cycle skipped or
/// repeated, with the requests to the cluster just before it.
fn statistics_cycles(
    cluster: &onefs_sim::ClusterHandle,
    interval: i64,
) -> Result<BTreeSet<i64>, String> {
    let log = cluster.request_log();
    if log.len() as u64 != cluster.counters().total_requests() {
        return Err("the simulator's request log lost requests: raise its capacity".into());
    }
    let phase = idic::collect::schedule::phase(&format!("127.0.0.1:{}", cluster.port()));
    let offset = interval as f64 * phase;
    let unix = |at: std::time::SystemTime| {
        at.duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_secs_f64()
    };
    let cycle = |at| ((unix(at) - offset) / interval as f64).floor() as i64;
    let stats: Vec<usize> = (0..log.len())
        .filter(|&j| {
            log[j].status == 200 && log[j].target.starts_with("/platform/1/statistics/current")
        })
        .collect();
    for pair in stats.windows(2) {
        let (prev, next) = (cycle(log[pair[0]].at), cycle(log[pair[1]].at));
        if next != prev + 1 {
            let before: Vec<String> = log[pair[1].saturating_sub(4)..=pair[1]]
                .iter()
                .map(|r| format!("{:.3} {}", unix(r.at), r.target))
                .collect();
            return Err(format!(
                "statistics request of cycle {next} follows one of cycle {prev} \
                 (cycles of {interval} s at phase {phase:.3}); the last requests:\n{}",
                before.join("\n")
            ));
        }
    }
    Ok(stats
        .iter()
        .map(|&j| {
            let clock = log[j].clock.expect("an answered request has a clock");
            clock - clock.rem_euclid(interval)
        })
        .collect())
}
