//! Config parsing: every key with its default, gostats compatibility, and the
//! errors an operator sees (file, line, column, what was expected).

use std::path::Path;

use super::*;

const MINIMAL: &str = r#"
[global]
version = "0.39"
stats_processor = "discard"
active_stat_groups = ["g"]

[[cluster]]
hostname = "c1.example.com"
username = "u"
password = "p"

[[statgroup]]
name = "g"
update_interval = "*"
stats = ["cluster.cpu.idle.avg"]
"#;

fn ok(text: &str) -> (Config, Vec<Warning>) {
    Config::parse(Path::new("t.toml"), text).unwrap_or_else(|e| panic!("{e}"))
}

fn err(text: &str) -> String {
    Config::parse(Path::new("t.toml"), text)
        .unwrap_err()
        .to_string()
}

#[test]
fn defaults_match_gostats() {
    let (c, warnings) = ok(MINIMAL);
    assert!(warnings.is_empty(), "{warnings:?}");
    let g = &c.global;
    assert_eq!(g.stats_processor_max_retries, 8);
    assert_eq!(g.stats_processor_retry_interval, 5);
    assert_eq!(g.max_retries, 8);
    assert_eq!(g.min_update_interval_override, 30);
    assert!(!g.preserve_case && !g.include_degraded && !g.fetch_by_statgroup);
    assert_eq!(
        (g.connect_timeout, g.request_timeout, g.queue_size),
        (10, 60, 1000)
    );
    assert_eq!((g.max_backoff, g.sink_workers), (60, 4));
    let cl = &c.clusters[0];
    assert_eq!(cl.port, 8080);
    assert_eq!(cl.authtype, AuthType::Session);
    assert!(
        cl.verify_ssl,
        "idic verifies certificates when verify-ssl is absent"
    );
    assert!(!c.summary_stats.protocol && !c.summary_stats.client && !c.summary_stats.drive);
}

#[test]
fn every_gostats_key_is_read() {
    let text = r#"
[global]
version = "v0.31"
stats_processor = "influxdb"
stats_processor_max_retries = 3
stats_processor_retry_interval = 7
max_retries = 0
min_update_interval_override = 5
active_stat_groups = ["a", "b"]
preserve_case = true
include_degraded = true
fetch_by_statgroup = true

[logging]
logfile = "x.log"
log_file_format = "json"
log_level = "debug"
log_to_stdout = true

[summary_stats]
protocol = true
client = true
drive = true

[[cluster]]
hostname = "c1:8443"
username = "u"
password = "p"
authtype = "basic-auth"
verify-ssl = false
disabled = false
prometheus_port = 9101
preserve_case = false

[[statgroup]]
name = "a"
update_interval = "*2.5"
stats = ["k1"]

[[statgroup]]
name = "b"
update_interval = "60"
stats = ["k2"]
"#;
    let (c, warnings) = ok(text);
    assert_eq!(c.global.stats_processor_max_retries, 3);
    assert_eq!(c.global.max_retries, 0);
    assert!(c.global.fetch_by_statgroup);
    assert_eq!(c.logging.logfile_format.as_deref(), Some("json"));
    assert!(c.logging.log_to_stdout);
    assert!(c.summary_stats.drive);
    let cl = &c.clusters[0];
    assert_eq!((cl.hostname.as_str(), cl.port), ("c1", 8443));
    assert_eq!(cl.authtype, AuthType::Basic);
    assert!(!cl.verify_ssl);
    assert_eq!(cl.prometheus_port, Some(9101));
    assert_eq!(cl.preserve_case, Some(false));
    assert_eq!(
        c.stat_groups[0].update_interval,
        UpdateInterval::Multiplier(2.5)
    );
    assert_eq!(
        c.stat_groups[1].update_interval,
        UpdateInterval::Absolute(60)
    );
    assert!(
        warnings.iter().any(|w| w.0.contains("verify-ssl = false")),
        "turning verification off is warned about: {warnings:?}"
    );
}

#[test]
fn every_idic_extension_key_is_read() {
    let extensions = "plugin_dir = \"/opt/p\"\nconnect_timeout = 3\nrequest_timeout = 9\n\
        queue_size = 7\nmax_backoff = 120\nsink_workers = 16\n";
    let (c, warnings) = ok(&MINIMAL.replace("[[cluster]]", &format!("{extensions}\n[[cluster]]")));
    assert!(warnings.is_empty(), "{warnings:?}");
    let g = &c.global;
    assert_eq!(g.plugin_dir.as_deref(), Some(Path::new("/opt/p")));
    assert_eq!(
        (g.connect_timeout, g.request_timeout, g.queue_size),
        (3, 9, 7)
    );
    assert_eq!((g.max_backoff, g.sink_workers), (120, 16));
}

#[test]
fn versions_outside_gostats_range_are_refused_with_position() {
    for bad in ["0.30", "0.40", "1.0", "latest"] {
        let e = err(&MINIMAL.replace("\"0.39\"", &format!("{bad:?}")));
        assert!(e.starts_with("t.toml:3:11: "), "{e}");
        assert!(e.contains("0.31 to 0.39"), "{e}");
    }
    ok(&MINIMAL.replace("\"0.39\"", "\"V0.35\""));
}

