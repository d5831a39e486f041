//! The gostats-compatible `idic.toml`: its types, defaults, loading and validation.
//!
//! Loading is pure: [`Config::parse`] takes the file's text and returns the config
//! plus the warnings an operator should see, or one [`ConfigError`] that names the
//! file, line, column and what was expected. Nothing here talks to a cluster or a
//! plugin; secrets (`$env:NAME`, `$file:PATH`) are only checked to be resolvable.

mod keys;
mod locate;
mod secret;
pub mod shard;
mod validate;

use std::fmt;
use std::path::{Path, PathBuf};

use serde::Deserialize;

pub use secret::{reference as secret_reference, resolve_secret};
pub use validate::UpdateInterval;

/// The whole configuration file, after defaults and validation.
#[derive(Debug, Clone)]
pub struct Config {
    /// Where the file was read from.
    pub path: PathBuf,
    /// The file as a TOML table (plugins get their sections from it).
    pub table: toml::Table,
    /// `[global]`.
    pub global: Global,
    /// `[logging]`.
    pub logging: Logging,
    /// `[summary_stats]`.
    pub summary_stats: SummaryStats,
    /// Every `[[cluster]]`, disabled ones included, in file order.
    pub clusters: Vec<Cluster>,
    /// The active stat groups, in `active_stat_groups` order, unknown names dropped.
    pub stat_groups: Vec<StatGroup>,
    /// The sink instances named by `stats_processor`, in its order.
    pub sinks: Vec<SinkConfig>,
    /// `[quotas]`: the quota source (disabled unless the section enables it).
    pub quotas: Quotas,
    /// `[partitioned_performance]`: the partitioned-performance source.
    pub partitioned_performance: PartitionedPerformance,
    /// `[telemetry]`: idic's own metrics and probes; `None`: not served.
    pub telemetry: Option<Telemetry>,
}

/// The quota types OneFS knows (`type` of `/platform/8/quota/quotas`).
pub const QUOTA_TYPES: [&str; 6] = [
    "directory",
    "user",
    "group",
    "default-directory",
    "default-user",
    "default-group",
];

/// `[quotas]`: SmartQuotas as a source (goquotas' `[global]` quota keys).
#[derive(Debug, Clone, PartialEq)]
pub struct Quotas {
    /// Collect quotas from every cluster that does not say `quotas = false`.
    ///
    /// Default false.
    pub enabled: bool,
    /// Seconds between two quota snapshots of a cluster.
    ///
    /// 1 to 86,400. Default 3600 (goquotas' `collection_interval` of 1h).
    pub interval: u64,
    /// The quota types listed, one pass each (`type=` of the request).
    ///
    /// Default `["directory", "default-directory"]` (goquotas').
    pub quota_types: Vec<String>,
    /// Only quotas whose path starts with this (filtered by idic); "" keeps all.
    ///
    /// Default "".
    pub path_prefix: String,
    /// Quotas per page (`limit`).
    ///
    /// 1 to 100,000. Default 1000.
    pub page_limit: u32,
    /// The most quotas one snapshot of a cluster may hold: a snapshot that
    /// would exceed it stops at the limit, says so and counts it.
    ///
    /// 1 to 10,000,000. Default 10,000.
    pub max_quotas: u32,
    /// Ask OneFS to resolve persona names (`resolve_names=true`).
    ///
    /// Default false.
    pub resolve_names: bool,
}

impl Default for Quotas {
    fn default() -> Quotas {
        Quotas {
            enabled: false,
            interval: 3600,
            quota_types: vec!["directory".into(), "default-directory".into()],
            path_prefix: String::new(),
            page_limit: 1000,
            max_quotas: 10_000,
            resolve_names: false,
        }
    }
}

/// `[partitioned_performance]`: datasets and workloads as a source (goppstats).
#[derive(Debug, Clone, PartialEq)]
pub struct PartitionedPerformance {
    /// Collect partitioned performance from every cluster that does not say
    /// `partitioned_performance = false`.
    ///
    /// Default false.
    pub enabled: bool,
    /// Seconds between two collections of a cluster's datasets.
    ///
    /// 1 to 86,400. Default 30 (OneFS refreshes workload numbers every 30 s).
    pub interval: u64,
    /// Turn a row's NFS `export_id` into an `export_path` tag
    /// (`GET /platform/1/protocols/nfs/exports/<id>`, needs ISI_PRIV_NFS read).
    ///
    /// Default false (goppstats' `lookup_export_ids`).
    pub lookup_export_ids: bool,
}

