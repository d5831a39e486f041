//! `idic plugin new NAME [--dir DIR]`: a new sink plugin crate that builds
//! against the installed SDK (`PREFIX/share/idic/sdk`, or `IDIC_SDK`) without
//! the idic source tree and without network: a path dependency on the SDK's
//! `idic-plugin-api`, cargo pointed at its vendored sources, its lock file.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{bail, Context};

/// Where the SDK is: `IDIC_SDK`, else `share/idic/sdk` beside the install
/// prefix of this executable.
pub fn sdk_dir() -> Option<PathBuf> {
    if let Some(dir) = std::env::var_os("IDIC_SDK") {
        return Some(PathBuf::from(dir));
    }
    let exe = std::env::current_exe().ok()?;
    Some(exe.parent()?.join("../share/idic/sdk"))
}

/// Whether `name` can be a plugin name: lower-case ASCII letters, digits and
/// `_`, starting with a letter (it becomes a crate, a file and a section name).
pub fn valid_name(name: &str) -> bool {
    name.chars().next().is_some_and(|c| c.is_ascii_lowercase())
        && name
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
}

/// Writes the crate `DIR/NAME` and says what to do next.
pub fn new(name: &str, dir: Option<&Path>) -> anyhow::Result<ExitCode> {
    if !valid_name(name) {
        bail!("plugin name {name:?}: use lower-case letters, digits and _, starting with a letter (it names the crate, lib{name}.so and the [{name}] section)");
    }
    let sdk = sdk_dir().context("cannot tell where idic is installed; set IDIC_SDK")?;
    let sdk = sdk.canonicalize().unwrap_or(sdk);
    let api = sdk.join("plugin-api");
    if !api.join("Cargo.toml").is_file() {
        bail!(
            "no plugin SDK at {}: install idic with `make install` (it installs PREFIX/share/idic/sdk), or set IDIC_SDK to the SDK folder",
            sdk.display()
        );
    }
    // Read before anything is written: a failure leaves no half-made crate.
    let from_sdk = |file: &str| -> anyhow::Result<String> {
        std::fs::read_to_string(sdk.join(file))
            .with_context(|| format!("the SDK at {} lacks {file}: reinstall it", sdk.display()))
    };
    let cargo_config = from_sdk("cargo-config.toml")?;
    let lock = from_sdk("Cargo.lock")?;
    let root = dir.unwrap_or(Path::new(".")).join(name);
    if root.exists() {
        bail!(
            "{} already exists: choose another name or --dir",
            root.display()
        );
    }
    let write = |rel: &str, text: &str| -> anyhow::Result<()> {
        let path = root.join(rel);
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent)
                .with_context(|| format!("cannot create {}", parent.display()))?;
        }
        std::fs::write(&path, text).with_context(|| format!("cannot write {}", path.display()))
    };
    write(
        "Cargo.toml",
        &MANIFEST
            .replace("__NAME__", name)
            .replace("__API__", &api.display().to_string()),
    )?;
    write(".cargo/config.toml", &cargo_config)?;
    write("Cargo.lock", &lock)?;
    write("src/lib.rs", &LIB.replace("__NAME__", name))?;
    write("README.md", &README.replace("__NAME__", name))?;
    crate::commands::emit(&format!(
        "created {root}: a sink plugin {name:?}\nnext:\n  cd {root} && cargo build --release --offline\n  idic plugin check target/release/lib{name}.so\n  cp target/release/lib{name}.so <plugins folder>/ and set stats_processor = \"{name}\"\nthe author's guide: {guide}\n",
        root = root.display(),
        guide = sdk.join("PLUGINS.md").display()
    ));
    Ok(ExitCode::SUCCESS)
}

const MANIFEST: &str = r#"[package]
name = "__NAME__"
version = "0.1.0"
edition = "2021"
publish = false

[lib]
crate-type = ["cdylib"]

[dependencies]
idic-plugin-api = { path = "__API__" }
log = "0.4"

[dev-dependencies]
idic-plugin-api = { path = "__API__", features = ["testing"] }

# A crate of its own, not a member of an enclosing workspace.
[workspace]
"#;

const LIB: &str = r#"//! The __NAME__ sink plugin for idic: appends one line per point
//! (`cluster measurement time fields`) to the file named by `[__NAME__] path`.
//! Replace `write` with your backend; keep every call bounded in time.

use std::io::Write;

use idic_plugin_api::{conversation, export_plugin, OpenContext, Plugin, Point, Sink, SinkError};

