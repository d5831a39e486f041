//! The command line as an operator uses it: help, version, check-config.

use std::path::Path;
use std::process::Command;

use crate::util::{self, Dir};

#[test]
fn check_config_accepts_the_example_and_summarises_it() {
    let example = util::workspace_root().join("idic.toml.example");
    let plugins = util::workspace_plugin_dir();
    let out = util::idic(&[
        "check-config",
        example.to_str().unwrap(),
        "--plugin-dir",
        plugins.to_str().unwrap(),
    ]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(text.contains("sink: influxdb"), "{text}");
    assert!(
        text.contains("stat groups: 13 active, 116 statistics"),
        "{text}"
    );
}

#[test]
fn check_config_names_file_line_and_column_of_an_error() {
    let dir = Dir::new();
    let file = dir.write(
        "bad.toml",
        "[global]\nversion = \"0.39\"\nstats_processor = \"discard\"\nactive_stat_groups = \"g\"\n",
    );
    let out = util::idic(&["check-config", file.to_str().unwrap()]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1));
    assert!(err.contains("bad.toml:4:22: "), "{err}");
    assert!(
        err.contains("expected a sequence") || err.contains("array"),
        "{err}"
    );
}

#[test]
fn check_config_refuses_out_of_range_values_with_file_line_and_column() {
    let example =
        std::fs::read_to_string(util::workspace_root().join("idic.toml.example")).unwrap();
    let line_of = |prefix: &str| 1 + example.lines().position(|l| l.starts_with(prefix)).unwrap();
    let interval = line_of("update_interval = \"*\"");
    let floor = line_of("min_update_interval_override = 5");
    let cases = [
        (
            example.replacen("update_interval = \"*\"", "update_interval = \"*1e300\"", 1),
            format!(
                ":{interval}:19: [[statgroup]] \"cluster_cpu_stats\": update_interval \"*1e300\" is out of range, a multiplier \"*N\" must be above 0 and at most 1000"
            ),
        ),
        (
            example.replace(
                "min_update_interval_override = 5",
                "min_update_interval_override = 100000",
            ),
            format!(
                ":{floor}:32: [global]: min_update_interval_override = 100000 is out of range, it may be at most 86400 seconds"
            ),
        ),
    ];
    let dir = Dir::new();
    for (text, expected) in cases {
        let file = dir.write("huge.toml", &text);
        let out = util::idic(&["check-config", file.to_str().unwrap()]);
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(1), "{err}");
        let expected = format!("idic: error: {}{expected}", file.display());
        assert!(
            err.starts_with(&expected),
            "\n got: {err}\nwant: {expected}..."
        );
    }
}

#[test]
fn check_config_refuses_bad_sink_and_delivery_settings_naming_the_key() {
    let example =
        std::fs::read_to_string(util::workspace_root().join("idic.toml.example")).unwrap();
    let fan_out = example.replace(
        "stats_processor = \"influxdb\"",
        "stats_processor = [\"influxdb\", \"archive\"]",
    );
    let cases = [
        (
            fan_out.clone() + "\n[sink.archive]\nplugin = \"influxdb\"\n\n[delivery]\nbuffer = \"tape\"\n",
            "[delivery]: buffer must be \"disk\" (kept across restarts) or \"memory\"",
        ),
        (
            fan_out.clone() + "\n[sink.archive]\nhost = \"b\"\n",
            "[sink.archive] has no plugin key",
        ),
        (
            fan_out + "\n[sink.archive]\nplugin = \"influxdb\"\n\n[delivery.other]\nbuffer = \"disk\"\n",
            "[delivery.other] names no sink of stats_processor",
        ),
        (
            example.replace(
                "stats_processor = \"influxdb\"",
                "stats_processor = [\"influxdb\", \"influxdb\"]",
            ),
            "stats_processor names \"influxdb\" twice",
        ),
    ];
    let dir = Dir::new();
    for (text, expected) in cases {
        let file = dir.write("sinks.toml", &text);
        let out = util::idic(&["check-config", file.to_str().unwrap()]);
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(1), "{err}");
        assert!(err.contains(expected), "{err}");
        assert!(err.contains(&format!("{}:", file.display())), "{err}");
    }
}

