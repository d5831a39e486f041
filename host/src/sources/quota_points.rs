//! A page of `/platform/8/quota/quotas` to points (pure): one point per quota
//! with goquotas' measurement, tags and fields, so dashboards and queries made
//! for PowerScale Data Insights' goquotas read idic's points unchanged.
//!
//! The names are goquotas' (Isilon/powerscale_data_insights
//! `cmd/goquotas/backend.go`, `quotaToPoint` and `quotaTags`, read for this
//! module; recorded in `docs/sources.md`): measurement `quota`; tags
//! `cluster`, `quota_id`, `quota_type`, `path`, `thresholds_on`,
//! `include_snapshots`, `linked` ("" when null), `persona_id`, `persona_name`,
//! `persona_type` (when the quota has a persona); fields `container`,
//! `enforced`, `present` (always true), `ready`, `linked`, `efficiency_ratio`,
//! `usage_<x>_bytes`/`usage_inodes`/`usage_shadow_refs` (only while
//! `<x>_ready`), `usage_bytes` (the usage `thresholds_on` selects), per
//! threshold `<level>_bytes`, `<level>_utilization_ratio`,
//! `<level>_exceeded`, `<level>_last_exceeded_timestamp_seconds`, and
//! `soft_grace_seconds`, `advisory_threshold_percent`,
//! `soft_threshold_percent`.

use idic_plugin_api::{Field, Point, Row, Tag, Value};
use serde::Deserialize;

/// The measurement of quota points (a documented prefix the Prometheus plugin
/// recognises).
pub const MEASUREMENT: &str = "quota";

/// One page of the answer.
#[derive(Debug, Deserialize)]
pub struct Page {
    /// The quotas of the page.
    #[serde(default)]
    pub quotas: Vec<Quota>,
    /// The token of the next page; `None` or "" on the last one.
    #[serde(default)]
    pub resume: Option<String>,
}

/// One quota, as resource version 8 describes it (unknown fields ignored).
#[derive(Debug, Deserialize)]
pub struct Quota {
    id: String,
    #[serde(rename = "type")]
    kind: String,
    #[serde(default)]
    path: String,
    #[serde(default)]
    container: bool,
    #[serde(default)]
    enforced: bool,
    #[serde(default)]
    include_snapshots: bool,
    #[serde(default)]
    ready: bool,
    #[serde(default)]
    linked: Option<bool>,
    #[serde(default)]
    efficiency_ratio: Option<f64>,
    #[serde(default)]
    reduction_ratio: Option<f64>,
    #[serde(default)]
    persona: Option<Persona>,
    #[serde(default)]
    thresholds_on: Option<String>,
    #[serde(default)]
    thresholds: Thresholds,
    #[serde(default)]
    usage: Usage,
}

#[derive(Debug, Default, Deserialize)]
struct Persona {
    #[serde(default)]
    id: String,
    #[serde(default)]
    name: Option<String>,
    #[serde(default, rename = "type")]
    kind: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
struct Thresholds {
    advisory: Option<u64>,
    soft: Option<u64>,
    hard: Option<u64>,
    advisory_exceeded: Option<bool>,
    soft_exceeded: Option<bool>,
    hard_exceeded: Option<bool>,
    advisory_last_exceeded: Option<i64>,
    soft_last_exceeded: Option<i64>,
    hard_last_exceeded: Option<i64>,
    soft_grace: Option<i64>,
    percent_advisory: Option<f64>,
    percent_soft: Option<f64>,
}

#[derive(Debug, Default, Deserialize)]
struct Usage {
    applogical: Option<u64>,
    applogical_ready: Option<bool>,
    fslogical: Option<u64>,
    fslogical_ready: Option<bool>,
    fsphysical: Option<u64>,
    fsphysical_ready: Option<bool>,
    inodes: Option<u64>,
    inodes_ready: Option<bool>,
    physical: Option<u64>,
    physical_ready: Option<bool>,
    physical_data: Option<u64>,
    physical_data_ready: Option<bool>,
    physical_protection: Option<u64>,
    physical_protection_ready: Option<bool>,
    shadow_refs: Option<u64>,
    shadow_refs_ready: Option<bool>,
}

impl Quota {
    /// The quota's type (`directory`, `user`, ...).
    pub fn kind(&self) -> &str {
        &self.kind
    }

    /// The path it governs.
    pub fn path(&self) -> &str {
        &self.path
    }

