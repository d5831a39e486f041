//! The sinks of a configuration: each plugin loaded once and shared by its
//! instances, its process-wide part started once, and per instance the delivery
//! it gets (buffer kind, byte bound, state folder) as a [`Target`].
//!
//! A plugin's `capabilities()` JSON may say `"replay": false` (it serves only the
//! latest values, like Prometheus: a disk buffer's replay gains nothing, so its
//! default buffer is memory) and `"max_instances": 1` (its process-wide part
//! serves one instance: a second is refused) and `"backfill": false` (it wants
//! no history after a gap; the default is `replay`'s). A plugin that says
//! nothing gets a disk buffer, any number of instances and backfill.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::AtomicBool;
use std::sync::Arc;

use anyhow::{anyhow, Context};

use crate::cli::Cli;
use crate::config::{BufferKind, Config, SinkConfig};
use crate::deliver::Budget;
use crate::loader::{self, Plugin};
use crate::plugin_host;

/// The default `state_dir` of an installed idic.
pub const INSTALLED_STATE_DIR: &str = "/var/lib/idic";
/// The default `state_dir` otherwise: this folder beside the config file.
pub const LOCAL_STATE_DIR: &str = "idic-state";
/// The default `buffer_max_bytes` of a disk buffer: 1 GiB per sink instance.
pub const DISK_MAX_BYTES: u64 = 1 << 30;
/// The default `buffer_max_bytes` of a memory queue: 256 MiB per sink instance.
pub const MEMORY_MAX_BYTES: u64 = 256 << 20;

/// What a plugin's `capabilities()` says about delivery.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Capabilities {
    /// Replaying old batches is useful (a time-series store); default true.
    pub replay: bool,
    /// How many instances its process-wide part can serve; default unlimited.
    pub max_instances: Option<u64>,
    /// It wants the points of a gap filled from the cluster's history (a sink
    /// opened for it with `extra` `{"backfill": true}`); default: `replay`.
    pub backfill: bool,
    /// Top-level sections besides its own it reads from `StartContext::config`
    /// (`"config_sections": ["prom_http_sd"]`); default none.
    pub config_sections: Vec<String>,
}

/// Whether a JSON value has the type a key needs.
pub type HasType = fn(&serde_json::Value) -> bool;

/// Every `capabilities()` key this idic reads, with the JSON type it must have
/// (`idic plugin check` reports any other key, and a wrong type).
pub const CAPABILITY_KEYS: [(&str, HasType); 4] = [
    ("replay", serde_json::Value::is_boolean),
    ("max_instances", serde_json::Value::is_u64),
    ("backfill", serde_json::Value::is_boolean),
    ("config_sections", is_list_of_strings),
];

/// A JSON array whose every element is a string.
fn is_list_of_strings(v: &serde_json::Value) -> bool {
    v.as_array()
        .is_some_and(|a| a.iter().all(serde_json::Value::is_string))
}

/// The warnings of a plugin's answer to `check-config` (`{"warnings": [...]}`),
/// or `None` when the answer has another shape.
pub fn check_config_warnings(answer: &str) -> Option<Vec<String>> {
    let v: serde_json::Value = serde_json::from_str(answer).ok()?;
    let warnings = v.get("warnings")?.as_array()?;
    Some(
        warnings
            .iter()
            .map(|w| w.as_str().map_or_else(|| w.to_string(), str::to_string))
            .collect(),
    )
}

impl Capabilities {
    /// Reads the JSON; anything unreadable means the defaults.
    pub fn parse(json: &str) -> Capabilities {
        let v: serde_json::Value = serde_json::from_str(json).unwrap_or_default();
        let replay = v["replay"].as_bool().unwrap_or(true);
        Capabilities {
            replay,
            max_instances: v["max_instances"].as_u64(),
            backfill: v["backfill"].as_bool().unwrap_or(replay),
            config_sections: v["config_sections"]
                .as_array()
                .map(|a| {
                    a.iter()
                        .filter_map(|s| s.as_str().map(str::to_string))
                        .collect()
                })
                .unwrap_or_default(),
        }
    }
}

/// The loaded plugins of a configuration, and its sink instances.
#[derive(Clone)]
pub struct Sinks {
    /// One per distinct plugin, in the order first named.
    pub plugins: Vec<Plugin>,
    /// One per instance, in `stats_processor` order.
    pub instances: Vec<(SinkConfig, Plugin)>,
}

/// Where one sink instance's batches go, for one running configuration.
#[derive(Clone)]
pub struct Target {
    /// How log lines name it: the plugin, plus `sink=NAME` for a named instance.
    pub label: String,
    /// The plugin serving it.
    pub plugin: Plugin,
    /// Its settings (the sinks' plugin config).
    pub settings: String,
    /// The byte bound of its queues, all clusters together.
    pub budget: Arc<Budget>,
    /// Its state folder (`<state_dir>/<name>`) for a disk buffer.
    pub disk: Option<PathBuf>,
    /// The segment size of its disk queues.
    pub segment_bytes: u64,
    /// Whether its disk buffer is failing now (logged once).
    pub failing: Arc<AtomicBool>,
    /// Backfill (issue 12): whether it gets the points of gaps (its plugin's
    /// `backfill` capability, and `backfill_max` above 0), and the byte bound of
    /// those queues, apart from the live ones so a long backfill never evicts
    /// live batches.
    pub backfill: Option<Arc<Budget>>,
}

