//! Plugins load through the real path: found in a plugins folder, checked by
//! abi_stable, refused with one clear message when they cannot be used.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use onefs_sim::ClusterSpec;

use crate::sim;
use crate::util::{self, Dir, Running};

/// A config whose only cluster is never reached: plugin loading comes first.
fn config_for(dir: &Dir, plugin: &str) -> PathBuf {
    dir.write(
        "idic.toml",
        &format!(
            "[global]\nversion = \"0.39\"\nstats_processor = \"{plugin}\"\nactive_stat_groups = [\"g\"]\n\n[[cluster]]\nhostname = \"127.0.0.1\"\nport = 9\nusername = \"u\"\npassword = \"p\"\n\n[[statgroup]]\nname = \"g\"\nstats = [\"cluster.cpu.idle.avg\"]\n"
        ),
    )
}

/// `idic plugin check LIB [--config CONFIG]` with `env` set: its exit code and
/// standard output.
fn plugin_check(lib: &Path, config: Option<&Path>, env: &[(&str, &str)]) -> (Option<i32>, String) {
    let mut args = vec!["plugin", "check", lib.to_str().unwrap()];
    if let Some(config) = config {
        args.extend(["--config", config.to_str().unwrap()]);
    }
    let out = util::idic_env(&args, env);
    (
        out.status.code(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
    )
}

fn run_to_exit(dir: &Dir, plugin: &str, plugins: &Path) -> (i32, String) {
    let config = config_for(dir, plugin);
    let mut idic = Running::start(dir, &config, plugins, &[]);
    let code = idic.wait_exit(Duration::from_secs(30));
    (code, idic.stderr())
}

#[test]
fn plugins_command_lists_discard_with_its_api_version() {
    let dir = Dir::new();
    let plugins = dir.plugin_dir(&[(&util::workspace_plugin("discard"), "libdiscard.so")]);
    let out = util::idic(&["plugins", "--plugin-dir", plugins.to_str().unwrap()]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success());
    assert!(text.contains("discard"), "{text}");
    assert!(text.contains("plugin-api 1.0.0  loads"), "{text}");
}

#[test]
fn plugins_command_exits_1_when_a_library_does_not_load() {
    let dir = Dir::new();
    let plugins = dir.plugin_dir(&[
        (&util::workspace_plugin("discard"), "libdiscard.so"),
        (&util::fixture_plugin("notaplugin"), "libnotaplugin.so"),
    ]);
    let out = util::idic(&["plugins", "--plugin-dir", plugins.to_str().unwrap()]);
    let text = String::from_utf8_lossy(&out.stdout);
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{text}{err}");
    assert!(text.contains("plugin-api 1.0.0  loads"), "{text}");
    assert!(text.contains("notaplugin   does not load: "), "{text}");
    assert!(err.contains("1 of 2 plugin libraries do not load"), "{err}");
}

#[test]
fn refuses_a_library_that_is_not_a_plugin() {
    let dir = Dir::new();
    let plugins = dir.plugin_dir(&[(&util::fixture_plugin("notaplugin"), "libnotaplugin.so")]);
    let (code, stderr) = run_to_exit(&dir, "notaplugin", &plugins);
    assert_eq!(code, 1, "{stderr}");
    assert!(
        stderr.contains("libnotaplugin.so: not an idic plugin"),
        "{stderr}"
    );
    assert_eq!(stderr.lines().count(), 1, "one clear message: {stderr}");
}

#[test]
fn refuses_plugin_whose_declared_name_differs_from_its_file() {
    let dir = Dir::new();
    let plugins = dir.plugin_dir(&[(&util::fixture_plugin("outoftree"), "libsomethingelse.so")]);
    let (code, stderr) = run_to_exit(&dir, "somethingelse", &plugins);
    assert_eq!(code, 1);
    assert!(
        stderr.contains("declares plugin name \"outoftree\", not \"somethingelse\""),
        "{stderr}"
    );
}

#[test]
fn missing_plugin_lists_the_folders_searched_and_what_they_hold() {
    let dir = Dir::new();
    let plugins = dir.plugin_dir(&[(&util::workspace_plugin("discard"), "libdiscard.so")]);
    let (code, stderr) = run_to_exit(&dir, "influxdb", &plugins);
    assert_eq!(code, 1);
    assert!(
        stderr.contains("sink plugin \"influxdb\" (stats_processor) was not found"),
        "{stderr}"
    );
    assert!(
        stderr.contains("(--plugin-dir): holds: discard"),
        "{stderr}"
    );
}

#[test]
fn plugin_dir_setting_and_env_are_searched_in_order() {
    let dir = Dir::new();
    let plugins = dir.plugin_dir(&[(&util::workspace_plugin("discard"), "libdiscard.so")]);
    let config = config_for(&dir, "discard");
    // IDIC_PLUGIN_DIR alone finds it.
    let out = Command::new(util::idic_bin())
        .args(["plugins", "-config-file", config.to_str().unwrap()])
        .env("IDIC_PLUGIN_DIR", &plugins)
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains("(IDIC_PLUGIN_DIR)") && text.contains("discard"),
        "{text}"
    );
    // plugin_dir in [global] wins over IDIC_PLUGIN_DIR.
    let with_setting = std::fs::read_to_string(&config).unwrap().replace(
        "active_stat_groups",
        &format!(
            "plugin_dir = {:?}\nactive_stat_groups",
            plugins.display().to_string()
        ),
    );
    std::fs::write(&config, with_setting).unwrap();
    let out = Command::new(util::idic_bin())
        .args(["plugins", "-config-file", config.to_str().unwrap()])
        .env("IDIC_PLUGIN_DIR", "/nonexistent")
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("(plugin_dir in [global])"), "{text}");
}

