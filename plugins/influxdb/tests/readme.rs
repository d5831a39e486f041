//! The README's configuration block holds exactly the keys `src/config.rs`
//! accepts, with their defaults, and its example lines are what the encoder
//! writes. (The skeleton and the block's match with `idic.toml.example` are
//! checked for every plugin by `host/tests/docs.rs`.)

use idic_lineproto::encode_point;
use idic_plugin_api::{Field, Point, Row, Tag, Value};
use influxdb::config::{Config, KEYS};

const README: &str = include_str!("../README.md");

/// The text of the first fenced block of `lang` in `text`.
fn block<'a>(text: &'a str, lang: &str) -> &'a str {
    let fence = format!("```{lang}\n");
    let start = text.find(&fence).expect("a fenced block") + fence.len();
    let end = start + text[start..].find("```").expect("closed");
    &text[start..end]
}

#[test]
fn readme_config_block_has_the_accepted_keys_and_defaults() {
    let uncommented: String = block(README, "toml")
        .lines()
        .map(|l| l.strip_prefix("# ").unwrap_or(l))
        .filter(|l| !l.starts_with("##"))
        .map(|l| format!("{l}\n"))
        .collect();
    let table: toml::Table = uncommented.parse().expect("valid toml");
    let section = table["influxdb"].as_table().expect("an [influxdb] table");
    let mut keys: Vec<&str> = section.keys().map(String::as_str).collect();
    let mut known = KEYS.to_vec();
    keys.sort_unstable();
    known.sort_unstable();
    assert_eq!(keys, known);
    let text = toml::to_string(section).unwrap();
    let (config, warnings) = Config::parse(&text).expect("the example parses");
    assert!(warnings.is_empty(), "{warnings:?}");
    let default = Config::parse("database = \"d\"").unwrap().0;
    assert_eq!(config.max_request_bytes, default.max_request_bytes);
    assert_eq!(config.gzip, default.gzip);
    assert_eq!(config.timeout, default.timeout);
    assert_eq!((config.use_ssl, config.skip_ssl_verify), (false, false));
}

#[test]
fn readme_example_lines_are_what_the_encoder_writes() {
    let point = |m: &str, tags: &[(&str, &str)], fields: &[(&str, f64)]| Point {
        measurement: m.into(),
        time: 1_700_000_000,
        rows: vec![Row {
            tags: tags.iter().map(|(k, v)| Tag::new(k, v)).collect(),
            fields: fields
                .iter()
                .map(|(k, v)| Field::new(k, Value::Float(*v)))
                .collect(),
        }]
        .into(),
    };
    let points = [
        point(
            "cluster.cpu.idle.avg",
            &[("cluster", "c1")],
            &[("value", 97.5)],
        ),
        point(
            "node.load.1min",
            &[("cluster", "c1"), ("devid", "4"), ("node", "2")],
            &[("value", 1.5)],
        ),
        point(
            "cluster.protostats.nfs",
            &[
                ("cluster", "c1"),
                ("op_name", "read"),
                ("class_name", "read"),
            ],
            &[
                ("in_rate", 8192.0),
                ("op_count", 12.0),
                ("op_id", 3.0),
                ("op_rate", 2.4),
                ("time_avg", 310.5),
            ],
        ),
    ];
    let mut out = Vec::new();
    for p in &points {
        encode_point(p, &mut out);
    }
    let examples = README
        .split("```text\n")
        .nth(2)
        .and_then(|b| b.split("```").next())
        .expect("the second text block holds the examples");
    assert_eq!(String::from_utf8(out).unwrap(), examples);
}
