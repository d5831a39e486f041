//! gostats' Prometheus names, shared by the `prometheus` plugin (which serves
//! them) and the `remote_write` plugin (which pushes them): how a point's rows
//! become series, i.e. metric names, label sets and values. Pure: no I/O, no
//! clock, no exposition format (that is the `prometheus` plugin's `encode`).
//!
//! Naming, as gostats does it: `isilon_stat_` + the statistics key with every
//! character outside `[a-zA-Z0-9_]` (the dots, mostly) turned into `_`; a row with
//! more than one field gives one metric per field, `<name>_<field>`; a row with
//! one field keeps the bare name; the field `op_id` is never exported. Labels are
//! the row's tags (names sanitised the same way, sorted by name), plus the
//! optional instance label carrying the cluster name.
//!
//! # Example
//!
//! ```
//! use idic_plugin_api::{Field, Point, Row, Tag, Value};
//! use idic_promnames::{for_each_sample, Scratch};
//!
//! let point = Point {
//!     measurement: "node.load.1min".into(),
//!     time: 1_700_000_000,
//!     rows: vec![Row {
//!         tags: vec![Tag::new("cluster", "c1"), Tag::new("node", "2")].into(),
//!         fields: vec![Field::new("value", Value::Float(1.5))].into(),
//!     }]
//!     .into(),
//! };
//! let mut seen = Vec::new();
//! for_each_sample(&point, None, &mut Scratch::default(), |name, labels, value| {
//!     seen.push(format!("{name}{} {value} {:?}", labels.text(), labels.pairs()));
//! });
//! assert_eq!(
//!     seen,
//!     [r#"isilon_stat_node_load_1min{cluster="c1",node="2"} 1.5 [("cluster", "c1"), ("node", "2")]"#]
//! );
//! ```

#![deny(missing_docs)]

use std::fmt::Write as _;

use idic_plugin_api::{Point, Row, Value};

/// The prefix of every metric name.
pub const PREFIX: &str = "isilon_stat_";

/// The field that is never exported (gostats: "no point creating a separate
/// metric" for an operation's numeric id).
pub const SKIPPED_FIELD: &str = "op_id";

/// Reusable buffers for [`for_each_sample`], so that a batch allocates only for
/// new series.
#[derive(Debug, Default)]
pub struct Scratch {
    name: String,
    labels: Labels,
}

/// One row's label set, as handed to [`for_each_sample`]'s callback: the
/// sanitised (name, value) pairs sorted by name, and the same set rendered as
/// Prometheus text (`{a="x",b="y"}`, empty when there are no labels).
#[derive(Debug, Default)]
pub struct Labels {
    pairs: Vec<(String, String)>,
    text: String,
}

impl Labels {
    /// The (name, value) pairs, sorted by name, names unique, values unescaped.
    pub fn pairs(&self) -> &[(String, String)] {
        &self.pairs
    }

    /// The label set in the text exposition format, values escaped.
    pub fn text(&self) -> &str {
        &self.text
    }
}

/// The summary measurements whose rows gostats also exports with their time, as
/// the gauge `<name>_time` (gostats keeps the row's `time` as a field; idic's
/// points carry it as their timestamp only, since InfluxDB 1.x rejects a field
/// named `time`).
pub const TIMED_SUMMARIES: [&str; 3] = [
    "node.summary.protocol",
    "node.summary.client",
    "node.summary.drive",
];

/// The field name of a summary row's time.
pub const TIME_FIELD: &str = "time";

