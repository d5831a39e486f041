//! Escaping of names and values for InfluxDB line protocol. Pure: appends bytes to
//! a buffer, no I/O.
//!
//! The rules, as InfluxDB parses them (each checked against a real `influxd` 1.6
//! by `plugins/influxdb/tests/real.rs`):
//!
//! | where | escaped with a backslash |
//! |---|---|
//! | measurement | `,` and space |
//! | tag key, tag value, field key | `,`, `=` and space |
//! | string field value (inside `"..."`) | `"` and `\` |
//!
//! A backslash before any other character is an ordinary character, stored as
//! it is. Backslashes right before a character InfluxDB unescapes cannot always
//! be stored: InfluxDB finds the end of a line by reading backslashes in pairs,
//! and 1.x stores names whose measurement holds such a backslash inconsistently
//! (listed, but its fields cannot be queried). So, right before a comma, space or
//! equals sign (or a double quote in a measurement or field key):
//! - in a measurement or field key, the backslashes are dropped: `a\,b` is
//!   stored as `a,b`;
//! - in a tag key or value, an even run is kept exactly and an odd run loses one
//!   backslash: `C:\\,x` is stored as it is, `a\,b` as `a,b`.
//!
//! These are the only names not stored exactly; no OneFS name has them.
//!
//! What line protocol cannot express is made writable rather than refused, so that
//! one odd name never costs a whole request:
//! - a line feed or carriage return in a measurement, key or tag value becomes an
//!   (escaped) space: a raw one would end the line. String field values keep them:
//!   InfluxDB reads a quoted line feed as part of the string.
//! - trailing backslashes of a measurement, key or tag value are dropped: the
//!   parser would read the last one as escaping the separator that follows.
//!
//! Every special character is ASCII, so the byte-wise scan never splits a UTF-8
//! sequence and any other character (unicode included) is copied as it is.

/// Appends `name` escaped as a measurement name.
pub fn measurement(out: &mut Vec<u8>, name: &str) {
    escape(out, usable(name), Context::Measurement);
}

/// Appends `name` escaped as a tag key or a tag value.
pub fn tag(out: &mut Vec<u8>, name: &str) {
    escape(out, usable(name), Context::Tag);
}

/// Appends `name` escaped as a field key.
pub fn field_key(out: &mut Vec<u8>, name: &str) {
    escape(out, usable(name), Context::FieldKey);
}

/// Appends `value` as a string field value, with its surrounding double quotes.
pub fn string_field(out: &mut Vec<u8>, value: &str) {
    out.push(b'"');
    let bytes = value.as_bytes();
    let mut start = 0;
    for (i, &b) in bytes.iter().enumerate() {
        if b == b'"' || b == b'\\' {
            out.extend_from_slice(&bytes[start..i]);
            out.push(b'\\');
            start = i;
        }
    }
    out.extend_from_slice(&bytes[start..]);
    out.push(b'"');
}

/// The part of a measurement, key or tag value that can be written: `name`
/// without its trailing backslashes. Empty means "nothing writable": InfluxDB
/// refuses empty measurements, keys and tag values, so the caller skips it.
pub fn usable(name: &str) -> &str {
    name.trim_end_matches('\\')
}

/// Which escaping rules apply.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Context {
    Measurement,
    Tag,
    FieldKey,
}

/// Appends `s` with the characters special in `ctx` escaped.
fn escape(out: &mut Vec<u8>, s: &str, ctx: Context) {
    let bytes = s.as_bytes();
    let mut start = 0;
    // Backslashes immediately before position i.
    let mut run = 0;
    for (i, &b) in bytes.iter().enumerate() {
        let replacement: &[u8] = match (b, ctx) {
            (b'\\', _) => {
                run += 1;
                continue;
            }
            (b',', _) => b"\\,",
            (b' ' | b'\n' | b'\r', _) => b"\\ ",
            (b'=', Context::Measurement) => b"=",
            (b'=', _) => b"\\=",
            (b'"', Context::Measurement | Context::FieldKey) => b"\"",
            _ => {
                run = 0;
                continue;
            }
        };
        out.extend_from_slice(&bytes[start..i]);
        // The backslashes just before: see the module documentation.
        let dropped = if ctx == Context::Tag { run % 2 } else { run };
        out.truncate(out.len() - dropped);
        out.extend_from_slice(replacement);
        start = i + 1;
        run = 0;
    }
    out.extend_from_slice(&bytes[start..]);
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(f: fn(&mut Vec<u8>, &str), input: &str, expected: &str) {
        let mut out = b"x".to_vec();
        f(&mut out, input);
        assert_eq!(
            std::str::from_utf8(&out[1..]).unwrap(),
            expected,
            "{input:?}"
        );
    }

    #[test]
    fn measurement_escapes_commas_and_spaces_only() {
        check(measurement, "cluster.cpu.idle.avg", "cluster.cpu.idle.avg");
        check(measurement, "a b,c=d\"e", "a\\ b\\,c=d\"e");
        check(measurement, "é ü 統計", "é\\ ü\\ 統計");
        check(measurement, "", "");
    }

    #[test]
    fn keys_and_tag_values_escape_commas_equals_and_spaces() {
        for f in [tag, field_key] {
            check(f, "op_name", "op_name");
            check(f, "a b,c=d\"e", "a\\ b\\,c\\=d\"e");
            check(f, "=", "\\=");
            check(f, "統計 値", "統計\\ 値");
        }
    }

    #[test]
    fn backslashes_inside_names_stay_and_trailing_ones_go() {
        for f in [measurement, tag, field_key] {
            check(f, "C:\\dir\\x", "C:\\dir\\x");
            check(f, "end\\", "end");
            check(f, "end\\\\\\", "end");
        }
        assert_eq!(usable("\\\\"), "");
    }

    #[test]
    fn backslashes_before_escaped_characters_follow_each_place() {
        // Tags: an even run is kept, an odd one loses one; quotes are ordinary.
        check(tag, "a\\,b", "a\\,b");
        check(tag, "a\\\\=b", "a\\\\\\=b");
        check(tag, "a\\\\\\ b", "a\\\\\\ b");
        check(tag, "a\\\"b", "a\\\"b");
        // Measurements and field keys: the run is dropped.
        for f in [measurement, field_key] {
            check(f, "a\\,b", "a\\,b");
            check(f, "a\\\\ b", "a\\ b");
            check(f, "a\\\"b", "a\"b");
        }
        check(measurement, "a\\\\=b", "a=b");
        check(field_key, "a\\\\=b", "a\\=b");
    }

    #[test]
    fn line_breaks_in_names_become_escaped_spaces() {
        check(tag, "two\nlines\r", "two\\ lines\\ ");
        check(field_key, "two\nlines", "two\\ lines");
        check(measurement, "a\nb", "a\\ b");
    }

    #[test]
    fn string_fields_escape_quotes_and_backslashes_and_keep_newlines() {
        check(string_field, "plain", "\"plain\"");
        check(string_field, "", "\"\"");
        check(string_field, "say \"hi\"", "\"say \\\"hi\\\"\"");
        check(string_field, "C:\\dir\\", "\"C:\\\\dir\\\\\"");
        check(string_field, "a\nb, c=d é", "\"a\nb, c=d é\"");
    }
}
