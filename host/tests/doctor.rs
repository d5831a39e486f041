//! `idic doctor` against onefs-sim with each failure injected, one cluster per
//! failure in one config (so one run shows every verdict), and sinks that are
//! reachable, unreachable (influxdb, remote_write) and unable to answer; then a
//! healthy config that exits 0; then expired and soon-to-expire certificates.

use std::net::{IpAddr, Ipv4Addr};
use std::process::Command;

use onefs_sim::{ClusterSpec, Sim, SimConfig};

use crate::promd::free_port;
use crate::util::{self, Dir};

const STATS: &str = "\"cluster.cpu.idle.avg\", \"node.ifs.bytes.in.rate\"";

fn cluster(host: &str, port: u16, password: &str, ca: Option<&str>) -> String {
    let ca = ca.map_or(String::new(), |c| format!("ca_cert = {c:?}\n"));
    format!("[[cluster]]\nhostname = \"{host}\"\nport = {port}\nusername = \"statsreader\"\npassword = \"{password}\"\n{ca}\n")
}

fn config(clusters: &str, sinks: &str, sections: &str, stats: &str) -> String {
    format!(
        "[global]\nversion = \"0.39\"\nstats_processor = {sinks}\nactive_stat_groups = [\"test\"]\nconnect_timeout = 3\nrequest_timeout = 5\n\n{sections}\n{clusters}[[statgroup]]\nname = \"test\"\nupdate_interval = \"*\"\nstats = [{stats}]\n"
    )
}

/// Runs doctor; returns the exit code and standard output.
fn doctor(config: &std::path::Path, plugins: &std::path::Path) -> (i32, String) {
    let o = Command::new(util::idic_bin())
        .arg("doctor")
        .arg(config)
        .arg("--plugin-dir")
        .arg(plugins)
        .env_remove("IDIC_PLUGIN_DIR")
        .output()
        .expect("idic runs");
    let out = String::from_utf8_lossy(&o.stdout).to_string();
    let err = String::from_utf8_lossy(&o.stderr);
    (o.status.code().unwrap_or(-1), format!("{out}{err}"))
}

/// The lines of the section titled `title`.
fn section<'a>(report: &'a str, title: &str) -> Vec<&'a str> {
    report
        .lines()
        .skip_while(|l| *l != title)
        .skip(1)
        .take_while(|l| l.starts_with(' '))
        .collect()
}

fn has(lines: &[&str], needle: &str) -> bool {
    lines.iter().any(|l| l.contains(needle))
}

