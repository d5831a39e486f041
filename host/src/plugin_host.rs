//! What the host offers plugins: the `HostServices` callbacks and the
//! process-wide `StartContext`.
//!
//! Least privilege: a plugin's `StartContext::config` holds only `[global]`,
//! its own sections (`[<plugin>]`, its `[sink.NAME]` tables, the sections it
//! declares in `config_sections`) and each collected cluster's non-secret keys
//! (`Config::plugin_text`); and its secret resolver answers only for the
//! `$env:` names and `$file:` paths that appear in those own sections, so a
//! plugin can read neither a cluster's password nor another plugin's secret
//! (nor any other file), in the config or through `$env:` or `$file:`. The
//! resolver is a plain function pointer, so each plugin gets one of [`SLOTS`]
//! monomorphized resolvers bound to its slot of a table; past that many
//! plugins, the last slot is shared.

use std::sync::RwLock;

use abi_stable::std_types::{RResult, RStr, RString, RVec};
use idic_plugin_api::{HostServices, StartContext};

use crate::config::{Config, SinkConfig};
use crate::logging;

/// The services handed to plugin `plugin`'s calls.
pub fn services(plugin: &str) -> HostServices {
    HostServices {
        log: logging::plugin_log,
        max_level: logging::max_level(),
        resolve_secret: resolver(plugin),
    }
}

/// How many plugins get a secret resolver of their own.
pub const SLOTS: usize = 8;

/// Per slot: the plugins it serves and the `$env:` names they may resolve.
static TABLE: RwLock<Vec<(Vec<String>, Vec<String>)>> = RwLock::new(Vec::new());

