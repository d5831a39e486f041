//! The on-disk encoding of one batch: a compact, versioned, length-prefixed
//! binary form of `idic_plugin_api::Point`s (pure, no I/O).
//!
//! Little-endian throughout. A batch is `u32` points, then each point:
//! measurement (`str`), time (`i64`), `u32` rows; a row is `u32` tags of two
//! `str`s each, then `u32` fields of a `str` key and a value: one tag byte
//! (0 float, 1 int, 2 uint, 3 bool, 4 string) and `f64`/`i64`/`u64`/`u8`/`str`.
//! A `str` is a `u32` byte length and UTF-8 bytes. Framing, checksums and the
//! format version are the segment file's business (`segment.rs`); this module
//! only refuses bytes that do not decode, never panics on them.

use idic_plugin_api::{Field, Point, Row, Tag, Value};

/// Why bytes are not a batch.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DecodeError(pub &'static str);

impl std::fmt::Display for DecodeError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.0)
    }
}

/// Appends the encoding of `points` to `out`.
pub fn encode(points: &[Point], out: &mut Vec<u8>) {
    out.reserve(encoded_len(points));
    put_len(out, points.len());
    for p in points {
        put_str(out, &p.measurement);
        out.extend_from_slice(&p.time.to_le_bytes());
        put_len(out, p.rows.len());
        for row in p.rows.iter() {
            put_len(out, row.tags.len());
            for t in row.tags.iter() {
                put_str(out, &t.key);
                put_str(out, &t.value);
            }
            put_len(out, row.fields.len());
            for f in row.fields.iter() {
                put_str(out, &f.key);
                match &f.value {
                    Value::Float(v) => {
                        out.push(0);
                        out.extend_from_slice(&v.to_le_bytes());
                    }
                    Value::Int(v) => {
                        out.push(1);
                        out.extend_from_slice(&v.to_le_bytes());
                    }
                    Value::UInt(v) => {
                        out.push(2);
                        out.extend_from_slice(&v.to_le_bytes());
                    }
                    Value::Bool(v) => {
                        out.push(3);
                        out.push(u8::from(*v));
                    }
                    Value::Str(s) => {
                        out.push(4);
                        put_str(out, s);
                    }
                }
            }
        }
    }
}

/// The exact length [`encode`] writes for `points`; also the byte size the
/// queues count a batch as.
pub fn encoded_len(points: &[Point]) -> usize {
    let mut n = 4;
    for p in points {
        n += 4 + p.measurement.len() + 8 + 4;
        for row in p.rows.iter() {
            n += 4 + 4;
            n += row
                .tags
                .iter()
                .map(|t| 8 + t.key.len() + t.value.len())
                .sum::<usize>();
            n += row
                .fields
                .iter()
                .map(|f| {
                    4 + f.key.len()
                        + 1
                        + match &f.value {
                            Value::Bool(_) => 1,
                            Value::Str(s) => 4 + s.len(),
                            _ => 8,
                        }
                })
                .sum::<usize>();
        }
    }
    n
}

/// The points encoded in `bytes`; an error when they are not exactly one batch.
pub fn decode(bytes: &[u8]) -> Result<Vec<Point>, DecodeError> {
    let mut r = Reader { bytes, at: 0 };
    let n = r.len()?;
    let mut points = Vec::with_capacity(n.min(bytes.len() / 16));
    for _ in 0..n {
        let measurement = r.str()?;
        let time = i64::from_le_bytes(r.array()?);
        let nrows = r.len()?;
        let mut rows = Vec::with_capacity(nrows.min(r.left() / 8));
        for _ in 0..nrows {
            let ntags = r.len()?;
            let mut tags = Vec::with_capacity(ntags.min(r.left() / 8));
            for _ in 0..ntags {
                let key = r.str()?;
                let value = r.str()?;
                tags.push(Tag {
                    key: key.into(),
                    value: value.into(),
                });
            }
            let nfields = r.len()?;
            let mut fields = Vec::with_capacity(nfields.min(r.left() / 6));
            for _ in 0..nfields {
                let key = r.str()?;
                let value = match r.byte()? {
                    0 => Value::Float(f64::from_le_bytes(r.array()?)),
                    1 => Value::Int(i64::from_le_bytes(r.array()?)),
                    2 => Value::UInt(u64::from_le_bytes(r.array()?)),
                    3 => Value::Bool(r.byte()? != 0),
                    4 => Value::Str(r.str()?.into()),
                    _ => return Err(DecodeError("unknown value type")),
                };
                fields.push(Field {
                    key: key.into(),
                    value,
                });
            }
            rows.push(Row {
                tags: tags.into(),
                fields: fields.into(),
            });
        }
        points.push(Point {
            measurement: measurement.into(),
            time,
            rows: rows.into(),
        });
    }
    if r.left() != 0 {
        return Err(DecodeError("trailing bytes after the batch"));
    }
    Ok(points)
}

