//! Ties plugin-api to its written contract: the hash of `plugin-api/src` is
//! recorded in `docs/ARCHITECTURE.md`, and so is the hash of the frozen 1.0.0 copy
//! that the host's tests build a plugin from. Changing the interface without
//! revisiting the contract (or touching the frozen copy at all) fails here.

use std::path::{Path, PathBuf};

/// FNV-1a over every file's relative path and contents, in path order.
fn tree_hash(root: &Path) -> String {
    fn walk(dir: &Path, out: &mut Vec<PathBuf>) {
        for entry in std::fs::read_dir(dir).expect("readable source folder") {
            let path = entry.expect("dir entry").path();
            if path.is_dir() {
                walk(&path, out);
            } else {
                out.push(path);
            }
        }
    }
    let mut files = Vec::new();
    walk(root, &mut files);
    files.sort();
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for f in files {
        let rel = f
            .strip_prefix(root)
            .unwrap()
            .to_string_lossy()
            .replace('\\', "/");
        let text = std::fs::read_to_string(&f)
            .expect("utf-8 source")
            .replace("\r\n", "\n");
        for b in rel.bytes().chain([0]).chain(text.bytes()).chain([0]) {
            h ^= u64::from(b);
            h = h.wrapping_mul(0x0000_0100_0000_01b3);
        }
    }
    format!("{h:016x}")
}

fn recorded(label: &str) -> String {
    let doc = std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../docs/ARCHITECTURE.md"),
    )
    .expect("docs/ARCHITECTURE.md exists");
    doc.lines()
        .find_map(|l| l.strip_prefix(&format!("{label}: `")))
        .and_then(|rest| rest.split('`').next())
        .unwrap_or_else(|| panic!("docs/ARCHITECTURE.md has no line starting with \"{label}: `\""))
        .to_string()
}

#[test]
fn plugin_api_source_matches_the_hash_in_architecture_md() {
    let actual = tree_hash(&Path::new(env!("CARGO_MANIFEST_DIR")).join("src"));
    assert_eq!(
        recorded("plugin-api source hash"),
        actual,
        "plugin-api/src changed: check the change against the ABI rules in docs/ARCHITECTURE.md \
         (the 1.x layout is frozen), then record the new hash there"
    );
}

#[test]
fn frozen_1_0_copy_is_untouched() {
    let frozen = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../host/tests/fixtures/frozen-1.0/plugin-api/src");
    assert_eq!(
        recorded("frozen plugin-api 1.0.0 hash"),
        tree_hash(&frozen),
        "the frozen plugin-api 1.0.0 copy must never change: it stands for plugins already built"
    );
}
