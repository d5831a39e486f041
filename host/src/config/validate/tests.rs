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
    for (text, expected) in [
        ("*", Some(UpdateInterval::Own)),
        ("*3", Some(UpdateInterval::Multiplier(3.0))),
        ("*0.5", Some(UpdateInterval::Multiplier(0.5))),
        (" * 2 ", Some(UpdateInterval::Multiplier(2.0))),
        ("300", Some(UpdateInterval::Absolute(300))),
        ("0", Some(UpdateInterval::Absolute(0))),
        ("5m", None),
        ("*x", None),
        ("60.5", None),
        ("", None),
    ] {
        assert_eq!(parse_interval(text), Ok(expected), "{text:?}");
    }
    for text in ["*-1", "*0", "*inf", "*NaN", "86401", "-5"] {
        assert!(parse_interval(text).is_err(), "{text:?}");
    }
}

/// `MINIMAL` with `line` added to `[global]`, as line 6.
fn global(line: &str) -> String {
    MINIMAL.replace("[\"g\"]\n", &format!("[\"g\"]\n{line}\n"))
}

/// `MINIMAL` with `line` added to its `[[cluster]]`, as line 11.
fn cluster(line: &str) -> String {
    MINIMAL.replace("\"p\"\n", &format!("\"p\"\n{line}\n"))
}

/// `MINIMAL` with the stat group's update_interval (line 14, column 19) set.
fn interval(value: &str) -> String {
    MINIMAL.replace("\"*\"", &format!("{value:?}"))
}

/// Each config is refused with a message that starts with `expected`.
fn check_refused(cases: &[(String, &str)]) {
    for (text, expected) in cases {
        let e = err(text);
        assert!(e.starts_with(expected), "\n got: {e}\nwant: {expected}...");
    }
}

#[test]
fn update_intervals_out_of_range_are_refused_with_position() {
    let multiplier = "out of range, a multiplier \"*N\" must be above 0 and at most 1000";
    let seconds = "out of range, seconds must be 0 to 86400";
    let at = "t.toml:14:19: [[statgroup]] \"g\": update_interval";
    check_refused(&[
        (
            interval("*1e300"),
            &format!("{at} \"*1e300\" is {multiplier}"),
        ),
        (interval("*0"), &format!("{at} \"*0\" is {multiplier}")),
        (interval("*-1"), &format!("{at} \"*-1\" is {multiplier}")),
        (interval("*inf"), &format!("{at} \"*inf\" is {multiplier}")),
        (interval("*NaN"), &format!("{at} \"*NaN\" is {multiplier}")),
        (
            interval("*1000.5"),
            &format!("{at} \"*1000.5\" is {multiplier}"),
        ),
        (
            interval("999999999"),
            &format!("{at} \"999999999\" is {seconds}"),
        ),
        (interval("86401"), &format!("{at} \"86401\" is {seconds}")),
        (interval("-5"), &format!("{at} \"-5\" is {seconds}")),
        (
            interval("99999999999999999999999999"),
            &format!("{at} \"99999999999999999999999999\" is {seconds}"),
        ),
        (
            format!("{MINIMAL}\n[[statgroup]]\nname = \"unused\"\nupdate_interval = \"*0\"\n"),
            &format!(
                "t.toml:19:19: [[statgroup]] \"unused\": update_interval \"*0\" is {multiplier}"
            ),
        ),
    ]);
}