fn put_len(out: &mut Vec<u8>, n: usize) {
    out.extend_from_slice(&u32::try_from(n).unwrap_or(u32::MAX).to_le_bytes());
}

fn put_str(out: &mut Vec<u8>, s: &str) {
    put_len(out, s.len());
    out.extend_from_slice(s.as_bytes());
}

struct Reader<'a> {
    bytes: &'a [u8],
    at: usize,
}

impl<'a> Reader<'a> {
    fn left(&self) -> usize {
        self.bytes.len() - self.at
    }

    fn take(&mut self, n: usize) -> Result<&'a [u8], DecodeError> {
        if self.left() < n {
            return Err(DecodeError("the batch ends early"));
        }
        let s = &self.bytes[self.at..self.at + n];
        self.at += n;
        Ok(s)
    }

    fn array<const N: usize>(&mut self) -> Result<[u8; N], DecodeError> {
        let mut a = [0; N];
        a.copy_from_slice(self.take(N)?);
        Ok(a)
    }

    fn byte(&mut self) -> Result<u8, DecodeError> {
        Ok(self.take(1)?[0])
    }

    fn len(&mut self) -> Result<usize, DecodeError> {
        Ok(u32::from_le_bytes(self.array()?) as usize)
    }

    fn str(&mut self) -> Result<&'a str, DecodeError> {
        let n = self.len()?;
        std::str::from_utf8(self.take(n)?).map_err(|_| DecodeError("a string is not UTF-8"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> Vec<Point> {
        vec![
            Point {
                measurement: "cluster.cpu.idle.avg".into(),
                time: 1_700_000_000,
                rows: vec![Row {
                    tags: vec![Tag::new("cluster", "c1")].into(),
                    fields: vec![Field::new("value", Value::Float(93.5))].into(),
                }]
                .into(),
            },
            Point {
                measurement: "weird".into(),
                time: -5,
                rows: vec![Row {
                    tags: vec![Tag::new("node", "ü"), Tag::new("", "")].into(),
                    fields: vec![
                        Field::new("i", Value::Int(-3)),
                        Field::new("u", Value::UInt(u64::MAX)),
                        Field::new("b", Value::Bool(true)),
                        Field::new("s", Value::Str("x y".into())),
                    ]
                    .into(),
                }]
                .into(),
            },
        ]
    }

    #[test]
    fn a_batch_decodes_to_the_points_it_was_encoded_from() {
        let points = sample();
        let mut bytes = Vec::new();
        encode(&points, &mut bytes);
        assert_eq!(bytes.len(), encoded_len(&points));
        assert_eq!(decode(&bytes).unwrap(), points);
        let mut empty = Vec::new();
        encode(&[], &mut empty);
        assert_eq!(decode(&empty).unwrap(), Vec::<Point>::new());
    }

    #[test]
    fn truncated_or_padded_bytes_are_an_error_not_a_panic() {
        let mut bytes = Vec::new();
        encode(&sample(), &mut bytes);
        for cut in 0..bytes.len() {
            assert!(decode(&bytes[..cut]).is_err(), "cut at {cut}");
        }
        bytes.push(0);
        assert!(decode(&bytes).is_err());
        // A huge count in a few bytes allocates nothing large.
        assert!(decode(&[0xff, 0xff, 0xff, 0xff]).is_err());
    }
}