#[test]
fn plugin_built_against_frozen_api_1_0_loads_into_this_host() {
    let dir = Dir::new();
    let plugins = dir.plugin_dir(&[(&util::fixture_plugin("frozen"), "libfrozen.so")]);
    let out = util::idic(&["plugins", "--plugin-dir", plugins.to_str().unwrap()]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("frozen") && text.contains("loads"), "{text}");
}

#[test]
fn refuses_plugin_built_for_another_major_api_and_names_both_versions() {
    // Build a plugin against a copy of plugin-api that claims 2.0.0.
    let dir = Dir::new();
    let lib = plugin_against_edited_api(&dir, "future", "Cargo.toml", |manifest| {
        manifest.replace("version = \"1.0.0\"", "version = \"2.0.0\"")
    });
    let plugins = dir.plugin_dir(&[(&lib, "libfuture.so")]);
    let (code, stderr) = run_to_exit(&dir, "future", &plugins);
    assert_eq!(code, 1);
    assert!(
        stderr.contains("built for idic-plugin-api 2.0.0"),
        "{stderr}"
    );
    assert!(stderr.contains("idic-plugin-api 1.x"), "{stderr}");
}

#[test]
fn overwriting_a_loaded_plugin_is_harmless_and_sighup_loads_the_new_version() {
    let dir = Dir::new();
    let c = sim::clusters(&dir, vec![ClusterSpec::new("Swap")]);
    let (plugins, config, out) = sim::file_sink(
        &dir,
        &c,
        "outoftree",
        &util::fixture_plugin("outoftree"),
        &["cluster.cpu.idle.avg"],
        "",
    );
    let installed = plugins.join("liboutoftree.so");
    let points = || {
        std::fs::read_to_string(&out)
            .unwrap_or_default()
            .matches("swap cluster.cpu.idle.avg")
            .count()
    };
    let mut idic = Running::start(&dir, &config, &plugins, &[]);
    idic.wait_log(Duration::from_secs(30), "0.3.0 loaded", |log| {
        log.contains("plugin=outoftree 0.3.0 (file ")
    });
    idic.wait_until(Duration::from_secs(30), "first points", || points() >= 1);
    // What `cp` does: truncate the installed file and write the new bytes into it.
    std::fs::copy(util::fixture_plugin("outoftree_next"), &installed).unwrap();
    let before = points();
    idic.wait_until(
        Duration::from_secs(30),
        "points after the file was overwritten",
        || points() >= before + 2,
    );
    assert!(idic.child.try_wait().unwrap().is_none(), "idic still runs");
    idic.signal("HUP");
    idic.wait_log(Duration::from_secs(30), "the new version logged", |log| {
        log.contains("plugin=outoftree replaced: 0.3.0 (file ")
            && log.contains("is now 0.4.0 (file ")
    });
    let before = points();
    idic.wait_until(
        Duration::from_secs(30),
        "points through the new version",
        || points() > before,
    );
    let left = std::fs::read_dir(std::env::temp_dir())
        .unwrap()
        .filter_map(|e| e.ok())
        .filter(|e| {
            e.file_name()
                .to_string_lossy()
                .starts_with(&format!("idic-plugin-{}-", idic.child.id()))
        })
        .count();
    assert_eq!(left, 0, "private copies are removed once loaded");
}

