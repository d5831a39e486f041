//! What the host hands a plugin: the process-wide [`StartContext`], the per-cluster
//! [`OpenContext`], and the [`HostServices`] (logging, secrets) both carry.
//!
//! Configuration travels as TOML text that the plugin deserializes itself, so a
//! plugin can grow its own settings without any change to this interface.

use abi_stable::std_types::{RResult, RStr, RString, RVec};
use abi_stable::StableAbi;

/// Severity of a log record sent to the host.
#[repr(u8)]
#[derive(StableAbi, Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum LogLevel {
    /// Something failed.
    Error = 1,
    /// Something is wrong but work goes on.
    Warn = 2,
    /// Normal operation worth telling an operator.
    Info = 3,
    /// Detail for diagnosing problems.
    Debug = 4,
    /// Very verbose detail.
    Trace = 5,
}

/// Services the host offers to plugins. Cheap to copy.
#[repr(C)]
#[derive(StableAbi, Clone, Copy, Debug)]
pub struct HostServices {
    /// Writes a record to the host's log, tagged with the plugin's name:
    /// `(level, plugin name, module path of the record, message)`.
    pub log: extern "C" fn(LogLevel, RStr<'_>, RStr<'_>, RStr<'_>),
    /// The most verbose level the host will print; records above it may be skipped.
    pub max_level: LogLevel,
    /// Resolves a secret setting: `$env:NAME` becomes the value of the environment
    /// variable `NAME` (an error naming the variable when it is unset); any other
    /// value is returned unchanged.
    pub resolve_secret: extern "C" fn(RStr<'_>) -> RResult<RString, RString>,
}

/// Metadata of one configured statistic, as the cluster described it.
#[repr(C)]
#[derive(StableAbi, Clone, Debug, PartialEq)]
pub struct StatInfo {
    /// The statistics key, e.g. `cluster.cpu.idle.avg`.
    pub key: RString,
    /// The cluster's description of the key (may be empty).
    pub description: RString,
    /// Units, e.g. `percent`, `bytes/s`, `none` (may be empty).
    pub units: RString,
    /// How often the collector fetches the key, in seconds.
    pub update_interval: u64,
}

/// Handed to the plugin's `start` hook before any sink is opened (at start and on
/// every reload).
#[repr(C)]
#[derive(StableAbi, Clone, Debug)]
pub struct StartContext {
    /// The plugin's name as configured in `stats_processor`.
    pub plugin_name: RString,
    /// The whole configuration file as TOML text, secrets unresolved: the plugin
    /// reads its own `[<name>]` section and anything else it needs (the Prometheus
    /// plugin reads `[prom_http_sd]` and each cluster's `prometheus_port`).
    pub config: RString,
    /// The plugin's own section, `[<plugin name>]`, as TOML text (empty when absent).
    pub plugin_config: RString,
    /// Each enabled `[[cluster]]` table as TOML text, in file order.
    pub clusters: RVec<RString>,
    /// Host services.
    pub host: HostServices,
    /// A JSON object for needs this version did not foresee; `{}` in 1.0.
    pub extra: RString,
}

/// Handed to the plugin's `open` once per cluster, after the collector has reached
/// the cluster and read its identity and statistics metadata.
#[repr(C)]
#[derive(StableAbi, Clone, Debug)]
pub struct OpenContext {
    /// The plugin's name as configured in `stats_processor`.
    pub plugin_name: RString,
    /// The cluster's name as it appears in the `cluster` tag (lower-cased unless
    /// `preserve_case`).
    pub cluster: RString,
    /// The cluster's OneFS release, e.g. `9.11.0.0`.
    pub onefs_version: RString,
    /// The plugin's own section, `[<plugin name>]`, as TOML text (empty when absent).
    pub plugin_config: RString,
    /// This cluster's `[[cluster]]` table as TOML text, secrets unresolved.
    pub cluster_config: RString,
    /// The `[global]` table as TOML text.
    pub global_config: RString,
    /// Every statistic the collector will send for this cluster.
    pub stats: RVec<StatInfo>,
    /// Host services.
    pub host: HostServices,
    /// A JSON object for needs this version did not foresee; `{}` in 1.0.
    pub extra: RString,
}

impl HostServices {
    /// Resolves a `$env:NAME` secret (see [`HostServices::resolve_secret`]).
    pub fn secret(&self, value: &str) -> Result<String, String> {
        match (self.resolve_secret)(value.into()) {
            RResult::ROk(v) => Ok(v.into()),
            RResult::RErr(e) => Err(e.into()),
        }
    }
}

impl OpenContext {
    /// The [`StatInfo`] of `key`, if the collector sends it.
    pub fn stat(&self, key: &str) -> Option<&StatInfo> {
        self.stats.iter().find(|s| s.key.as_str() == key)
    }
}

impl From<log::Level> for LogLevel {
    fn from(level: log::Level) -> LogLevel {
        match level {
            log::Level::Error => LogLevel::Error,
            log::Level::Warn => LogLevel::Warn,
            log::Level::Info => LogLevel::Info,
            log::Level::Debug => LogLevel::Debug,
            log::Level::Trace => LogLevel::Trace,
        }
    }
}

impl From<LogLevel> for log::Level {
    fn from(level: LogLevel) -> log::Level {
        match level {
            LogLevel::Error => log::Level::Error,
            LogLevel::Warn => log::Level::Warn,
            LogLevel::Info => log::Level::Info,
            LogLevel::Debug => log::Level::Debug,
            LogLevel::Trace => log::Level::Trace,
        }
    }
}
