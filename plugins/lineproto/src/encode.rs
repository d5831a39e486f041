//! Points to line protocol, split into request bodies of a bounded size. Pure: no
//! I/O, no logging (what was skipped is counted in [`Stats`] for the caller).
//!
//! One line per row:
//!
//! ```text
//! <measurement>[,<tag key>=<tag value>...] <field key>=<field value>[,...] <seconds>
//! ```
//!
//! - Tags are sorted by key (InfluxDB's recommendation; the series is the same
//!   either way). A tag with an empty key or value is left out (InfluxDB refuses
//!   them), as is a tag named `time`; of two tags with the same key the later wins.
//! - Every number is a float field, as gostats writes them: floats in their
//!   shortest exact form (`97.5`, `1.0`, `1e+21`), integers as plain digits (a
//!   number without the `i` suffix is a float to InfluxDB). NaN and infinities
//!   cannot be written: the field is left out. Booleans are `true`/`false`,
//!   strings are quoted.
//! - A field named `time` is never written (InfluxDB 1.x refuses the whole point).
//! - A row left without any field is not written; neither is a point whose
//!   measurement name is empty or starts with `#` (a comment line).
//! - The timestamp is the point's Unix time in seconds (`precision=s`).
//!
//! Escaping is `escape`'s job.

use idic_plugin_api::{Point, Row, Value};

use crate::{escape, recycle};

/// One request body: whole lines, each ending with `\n`.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Body {
    /// The line protocol text.
    pub bytes: Vec<u8>,
    /// How many lines `bytes` holds.
    pub lines: usize,
}

/// What the encoder wrote and what it had to leave out.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Stats {
    /// Lines written.
    pub lines: u64,
    /// Fields left out because their float value was NaN or infinite.
    pub non_finite: u64,
    /// Tags and fields left out because their name (or a tag's value) was empty or
    /// `time`.
    pub unusable_names: u64,
    /// Rows not written because no field was left.
    pub empty_rows: u64,
    /// Points not written because their measurement name was unusable.
    pub bad_measurements: u64,
}

/// What a new body reserves before its first line (it grows by doubling).
const FIRST_BODY_CAPACITY: usize = 32 * 1024;

/// Encodes batches of points into request bodies of at most `max_bytes` each
/// (a single line longer than that gets a body of its own). Buffers are kept
/// between batches.
#[derive(Debug)]
pub struct Encoder {
    max_bytes: usize,
    /// `bodies[..used]` hold this batch; the rest are spare buffers.
    bodies: Vec<Body>,
    used: usize,
    stats: Stats,
    /// The current point's escaped measurement name.
    measurement: Vec<u8>,
    /// Scratch: indices of a row's tags, sorted by key.
    order: Vec<usize>,
}

impl Encoder {
    /// An encoder cutting bodies at `max_bytes` (at least one line per body).
    pub fn new(max_bytes: usize) -> Encoder {
        Encoder {
            max_bytes: max_bytes.max(1),
            bodies: Vec::new(),
            used: 0,
            stats: Stats::default(),
            measurement: Vec::new(),
            order: Vec::new(),
        }
    }

    /// Forgets the previous batch (keeping its buffers) and zeroes the stats.
    pub fn clear(&mut self) {
        for body in &mut self.bodies[..self.used] {
            body.bytes.clear();
            body.lines = 0;
        }
        self.used = 0;
        self.stats = Stats::default();
    }

    /// Forgets the previous batch and gives its buffers back to the process'
    /// few recycled ones (`recycle`): a sink writes once per cycle, and a
    /// thousand sinks' idle buffers would add up to hundreds of megabytes.
    pub fn release(&mut self) {
        for body in std::mem::take(&mut self.bodies) {
            recycle::give(body.bytes);
        }
        self.used = 0;
        self.stats = Stats::default();
    }

    /// Encodes every row of `point`.
    pub fn point(&mut self, point: &Point) {
        let name = escape::usable(&point.measurement);
        if name.is_empty() || name.starts_with('#') {
            self.stats.bad_measurements += 1;
            return;
        }
        self.measurement.clear();
        escape::measurement(&mut self.measurement, name);
        for row in point.rows.iter() {
            self.row(row, point.time);
        }
    }

    /// The bodies of the batch encoded since the last [`Encoder::clear`]; empty
    /// when nothing was writable.
    pub fn bodies(&self) -> &[Body] {
        // Only the first body can be empty: when no row of the batch was writable.
        let used = match self.used {
            1 if self.bodies[0].lines == 0 => 0,
            n => n,
        };
        &self.bodies[..used]
    }

