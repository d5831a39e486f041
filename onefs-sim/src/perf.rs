//! Partitioned performance: `GET /platform/10/performance/datasets` and
//! `GET /platform/10/statistics/summary/workload?dataset=<name>`, from a
//! deterministic model with live changes (a workload added to a dataset).
//!
//! Shapes from OneFS 9.11's self-description as committed in
//! tenortim/goppstats `papi/9.11/platform/10/...` (the project's reference):
//! datasets carry `id`, `name`, `metrics`, `filters`, `statkey`
//! (`cluster.performance.dataset.<id>`); workload rows carry the dataset's
//! dimensions, `workload_type` (null for top-N, `Pinned`, or an overflow
//! bucket), `node`, `time` (30 s buckets, as OneFS refreshes them) and eleven
//! numbers. Every number is a pure function of (cluster, dataset, workload,
//! node, time bucket): [`PerfSet::expected`].
//!
//! NFS exports: `GET /platform/1/protocols/nfs/exports/<EID>` (what goppstats
//! asks to turn a row's `export_id` into `export_path`) answers
//! `{"exports": [{"id": EID, "paths": [export_path(EID)], ...}]}` for every
//! positive id (the workloads of a dataset with the `export_id` dimension use
//! ids 1, 2, ...), or 404 for an id removed by [`PerfSet::remove_export`].
//! Shape from OneFS 9.11's self-description (`protocols/nfs/exports/<EID>`
//! `GET_output_schema.json`, as committed in tenortim/goppstats); only a few
//! of its many settings are served.

use std::sync::Mutex;

use serde_json::{json, Value};

use crate::http::Request;
use crate::response::Response;

/// OneFS refreshes partitioned-performance numbers every 30 s.
pub const PERF_INTERVAL: i64 = 30;