#[test]
fn global_numbers_out_of_range_are_refused_with_position() {
    let at = "t.toml:6:";
    check_refused(&[
        (
            global("stats_processor_max_retries = 1000001"),
            &format!("{at}31: [global]: stats_processor_max_retries = 1000001 is out of range, it may be at most 1000000, use 0 or less to retry forever"),
        ),
        (
            global("max_retries = 9223372036854775807"),
            &format!("{at}15: [global]: max_retries = 9223372036854775807 is out of range, it may be at most 1000000"),
        ),
        (
            global("stats_processor_retry_interval = 0"),
            &format!("{at}34: [global]: stats_processor_retry_interval = 0 is out of range, it must be 1 to 3600 seconds, remove the key for the default 5"),
        ),
        (
            global("stats_processor_retry_interval = 3601"),
            &format!("{at}34: [global]: stats_processor_retry_interval = 3601 is out of range"),
        ),
        (
            global("min_update_interval_override = 86401"),
            &format!("{at}32: [global]: min_update_interval_override = 86401 is out of range, it may be at most 86400 seconds"),
        ),
        (
            global("connect_timeout = 0"),
            &format!("{at}19: [global]: connect_timeout = 0 is out of range, it must be 1 to 300 seconds, remove the key for the default 10"),
        ),
        (
            global("connect_timeout = -1"),
            &format!("{at}19: [global]: connect_timeout = -1 is out of range, it must be 1 to 300 seconds"),
        ),
        (
            global("connect_timeout = 301"),
            &format!("{at}19: [global]: connect_timeout = 301 is out of range"),
        ),
        (
            global("request_timeout = 0"),
            &format!("{at}19: [global]: request_timeout = 0 is out of range, it must be 1 to 3600 seconds, remove the key for the default 60"),
        ),
        (
            global("request_timeout = 3601"),
            &format!("{at}19: [global]: request_timeout = 3601 is out of range"),
        ),
        (
            global("queue_size = 0"),
            &format!("{at}14: [global]: queue_size = 0 is out of range, it must be 1 to 1000000 batches, remove the key for the default 1000"),
        ),
        (
            global("queue_size = 1000001"),
            &format!("{at}14: [global]: queue_size = 1000001 is out of range"),
        ),
        (
            global("max_backoff = 0"),
            &format!("{at}15: [global]: max_backoff = 0 is out of range, it must be 1 to 3600 seconds, remove the key for the default 60"),
        ),
        (
            global("max_backoff = 3601"),
            &format!("{at}15: [global]: max_backoff = 3601 is out of range"),
        ),
        (
            global("sink_workers = 0"),
            &format!("{at}16: [global]: sink_workers = 0 is out of range, it must be 1 to 64, remove the key for the default 4"),
        ),
        (
            global("sink_workers = 1000"),
            &format!("{at}16: [global]: sink_workers = 1000 is out of range"),
        ),
        (
            global("backfill_max = -1"),
            &format!("{at}16: [global]: backfill_max = -1 is out of range, it must be 0 to 1209600 seconds (14 days), use 0 to turn backfill off, or remove the key for the default 3600"),
        ),
        (
            global("backfill_max = 1209601"),
            &format!("{at}16: [global]: backfill_max = 1209601 is out of range"),
        ),
    ]);
}

#[test]
fn cluster_ports_out_of_range_are_refused_with_position() {
    check_refused(&[
        (
            cluster("prometheus_port = 0"),
            "t.toml:11:19: [[cluster]] #1 (c1.example.com): prometheus_port = 0 is out of range, it must be 1 to 65535, choose a free TCP port such as 9090",
        ),
        (
            cluster("prometheus_port = 65536"),
            "t.toml:11:19: [[cluster]] #1 (c1.example.com): prometheus_port = 65536 is out of range",
        ),
        (
            cluster("port = 0"),
            "t.toml:11:8: [[cluster]] #1 (c1.example.com): port = 0 is out of range, it must be 1 to 65535",
        ),
        (
            format!("{MINIMAL}\n[[cluster]]\nhostname = \"c2\"\nusername = \"u\"\npassword = \"p\"\ndisabled = true\nprometheus_port = 0\n"),
            "t.toml:22:19: [[cluster]] #2 (c2): prometheus_port = 0 is out of range",
        ),
    ]);
}

#[test]
fn values_at_the_edges_of_their_ranges_are_accepted() {
    let edges = "stats_processor_max_retries = 1000000\nstats_processor_retry_interval = 3600\n\
        max_retries = -9223372036854775808\nmin_update_interval_override = 86400\n\
        connect_timeout = 300\nrequest_timeout = 3600\nqueue_size = 1000000\n\
        max_backoff = 3600\nsink_workers = 64";
    let (c, w) = ok(&global(edges));
    assert!(w.is_empty(), "{w:?}");
    assert_eq!(c.global.min_update_interval_override, 86400);
    let lows = "stats_processor_retry_interval = 1\nconnect_timeout = 1\nrequest_timeout = 1\n\
        queue_size = 1\nmax_backoff = 1\nsink_workers = 1";
    let (c, w) = ok(&global(lows));
    assert!(w.is_empty(), "{w:?}");
    assert_eq!((c.global.max_backoff, c.global.sink_workers), (1, 1));
    let (c, _) = ok(&cluster("port = 65535\nprometheus_port = 1"));
    assert_eq!(c.clusters[0].port, 65535);
    for (text, expected) in [
        ("*0.001", UpdateInterval::Multiplier(0.001)),
        ("*1000", UpdateInterval::Multiplier(1000.0)),
        ("0", UpdateInterval::Absolute(0)),
        ("86400", UpdateInterval::Absolute(86400)),
    ] {
        let (c, w) = ok(&interval(text));
        assert!(w.is_empty(), "{text:?}: {w:?}");
        assert_eq!(c.stat_groups[0].update_interval, expected, "{text:?}");
    }
}

