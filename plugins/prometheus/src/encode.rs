//! Pure text work: how a point's rows become Prometheus series (metric names,
//! labels, values), and how families of series become an exposition body in the
//! Prometheus text format 0.0.4 or OpenMetrics 1.0. No locks, no I/O, no clock:
//! which samples are live is the store's business.
//!
//! Naming, as gostats does it: `isilon_stat_` + the statistics key with every
//! character outside `[a-zA-Z0-9_]` (the dots, mostly) turned into `_`; a row with
//! more than one field gives one metric per field, `<name>_<field>`; a row with
//! one field keeps the bare name; the field `op_id` is never exported. Labels are
//! the row's tags (names sanitised the same way, sorted by name), plus the
//! optional `instance_label_name` carrying the cluster name.

use std::fmt::Write as _;

use idic_plugin_api::{Point, Row, Value};

/// The prefix of every metric name.
pub const PREFIX: &str = "isilon_stat_";

/// The field that is never exported (gostats: "no point creating a separate
/// metric" for an operation's numeric id).
pub const SKIPPED_FIELD: &str = "op_id";

/// The exposition format a scrape gets.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// The Prometheus text format 0.0.4: timestamps in milliseconds.
    Text,
    /// OpenMetrics 1.0 text: timestamps in seconds, `# EOF` at the end.
    OpenMetrics,
}

/// Reusable buffers for [`for_each_sample`], so that a batch allocates only for
/// new series.
#[derive(Debug, Default)]
pub struct Scratch {
    name: String,
    labels: String,
    pairs: Vec<(String, String)>,
}

impl Format {
    /// Picks the format from a scrape's `Accept` header: OpenMetrics when the
    /// scraper lists `application/openmetrics-text` with a non-zero quality
    /// (Prometheus does since 2.5), else the text format.
    pub fn negotiate(accept: Option<&str>) -> Format {
        let wants_openmetrics = accept.is_some_and(|accept| {
            accept.split(',').any(|range| {
                let mut parts = range.split(';');
                let media = parts.next().unwrap_or("").trim();
                media.eq_ignore_ascii_case("application/openmetrics-text")
                    && !parts.any(|p| {
                        let p = p.trim();
                        p.strip_prefix("q=")
                            .and_then(|q| q.trim().parse::<f64>().ok())
                            .is_some_and(|q| q <= 0.0)
                    })
            })
        });
        if wants_openmetrics {
            Format::OpenMetrics
        } else {
            Format::Text
        }
    }

    /// The `Content-Type` of a body in this format.
    pub fn content_type(self) -> &'static str {
        match self {
            Format::Text => "text/plain; version=0.0.4; charset=utf-8",
            Format::OpenMetrics => "application/openmetrics-text; version=1.0.0; charset=utf-8",
        }
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

/// Calls `emit(metric name, rendered labels, value)` for every exported sample of
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
    mut emit: impl FnMut(&str, &str, f64),
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
/// format; also the double quote in OpenMetrics.
pub fn push_help(out: &mut String, help: &str, format: Format) {
    for c in help.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '"' if format == Format::OpenMetrics => out.push_str("\\\""),
            c => out.push(c),
        }
    }
}

/// Appends a sample value: integral values without a fraction (`42`, exact up to
/// 9e18), others in the
/// shortest form that reads back exactly (`0.25`, `1e+300`), and `NaN`, `+Inf`,
/// `-Inf`.
pub fn push_value(out: &mut String, v: f64) {
    if v.is_nan() {
        out.push_str("NaN");
    } else if v.is_infinite() {
        out.push_str(if v > 0.0 { "+Inf" } else { "-Inf" });
    } else if v.fract() == 0.0 && v.abs() < 9e18 {
        out.push_str(itoa::Buffer::new().format(v as i64));
    } else {
        out.push_str(zmij::Buffer::new().format_finite(v));
    }
}

/// Appends one family, its HELP and TYPE lines and one line per series, to
/// `out`; `series` gives (rendered label set, value, Unix seconds) in the order
/// to write them. Nothing is written for a family without series. Returns the
/// number of series written.
pub fn render_family<'a>(
    out: &mut String,
    format: Format,
    name: &str,
    help: &str,
    series: impl IntoIterator<Item = (&'a str, f64, i64)>,
) -> usize {
    let mut series = series.into_iter().peekable();
    if series.peek().is_none() {
        return 0;
    }
    out.push_str("# HELP ");
    out.push_str(name);
    out.push(' ');
    push_help(out, help, format);
    out.push_str("\n# TYPE ");
    out.push_str(name);
    out.push_str(" gauge\n");
    render_lines(out, format, name, series)
}

