//! The README's configuration block holds exactly the keys `src/config.rs`
//! accepts, with their defaults. (The skeleton and the block's match with
//! `idic.toml.example` are checked for every plugin by `host/tests/docs.rs`.)

use influxdbv2::config::{Config, KEYS};

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
