//! The data a sink receives: points made of rows of tags and fields.
//!
//! These types cross the library boundary, so they use `abi_stable`'s FFI-safe
//! `RString`/`RVec` instead of `String`/`Vec`. They carry no behaviour beyond small
//! accessors; encoding them for a backend is the plugin's job.

use abi_stable::std_types::{RString, RVec};
use abi_stable::StableAbi;

/// One statistic at one moment: a measurement name, a timestamp and one or more rows.
///
/// For a scalar statistic such as `cluster.cpu.idle.avg` there is one row with one
/// field named `value`; for a node-scoped statistic one row per node; for protocol
/// statistics one row per operation.
#[repr(C)]
#[derive(StableAbi, Clone, Debug, PartialEq)]
pub struct Point {
    /// The measurement name: the statistics key (`cluster.cpu.idle.avg`) or, for
    /// summary statistics, `node.summary.protocol`, `node.summary.client` or
    /// `node.summary.drive`.
    pub measurement: RString,
    /// Unix time in seconds, as the cluster reported it.
    pub time: i64,
    /// The rows; never empty.
    pub rows: RVec<Row>,
}

/// One row of a point: the tags that identify it and the fields that it measures.
#[repr(C)]
#[derive(StableAbi, Clone, Debug, Default, PartialEq)]
pub struct Row {
    /// Identifying string pairs (`cluster`, `node`, `devid`, `op_name`, ...), in the
    /// order the collector produced them.
    pub tags: RVec<Tag>,
    /// Measured values; never empty.
    pub fields: RVec<Field>,
}

/// A tag: a string key and a string value.
#[repr(C)]
#[derive(StableAbi, Clone, Debug, PartialEq)]
pub struct Tag {
    /// The tag key, e.g. `cluster`.
    pub key: RString,
    /// The tag value, e.g. `c1`.
    pub value: RString,
}

/// A field: a name and a typed value.
#[repr(C)]
#[derive(StableAbi, Clone, Debug, PartialEq)]
pub struct Field {
    /// The field name, e.g. `value` or `op_rate`.
    pub key: RString,
    /// The measured value.
    pub value: Value,
}

/// A field value.
///
/// Numbers decoded from OneFS statistics answers are always [`Value::Float`], as
/// gostats writes them; the other variants exist for sinks and future producers that
/// need them.
#[repr(u8)]
#[derive(StableAbi, Clone, Debug, PartialEq)]
pub enum Value {
    /// A 64-bit float.
    Float(f64),
    /// A signed integer.
    Int(i64),
    /// An unsigned integer.
    UInt(u64),
    /// A boolean.
    Bool(bool),
    /// A string.
    Str(RString),
}

impl Row {
    /// The value of the tag named `key`, if the row has one.
    pub fn tag(&self, key: &str) -> Option<&str> {
        self.tags
            .iter()
            .find(|t| t.key.as_str() == key)
            .map(|t| t.value.as_str())
    }

    /// The value of the field named `key`, if the row has one.
    pub fn field(&self, key: &str) -> Option<&Value> {
        self.fields
            .iter()
            .find(|f| f.key.as_str() == key)
            .map(|f| &f.value)
    }
}

impl Tag {
    /// A tag from two string slices.
    pub fn new(key: &str, value: &str) -> Tag {
        Tag {
            key: key.into(),
            value: value.into(),
        }
    }
}

impl Field {
    /// A field from a name and a value.
    pub fn new(key: &str, value: Value) -> Field {
        Field {
            key: key.into(),
            value,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn row_finds_tags_and_fields_by_name() {
        let row = Row {
            tags: vec![Tag::new("cluster", "c1"), Tag::new("node", "2")].into(),
            fields: vec![Field::new("value", Value::Float(1.5))].into(),
        };
        assert_eq!(row.tag("node"), Some("2"));
        assert_eq!(row.tag("devid"), None);
        assert_eq!(row.field("value"), Some(&Value::Float(1.5)));
    }
}