#[test]
fn plugin_api_builds_and_packages_outside_the_workspace_offline() {
    // What an author gets when copying plugin-api/ out of the tree (or from the
    // SDK): no workspace to inherit from, no network.
    let dir = Dir::new();
    let api = dir.join("idic-plugin-api");
    copy_dir(&util::workspace_root().join("plugin-api"), &api);
    std::fs::copy(fixture_source("plugins/Cargo.lock"), api.join("Cargo.lock")).unwrap();
    for verb in [&["build", "--quiet"][..], &["package", "--quiet"]] {
        let out = Command::new(env!("CARGO"))
            .args(verb)
            .arg("--offline")
            .current_dir(&api)
            .env("CARGO_NET_OFFLINE", "true")
            .env("CARGO_TARGET_DIR", util::profile_dir().join("../fixtures"))
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "cargo {verb:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    let manifest = std::fs::read_to_string(api.join("Cargo.toml")).unwrap();
    assert!(!manifest.contains(".workspace = true"), "{manifest}");
    assert!(manifest.contains("abi_stable = \"=0.11.3\""), "{manifest}");
}

#[test]
fn plugin_check_passes_a_conforming_plugin() {
    let (code, text) = plugin_check(&util::workspace_plugin("discard"), None, &[]);
    assert_eq!(code, Some(0), "{text}");
    assert!(text.contains("ok    write 2 (5 sample points)"), "{text}");
    // No figure is asserted: the throughput is for the author to read.
    assert!(text.contains("ok    throughput: "), "{text}");
    assert!(text.contains(" points/s ("), "{text}");
    let reload = [
        "ok    reload: start",
        "ok    reload: open (cluster \"conformance\")",
        "ok    reload: write (5 sample points)",
        "ok    reload: flush, close",
    ];
    let mut rest = &text[text.find("ok    flush, close").expect("first run ends")..];
    for line in reload {
        let at = rest
            .find(line)
            .unwrap_or_else(|| panic!("{line:?} in order: {text}"));
        rest = &rest[at..];
    }
    assert_eq!(text.matches("ok    stop").count(), 2, "{text}");
    assert!(text.contains("libdiscard.so: conforms"), "{text}");

    // A plugin that answers check-config is asked about a broken section too.
    let dir = Dir::new();
    let config = config_for(&dir, "jsonl");
    let text = std::fs::read_to_string(&config).unwrap()
        + &format!(
            "\n[jsonl]\npath = {:?}\n",
            dir.join("out.jsonl").display().to_string()
        );
    std::fs::write(&config, text).unwrap();
    let (code, text) = plugin_check(&util::workspace_plugin("jsonl"), Some(&config), &[]);
    assert_eq!(code, Some(0), "{text}");
    assert!(
        text.contains("ok    check-config refuses a broken section: "),
        "{text}"
    );
    assert!(
        text.contains("ok    reload: write (5 sample points)"),
        "{text}"
    );
}

#[test]
fn plugin_check_opens_the_prometheus_plugin_with_the_first_cluster_of_the_config() {
    // The Prometheus sink serves each cluster on that cluster's prometheus_port:
    // the kit's cluster has none, the config's first cluster has one.
    let plugin = util::workspace_plugin("prometheus");
    let (code, text) = plugin_check(&plugin, None, &[]);
    assert_eq!(code, Some(1), "{text}");
    assert!(text.contains("prometheus_port is not set"), "{text}");
    assert!(text.contains("give --config FILE"), "{text}");

    let dir = Dir::new();
    let config = config_for(&dir, "prometheus");
    let port = crate::promd::free_port();
    let text = std::fs::read_to_string(&config).unwrap().replace(
        "port = 9\n",
        &format!("port = 9\nprometheus_port = {port}\n"),
    );
    std::fs::write(&config, text).unwrap();
    let (code, text) = plugin_check(&plugin, Some(&config), &[]);
    assert_eq!(code, Some(0), "{text}");
    assert!(text.contains("ok    reload: flush, close"), "{text}");
    assert!(text.contains("libprometheus.so: conforms"), "{text}");
}

#[test]
fn plugin_check_fails_a_panicking_plugin_naming_call_and_place() {
    let dir = Dir::new();
    let config = config_for(&dir, "panicky");
    let section = format!(
        "\n[panicky]\npath = {:?}\ncluster = \"conformance\"\n",
        dir.join("out.txt").display().to_string()
    );
    let text = std::fs::read_to_string(&config).unwrap() + &section;
    std::fs::write(&config, text).unwrap();
    let lib = util::fixture_plugin("panicky");
    let (code, text) = plugin_check(&lib, Some(&config), &[]);
    assert_eq!(code, Some(1), "{text}");
    assert!(
        text.contains("ok    check-config refuses a broken section: [panicky] cannot read"),
        "{text}"
    );
    assert!(
        text.contains("FAIL  write 1 (5 sample points): Panicked: fixture panic in write for cluster conformance (at panicky/src/lib.rs:"),
        "{text}"
    );
    // A check-config that panics on a broken section fails the check there.
    let (code, text) = plugin_check(&lib, Some(&config), &[("IDIC_FIXTURE_PANIC_CHECK", "1")]);
    assert_eq!(code, Some(1), "{text}");
    assert!(
        text.contains("FAIL  check-config panics on a broken section (not TOML: "),
        "{text}"
    );
    assert!(text.contains("fixture panic in check-config on "), "{text}");
    assert!(!text.contains("write 1"), "the check stops there: {text}");
    let (code, text) = plugin_check(&util::fixture_plugin("notaplugin"), None, &[]);
    assert_eq!(code, Some(1), "{text}");
    assert!(text.contains("FAIL  load: "), "{text}");
}

#[test]
fn a_new_plugin_builds_from_the_installed_sdk_offline_and_passes_the_check() {
    // What `make install` does for the SDK (on the machine that built idic:
    // from its cargo cache, fetching once what only other platforms need),
    // then what docs/PLUGINS.md tells an author to do, with the network off,
    // an empty CARGO_HOME and nothing of the source tree.
    let dir = Dir::new();
    let sdk = dir.join("share/idic/sdk");
    let status = Command::new("sh")
        .arg(util::workspace_root().join("scripts/install-sdk.sh"))
        .arg(&sdk)
        .env("CARGO", env!("CARGO"))
        .status()
        .unwrap();
    assert!(status.success(), "install-sdk.sh failed");
    let out = Command::new(util::idic_bin())
        .args(["plugin", "new", "graphite", "--dir"])
        .arg(dir.path())
        .env("IDIC_SDK", &sdk)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let crate_dir = dir.join("graphite");
    let manifest = std::fs::read_to_string(crate_dir.join("Cargo.toml")).unwrap();
    let root = util::workspace_root().canonicalize().unwrap();
    assert!(
        !manifest.contains(&root.display().to_string()),
        "the crate must not depend on the source tree: {manifest}"
    );
    let target = util::profile_dir().join("../sdk-test");
    // An empty CARGO_HOME: no registry cache, no index, no config of this
    // machine. Only the SDK's vendored sources can satisfy the build.
    let cargo_home = dir.join("empty-cargo-home");
    std::fs::create_dir(&cargo_home).unwrap();
    let out = Command::new(env!("CARGO"))
        .args(["build", "--offline", "--quiet"])
        .current_dir(&crate_dir)
        .env("CARGO_HOME", &cargo_home)
        .env("CARGO_NET_OFFLINE", "true")
        .env("CARGO_TARGET_DIR", &target)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let registry = cargo_home.join("registry");
    assert!(
        !registry.join("cache").exists() && !registry.join("index").exists(),
        "nothing came from a registry"
    );
    let lib = target.join("debug/libgraphite.so");
    let config = config_for(&dir, "graphite");
    let text = std::fs::read_to_string(&config).unwrap()
        + &format!(
            "\n[graphite]\npath = {:?}\n",
            dir.join("graphite.txt").display().to_string()
        );
    std::fs::write(&config, text).unwrap();
    let (code, text) = plugin_check(&lib, Some(&config), &[]);
    assert_eq!(code, Some(0), "{text}");
    assert!(text.contains("libgraphite.so: conforms"), "{text}");
    let written = std::fs::read_to_string(dir.join("graphite.txt")).unwrap();
    assert!(
        written.contains("conformance cluster.cpu.idle.avg 1700000000"),
        "{written}"
    );
    // And it runs: idic collects from a simulated cluster into it.
    let c = sim::clusters(&dir, vec![ClusterSpec::new("Fresh")]);
    let (plugins, config, out) =
        sim::file_sink(&dir, &c, "graphite", &lib, &["cluster.cpu.idle.avg"], "");
    let mut idic = Running::start(&dir, &config, &plugins, &[]);
    idic.wait_until(Duration::from_secs(30), "points in the new sink", || {
        std::fs::read_to_string(&out)
            .unwrap_or_default()
            .contains("fresh cluster.cpu.idle.avg ")
    });
}

#[test]
fn refuses_plugin_whose_layout_differs_naming_the_field_and_both_versions() {
    // A plugin built against a copy of plugin-api 1.0.0 whose OpenContext has
    // one more field: same version, different layout.
    let dir = Dir::new();
    let lib = plugin_against_edited_api(&dir, "drifted", "src/context.rs", |context| {
        context.replacen(
            "    pub onefs_version: RString,\n",
            "    pub onefs_version: RString,\n    /// Not in 1.0.\n    pub node_count: u64,\n",
            1,
        )
    });
    let plugins = dir.plugin_dir(&[(&lib, "libdrifted.so")]);
    let (code, stderr) = run_to_exit(&dir, "drifted", &plugins);
    assert_eq!(code, 1, "{stderr}");
    assert!(
        stderr.contains("the first difference is in type OpenContext (reached through open)"),
        "{stderr}"
    );
    assert!(
        stderr.contains("field \"plugin_config\" here, \"node_count\" in the plugin"),
        "{stderr}"
    );
    assert!(
        stderr.contains(
            "this idic has idic-plugin-api 1.0.0, the plugin was built with idic-plugin-api 1.0.0"
        ),
        "{stderr}"
    );
    assert_eq!(stderr.lines().count(), 1, "one clear message: {stderr}");
}

/// Builds plugin `name` (the out-of-tree fixture's source under another name)
/// against a copy of plugin-api whose file `file` went through `edit`, into the
/// fixtures' target folder, as a third party would; returns the library.
fn plugin_against_edited_api(
    dir: &Dir,
    name: &str,
    file: &str,
    edit: impl FnOnce(String) -> String,
) -> PathBuf {
    let api = dir.join("plugin-api");
    copy_dir(&util::workspace_root().join("plugin-api"), &api);
    let text = std::fs::read_to_string(api.join(file)).unwrap();
    std::fs::write(api.join(file), edit(text)).unwrap();
    let plugin = dir.join(name);
    std::fs::create_dir_all(plugin.join("src")).unwrap();
    std::fs::write(
        plugin.join("Cargo.toml"),
        format!("[package]\nname = \"{name}\"\nversion = \"0.1.0\"\nedition = \"2021\"\n\n[lib]\ncrate-type = [\"cdylib\"]\n\n[dependencies]\nidic-plugin-api = {{ path = \"../plugin-api\" }}\n\n[workspace]\n"),
    )
    .unwrap();
    let source = std::fs::read_to_string(fixture_source("plugins/outoftree/src/lib.rs"))
        .unwrap()
        .replace("\"outoftree\"", &format!("{name:?}"));
    std::fs::write(plugin.join("src/lib.rs"), source).unwrap();
    std::fs::copy(
        fixture_source("plugins/Cargo.lock"),
        plugin.join("Cargo.lock"),
    )
    .unwrap();
    let target = util::profile_dir().join("../fixtures");
    let status = Command::new(env!("CARGO"))
        .args(["build", "--quiet", "--manifest-path"])
        .arg(plugin.join("Cargo.toml"))
        .env("CARGO_TARGET_DIR", &target)
        .status()
        .unwrap();
    assert!(status.success(), "building plugin {name} failed");
    target.join(format!("debug/lib{name}.so"))
}

/// A file under `host/tests/fixtures`.
fn fixture_source(path: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(path)
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let dest = to.join(entry.file_name());
        if entry.file_type().unwrap().is_dir() {
            copy_dir(&entry.path(), &dest);
        } else {
            std::fs::copy(entry.path(), dest).unwrap();
        }
    }
}
