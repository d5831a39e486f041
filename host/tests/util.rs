//! The test harness: temporary folders, the `idic` binary as a child process, and
//! the plugin libraries (workspace ones and the out-of-tree fixtures). Simulated
//! clusters live in `sim.rs`.

use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

/// The `idic` binary under test.
pub fn idic_bin() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_idic"))
}

/// `target/debug` (or whichever profile built the tests).
pub fn profile_dir() -> PathBuf {
    idic_bin()
        .parent()
        .expect("binary has a folder")
        .to_path_buf()
}

/// The workspace root.
pub fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// The workspace's plugins (library names; the packages are `idic-` and the
/// name with `-` for `_`), as the Makefile's `PLUGINS` lists them.
pub const PLUGINS: [&str; 6] = [
    "discard",
    "jsonl",
    "influxdb",
    "influxdbv2",
    "prometheus",
    "remote_write",
];

/// A plugin built by the workspace. `make test` builds them all first; under a
/// plain `cargo test`, which builds no `cdylib`, the first call builds the six
/// plugins once per test run into a target folder of their own (as the fixtures
/// are), so that nothing the running `cargo test` linked is rebuilt beside it.
/// A library in the profile folder that is older than a source it is built
/// from is refused ([`refuse_stale`]): the test would run the old plugin.
pub fn workspace_plugin(name: &str) -> PathBuf {
    let file = format!("lib{name}.so");
    let built = profile_dir().join(&file);
    if built.is_file() {
        refuse_stale(name, &built);
        return built;
    }
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    let dir = DIR.get_or_init(|| {
        let target = profile_dir().join("../test-plugins");
        let mut cargo = Command::new(env!("CARGO"));
        cargo.args(["build", "--quiet"]);
        for p in PLUGINS {
            cargo.args(["-p", &format!("idic-{}", p.replace('_', "-"))]);
        }
        let status = cargo
            .current_dir(workspace_root())
            .env("CARGO_TARGET_DIR", &target)
            .status()
            .expect("cargo runs");
        assert!(status.success(), "building the workspace plugins failed");
        target.join("debug")
    });
    let path = dir.join(&file);
    assert!(
        path.is_file(),
        "{} is missing after building the workspace plugins",
        path.display()
    );
    path
}

/// The folder holding every workspace plugin (each one in it checked as
/// [`workspace_plugin`] checks it).
pub fn workspace_plugin_dir() -> PathBuf {
    let dir = workspace_plugin("discard")
        .parent()
        .expect("plugin has a folder")
        .to_path_buf();
    if dir == profile_dir() {
        for name in PLUGINS {
            let lib = dir.join(format!("lib{name}.so"));
            if lib.is_file() {
                refuse_stale(name, &lib);
            }
        }
    }
    dir
}

/// Panics, saying what to run, when `lib` (plugin `name`'s library in the
/// profile folder) is older than the newest source it is built from: the
/// plugin's `build.rs` and `src/`, and those of every workspace package it
/// depends on (plugin-api, lineproto, ...; found from the manifests). `cargo test -p idic` builds no
/// plugin, so after editing one a test would otherwise load the old code
/// without a word. A fresh clone gives every source the clone's time and the
/// build that follows is newer, so CI (which builds everything first) never
/// sees this.
fn refuse_stale(name: &str, lib: &Path) {
    let Some(built) = modified(lib) else { return };
    let root = workspace_root();
    let mut files = Vec::new();
    package_files(
        &root.join("plugins").join(name),
        &workspace_paths(&root),
        &mut Vec::new(),
        &mut files,
    );
    let newest = files
        .into_iter()
        .filter_map(|f| Some((modified(&f)?, f)))
        .max();
    if let Some((changed, file)) = newest.filter(|(t, _)| *t > built) {
        let ago = |t: std::time::SystemTime| t.elapsed().map_or(0, |d| d.as_secs());
        panic!(
            "stale plugin: {} (built {} s ago) is older than {} (changed {} s ago), so \
             this test would run the old plugin {name}; `cargo test -p idic` builds no \
             plugin: run `cargo build --workspace`, then the test again",
            lib.display(),
            ago(built),
            file.strip_prefix(&root).unwrap_or(&file).display(),
            ago(changed)
        );
    }
}