/// The eleven numbers of a workload row.
pub const PERF_FIELDS: [&str; 11] = [
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

/// One cluster's datasets, changed live by tests.
#[derive(Debug)]
pub struct PerfSet {
    cluster: String,
    devices: Vec<u32>,
    datasets: Mutex<Vec<Dataset>>,
    /// Export ids that answer 404.
    removed_exports: Mutex<Vec<u32>>,
}

/// The path of NFS export `id` (its `paths[0]`).
pub fn export_path(id: u32) -> String {
    format!("/ifs/exports/e{id}")
}

#[derive(Debug, Clone)]
struct Dataset {
    id: u32,
    name: String,
    metrics: Vec<String>,
    /// Top-N workloads tracked (rows with `workload_type` null).
    workloads: u32,
}

impl PerfSet {
    pub(crate) fn new(cluster: &str, devices: Vec<u32>) -> PerfSet {
        PerfSet {
            cluster: cluster.to_string(),
            devices,
            datasets: Mutex::new(vec![Dataset {
                id: 1,
                name: "users".into(),
                metrics: vec!["username".into(), "protocol".into()],
                workloads: 2,
            }]),
            removed_exports: Mutex::new(Vec::new()),
        }
    }

    /// Export `id` answers 404 from now on.
    pub fn remove_export(&self, id: u32) {
        self.removed_exports
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push(id);
    }

    /// The answer to `GET /platform/1/protocols/nfs/exports/<eid>`.
    pub(crate) fn export(&self, eid: &str) -> Response {
        let removed = self
            .removed_exports
            .lock()
            .unwrap_or_else(|e| e.into_inner());
        match eid.parse::<u32>() {
            Ok(id) if id > 0 && !removed.contains(&id) => Response::json(
                200,
                &json!({"exports": [{
                    "id": id,
                    "paths": [export_path(id)],
                    "zone": "System",
                    "description": "",
                    "read_only": false,
                    "clients": [],
                    "map_root": {"enabled": true, "user": {"id": "USER:nobody"}},
                }]}),
            ),
            _ => Response::errors(404, "AEC_NOT_FOUND", &format!("Export {eid} not found")),
        }
    }

    fn datasets(&self) -> std::sync::MutexGuard<'_, Vec<Dataset>> {
        self.datasets.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Adds a dataset named `name` with dimensions `metrics` and `workloads`
    /// tracked workloads; returns its id.
    pub fn add_dataset(&self, name: &str, metrics: &[&str], workloads: u32) -> u32 {
        let mut all = self.datasets();
        let id = all.iter().map(|d| d.id).max().unwrap_or(0) + 1;
        all.push(Dataset {
            id,
            name: name.into(),
            metrics: metrics.iter().map(|m| m.to_string()).collect(),
            workloads,
        });
        id
    }

    /// One more tracked workload in dataset `name` (it appears in the next
    /// answer).
    pub fn add_workload(&self, name: &str) {
        if let Some(d) = self.datasets().iter_mut().find(|d| d.name == name) {
            d.workloads += 1;
        }
    }

    /// The rows `summary/workload?dataset=<name>` answers at `now` (any second
    /// of its 30 s bucket), or `None` for an unknown dataset.
    pub fn expected(&self, name: &str, now: i64) -> Option<Vec<Value>> {
        let d = self.datasets().iter().find(|d| d.name == name)?.clone();
        let time = now - now.rem_euclid(PERF_INTERVAL);
        let mut rows = Vec::new();
        for &node in &self.devices {
            for w in 0..d.workloads {
                let mut row = numbers(&self.cluster, d.id, w, node, time);
                for m in &d.metrics {
                    row[m.as_str()] = dimension(m, w);
                }
                row["workload_type"] = Value::Null;
                rows.push(row);
            }
            let mut overflow = numbers(&self.cluster, d.id, u32::MAX, node, time);
            overflow["workload_type"] = "Additional".into();
            rows.push(overflow);
        }
        Some(rows)
    }

    pub(crate) fn answer(&self, resource: &str, req: &Request, now: i64) -> Response {
        if resource == "performance/datasets" {
            let list: Vec<Value> = self
                .datasets()
                .iter()
                .map(|d| {
                    json!({
                        "creation_time": 1_700_000_000,
                        "filter_count": 0,
                        "filters": [],
                        "id": d.id,
                        "metrics": d.metrics,
                        "name": d.name,
                        "statkey": format!("cluster.performance.dataset.{}", d.id),
                        "workload_count": d.workloads,
                    })
                })
                .collect();
            let total = list.len();
            return Response::json(
                200,
                &json!({"datasets": list, "resume": null, "total": total}),
            );
        }
        let name = req.query_value("dataset").unwrap_or("System");
        match self.expected(name, now) {
            Some(rows) => Response::json(200, &json!({ "workload": rows })),
            None => Response::errors(404, "AEC_NOT_FOUND", &format!("Dataset {name} not found")),
        }
    }
}

/// The value of dimension `metric` for workload `w`.
fn dimension(metric: &str, w: u32) -> Value {
    match metric {
        "username" => format!("user{w}").into(),
        "protocol" => ["nfs3", "smb2", "nfs4"][(w % 3) as usize].into(),
        "path" => format!("/ifs/data/w{w}").into(),
        "zone_name" => "System".into(),
        "export_id" => Value::from(w + 1),
        other => format!("{other}{w}").into(),
    }
}

/// The eleven numbers (and `node`, `time`) of one row.
fn numbers(cluster: &str, dataset: u32, w: u32, node: u32, time: i64) -> Value {
    let mut row = json!({"node": node, "time": time});
    for (i, field) in PERF_FIELDS.iter().enumerate() {
        let h = hash(cluster, &[dataset, w, node, i as u32, time as u32]);
        row[*field] = Value::from((h % 1_000_000) as f64);
    }
    row
}

fn hash(cluster: &str, parts: &[u32]) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in cluster
        .bytes()
        .chain(parts.iter().flat_map(|p| p.to_le_bytes()))
    {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    h = (h ^ (h >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    h = (h ^ (h >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    h ^ (h >> 31)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rows_are_the_same_within_a_bucket_and_grow_with_a_workload() {
        let set = PerfSet::new("C1", vec![1, 2]);
        let a = set.expected("users", 60).unwrap();
        assert_eq!(a, set.expected("users", 89).unwrap());
        assert_eq!(a.len(), 2 * 3);
        assert_eq!(a[0]["username"], "user0");
        assert_eq!(a[0]["time"], 60);
        set.add_workload("users");
        assert_eq!(set.expected("users", 60).unwrap().len(), 2 * 4);
        assert!(set.expected("nope", 60).is_none());
    }

    #[test]
    fn exports_answer_their_path_until_removed() {
        let set = PerfSet::new("C1", vec![1]);
        let crate::response::Body::Bytes(bytes) = set.export("3").body else {
            panic!("not a JSON body")
        };
        let body: Value = serde_json::from_slice(&bytes).unwrap();
        assert_eq!(body["exports"][0]["paths"][0], export_path(3));
        assert_eq!(body["exports"][0]["id"], 3);
        set.remove_export(3);
        assert_eq!(set.export("3").status, 404);
        assert_eq!(set.export("x").status, 404);
    }
}
