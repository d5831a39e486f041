//! From text to a checked [`Config`]: syntax, number ranges (`bounds.rs`), types,
//! then the rules of the gostats contract (versions, stat groups, clusters,
//! secrets, logging values).

mod bounds;
mod sinks;
mod sources;
mod telemetry;

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use serde::Deserialize;
use toml::de::DeTable;
use toml::Spanned;

use self::bounds::{MAX_INTERVAL_SECS, MAX_MULTIPLIER, MULTIPLIER_RANGE, SECONDS_RANGE};
use super::keys::unknown_keys;
use super::locate::{line_col, span_of, Step};
use super::secret::resolve_secret;
use super::{
    AuthType, Cluster, Config, ConfigError, Global, Logging, StatGroup, SummaryStats, Warning,
};

/// How often a stat group is collected, from its `update_interval` string.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum UpdateInterval {
    /// `"*"`: each stat's own update interval.
    Own,
    /// `"*N"`: N times each stat's own interval (N may be fractional), 0 < N <= 1000.
    Multiplier(f64),
    /// `"S"`: S seconds, 0 to 86400.
    Absolute(u64),
}

/// The config versions gostats accepts: 0.31 to 0.39.
const VERSIONS: std::ops::RangeInclusive<u32> = 31..=39;

#[derive(Deserialize)]
struct RawFile {
    global: Option<Global>,
    #[serde(default)]
    logging: Logging,
    #[serde(default)]
    summary_stats: SummaryStats,
    #[serde(default)]
    cluster: Vec<RawCluster>,
    #[serde(default)]
    statgroup: Vec<RawStatGroup>,
}

#[derive(Deserialize)]
struct RawCluster {
    hostname: String,
    #[serde(default)]
    port: Option<u16>,
    username: String,
    password: String,
    #[serde(default)]
    authtype: Option<String>,
    #[serde(default, rename = "verify-ssl")]
    verify_ssl: Option<bool>,
    #[serde(default)]
    ca_cert: Option<PathBuf>,
    #[serde(default)]
    disabled: bool,
    #[serde(default)]
    prometheus_port: Option<u16>,
    #[serde(default)]
    preserve_case: Option<bool>,
    #[serde(default)]
    quotas: Option<bool>,
    #[serde(default)]
    partitioned_performance: Option<bool>,
}

#[derive(Deserialize)]
struct RawStatGroup {
    name: String,
    #[serde(default = "star")]
    update_interval: String,
    #[serde(default)]
    stats: Vec<String>,
}

fn star() -> String {
    "*".to_string()
}

/// Where errors point: the file name, its text and its spanned syntax tree.
struct Ctx<'a> {
    file: String,
    text: &'a str,
    doc: Spanned<DeTable<'a>>,
}

impl Ctx<'_> {
    fn error_at(&self, path: &[Step<'_>], message: impl Into<String>) -> ConfigError {
        let span = span_of(&self.doc, path);
        let (line, col) = line_col(self.text, span.start);
        ConfigError {
            location: format!("{}:{line}:{col}: ", self.file),
            message: message.into(),
        }
    }

    fn error(&self, message: impl Into<String>) -> ConfigError {
        ConfigError {
            location: format!("{}: ", self.file),
            message: message.into(),
        }
    }
}

pub fn parse(path: &Path, text: &str) -> Result<(Config, Vec<Warning>), ConfigError> {
    let file = path.display().to_string();
    let doc = DeTable::parse(text).map_err(|e| toml_error(&file, text, &e))?;
    let table: toml::Table = text.parse().map_err(|e| toml_error(&file, text, &e))?;
    let ctx = Ctx { file, text, doc };
    bounds::check_numbers(&ctx, &table)?;
    let raw: RawFile = toml::from_str(text).map_err(|e| toml_error(&ctx.file, text, &e))?;
    let mut warnings: Vec<Warning> = unknown_keys(&ctx.file, text, &ctx.doc)
        .into_iter()
        .map(Warning)
        .collect();

    let Some(mut global) = raw.global else {
        return Err(
            ctx.error("missing the [global] table (version, stats_processor, active_stat_groups)")
        );
    };
    check_version(&ctx, &global.version)?;
    let sinks = sinks::sinks(&ctx, &table, &global, &mut warnings)?;
    if global.min_update_interval_override < 1 {
        warnings.push(Warning(format!(
            "{}: min_update_interval_override = {} is below 1 s; using 1",
            ctx.file, global.min_update_interval_override
        )));
        global.min_update_interval_override = 1;
    }
    warnings.extend(bounds::backoff_warning(&ctx, &global));
    check_logging(&ctx, &raw.logging)?;
    let stat_groups = stat_groups(&ctx, &global, raw.statgroup, &mut warnings)?;
    let clusters = clusters(&ctx, &table, raw.cluster, &mut warnings)?;
    let quotas = sources::quotas(&ctx, &table)?;
    let partitioned_performance = sources::partitioned_performance(&ctx, &table)?;
    let telemetry = telemetry::telemetry(&ctx, &table)?;

    let config = Config {
        path: path.to_path_buf(),
        table,
        global,
        logging: raw.logging,
        summary_stats: raw.summary_stats,
        clusters,
        stat_groups,
        sinks,
        quotas,
        partitioned_performance,
        telemetry,
    };
    Ok((config, warnings))
}

