//! Summary answers (`/platform/3/statistics/summary/{protocol,client,drive}`):
//! which endpoint, which measurement, and exactly which tags and fields each row
//! gives. Rows are read one by one from the body's bytes into fixed slots (an
//! answer may hold thousands); the shared rules live beside it (error bodies in
//! `envelope.rs`, numbers as floats in `json.rs`).

use std::borrow::Cow;

use idic_plugin_api::{Field, Point, Row, Tag, Value};
use serde::de::{IgnoredAny, MapAccess, SeqAccess};

use super::envelope::{self, Elements};
use super::json::{Expect, Scalar, Shape, Text};
use super::{DecodeError, Decoded, Options, Problem};

/// Which summary endpoint an answer came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SummaryKind {
    /// `/platform/3/statistics/summary/protocol`: per node, protocol and operation.
    Protocol,
    /// `/platform/3/statistics/summary/client`: per client and operation class.
    Client,
    /// `/platform/3/statistics/summary/drive`: per drive.
    Drive,
}

/// Decodes a summary answer, straight from its bytes: each row becomes its own
/// [`Point`] (measurement [`SummaryKind::measurement`], time = the row's `time`)
/// with exactly the tags and fields the contract lists for that kind, in that
/// order, `cluster` first. Absent or null entries are left out; `time` is never
/// a field; no `degraded` tag (gostats adds none to summary points).
pub fn summary(kind: SummaryKind, body: &[u8], opts: &Options) -> Result<Decoded, DecodeError> {
    let mut out = Decoded::default();
    let rows = Rows {
        kind,
        opts,
        out: &mut out,
        index: 0,
    };
    envelope::read(body, kind.answer_key(), rows)?;
    Ok(out)
}

/// The most tags and fields a summary row has (the client and protocol tables).
pub(super) const MAX_TAGS: usize = 10;
pub(super) const MAX_FIELDS: usize = 16;

impl SummaryKind {
    /// The measurement name: `node.summary.protocol`, `.client` or `.drive`.
    pub fn measurement(&self) -> &'static str {
        match self {
            SummaryKind::Protocol => "node.summary.protocol",
            SummaryKind::Client => "node.summary.client",
            SummaryKind::Drive => "node.summary.drive",
        }
    }

    /// The request path and query, e.g.
    /// `/platform/3/statistics/summary/protocol?degraded=true`.
    pub fn path(&self) -> &'static str {
        match self {
            SummaryKind::Protocol => "/platform/3/statistics/summary/protocol?degraded=true",
            SummaryKind::Client => "/platform/3/statistics/summary/client?degraded=true",
            SummaryKind::Drive => "/platform/3/statistics/summary/drive?degraded=true",
        }
    }

    /// The answer's array key: `protocol`, `client` or `drive`.
    pub fn answer_key(&self) -> &'static str {
        match self {
            SummaryKind::Protocol => "protocol",
            SummaryKind::Client => "client",
            SummaryKind::Drive => "drive",
        }
    }

    /// Tags after `cluster`, each with where it is read in a row.
    pub(super) fn tags(&self) -> &'static [(&'static str, &'static [&'static str])] {
        match self {
            SummaryKind::Protocol => &[
                ("node", &["node"]),
                ("class", &["class"]),
                ("operation", &["operation"]),
                ("protocol", &["protocol"]),
            ],
            SummaryKind::Client => &[
                ("node", &["node"]),
                ("class", &["class"]),
                ("local_addr", &["local_addr"]),
                ("local_name", &["local_name"]),
                ("protocol", &["protocol"]),
                ("remote_addr", &["remote_addr"]),
                ("remote_name", &["remote_name"]),
                ("user_id", &["user", "id"]),
                ("user_name", &["user", "name"]),
                ("user_type", &["user", "type"]),
            ],
            SummaryKind::Drive => &[("drive_id", &["drive_id"]), ("type", &["type"])],
        }
    }

    /// Fields, in the contract's order.
    pub(super) fn fields(&self) -> &'static [&'static str] {
        match self {
            SummaryKind::Protocol => &[
                "in",
                "in_avg",
                "in_max",
                "in_min",
                "in_standard_dev",
                "operation_count",
                "operation_rate",
                "out",
                "out_avg",
                "out_max",
                "out_min",
                "out_standard_dev",
                "time_avg",
                "time_max",
                "time_min",
                "time_standard_dev",
            ],
            SummaryKind::Client => &[
                "in",
                "in_avg",
                "in_max",
                "in_min",
                "num_operations",
                "operation_rate",
                "out",
                "out_avg",
                "out_max",
                "out_min",
                "time_avg",
                "time_max",
                "time_min",
            ],
            SummaryKind::Drive => &[
                "access_latency",
                "access_slow",
                "busy",
                "bytes_in",
                "bytes_out",
                "iosched_latency",
                "iosched_queue",
                "used_bytes_percent",
                "used_inodes",
                "xfer_size_in",
                "xfer_size_out",
                "xfers_in",
                "xfers_out",
            ],
        }
    }
}