impl Default for PartitionedPerformance {
    fn default() -> PartitionedPerformance {
        PartitionedPerformance {
            enabled: false,
            interval: 30,
            lookup_export_ids: false,
        }
    }
}

/// `[telemetry]`: where idic serves `/metrics`, `/health` and `/ready`.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Telemetry {
    /// `listen`: `HOST:PORT`.
    pub listen: String,
    /// `username` for Basic auth on `/metrics`.
    pub username: Option<String>,
    /// `password` (may be `$env:NAME` or `$file:PATH`).
    pub password: Option<String>,
}

/// One sink instance: a name in `stats_processor`, its plugin and settings.
#[derive(Debug, Clone, PartialEq)]
pub struct SinkConfig {
    /// The name in `stats_processor`: a plugin's name, or `NAME` of a `[sink.NAME]`.
    pub name: String,
    /// The plugin (library) that serves it.
    pub plugin: String,
    /// What its sinks receive as their plugin config: the `[<plugin>]` section,
    /// or the `[sink.NAME]` table without `plugin`, as TOML text.
    pub settings: String,
    /// Its delivery settings: `[delivery]` overridden by `[delivery.NAME]`.
    pub delivery: DeliveryConfig,
}

impl SinkConfig {
    /// A `[sink.NAME]` instance, rather than a plugin named directly in
    /// `stats_processor`.
    pub fn is_named_instance(&self) -> bool {
        self.name != self.plugin
    }

    /// Where its settings are written: `[influxdb]` or `[sink.NAME]`.
    pub fn section(&self) -> String {
        if self.is_named_instance() {
            format!("[sink.{}]", self.name)
        } else {
            format!("[{}]", self.name)
        }
    }
}

/// How batches wait for a sink: `[delivery]` and `[delivery.NAME]`.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct DeliveryConfig {
    /// `buffer`; `None`: the plugin's default (disk unless its capabilities say
    /// it serves only the latest values).
    pub buffer: Option<BufferKind>,
    /// `buffer_max_bytes`; `None`: the default of the buffer kind.
    pub buffer_max_bytes: Option<u64>,
    /// `state_dir`; `None`: `/var/lib/idic` when installed, else `idic-state`
    /// beside the config file.
    pub state_dir: Option<PathBuf>,
}

/// Where a sink's queue keeps its batches.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BufferKind {
    /// On disk under `state_dir`: survives a crash.
    Disk,
    /// In memory: lost when idic stops.
    Memory,
}

