//! The README's configuration block is valid TOML holding exactly the keys
//! `src/config.rs` accepts, and its example lines are valid JSON. (The skeleton
//! is checked for every plugin by `host/tests/docs.rs`.)

const README: &str = include_str!("../README.md");

#[test]
fn readme_config_block_parses_with_the_accepted_keys() {
    let start = README.find("```toml\n").expect("a toml block") + "```toml\n".len();
    let end = start + README[start..].find("```").expect("closed");
    let block = &README[start..end];
    let uncommented: String = block
        .lines()
        .map(|l| l.strip_prefix("# ").unwrap_or(l))
        .filter(|l| !l.starts_with("##"))
        .map(|l| format!("{l}\n"))
        .collect();
    let table: toml::Table = uncommented.parse().expect("valid toml");
    let section = table["jsonl"].as_table().expect("a [jsonl] table");
    let keys: Vec<&str> = section.keys().map(String::as_str).collect();
    assert_eq!(keys, ["append", "path"]);
    assert_eq!(section["path"].as_str(), Some("-"));
    assert_eq!(section["append"].as_bool(), Some(true));
}

#[test]
fn readme_example_lines_are_json() {
    let examples: Vec<&str> = README
        .lines()
        .filter(|l| l.starts_with("{\"measurement\":\""))
        .collect();
    assert_eq!(examples.len(), 2);
    for line in examples {
        let v: serde_json::Value = serde_json::from_str(line).expect(line);
        assert!(v["rows"][0]["fields"].is_object(), "{line}");
    }
}