/// Calls `emit(metric name, label set, value)` for every exported sample of
/// `point`, row by row (the samples of one row come one after another with the
/// same labels). `instance` is `(label name, cluster name)` when
/// `instance_label_name` is set. String fields are skipped (they still count as
/// fields when deciding whether a row is multi-field, as in gostats). Rows of
/// [`TIMED_SUMMARIES`] get one more field, [`TIME_FIELD`], holding the point's
/// timestamp (Unix seconds) as gostats exports it.
pub fn for_each_sample(
    point: &Point,
    instance: Option<(&str, &str)>,
    scratch: &mut Scratch,
    mut emit: impl FnMut(&str, &Labels, f64),
) {
    let timed = TIMED_SUMMARIES.contains(&point.measurement.as_str());
    for row in point.rows.iter() {
        render_labels(row, instance, scratch);
        let add_time = timed && !row.fields.iter().any(|f| f.key == TIME_FIELD);
        let multi = row.fields.len() + usize::from(add_time) > 1;
        for field in row.fields.iter() {
            let key = field.key.as_str();
            if key == SKIPPED_FIELD {
                continue;
            }
            let Some(value) = number(&field.value) else {
                continue;
            };
            scratch.name.clear();
            push_metric_name(&mut scratch.name, &point.measurement, multi.then_some(key));
            emit(&scratch.name, &scratch.labels, value);
        }
        if add_time {
            scratch.name.clear();
            push_metric_name(&mut scratch.name, &point.measurement, Some(TIME_FIELD));
            emit(&scratch.name, &scratch.labels, point.time as f64);
        }
    }
}

/// Appends the metric name of statistic `key` (and `field`, for multi-field
/// rows) to `out`.
pub fn push_metric_name(out: &mut String, key: &str, field: Option<&str>) {
    out.push_str(PREFIX);
    push_sanitized(out, key);
    if let Some(field) = field {
        out.push('_');
        push_sanitized(out, field);
    }
}

/// The metric name of statistic `key` (and `field`, for multi-field rows).
pub fn metric_name(key: &str, field: Option<&str>) -> String {
    let mut out = String::new();
    push_metric_name(&mut out, key, field);
    out
}

/// A tag name made into a valid label name, or `None` for an empty one: invalid
/// characters become `_`, a leading digit gets a `_` in front, and a leading
/// `__` (reserved for Prometheus itself) is shortened to one `_`.
pub fn label_name(tag: &str) -> Option<String> {
    if tag.is_empty() {
        return None;
    }
    let mut out = String::with_capacity(tag.len() + 1);
    if tag.starts_with(|c: char| c.is_ascii_digit()) {
        out.push('_');
    }
    push_sanitized(&mut out, tag);
    while out.starts_with("__") {
        out.remove(0);
    }
    Some(out)
}

/// Appends `value` escaped for a label value (backslash, double quote, newline).
pub fn push_label_value(out: &mut String, value: &str) {
    if !value.contains(['\\', '"', '\n']) {
        out.push_str(value);
        return;
    }
    for c in value.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '"' => out.push_str("\\\""),
            '\n' => out.push_str("\\n"),
            c => out.push(c),
        }
    }
}

/// Appends HELP text escaped for `format`: backslash and newline in the text
/// A field's numeric value: floats, integers, booleans as 1/0; `None` for strings.
fn number(value: &Value) -> Option<f64> {
    match value {
        Value::Float(f) => Some(*f),
        Value::Int(i) => Some(*i as f64),
        Value::UInt(u) => Some(*u as f64),
        Value::Bool(b) => Some(if *b { 1.0 } else { 0.0 }),
        Value::Str(_) => None,
    }
}

/// Builds a row's label set into `scratch.labels`: sanitised names, sorted, the
/// first of equal names kept, empty values left out (Prometheus treats an empty
/// label as an absent one).
fn render_labels(row: &Row, instance: Option<(&str, &str)>, scratch: &mut Scratch) {
    let pairs = &mut scratch.labels.pairs;
    pairs.clear();
    for tag in row.tags.iter() {
        if tag.value.is_empty() {
            continue;
        }
        if let Some(name) = label_name(&tag.key) {
            pairs.push((name, tag.value.to_string()));
        }
    }
    if let Some((name, cluster)) = instance {
        pairs.push((name.to_string(), cluster.to_string()));
    }
    pairs.sort_by(|a, b| a.0.cmp(&b.0));
    pairs.dedup_by(|later, earlier| later.0 == earlier.0);
    let out = &mut scratch.labels.text;
    out.clear();
    for (i, (name, value)) in pairs.iter().enumerate() {
        out.push(if i == 0 { '{' } else { ',' });
        let _ = write!(out, "{name}=\"");
        push_label_value(out, value);
        out.push('"');
    }
    if !pairs.is_empty() {
        out.push('}');
    }
}