/// `[global]`.
#[derive(Debug, Clone, Deserialize)]
pub struct Global {
    /// Config format version, 0.31 to 0.39 with an optional leading `v`. Required.
    pub version: String,
    /// The sink: a plugin's name, or a list of sink names (plugins or
    /// `[sink.NAME]` instances) to fan out to. Required.
    #[serde(deserialize_with = "one_or_many")]
    pub stats_processor: Vec<String>,
    /// Write retries before a batch is dropped; 0 or less means forever.
    ///
    /// At most 1,000,000. Default 8.
    #[serde(default = "default_retries")]
    pub stats_processor_max_retries: i64,
    /// First write-retry wait in seconds, doubling up to `max_backoff`.
    ///
    /// 1 to 3600. Default 5.
    #[serde(default = "default_retry_interval")]
    pub stats_processor_retry_interval: i64,
    /// Floor for every collection interval, in seconds.
    ///
    /// At most 86,400; below 1 is warned about and becomes 1. Default 30.
    #[serde(default = "default_min_interval")]
    pub min_update_interval_override: i64,
    /// Names of the `[[statgroup]]` tables to collect. Required.
    pub active_stat_groups: Vec<String>,
    /// Keep the cluster name's case in the `cluster` tag. Default false.
    #[serde(default)]
    pub preserve_case: bool,
    /// Add a `degraded` tag to every point. Default false.
    #[serde(default)]
    pub include_degraded: bool,
    /// One request per stat group instead of merging groups by interval. Default false.
    #[serde(default)]
    pub fetch_by_statgroup: bool,
    /// idic extension: the plugins folder (after `--plugin-dir`).
    #[serde(default)]
    pub plugin_dir: Option<PathBuf>,
    /// idic extension: TCP connect timeout toward clusters, seconds.
    ///
    /// 1 to 300. Default 10.
    #[serde(default = "default_connect_timeout")]
    pub connect_timeout: u64,
    /// idic extension: whole-request timeout toward clusters, seconds.
    ///
    /// 1 to 3600. Default 60.
    #[serde(default = "default_request_timeout")]
    pub request_timeout: u64,
    /// idic extension: how many batches may wait for the sink per cluster before
    /// the oldest are dropped.
    ///
    /// 1 to 1,000,000. Default 1000.
    #[serde(default = "default_queue_size")]
    pub queue_size: usize,
    /// idic extension: the longest wait of every back-off, in seconds.
    ///
    /// Caps the waits between connection retries toward a cluster, between failed
    /// collection cycles and between sink write retries. gostats capped them at
    /// 1280 s (cycles, writes) and 30 min (connections); with this cap a cluster or
    /// backend that comes back is used again within about `max_backoff`, whatever
    /// the outage's length. 1 to 3600. Default 60.
    #[serde(default = "default_max_backoff")]
    pub max_backoff: u64,
    /// idic extension: how many sink calls may run at once across all clusters.
    ///
    /// A sink call is a write, an open or a close; this bounds the threads idic
    /// uses for sinks. 1 to 64. Default 4.
    #[serde(default = "default_sink_workers")]
    pub sink_workers: usize,
    /// idic extension: collect only the enabled clusters of shard `"K/N"` (see
    /// `config::shard`); `--shard` overrides it. Default: every cluster.
    #[serde(default)]
    pub shard: Option<shard::Shard>,
    /// idic extension: the longest gap, in seconds, that is filled from the
    /// cluster's statistics history after idic or the cluster was away.
    ///
    /// The most recent `backfill_max` seconds of a longer gap are filled and the
    /// rest is logged as not recoverable. 0 turns backfill off. 0 to 1,209,600
    /// (14 days, the longest history OneFS keeps at 120 s). Default 3600.
    #[serde(default = "default_backfill_max")]
    pub backfill_max: u64,
}

/// `[logging]`.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct Logging {
    /// Log file path; none means standard error only.
    #[serde(default)]
    pub logfile: Option<String>,
    /// `text` (default) or `json`.
    #[serde(default, alias = "log_file_format")]
    pub logfile_format: Option<String>,
    /// CRITICAL, ERROR, WARNING, NOTICE, INFO (default), DEBUG, TRACE; any case.
    #[serde(default)]
    pub log_level: Option<String>,
    /// Also log to standard output when a log file is set. Default false.
    #[serde(default)]
    pub log_to_stdout: bool,
}

/// `[summary_stats]`.
#[derive(Debug, Clone, Copy, Default, Deserialize)]
pub struct SummaryStats {
    /// Collect `/platform/3/statistics/summary/protocol` every 5 s.
    #[serde(default)]
    pub protocol: bool,
    /// Collect `/platform/3/statistics/summary/client` every 5 s.
    #[serde(default)]
    pub client: bool,
    /// Collect `/platform/3/statistics/summary/drive` every 5 s.
    #[serde(default)]
    pub drive: bool,
}

/// How the collector authenticates to a cluster.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AuthType {
    /// Session cookie with CSRF token (the default).
    Session,
    /// HTTP Basic credentials on every request.
    Basic,
}

/// One `[[cluster]]`.
#[derive(Debug, Clone)]
pub struct Cluster {
    /// The host name or address, without port.
    pub hostname: String,
    /// The PAPI port (from `port`, `hostname = "h:p"`, or 8080).
    pub port: u16,
    /// The user name.
    pub username: String,
    /// The password as written (may be `$env:NAME`; resolve at use).
    pub password: String,
    /// Session or basic auth.
    pub authtype: AuthType,
    /// Verify the cluster's certificate (default true; gostats defaulted to false).
    pub verify_ssl: bool,
    /// A PEM file of CA certificates to trust for this cluster.
    pub ca_cert: Option<PathBuf>,
    /// Skip this cluster.
    pub disabled: bool,
    /// The Prometheus sink's port for this cluster.
    pub prometheus_port: Option<u16>,
    /// Overrides `[global] preserve_case`.
    pub preserve_case: Option<bool>,
    /// Overrides `[quotas] enabled` for this cluster.
    pub quotas: Option<bool>,
    /// Overrides `[partitioned_performance] enabled` for this cluster.
    pub partitioned_performance: Option<bool>,
    /// The table as TOML text with only [`PLUGIN_CLUSTER_KEYS`] (handed to
    /// plugins: `StartContext::clusters`, `OpenContext::cluster_config`).
    pub toml: String,
}