#[test]
fn min_update_interval_override_below_one_warns_and_means_one() {
    for low in ["0", "-30"] {
        let (c, w) = ok(&global(&format!("min_update_interval_override = {low}")));
        assert_eq!(c.global.min_update_interval_override, 1);
        assert!(
            w.iter().any(|w| w.0.contains(&format!(
                "min_update_interval_override = {low} is below 1 s"
            ))),
            "{w:?}"
        );
    }
}

#[test]
fn retry_interval_above_max_backoff_is_warned_about() {
    let (_, w) = ok(&global("stats_processor_retry_interval = 300"));
    assert_eq!(w.len(), 1, "{w:?}");
    assert!(
        w[0].0.starts_with(
            "t.toml:6:34: [global]: stats_processor_retry_interval = 300 is above max_backoff = 60"
        ),
        "{w:?}"
    );
    let (_, w) = ok(&global(
        "stats_processor_retry_interval = 300\nmax_backoff = 300",
    ));
    assert!(w.is_empty(), "{w:?}");
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

#[test]
fn a_gostats_config_collects_no_quotas_and_quotas_can_be_enabled_per_cluster() {
    let (c, _) = ok(MINIMAL);
    assert_eq!(c.quotas, crate::config::Quotas::default());
    assert!(!c.quotas_enabled(&c.clusters[0]));
    let text = MINIMAL.replace("password = \"p\"", "password = \"p\"\nquotas = true");
    let (c, warnings) = ok(&text);
    assert!(warnings.is_empty(), "{warnings:?}");
    assert!(c.quotas_enabled(&c.clusters[0]));
    let text = format!(
        "{MINIMAL}\n[quotas]\nenabled = true\ninterval = 600\nquota_types = [\"user\"]\n\
         path_prefix = \"/ifs/home\"\nmax_quotas = 5\npage_limit = 2\nresolve_names = true\n"
    );
    let (c, _) = ok(&text);
    let q = &c.quotas;
    assert!(q.enabled && q.resolve_names);
    assert_eq!((q.interval, q.max_quotas, q.page_limit), (600, 5, 2));
    assert_eq!(
        (q.quota_types.clone(), q.path_prefix.as_str()),
        (vec!["user".to_string()], "/ifs/home")
    );
}

#[test]
fn bad_quota_settings_are_refused_with_the_key_and_its_range() {
    for (section, says) in [
        (
            "interval = 0",
            "[quotas] interval must be a whole number from 1 to 86400",
        ),
        (
            "max_quotas = 0",
            "[quotas] max_quotas must be a whole number from 1 to 10000000",
        ),
        (
            "quota_types = [\"dir\"]",
            "quota_types must be a non-empty list of distinct quota types",
        ),
        ("quota_types = []", "quota_types must be a non-empty list"),
        (
            "enabled = \"yes\"",
            "[quotas] enabled must be true or false",
        ),
        ("intervall = 5", "[quotas] has no key \"intervall\""),
    ] {
        let e = err(&format!("{MINIMAL}\n[quotas]\n{section}\n"));
        assert!(e.starts_with("t.toml:"), "{e}");
        assert!(e.contains(says), "{section}: {e}");
    }
}

#[test]
fn partitioned_performance_is_off_unless_enabled_globally_or_per_cluster() {
    let (c, _) = ok(MINIMAL);
    assert!(!c.partitioned_performance_enabled(&c.clusters[0]));
    let (c, warnings) = ok(&format!(
        "{MINIMAL}\n[partitioned_performance]\nenabled = true\ninterval = 60\n"
    ));
    assert!(warnings.is_empty(), "{warnings:?}");
    assert!(c.partitioned_performance_enabled(&c.clusters[0]));
    assert_eq!(c.partitioned_performance.interval, 60);
    assert!(!c.partitioned_performance.lookup_export_ids);
    let e = err(&format!(
        "{MINIMAL}\n[partitioned_performance]\ninterval = 0\n"
    ));
    assert!(
        e.contains("[partitioned_performance] interval must be a whole number from 1 to 86400"),
        "{e}"
    );
}

#[test]
fn shard_in_global_is_k_of_n_with_its_position_when_wrong() {
    let (c, _) = ok(&global("shard = \"2/5\""));
    assert_eq!(
        c.global.shard,
        Some(crate::config::shard::Shard { index: 2, count: 5 })
    );
    let e = err(&global("shard = \"6/5\""));
    assert!(e.starts_with("t.toml:6:"), "{e}");
    assert!(e.contains("shard \"6/5\" is not K/N"), "{e}");
    let e = err(&global("shard = 2"));
    assert!(e.starts_with("t.toml:6:"), "{e}");
}