fn push_sanitized(out: &mut String, s: &str) {
    out.extend(s.chars().map(|c| {
        if c.is_ascii_alphanumeric() || c == '_' {
            c
        } else {
            '_'
        }
    }));
}

#[cfg(test)]
mod tests {
    use super::*;
    use idic_plugin_api::{Field, Tag};

    /// A row as (tags, fields).
    type RowSpec<'a> = (Vec<(&'a str, &'a str)>, Vec<(&'a str, Value)>);

    fn point(key: &str, rows: Vec<RowSpec<'_>>) -> Point {
        Point {
            measurement: key.into(),
            time: 1_700_000_000,
            rows: rows
                .into_iter()
                .map(|(tags, fields)| Row {
                    tags: tags.into_iter().map(|(k, v)| Tag::new(k, v)).collect(),
                    fields: fields.into_iter().map(|(k, v)| Field::new(k, v)).collect(),
                })
                .collect(),
        }
    }

    fn samples(p: &Point, instance: Option<(&str, &str)>) -> Vec<String> {
        let mut out = Vec::new();
        for_each_sample(p, instance, &mut Scratch::default(), |n, l, v| {
            out.push(format!("{n}{} {v}", l.text()))
        });
        out
    }

    #[test]
    fn single_field_row_keeps_the_bare_name() {
        let p = point(
            "cluster.cpu.idle.avg",
            vec![(
                vec![("cluster", "c1")],
                vec![("value", Value::Float(912.0))],
            )],
        );
        assert_eq!(
            samples(&p, None),
            ["isilon_stat_cluster_cpu_idle_avg{cluster=\"c1\"} 912"]
        );
    }

    #[test]
    fn multi_field_row_gives_one_metric_per_field_without_op_id() {
        let p = point(
            "cluster.protostats.nfs",
            vec![(
                vec![
                    ("cluster", "c1"),
                    ("op_name", "read"),
                    ("class_name", "read"),
                ],
                vec![
                    ("op_id", Value::Float(7.0)),
                    ("op_rate", Value::Float(2.5)),
                    ("time_avg", Value::Float(310.0)),
                ],
            )],
        );
        assert_eq!(
            samples(&p, None),
            [
                "isilon_stat_cluster_protostats_nfs_op_rate{class_name=\"read\",cluster=\"c1\",op_name=\"read\"} 2.5",
                "isilon_stat_cluster_protostats_nfs_time_avg{class_name=\"read\",cluster=\"c1\",op_name=\"read\"} 310",
            ]
        );
    }

    #[test]
    fn op_id_counts_as_a_field_like_in_gostats() {
        let p = point(
            "cluster.protostats.nfs",
            vec![(
                vec![("cluster", "c1")],
                vec![
                    ("op_id", Value::Float(7.0)),
                    ("op_count", Value::Float(3.0)),
                ],
            )],
        );
        assert_eq!(
            samples(&p, None),
            ["isilon_stat_cluster_protostats_nfs_op_count{cluster=\"c1\"} 3"]
        );
    }

    #[test]
    fn values_of_every_type_and_strings_skipped() {
        let p = point(
            "x.y",
            vec![(
                vec![],
                vec![
                    ("a", Value::Int(-3)),
                    ("b", Value::UInt(4)),
                    ("c", Value::Bool(true)),
                    ("d", Value::Bool(false)),
                    ("e", Value::Str("text".into())),
                ],
            )],
        );
        assert_eq!(
            samples(&p, None),
            [
                "isilon_stat_x_y_a -3",
                "isilon_stat_x_y_b 4",
                "isilon_stat_x_y_c 1",
                "isilon_stat_x_y_d 0"
            ]
        );
    }

    #[test]
    fn instance_label_is_added_and_a_tag_of_that_name_wins() {
        let p = point(
            "node.load.1min",
            vec![
                (
                    vec![("cluster", "c1"), ("devid", "4"), ("node", "2")],
                    vec![("value", Value::Float(1.5))],
                ),
                (
                    vec![("cluster", "c1"), ("isilon_cluster", "mine")],
                    vec![("value", Value::Float(2.0))],
                ),
            ],
        );
        assert_eq!(
            samples(&p, Some(("isilon_cluster", "c1"))),
            [
                "isilon_stat_node_load_1min{cluster=\"c1\",devid=\"4\",isilon_cluster=\"c1\",node=\"2\"} 1.5",
                "isilon_stat_node_load_1min{cluster=\"c1\",isilon_cluster=\"mine\"} 2",
            ]
        );
    }

    #[test]
    fn summary_rows_also_export_their_time_as_a_gauge() {
        for kind in ["protocol", "client", "drive"] {
            let key = format!("node.summary.{kind}");
            let p = point(
                &key,
                vec![(
                    vec![("cluster", "c1"), ("node", "2")],
                    vec![("in", Value::Float(4.5)), ("out", Value::Float(6.0))],
                )],
            );
            assert_eq!(
                samples(&p, None),
                [
                    format!("isilon_stat_node_summary_{kind}_in{{cluster=\"c1\",node=\"2\"}} 4.5"),
                    format!("isilon_stat_node_summary_{kind}_out{{cluster=\"c1\",node=\"2\"}} 6"),
                    format!(
                        "isilon_stat_node_summary_{kind}_time{{cluster=\"c1\",node=\"2\"}} 1700000000"
                    ),
                ]
            );
        }
    }

    #[test]
    fn the_time_field_makes_a_one_field_summary_row_multi_field() {
        let p = point(
            "node.summary.drive",
            vec![(vec![("cluster", "c1")], vec![("busy", Value::Float(12.0))])],
        );
        assert_eq!(
            samples(&p, None),
            [
                "isilon_stat_node_summary_drive_busy{cluster=\"c1\"} 12",
                "isilon_stat_node_summary_drive_time{cluster=\"c1\"} 1700000000",
            ]
        );
    }

    #[test]
    fn other_measurements_get_no_time_gauge() {
        let p = point(
            "node.summary.other",
            vec![(vec![("cluster", "c1")], vec![("busy", Value::Float(12.0))])],
        );
        assert_eq!(
            samples(&p, None),
            ["isilon_stat_node_summary_other{cluster=\"c1\"} 12"]
        );
    }

    #[test]
    fn label_values_are_escaped_and_empty_ones_left_out() {
        let p = point(
            "node.clientstats.users",
            vec![(
                vec![
                    ("cluster", "c1"),
                    ("user_name", "DOM\\a \"b\"\nc"),
                    ("remote_name", ""),
                ],
                vec![("value", Value::Float(1.0))],
            )],
        );
        assert_eq!(
            samples(&p, None),
            ["isilon_stat_node_clientstats_users{cluster=\"c1\",user_name=\"DOM\\\\a \\\"b\\\"\\nc\"} 1"]
        );
    }

    #[test]
    fn names_are_sanitised() {
        let check = |key: &str, field: Option<&str>, want: &str| {
            assert_eq!(metric_name(key, field), want);
        };
        check(
            "cluster.cpu.idle.avg",
            None,
            "isilon_stat_cluster_cpu_idle_avg",
        );
        check(
            "node.ifs.heat.lock.total",
            None,
            "isilon_stat_node_ifs_heat_lock_total",
        );
        check(
            "cluster.protostats.nfs.total",
            Some("op_rate"),
            "isilon_stat_cluster_protostats_nfs_total_op_rate",
        );
        check(
            "node.sensor.volt.volts.3.3v",
            None,
            "isilon_stat_node_sensor_volt_volts_3_3v",
        );
        check("a-b:c", Some("x/y é"), "isilon_stat_a_b_c_x_y__");
        assert_eq!(label_name("op_name").as_deref(), Some("op_name"));
        assert_eq!(label_name("drive-id").as_deref(), Some("drive_id"));
        assert_eq!(label_name("2nd").as_deref(), Some("_2nd"));
        assert_eq!(label_name("__name__").as_deref(), Some("_name__"));
        assert_eq!(label_name(""), None);
    }
}