fn toml_error(file: &str, text: &str, e: &toml::de::Error) -> ConfigError {
    let location = match e.span() {
        Some(span) => {
            let (l, c) = line_col(text, span.start);
            format!("{file}:{l}:{c}: ")
        }
        None => format!("{file}: "),
    };
    ConfigError {
        location,
        message: e.message().trim().to_string(),
    }
}

fn check_version(ctx: &Ctx<'_>, version: &str) -> Result<(), ConfigError> {
    let v = version.trim_start_matches(['v', 'V']);
    let mut parts = v.split('.');
    let ok = matches!(
        (parts.next(), parts.next().and_then(|m| m.parse::<u32>().ok())),
        (Some("0"), Some(minor)) if VERSIONS.contains(&minor)
    ) && parts.all(|p| p.parse::<u32>().is_ok());
    if ok {
        Ok(())
    } else {
        Err(ctx.error_at(
            &[Step::Key("global"), Step::Key("version")],
            format!(
                "config version {version:?} is not supported: idic reads gostats config versions 0.31 to 0.39"
            ),
        ))
    }
}

fn check_logging(ctx: &Ctx<'_>, logging: &Logging) -> Result<(), ConfigError> {
    if let Some(level) = &logging.log_level {
        if crate::logging::parse_level(level).is_none() {
            return Err(ctx.error_at(
                &[Step::Key("logging"), Step::Key("log_level")],
                format!("log_level {level:?} is not a level: use CRITICAL, ERROR, WARNING, NOTICE, INFO, DEBUG or TRACE"),
            ));
        }
    }
    if let Some(format) = &logging.logfile_format {
        if !matches!(format.to_ascii_lowercase().as_str(), "text" | "json") {
            return Err(ctx.error_at(
                &[Step::Key("logging")],
                format!("logfile_format {format:?} is not \"text\" or \"json\""),
            ));
        }
    }
    Ok(())
}

fn stat_groups(
    ctx: &Ctx<'_>,
    global: &Global,
    raw: Vec<RawStatGroup>,
    warnings: &mut Vec<Warning>,
) -> Result<Vec<StatGroup>, ConfigError> {
    let mut by_name: HashMap<String, (Option<UpdateInterval>, RawStatGroup)> = HashMap::new();
    for (i, group) in raw.into_iter().enumerate() {
        let interval = parse_interval(&group.update_interval).map_err(|range| {
            ctx.error_at(
                &[
                    Step::Key("statgroup"),
                    Step::Index(i),
                    Step::Key("update_interval"),
                ],
                format!(
                    "[[statgroup]] {:?}: update_interval {:?} is out of range, {range}",
                    group.name, group.update_interval
                ),
            )
        })?;
        if by_name.contains_key(&group.name) {
            warnings.push(Warning(format!(
                "{}: [[statgroup]] {:?} is defined twice; the first one is used",
                ctx.file, group.name
            )));
            continue;
        }
        by_name.insert(group.name.clone(), (interval, group));
    }
    let mut groups = Vec::new();
    let mut owner: HashMap<String, String> = HashMap::new();
    for name in &global.active_stat_groups {
        let Some((interval, group)) = by_name.remove(name) else {
            if !groups.iter().any(|g: &StatGroup| &g.name == name) {
                warnings.push(Warning(format!(
                    "{}: active stat group {name:?} has no [[statgroup]] of that name; it is skipped",
                    ctx.file
                )));
            }
            continue;
        };
        for stat in &group.stats {
            if let Some(first) = owner.insert(stat.clone(), group.name.clone()) {
                return Err(ctx.error_at(
                    &[Step::Key("statgroup")],
                    format!(
                        "statistic {stat:?} is in two active stat groups, {first:?} and {:?}: keep it in one",
                        group.name
                    ),
                ));
            }
        }
        let update_interval = interval.unwrap_or_else(|| {
            warnings.push(Warning(format!(
                "{}: [[statgroup]] {:?}: update_interval {:?} is not \"*\", \"*N\" or seconds; using \"*\"",
                ctx.file, group.name, group.update_interval
            )));
            UpdateInterval::Own
        });
        groups.push(StatGroup {
            name: group.name,
            update_interval,
            stats: group.stats,
        });
    }
    if groups.is_empty() {
        return Err(ctx.error_at(
            &[Step::Key("global"), Step::Key("active_stat_groups")],
            "nothing to collect: active_stat_groups names no [[statgroup]] of this file",
        ));
    }
    if groups.iter().all(|g| g.stats.is_empty()) {
        return Err(ctx.error_at(
            &[Step::Key("global"), Step::Key("active_stat_groups")],
            "nothing to collect: the active stat groups list no statistics",
        ));
    }
    Ok(groups)
}