impl Sinks {
    /// Loads every plugin `config` names and checks the instance limits. Starts
    /// nothing. A file whose bytes did not change since `previous` loaded it gives
    /// back the same library; a changed file is loaded as a new private copy
    /// beside the old one (never unloaded), and the change is logged.
    pub fn load(cli: &Cli, config: &Config, previous: Option<&Sinks>) -> anyhow::Result<Sinks> {
        let dirs = loader::search_dirs(
            cli.plugin_dir.as_deref(),
            config.global.plugin_dir.as_deref(),
        );
        let mut plugins: Vec<Plugin> = Vec::new();
        let mut instances = Vec::new();
        for sink in &config.sinks {
            let plugin = match plugins.iter().find(|p| p.info.name == sink.plugin) {
                Some(p) => p.clone(),
                None => {
                    let old = previous
                        .and_then(|s| s.plugins.iter().find(|p| p.info.name == sink.plugin));
                    let p = load_one(&dirs, config, sink, old)?;
                    plugins.push(p.clone());
                    p
                }
            };
            instances.push((sink.clone(), plugin));
        }
        let mut count: HashMap<&str, u64> = HashMap::new();
        for (sink, plugin) in &instances {
            let n = count.entry(plugin.info.name.as_str()).or_default();
            *n += 1;
            if let Some(max) = Capabilities::parse(&plugin.capabilities()).max_instances {
                if *n > max {
                    return Err(anyhow!(
                        "{}: stats_processor names {} sinks of plugin {:?} (the last: {:?}), but that plugin's process-wide part serves at most {max}; remove the extra one from stats_processor",
                        config.path.display(),
                        n,
                        plugin.info.name,
                        sink.name
                    ));
                }
            }
        }
        Ok(Sinks { plugins, instances })
    }

    /// Starts each plugin's process-wide part once, with the settings of its
    /// first instance; on failure stops those already started.
    pub fn start(&self, config: &Config) -> anyhow::Result<()> {
        // Each plugin's config_sections, in the order of `self.plugins`.
        let declared: Vec<Vec<String>> = self
            .plugins
            .iter()
            .map(|p| Capabilities::parse(&p.capabilities()).config_sections)
            .collect();
        plugin_host::allow_secrets_of(config, |name| {
            self.plugins
                .iter()
                .position(|p| p.info.name == name)
                .map(|i| declared[i].clone())
                .unwrap_or_default()
        });
        for (i, plugin) in self.plugins.iter().enumerate() {
            let Some((sink, _)) = self
                .instances
                .iter()
                .find(|(_, p)| p.info.name == plugin.info.name)
            else {
                continue;
            };
            if let Err(e) = plugin.start(&plugin_host::start_context(config, sink, &declared[i])) {
                for p in &self.plugins[..i] {
                    p.stop();
                }
                return Err(anyhow!("plugin={} failed to start: {e}", plugin.info.name));
            }
        }
        Ok(())
    }

    /// Stops each plugin's process-wide part.
    pub fn stop(&self) {
        for p in &self.plugins {
            p.stop();
        }
    }

    /// The instances, for log lines: `influxdb, plugin=influxdb sink=archive`.
    pub fn describe(&self) -> String {
        self.instances
            .iter()
            .map(|(s, p)| label(s, p))
            .collect::<Vec<_>>()
            .join(", plugin=")
    }

    /// The targets of one running configuration: fresh byte budgets and the
    /// resolved delivery settings.
    pub fn targets(&self, config: &Config) -> Vec<Target> {
        let clusters = config.enabled_clusters().count().max(1) as u64;
        self.instances
            .iter()
            .map(|(sink, plugin)| {
                let caps = Capabilities::parse(&plugin.capabilities());
                let d = &sink.delivery;
                let kind = d.buffer.unwrap_or(if caps.replay {
                    BufferKind::Disk
                } else {
                    BufferKind::Memory
                });
                let max = d.buffer_max_bytes.unwrap_or(match kind {
                    BufferKind::Disk => DISK_MAX_BYTES,
                    BufferKind::Memory => MEMORY_MAX_BYTES,
                });
                let state_dir = d
                    .state_dir
                    .clone()
                    .unwrap_or_else(|| default_state_dir(&config.path));
                Target {
                    label: label(sink, plugin),
                    plugin: plugin.clone(),
                    settings: sink.settings.clone(),
                    budget: Budget::new(max),
                    disk: (kind == BufferKind::Disk).then(|| state_dir.join(&sink.name)),
                    segment_bytes: (max / (4 * clusters)).clamp(4 << 10, 8 << 20),
                    failing: Arc::new(AtomicBool::new(false)),
                    backfill: (caps.backfill && config.global.backfill_max > 0)
                        .then(|| Budget::new(max)),
                }
            })
            .collect()
    }
}