#[test]
fn doctor_names_each_injected_failure_with_its_fix() {
    let dir = Dir::new();
    let names = ["Healthy", "BadPw", "NoPriv", "Skewed", "Down", "NoCa"];
    let sim = Sim::start(SimConfig {
        // Every loopback address reaches it; its certificate names 127.0.0.1
        // and localhost, not 127.0.0.2.
        bind: IpAddr::V4(Ipv4Addr::UNSPECIFIED),
        clusters: names.iter().map(|n| ClusterSpec::new(*n)).collect(),
        ..SimConfig::default()
    })
    .expect("simulator starts");
    let ca = dir.write("ca.pem", &sim.ca_cert_pem());
    let ca = ca.to_str().unwrap();
    let port = |n: &str| sim.cluster(n).unwrap().port();
    sim.cluster("NoPriv")
        .unwrap()
        .faults()
        .set_statistics_forbidden(true);
    sim.cluster("Skewed")
        .unwrap()
        .faults()
        .set_clock_offset(3600);
    sim.cluster("Down").unwrap().faults().set_down(true);
    let clusters = [
        cluster("127.0.0.1", port("Healthy"), "s3kret", Some(ca)),
        cluster("127.0.0.2", port("Healthy"), "s3kret", Some(ca)),
        cluster("127.0.0.1", port("BadPw"), "wrong", Some(ca)),
        cluster("127.0.0.1", port("NoPriv"), "s3kret", Some(ca)),
        cluster("127.0.0.1", port("Skewed"), "s3kret", Some(ca)),
        cluster("127.0.0.1", port("Down"), "s3kret", Some(ca)),
        cluster("127.0.0.1", port("NoCa"), "s3kret", None),
        cluster("no-such-host.invalid", 8080, "s3kret", Some(ca)),
    ]
    .concat();
    let dead_influx = free_port();
    let dead_rw = free_port();
    let out = dir.join("points.jsonl");
    let sections = format!(
        "[jsonl]\npath = {:?}\n\n[sink.influx]\nplugin = \"influxdb\"\nhost = \"127.0.0.1\"\nport = \"{dead_influx}\"\ndatabase = \"x\"\n\n[sink.rw]\nplugin = \"remote_write\"\nurl = \"http://127.0.0.1:{dead_rw}/api/v1/write\"\nusername = \"idic\"\npassword = \"$env:IDIC_DOCTOR_UNSET\"\ntimeout = 3\n\n[outoftree]\npath = {:?}\n\n",
        out.display().to_string(),
        dir.join("oot.txt").display().to_string()
    );
    let plugins = dir.plugin_dir(&[
        (&util::workspace_plugin("jsonl"), "libjsonl.so"),
        (&util::workspace_plugin("influxdb"), "libinfluxdb.so"),
        (&util::workspace_plugin("discard"), "libdiscard.so"),
        (
            &util::workspace_plugin("remote_write"),
            "libremote_write.so",
        ),
        (&util::fixture_plugin("outoftree"), "liboutoftree.so"),
    ]);
    let stats = format!("{STATS}, \"no.such.key\"");
    let file = dir.write(
        "idic.toml",
        &config(
            &clusters,
            "[\"jsonl\", \"influx\", \"rw\", \"discard\", \"outoftree\"]",
            &sections,
            &stats,
        ),
    );
    let (code, report) = doctor(&file, &plugins);
    assert_eq!(code, 1, "{report}");

    let healthy = section(&report, &format!("cluster 127.0.0.1:{}", port("Healthy")));
    for step in [
        "name resolution",
        "TCP connect",
        "TLS",
        "login",
        "OneFS version",
        "statistics privilege",
        "clock skew",
    ] {
        assert!(
            has(&healthy, &format!("ok    {step}: ")),
            "{step}\n{report}"
        );
    }
    assert!(has(&healthy, "expires in "), "{report}");
    assert!(
        has(
            &healthy,
            "WARN  configured keys: 1 of 3 keys are not known to this cluster"
        ),
        "{report}"
    );
    assert!(has(&healthy, "no.such.key"), "{report}");

    let wrong_name = section(&report, &format!("cluster 127.0.0.2:{}", port("Healthy")));
    assert!(
        has(
            &wrong_name,
            "FAIL  TLS: the certificate does not name \"127.0.0.2\""
        ),
        "{report}"
    );
    assert!(
        has(
            &wrong_name,
            "fix: set hostname to a name the certificate carries"
        ),
        "{report}"
    );
    assert!(has(&wrong_name, "skip  login"), "{report}");

    let bad_pw = section(&report, &format!("cluster 127.0.0.1:{}", port("BadPw")));
    assert!(
        has(
            &bad_pw,
            "FAIL  login: session login as \"statsreader\" refused (HTTP 401)"
        ),
        "{report}"
    );
    assert!(has(&bad_pw, "fix: check username and password"), "{report}");

    let no_priv = section(&report, &format!("cluster 127.0.0.1:{}", port("NoPriv")));
    assert!(has(&no_priv, "ok    login"), "{report}");
    assert!(has(&no_priv, "FAIL  statistics privilege: \"statsreader\" logged in but may not read statistics (HTTP 403)"), "{report}");
    assert!(has(&no_priv, "ISI_PRIV_STATISTICS"), "{report}");

    let skewed = section(&report, &format!("cluster 127.0.0.1:{}", port("Skewed")));
    assert!(
        skewed
            .iter()
            .any(|l| l.contains("FAIL  clock skew: the cluster's clock is 3")
                && l.contains("s ahead")),
        "{report}"
    );
    assert!(
        has(
            &skewed,
            "fix: points carry the cluster's timestamps: run NTP"
        ),
        "{report}"
    );

    let down = section(&report, &format!("cluster 127.0.0.1:{}", port("Down")));
    assert!(has(&down, "FAIL  TCP connect"), "{report}");
    assert!(has(&down, "is open from this host"), "{report}");

    let no_ca = section(&report, &format!("cluster 127.0.0.1:{}", port("NoCa")));
    assert!(
        has(&no_ca, "FAIL  TLS: the certificate chain is not trusted"),
        "{report}"
    );
    assert!(
        has(&no_ca, "set ca_cert = \\\"/path/to/ca.pem\\\"")
            || has(&no_ca, "set ca_cert = \"/path/to/ca.pem\""),
        "{report}"
    );

    let unresolved = section(&report, "cluster no-such-host.invalid:8080");
    assert!(
        has(
            &unresolved,
            "FAIL  name resolution: \"no-such-host.invalid\" does not resolve"
        ),
        "{report}"
    );
    assert!(has(&unresolved, "skip  TCP connect"), "{report}");

    assert!(
        has(&section(&report, "sink jsonl"), "ok    reachable: "),
        "{report}"
    );
    let influx = section(&report, "sink influx (plugin influxdb)");
    assert!(has(&influx, "FAIL  reachable: "), "{report}");
    assert!(has(&influx, &dead_influx.to_string()), "{report}");
    let rw = section(&report, "sink rw (plugin remote_write)");
    assert!(
        has(
            &rw,
            "FAIL  reachable: cannot reach the remote-write receiver at http://127.0.0.1:"
        ),
        "{report}"
    );
    assert!(has(&rw, &dead_rw.to_string()), "{report}");
    assert!(
        has(
            &section(&report, "sink discard"),
            "ok    reachable: nothing to reach"
        ),
        "{report}"
    );
    assert!(
        has(
            &section(&report, "sink outoftree"),
            "WARN  reachable: not supported by plugin outoftree"
        ),
        "{report}"
    );
    assert!(report.contains("doctor: 9 problem(s) found"), "{report}");
    assert!(
        !report.contains("s3kret"),
        "no secret in the report\n{report}"
    );

    // Only what is usable: exit 0 despite the warnings.
    let healthy_only = dir.write(
        "healthy.toml",
        &config(
            &cluster("localhost", port("Healthy"), "s3kret", Some(ca)),
            "[\"jsonl\", \"discard\"]",
            &format!("[jsonl]\npath = {:?}\n\n", out.display().to_string()),
            &stats,
        ),
    );
    let (code, report) = doctor(&healthy_only, &plugins);
    assert_eq!(code, 0, "{report}");
    assert!(
        report.contains("doctor: everything checked is usable"),
        "{report}"
    );
    assert!(!out.exists(), "the jsonl ping leaves no file behind");
}

