//! Build-script helper: links a release build of idic or of a bundled plugin on
//! Linux with its hot-text linker script (`idic.ld`, `influxdb.ld`, ... beside
//! this crate), which places the functions a collecting idic runs ahead of all
//! the others. The kernel maps code 64 KiB at a time around each page fault, so
//! scattered among cold code, the hot functions kept nearly all of idic's code
//! resident; grouped, the cold part stays on disk (docs/PERFORMANCE.md, fourth
//! pass). `scripts/hot-text.sh` regenerates the scripts from callgrind profiles.
//!
//! Debug and test builds link as usual, and so does an artifact without a
//! script. `IDIC_NO_HOT_TEXT=1` turns it off, for a linker that takes no
//! linker scripts (mold).

use std::env;
use std::path::PathBuf;

/// What the build script's package links.
#[derive(Debug, Clone, Copy)]
pub enum Artifact<'a> {
    /// The binary target of this name (`idic`).
    Bin(&'a str),
    /// The package's `cdylib`, a plugin, whose script is `<name>.ld`.
    Cdylib(&'a str),
}

/// Called from a build script: tells cargo to link `artifact` with its script,
/// when it has one and the build is a release build for Linux.
pub fn link(artifact: Artifact<'_>) {
    let (name, directive) = match artifact {
        Artifact::Bin(bin) => (bin, format!("cargo:rustc-link-arg-bin={bin}=")),
        Artifact::Cdylib(name) => (name, "cargo:rustc-link-arg-cdylib=".to_string()),
    };
    let script = script(name);
    println!("cargo:rerun-if-changed={}", script.display());
    println!("cargo:rerun-if-env-changed=IDIC_NO_HOT_TEXT");
    let wanted = wanted(
        env::var("CARGO_CFG_TARGET_OS").ok().as_deref(),
        env::var("PROFILE").ok().as_deref(),
        env::var("IDIC_NO_HOT_TEXT").ok().as_deref(),
    );
    if wanted && script.exists() {
        println!("{directive}-Wl,-T,{}", script.display());
    }
}

/// The script of `name`, beside this crate.
fn script(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join(format!("{name}.ld"))
}

/// Release builds for Linux, unless `IDIC_NO_HOT_TEXT` is set (and not `0`).
fn wanted(target_os: Option<&str>, profile: Option<&str>, off: Option<&str>) -> bool {
    let off = off.is_some_and(|v| !v.is_empty() && v != "0");
    target_os == Some("linux") && profile == Some("release") && !off
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_release_builds_for_linux_use_a_script() {
        assert!(wanted(Some("linux"), Some("release"), None));
        assert!(wanted(Some("linux"), Some("release"), Some("0")));
        assert!(!wanted(Some("linux"), Some("release"), Some("1")));
        assert!(!wanted(Some("linux"), Some("debug"), None));
        assert!(!wanted(Some("macos"), Some("release"), None));
        assert!(!wanted(Some("windows"), Some("release"), None));
    }

    #[test]
    fn every_script_opens_the_text_section_with_hot_functions() {
        let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
        let mut seen = 0;
        for entry in std::fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            if path.extension().is_some_and(|e| e == "ld") {
                let text = std::fs::read_to_string(&path).unwrap();
                assert!(text.contains("  .text : {"), "{}", path.display());
                assert!(
                    text.trim_end().ends_with("INSERT BEFORE .init;"),
                    "{}",
                    path.display()
                );
                let patterns = text
                    .lines()
                    .filter(|l| l.trim_start().starts_with("*(.text.*"))
                    .count();
                assert!(patterns > 100, "{}: {patterns} patterns", path.display());
                seen += 1;
            }
        }
        assert!(seen >= 1, "no script beside {}", dir.display());
        assert!(script("idic").exists());
    }
}