#[test]
fn check_config_warns_about_typos_with_a_suggestion() {
    let example =
        std::fs::read_to_string(util::workspace_root().join("idic.toml.example")).unwrap();
    let dir = Dir::new();
    let file = dir.write(
        "typo.toml",
        &example.replace(
            "min_update_interval_override",
            "min_update_intervall_override",
        ),
    );
    let (code, err) = check_config(&file, &[]);
    assert_eq!(code, Some(0), "{err}");
    assert!(
        err.contains("did you mean \"min_update_interval_override\"?"),
        "{err}"
    );
}

#[test]
fn every_command_has_help() {
    for args in [
        &["--help"][..],
        &["-h"],
        &["plugins", "--help"],
        &["check-config", "--help"],
        &["help"],
    ] {
        let out = util::idic(args);
        assert!(out.status.success(), "{args:?}");
        assert!(
            String::from_utf8_lossy(&out.stdout).contains("idic"),
            "{args:?}"
        );
    }
}

#[test]
fn version_flag_prints_versions() {
    for flag in ["-version", "--version"] {
        let out = util::idic(&[flag]);
        let text = String::from_utf8_lossy(&out.stdout);
        assert!(
            text.starts_with("idic ") && text.contains("plugin-api 1.0.0"),
            "{text}"
        );
    }
}

#[test]
fn missing_config_file_is_one_clear_error() {
    let out = util::idic(&["-config-file", "/nonexistent/idic.toml"]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        err.contains("/nonexistent/idic.toml: cannot read the config file"),
        "{err}"
    );
    assert_eq!(err.lines().count(), 1, "{err}");
}

#[test]
fn a_closed_stdout_pipe_is_not_a_crash() {
    // `idic plugins | head -1` closes the pipe early; idic must not panic.
    let plugins = util::workspace_plugin_dir();
    let plugins = plugins.to_str().unwrap();
    for args in [
        &["--help"][..],
        &["-version"],
        &["plugins"],
        &["check-config", "idic.toml.example", "--plugin-dir", plugins],
    ] {
        let (reader, writer) = std::io::pipe().unwrap();
        drop(reader);
        let out = std::process::Command::new(util::idic_bin())
            .args(args)
            .current_dir(util::workspace_root())
            .stdout(writer)
            .stderr(std::process::Stdio::piped())
            .output()
            .unwrap();
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(!err.contains("panicked"), "{args:?}: {err}");
        assert!(out.status.success(), "{args:?}: {err}");
    }
}

/// `idic.toml.example` edited by `edit`.
fn example_with(dir: &Dir, edit: impl Fn(String) -> String) -> std::path::PathBuf {
    let example =
        std::fs::read_to_string(util::workspace_root().join("idic.toml.example")).unwrap();
    dir.write("idic.toml", &edit(example))
}

/// `idic.toml.example` with `from` replaced by `to` in its `[influxdb]` section.
fn example_influxdb(dir: &Dir, from: &str, to: &str) -> std::path::PathBuf {
    example_with(dir, |t| {
        let (head, section) = t.split_once("\n[influxdb]\n").unwrap();
        assert!(section.contains(from), "{from}");
        format!("{head}\n[influxdb]\n{}", section.replacen(from, to, 1))
    })
}

