//! The README keeps the plugin README skeleton; its configuration block is the
//! `[influxdbv2]` section of `idic.toml.example`, word for word, with exactly the
//! keys `src/config.rs` accepts and their defaults.

use influxdbv2::config::{Config, KEYS};

const README: &str = include_str!("../README.md");
const EXAMPLE: &str = include_str!("../../../idic.toml.example");

/// The text of the first fenced block of `lang` in `text`.
fn block<'a>(text: &'a str, lang: &str) -> &'a str {
    let fence = format!("```{lang}\n");
    let start = text.find(&fence).expect("a fenced block") + fence.len();
    let end = start + text[start..].find("```").expect("closed");
    &text[start..end]
}

/// The `[section]` of `idic.toml.example`, up to the next table, without the
/// blank lines before it.
fn example_section(section: &str) -> String {
    let header = format!("\n[{section}]\n");
    let start = EXAMPLE.find(&header).expect("section in idic.toml.example") + 1;
    let rest = &EXAMPLE[start + header.len() - 1..];
    let end = rest
        .find("\n[")
        .map_or(EXAMPLE.len(), |i| start + header.len() - 1 + i);
    format!("{}\n", EXAMPLE[start..end].trim_end())
}

#[test]
fn readme_has_the_plugin_sections_in_order() {
    let mut in_code = false;
    let headings: Vec<&str> = README
        .lines()
        .filter(|l| {
            if l.starts_with("```") {
                in_code = !in_code;
            }
            !in_code && l.starts_with('#')
        })
        .collect();
    assert_eq!(
        headings,
        [
            "# InfluxDB v2 sink plugin",
            "## Configuration",
            "## What is written",
            "## Errors and what to do",
            "## Testing",
            "## Performance",
        ]
    );
}

#[test]
fn readme_config_block_is_the_example_section() {
    assert_eq!(block(README, "toml"), example_section("influxdbv2"));
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
    let section = table["influxdbv2"]
        .as_table()
        .expect("an [influxdbv2] table");
    let mut keys: Vec<&str> = section.keys().map(String::as_str).collect();
    let mut known = KEYS.to_vec();
    keys.sort_unstable();
    known.sort_unstable();
    assert_eq!(keys, known);
    let text = toml::to_string(section).unwrap();
    let (config, warnings) = Config::parse(&text).expect("the example parses");
    assert!(warnings.is_empty(), "{warnings:?}");
    let default = Config::parse("org = \"o\"\nbucket = \"b\"\naccess_token = \"t\"")
        .unwrap()
        .0;
    assert_eq!(config.max_request_bytes, default.max_request_bytes);
    assert_eq!(config.gzip, default.gzip);
    assert_eq!(config.timeout, default.timeout);
    assert_eq!((config.use_ssl, config.skip_ssl_verify), (false, false));
}
