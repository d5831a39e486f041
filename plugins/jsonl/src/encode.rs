//! Encodes a point as one JSON line. Pure: no I/O.
//!
//! The format, one object per point, keys in this order, no spaces, ending `\n`:
//!
//! ```text
//! {"measurement":<string>,"time":<integer>,"cluster":<string>,
//!  "rows":[{"tags":{<key>:<string>,...},"fields":{<key>:<value>,...}},...]}
//! ```
//!
//! (shown on two lines here; written on one). `time` is Unix seconds; `cluster` is
//! the cluster the sink was opened for; tags and fields keep the row's order. A
//! field value is a JSON number for floats and integers (a float always carries a
//! fraction or exponent, `5.0`, so integral floats stay recognisable), `null` for a
//! NaN or infinite float, `true`/`false` for booleans and a string for strings.
//! Strings are UTF-8 with `"`, `\` and control characters escaped.

use std::fmt::Write;

use idic_plugin_api::{Point, Value};

/// Appends `point`, as sent by cluster `cluster`, to `out` as one line with its `\n`.
pub fn line(cluster: &str, point: &Point, out: &mut String) {
    out.push_str("{\"measurement\":");
    string(out, &point.measurement);
    let _ = write!(out, ",\"time\":{}", point.time);
    out.push_str(",\"cluster\":");
    string(out, cluster);
    out.push_str(",\"rows\":[");
    for (i, row) in point.rows.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        out.push_str("{\"tags\":{");
        for (j, tag) in row.tags.iter().enumerate() {
            if j > 0 {
                out.push(',');
            }
            string(out, &tag.key);
            out.push(':');
            string(out, &tag.value);
        }
        out.push_str("},\"fields\":{");
        for (j, field) in row.fields.iter().enumerate() {
            if j > 0 {
                out.push(',');
            }
            string(out, &field.key);
            out.push(':');
            value(out, &field.value);
        }
        out.push_str("}}");
    }
    out.push_str("]}\n");
}

/// A field value as JSON.
fn value(out: &mut String, v: &Value) {
    let _ = match v {
        Value::Float(x) => match serde_json::Number::from_f64(*x) {
            Some(n) => write!(out, "{n}"),
            None => write!(out, "null"),
        },
        Value::Int(i) => write!(out, "{i}"),
        Value::UInt(u) => write!(out, "{u}"),
        Value::Bool(b) => write!(out, "{b}"),
        Value::Str(s) => {
            string(out, s);
            Ok(())
        }
    };
}

/// A JSON string literal.
fn string(out: &mut String, s: &str) {
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if (c as u32) < 0x20 => {
                let _ = write!(out, "\\u{:04x}", c as u32);
            }
            c => out.push(c),
        }
    }
    out.push('"');
}

#[cfg(test)]
mod tests {
    use super::*;
    use idic_plugin_api::{Field, Row, Tag};

    fn point(rows: Vec<Row>) -> Point {
        Point {
            measurement: "cluster.protostats.nfs".into(),
            time: 1_700_000_000,
            rows: rows.into(),
        }
    }

    fn row(tags: &[(&str, &str)], fields: Vec<(&str, Value)>) -> Row {
        Row {
            tags: tags.iter().map(|(k, v)| Tag::new(k, v)).collect(),
            fields: fields.into_iter().map(|(k, v)| Field::new(k, v)).collect(),
        }
    }

    fn check(point: &Point, expected: &str) {
        let mut out = String::new();
        line("c1", point, &mut out);
        assert_eq!(out, format!("{expected}\n"));
        let parsed: serde_json::Value = serde_json::from_str(&out).expect("valid json");
        assert!(parsed.is_object());
    }

    #[test]
    fn scalar_point_is_one_line() {
        check(
            &point(vec![row(
                &[("cluster", "c1")],
                vec![("value", Value::Float(97.5))],
            )]),
            r#"{"measurement":"cluster.protostats.nfs","time":1700000000,"cluster":"c1","rows":[{"tags":{"cluster":"c1"},"fields":{"value":97.5}}]}"#,
        );
    }

    #[test]
    fn rows_keep_their_tag_and_field_order() {
        check(
            &point(vec![
                row(
                    &[
                        ("cluster", "c1"),
                        ("op_name", "read"),
                        ("class_name", "read"),
                    ],
                    vec![
                        ("op_rate", Value::Float(2.5)),
                        ("op_count", Value::Float(12.0)),
                    ],
                ),
                row(
                    &[("cluster", "c1"), ("op_name", "write")],
                    vec![("op_rate", Value::Float(0.0))],
                ),
            ]),
            r#"{"measurement":"cluster.protostats.nfs","time":1700000000,"cluster":"c1","rows":[{"tags":{"cluster":"c1","op_name":"read","class_name":"read"},"fields":{"op_rate":2.5,"op_count":12.0}},{"tags":{"cluster":"c1","op_name":"write"},"fields":{"op_rate":0.0}}]}"#,
        );
    }

    #[test]
    fn integral_floats_keep_a_fraction_and_non_finite_is_null() {
        check(
            &point(vec![row(
                &[],
                vec![
                    ("a", Value::Float(5.0)),
                    ("b", Value::Float(1e300)),
                    ("c", Value::Float(f64::NAN)),
                    ("d", Value::Float(f64::NEG_INFINITY)),
                    ("e", Value::Float(-0.25)),
                ],
            )]),
            r#"{"measurement":"cluster.protostats.nfs","time":1700000000,"cluster":"c1","rows":[{"tags":{},"fields":{"a":5.0,"b":1e+300,"c":null,"d":null,"e":-0.25}}]}"#,
        );
    }

    #[test]
    fn other_value_types_are_plain_json() {
        check(
            &point(vec![row(
                &[],
                vec![
                    ("i", Value::Int(-3)),
                    ("u", Value::UInt(u64::MAX)),
                    ("b", Value::Bool(true)),
                    ("s", Value::Str("ok".into())),
                ],
            )]),
            r#"{"measurement":"cluster.protostats.nfs","time":1700000000,"cluster":"c1","rows":[{"tags":{},"fields":{"i":-3,"u":18446744073709551615,"b":true,"s":"ok"}}]}"#,
        );
    }

    #[test]
    fn strings_are_escaped() {
        let p = Point {
            measurement: "m\"q".into(),
            time: -1,
            rows: vec![row(
                &[("path", "C:\\dir\n\t\u{1}é")],
                vec![("v", Value::Float(1.0))],
            )]
            .into(),
        };
        check(
            &p,
            r#"{"measurement":"m\"q","time":-1,"cluster":"c1","rows":[{"tags":{"path":"C:\\dir\n\t\u0001é"},"fields":{"v":1.0}}]}"#,
        );
        let mut out = String::new();
        line("c1", &p, &mut out);
        let parsed: serde_json::Value = serde_json::from_str(&out).unwrap();
        assert_eq!(parsed["rows"][0]["tags"]["path"], "C:\\dir\n\t\u{1}é");
    }
}
