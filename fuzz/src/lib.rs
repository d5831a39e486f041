//! The properties the fuzz targets check, one function per target, each taking
//! libFuzzer's bytes and panicking when a property breaks. The targets in
//! `fuzz_targets/` only call these; `tests/corpus.rs` runs the committed seeds
//! and every input that once failed (`regressions/`) through them on stable, so
//! `cargo test --workspace` replays the corpus without nightly or libFuzzer.
//!
//! What is checked beyond "never panics":
//! - decoder: every point has rows and every row fields; the decoder is
//!   deterministic;
//! - config: an error carries a message; a config that loads has what the
//!   loader promises (at least one cluster);
//! - line protocol: an escaped name is one token to InfluxDB's tokenizer and,
//!   for names without backslashes, unescapes to the name (line breaks become
//!   spaces); string fields round-trip exactly;
//! - Prometheus: metric and label names match Prometheus' grammar, label values
//!   unescape to the value;
//! - simulator: the request parser returns, with at most one request per 16 bytes.

use std::path::Path;

use idic::collect::decode::{self, Decoded, Options, SummaryKind};

/// The options every decoder target uses.
fn options() -> Options {
    Options {
        cluster: "fuzz".to_string(),
        include_degraded: true,
        keys_seen: true,
    }
}

/// Points are never empty.
fn check_decoded(d: &Decoded) {
    for p in &d.points {
        assert!(!p.rows.is_empty(), "a point without rows: {p:?}");
        for r in p.rows.iter() {
            assert!(!r.fields.is_empty(), "a row without fields: {p:?}");
        }
    }
}

/// A `/statistics/current` answer.
pub fn decode_current(data: &[u8]) {
    let first = decode::current(data, &options());
    if let Ok(d) = &first {
        check_decoded(d);
    }
    assert_eq!(first, decode::current(data, &options()), "deterministic");
}

/// A summary answer; the first byte chooses the kind.
pub fn decode_summary(data: &[u8]) {
    let Some((&which, body)) = data.split_first() else {
        return;
    };
    let kind = match which % 3 {
        0 => SummaryKind::Protocol,
        1 => SummaryKind::Client,
        _ => SummaryKind::Drive,
    };
    if let Ok(d) = decode::summary(kind, body, &options()) {
        check_decoded(&d);
    }
}

/// A `/statistics/keys/<key>` answer.
pub fn key_meta(data: &[u8]) {
    let Ok(v) = serde_json::from_slice::<serde_json::Value>(data) else {
        return;
    };
    if let Some(meta) = idic::onefs::parse_key_meta("fuzz.key", &v) {
        assert_eq!(meta.key, "fuzz.key");
    }
}

/// An `idic.toml`.
pub fn config(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    match idic::config::Config::parse(Path::new("fuzz.toml"), text) {
        Ok((config, _warnings)) => {
            assert!(!config.clusters.is_empty(), "a config without clusters");
        }
        Err(e) => assert!(!e.to_string().is_empty(), "an error without a message"),
    }
}

/// Line-protocol escaping, checked against InfluxDB's tokenizer; the first byte
/// chooses what the rest is escaped as.
pub fn lineproto_escape(data: &[u8]) {
    let Some((&which, rest)) = data.split_first() else {
        return;
    };
    let Ok(name) = std::str::from_utf8(rest) else {
        return;
    };
    let mut out = Vec::new();
    let (separators, escapable): (&[u8], &[u8]) = match which % 4 {
        0 => {
            idic_lineproto::escape::measurement(&mut out, name);
            (b", ", b", ")
        }
        1 => {
            idic_lineproto::escape::tag(&mut out, name);
            (b",= ", b",= ")
        }
        2 => {
            idic_lineproto::escape::field_key(&mut out, name);
            (b",= ", b",= ")
        }
        _ => {
            idic_lineproto::escape::string_field(&mut out, name);
            assert_eq!(out.first(), Some(&b'"'));
            assert_eq!(out.last(), Some(&b'"'));
            let inner = &out[1..out.len() - 1];
            assert_eq!(token_len(inner, b"\""), inner.len(), "{out:?}");
            assert_eq!(unescape(inner, b"\"\\"), name.as_bytes(), "{out:?}");
            return;
        }
    };
    assert_eq!(
        token_len(&out, separators),
        out.len(),
        "{name:?} escaped as {:?} is not one token",
        String::from_utf8_lossy(&out)
    );
    assert!(!out.contains(&b'\n') && !out.contains(&b'\r'));
    if !name.contains('\\') {
        let want = name.replace(['\n', '\r'], " ");
        assert_eq!(
            String::from_utf8_lossy(&unescape(&out, escapable)),
            want,
            "{name:?} does not round-trip"
        );
    }
}

/// The length of the token at the start of `bytes`, as InfluxDB reads it: a
/// backslash takes the next byte with it; an unescaped separator ends it.
fn token_len(bytes: &[u8], separators: &[u8]) -> usize {
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'\\' {
            i += 2;
        } else if separators.contains(&bytes[i]) {
            return i;
        } else {
            i += 1;
        }
    }
    bytes.len()
}

/// Removes the backslash before each escapable byte (any other backslash stays).
fn unescape(bytes: &[u8], escapable: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'\\' && i + 1 < bytes.len() && escapable.contains(&bytes[i + 1]) {
            out.push(bytes[i + 1]);
            i += 2;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    out
}

/// Prometheus names, labels and label values; the input is split at the first
/// NUL into a statistic key and a field or tag.
pub fn prometheus_names(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let (key, field) = text.split_once('\0').unwrap_or((text, ""));
    let valid_metric = |n: &str| {
        n.chars()
            .next()
            .is_some_and(|c| c.is_ascii_alphabetic() || c == '_' || c == ':')
            && n.chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == ':')
    };
    let name = prometheus::encode::metric_name(key, (!field.is_empty()).then_some(field));
    assert!(valid_metric(&name), "invalid metric name {name:?}");
    if let Some(label) = prometheus::encode::label_name(field) {
        assert!(
            label
                .chars()
                .next()
                .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
                && label.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
                && !label.starts_with("__"),
            "invalid label name {label:?} from {field:?}"
        );
    } else {
        assert!(field.is_empty());
    }
    let mut value = String::new();
    prometheus::encode::push_label_value(&mut value, text);
    assert!(!value.contains('\n'), "a raw line feed in {value:?}");
    let mut back = String::new();
    let mut chars = value.chars();
    while let Some(c) = chars.next() {
        if c == '\\' {
            match chars.next() {
                Some('\\') => back.push('\\'),
                Some('"') => back.push('"'),
                Some('n') => back.push('\n'),
                other => panic!("a lone backslash before {other:?} in {value:?}"),
            }
        } else {
            assert_ne!(c, '"', "an unescaped double quote in {value:?}");
            back.push(c);
        }
    }
    assert_eq!(back, text, "label value does not round-trip");
}

/// Raw bytes on a simulator connection.
pub fn sim_request(data: &[u8]) {
    let requests = onefs_sim::parse_requests(data);
    assert!(requests <= data.len() / 16 + 1, "{requests} requests");
}
