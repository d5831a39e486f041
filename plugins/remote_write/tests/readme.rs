//! The README's configuration block holds exactly the keys `src/config.rs`
//! accepts, and its active lines parse. (The skeleton and the block's match with
//! `idic.toml.example` are checked for every plugin by `host/tests/docs.rs`.)

use remote_write::config::{Config, KEYS};

const README: &str = include_str!("../README.md");

fn block(text: &str) -> &str {
    let start = text.find("```toml\n").expect("a toml block") + "```toml\n".len();
    &text[start..start + text[start..].find("```").expect("closed")]
}

#[test]
fn readme_config_block_has_the_accepted_keys() {
    let mut keys: Vec<&str> = block(README)
        .lines()
        .map(|l| l.strip_prefix("# ").unwrap_or(l))
        .filter(|l| !l.starts_with('#') && !l.starts_with('['))
        .filter_map(|l| l.split_once(" = ").map(|(k, _)| k.trim()))
        .collect();
    let mut known = KEYS.to_vec();
    keys.sort_unstable();
    known.sort_unstable();
    assert_eq!(keys, known);
}

#[test]
fn readme_config_block_parses_as_written() {
    let active: String = block(README)
        .lines()
        .filter(|l| !l.starts_with('#') && !l.starts_with('['))
        .map(|l| format!("{l}\n"))
        .collect();
    let config = Config::parse(&active).expect("the example parses");
    assert_eq!(config.url, "http://localhost:9090/api/v1/write");
}