/// The UTC date of midnight `days` days from today, told by date(1) so the
/// test does not share doctor's calendar arithmetic.
fn midnight_in(days: i64) -> String {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64;
    let t = (now.div_euclid(86_400) + days) * 86_400;
    let o = Command::new("date")
        .args(["-u", "-d", &format!("@{t}"), "+%Y-%m-%d"])
        .output()
        .expect("date runs");
    String::from_utf8(o.stdout).unwrap().trim().to_string()
}

#[test]
fn doctor_fails_an_expired_certificate_and_warns_of_one_expiring_soon() {
    let dir = Dir::new();
    let sim = Sim::start(SimConfig {
        clusters: vec![
            ClusterSpec::new("Expired").with_cert_expiry_days(-3),
            ClusterSpec::new("Soon").with_cert_expiry_days(10),
        ],
        ..SimConfig::default()
    })
    .expect("simulator starts");
    let ca = dir.write("ca.pem", &sim.ca_cert_pem());
    let ca = ca.to_str().unwrap();
    let port = |n: &str| sim.cluster(n).unwrap().port();
    let out = dir.join("points.jsonl");
    let sections = format!("[jsonl]\npath = {:?}\n\n", out.display().to_string());
    let plugins = dir.plugin_dir(&[(&util::workspace_plugin("jsonl"), "libjsonl.so")]);
    let run = |name: &str| {
        let file = dir.write(
            &format!("{name}.toml"),
            &config(
                &cluster("127.0.0.1", port(name), "s3kret", Some(ca)),
                "[\"jsonl\"]",
                &sections,
                STATS,
            ),
        );
        doctor(&file, &plugins)
    };

    let (code, report) = run("Expired");
    assert_eq!(code, 1, "{report}");
    let expired = section(&report, &format!("cluster 127.0.0.1:{}", port("Expired")));
    assert!(
        has(
            &expired,
            &format!(
                "FAIL  TLS: the certificate of 127.0.0.1 expired on {} (UTC)",
                midnight_in(-3)
            )
        ),
        "{report}"
    );
    assert!(
        has(&expired, "fix: renew the cluster's certificate"),
        "{report}"
    );
    assert!(has(&expired, "skip  login"), "{report}");
    assert!(report.contains("doctor: 1 problem(s) found"), "{report}");

    let (code, report) = run("Soon");
    assert_eq!(code, 0, "{report}");
    let soon = section(&report, &format!("cluster 127.0.0.1:{}", port("Soon")));
    assert!(
        soon.iter()
            .any(|l| l.contains("WARN  TLS: certificate valid for 127.0.0.1")
                && l.contains(&format!(" days (on {})", midnight_in(10)))),
        "{report}"
    );
    assert!(
        has(
            &soon,
            "fix: renew the cluster's certificate before it expires"
        ),
        "{report}"
    );
    assert!(has(&soon, "ok    clock skew"), "{report}");
    assert!(
        report.contains("doctor: everything checked is usable"),
        "{report}"
    );
}