/// `idic check-config FILE EXTRA...` with the workspace's plugins: the exit code
/// and standard error.
fn check_config(file: &Path, extra: &[&str]) -> (Option<i32>, String) {
    let plugins = util::workspace_plugin_dir();
    let mut args = vec![
        "check-config",
        file.to_str().unwrap(),
        "--plugin-dir",
        plugins.to_str().unwrap(),
    ];
    args.extend_from_slice(extra);
    let out = util::idic(&args);
    (
        out.status.code(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn check_config_refuses_an_unknown_plugin_listing_the_installed_ones() {
    let dir = Dir::new();
    for (edit, place) in [
        (
            "stats_processor = \"graphit\"",
            "stats_processor \"graphit\"",
        ),
        (
            "stats_processor = [\"influxdb\", \"graphit\", \"archive\"]",
            "stats_processor \"graphit\"",
        ),
        (
            "stats_processor = [\"influxdb\", \"archive\"]",
            "[sink.archive] plugin \"graphit\"",
        ),
    ] {
        let file = example_with(&dir, |t| {
            t.replacen("stats_processor = \"influxdb\"", edit, 1)
                + "\n[sink.archive]\nplugin = \"graphit\"\n"
        });
        let (code, err) = check_config(&file, &[]);
        assert_eq!(code, Some(1), "{edit}: {err}");
        assert!(err.contains(place), "{edit}: {err}");
        assert!(
            err.contains("installed plugins: discard, influxdb, influxdbv2, jsonl, prometheus"),
            "{edit}: {err}"
        );
    }
}

#[test]
fn check_config_warns_about_unknown_keys_in_a_plugin_section_and_strict_makes_it_fatal() {
    let dir = Dir::new();
    let file = example_influxdb(&dir, "authenticated = ", "authenticatd = ");
    let (code, err) = check_config(&file, &[]);
    assert_eq!(code, Some(0), "{err}");
    assert!(
        err.contains("[influxdb]: [influxdb] unknown key \"authenticatd\" is ignored"),
        "{err}"
    );
    let (code, err) = check_config(&file, &["--strict"]);
    assert_eq!(code, Some(1), "{err}");
    assert!(err.contains("--strict makes warnings fatal"), "{err}");
}

#[test]
fn check_config_refuses_a_wrong_type_in_a_plugin_section_naming_plugin_and_section() {
    let dir = Dir::new();
    let file = example_influxdb(&dir, "authenticated = false", "authenticated = \"maybe\"");
    let (code, err) = check_config(&file, &[]);
    assert_eq!(code, Some(1), "{err}");
    assert!(err.contains("[influxdb] (plugin influxdb "), "{err}");
    assert!(
        err.contains("invalid type: string \"maybe\", expected a boolean"),
        "{err}"
    );
    let file = example_influxdb(&dir, "database = ", "# database = ");
    let (code, err) = check_config(&file, &[]);
    assert_eq!(code, Some(1), "{err}");
    assert!(err.contains("[influxdb] database is missing"), "{err}");
}

#[test]
fn make_dist_and_install_replace_a_running_idic() {
    // `make` while dist/idic runs used to fail with "Text file busy": every file
    // is now written beside its destination and renamed over it.
    let dir = Dir::new();
    std::fs::copy(
        util::workspace_root().join("Makefile"),
        dir.join("Makefile"),
    )
    .unwrap();
    std::fs::create_dir_all(dir.join("target/release")).unwrap();
    let sleep = Path::new("/bin/sleep");
    for f in ["idic", "onefs-sim"] {
        std::fs::copy(sleep, dir.join("target/release").join(f)).unwrap();
    }
    for p in util::PLUGINS {
        std::fs::write(dir.join(&format!("target/release/lib{p}.so")), p).unwrap();
    }
    // Installing needs the SDK script: a stub that records its arguments.
    std::fs::create_dir_all(dir.join("scripts")).unwrap();
    dir.write("scripts/install-sdk.sh", "echo \"$@\" > sdk-args\n");
    dir.write("scripts/install-manual.sh", "echo \"$@\" > manual-args\n");
    let make = |target: &str| {
        Command::new("make")
            .args(["-s", target, "CARGO=true"])
            .arg(format!("PREFIX={}", dir.join("prefix").display()))
            .current_dir(dir.path())
            .output()
            .unwrap()
    };
    let out = make("install");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let mut running = Command::new(dir.join("dist/idic"))
        .arg("30")
        .spawn()
        .unwrap();
    let mut installed = Command::new(dir.join("prefix/bin/idic"))
        .arg("30")
        .spawn()
        .unwrap();
    let out = make("install");
    let _ = running.kill();
    let _ = installed.kill();
    let _ = running.wait();
    let _ = installed.wait();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(
        std::fs::read_to_string(dir.join("prefix/lib/idic/plugins/libjsonl.so")).unwrap(),
        "jsonl"
    );
    let sdk = std::fs::read_to_string(dir.join("sdk-args")).unwrap();
    assert!(sdk.contains("/share/idic/sdk"), "{sdk}");
}