    /// The quota as a point of `cluster` at `time` (Unix seconds).
    pub fn point(&self, cluster: &str, time: i64) -> Point {
        Point {
            measurement: MEASUREMENT.into(),
            time,
            rows: vec![Row {
                tags: self.tags(cluster).into(),
                fields: self.fields().into(),
            }]
            .into(),
        }
    }

    fn tags(&self, cluster: &str) -> Vec<Tag> {
        let bool_text = |b: bool| if b { "true" } else { "false" };
        let mut tags = vec![
            Tag::new("cluster", cluster),
            Tag::new("quota_id", &self.id),
            Tag::new("quota_type", &self.kind),
            Tag::new("path", &self.path),
            Tag::new("thresholds_on", self.thresholds_on.as_deref().unwrap_or("")),
            Tag::new("include_snapshots", bool_text(self.include_snapshots)),
            Tag::new("linked", self.linked.map_or("", bool_text)),
        ];
        if let Some(p) = &self.persona {
            tags.push(Tag::new("persona_id", &p.id));
            if let Some(name) = &p.name {
                tags.push(Tag::new("persona_name", name));
            }
            if let Some(kind) = &p.kind {
                tags.push(Tag::new("persona_type", kind));
            }
        }
        tags
    }

    fn fields(&self) -> Vec<Field> {
        let mut f = vec![
            Field::new("container", Value::Bool(self.container)),
            Field::new("enforced", Value::Bool(self.enforced)),
            Field::new("present", Value::Bool(true)),
            Field::new("ready", Value::Bool(self.ready)),
        ];
        let float = |f: &mut Vec<Field>, name: &str, v: Option<f64>| {
            if let Some(v) = v {
                f.push(Field::new(name, Value::Float(v)));
            }
        };
        if let Some(l) = self.linked {
            f.push(Field::new("linked", Value::Bool(l)));
        }
        float(&mut f, "efficiency_ratio", self.efficiency_ratio);
        float(&mut f, "reduction_ratio", self.reduction_ratio);
        let u = &self.usage;
        let ready = |v: Option<u64>, r: Option<bool>| v.filter(|_| r == Some(true));
        for (name, v, r) in [
            ("usage_applogical_bytes", u.applogical, u.applogical_ready),
            ("usage_fslogical_bytes", u.fslogical, u.fslogical_ready),
            ("usage_fsphysical_bytes", u.fsphysical, u.fsphysical_ready),
            ("usage_inodes", u.inodes, u.inodes_ready),
            ("usage_physical_bytes", u.physical, u.physical_ready),
            (
                "usage_physical_data_bytes",
                u.physical_data,
                u.physical_data_ready,
            ),
            (
                "usage_physical_protection_bytes",
                u.physical_protection,
                u.physical_protection_ready,
            ),
            ("usage_shadow_refs", u.shadow_refs, u.shadow_refs_ready),
        ] {
            float(&mut f, name, ready(v, r).map(|v| v as f64));
        }
        let selected = match self.thresholds_on.as_deref() {
            Some("applogicalsize") => ready(u.applogical, u.applogical_ready),
            Some("physicalsize") => ready(u.physical, u.physical_ready),
            _ => ready(u.fslogical, u.fslogical_ready),
        };
        float(&mut f, "usage_bytes", selected.map(|v| v as f64));
        let t = &self.thresholds;
        for (level, threshold) in [("advisory", t.advisory), ("soft", t.soft), ("hard", t.hard)] {
            let Some(threshold) = threshold else {
                continue;
            };
            f.push(Field::new(
                &format!("{level}_bytes"),
                Value::Float(threshold as f64),
            ));
            if let Some(usage) = selected.filter(|_| threshold > 0) {
                f.push(Field::new(
                    &format!("{level}_utilization_ratio"),
                    Value::Float(usage as f64 / threshold as f64),
                ));
            }
        }
        for (name, v) in [
            ("advisory_exceeded", t.advisory_exceeded),
            ("soft_exceeded", t.soft_exceeded),
            ("hard_exceeded", t.hard_exceeded),
        ] {
            if let Some(v) = v {
                f.push(Field::new(name, Value::Bool(v)));
            }
        }
        for (name, v) in [
            (
                "advisory_last_exceeded_timestamp_seconds",
                t.advisory_last_exceeded,
            ),
            ("soft_last_exceeded_timestamp_seconds", t.soft_last_exceeded),
            ("hard_last_exceeded_timestamp_seconds", t.hard_last_exceeded),
            ("soft_grace_seconds", t.soft_grace),
        ] {
            float(&mut f, name, v.map(|v| v as f64));
        }
        float(&mut f, "advisory_threshold_percent", t.percent_advisory);
        float(&mut f, "soft_threshold_percent", t.percent_soft);
        f
    }
}

/// Parses one page; a body of another shape is the cluster's malformed answer.
pub fn page(body: &[u8]) -> Result<Page, String> {
    serde_json::from_slice(body).map_err(|e| e.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(quota: &str, tags: &[(&str, &str)], fields: &[(&str, Value)]) {
        let body = format!("{{\"quotas\": [{quota}], \"resume\": null}}");
        let p = page(body.as_bytes()).unwrap();
        assert_eq!(p.resume, None);
        let point = p.quotas[0].point("c1", 100);
        assert_eq!(point.measurement.as_str(), "quota");
        let row = &point.rows[0];
        let got_tags: Vec<(&str, &str)> = row
            .tags
            .iter()
            .map(|t| (t.key.as_str(), t.value.as_str()))
            .collect();
        assert_eq!(got_tags, tags);
        let got: Vec<(&str, Value)> = row
            .fields
            .iter()
            .map(|f| (f.key.as_str(), f.value.clone()))
            .collect();
        let want: Vec<(&str, Value)> = fields.to_vec();
        assert_eq!(got, want);
    }

    #[test]
    fn a_user_quota_gets_goquotas_tags_and_only_ready_usage() {
        check(
            r#"{"id": "abc", "type": "user", "path": "/ifs/p", "container": false,
               "enforced": true, "include_snapshots": false, "ready": true, "linked": true,
               "efficiency_ratio": 0.5, "notifications": "default",
               "persona": {"id": "UID:7", "name": "u7", "type": "user"},
               "thresholds_on": "physicalsize",
               "thresholds": {"advisory": null, "advisory_exceeded": null, "advisory_last_exceeded": null,
                              "hard": 400, "hard_exceeded": false, "hard_last_exceeded": null,
                              "percent_advisory": null, "percent_soft": null, "soft": null,
                              "soft_exceeded": null, "soft_grace": null, "soft_last_exceeded": null},
               "usage": {"applogical": 10, "applogical_ready": true, "fslogical": 20, "fslogical_ready": true,
                         "fsphysical": 30, "fsphysical_ready": false, "inodes": 4, "inodes_ready": true,
                         "physical": 100, "physical_ready": true, "shadow_refs": 0, "shadow_refs_ready": true}}"#,
            &[
                ("cluster", "c1"),
                ("quota_id", "abc"),
                ("quota_type", "user"),
                ("path", "/ifs/p"),
                ("thresholds_on", "physicalsize"),
                ("include_snapshots", "false"),
                ("linked", "true"),
                ("persona_id", "UID:7"),
                ("persona_name", "u7"),
                ("persona_type", "user"),
            ],
            &[
                ("container", Value::Bool(false)),
                ("enforced", Value::Bool(true)),
                ("present", Value::Bool(true)),
                ("ready", Value::Bool(true)),
                ("linked", Value::Bool(true)),
                ("efficiency_ratio", Value::Float(0.5)),
                ("usage_applogical_bytes", Value::Float(10.0)),
                ("usage_fslogical_bytes", Value::Float(20.0)),
                ("usage_inodes", Value::Float(4.0)),
                ("usage_physical_bytes", Value::Float(100.0)),
                ("usage_shadow_refs", Value::Float(0.0)),
                ("usage_bytes", Value::Float(100.0)),
                ("hard_bytes", Value::Float(400.0)),
                ("hard_utilization_ratio", Value::Float(0.25)),
                ("hard_exceeded", Value::Bool(false)),
            ],
        );
    }

    #[test]
    fn a_directory_quota_without_persona_has_an_empty_linked_tag() {
        check(
            r#"{"id": "d", "type": "directory", "path": "/ifs/d", "container": true,
               "enforced": false, "include_snapshots": true, "ready": false, "linked": null,
               "persona": null, "thresholds": {}, "usage": {}}"#,
            &[
                ("cluster", "c1"),
                ("quota_id", "d"),
                ("quota_type", "directory"),
                ("path", "/ifs/d"),
                ("thresholds_on", ""),
                ("include_snapshots", "true"),
                ("linked", ""),
            ],
            &[
                ("container", Value::Bool(true)),
                ("enforced", Value::Bool(false)),
                ("present", Value::Bool(true)),
                ("ready", Value::Bool(false)),
            ],
        );
    }

    #[test]
    fn a_page_of_another_shape_is_refused() {
        assert!(page(b"{\"quotas\": 3}").is_err());
        assert!(page(b"<html>").is_err());
    }
}