/// One active `[[statgroup]]`.
#[derive(Debug, Clone, PartialEq)]
pub struct StatGroup {
    /// The group's name.
    pub name: String,
    /// How often its stats are fetched.
    pub update_interval: UpdateInterval,
    /// The statistics keys.
    pub stats: Vec<String>,
}

/// The keys of a `[[cluster]]` table a plugin sees: where the cluster is and
/// what is collected from it, never how idic logs in (`username`, `password`,
/// `authtype`, `ca_cert`, ...).
pub const PLUGIN_CLUSTER_KEYS: [&str; 7] = [
    "hostname",
    "name",
    "port",
    "prometheus_port",
    "preserve_case",
    "quotas",
    "partitioned_performance",
];

/// The top-level sections idic itself reads: a plugin never receives them
/// through `config_sections` (some hold secrets: `[telemetry]`, `[[cluster]]`).
pub const HOST_SECTIONS: [&str; 10] = [
    "global",
    "logging",
    "summary_stats",
    "cluster",
    "statgroup",
    "sink",
    "delivery",
    "telemetry",
    "quotas",
    "partitioned_performance",
];

/// What a plugin gets of a `[[cluster]]` table: only [`PLUGIN_CLUSTER_KEYS`].
pub fn plugin_view(table: &toml::Table) -> toml::Table {
    table
        .iter()
        .filter(|(k, _)| PLUGIN_CLUSTER_KEYS.contains(&k.as_str()))
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect()
}

/// Something an operator should fix, that does not stop idic.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Warning(pub String);

/// A configuration that cannot be used: where and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigError {
    /// `file:line:column: ` or `file: ` prefix.
    pub location: String,
    /// What is wrong and what was expected.
    pub message: String,
}

