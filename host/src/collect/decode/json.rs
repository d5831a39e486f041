//! Streaming building blocks: answers are decoded straight from their bytes by
//! serde_json's parser, keeping only what becomes a point. No `serde_json::Value`
//! tree of the answer is ever built: for a 100 KB statistics answer that tree
//! was several times the body's size and most of the decoder's allocations.
//!
//! - [`Scalar`]: one JSON value reduced to what the decoder reads of a small
//!   field (a number, a string, or only the kind of anything larger).
//! - [`Text`]: a string borrowed from the body when it has no escapes.
//! - [`Shape`] and [`Expect`]: "this should be an object (or an array); anything
//!   else is handed over as a [`Scalar`]", for the envelope, entries, rows,
//!   values and [`Scalar`] itself: the one visitor of any JSON value.

use std::borrow::Cow;
use std::fmt;

use serde::de::{self, DeserializeSeed, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};

/// A small JSON value: numbers and strings kept, larger values only named.
#[derive(Debug, Clone, PartialEq)]
pub(super) enum Scalar<'de> {
    Null,
    Bool(bool),
    Int(i64),
    UInt(u64),
    Float(f64),
    Str(Cow<'de, str>),
    /// An array or object, by its kind ("an array", "an object").
    Nested(&'static str),
}

/// A string from the body, borrowed when it has no escapes.
pub(super) struct Text<'de>(pub Cow<'de, str>);

/// What to do with a JSON value, by its kind: this crate's one serde visitor
/// for "any value". An object or array goes to [`Shape::object`] or
/// [`Shape::array`]; by default it is read past and handed to [`Shape::other`]
/// as [`Scalar::Nested`], as every other value is handed over as its [`Scalar`].
pub(super) trait Shape<'de>: Sized {
    type Out;

    /// The value is an object.
    fn object<A: MapAccess<'de>>(self, map: A) -> Result<Self::Out, A::Error> {
        drain_map(map)?;
        Ok(self.other(Scalar::Nested("an object")))
    }

    /// The value is an array.
    fn array<A: SeqAccess<'de>>(self, seq: A) -> Result<Self::Out, A::Error> {
        drain_seq(seq)?;
        Ok(self.other(Scalar::Nested("an array")))
    }

    /// The value is of another kind (see [`Scalar::kind`]).
    fn other(self, value: Scalar<'de>) -> Self::Out;
}

/// Reads one value with a [`Shape`].
pub(super) struct Expect<S>(pub S);

impl<'de> Scalar<'de> {
    /// An integer, as serde_json's `as_i64` reads one (floats are not).
    pub fn as_i64(&self) -> Option<i64> {
        match *self {
            Scalar::Int(i) => Some(i),
            Scalar::UInt(u) => i64::try_from(u).ok(),
            _ => None,
        }
    }

    /// A number or boolean as a float (booleans: 1.0 / 0.0).
    pub fn as_f64(&self) -> Option<f64> {
        match *self {
            Scalar::Int(i) => Some(i as f64),
            Scalar::UInt(u) => Some(u as f64),
            Scalar::Float(x) => Some(x),
            Scalar::Bool(b) => Some(if b { 1.0 } else { 0.0 }),
            _ => None,
        }
    }

    /// A Unix time in seconds: an integer, or a finite float truncated.
    pub fn as_seconds(&self) -> Option<i64> {
        match *self {
            Scalar::Bool(_) => None,
            Scalar::Float(x) if !x.is_finite() => None,
            _ => self.as_i64().or_else(|| self.as_f64().map(|x| x as i64)),
        }
    }