/// The answer's rows, each decoded into `out` as the parser reaches it.
struct Rows<'o> {
    kind: SummaryKind,
    opts: &'o Options,
    out: &'o mut Decoded,
    index: usize,
}

impl<'de> Elements<'de> for Rows<'_> {
    fn reset(&mut self) {
        *self.out = Decoded::default();
        self.index = 0;
    }

    fn next<A: SeqAccess<'de>>(&mut self, seq: &mut A) -> Result<bool, A::Error> {
        let seed = Expect(RowSeed {
            kind: self.kind,
            opts: self.opts,
        });
        let Some(row) = seq.next_element_seed(seed)? else {
            return Ok(false);
        };
        match row {
            Ok(point) => self.out.points.push(point),
            Err(why) => self.out.problems.push(Problem::Unusable {
                key: self.kind.measurement().to_string(),
                devid: 0,
                why: format!("row {}: {why}", self.index),
            }),
        }
        self.index += 1;
        Ok(true)
    }
}

/// Reads one row: its point, or why it is unusable.
struct RowSeed<'o> {
    kind: SummaryKind,
    opts: &'o Options,
}

impl<'de> Shape<'de> for RowSeed<'_> {
    type Out = Result<Point, String>;

    fn object<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Out, A::Error> {
        let (tag_spec, field_spec) = (self.kind.tags(), self.kind.fields());
        let mut time: Option<Scalar> = None;
        let mut tags: [Option<Cow<'de, str>>; MAX_TAGS] = Default::default();
        let mut fields = [None; MAX_FIELDS];
        while let Some(Text(name)) = map.next_key::<Text>()? {
            if name == "time" {
                time = Some(map.next_value()?);
            } else if let Ok(i) = field_spec.binary_search(&&*name) {
                fields[i] = map.next_value::<Scalar>()?.as_f64();
            } else if let Some(i) = tag_spec
                .iter()
                .position(|(_, p)| p.len() == 1 && p[0] == name)
            {
                tags[i] = map.next_value::<Scalar>()?.into_tag_text();
            } else if tag_spec.iter().any(|(_, p)| p.len() == 2 && p[0] == name) {
                let nested = Nested {
                    spec: tag_spec,
                    parent: &name,
                    tags: &mut tags,
                };
                map.next_value_seed(Expect(nested))?;
            } else {
                map.next_value::<IgnoredAny>()?;
            }
        }
        Ok(self.point(time, tags, fields))
    }

    fn other(self, value: Scalar<'de>) -> Self::Out {
        Err(format!("{}, not an object", value.kind()))
    }
}

impl RowSeed<'_> {
    fn point(
        &self,
        time: Option<Scalar>,
        tags: [Option<Cow<'_, str>>; MAX_TAGS],
        fields: [Option<f64>; MAX_FIELDS],
    ) -> Result<Point, String> {
        let time = time
            .as_ref()
            .and_then(Scalar::as_seconds)
            .ok_or("no time")?;
        let fields: Vec<Field> = self
            .kind
            .fields()
            .iter()
            .zip(fields)
            .filter_map(|(name, x)| Some(Field::new(name, Value::Float(x?))))
            .collect();
        if fields.is_empty() {
            return Err("no numeric fields".to_string());
        }
        let mut row_tags = vec![Tag::new("cluster", &self.opts.cluster)];
        for ((name, _), text) in self.kind.tags().iter().zip(&tags) {
            if let Some(text) = text {
                row_tags.push(Tag::new(name, text));
            }
        }
        Ok(Point {
            measurement: self.kind.measurement().into(),
            time,
            rows: vec![Row {
                tags: row_tags.into(),
                fields: fields.into(),
            }]
            .into(),
        })
    }
}

/// Tags read one level down (`user.id`, `user.name`, `user.type`); a value
/// that is not an object holds none.
struct Nested<'s, 't, 'de> {
    spec: &'static [(&'static str, &'static [&'static str])],
    parent: &'s str,
    tags: &'t mut [Option<Cow<'de, str>>; MAX_TAGS],
}

impl<'de> Shape<'de> for Nested<'_, '_, 'de> {
    type Out = ();

    fn object<A: MapAccess<'de>>(mut self, mut map: A) -> Result<(), A::Error> {
        self.clear();
        while let Some(Text(name)) = map.next_key::<Text>()? {
            let at = self
                .spec
                .iter()
                .position(|(_, p)| p.len() == 2 && p[0] == self.parent && p[1] == name);
            match at {
                Some(i) => self.tags[i] = map.next_value::<Scalar>()?.into_tag_text(),
                None => {
                    map.next_value::<IgnoredAny>()?;
                }
            }
        }
        Ok(())
    }

    fn other(mut self, _value: Scalar<'de>) {
        self.clear();
    }
}

impl Nested<'_, '_, '_> {
    /// A repeated parent replaces what an earlier one gave.
    fn clear(&mut self) {
        for (slot, (_, path)) in self.tags.iter_mut().zip(self.spec) {
            if path.len() == 2 && path[0] == self.parent {
                *slot = None;
            }
        }
    }
}
