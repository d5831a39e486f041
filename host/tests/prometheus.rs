//! The prometheus sink end to end: `onefs-sim` over HTTPS -> the built `idic`
//! with the prometheus plugin loaded from a plugins folder -> a real Prometheus
//! (`promd.rs`) that finds the clusters through idic's HTTP service discovery,
//! scrapes them, and is asked through its own HTTP API what it stored.

use std::time::Duration;

use onefs_sim::ClusterSpec;
use serde_json::Value;

use crate::promd::{self, Promd};
use crate::sim::{self, Clusters};
use crate::util::{self, Dir, Running};

const STATS: &[&str] = &[
    "cluster.cpu.idle.avg",
    "cluster.protostats.nfs.total",
    "ifs.bytes.total",
    "node.load.1min",
    "node.ifs.heat.lock.total",
];

/// Targets appear up 6-11 s after discovery starts answering; allow some slack.
const DISCOVERY: Duration = Duration::from_secs(40);

/// `sim::config` for the prometheus plugin, with `prometheus_port = ports[i]` in
/// the i-th `[[cluster]]` table and `extra_clusters` before the stat group.
pub(crate) fn config(c: &Clusters, section: &str, ports: &[u16], extra_clusters: &str) -> String {
    let text = sim::config("prometheus", section, c, STATS, "");
    let mut out = String::new();
    let mut i = 0;
    for line in text.lines() {
        if line == "[[statgroup]]" {
            out.push_str(extra_clusters);
        }
        out.push_str(line);
        out.push('\n');
        if line == "[[cluster]]" {
            out.push_str(&format!("prometheus_port = {}\n", ports[i]));
            i += 1;
        }
    }
    assert_eq!(i, ports.len(), "one port per simulated cluster");
    out
}

pub(crate) fn http_get(url: &str) -> Option<(u16, String)> {
    let agent = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .timeout_global(Some(Duration::from_secs(5)))
        .build()
        .new_agent();
    let mut res = agent.get(url).call().ok()?;
    let status = res.status().as_u16();
    Some((status, res.body_mut().read_to_string().ok()?))
}

/// Every raw sample `[[time, "value"], ...]` of the series `selector` over the
/// last five minutes (a range selector in an instant query returns them as
/// stored, with their own timestamps).
fn samples(p: &Promd, selector: &str) -> Vec<(i64, f64)> {
    let data = p.query(&format!("{selector}[5m]"));
    let result = data["result"].as_array().cloned().unwrap_or_default();
    assert!(result.len() <= 1, "{selector} matches one series: {data}");
    result
        .first()
        .map(|series| {
            series["values"]
                .as_array()
                .unwrap()
                .iter()
                .map(|v| {
                    let t = v[0].as_f64().unwrap();
                    (t as i64, v[1].as_str().unwrap().parse::<f64>().unwrap())
                })
                .collect()
        })
        .unwrap_or_default()
}

fn up_targets(p: &Promd) -> Vec<String> {
    p.active_targets()
        .iter()
        .filter(|t| t["health"] == "up")
        .map(|t| t["scrapeUrl"].as_str().unwrap_or_default().to_string())
        .collect()
}

