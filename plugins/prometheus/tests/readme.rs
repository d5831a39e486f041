//! The README keeps the plugin README skeleton; its two `toml` blocks are exactly
//! the `[prometheus]` and `[prom_http_sd]` sections of `idic.toml.example` and
//! hold exactly the keys the plugin knows; its scrape config passes
//! `promtool check config`; its examples match what the plugin serves.

use std::process::Command;

use prometheus::{Config, SdConfig};

const README: &str = include_str!("../README.md");
const EXAMPLE: &str = include_str!("../../../idic.toml.example");
const GOLDEN: &str = include_str!("golden/metrics.txt");

/// The blocks fenced as ```` ```lang ````, in order.
fn blocks(lang: &str) -> Vec<&'static str> {
    let fence = format!("```{lang}\n");
    let mut out = Vec::new();
    let mut rest = README;
    while let Some(start) = rest.find(&fence) {
        let body = &rest[start + fence.len()..];
        let end = body.find("```").expect("closed block");
        out.push(&body[..end]);
        rest = &body[end + 3..];
    }
    out
}

/// The `[name]` section of `idic.toml.example`, up to the next table header.
fn example_section(name: &str) -> String {
    let header = format!("[{name}]");
    let lines: Vec<&str> = EXAMPLE.lines().collect();
    let start = lines
        .iter()
        .position(|l| l.trim() == header)
        .expect("section");
    let end = lines[start + 1..]
        .iter()
        .position(|l| l.starts_with('['))
        .map_or(lines.len(), |p| start + 1 + p);
    lines[start..end].join("\n").trim_end().to_string()
}

/// The keys of a sample block with its `# key = value` lines uncommented.
fn keys(block: &str, section: &str) -> Vec<String> {
    let text: String = block
        .lines()
        .map(|l| l.strip_prefix("# ").unwrap_or(l))
        .filter(|l| !l.starts_with("##"))
        .map(|l| format!("{l}\n"))
        .collect();
    let table: toml::Table = text.parse().expect("valid toml");
    let section = table[section].as_table().expect("the section");
    let mut keys: Vec<String> = section.keys().cloned().collect();
    keys.sort();
    keys
}

fn sorted(keys: &[&str]) -> Vec<String> {
    let mut v: Vec<String> = keys.iter().map(|k| k.to_string()).collect();
    v.sort();
    v
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
            !in_code && l.starts_with('#') && !l.starts_with("###")
        })
        .collect();
    assert_eq!(
        headings,
        [
            "# Prometheus sink plugin",
            "## Configuration",
            "## What is written",
            "## Errors and what to do",
            "## Testing",
            "## Performance",
        ]
    );
}

#[test]
fn readme_config_blocks_are_the_example_sections() {
    let toml = blocks("toml");
    assert_eq!(toml.len(), 2, "one block per section");
    assert_eq!(toml[0].trim_end(), example_section("prometheus"));
    assert_eq!(toml[1].trim_end(), example_section("prom_http_sd"));
    assert_eq!(keys(toml[0], "prometheus"), sorted(&Config::KEYS));
    assert_eq!(keys(toml[1], "prom_http_sd"), sorted(&SdConfig::KEYS));
}

#[test]
fn readme_config_blocks_parse_as_the_plugin_reads_them() {
    let toml = blocks("toml");
    let (sd, warnings) = SdConfig::from_config(toml[1]).unwrap();
    assert!(warnings.is_empty() && !sd.enabled && sd.sd_port == Some(9999));
    let section = toml[0].trim_start_matches("[prometheus]\n");
    let (config, warnings) = Config::parse(section).unwrap();
    assert!(warnings.is_empty());
    assert_eq!(config, Config::default());
}

#[test]
fn readme_scrape_config_passes_promtool() {
    if !crate::services::available("promtool", "readme_scrape_config_passes_promtool") {
        return;
    }
    let yaml = blocks("yaml");
    assert_eq!(yaml.len(), 1);
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("prometheus.yml");
    std::fs::write(&file, yaml[0]).unwrap();
    let out = Command::new("promtool")
        .arg("check")
        .arg("config")
        .arg(&file)
        .output()
        .unwrap_or_else(|e| {
            panic!("promtool cannot be run ({e}): install Debian's prometheus package (`bash .ci/run` does it)")
        });
    assert!(
        out.status.success(),
        "promtool check config:\n{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn readme_examples_are_what_the_plugin_serves() {
    let json = blocks("json");
    assert_eq!(json.len(), 1);
    let v: serde_json::Value = serde_json::from_str(json[0]).unwrap();
    assert_eq!(v[0]["labels"]["__meta_prometheus_job"], "isilon_stats");
    let text = blocks("text");
    assert_eq!(text.len(), 1);
    for line in text[0].lines() {
        assert!(
            GOLDEN.lines().any(|g| g == line),
            "not in the golden file: {line}"
        );
    }
}