/// The keys of `[__NAME__]`.
const KEYS: &[&str] = &["path"];

#[derive(Default)]
pub struct NamePlugin;

pub struct NameSink {
    cluster: String,
    file: std::fs::File,
}

/// `[__NAME__]`'s settings from its TOML text (one `key = "value"` a line), with a
/// warning for each unknown key.
fn settings(section: &str) -> Result<(String, Vec<String>), SinkError> {
    let mut path = None;
    let mut warnings = Vec::new();
    for line in section.lines().map(str::trim) {
        let Some((key, value)) = line.split_once('=') else { continue };
        let (key, value) = (key.trim(), value.trim().trim_matches('"'));
        match key {
            "path" => path = Some(value.to_string()),
            _ => warnings.push(format!("[__NAME__] unknown key {key:?} is ignored; known keys: {}", KEYS.join(", "))),
        }
    }
    let path = path.ok_or_else(|| SinkError::config("[__NAME__] path is missing: name the file to append to"))?;
    Ok((path, warnings))
}

impl Plugin for NamePlugin {
    type Sink = NameSink;
    const NAME: &'static str = "__NAME__";
    const VERSION: &'static str = env!("CARGO_PKG_VERSION");
    const DESCRIPTION: &'static str = "appends points as text lines to a file";

    /// `idic check-config`: the section's keys, with unknown keys as warnings.
    fn control(&self, command: &str, payload: &str) -> Result<String, SinkError> {
        conversation::check_config(command, payload, |section| Ok(settings(section)?.1))
    }

    fn open(&self, ctx: &OpenContext) -> Result<NameSink, SinkError> {
        let (path, warnings) = settings(&ctx.plugin_config)?;
        for w in warnings {
            log::warn!("{w}");
        }
        let file = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&path)
            .map_err(|e| SinkError::config(format!("[__NAME__] path {path:?} cannot be opened: {e}")))?;
        Ok(NameSink { cluster: ctx.cluster.to_string(), file })
    }
}

impl Sink for NameSink {
    fn write(&mut self, batch: &[Point]) -> Result<(), SinkError> {
        let mut out = String::new();
        for p in batch {
            for row in p.rows.iter() {
                let fields: Vec<String> = row.fields.iter().map(|f| format!("{}={:?}", f.key, f.value)).collect();
                out.push_str(&format!("{} {} {} {}\n", self.cluster, p.measurement, p.time, fields.join(",")));
            }
        }
        self.file.write_all(out.as_bytes()).map_err(|e| SinkError::retryable(e.to_string()))
    }

    fn flush(&mut self) -> Result<(), SinkError> {
        self.file.flush().map_err(|e| SinkError::retryable(e.to_string()))
    }
}

export_plugin!(NamePlugin);

#[cfg(test)]
mod tests {
    use super::*;
    use idic_plugin_api::testing;

    #[test]
    fn the_whole_lifecycle_writes_every_sample_point() {
        let path = std::env::temp_dir().join(format!("__NAME__-test-{}.txt", std::process::id()));
        testing::exercise::<NamePlugin>(&format!("path = {:?}", path.display().to_string())).unwrap();
        let text = std::fs::read_to_string(&path).unwrap();
        let _ = std::fs::remove_file(&path);
        assert!(text.contains("cluster.cpu.idle.avg"), "{text}");
    }

    #[test]
    fn unknown_keys_are_warnings() {
        let answer = NamePlugin.control("check-config", "path = \"x\"\npth = \"y\"").unwrap();
        assert!(answer.contains("unknown key"), "{answer}");
    }
}
"#;

const README: &str = r#"# __NAME__ sink plugin

An idic sink plugin made by `idic plugin new __NAME__`.

    cargo build --release --offline          # the SDK's vendored sources, no network
    cargo test --offline                     # the kit: idic_plugin_api::testing
    idic plugin check target/release/lib__NAME__.so
    cp target/release/lib__NAME__.so <idic plugins folder>/

then in idic.toml:

    [global]
    stats_processor = "__NAME__"

    [__NAME__]
    path = "/var/tmp/__NAME__.txt"

The contract (lifecycle, threading, errors, shipping) is PLUGINS.md in the SDK.
"#;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plugin_names_are_lower_case_identifiers() {
        assert!(valid_name("graphite"));
        assert!(valid_name("my_sink2"));
        assert!(!valid_name("Graphite"));
        assert!(!valid_name("2x"));
        assert!(!valid_name("a-b"));
        assert!(!valid_name(""));
    }
}