/// Appends one line per series of family `name` (no header): the
/// continuation of [`render_family`]. Returns the number of lines written.
pub fn render_lines<'a>(
    out: &mut String,
    format: Format,
    name: &str,
    series: impl IntoIterator<Item = (&'a str, f64, i64)>,
) -> usize {
    let mut written = 0;
    let mut ints = itoa::Buffer::new();
    for (labels, value, time) in series {
        out.push_str(name);
        out.push_str(labels);
        out.push(' ');
        push_value(out, value);
        // A snapshot's sample has no timestamp: the scrape's time is its time.
        match format {
            _ if time == crate::snapshot::NO_TIME => {}
            Format::Text => {
                out.push(' ');
                out.push_str(ints.format(time.saturating_mul(1000)));
            }
            Format::OpenMetrics => {
                out.push(' ');
                out.push_str(ints.format(time));
            }
        }
        out.push('\n');
        written += 1;
    }
    written
}

/// Appends what ends a body: `# EOF` in OpenMetrics, nothing in the text format.
pub fn finish(out: &mut String, format: Format) {
    if format == Format::OpenMetrics {
        out.push_str("# EOF\n");
    }
}

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

/// Renders a row's label set into `scratch.labels`: sanitised names, sorted, the
/// first of equal names kept, empty values left out (Prometheus treats an empty
/// label as an absent one).
fn render_labels(row: &Row, instance: Option<(&str, &str)>, scratch: &mut Scratch) {
    let pairs = &mut scratch.pairs;
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
    let out = &mut scratch.labels;
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
            out.push(format!("{n}{l} {v}"))
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

    #[test]
    fn values_print_short_and_exact() {
        let check = |v: f64, want: &str| {
            let mut s = String::new();
            push_value(&mut s, v);
            assert_eq!(s, want);
            if v.is_finite() {
                assert_eq!(s.parse::<f64>().unwrap(), v);
            }
        };
        check(0.0, "0");
        check(-0.0, "0");
        check(42.0, "42");
        check(-7.0, "-7");
        check(0.25, "0.25");
        check(1e300, "1e+300");
        check(123456789012345.0, "123456789012345");
        check(1969570185969664.0, "1969570185969664");
        check(3.25e-5, "0.0000325");
        check(1e19, "1e+19");
        check(1.5e-7, "1.5e-7");
        check(f64::NAN, "NaN");
        check(f64::INFINITY, "+Inf");
        check(f64::NEG_INFINITY, "-Inf");
    }

    #[test]
    fn help_escaping_depends_on_the_format() {
        let mut s = String::new();
        push_help(&mut s, "a \\ \"b\"\nc", Format::Text);
        assert_eq!(s, "a \\\\ \"b\"\\nc");
        s.clear();
        push_help(&mut s, "a \\ \"b\"\nc", Format::OpenMetrics);
        assert_eq!(s, "a \\\\ \\\"b\\\"\\nc");
    }

    #[test]
    fn accept_header_picks_the_format() {
        let check =
            |accept: Option<&str>, want: Format| assert_eq!(Format::negotiate(accept), want);
        check(None, Format::Text);
        check(Some("*/*"), Format::Text);
        check(Some("text/plain;version=0.0.4"), Format::Text);
        check(
            Some("application/openmetrics-text;version=1.0.0,application/openmetrics-text;version=0.0.1;q=0.75,text/plain;version=0.0.4;q=0.5,*/*;q=0.1"),
            Format::OpenMetrics,
        );
        check(Some("application/openmetrics-text; q=0"), Format::Text);
    }

    #[test]
    fn a_family_gets_its_header_once_and_timestamps_per_format() {
        let series = [("{cluster=\"c1\"}", 1.5, 10), ("{cluster=\"c2\"}", 2.0, 11)];
        let mut text = String::new();
        assert_eq!(
            render_family(
                &mut text,
                Format::Text,
                "isilon_stat_a",
                "Idle \"CPU\"",
                series
            ),
            2
        );
        finish(&mut text, Format::Text);
        assert_eq!(
            text,
            "# HELP isilon_stat_a Idle \"CPU\"\n# TYPE isilon_stat_a gauge\n\
             isilon_stat_a{cluster=\"c1\"} 1.5 10000\nisilon_stat_a{cluster=\"c2\"} 2 11000\n"
        );
        let mut om = String::new();
        render_family(
            &mut om,
            Format::OpenMetrics,
            "isilon_stat_a",
            "Idle \"CPU\"",
            series,
        );
        finish(&mut om, Format::OpenMetrics);
        assert_eq!(
            om,
            "# HELP isilon_stat_a Idle \\\"CPU\\\"\n# TYPE isilon_stat_a gauge\n\
             isilon_stat_a{cluster=\"c1\"} 1.5 10\nisilon_stat_a{cluster=\"c2\"} 2 11\n# EOF\n"
        );
    }

    #[test]
    fn a_family_without_series_writes_nothing() {
        let mut out = String::new();
        assert_eq!(
            render_family(&mut out, Format::Text, "isilon_stat_b", "h", []),
            0
        );
        assert_eq!(out, "");
    }
}
