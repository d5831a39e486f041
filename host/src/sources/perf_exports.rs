//! NFS export ids to paths for partitioned-performance points (pure), as
//! goppstats' `lookup_export_ids` does (tenortim/goppstats `backend.go`
//! `tagsForPPStat`, `isilon_api.go` `GetExportPathByID`): a row's
//! `export_id` tag stays, and an `export_path` tag follows it with the first
//! path of `GET /platform/1/protocols/nfs/exports/<id>`
//! (`{"exports": [{"paths": ["/ifs/..."], ...}]}`, OneFS 9.11's
//! self-description).
//!
//! The cache is one cluster's (its source owns it): an id seen for the first
//! time is looked up, a known id never again (goppstats does the same). Where
//! goppstats tags a failed lookup `export_path = "unknown (lookup failed)"`
//! and never asks again, idic leaves the point with its `export_id` only
//! (a made-up path would become a series of its own) and asks again at the
//! next discovery (the source calls [`ExportPaths::forget_failures`]).

use std::collections::{BTreeSet, HashMap};

use idic_plugin_api::{Point, Tag};
use serde_json::Value;

/// One cluster's export id -> path cache.
#[derive(Debug, Default)]
pub struct ExportPaths {
    /// id -> its path, or `None` when its lookup failed in this discovery.
    known: HashMap<String, Option<String>>,
}

impl ExportPaths {
    /// The `export_id` values of `points` not looked up yet, each once, sorted.
    pub fn unknown(&self, points: &[Point]) -> Vec<String> {
        let mut out = BTreeSet::new();
        for row in points.iter().flat_map(|p| p.rows.iter()) {
            if let Some(id) = row.tag("export_id") {
                if !self.known.contains_key(id) {
                    out.insert(id.to_string());
                }
            }
        }
        out.into_iter().collect()
    }

    /// Records the path of `id`, or that its lookup failed (`None`).
    pub fn record(&mut self, id: &str, path: Option<String>) {
        self.known.insert(id.to_string(), path);
    }

    /// Forgets the failed lookups, so that they are tried again.
    pub fn forget_failures(&mut self) {
        self.known.retain(|_, path| path.is_some());
    }

    /// Adds `export_path` right after `export_id` in every row whose id has a
    /// known path.
    pub fn tag(&self, points: &mut [Point]) {
        for row in points.iter_mut().flat_map(|p| p.rows.iter_mut()) {
            let Some(at) = row.tags.iter().position(|t| t.key == "export_id") else {
                continue;
            };
            if let Some(Some(path)) = self.known.get(row.tags[at].value.as_str()) {
                row.tags.insert(at + 1, Tag::new("export_path", path));
            }
        }
    }
}

/// The first path of an export answer (`exports[0].paths[0]`).
pub fn first_path(body: &[u8]) -> Result<String, String> {
    let v: Value = serde_json::from_slice(body).map_err(|e| e.to_string())?;
    let export = v
        .get("exports")
        .and_then(Value::as_array)
        .and_then(|a| a.first())
        .ok_or("no exports[0] in the answer")?;
    export
        .get("paths")
        .and_then(Value::as_array)
        .and_then(|a| a.first())
        .and_then(Value::as_str)
        .map(str::to_string)
        .ok_or_else(|| "the export has no paths[0] string".to_string())
}

#[cfg(test)]
mod tests {
    use super::*;
    use idic_plugin_api::{Field, Row, Value as V};

    fn point(ids: &[&str]) -> Point {
        Point {
            measurement: "cluster.performance.dataset.1".into(),
            time: 60,
            rows: ids
                .iter()
                .map(|id| Row {
                    tags: vec![
                        Tag::new("cluster", "c"),
                        Tag::new("export_id", id),
                        Tag::new("zone_name", "System"),
                    ]
                    .into(),
                    fields: vec![Field::new("ops", V::Float(1.0))].into(),
                })
                .collect::<Vec<_>>()
                .into(),
        }
    }

    fn tags(p: &Point, row: usize) -> Vec<(String, String)> {
        p.rows[row]
            .tags
            .iter()
            .map(|t| (t.key.to_string(), t.value.to_string()))
            .collect()
    }

    #[test]
    fn a_known_id_gets_its_path_after_the_id_and_is_not_asked_again() {
        let mut cache = ExportPaths::default();
        let mut points = vec![point(&["2", "1", "2"])];
        assert_eq!(cache.unknown(&points), ["1", "2"]);
        cache.record("1", Some("/ifs/a".into()));
        cache.record("2", Some("/ifs/b".into()));
        assert!(cache.unknown(&points).is_empty());
        cache.tag(&mut points);
        let t = tags(&points[0], 1);
        assert_eq!(
            t.iter().map(|(k, _)| k.as_str()).collect::<Vec<_>>(),
            ["cluster", "export_id", "export_path", "zone_name"]
        );
        assert_eq!(t[2].1, "/ifs/a");
        assert_eq!(points[0].rows[0].tag("export_path"), Some("/ifs/b"));
        // A new id is the only unknown one.
        assert_eq!(cache.unknown(&[point(&["1", "3"])]), ["3"]);
    }

    #[test]
    fn a_failed_id_keeps_its_id_only_until_failures_are_forgotten() {
        let mut cache = ExportPaths::default();
        let mut points = vec![point(&["7"])];
        cache.record("7", None);
        assert!(cache.unknown(&points).is_empty(), "not asked again at once");
        cache.tag(&mut points);
        assert_eq!(points[0].rows[0].tag("export_id"), Some("7"));
        assert_eq!(points[0].rows[0].tag("export_path"), None);
        cache.forget_failures();
        assert_eq!(cache.unknown(&points), ["7"]);
    }

    #[test]
    fn the_first_path_of_the_answer_is_taken_and_garbage_is_an_error() {
        let body = br#"{"exports": [{"id": 3, "paths": ["/ifs/x", "/ifs/y"]}]}"#;
        assert_eq!(first_path(body).unwrap(), "/ifs/x");
        assert!(first_path(br#"{"exports": []}"#).is_err());
        assert!(first_path(br#"{"exports": [{"paths": []}]}"#).is_err());
        assert!(first_path(b"<html>").is_err());
    }
}