fn load_one(
    dirs: &[loader::SearchDir],
    config: &Config,
    sink: &SinkConfig,
    old: Option<&Plugin>,
) -> anyhow::Result<Plugin> {
    let plugin = loader::find(&sink.plugin, dirs).with_context(|| {
        if sink.plugin == sink.name {
            format!(
                "cannot load the sink named by stats_processor in {}",
                config.path.display()
            )
        } else {
            format!(
                "cannot load plugin {:?} of [sink.{}] in {}",
                sink.plugin,
                sink.name,
                config.path.display()
            )
        }
    })?;
    match old {
        Some(old) if old.fingerprint == plugin.fingerprint && old.path == plugin.path => {
            return Ok(plugin)
        }
        Some(old) => log::info!(
            "plugin={} replaced: {} from {} is now {} from {} (plugin-api {}); the old library stays loaded, unused (libraries are never unloaded)",
            plugin.info.name,
            old.version_label(),
            old.path.display(),
            plugin.version_label(),
            plugin.path.display(),
            plugin.info.api_version
        ),
        None => log::info!(
            "plugin={} {} loaded from {} (plugin-api {})",
            plugin.info.name,
            plugin.version_label(),
            plugin.path.display(),
            plugin.info.api_version
        ),
    }
    log::debug!(
        "plugin={} revision {} capabilities {}",
        plugin.info.name,
        plugin.info.revision,
        plugin.capabilities()
    );
    Ok(plugin)
}

/// `influxdb`, or `influxdb sink=archive` for a named instance.
fn label(sink: &SinkConfig, plugin: &Plugin) -> String {
    if sink.is_named_instance() {
        format!("{} sink={}", plugin.info.name, sink.name)
    } else {
        sink.name.clone()
    }
}

/// `/var/lib/idic` when idic runs from an install (`<prefix>/bin/idic` beside
/// `<prefix>/lib/idic/plugins`), else `idic-state` beside the config file.
pub fn default_state_dir(config_path: &Path) -> PathBuf {
    let installed = std::env::current_exe().ok().is_some_and(|exe| {
        exe.parent().is_some_and(|bin| {
            bin.file_name().is_some_and(|n| n == "bin") && bin.join("../lib/idic/plugins").is_dir()
        })
    });
    if installed {
        PathBuf::from(INSTALLED_STATE_DIR)
    } else {
        config_path
            .parent()
            .unwrap_or(Path::new(""))
            .join(LOCAL_STATE_DIR)
    }
}

/// A cluster's folder name under a sink's state folder: its `host:port` with
/// anything but letters, digits, `.`, `-` and `_` replaced by `_`.
pub fn cluster_folder(label: &str) -> String {
    label
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_') {
                c
            } else {
                '_'
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_check_config_answer_gives_its_warnings_or_none_for_another_shape() {
        assert_eq!(
            check_config_warnings(r#"{"warnings": ["unknown key \"hots\"", 7]}"#),
            Some(vec!["unknown key \"hots\"".to_string(), "7".to_string()])
        );
        assert_eq!(check_config_warnings(r#"{"warnings": []}"#), Some(vec![]));
        assert_eq!(check_config_warnings(r#"{"warning": []}"#), None);
        assert_eq!(check_config_warnings("ok"), None);
    }

    #[test]
    fn capabilities_default_to_replay_and_any_number_of_instances() {
        let c = Capabilities::parse("{}");
        assert!(c.replay && c.backfill);
        assert_eq!(c.max_instances, None);
        assert_eq!(Capabilities::parse("not json"), c);
        let p = Capabilities::parse(r#"{"replay": false, "max_instances": 1}"#);
        assert!(!p.replay && !p.backfill);
        assert_eq!(p.max_instances, Some(1));
        assert!(Capabilities::parse(r#"{"replay": false, "backfill": true}"#).backfill);
        assert!(c.config_sections.is_empty());
        assert_eq!(
            Capabilities::parse(r#"{"config_sections": ["prom_http_sd"]}"#).config_sections,
            ["prom_http_sd"]
        );
        let (_, has_type) = CAPABILITY_KEYS
            .iter()
            .find(|(k, _)| *k == "config_sections")
            .unwrap();
        assert!(has_type(&serde_json::json!(["a", "b"])));
        assert!(!has_type(&serde_json::json!("a")));
        assert!(!has_type(&serde_json::json!([1])));
    }

    #[test]
    fn cluster_folders_are_safe_file_names() {
        assert_eq!(cluster_folder("127.0.0.1:8080"), "127.0.0.1_8080");
        assert_eq!(cluster_folder("[::1]:8080"), "___1__8080");
        assert_eq!(cluster_folder("../x"), ".._x");
    }

    #[test]
    fn the_local_state_dir_is_beside_the_config_file() {
        assert_eq!(
            default_state_dir(Path::new("/etc/idic/idic.toml")),
            PathBuf::from("/etc/idic/idic-state")
        );
    }
}
