//! Partitioned-performance points (measurement `cluster.performance.dataset.<id>`,
//! the host's partitioned-performance source) named as goppstats names them
//! (tenortim/goppstats `prometheus.go`, recorded in docs/sources.md): the base
//! name is `isilon_ppstat_` followed by the dataset's dimensions, sorted and
//! joined by `_` (read from the tags of the batch's top-N and pinned rows:
//! the dimensions a row carries); a top-N or pinned row gives
//! `<base>_<field>` with labels `cluster`, `node`, each dimension and
//! `pinned` ("true"/"false"); an overflow row (`workload_type` one of
//! `Additional`, `Excluded`, `Overaccounted`, `System`, `Unknown`) gives
//! `<base>_<Bucket>_<field>` with labels `cluster` and `node` only. Samples
//! carry the row's time and expire 30 s after they arrived (goppstats').
//! HELP texts are goppstats' (`makePromMetrics`): `pp dataset <id>, metric
//! <field>` and `pp dataset <id>, overflow bucket <Bucket>, metric <field>`.

use std::collections::BTreeSet;
use std::time::Duration;

use idic_plugin_api::{Point, Value};

use crate::encode;

/// The measurement prefix of partitioned-performance points.
pub const PREFIX: &str = "cluster.performance.dataset.";

/// How long a sample stays exposed without a newer write (goppstats: 30 s).
pub const EXPIRY: Duration = Duration::from_secs(30);

/// The dimensions a dataset may have (OneFS' performance metrics).
const DIMENSIONS: [&str; 11] = [
    "export_id",
    "groupname",
    "job_type",
    "local_address",
    "path",
    "protocol",
    "remote_address",
    "share_name",
    "system_name",
    "username",
    "zone_name",
];

/// The overflow buckets.
const BUCKETS: [&str; 5] = [
    "Additional",
    "Excluded",
    "Overaccounted",
    "System",
    "Unknown",
];

/// Whether `measurement` is a partitioned-performance dataset.
pub fn is_ppstat(measurement: &str) -> bool {
    measurement.starts_with(PREFIX)
}

/// The eleven fields of a workload row (the host's `perf_points::FIELDS`).
const FIELDS: [&str; 11] = [
    "bytes_in",
    "bytes_out",
    "reads",
    "writes",
    "ops",
    "l2",
    "l3",
    "cpu",
    "latency_read",
    "latency_write",
    "latency_other",
];

/// goppstats' HELP text of family `name` of dataset measurement `measurement`,
/// or `None` when `measurement` is not a dataset or `name` ends in no field.
pub fn help(measurement: &str, name: &str) -> Option<String> {
    let id = measurement.strip_prefix(PREFIX)?;
    let (rest, field) = FIELDS.iter().find_map(|f| {
        let rest = name.strip_suffix(f)?.strip_suffix('_')?;
        Some((rest, *f))
    })?;
    Some(
        match BUCKETS
            .iter()
            .find(|b| rest.strip_suffix(**b).is_some_and(|r| r.ends_with('_')))
        {
            Some(bucket) => format!("pp dataset {id}, overflow bucket {bucket}, metric {field}"),
            None => format!("pp dataset {id}, metric {field}"),
        },
    )
}

/// The base metric name of the dataset whose points of `batch` have
/// measurement `measurement`.
pub fn base_name(batch: &[Point], measurement: &str) -> String {
    let mut dims: BTreeSet<&str> = BTreeSet::new();
    for p in batch.iter().filter(|p| p.measurement == measurement) {
        for row in p.rows.iter() {
            if row.tag("workload_type").is_some_and(|w| w != "Pinned") {
                continue;
            }
            dims.extend(
                row.tags
                    .iter()
                    .map(|t| t.key.as_str())
                    .filter(|k| DIMENSIONS.contains(k)),
            );
        }
    }
    let mut name = String::from("isilon_ppstat");
    for d in dims {
        name.push('_');
        name.push_str(d);
    }
    name
}