    /// The value's kind, for messages: "null", "a boolean", "a number",
    /// "a string", "an array" or "an object".
    pub fn kind(&self) -> &'static str {
        match self {
            Scalar::Null => "null",
            Scalar::Bool(_) => "a boolean",
            Scalar::Int(_) | Scalar::UInt(_) | Scalar::Float(_) => "a number",
            Scalar::Str(_) => "a string",
            Scalar::Nested(kind) => kind,
        }
    }

    pub fn as_str(&self) -> Option<&str> {
        match self {
            Scalar::Str(s) => Some(s),
            _ => None,
        }
    }

    /// A tag's text: strings as they are, numbers without `.0`, booleans as
    /// `true`/`false`; nothing for null, arrays and objects.
    pub fn into_tag_text(self) -> Option<Cow<'de, str>> {
        Some(match self {
            Scalar::Str(s) => s,
            Scalar::Int(i) => Cow::Owned(i.to_string()),
            Scalar::UInt(u) => Cow::Owned(u.to_string()),
            Scalar::Float(x) => Cow::Owned(x.to_string()),
            Scalar::Bool(b) => Cow::Borrowed(if b { "true" } else { "false" }),
            Scalar::Null | Scalar::Nested(_) => return None,
        })
    }
}

/// The value as JSON text (arrays and objects only by their kind).
impl fmt::Display for Scalar<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Scalar::Null => f.write_str("null"),
            Scalar::Bool(b) => write!(f, "{b}"),
            Scalar::Int(i) => write!(f, "{i}"),
            Scalar::UInt(u) => write!(f, "{u}"),
            Scalar::Float(x) => match serde_json::Number::from_f64(*x) {
                Some(n) => write!(f, "{n}"),
                None => write!(f, "{x}"),
            },
            Scalar::Str(s) => write!(f, "{s:?}"),
            Scalar::Nested(kind) => f.write_str(kind),
        }
    }
}

impl<'de> de::Deserialize<'de> for Scalar<'de> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        Expect(KeepScalar).deserialize(d)
    }
}

/// Reads any value as a [`Scalar`]: arrays and objects are read past and named.
struct KeepScalar;

impl<'de> Shape<'de> for KeepScalar {
    type Out = Scalar<'de>;

    fn other(self, value: Scalar<'de>) -> Scalar<'de> {
        value
    }
}

impl<'de> de::Deserialize<'de> for Text<'de> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_str(TextVisitor)
    }
}

struct TextVisitor;

impl<'de> Visitor<'de> for TextVisitor {
    type Value = Text<'de>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a string")
    }

    fn visit_borrowed_str<E>(self, s: &'de str) -> Result<Self::Value, E> {
        Ok(Text(Cow::Borrowed(s)))
    }

    fn visit_str<E>(self, s: &str) -> Result<Self::Value, E> {
        Ok(Text(Cow::Owned(s.to_owned())))
    }

    fn visit_string<E>(self, s: String) -> Result<Self::Value, E> {
        Ok(Text(Cow::Owned(s)))
    }
}

impl<'de, S: Shape<'de>> DeserializeSeed<'de> for Expect<S> {
    type Value = S::Out;

    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
        d.deserialize_any(ShapeVisitor(self.0))
    }
}

struct ShapeVisitor<S>(S);

impl<'de, S: Shape<'de>> Visitor<'de> for ShapeVisitor<S> {
    type Value = S::Out;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("any JSON value")
    }

    fn visit_bool<E>(self, b: bool) -> Result<Self::Value, E> {
        Ok(self.0.other(Scalar::Bool(b)))
    }

    fn visit_i64<E>(self, i: i64) -> Result<Self::Value, E> {
        Ok(self.0.other(Scalar::Int(i)))
    }

    fn visit_u64<E>(self, u: u64) -> Result<Self::Value, E> {
        Ok(self.0.other(Scalar::UInt(u)))
    }

    fn visit_f64<E>(self, x: f64) -> Result<Self::Value, E> {
        Ok(self.0.other(Scalar::Float(x)))
    }

    fn visit_borrowed_str<E>(self, s: &'de str) -> Result<Self::Value, E> {
        Ok(self.0.other(Scalar::Str(Cow::Borrowed(s))))
    }

    fn visit_str<E>(self, s: &str) -> Result<Self::Value, E> {
        Ok(self.0.other(Scalar::Str(Cow::Owned(s.to_owned()))))
    }

    fn visit_string<E>(self, s: String) -> Result<Self::Value, E> {
        Ok(self.0.other(Scalar::Str(Cow::Owned(s))))
    }

    fn visit_unit<E>(self) -> Result<Self::Value, E> {
        Ok(self.0.other(Scalar::Null))
    }

    fn visit_none<E>(self) -> Result<Self::Value, E> {
        Ok(self.0.other(Scalar::Null))
    }

    fn visit_seq<A: SeqAccess<'de>>(self, seq: A) -> Result<Self::Value, A::Error> {
        self.0.array(seq)
    }

    fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<Self::Value, A::Error> {
        self.0.object(map)
    }
}

