//! Talking to OneFS as an operator configures it: Basic auth, wrong credentials,
//! certificate checks. Each failure is one clear log line that names the cluster
//! and the setting to fix, and idic keeps running.

use std::time::Duration;

use onefs_sim::ClusterSpec;

use crate::sim;
use crate::util::{self, Dir, Running};

fn start(dir: &Dir, tables: String) -> (Running, std::path::PathBuf) {
    let plugins = dir.plugin_dir(&[(&util::workspace_plugin("jsonl"), "libjsonl.so")]);
    let out = dir.join("points.jsonl");
    let config = dir.write(
        "idic.toml",
        &format!(
            "[global]\nversion = \"0.39\"\nstats_processor = \"jsonl\"\nmin_update_interval_override = 5\nactive_stat_groups = [\"g\"]\n\n[jsonl]\npath = {:?}\n\n{tables}\n[[statgroup]]\nname = \"g\"\nstats = [\"cluster.cpu.idle.avg\"]\n",
            out.display().to_string()
        ),
    );
    (Running::start(dir, &config, &plugins, &[]), out)
}

#[test]
fn basic_auth_collects_without_a_session() {
    let dir = Dir::new();
    let c = sim::clusters(&dir, vec![ClusterSpec::new("Basic")]);
    let tables = sim::cluster_tables(&c)
        .replace("[[cluster]]\n", "[[cluster]]\nauthtype = \"basic-auth\"\n");
    let (mut idic, out) = start(&dir, tables);
    idic.wait_until(Duration::from_secs(30), "points", || {
        std::fs::read_to_string(&out)
            .unwrap_or_default()
            .lines()
            .count()
            >= 2
    });
    let counters = c.sim.clusters()[0].counters();
    assert_eq!(counters.logins, 0, "no session login with basic-auth");
}

#[test]
fn wrong_password_is_named_as_a_config_problem_and_idic_keeps_running() {
    for auth in ["session", "basic-auth"] {
        let dir = Dir::new();
        let c = sim::clusters(
            &dir,
            vec![ClusterSpec::new("Locked"), ClusterSpec::new("Open")],
        );
        let tables = sim::cluster_tables(&c);
        let port = c.sim.cluster("Locked").unwrap().port();
        let wrong = tables.replacen(
            &format!("port = {port}\nusername = \"statsreader\"\npassword = \"s3kret\""),
            &format!("port = {port}\nusername = \"statsreader\"\npassword = \"wrong\"\nauthtype = \"{auth}\""),
            1,
        );
        let (mut idic, out) = start(&dir, wrong);
        idic.wait_log(Duration::from_secs(30), "the refusal", |log| {
            log.contains(&format!("cluster=127.0.0.1:{port} cannot start collecting"))
                && log.contains("check username and password in its [[cluster]]")
        });
        assert!(
            !idic.log_text().contains("wrong"),
            "the password never appears in the log"
        );
        idic.wait_until(
            Duration::from_secs(30),
            "the other cluster delivers",
            || {
                std::fs::read_to_string(&out)
                    .unwrap_or_default()
                    .contains("\"cluster\":\"open\"")
            },
        );
    }
}

#[test]
fn an_untrusted_certificate_names_the_setting_that_fixes_it() {
    let dir = Dir::new();
    let c = sim::clusters(&dir, vec![ClusterSpec::new("SelfSigned")]);
    let without_ca: String = sim::cluster_tables(&c)
        .lines()
        .filter(|l| !l.starts_with("ca_cert"))
        .map(|l| format!("{l}\n"))
        .collect();
    let (mut idic, _) = start(&dir, without_ca);
    idic.wait_log(Duration::from_secs(30), "the certificate error", |log| {
        log.contains("could not be verified") && log.contains("set ca_cert in its [[cluster]]")
    });
}

#[test]
fn verify_ssl_false_collects_and_warns() {
    let dir = Dir::new();
    let c = sim::clusters(&dir, vec![ClusterSpec::new("Insecure")]);
    let insecure: String = sim::cluster_tables(&c)
        .lines()
        .map(|l| {
            if l.starts_with("ca_cert") {
                "verify-ssl = false".to_string()
            } else {
                l.to_string()
            }
        })
        .map(|l| format!("{l}\n"))
        .collect();
    let (mut idic, out) = start(&dir, insecure);
    idic.wait_until(Duration::from_secs(30), "points", || {
        std::fs::read_to_string(&out).is_ok_and(|t| !t.is_empty())
    });
    assert!(
        idic.log_text().contains("certificate is NOT checked"),
        "{}",
        idic.log_text()
    );
}
