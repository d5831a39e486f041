//! Documentation that tests keep true: every plugin's README follows the common
//! skeleton and shows exactly its section of `idic.toml.example`, and every Rust
//! file opens with a `//!` doc saying what it owns.

use std::path::{Path, PathBuf};

use crate::util;

const HEADINGS: &[&str] = &[
    "## Configuration",
    "## What is written",
    "## Errors and what to do",
    "## Testing",
    "## Performance",
];

/// Folders under `plugins/` that build a plugin (a cdylib).
fn plugin_dirs() -> Vec<PathBuf> {
    let mut dirs: Vec<PathBuf> = std::fs::read_dir(util::workspace_root().join("plugins"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| {
            std::fs::read_to_string(p.join("Cargo.toml")).is_ok_and(|t| t.contains("cdylib"))
        })
        .collect();
    dirs.sort();
    dirs
}

/// The `[name]` section of the example config, up to the next table header.
fn example_section(name: &str) -> Option<String> {
    let example =
        std::fs::read_to_string(util::workspace_root().join("idic.toml.example")).unwrap();
    let header = format!("[{name}]");
    let start = example.lines().position(|l| l.trim() == header)?;
    let lines: Vec<&str> = example.lines().skip(start).collect();
    let end = lines
        .iter()
        .skip(1)
        .position(|l| l.starts_with('[') || l.starts_with("## Stat groups"))
        .map_or(lines.len(), |p| p + 1);
    Some(lines[..end].join("\n").trim_end().to_string())
}

fn first_toml_block(readme: &str) -> Option<String> {
    let start = readme.find("```toml\n")? + "```toml\n".len();
    let len = readme[start..].find("```")?;
    Some(readme[start..start + len].trim_end().to_string())
}

#[test]
fn every_plugin_readme_follows_the_skeleton() {
    let dirs = plugin_dirs();
    assert!(dirs.len() >= 2, "{dirs:?}");
    for dir in dirs {
        let name = dir.file_name().unwrap().to_string_lossy().to_string();
        let readme = std::fs::read_to_string(dir.join("README.md"))
            .unwrap_or_else(|_| panic!("plugins/{name} has no README.md"));
        let title = readme.lines().next().unwrap_or_default();
        assert!(
            title.starts_with("# ") && title.to_lowercase().ends_with(" sink plugin"),
            "plugins/{name}/README.md starts with `# <Name> sink plugin`, not {title:?}"
        );
        let mut at = 0;
        for h in HEADINGS {
            let pos = readme[at..].find(&format!("\n{h}\n")).unwrap_or_else(|| {
                panic!("plugins/{name}/README.md lacks {h:?} (in this order: {HEADINGS:?})")
            });
            at += pos + 1;
        }
        if let Some(section) = example_section(&name) {
            assert_eq!(
                first_toml_block(&readme).as_deref(),
                Some(section.as_str()),
                "plugins/{name}/README.md's first toml block must equal [{name}] of idic.toml.example"
            );
        }
    }
}

#[test]
fn every_rust_file_opens_with_a_module_doc() {
    fn walk(dir: &Path, out: &mut Vec<PathBuf>) {
        for entry in std::fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            let name = path.file_name().unwrap().to_string_lossy();
            if path.is_dir() {
                if !matches!(name.as_ref(), "target" | "dist" | ".git") {
                    walk(&path, out);
                }
            } else if name.ends_with(".rs") {
                out.push(path);
            }
        }
    }
    let root = util::workspace_root();
    let mut files = Vec::new();
    for top in ["host", "plugin-api", "plugins", "onefs-sim", "hot-text"] {
        walk(&root.join(top), &mut files);
    }
    let missing: Vec<String> = files
        .iter()
        .filter(|f| {
            let text = std::fs::read_to_string(f).unwrap();
            !text.trim_start().starts_with("//!")
        })
        .map(|f| f.strip_prefix(&root).unwrap().display().to_string())
        .collect();
    assert!(
        missing.is_empty(),
        "files without a //! module doc: {missing:#?}"
    );
}

#[test]
fn every_capabilities_key_and_control_command_is_in_the_plugins_guide() {
    let root = util::workspace_root();
    let guide = std::fs::read_to_string(root.join("docs/PLUGINS.md")).unwrap();
    let sinks = std::fs::read_to_string(root.join("host/src/supervise/sinks.rs")).unwrap();
    let keys: Vec<&str> = sinks
        .split("v[\"")
        .skip(1)
        .filter_map(|rest| rest.split('"').next())
        .collect();
    assert!(keys.contains(&"replay"), "{keys:?}");
    let conversation =
        std::fs::read_to_string(root.join("plugin-api/src/conversation.rs")).unwrap();
    let commands: Vec<&str> = conversation
        .lines()
        .filter_map(|l| l.strip_prefix("pub const "))
        .filter_map(|l| l.split('"').nth(1))
        .collect();
    assert!(commands.contains(&"check-config"), "{commands:?}");
    for name in keys.iter().chain(&commands) {
        assert!(
            guide.contains(&format!("| `{name}`")),
            "docs/PLUGINS.md's registry lacks a row for `{name}`"
        );
    }
}