/// Reads past the rest of an object.
pub(super) fn drain_map<'de, A: MapAccess<'de>>(mut map: A) -> Result<(), A::Error> {
    while map.next_entry::<IgnoredAny, IgnoredAny>()?.is_some() {}
    Ok(())
}

/// Reads past the rest of an array.
pub(super) fn drain_seq<'de, A: SeqAccess<'de>>(mut seq: A) -> Result<(), A::Error> {
    while seq.next_element::<IgnoredAny>()?.is_some() {}
    Ok(())
}

/// Runs `seed` over a whole body; anything after the value but whitespace is an
/// error, as for `serde_json::from_slice`.
pub(super) fn read_body<'de, S: DeserializeSeed<'de>>(
    body: &'de [u8],
    seed: S,
) -> Result<S::Value, serde_json::Error> {
    let mut de = serde_json::Deserializer::from_slice(body);
    let value = seed.deserialize(&mut de)?;
    de.end()?;
    Ok(value)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scalar(json: &str) -> Scalar<'_> {
        serde_json::from_str(json).expect("valid json")
    }

    #[test]
    fn scalars_read_numbers_as_serde_json_values_do() {
        assert_eq!(scalar("5").as_i64(), Some(5));
        assert_eq!(scalar("-5").as_i64(), Some(-5));
        assert_eq!(scalar("5.0").as_i64(), None);
        assert_eq!(scalar("18446744073709551615").as_i64(), None);
        assert_eq!(scalar("true").as_f64(), Some(1.0));
        assert_eq!(scalar("1.5").as_seconds(), Some(1));
        assert_eq!(scalar("18446744073709551615").as_seconds(), Some(i64::MAX));
        assert_eq!(scalar("\"5\"").as_seconds(), None);
    }

    #[test]
    fn tag_texts_print_numbers_without_a_fraction() {
        assert_eq!(scalar("7").into_tag_text().as_deref(), Some("7"));
        assert_eq!(scalar("7.0").into_tag_text().as_deref(), Some("7"));
        assert_eq!(scalar("7.5").into_tag_text().as_deref(), Some("7.5"));
        assert_eq!(scalar("false").into_tag_text().as_deref(), Some("false"));
        assert_eq!(scalar("null").into_tag_text(), None);
        assert_eq!(scalar("[1]").into_tag_text(), None);
    }

    #[test]
    fn larger_values_are_named_by_kind_and_printed_as_json_otherwise() {
        assert_eq!(scalar("[1,[2]]"), Scalar::Nested("an array"));
        assert_eq!(scalar(r#"{"a":{"b":1}}"#), Scalar::Nested("an object"));
        assert_eq!(scalar(r#""bad""#).to_string(), r#""bad""#);
        assert_eq!(scalar("1.5").to_string(), "1.5");
    }

    #[test]
    fn strings_without_escapes_are_borrowed() {
        let body = r#""plain""#;
        let text: Text<'_> = serde_json::from_str(body).expect("a string");
        assert!(matches!(text.0, Cow::Borrowed("plain")));
        let text: Text<'_> = serde_json::from_str(r#""a\"b""#).expect("a string");
        assert_eq!(text.0, "a\"b");
    }
}