#[test]
fn prometheus_discovers_every_cluster_and_stores_the_simulator_values() {
    if !crate::services::available(
        "prometheus",
        "prometheus_discovers_every_cluster_and_stores_the_simulator_values",
    ) {
        return;
    }
    let dir = Dir::new();
    let c = sim::clusters(&dir, vec![ClusterSpec::new("C1"), ClusterSpec::new("C2")]);
    let ports = [promd::free_port(), promd::free_port()];
    let disabled_port = promd::free_port();
    let sd_port = promd::free_port();
    let section = format!(
        "\n[prom_http_sd]\nenabled = true\nlisten_addr = \"127.0.0.1\"\nsd_port = {sd_port}\n"
    );
    let disabled = format!(
        "[[cluster]]\nhostname = \"127.0.0.1\"\nport = 1\nusername = \"u\"\npassword = \"p\"\n\
         disabled = true\nprometheus_port = {disabled_port}\n\n"
    );
    let config = dir.write("idic.toml", &config(&c, &section, &ports, &disabled));
    let plugins = dir.plugin_dir(&[(&util::workspace_plugin("prometheus"), "libprometheus.so")]);
    let mut idic = Running::start(&dir, &config, &plugins, &[]);

    // Discovery answers with the enabled clusters only.
    let sd_url = format!("http://127.0.0.1:{sd_port}/");
    idic.wait_until(Duration::from_secs(20), "the discovery endpoint", || {
        http_get(&sd_url).is_some()
    });
    let (status, sd) = http_get(&sd_url).unwrap();
    assert_eq!(status, 200);
    let sd: Value = serde_json::from_str(&sd).unwrap();
    assert_eq!(
        sd,
        serde_json::json!([{
            "targets": [format!("127.0.0.1:{}", ports[0].min(ports[1])), format!("127.0.0.1:{}", ports[0].max(ports[1]))],
            "labels": {"__meta_prometheus_job": "isilon_stats"}
        }])
    );

    // Each cluster's own port: landing page and metrics.
    for port in ports {
        idic.wait_until(Duration::from_secs(30), "a /metrics listener", || {
            http_get(&format!("http://127.0.0.1:{port}/metrics"))
                .is_some_and(|(s, body)| s == 200 && body.contains("isilon_stat_"))
        });
        let (status, page) = http_get(&format!("http://127.0.0.1:{port}/")).unwrap();
        assert_eq!(status, 200);
        assert!(page.contains("href=\"/metrics\""), "{page}");
    }

    let mut prom = Promd::start(
        &dir,
        &format!(
            "  - job_name: isilon\n    http_sd_configs:\n      - url: {sd_url}\n        refresh_interval: 2s\n"
        ),
    );
    prom.wait(DISCOVERY, "both clusters' targets up", |p| {
        up_targets(p).len() == 2
    });
    let up = up_targets(&prom);
    for port in ports {
        assert!(
            up.contains(&format!("http://127.0.0.1:{port}/metrics")),
            "{up:?}"
        );
    }
    assert!(!format!("{up:?}").contains(&disabled_port.to_string()));

    // Every checked key of both clusters; ifs.bytes.* is collected every 30 s, at
    // each cluster's phase of the interval.
    prom.wait(Duration::from_secs(60), "samples of every key", |p| {
        ["c1", "c2"].iter().all(|tag| {
            [
                "isilon_stat_cluster_cpu_idle_avg",
                "isilon_stat_cluster_protostats_nfs_total_op_rate",
                "isilon_stat_cluster_protostats_nfs_total_time_avg",
                "isilon_stat_ifs_bytes_total",
            ]
            .iter()
            .all(|m| !samples(p, &format!("{m}{{cluster=\"{tag}\"}}")).is_empty())
        })
    });

    // Every stored sample equals what the simulator answered at that time.
    for (handle, tag) in c.sim.clusters().iter().zip(["c1", "c2"]) {
        // (metric, statistic, field of the `.total` record or None for a number)
        let checks = [
            (
                "isilon_stat_cluster_cpu_idle_avg",
                "cluster.cpu.idle.avg",
                None,
            ),
            ("isilon_stat_ifs_bytes_total", "ifs.bytes.total", None),
            (
                "isilon_stat_cluster_protostats_nfs_total_op_rate",
                "cluster.protostats.nfs.total",
                Some("op_rate"),
            ),
            (
                "isilon_stat_cluster_protostats_nfs_total_time_avg",
                "cluster.protostats.nfs.total",
                Some("time_avg"),
            ),
        ];
        for (metric, key, field) in checks {
            let got = samples(&prom, &format!("{metric}{{cluster=\"{tag}\"}}"));
            assert!(!got.is_empty(), "{metric} for {tag}");
            for (time, value) in got {
                let answer = handle
                    .expected(key, 0, time)
                    .unwrap_or_else(|| panic!("the simulator knows {key} at {time}"));
                let want = match field {
                    None => answer.as_f64(),
                    Some(f) => answer[0][f].as_f64(),
                };
                assert_eq!(Some(value), want, "{metric}{{cluster=\"{tag}\"}} at {time}");
            }
        }
        // A node-scoped key: one series per node, labelled like gostats'.
        let load = prom.query(&format!("isilon_stat_node_load_1min{{cluster=\"{tag}\"}}"));
        let series = load["result"].as_array().unwrap();
        assert_eq!(series.len() as u32, handle.nodes(), "{load}");
        for s in series {
            let m = &s["metric"];
            let devid: u32 = m["devid"].as_str().unwrap().parse().unwrap();
            assert_eq!(
                m["node"].as_str().unwrap(),
                handle.lnn(devid).unwrap().to_string()
            );
            assert_eq!(m["job"], "isilon");
        }
    }

    // A gauge whose name ends in _total goes through OpenMetrics parsing too. Its
    // key is collected every 15 s, at the cluster's phase of the interval: wait
    // for its first sample rather than assume it came with the 5 s keys.
    prom.wait(Duration::from_secs(40), "a heat sample", |p| {
        p.query("count(isilon_stat_node_ifs_heat_lock_total)")["result"] != serde_json::json!([])
    });
    assert!(
        !prom.log_text().contains("append failed"),
        "{}",
        prom.log_text()
    );

    idic.signal("TERM");
    assert_eq!(idic.wait_exit(Duration::from_secs(20)), 0);
}