    /// What was written and left out since the last [`Encoder::clear`].
    pub fn stats(&self) -> Stats {
        self.stats
    }

    /// Appends one row's line to the current body, starting a new body when the
    /// current one would grow past `max_bytes`.
    fn row(&mut self, row: &Row, time: i64) {
        if self.used == 0 {
            self.next_body();
        }
        let body = &mut self.bodies[self.used - 1];
        let out = &mut body.bytes;
        let start = out.len();
        out.extend_from_slice(&self.measurement);
        self.stats.unusable_names += tags(out, row, &mut self.order);
        out.push(b' ');
        let (written, skipped) = fields(out, row);
        self.stats.non_finite += skipped.non_finite;
        self.stats.unusable_names += skipped.unusable_names;
        if written == 0 {
            out.truncate(start);
            self.stats.empty_rows += 1;
            return;
        }
        out.push(b' ');
        out.extend_from_slice(itoa::Buffer::new().format(time).as_bytes());
        out.push(b'\n');
        self.stats.lines += 1;
        if out.len() > self.max_bytes && start > 0 {
            let line = out[start..].to_vec();
            out.truncate(start);
            self.next_body();
            let next = &mut self.bodies[self.used - 1];
            next.bytes.extend_from_slice(&line);
            next.lines = 1;
        } else {
            body.lines += 1;
        }
    }

    /// Makes the next spare buffer (a recycled one, or a new one) the current
    /// body. A new body starts small and grows as lines come: a typical cycle's
    /// batch is tens of kilobytes, and a megabyte reserved up front per body
    /// ends up resident in the allocator's arenas once a few writers have run
    /// at the same time.
    fn next_body(&mut self) {
        if self.used == self.bodies.len() {
            self.bodies.push(Body {
                bytes: recycle::take(self.max_bytes.min(FIRST_BODY_CAPACITY)),
                lines: 0,
            });
        }
        self.used += 1;
    }
}

/// Encodes one point on its own, without any size limit: its lines, appended to
/// `out`. Convenient for tests and examples; batches go through [`Encoder`].
pub fn encode_point(point: &Point, out: &mut Vec<u8>) -> Stats {
    let mut encoder = Encoder::new(usize::MAX);
    encoder.point(point);
    for body in encoder.bodies() {
        out.extend_from_slice(&body.bytes);
    }
    encoder.stats()
}

/// What [`fields`] left out.
#[derive(Default)]
struct Skipped {
    non_finite: u64,
    unusable_names: u64,
}

/// Appends `,key=value` for each usable tag, sorted by key; returns how many tags
/// were left out.
fn tags(out: &mut Vec<u8>, row: &Row, order: &mut Vec<usize>) -> u64 {
    let tags = &row.tags;
    order.clear();
    order.extend(0..tags.len());
    order.sort_by(|&a, &b| tags[a].key.as_str().cmp(tags[b].key.as_str()));
    let mut skipped = 0;
    for (i, &t) in order.iter().enumerate() {
        let tag = &tags[t];
        // Of equal keys the stable sort keeps row order: the last one wins.
        if order
            .get(i + 1)
            .is_some_and(|&n| tags[n].key.as_str() == tag.key.as_str())
        {
            skipped += 1;
            continue;
        }
        let key = escape::usable(&tag.key);
        let value = escape::usable(&tag.value);
        if key.is_empty() || value.is_empty() || key == "time" {
            skipped += 1;
            continue;
        }
        out.push(b',');
        escape::tag(out, key);
        out.push(b'=');
        escape::tag(out, value);
    }
    skipped
}

/// Appends `key=value[,key=value...]` for each writable field; returns how many
/// were written and what was left out.
fn fields(out: &mut Vec<u8>, row: &Row) -> (usize, Skipped) {
    let mut written = 0;
    let mut skipped = Skipped::default();
    for field in row.fields.iter() {
        let key = escape::usable(&field.key);
        if key.is_empty() || key == "time" {
            skipped.unusable_names += 1;
            continue;
        }
        if let Value::Float(x) = field.value {
            if !x.is_finite() {
                skipped.non_finite += 1;
                continue;
            }
        }
        if written > 0 {
            out.push(b',');
        }
        escape::field_key(out, key);
        out.push(b'=');
        value(out, &field.value);
        written += 1;
    }
    (written, skipped)
}

