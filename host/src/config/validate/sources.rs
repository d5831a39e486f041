//! The sources beside statistics: `[quotas]` and `[partitioned_performance]`
//! (each `enabled`, `interval` and its own filters), checked here. They are
//! idic's own tables, so an unknown key is an error (a typo would silently mean
//! a default), as in `[delivery]`. A file without them (a gostats config)
//! collects statistics only.

use super::{Ctx, Step};
use crate::config::{ConfigError, PartitionedPerformance, Quotas, QUOTA_TYPES};

const QUOTA_KEYS: &[&str] = &[
    "enabled",
    "interval",
    "quota_types",
    "path_prefix",
    "page_limit",
    "max_quotas",
    "resolve_names",
];
const PP_KEYS: &[&str] = &["enabled", "interval", "lookup_export_ids"];

/// `[quotas]`, or its defaults (disabled) when absent.
pub fn quotas(ctx: &Ctx<'_>, table: &toml::Table) -> Result<Quotas, ConfigError> {
    let mut q = Quotas::default();
    let Some(t) = section(ctx, table, "quotas", QUOTA_KEYS)? else {
        return Ok(q);
    };
    q.enabled = boolean(ctx, t, "quotas", "enabled")?.unwrap_or(q.enabled);
    q.interval = number(ctx, t, "quotas", "interval", 1, 86_400)?.unwrap_or(q.interval);
    q.page_limit = number(ctx, t, "quotas", "page_limit", 1, 100_000)?.unwrap_or(q.page_limit);
    q.max_quotas = number(ctx, t, "quotas", "max_quotas", 1, 10_000_000)?.unwrap_or(q.max_quotas);
    q.resolve_names = boolean(ctx, t, "quotas", "resolve_names")?.unwrap_or(q.resolve_names);
    if let Some(v) = t.get("path_prefix") {
        q.path_prefix = v
            .as_str()
            .ok_or_else(|| {
                at(
                    ctx,
                    "quotas",
                    "path_prefix",
                    "[quotas] path_prefix must be a string such as \"/ifs/data\"",
                )
            })?
            .to_string();
    }
    if let Some(v) = t.get("quota_types") {
        let wrong = || {
            at(
                ctx,
                "quotas",
                "quota_types",
                format!(
                    "[quotas] quota_types must be a non-empty list of distinct quota types from {}",
                    QUOTA_TYPES.join(", ")
                ),
            )
        };
        let list = v.as_array().ok_or_else(wrong)?;
        let mut types: Vec<String> = Vec::new();
        for item in list {
            let s = item.as_str().ok_or_else(wrong)?;
            if !QUOTA_TYPES.contains(&s) || types.iter().any(|t| t == s) {
                return Err(wrong());
            }
            types.push(s.to_string());
        }
        if types.is_empty() {
            return Err(wrong());
        }
        q.quota_types = types;
    }
    Ok(q)
}

/// `[partitioned_performance]`, or its defaults (disabled) when absent.
pub fn partitioned_performance(
    ctx: &Ctx<'_>,
    table: &toml::Table,
) -> Result<PartitionedPerformance, ConfigError> {
    let name = "partitioned_performance";
    let mut p = PartitionedPerformance::default();
    let Some(t) = section(ctx, table, name, PP_KEYS)? else {
        return Ok(p);
    };
    p.enabled = boolean(ctx, t, name, "enabled")?.unwrap_or(p.enabled);
    p.interval = number(ctx, t, name, "interval", 1, 86_400)?.unwrap_or(p.interval);
    p.lookup_export_ids =
        boolean(ctx, t, name, "lookup_export_ids")?.unwrap_or(p.lookup_export_ids);
    Ok(p)
}

fn section<'t>(
    ctx: &Ctx<'_>,
    table: &'t toml::Table,
    name: &'static str,
    keys: &[&str],
) -> Result<Option<&'t toml::Table>, ConfigError> {
    let Some(value) = table.get(name) else {
        return Ok(None);
    };
    let t = value.as_table().ok_or_else(|| {
        ctx.error_at(
            &[Step::Key(name)],
            format!("{name} must be a table [{name}] ({})", keys.join(", ")),
        )
    })?;
    if let Some(key) = t.keys().find(|k| !keys.contains(&k.as_str())) {
        return Err(ctx.error_at(
            &[Step::Key(name), Step::Key(key)],
            format!(
                "[{name}] has no key {key:?}: its keys are {}",
                keys.join(", ")
            ),
        ));
    }
    Ok(Some(t))
}

fn at(ctx: &Ctx<'_>, table: &'static str, key: &'static str, m: impl Into<String>) -> ConfigError {
    ctx.error_at(&[Step::Key(table), Step::Key(key)], m)
}

fn boolean(
    ctx: &Ctx<'_>,
    t: &toml::Table,
    table: &'static str,
    key: &'static str,
) -> Result<Option<bool>, ConfigError> {
    t.get(key)
        .map(|v| {
            v.as_bool().ok_or_else(|| {
                at(
                    ctx,
                    table,
                    key,
                    format!("[{table}] {key} must be true or false"),
                )
            })
        })
        .transpose()
}

fn number<T: TryFrom<i64>>(
    ctx: &Ctx<'_>,
    t: &toml::Table,
    table: &'static str,
    key: &'static str,
    min: i64,
    max: i64,
) -> Result<Option<T>, ConfigError> {
    let Some(v) = t.get(key) else {
        return Ok(None);
    };
    match v.as_integer() {
        Some(n) if (min..=max).contains(&n) => Ok(T::try_from(n).ok()),
        _ => Err(at(
            ctx,
            table,
            key,
            format!("[{table}] {key} must be a whole number from {min} to {max}"),
        )),
    }
}