/// Calls `emit(metric name, rendered labels, value)` for every sample of
/// `point` (a dataset's rows) under `base`.
pub fn for_each_sample(
    point: &Point,
    base: &str,
    instance: Option<(&str, &str)>,
    mut emit: impl FnMut(&str, &str, f64),
) {
    for row in point.rows.iter() {
        let bucket = row.tag("workload_type").filter(|w| *w != "Pinned");
        if bucket.is_some_and(|b| !BUCKETS.contains(&b)) {
            continue;
        }
        let mut pairs: Vec<(String, String)> = Vec::new();
        for key in ["cluster", "node"] {
            pairs.push((
                key.to_string(),
                row.tag(key).unwrap_or_default().to_string(),
            ));
        }
        if bucket.is_none() {
            for t in row
                .tags
                .iter()
                .filter(|t| DIMENSIONS.contains(&t.key.as_str()))
            {
                pairs.push((t.key.to_string(), t.value.to_string()));
            }
            let pinned = row.tag("workload_type") == Some("Pinned");
            pairs.push(("pinned".into(), pinned.to_string()));
        }
        if let Some((name, cluster)) = instance {
            pairs.push((name.to_string(), cluster.to_string()));
        }
        pairs.sort();
        pairs.dedup_by(|a, b| a.0 == b.0);
        let mut labels = String::new();
        for (i, (k, v)) in pairs.iter().filter(|(_, v)| !v.is_empty()).enumerate() {
            labels.push(if i == 0 { '{' } else { ',' });
            labels.push_str(k);
            labels.push_str("=\"");
            encode::push_label_value(&mut labels, v);
            labels.push('"');
        }
        if !labels.is_empty() {
            labels.push('}');
        }
        for field in row.fields.iter() {
            let value = match &field.value {
                Value::Float(f) => *f,
                Value::Int(i) => *i as f64,
                Value::UInt(u) => *u as f64,
                _ => continue,
            };
            let name = match bucket {
                Some(b) => format!("{base}_{b}_{}", field.key),
                None => format!("{base}_{}", field.key),
            };
            emit(&name, &labels, value);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use idic_plugin_api::{Field, Row, Tag};

    fn row(tags: &[(&str, &str)], ops: f64) -> Row {
        Row {
            tags: tags
                .iter()
                .map(|(k, v)| Tag::new(k, v))
                .collect::<Vec<_>>()
                .into(),
            fields: vec![Field::new("ops", Value::Float(ops))].into(),
        }
    }

    #[test]
    fn families_get_goppstats_help_texts() {
        let m = "cluster.performance.dataset.4";
        assert_eq!(
            help(m, "isilon_ppstat_username_latency_read").as_deref(),
            Some("pp dataset 4, metric latency_read")
        );
        assert_eq!(
            help(m, "isilon_ppstat_username_Overaccounted_bytes_in").as_deref(),
            Some("pp dataset 4, overflow bucket Overaccounted, metric bytes_in")
        );
        assert_eq!(help("cluster.cpu.idle.avg", "isilon_stat_ops"), None);
        assert_eq!(help(m, "isilon_ppstat_username_other"), None);
    }

    #[test]
    fn rows_get_goppstats_names_and_labels() {
        let m = "cluster.performance.dataset.1";
        let batch = vec![Point {
            measurement: m.into(),
            time: 60,
            rows: vec![
                row(
                    &[
                        ("cluster", "c1"),
                        ("node", "1"),
                        ("username", "u0"),
                        ("protocol", "nfs3"),
                    ],
                    5.0,
                ),
                row(
                    &[
                        ("cluster", "c1"),
                        ("node", "1"),
                        ("username", "u9"),
                        ("protocol", "smb2"),
                        ("workload_type", "Pinned"),
                    ],
                    6.0,
                ),
                row(
                    &[
                        ("cluster", "c1"),
                        ("node", "1"),
                        ("workload_type", "Additional"),
                    ],
                    7.0,
                ),
            ]
            .into(),
        }];
        let base = base_name(&batch, m);
        assert_eq!(base, "isilon_ppstat_protocol_username");
        let mut got = Vec::new();
        for_each_sample(&batch[0], &base, None, |n, l, v| {
            got.push(format!("{n}{l} {v}"))
        });
        assert_eq!(
            got,
            [
                "isilon_ppstat_protocol_username_ops{cluster=\"c1\",node=\"1\",pinned=\"false\",protocol=\"nfs3\",username=\"u0\"} 5",
                "isilon_ppstat_protocol_username_ops{cluster=\"c1\",node=\"1\",pinned=\"true\",protocol=\"smb2\",username=\"u9\"} 6",
                "isilon_ppstat_protocol_username_Additional_ops{cluster=\"c1\",node=\"1\"} 7",
            ]
        );
    }
}