/// Parses a `[[statgroup]] update_interval`: `Ok(None)` when it is not an interval
/// at all (the caller warns and uses `"*"`, as gostats does), `Err` with the allowed
/// range and the remedy when it is a number out of range.
pub fn parse_interval(s: &str) -> Result<Option<UpdateInterval>, &'static str> {
    let s = s.trim();
    if s == "*" {
        return Ok(Some(UpdateInterval::Own));
    }
    if let Some(n) = s.strip_prefix('*') {
        let Ok(m) = n.trim().parse::<f64>() else {
            return Ok(None);
        };
        return if m.is_finite() && m > 0.0 && m <= MAX_MULTIPLIER {
            Ok(Some(UpdateInterval::Multiplier(m)))
        } else {
            Err(MULTIPLIER_RANGE)
        };
    }
    let digits = s.strip_prefix(['+', '-']).unwrap_or(s);
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return Ok(None);
    }
    match s.parse::<i128>().map(u64::try_from) {
        Ok(Ok(secs)) if secs <= MAX_INTERVAL_SECS => Ok(Some(UpdateInterval::Absolute(secs))),
        _ => Err(SECONDS_RANGE),
    }
}

fn clusters(
    ctx: &Ctx<'_>,
    table: &toml::Table,
    raw: Vec<RawCluster>,
    warnings: &mut Vec<Warning>,
) -> Result<Vec<Cluster>, ConfigError> {
    let tables: Vec<&toml::Table> = match table.get("cluster") {
        Some(toml::Value::Array(a)) => a.iter().filter_map(toml::Value::as_table).collect(),
        _ => Vec::new(),
    };
    let mut out = Vec::new();
    for (i, c) in raw.into_iter().enumerate() {
        let at = |key: &'static str| [Step::Key("cluster"), Step::Index(i), Step::Key(key)];
        let label = format!("[[cluster]] #{} ({})", i + 1, c.hostname);
        let (hostname, port) = split_host_port(&c.hostname);
        let port = match (port, c.port) {
            (Some(Err(())), _) => {
                return Err(ctx.error_at(
                    &at("hostname"),
                    format!("{label}: the port in hostname is not a number from 1 to 65535"),
                ));
            }
            (Some(Ok(a)), Some(b)) if a != b => {
                return Err(ctx.error_at(
                    &at("port"),
                    format!("{label}: hostname says port {a} but port = {b}; keep one"),
                ));
            }
            (Some(Ok(p)), _) => p,
            (None, Some(p)) => p,
            (None, None) => 8080,
        };
        if hostname.is_empty() {
            return Err(ctx.error_at(&at("hostname"), format!("{label}: hostname is empty")));
        }
        let authtype = match c.authtype.as_deref() {
            None | Some("session") => AuthType::Session,
            Some("basic-auth") => AuthType::Basic,
            Some(other) => {
                warnings.push(Warning(format!(
                    "{}: {label}: authtype {other:?} is not \"session\" or \"basic-auth\"; using session",
                    ctx.file
                )));
                AuthType::Session
            }
        };
        if !c.disabled {
            if let Err(e) = resolve_secret(&c.password) {
                return Err(ctx.error_at(&at("password"), format!("{label}: password: {e}")));
            }
        }
        let verify_ssl = c.verify_ssl.unwrap_or(true);
        if !verify_ssl && !c.disabled {
            warnings.push(Warning(format!(
                "{}: {label}: verify-ssl = false: the cluster's certificate is NOT checked; set ca_cert to its CA file and remove verify-ssl",
                ctx.file
            )));
        }
        let toml = tables
            .get(i)
            .map(|t| toml::to_string(&super::plugin_view(t)).unwrap_or_default())
            .unwrap_or_default();
        out.push(Cluster {
            hostname: hostname.to_string(),
            port,
            username: c.username,
            password: c.password,
            authtype,
            verify_ssl,
            ca_cert: c.ca_cert,
            disabled: c.disabled,
            prometheus_port: c.prometheus_port,
            preserve_case: c.preserve_case,
            quotas: c.quotas,
            partitioned_performance: c.partitioned_performance,
            toml,
        });
    }
    if !out.iter().any(|c| !c.disabled) {
        return Err(ctx.error(
            "nothing to collect: no enabled [[cluster]] (add one with hostname, username and password, or remove disabled = true)",
        ));
    }
    Ok(out)
}

/// Splits `host:port` (and `[v6]:port`); the port part is `Err` when invalid.
fn split_host_port(s: &str) -> (&str, Option<Result<u16, ()>>) {
    let s = s.trim();
    if let Some(rest) = s.strip_prefix('[') {
        if let Some((host, tail)) = rest.split_once(']') {
            return match tail.strip_prefix(':') {
                Some(p) => (host, Some(p.parse().map_err(|_| ()))),
                None => (host, None),
            };
        }
    }
    match s.rsplit_once(':') {
        Some((host, p)) if !host.contains(':') => {
            (host, Some(p.parse().ok().filter(|p| *p > 0).ok_or(())))
        }
        _ => (s, None),
    }
}

#[cfg(test)]
mod tests;
