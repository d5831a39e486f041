//! Flattening an entry's `value` into rows of tags and fields, read straight from
//! the answer's bytes ("Turning answers into points" in the compatibility spec;
//! the rules gostats leaves open are listed in the parent module).
//!
//! [`Item`] reads any JSON value and keeps only what flattening needs: a number,
//! a string, or the drafts of an array or object. A map's keys are processed in
//! alphabetical order, the last of repeated keys winning, whatever order the
//! answer used: that is the order points have always had (serde_json's `Map`
//! without `preserve_order`), so dashboards and golden files see no change.

use std::borrow::Cow;

use serde::de::{self, DeserializeSeed, Deserializer, MapAccess, SeqAccess};

use super::json::{drain_seq, Expect, Scalar, Shape, Text};

/// A row being built: tags and fields in insertion order, a repeated key
/// replacing the earlier value in place. Strings borrow from the body.
#[derive(Debug, Clone, Default)]
pub(super) struct Draft<'de> {
    pub tags: Vec<(Cow<'de, str>, Cow<'de, str>)>,
    pub fields: Vec<(Cow<'de, str>, f64)>,
}

/// Rows of a value, or why it cannot become any.
pub(super) type Rows<'de> = Result<Vec<Draft<'de>>, String>;

/// An object's own draft and, if it holds arrays, their rows; or why it cannot
/// become any.
pub(super) type MapRows<'de> = Result<(Draft<'de>, Option<Vec<Draft<'de>>>), String>;

/// A JSON value as far as flattening needs it.
pub(super) enum Item<'de> {
    Null,
    /// A number, or a boolean as 1.0 / 0.0.
    Number(f64),
    Str(Cow<'de, str>),
    /// An array's rows.
    List(Rows<'de>),
    /// An object's own tags and fields and, if it holds arrays, their rows.
    Map(MapRows<'de>),
}

/// Flattens an entry's `value` (absent: null) into drafts relative to the base.
pub(super) fn flatten_top(value: Option<Item<'_>>) -> Rows<'_> {
    match value.unwrap_or(Item::Null) {
        Item::Number(x) => Ok(vec![Draft::scalar(x)]),
        Item::Str(s) => Err(format!("value is a string ({}), not a number", clip(&s))),
        Item::Null => Err("value is null".to_string()),
        Item::List(rows) => rows,
        Item::Map(map) => map.map(merge_nested),
    }
}

/// A map's own draft, or one row per row of its nested lists, each merged over it.
fn merge_nested<'de>((own, nested): (Draft<'de>, Option<Vec<Draft<'de>>>)) -> Vec<Draft<'de>> {
    match nested {
        None => vec![own],
        Some(rows) => rows
            .into_iter()
            .map(|row| {
                let mut merged = own.clone();
                merged.merge(row);
                merged
            })
            .collect(),
    }
}

impl<'de> Draft<'de> {
    /// A row with the single field `value`.
    fn scalar(x: f64) -> Draft<'de> {
        Draft {
            tags: Vec::new(),
            fields: vec![(Cow::Borrowed("value"), x)],
        }
    }

    fn tag(&mut self, key: Cow<'de, str>, value: Cow<'de, str>) {
        set(&mut self.tags, key, value);
    }

    /// Sets a field; `time` is never a field (it is the point's timestamp).
    fn field(&mut self, key: Cow<'de, str>, value: f64) {
        if key == "time" {
            return;
        }
        set(&mut self.fields, key, value);
    }

    /// Sets every tag and field of `other` over this draft's.
    fn merge(&mut self, other: Draft<'de>) {
        for (k, v) in other.tags {
            self.tag(k, v);
        }
        for (k, v) in other.fields {
            self.field(k, v);
        }
    }
}

impl<'de> de::Deserialize<'de> for Item<'de> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        Expect(ItemShape).deserialize(d)
    }
}

/// Reads any value as an [`Item`].
struct ItemShape;

impl<'de> Shape<'de> for ItemShape {
    type Out = Item<'de>;

    /// One draft per element (several for an element that is a map with lists);
    /// a string with no name to tag it spoils the list.
    fn array<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Item<'de>, A::Error> {
        let mut drafts = Vec::new();
        while let Some(item) = seq.next_element::<Item>()? {
            let more = match item {
                Item::Null => continue,
                Item::Number(x) => {
                    drafts.push(Draft::scalar(x));
                    continue;
                }
                Item::Str(s) => Err(format!("a list holds a string ({}) with no name", clip(&s))),
                Item::List(rows) => rows,
                Item::Map(map) => map.map(merge_nested),
            };
            match more {
                Ok(rows) => drafts.extend(rows),
                Err(why) => {
                    drain_seq(seq)?;
                    return Ok(Item::List(Err(why)));
                }
            }
        }
        Ok(Item::List(Ok(drafts)))
    }

    /// A map's scalars (nested maps merged in) and, if it holds lists, their
    /// rows, taken in key order.
    fn object<A: MapAccess<'de>>(self, mut map: A) -> Result<Item<'de>, A::Error> {
        let mut entries: Vec<(Cow<'de, str>, Item<'de>)> = Vec::new();
        while let Some(Text(key)) = map.next_key::<Text>()? {
            entries.push((key, map.next_value::<Item>()?));
        }
        Ok(Item::Map(split_map(entries)))
    }

    /// A number or boolean is a number, a string a string; null is null.
    fn other(self, value: Scalar<'de>) -> Item<'de> {
        match value {
            Scalar::Str(s) => Item::Str(s),
            value => value.as_f64().map_or(Item::Null, Item::Number),
        }
    }
}

/// Applies a map's entries in key order, the last of repeated keys winning.
fn split_map<'de>(mut entries: Vec<(Cow<'de, str>, Item<'de>)>) -> MapRows<'de> {
    entries.sort_by(|a, b| a.0.cmp(&b.0));
    let mut own = Draft::default();
    let mut nested: Option<Vec<Draft>> = None;
    let mut entries = entries.into_iter().peekable();
    while let Some((key, item)) = entries.next() {
        if entries.peek().is_some_and(|(next, _)| *next == key) {
            continue;
        }
        match item {
            Item::Null => {}
            Item::Number(x) => own.field(key, x),
            Item::Str(s) => own.tag(key, s),
            Item::List(rows) => nested.get_or_insert_with(Vec::new).extend(rows?),
            Item::Map(inner) => {
                let (inner_own, inner_nested) = inner?;
                own.merge(inner_own);
                if let Some(rows) = inner_nested {
                    nested.get_or_insert_with(Vec::new).extend(rows);
                }
            }
        }
    }
    Ok((own, nested))
}

/// Sets `key` to `value`, replacing an earlier value of the same key in place.
pub(super) fn set<K: PartialEq, V>(list: &mut Vec<(K, V)>, key: K, value: V) {
    match list.iter_mut().find(|(k, _)| *k == key) {
        Some(slot) => slot.1 = value,
        None => list.push((key, value)),
    }
}

/// A string quoted and cut to a length fit for a log line.
pub(super) fn clip(s: &str) -> String {
    const MAX: usize = 60;
    match s.char_indices().nth(MAX) {
        Some((at, _)) => format!("{:?}...", &s[..at]),
        None => format!("{s:?}"),
    }
}