type Resolver = extern "C" fn(RStr<'_>) -> RResult<RString, RString>;

const RESOLVERS: [Resolver; SLOTS] = [
    resolve_in::<0>,
    resolve_in::<1>,
    resolve_in::<2>,
    resolve_in::<3>,
    resolve_in::<4>,
    resolve_in::<5>,
    resolve_in::<6>,
    resolve_in::<7>,
];

/// Allows each plugin of `config` exactly the `$env:` names in its own sinks'
/// settings and in the sections it declares (`sections`: a plugin's
/// `config_sections`).
pub fn allow_secrets_of(config: &Config, sections: impl Fn(&str) -> Vec<String>) {
    let mut table: Vec<(Vec<String>, Vec<String>)> = Vec::new();
    for sink in &config.sinks {
        let slot = match table.iter().position(|(p, _)| p.contains(&sink.plugin)) {
            Some(i) => i,
            None if table.len() < SLOTS => {
                table.push((vec![sink.plugin.clone()], Vec::new()));
                table.len() - 1
            }
            None => {
                table[SLOTS - 1].0.push(sink.plugin.clone());
                SLOTS - 1
            }
        };
        table[slot].1.extend(env_names(&sink.settings));
    }
    for (plugins, names) in &mut table {
        for plugin in plugins.iter() {
            let declared = sections(plugin);
            for section in config.declared_sections(plugin, &declared) {
                names.extend(env_names(&config.section_toml(section)));
            }
        }
    }
    *TABLE.write().unwrap_or_else(|p| p.into_inner()) = table;
}

/// The resolver of `plugin`'s slot; one that refuses every `$env:` name for a
/// plugin the running config does not name.
fn resolver(plugin: &str) -> Resolver {
    let table = TABLE.read().unwrap_or_else(|p| p.into_inner());
    match table
        .iter()
        .position(|(p, _)| p.iter().any(|n| n == plugin))
    {
        Some(i) => RESOLVERS[i],
        None => resolve_nothing,
    }
}

/// Every `NAME` of a `$env:NAME` and every `PATH` of a `$file:PATH` in `text`
/// (the references a plugin may resolve), each with its prefix.
fn env_names(text: &str) -> Vec<String> {
    let env = text.split("$env:").skip(1).map(|rest| {
        let name: String = rest
            .chars()
            .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
            .collect();
        (!name.is_empty()).then(|| format!("$env:{name}"))
    });
    let file = text.split("$file:").skip(1).map(|rest| {
        let path: String = rest
            .chars()
            .take_while(|c| !matches!(c, '"' | '\'' | '\n' | '\r'))
            .collect();
        (!path.is_empty()).then(|| format!("$file:{path}"))
    });
    env.chain(file).flatten().collect()
}

extern "C" fn resolve_in<const SLOT: usize>(value: RStr<'_>) -> RResult<RString, RString> {
    let table = TABLE.read().unwrap_or_else(|p| p.into_inner());
    resolve(
        value.as_str(),
        table.get(SLOT).map(|(_, names)| names.as_slice()),
    )
}

extern "C" fn resolve_nothing(value: RStr<'_>) -> RResult<RString, RString> {
    resolve(value.as_str(), None)
}

/// Resolves `value` if it is not an `$env:` name, or one of `allowed`.
fn resolve(value: &str, allowed: Option<&[String]>) -> RResult<RString, RString> {
    if crate::config::secret_reference(value).is_some()
        && !allowed.unwrap_or_default().iter().any(|a| a == value)
    {
        return RResult::RErr(
            format!("\"{value}\" is not in this plugin's settings: a plugin may resolve only the $env: and $file: references of its own section").into(),
        );
    }
    match crate::config::resolve_secret(value) {
        Ok(v) => RResult::ROk(v.into()),
        Err(e) => RResult::RErr(e.into()),
    }
}

/// The context for the plugin's process-wide start hook, with the settings of
/// `sink`, its first instance; `sections`: the plugin's `config_sections`.
pub fn start_context(config: &Config, sink: &SinkConfig, sections: &[String]) -> StartContext {
    StartContext {
        plugin_name: sink.plugin.as_str().into(),
        config: config.plugin_text(&sink.plugin, sections).into(),
        plugin_config: sink.settings.as_str().into(),
        clusters: config
            .enabled_clusters()
            .map(|c| RString::from(c.toml.as_str()))
            .collect::<RVec<_>>(),
        host: services(&sink.plugin),
        extra: "{}".into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The resolver table is process-wide: tests that set it take turns.
    static TABLE_LOCK: std::sync::Mutex<()> = std::sync::Mutex::new(());

    #[test]
    fn each_plugin_resolves_only_its_own_sinks_env_names() {
        let text = "[global]\nversion = \"0.39\"\nstats_processor = [\"jsonl\", \"discard\"]\nactive_stat_groups = [\"g\"]\n\n[jsonl]\npath = \"$env:IDIC_PH_TEST_A\"\n\n[discard]\nx = \"$env:IDIC_PH_TEST_B\"\n\n[[cluster]]\nhostname = \"h\"\nusername = \"u\"\npassword = \"$env:IDIC_PH_TEST_C\"\n\n[[statgroup]]\nname = \"g\"\nstats = [\"cluster.cpu.idle.avg\"]\n";
        std::env::set_var("IDIC_PH_TEST_A", "a");
        std::env::set_var("IDIC_PH_TEST_B", "b");
        std::env::set_var("IDIC_PH_TEST_C", "c");
        let (config, _) = Config::parse(std::path::Path::new("t.toml"), text).unwrap();
        let _turn = TABLE_LOCK.lock().unwrap_or_else(|p| p.into_inner());
        allow_secrets_of(&config, |_| Vec::new());
        let jsonl = services("jsonl");
        assert_eq!(jsonl.secret("$env:IDIC_PH_TEST_A").unwrap(), "a");
        let err = jsonl.secret("$env:IDIC_PH_TEST_B").unwrap_err();
        assert!(err.contains("not in this plugin's settings"), "{err}");
        assert!(jsonl.secret("$env:IDIC_PH_TEST_C").is_err());
        assert_eq!(
            services("discard").secret("$env:IDIC_PH_TEST_B").unwrap(),
            "b"
        );
        assert!(services("other").secret("$env:IDIC_PH_TEST_A").is_err());
        assert_eq!(services("other").secret("plain").unwrap(), "plain");
        let err = jsonl.secret("$file:/etc/shadow").unwrap_err();
        assert!(err.contains("not in this plugin's settings"), "{err}");
    }

    #[test]
    fn a_plugin_starts_with_only_its_own_sections_and_no_other_secret() {
        let text = r#"
[global]
version = "0.39"
stats_processor = ["jsonl", "archive", "other"]
active_stat_groups = ["g"]

[jsonl]
path = "/tmp/a.jsonl"

[sink.archive]
plugin = "jsonl"
path = "/tmp/b.jsonl"

[sink.other]
plugin = "discard"
password = "other-sink-secret"

[influxdb]
token = "unused-influx-token"

[discard]
key = "discard-secret"

[prom_http_sd]
enabled = false

[telemetry]
listen = "127.0.0.1:9465"
username = "m"
password = "telemetry-secret"

[[cluster]]
hostname = "c1.example.com"
port = 8080
username = "root"
password = "cluster-secret"
authtype = "basic-auth"
prometheus_port = 9101
preserve_case = true

[[cluster]]
hostname = "off.example.com"
username = "root"
password = "off-secret"
disabled = true

[[statgroup]]
name = "g"
stats = ["cluster.cpu.idle.avg"]
"#;
        let (config, _) = Config::parse(std::path::Path::new("t.toml"), text).unwrap();
        let sink = &config.sinks[0];
        let declared = [
            "prom_http_sd",
            "telemetry",
            "cluster",
            "discard",
            "other",
            "jsonl",
        ]
        .map(String::from);
        let ctx = start_context(&config, sink, &declared);
        let got: toml::Table = ctx.config.as_str().parse().unwrap();
        let mut sections: Vec<&str> = got.keys().map(String::as_str).collect();
        sections.sort_unstable();
        assert_eq!(
            sections,
            ["cluster", "global", "jsonl", "prom_http_sd", "sink"],
            "{}",
            ctx.config
        );
        assert_eq!(
            got["sink"].as_table().unwrap().keys().collect::<Vec<_>>(),
            ["archive"]
        );
        let clusters = got["cluster"].as_array().unwrap();
        assert_eq!(clusters.len(), 1, "only the collected clusters");
        let mut keys: Vec<&str> = clusters[0]
            .as_table()
            .unwrap()
            .keys()
            .map(String::as_str)
            .collect();
        keys.sort_unstable();
        assert_eq!(
            keys,
            ["hostname", "port", "preserve_case", "prometheus_port"]
        );
        assert_eq!(ctx.clusters.len(), 1);
        let everything = format!(
            "{}{}{}",
            ctx.config,
            ctx.plugin_config,
            ctx.clusters.iter().map(|c| c.as_str()).collect::<String>()
        );
        for secret in [
            "secret",
            "password",
            "token",
            "username",
            "root",
            "basic-auth",
            "off.example.com",
        ] {
            assert!(!everything.contains(secret), "{secret}: {everything}");
        }
    }

    #[test]
    fn a_declared_section_is_resolvable_but_not_another_plugins() {
        let text = "[global]\nversion = \"0.39\"\nstats_processor = [\"prometheus\", \"jsonl\"]\nactive_stat_groups = [\"g\"]\n\n[jsonl]\npath = \"$env:IDIC_PH_DECL_J\"\n\n[prom_http_sd]\nlisten_addr = \"$env:IDIC_PH_DECL_SD\"\n\n[[cluster]]\nhostname = \"h\"\nusername = \"u\"\npassword = \"p\"\nprometheus_port = 9100\n\n[[statgroup]]\nname = \"g\"\nstats = [\"cluster.cpu.idle.avg\"]\n";
        std::env::set_var("IDIC_PH_DECL_J", "j");
        std::env::set_var("IDIC_PH_DECL_SD", "sd");
        let (config, _) = Config::parse(std::path::Path::new("t.toml"), text).unwrap();
        let _turn = TABLE_LOCK.lock().unwrap_or_else(|p| p.into_inner());
        allow_secrets_of(&config, |p| match p {
            "prometheus" => vec!["prom_http_sd".into(), "jsonl".into()],
            _ => Vec::new(),
        });
        let prometheus = services("prometheus");
        assert_eq!(prometheus.secret("$env:IDIC_PH_DECL_SD").unwrap(), "sd");
        assert!(prometheus.secret("$env:IDIC_PH_DECL_J").is_err());
        assert!(services("jsonl").secret("$env:IDIC_PH_DECL_SD").is_err());
    }

    #[test]
    fn env_names_are_found_in_settings_text() {
        assert_eq!(
            env_names("password = \"$env:INFLUX_PW\"\ntoken = \"$env:T_2\"\nkey = '$file:/run/secrets/k'\n"),
            ["$env:INFLUX_PW", "$env:T_2", "$file:/run/secrets/k"]
        );
        assert!(env_names("password = \"plain\"").is_empty());
    }
}