fn modified(path: &Path) -> Option<std::time::SystemTime> {
    std::fs::metadata(path).and_then(|m| m.modified()).ok()
}

/// The folders of the root manifest's `[workspace.dependencies]` that are
/// workspace packages (`path = ...`), by dependency name.
fn workspace_paths(root: &Path) -> std::collections::BTreeMap<String, PathBuf> {
    let manifest = root.join("Cargo.toml");
    let text = std::fs::read_to_string(&manifest).expect("the workspace manifest is readable");
    let table: toml::Table = text.parse().expect("the workspace manifest is TOML");
    let deps = table
        .get("workspace")
        .and_then(|w| w.get("dependencies"))
        .and_then(|d| d.as_table());
    deps.into_iter()
        .flatten()
        .filter_map(|(name, spec)| {
            let path = spec.get("path")?.as_str()?;
            Some((name.clone(), root.join(path)))
        })
        .collect()
}

/// The sources the package in `dir` is built from (`build.rs`, everything
/// under `src/`), then those of the workspace packages it depends
/// on, each package once.
fn package_files(
    dir: &Path,
    workspace: &std::collections::BTreeMap<String, PathBuf>,
    seen: &mut Vec<PathBuf>,
    files: &mut Vec<PathBuf>,
) {
    if seen.iter().any(|d| d == dir) {
        return;
    }
    seen.push(dir.to_path_buf());
    // The manifest only names the dependencies: cargo rebuilds nothing for
    // most manifest edits (a description, a `touch`), so comparing with it
    // would refuse a current library after every merge.
    let manifest = dir.join("Cargo.toml");
    files.push(dir.join("build.rs"));
    files_under(&dir.join("src"), files);
    let Ok(text) = std::fs::read_to_string(&manifest) else {
        return;
    };
    let table: toml::Table = text.parse().expect("a package manifest is TOML");
    for section in ["dependencies", "build-dependencies"] {
        let Some(deps) = table.get(section).and_then(|d| d.as_table()) else {
            continue;
        };
        for (name, spec) in deps {
            let path = if spec.get("workspace").and_then(|w| w.as_bool()) == Some(true) {
                workspace.get(name).cloned()
            } else {
                spec.get("path")
                    .and_then(|p| p.as_str())
                    .map(|p| dir.join(p))
            };
            if let Some(path) = path {
                package_files(&path, workspace, seen, files);
            }
        }
    }
}

fn files_under(dir: &Path, files: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        let path = entry.path();
        if path.is_dir() {
            files_under(&path, files);
        } else {
            files.push(path);
        }
    }
}

/// Builds the fixture workspaces under `host/tests/fixtures` once per test run,
/// as a third party would (their own Cargo.toml and lock file), and returns the
/// folder holding their libraries.
pub fn fixtures() -> &'static Path {
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    DIR.get_or_init(|| {
        let target = profile_dir().join("../fixtures");
        for ws in ["plugins", "frozen-1.0"] {
            let manifest = Path::new(env!("CARGO_MANIFEST_DIR"))
                .join("tests/fixtures")
                .join(ws)
                .join("Cargo.toml");
            let status = Command::new(env!("CARGO"))
                .args(["build", "--quiet", "--manifest-path"])
                .arg(&manifest)
                .env("CARGO_TARGET_DIR", &target)
                .status()
                .expect("cargo runs");
            assert!(status.success(), "building fixture workspace {ws} failed");
        }
        target.join("debug")
    })
}

/// The library of fixture plugin `name`.
pub fn fixture_plugin(name: &str) -> PathBuf {
    fixtures().join(format!("lib{name}.so"))
}

/// A temporary folder with helpers to write files into it.
pub struct Dir {
    pub tmp: tempfile::TempDir,
}

impl Dir {
    pub fn new() -> Dir {
        Dir {
            tmp: tempfile::tempdir().expect("temp dir"),
        }
    }

    pub fn path(&self) -> &Path {
        self.tmp.path()
    }

    pub fn join(&self, name: &str) -> PathBuf {
        self.path().join(name)
    }

    pub fn write(&self, name: &str, text: &str) -> PathBuf {
        let p = self.join(name);
        std::fs::write(&p, text).expect("write file");
        p
    }