impl Config {
    /// Reads and validates the file at `path`.
    pub fn load(path: &Path) -> Result<(Config, Vec<Warning>), ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|e| ConfigError {
            location: format!("{}: ", path.display()),
            message: format!("cannot read the config file: {e}"),
        })?;
        Config::parse(path, &text)
    }

    /// Validates `text` as if read from `path`.
    pub fn parse(path: &Path, text: &str) -> Result<(Config, Vec<Warning>), ConfigError> {
        validate::parse(path, text)
    }

    /// Applies `--shard`, which wins over `shard` in `[global]`.
    pub fn override_shard(&mut self, shard: Option<shard::Shard>) {
        if shard.is_some() {
            self.global.shard = shard;
        }
    }

    /// The enabled clusters this instance collects: all of them, or those of
    /// its shard (`shard` in `[global]` or `--shard`).
    pub fn enabled_clusters(&self) -> impl Iterator<Item = &Cluster> {
        self.clusters.iter().filter(|c| self.collects(c))
    }

    /// Whether this instance collects `cluster`: enabled, and in its shard.
    pub fn collects(&self, cluster: &Cluster) -> bool {
        !cluster.disabled
            && self
                .global
                .shard
                .is_none_or(|s| s.owns(&cluster.hostname, cluster.port))
    }

    /// What plugin `plugin` gets as `StartContext::config` (least privilege):
    /// `[global]`, its own `[<plugin>]` section, the `[sink.NAME]` tables of
    /// its instances in `stats_processor`, the sections it declares in
    /// `config_sections` (`extra`) unless idic or another sink of this config
    /// owns them, and the collected clusters' `[[cluster]]` tables reduced to
    /// [`PLUGIN_CLUSTER_KEYS`]. No other plugin's section, no credential.
    pub fn plugin_text(&self, plugin: &str, extra: &[String]) -> String {
        let mut out = toml::Table::new();
        let mut copy = |name: &str| {
            if let Some(v @ toml::Value::Table(_)) = self.table.get(name) {
                out.insert(name.to_string(), v.clone());
            }
        };
        copy("global");
        copy(plugin);
        for name in self.declared_sections(plugin, extra) {
            copy(name);
        }
        let instances: toml::Table = self
            .sinks
            .iter()
            .filter(|s| s.plugin == plugin && s.is_named_instance())
            .filter_map(|s| {
                let t = self.table.get("sink")?.get(&s.name)?;
                Some((s.name.clone(), t.clone()))
            })
            .collect();
        if !instances.is_empty() {
            out.insert("sink".into(), toml::Value::Table(instances));
        }
        let clusters: Vec<toml::Value> = match self.table.get("cluster") {
            Some(toml::Value::Array(tables)) => tables
                .iter()
                .zip(&self.clusters)
                .filter(|(_, c)| self.collects(c))
                .filter_map(|(t, _)| t.as_table())
                .map(|t| toml::Value::Table(plugin_view(t)))
                .collect(),
            _ => Vec::new(),
        };
        if !clusters.is_empty() {
            out.insert("cluster".into(), toml::Value::Array(clusters));
        }
        toml::to_string(&out).unwrap_or_default()
    }

    /// The sections of `extra` (what plugin `plugin` declares in
    /// `config_sections`) it may read: not one of [`HOST_SECTIONS`], and not
    /// the section of another plugin or sink this config names.
    pub fn declared_sections<'a>(&self, plugin: &str, extra: &'a [String]) -> Vec<&'a str> {
        extra
            .iter()
            .map(String::as_str)
            .filter(|name| {
                !HOST_SECTIONS.contains(name)
                    && *name != plugin
                    && !self
                        .sinks
                        .iter()
                        .any(|s| s.plugin != plugin && (s.plugin == *name || s.name == *name))
            })
            .collect()
    }

    /// The TOML text of the top-level table `name` (a plugin's section), or "".
    pub fn section_toml(&self, name: &str) -> String {
        section_toml(&self.table, name)
    }

    /// Whether quotas are collected from `cluster`.
    pub fn quotas_enabled(&self, cluster: &Cluster) -> bool {
        cluster.quotas.unwrap_or(self.quotas.enabled)
    }

    /// Whether partitioned performance is collected from `cluster`.
    pub fn partitioned_performance_enabled(&self, cluster: &Cluster) -> bool {
        cluster
            .partitioned_performance
            .unwrap_or(self.partitioned_performance.enabled)
    }

    /// Whether the cluster's name keeps its case.
    pub fn preserve_case(&self, cluster: &Cluster) -> bool {
        cluster.preserve_case.unwrap_or(self.global.preserve_case)
    }
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}{}", self.location, self.message)
    }
}

impl std::error::Error for ConfigError {}

impl fmt::Display for Warning {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// The TOML text of the top-level table `name` of `table`, or "".
fn section_toml(table: &toml::Table, name: &str) -> String {
    match table.get(name) {
        Some(toml::Value::Table(t)) => toml::to_string(t).unwrap_or_default(),
        _ => String::new(),
    }
}

/// A string or a list of strings, as a list.
fn one_or_many<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Vec<String>, D::Error> {
    struct Visitor;
    impl<'de> serde::de::Visitor<'de> for Visitor {
        type Value = Vec<String>;
        fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str("a string or a list of strings")
        }
        fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<Vec<String>, E> {
            Ok(vec![v.to_string()])
        }
        fn visit_seq<A: serde::de::SeqAccess<'de>>(
            self,
            mut a: A,
        ) -> Result<Vec<String>, A::Error> {
            let mut out = Vec::new();
            while let Some(s) = a.next_element::<String>()? {
                out.push(s);
            }
            Ok(out)
        }
    }
    d.deserialize_any(Visitor)
}

fn default_retries() -> i64 {
    8
}
fn default_retry_interval() -> i64 {
    5
}
fn default_min_interval() -> i64 {
    30
}
fn default_connect_timeout() -> u64 {
    10
}
fn default_request_timeout() -> u64 {
    60
}
fn default_queue_size() -> usize {
    1000
}
fn default_max_backoff() -> u64 {
    60
}
fn default_sink_workers() -> usize {
    4
}
fn default_backfill_max() -> u64 {
    3600
}
