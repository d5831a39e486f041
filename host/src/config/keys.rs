//! The keys each section knows, and "did you mean" warnings for the others.
//!
//! gostats ignores unknown keys silently, so a typo (`stats_procesor`) quietly
//! means a default. idic warns with the nearest known key instead.

use toml::de::{DeTable, DeValue};
use toml::Spanned;

use super::locate::line_col;

const GLOBAL: &[&str] = &[
    "version",
    "stats_processor",
    "stats_processor_max_retries",
    "stats_processor_retry_interval",
    "max_retries",
    "min_update_interval_override",
    "active_stat_groups",
    "preserve_case",
    "include_degraded",
    "fetch_by_statgroup",
    "plugin_dir",
    "connect_timeout",
    "request_timeout",
    "queue_size",
    "max_backoff",
    "sink_workers",
    "shard",
    "backfill_max",
];
const LOGGING: &[&str] = &[
    "logfile",
    "logfile_format",
    "log_file_format",
    "log_level",
    "log_to_stdout",
];
const SUMMARY: &[&str] = &["protocol", "client", "drive"];
const CLUSTER: &[&str] = &[
    "hostname",
    "port",
    "username",
    "password",
    "authtype",
    "verify-ssl",
    "ca_cert",
    "disabled",
    "prometheus_port",
    "preserve_case",
    "quotas",
    "partitioned_performance",
];
const STATGROUP: &[&str] = &["name", "update_interval", "stats"];

/// Warnings for unknown keys in the sections idic owns. Other top-level tables are
/// plugin sections and belong to their plugins.
pub fn unknown_keys(file: &str, text: &str, doc: &Spanned<DeTable<'_>>) -> Vec<String> {
    let mut out = Vec::new();
    for (key, value) in doc.get_ref() {
        let name = key.get_ref().as_ref();
        let known: &[&str] = match name {
            "global" => GLOBAL,
            "logging" => LOGGING,
            "summary_stats" => SUMMARY,
            "cluster" => CLUSTER,
            "statgroup" => STATGROUP,
            _ => {
                if !matches!(value.get_ref(), DeValue::Table(_)) {
                    let (l, c) = line_col(text, key.span().start);
                    out.push(format!(
                        "{file}:{l}:{c}: unknown top-level key {name:?} is ignored (settings belong in a section such as [global])"
                    ));
                }
                continue;
            }
        };
        let mut tables = Vec::new();
        match value.get_ref() {
            DeValue::Table(t) => tables.push(t),
            DeValue::Array(a) => tables.extend(a.iter().filter_map(|v| match v.get_ref() {
                DeValue::Table(t) => Some(t),
                _ => None,
            })),
            _ => {}
        }
        for table in tables {
            for k in table.keys() {
                let key_name = k.get_ref().as_ref();
                if known.contains(&key_name) {
                    continue;
                }
                let (l, c) = line_col(text, k.span().start);
                let hint = match suggest(key_name, known) {
                    Some(s) => format!("; did you mean {s:?}?"),
                    None => String::new(),
                };
                out.push(format!(
                    "{file}:{l}:{c}: unknown key {key_name:?} in [{name}] is ignored{hint}"
                ));
            }
        }
    }
    out
}

/// The known key closest to `key`, if it is close enough to be a typo.
pub fn suggest<'a>(key: &str, known: &[&'a str]) -> Option<&'a str> {
    let limit = (key.chars().count() / 3).clamp(1, 3);
    known
        .iter()
        .map(|k| (edit_distance(key, k), *k))
        .filter(|(d, _)| *d <= limit)
        .min_by_key(|(d, _)| *d)
        .map(|(_, k)| k)
}

fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut cur = vec![i + 1; b.len() + 1];
        for (j, cb) in b.iter().enumerate() {
            let cost = usize::from(ca != *cb);
            cur[j + 1] = (prev[j] + cost).min(prev[j + 1] + 1).min(cur[j] + 1);
        }
        prev = cur;
    }
    prev[b.len()]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn suggests_the_nearest_known_key() {
        assert_eq!(suggest("stats_procesor", GLOBAL), Some("stats_processor"));
        assert_eq!(suggest("verify_ssl", CLUSTER), Some("verify-ssl"));
        assert_eq!(suggest("completely_different", CLUSTER), None);
        assert_eq!(suggest("max_backof", GLOBAL), Some("max_backoff"));
        assert_eq!(suggest("sink_worker", GLOBAL), Some("sink_workers"));
    }

    #[test]
    fn warns_about_unknown_keys_with_position() {
        let text =
            "[global]\nversion = \"0.39\"\nstats_procesor = \"x\"\n[influxdb]\nanything = 1\n";
        let doc = DeTable::parse(text).unwrap();
        let warnings = unknown_keys("f.toml", text, &doc);
        assert_eq!(warnings.len(), 1, "{warnings:?}");
        assert!(warnings[0].starts_with("f.toml:3:1: unknown key \"stats_procesor\""));
        assert!(warnings[0].contains("did you mean \"stats_processor\""));
    }
}