    /// A `plugins` folder holding copies of `libs`, each under the file name given.
    pub fn plugin_dir(&self, libs: &[(&Path, &str)]) -> PathBuf {
        let dir = self.join("plugins");
        std::fs::create_dir_all(&dir).expect("mkdir");
        for (src, file) in libs {
            std::fs::copy(src, dir.join(file)).expect("copy plugin");
        }
        dir
    }
}

/// Runs `idic args...` to completion.
pub fn idic(args: &[&str]) -> Output {
    idic_env(args, &[])
}

/// [`idic`] with `env` set in its environment.
pub fn idic_env(args: &[&str], env: &[(&str, &str)]) -> Output {
    Command::new(idic_bin())
        .args(args)
        .env_remove("IDIC_PLUGIN_DIR")
        .envs(env.iter().copied())
        .output()
        .expect("idic runs")
}

/// A running `idic` process whose log goes to a file; killed on drop.
pub struct Running {
    pub child: Child,
    pub log: PathBuf,
}

impl Running {
    /// Starts `idic -config-file CONFIG --plugin-dir PLUGINS -logfile LOG`.
    pub fn start(dir: &Dir, config: &Path, plugins: &Path, extra: &[&str]) -> Running {
        Running::start_env(dir, config, plugins, extra, &[])
    }

    /// The same, with environment variables set for idic.
    pub fn start_env(
        dir: &Dir,
        config: &Path,
        plugins: &Path,
        extra: &[&str],
        env: &[(&str, &str)],
    ) -> Running {
        let mut cmd = Command::new(idic_bin());
        cmd.envs(env.iter().copied());
        Running::launch(cmd, dir.join("idic.log"), config, plugins, extra)
    }

    /// Runs `cmd` (`idic`, or a wrapper that ends in it) with the arguments of
    /// [`Running::start`], logging to `log`.
    pub fn launch(
        mut cmd: Command,
        log: PathBuf,
        config: &Path,
        plugins: &Path,
        extra: &[&str],
    ) -> Running {
        let child = cmd
            .arg("-config-file")
            .arg(config)
            .arg("--plugin-dir")
            .arg(plugins)
            .arg("-logfile")
            .arg(&log)
            .args(["-loglevel", "debug"])
            .args(extra)
            .env_remove("IDIC_PLUGIN_DIR")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("idic starts");
        Running { child, log }
    }

    pub fn log_text(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// Waits until `pred(log)` holds; panics with the log after `timeout`.
    pub fn wait_log(&mut self, timeout: Duration, what: &str, pred: impl Fn(&str) -> bool) {
        let deadline = Instant::now() + timeout;
        loop {
            let text = self.log_text();
            if pred(&text) {
                return;
            }
            if let Ok(Some(status)) = self.child.try_wait() {
                panic!(
                    "idic exited ({status}) while waiting for {what}; stderr: {}; log:\n{text}",
                    self.stderr()
                );
            }
            if Instant::now() > deadline {
                panic!("timed out waiting for {what}; log:\n{text}");
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// Waits until `pred()` holds; panics with the log after `timeout`.
    pub fn wait_until(&mut self, timeout: Duration, what: &str, pred: impl Fn() -> bool) {
        let deadline = Instant::now() + timeout;
        while !pred() {
            if let Ok(Some(status)) = self.child.try_wait() {
                panic!(
                    "idic exited ({status}) while waiting for {what}; log:\n{}",
                    self.log_text()
                );
            }
            if Instant::now() > deadline {
                panic!("timed out waiting for {what}; log:\n{}", self.log_text());
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    pub fn signal(&self, sig: &str) {
        let status = Command::new("kill")
            .arg(format!("-{sig}"))
            .arg(self.child.id().to_string())
            .status()
            .expect("kill runs");
        assert!(status.success());
    }

    /// Waits for exit; returns the exit code.
    pub fn wait_exit(&mut self, timeout: Duration) -> i32 {
        let deadline = Instant::now() + timeout;
        loop {
            if let Some(status) = self.child.try_wait().expect("try_wait") {
                return status.code().unwrap_or(-1);
            }
            if Instant::now() > deadline {
                panic!(
                    "idic did not exit within {timeout:?}; log:\n{}",
                    self.log_text()
                );
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    pub fn stderr(&mut self) -> String {
        let mut s = String::new();
        if let Some(e) = self.child.stderr.as_mut() {
            let _ = e.read_to_string(&mut s);
        }
        s
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