/// Appends a field value; every number is written as a float.
fn value(out: &mut Vec<u8>, value: &Value) {
    match value {
        Value::Float(x) => out.extend_from_slice(zmij::Buffer::new().format_finite(*x).as_bytes()),
        Value::Int(i) => out.extend_from_slice(itoa::Buffer::new().format(*i).as_bytes()),
        Value::UInt(u) => out.extend_from_slice(itoa::Buffer::new().format(*u).as_bytes()),
        Value::Bool(true) => out.extend_from_slice(b"true"),
        Value::Bool(false) => out.extend_from_slice(b"false"),
        Value::Str(s) => escape::string_field(out, s),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use idic_plugin_api::{Field, Tag};

    fn row(tags: &[(&str, &str)], fields: Vec<(&str, Value)>) -> Row {
        Row {
            tags: tags.iter().map(|(k, v)| Tag::new(k, v)).collect(),
            fields: fields.into_iter().map(|(k, v)| Field::new(k, v)).collect(),
        }
    }

    fn point(measurement: &str, rows: Vec<Row>) -> Point {
        Point {
            measurement: measurement.into(),
            time: 1_700_000_000,
            rows: rows.into(),
        }
    }

    fn check(point: &Point, expected: &str) -> Stats {
        let mut out = Vec::new();
        let stats = encode_point(point, &mut out);
        assert_eq!(String::from_utf8(out).unwrap(), expected);
        stats
    }

    #[test]
    fn scalar_point_is_one_float_line() {
        check(
            &point(
                "cluster.cpu.idle.avg",
                vec![row(
                    &[("cluster", "c1")],
                    vec![("value", Value::Float(97.5))],
                )],
            ),
            "cluster.cpu.idle.avg,cluster=c1 value=97.5 1700000000\n",
        );
    }

    #[test]
    fn tags_are_sorted_by_key() {
        check(
            &point(
                "cluster.protostats.nfs",
                vec![row(
                    &[("cluster", "c1"), ("op_name", "read"), ("class_name", "read")],
                    vec![("op_count", Value::Float(12.0)), ("op_rate", Value::Float(2.4))],
                )],
            ),
            "cluster.protostats.nfs,class_name=read,cluster=c1,op_name=read op_count=12.0,op_rate=2.4 1700000000\n",
        );
    }

    #[test]
    fn every_number_is_a_float_field() {
        check(
            &point(
                "m",
                vec![row(
                    &[],
                    vec![
                        ("f", Value::Float(1.0)),
                        ("i", Value::Int(-5)),
                        ("u", Value::UInt(u64::MAX)),
                        ("big", Value::Float(1e21)),
                        ("small", Value::Float(-2.5e-300)),
                        ("zero", Value::Float(-0.0)),
                    ],
                )],
            ),
            "m f=1.0,i=-5,u=18446744073709551615,big=1e+21,small=-2.5e-300,zero=-0.0 1700000000\n",
        );
    }

    #[test]
    fn bools_and_strings_keep_their_types() {
        check(
            &point(
                "m",
                vec![row(
                    &[("t", "v")],
                    vec![
                        ("ok", Value::Bool(true)),
                        ("bad", Value::Bool(false)),
                        ("s", Value::Str("say \"hi\"\nC:\\".into())),
                    ],
                )],
            ),
            "m,t=v ok=true,bad=false,s=\"say \\\"hi\\\"\nC:\\\\\" 1700000000\n",
        );
    }

    #[test]
    fn non_finite_fields_are_left_out_and_empty_rows_skipped() {
        let stats = check(
            &point(
                "m",
                vec![
                    row(
                        &[],
                        vec![("a", Value::Float(f64::NAN)), ("b", Value::Float(2.0))],
                    ),
                    row(&[], vec![("a", Value::Float(f64::INFINITY))]),
                    row(&[], vec![("a", Value::Float(f64::NEG_INFINITY))]),
                ],
            ),
            "m b=2.0 1700000000\n",
        );
        assert_eq!(stats.non_finite, 3);
        assert_eq!(stats.empty_rows, 2);
        assert_eq!(stats.lines, 1);
    }

    #[test]
    fn time_fields_and_unusable_tags_are_left_out() {
        let stats = check(
            &point(
                "node.summary.protocol",
                vec![row(
                    &[
                        ("cluster", "c1"),
                        ("node", ""),
                        ("", "x"),
                        ("time", "1"),
                        ("class", "\\"),
                    ],
                    vec![("time", Value::Float(1.7e9)), ("in", Value::Float(3.0))],
                )],
            ),
            "node.summary.protocol,cluster=c1 in=3.0 1700000000\n",
        );
        assert_eq!(stats.unusable_names, 5);
    }

    #[test]
    fn duplicate_tag_keys_keep_the_last() {
        check(
            &point(
                "m",
                vec![row(
                    &[("a", "1"), ("b", "2"), ("a", "3")],
                    vec![("v", Value::Float(1.5))],
                )],
            ),
            "m,a=3,b=2 v=1.5 1700000000\n",
        );
    }

    #[test]
    fn hostile_names_are_escaped() {
        check(
            &point(
                "m x,y=z",
                vec![row(
                    &[("k ,=\"", "v ,=\"é"), ("path", "C:\\a b\\")],
                    vec![("f ,=\"", Value::Str("".into()))],
                )],
            ),
            "m\\ x\\,y=z,k\\ \\,\\=\"=v\\ \\,\\=\"é,path=C:\\a\\ b f\\ \\,\\=\"=\"\" 1700000000\n",
        );
    }

    #[test]
    fn unusable_measurements_are_skipped() {
        for name in ["", "\\", "#comment"] {
            let stats = check(
                &point(name, vec![row(&[], vec![("v", Value::Float(1.0))])]),
                "",
            );
            assert_eq!(stats.bad_measurements, 1, "{name:?}");
        }
    }

    #[test]
    fn negative_and_zero_times_are_written() {
        let mut p = point("m", vec![row(&[], vec![("v", Value::Float(1.0))])]);
        p.time = -1;
        check(&p, "m v=1.0 -1\n");
        p.time = 0;
        check(&p, "m v=1.0 0\n");
    }

    #[test]
    fn bodies_are_cut_at_line_boundaries_below_the_limit() {
        let line = "cluster.cpu.idle.avg,cluster=c1 value=97.5 1700000000\n";
        let p = point(
            "cluster.cpu.idle.avg",
            (0..10)
                .map(|_| row(&[("cluster", "c1")], vec![("value", Value::Float(97.5))]))
                .collect(),
        );
        let mut e = Encoder::new(3 * line.len());
        e.point(&p);
        let sizes: Vec<(usize, usize)> = e
            .bodies()
            .iter()
            .map(|b| (b.bytes.len(), b.lines))
            .collect();
        assert_eq!(
            sizes,
            [
                (3 * line.len(), 3),
                (3 * line.len(), 3),
                (3 * line.len(), 3),
                (line.len(), 1)
            ]
        );
        let all: Vec<u8> = e.bodies().iter().flat_map(|b| b.bytes.clone()).collect();
        assert_eq!(String::from_utf8(all).unwrap(), line.repeat(10));
        assert_eq!(e.stats().lines, 10);
    }

    #[test]
    fn a_line_longer_than_the_limit_gets_its_own_body() {
        let mut e = Encoder::new(10);
        e.point(&point("m", vec![row(&[], vec![("v", Value::Float(1.0))])]));
        e.point(&point(
            "long_measurement",
            vec![row(&[], vec![("v", Value::Float(1.0))])],
        ));
        e.point(&point("m", vec![row(&[], vec![("v", Value::Float(2.0))])]));
        let lines: Vec<usize> = e.bodies().iter().map(|b| b.lines).collect();
        assert_eq!(lines, [1, 1, 1]);
    }

    #[test]
    fn a_batch_without_writable_rows_has_no_body() {
        let mut e = Encoder::new(1 << 20);
        e.point(&point(
            "m",
            vec![row(&[], vec![("v", Value::Float(f64::NAN))])],
        ));
        assert!(e.bodies().is_empty());
        assert_eq!(e.stats().empty_rows, 1);
    }

    #[test]
    fn clear_reuses_buffers_and_resets_stats() {
        let mut e = Encoder::new(1 << 20);
        e.point(&point("m", vec![row(&[], vec![("v", Value::Float(1.0))])]));
        assert_eq!(e.bodies().len(), 1);
        e.clear();
        assert!(e.bodies().is_empty());
        assert_eq!(e.stats(), Stats::default());
        e.point(&point("n", vec![row(&[], vec![("v", Value::Float(2.0))])]));
        assert_eq!(e.bodies()[0].bytes, b"n v=2.0 1700000000\n");
        assert_eq!(e.bodies()[0].lines, 1);
    }
}
