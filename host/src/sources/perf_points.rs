//! Partitioned-performance answers to points (pure), with goppstats' names
//! (tenortim/goppstats `backend.go` `fieldsForPPStat`/`tagsForPPStat`,
//! `influxdb.go`; recorded in docs/sources.md): measurement = the dataset's
//! `statkey`, time = the row's `time`, tags `cluster`, `node` and the row's
//! identity (`export_id`, `groupname`, `local_address`, `path`, `protocol`,
//! `remote_address`, `share_name`, `username`, `zone_name`,
//! `workload_type`, `system_name`, `job_type`, `domain_id`,
//! `workload_id`), fields the eleven numbers.

use idic_plugin_api::{Field, Point, Row, Tag, Value};
use serde::Deserialize;
use serde_json::Value as Json;

/// The eleven numbers of a workload row, goppstats' field names.
pub const FIELDS: [&str; 11] = [
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

/// One dataset of `/platform/10/performance/datasets`.
#[derive(Debug, Clone, Deserialize)]
pub struct Dataset {
    /// Its id.
    pub id: u64,
    /// Its name (`dataset=` of the workload request).
    pub name: String,
    /// Its statistics key, the measurement of its points.
    #[serde(default)]
    pub statkey: Option<String>,
}

impl Dataset {
    /// The measurement: `statkey`, or the documented
    /// `cluster.performance.dataset.<id>` when the answer lacks it.
    pub fn measurement(&self) -> String {
        self.statkey
            .clone()
            .unwrap_or_else(|| format!("cluster.performance.dataset.{}", self.id))
    }
}

#[derive(Deserialize)]
struct Datasets {
    #[serde(default)]
    datasets: Vec<Dataset>,
}

#[derive(Deserialize)]
struct Workloads {
    #[serde(default)]
    workload: Vec<serde_json::Map<String, Json>>,
}

/// Parses the datasets answer.
pub fn datasets(body: &[u8]) -> Result<Vec<Dataset>, String> {
    serde_json::from_slice::<Datasets>(body)
        .map(|d| d.datasets)
        .map_err(|e| e.to_string())
}

/// The points of one workload answer of `dataset` for `cluster`: one point
/// per row (rows of one time share nothing else).
pub fn workload_points(
    cluster: &str,
    dataset: &Dataset,
    body: &[u8],
) -> Result<Vec<Point>, String> {
    let rows = serde_json::from_slice::<Workloads>(body).map_err(|e| e.to_string())?;
    let measurement = dataset.measurement();
    let mut out = Vec::with_capacity(rows.workload.len());
    for row in rows.workload {
        let Some(time) = row.get("time").and_then(Json::as_i64) else {
            continue;
        };
        let text = |k: &str| -> Option<String> {
            match row.get(k)? {
                Json::String(s) => Some(s.clone()),
                Json::Number(n) => Some(n.to_string()),
                _ => None,
            }
        };
        let mut tags = vec![Tag::new("cluster", cluster)];
        let node = text("node").unwrap_or_else(|| "0".into());
        tags.push(Tag::new("node", &node));
        let first = |names: &[(&str, &str)]| {
            names
                .iter()
                .find_map(|(k, prefix)| text(k).map(|v| format!("{prefix}{v}")))
        };
        for (tag, value) in [
            ("export_id", text("export_id")),
            (
                "groupname",
                first(&[
                    ("groupname", "GID:"),
                    ("group_id", "GID:"),
                    ("group_sid", "SID:"),
                ]),
            ),
            (
                "local_address",
                first(&[("local_name", ""), ("local_address", "")]),
            ),
            ("path", text("path")),
            ("protocol", text("protocol")),
            (
                "remote_address",
                first(&[("remote_name", ""), ("remote_address", "")]),
            ),
            ("share_name", text("share_name")),
            (
                "username",
                first(&[("username", ""), ("user_id", "UID:"), ("user_sid", "SID:")]),
            ),
            (
                "zone_name",
                first(&[("zone_name", ""), ("zone_id", "zone:")]),
            ),
            ("workload_type", text("workload_type")),
            ("system_name", text("system_name")),
            ("job_type", text("job_type")),
            ("domain_id", text("domain_id")),
            ("workload_id", text("workload_id")),
        ] {
            if let Some(v) = value {
                tags.push(Tag::new(tag, &v));
            }
        }
        let fields: Vec<Field> = FIELDS
            .iter()
            .filter_map(|f| Some(Field::new(f, Value::Float(row.get(*f)?.as_f64()?))))
            .collect();
        if fields.is_empty() {
            continue;
        }
        out.push(Point {
            measurement: measurement.as_str().into(),
            time,
            rows: vec![Row {
                tags: tags.into(),
                fields: fields.into(),
            }]
            .into(),
        });
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_row_gets_goppstats_tags_and_fields() {
        let ds = Dataset {
            id: 3,
            name: "d".into(),
            statkey: None,
        };
        let body = br#"{"workload": [{"node": 2, "time": 90, "username": "u1", "protocol": "nfs3",
            "group_id": 7, "workload_type": null, "bytes_in": 1.5, "bytes_out": 2, "reads": 3,
            "writes": 4, "ops": 5, "l2": 6, "l3": 7, "cpu": 8, "latency_read": 9,
            "latency_write": 10, "latency_other": 11}]}"#;
        let points = workload_points("c1", &ds, body).unwrap();
        let p = &points[0];
        assert_eq!(
            (p.measurement.as_str(), p.time),
            ("cluster.performance.dataset.3", 90)
        );
        let tags: Vec<(&str, &str)> = p.rows[0]
            .tags
            .iter()
            .map(|t| (t.key.as_str(), t.value.as_str()))
            .collect();
        assert_eq!(
            tags,
            [
                ("cluster", "c1"),
                ("node", "2"),
                ("groupname", "GID:7"),
                ("protocol", "nfs3"),
                ("username", "u1")
            ]
        );
        assert_eq!(p.rows[0].fields.len(), 11);
        assert_eq!(p.rows[0].field("bytes_in"), Some(&Value::Float(1.5)));
    }
}