#[test]
fn basic_auth_with_an_env_password_survives_a_reload() {
    if !crate::services::available(
        "prometheus",
        "basic_auth_with_an_env_password_survives_a_reload",
    ) {
        return;
    }
    std::env::set_var("IDIC_E2E_PROM_PASSWORD", "e2e-s3cret");
    let dir = Dir::new();
    let c = sim::clusters(&dir, vec![ClusterSpec::new("C1")]);
    let port = promd::free_port();
    let section = "authenticated = true\nusername = \"scraper\"\npassword = \"$env:IDIC_E2E_PROM_PASSWORD\"\n";
    let config = dir.write("idic.toml", &config(&c, section, &[port], ""));
    let plugins = dir.plugin_dir(&[(&util::workspace_plugin("prometheus"), "libprometheus.so")]);
    let mut idic = Running::start(&dir, &config, &plugins, &[]);
    let url = format!("http://127.0.0.1:{port}/metrics");
    idic.wait_until(Duration::from_secs(30), "the /metrics listener", || {
        http_get(&url).is_some_and(|(s, _)| s == 401)
    });

    let mut prom = Promd::start(
        &dir,
        &format!(
            "  - job_name: isilon\n    basic_auth:\n      username: scraper\n      password: e2e-s3cret\n    static_configs:\n      - targets: ['127.0.0.1:{port}']\n"
        ),
    );
    prom.wait(DISCOVERY, "the target up with basic auth", |p| {
        up_targets(p).len() == 1
    });
    prom.wait(Duration::from_secs(20), "a sample", |p| {
        !samples(p, "isilon_stat_cluster_cpu_idle_avg{cluster=\"c1\"}").is_empty()
    });

    // A reload closes the sink and opens it again on the same port at once.
    idic.signal("HUP");
    idic.wait_log(Duration::from_secs(20), "a second listener", |log| {
        log.matches(&format!(":{port}/metrics")).count() >= 2
    });
    assert_eq!(http_get(&url).map(|(s, _)| s), Some(401));
    let before = samples(&prom, "isilon_stat_cluster_cpu_idle_avg{cluster=\"c1\"}").len();
    prom.wait(
        Duration::from_secs(30),
        "new samples after the reload",
        |p| samples(p, "isilon_stat_cluster_cpu_idle_avg{cluster=\"c1\"}").len() > before,
    );
    assert_eq!(up_targets(&prom).len(), 1);
    assert!(
        !idic.log_text().contains("e2e-s3cret"),
        "the password reached the log"
    );
    idic.signal("TERM");
    assert_eq!(idic.wait_exit(Duration::from_secs(20)), 0);
}