#[test]
fn wrong_type_names_line_and_column() {
    let e = err(&MINIMAL.replace("stats_processor = \"discard\"", "stats_processor = 3"));
    assert!(e.starts_with("t.toml:4:19: "), "{e}");
    assert!(e.contains("expected a string"), "{e}");
}

#[test]
fn syntax_error_names_line_and_column() {
    let e = err("[global\nversion = 1\n");
    assert!(e.starts_with("t.toml:1:"), "{e}");
}

#[test]
fn missing_global_is_a_clear_error() {
    let e = err("[[cluster]]\nhostname = \"x\"\nusername = \"u\"\npassword = \"p\"\n");
    assert!(e.contains("missing the [global] table"), "{e}");
}

#[test]
fn unknown_active_group_is_warned_and_dropped() {
    let (c, w) = ok(&MINIMAL.replace("[\"g\"]", "[\"g\", \"nope\"]"));
    assert_eq!(c.stat_groups.len(), 1);
    assert!(w.iter().any(|w| w.0.contains("\"nope\"")), "{w:?}");
}

#[test]
fn nothing_to_collect_is_an_error() {
    let e = err(&MINIMAL.replace("[\"g\"]", "[\"nope\"]"));
    assert!(e.contains("nothing to collect"), "{e}");
    let e = err(&MINIMAL.replace("stats = [\"cluster.cpu.idle.avg\"]", "stats = []"));
    assert!(e.contains("nothing to collect"), "{e}");
    let e = err(&MINIMAL.replace("password = \"p\"", "password = \"p\"\ndisabled = true"));
    assert!(e.contains("no enabled [[cluster]]"), "{e}");
}

#[test]
fn stat_in_two_active_groups_is_an_error() {
    let text =
        format!("{MINIMAL}\n[[statgroup]]\nname = \"h\"\nstats = [\"cluster.cpu.idle.avg\"]\n")
            .replace("[\"g\"]", "[\"g\", \"h\"]");
    let e = err(&text);
    assert!(
        e.contains("\"cluster.cpu.idle.avg\" is in two active stat groups"),
        "{e}"
    );
}

#[test]
fn unparsable_update_interval_warns_and_means_own() {
    let (c, w) = ok(&MINIMAL.replace("update_interval = \"*\"", "update_interval = \"often\""));
    assert_eq!(c.stat_groups[0].update_interval, UpdateInterval::Own);
    assert!(w.iter().any(|w| w.0.contains("\"often\"")), "{w:?}");
}

#[test]
fn unknown_authtype_warns_and_uses_session() {
    let (c, w) = ok(&MINIMAL.replace(
        "password = \"p\"",
        "password = \"p\"\nauthtype = \"kerberos\"",
    ));
    assert_eq!(c.clusters[0].authtype, AuthType::Session);
    assert!(w.iter().any(|w| w.0.contains("kerberos")), "{w:?}");
}

#[test]
fn unset_env_secret_names_the_variable() {
    let e = err(&MINIMAL.replace("\"p\"", "\"$env:IDIC_TEST_UNSET_PW\""));
    assert!(e.contains("IDIC_TEST_UNSET_PW"), "{e}");
    assert!(e.starts_with("t.toml:10:12: "), "{e}");
}

#[test]
fn port_key_and_hostname_port_agree_or_fail() {
    let (c, _) = ok(&MINIMAL.replace("password = \"p\"", "password = \"p\"\nport = 18080"));
    assert_eq!(c.clusters[0].port, 18080);
    let e = err(&MINIMAL
        .replace("c1.example.com", "c1.example.com:1")
        .replace("password = \"p\"", "password = \"p\"\nport = 2"));
    assert!(e.contains("keep one"), "{e}");
}

#[test]
fn bad_log_level_is_refused() {
    let e = err(&format!("{MINIMAL}\n[logging]\nlog_level = \"loud\"\n"));
    assert!(e.contains("CRITICAL, ERROR"), "{e}");
}

#[test]
fn interval_strings_parse_like_gostats() {
    assert_eq!(parse_interval("*"), Some(UpdateInterval::Own));
    assert_eq!(parse_interval("*3"), Some(UpdateInterval::Multiplier(3.0)));
    assert_eq!(
        parse_interval("*0.5"),
        Some(UpdateInterval::Multiplier(0.5))
    );
    assert_eq!(parse_interval("300"), Some(UpdateInterval::Absolute(300)));
    assert_eq!(parse_interval("*-1"), None);
    assert_eq!(parse_interval("5m"), None);
}

#[test]
fn plugin_sections_are_handed_over_as_toml() {
    let (c, _) = ok(&format!(
        "{MINIMAL}\n[influxdb]\nhost = \"h\"\nport = \"8086\"\n"
    ));
    let section: toml::Table = c.section_toml("influxdb").parse().unwrap();
    assert_eq!(section["port"].as_str(), Some("8086"));
    assert_eq!(c.section_toml("absent"), "");
}

#[test]
fn the_example_config_is_valid() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../idic.toml.example");
    let (c, w) = Config::load(&path).unwrap_or_else(|e| panic!("{e}"));
    assert!(w.is_empty(), "{w:?}");
    assert_eq!(c.stat_groups.len(), 13);
    assert_eq!(
        c.stat_groups.iter().map(|g| g.stats.len()).sum::<usize>(),
        116
    );
}
