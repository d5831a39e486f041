//! The allowed range of every number in `idic.toml`, checked at load (and so by
//! `idic check-config`) before a value can reach a timer, a buffer or a socket.
//!
//! A value out of range is an error that names the key, its table, the range and
//! what to do; nothing is clamped silently. The only values still corrected with a
//! warning are gostats' own: `min_update_interval_override` below 1 (in
//! `validate/mod.rs`) and an `update_interval` that is no number at all. Types (a
//! string where a number belongs) are left to serde's messages; parsing the
//! `update_interval` strings is `validate/mod.rs`'s, their ranges are here.

use super::{Ctx, Step};
use crate::config::{ConfigError, Global, Warning};

/// The longest interval anywhere, in seconds: one day.
pub const MAX_INTERVAL_SECS: u64 = 86_400;
/// The largest `"*N"` multiplier of a stat's own interval.
pub const MAX_MULTIPLIER: f64 = 1_000.0;
/// The range and the remedy of a `"*N"` update interval.
pub const MULTIPLIER_RANGE: &str = "a multiplier \"*N\" must be above 0 and at most 1000, \
     use \"*\" for each statistic's own interval or a smaller N";
/// The range and the remedy of an update interval in seconds.
pub const SECONDS_RANGE: &str = "seconds must be 0 to 86400 (one day), \
     use at most \"86400\" or a multiplier such as \"*2\"";

/// A numeric key and the values it may take.
struct Bound {
    key: &'static str,
    /// `None`: no lower bound here (0 or less means forever, or the value is
    /// corrected with a warning elsewhere).
    min: Option<i64>,
    max: i64,
    unit: &'static str,
    /// What the operator should do instead.
    fix: &'static str,
}

const GLOBAL: &[Bound] = &[
    Bound {
        key: "stats_processor_max_retries",
        min: None,
        max: 1_000_000,
        unit: "",
        fix: "use 0 or less to retry forever",
    },
    Bound {
        key: "stats_processor_retry_interval",
        min: Some(1),
        max: 3_600,
        unit: " seconds",
        fix: "remove the key for the default 5",
    },
    Bound {
        key: "max_retries",
        min: None,
        max: 1_000_000,
        unit: "",
        fix: "use 0 or less to retry forever",
    },
    Bound {
        key: "min_update_interval_override",
        min: None,
        max: MAX_INTERVAL_SECS as i64,
        unit: " seconds (one day)",
        fix: "remove the key for the default 30",
    },
    Bound {
        key: "connect_timeout",
        min: Some(1),
        max: 300,
        unit: " seconds",
        fix: "remove the key for the default 10",
    },
    Bound {
        key: "request_timeout",
        min: Some(1),
        max: 3_600,
        unit: " seconds",
        fix: "remove the key for the default 60",
    },
    Bound {
        key: "queue_size",
        min: Some(1),
        max: 1_000_000,
        unit: " batches",
        fix: "remove the key for the default 1000",
    },
    Bound {
        key: "max_backoff",
        min: Some(1),
        max: 3_600,
        unit: " seconds",
        fix: "remove the key for the default 60",
    },
    Bound {
        key: "sink_workers",
        min: Some(1),
        max: 64,
        unit: "",
        fix: "remove the key for the default 4",
    },
    Bound {
        key: "backfill_max",
        min: Some(0),
        max: 1_209_600,
        unit: " seconds (14 days)",
        fix: "use 0 to turn backfill off, or remove the key for the default 3600",
    },
];

const CLUSTER: &[Bound] = &[
    Bound {
        key: "port",
        min: Some(1),
        max: 65_535,
        unit: "",
        fix: "remove the key for the PAPI port 8080",
    },
    Bound {
        key: "prometheus_port",
        min: Some(1),
        max: 65_535,
        unit: "",
        fix: "choose a free TCP port such as 9090",
    },
];

/// Checks every integer of `[global]` and `[[cluster]]` against its range. Runs on
/// the plain TOML table, before typed deserialization, so that a negative value
/// or one too big for its Rust type gets this message too.
pub fn check_numbers(ctx: &Ctx<'_>, table: &toml::Table) -> Result<(), ConfigError> {
    if let Some(global) = table.get("global").and_then(toml::Value::as_table) {
        check_table(ctx, global, GLOBAL, "[global]", &[Step::Key("global")])?;
    }
    if let Some(clusters) = table.get("cluster").and_then(toml::Value::as_array) {
        for (i, cluster) in clusters.iter().enumerate() {
            let Some(cluster) = cluster.as_table() else {
                continue;
            };
            let host = cluster
                .get("hostname")
                .and_then(toml::Value::as_str)
                .unwrap_or("no hostname");
            let label = format!("[[cluster]] #{} ({host})", i + 1);
            let prefix = [Step::Key("cluster"), Step::Index(i)];
            check_table(ctx, cluster, CLUSTER, &label, &prefix)?;
        }
    }
    Ok(())
}

/// A warning when the first write-retry wait is above the cap of every back-off.
pub fn backoff_warning(ctx: &Ctx<'_>, global: &Global) -> Option<Warning> {
    let first = global.stats_processor_retry_interval;
    let cap = global.max_backoff;
    (u64::try_from(first).is_ok_and(|first| first > cap)).then(|| {
        let at = [
            Step::Key("global"),
            Step::Key("stats_processor_retry_interval"),
        ];
        let message = format!(
            "[global]: stats_processor_retry_interval = {first} is above max_backoff = {cap}, \
             every write retry waits {cap} s, lower it or raise max_backoff"
        );
        Warning(ctx.error_at(&at, message).to_string())
    })
}

fn check_table(
    ctx: &Ctx<'_>,
    table: &toml::Table,
    bounds: &[Bound],
    label: &str,
    prefix: &[Step<'_>],
) -> Result<(), ConfigError> {
    for b in bounds {
        let Some(n) = table.get(b.key).and_then(toml::Value::as_integer) else {
            continue;
        };
        if b.min.is_none_or(|min| n >= min) && n <= b.max {
            continue;
        }
        let (key, max, unit, fix) = (b.key, b.max, b.unit, b.fix);
        let range = match b.min {
            Some(min) => format!("it must be {min} to {max}{unit}"),
            None => format!("it may be at most {max}{unit}"),
        };
        let mut path = prefix.to_vec();
        path.push(Step::Key(key));
        return Err(ctx.error_at(
            &path,
            format!("{label}: {key} = {n} is out of range, {range}, {fix}"),
        ));
    }
    Ok(())
}
