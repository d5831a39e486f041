//! Finding and loading sink plugins: shared libraries in a plugins folder, checked
//! by `abi_stable` for layout and `idic-plugin-api` version before any call.
//!
//! Each file is loaded from a private copy (`private.rs`: overwriting the
//! installed file while idic runs is harmless) through its own library header (not
//! `RootModule::load_from*`, which caches one module per type for the whole
//! process), and is never unloaded.

mod abi;
mod private;

use std::fmt;
use std::path::{Path, PathBuf};

use abi_stable::library::LibraryError;
use idic_plugin_api::{OpenContext, PluginModRef, SinkBox, SinkError, StartContext};

/// Where a plugins folder setting came from, for messages.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SearchDir {
    /// The folder.
    pub path: PathBuf,
    /// `--plugin-dir`, `plugin_dir in [global]`, ... .
    pub origin: &'static str,
}

/// A plugin's self-description, copied out of the library.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Info {
    /// Declared name.
    pub name: String,
    /// The plugin's version.
    pub version: String,
    /// One line of description.
    pub description: String,
    /// The plugin-api version it was built with.
    pub api_version: String,
    /// The plugin-api revision it was built with.
    pub revision: u32,
}

/// A loaded, checked plugin.
#[derive(Clone)]
pub struct Plugin {
    /// The library file (idic runs a private copy of it).
    pub path: PathBuf,
    /// Its self-description.
    pub info: Info,
    /// Length and CRC-32 of the file's bytes when loaded: a reload loads the
    /// file again only when this changed.
    pub fingerprint: u64,
    module: PluginModRef,
}

/// Why a plugin could not be loaded. The message says what to do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LoadError(pub String);

impl fmt::Display for LoadError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for LoadError {}

/// The folders to search, in order: explicit settings first (the first one set
/// wins), else the folder beside the executable and the install locations.
pub fn search_dirs(cli: Option<&Path>, config: Option<&Path>) -> Vec<SearchDir> {
    let explicit = [
        (cli.map(Path::to_path_buf), "--plugin-dir"),
        (config.map(Path::to_path_buf), "plugin_dir in [global]"),
        (
            std::env::var_os("IDIC_PLUGIN_DIR").map(PathBuf::from),
            "IDIC_PLUGIN_DIR",
        ),
    ];
    if let Some((Some(path), origin)) = explicit.into_iter().find(|(p, _)| p.is_some()) {
        return vec![SearchDir { path, origin }];
    }
    let mut dirs = Vec::new();
    if let Some(exe_dir) = std::env::current_exe()
        .ok()
        .and_then(|e| e.parent().map(Path::to_path_buf))
    {
        dirs.push(SearchDir {
            path: exe_dir.join("plugins"),
            origin: "beside the idic executable",
        });
        dirs.push(SearchDir {
            path: exe_dir.join("../lib/idic/plugins"),
            origin: "the install prefix",
        });
    }
    dirs.push(SearchDir {
        path: PathBuf::from("/usr/lib/idic/plugins"),
        origin: "the system install location",
    });
    dirs
}

/// The file names plugin `name` may have on this platform.
pub fn file_names(name: &str) -> Vec<String> {
    if cfg!(windows) {
        vec![format!("{name}.dll")]
    } else if cfg!(target_os = "macos") {
        vec![format!("lib{name}.dylib"), format!("{name}.dylib")]
    } else {
        vec![format!("lib{name}.so"), format!("{name}.so")]
    }
}

/// The plugin name a library file stands for, if it looks like one.
pub fn name_of(file: &Path) -> Option<String> {
    let ext = file.extension()?.to_str()?;
    if !matches!(ext, "so" | "dll" | "dylib") {
        return None;
    }
    let stem = file.file_stem()?.to_str()?;
    let name = if ext == "dll" {
        stem
    } else {
        stem.strip_prefix("lib").unwrap_or(stem)
    };
    Some(name.to_string())
}

/// Every library file in `dir`, sorted by name.
pub fn libraries_in(dir: &Path) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .into_iter()
        .flatten()
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.is_file() && name_of(p).is_some())
        .collect();
    files.sort();
    files
}

/// Finds and loads plugin `name` from the first folder that has it.
pub fn find(name: &str, dirs: &[SearchDir]) -> Result<Plugin, LoadError> {
    for dir in dirs {
        for file in file_names(name) {
            let path = dir.path.join(&file);
            if path.is_file() {
                return load(&path, name);
            }
        }
    }
    let mut msg = format!("sink plugin {name:?} (stats_processor) was not found; searched:");
    for dir in dirs {
        let present: Vec<String> = libraries_in(&dir.path)
            .iter()
            .filter_map(|p| name_of(p))
            .collect();
        let state = if !dir.path.is_dir() {
            "does not exist".to_string()
        } else if present.is_empty() {
            "holds no plugins".to_string()
        } else {
            format!("holds: {}", present.join(", "))
        };
        msg.push_str(&format!(
            "\n  {} ({}): {state}",
            dir.path.display(),
            dir.origin
        ));
    }
    msg.push_str(&format!(
        "\nput {} in one of these folders, or point --plugin-dir, plugin_dir in [global] or IDIC_PLUGIN_DIR at the folder that holds it",
        file_names(name)[0]
    ));
    Err(LoadError(msg))
}

/// Loads the library at `path` and checks that it is plugin `expected_name`.
pub fn load(path: &Path, expected_name: &str) -> Result<Plugin, LoadError> {
    let plugin = load_any(path)?;
    if plugin.info.name != expected_name {
        return Err(LoadError(format!(
            "{}: the library declares plugin name {:?}, not {expected_name:?}: a plugin's file must be named after it (lib{}.so)",
            path.display(),
            plugin.info.name,
            plugin.info.name
        )));
    }
    Ok(plugin)
}

/// Loads the library at `path` as an idic plugin, whatever its name.
pub fn load_any(path: &Path) -> Result<Plugin, LoadError> {
    let (module, fingerprint) = private::load(path)?;
    let raw = (module.info())();
    let info = Info {
        name: raw.name.into(),
        version: raw.version.into(),
        description: raw.description.into(),
        api_version: raw.api_version.into(),
        revision: raw.revision,
    };
    Ok(Plugin {
        path: path.to_path_buf(),
        info,
        fingerprint,
        module,
    })
}

fn explain(e: &LibraryError) -> String {
    match e {
        LibraryError::OpenError { err, .. } => format!("the library cannot be loaded: {err}"),
        LibraryError::GetSymbolError { .. } => {
            "not an idic plugin (it exports no idic plugin module; was it built with idic_plugin_api::export_plugin!?)".to_string()
        }
        LibraryError::IncompatibleVersionNumber {
            expected_version,
            actual_version,
            ..
        } => format!(
            "built for idic-plugin-api {actual_version}, but this idic loads plugins built for idic-plugin-api {}.x (from {expected_version}): rebuild the plugin against a matching idic-plugin-api",
            expected_version.major
        ),
        LibraryError::AbiInstability(err) => format!(
            "its idic-plugin-api types do not match this idic's: {}; rebuild the plugin against the idic-plugin-api this idic was built with (an unmodified idic-plugin-api 1.x)",
            abi::summarize(&err.to_string())
        ),
        LibraryError::InvalidAbiHeader(_) | LibraryError::InvalidCAbi { .. } => {
            "built with an incompatible abi_stable: rebuild it against idic-plugin-api 1.x".to_string()
        }
        LibraryError::RootModule { err, .. } => format!("the plugin failed to initialize: {err}"),
        other => format!("cannot be loaded as an idic plugin: {other}"),
    }
}

impl Plugin {
    /// `1.2.0 (file 0004c2e1a9f3b7d0)`: the version and which bytes, for logs.
    pub fn version_label(&self) -> String {
        format!("{} (file {:016x})", self.info.version, self.fingerprint)
    }

    /// Runs the plugin's process-wide start hook.
    pub fn start(&self, ctx: &StartContext) -> Result<(), SinkError> {
        (self.module.start())(ctx).into_result()
    }

    /// Runs the plugin's process-wide stop hook.
    pub fn stop(&self) {
        (self.module.stop())();
    }

    /// Opens a sink for one cluster.
    pub fn open(&self, ctx: &OpenContext) -> Result<SinkBox, SinkError> {
        (self.module.open())(ctx).into_result()
    }

    /// The plugin's capabilities JSON.
    pub fn capabilities(&self) -> String {
        (self.module.capabilities())().into()
    }

    /// Sends `command` with `payload` through the plugin's `control` entry point.
    pub fn control(&self, command: &str, payload: &str) -> Result<String, SinkError> {
        (self.module.control())(command.into(), payload.into())
            .into_result()
            .map(Into::into)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn name_of_strips_lib_prefix_and_extension() {
        assert_eq!(
            name_of(Path::new("/x/libinfluxdb.so")).as_deref(),
            Some("influxdb")
        );
        assert_eq!(
            name_of(Path::new("/x/discard.so")).as_deref(),
            Some("discard")
        );
        assert_eq!(name_of(Path::new("/x/README.md")), None);
    }

    #[test]
    fn explicit_plugin_dir_wins_over_everything_else() {
        let dirs = search_dirs(Some(Path::new("/a")), Some(Path::new("/b")));
        assert_eq!(dirs.len(), 1);
        assert_eq!(dirs[0].path, PathBuf::from("/a"));
        assert_eq!(dirs[0].origin, "--plugin-dir");
        let dirs = search_dirs(None, Some(Path::new("/b")));
        assert_eq!(dirs[0].origin, "plugin_dir in [global]");
    }

    #[test]
    fn not_found_lists_folders_and_what_they_hold() {
        let tmp = tempfile::tempdir().unwrap();
        std::fs::write(tmp.path().join("libother.so"), b"").unwrap();
        let dirs = vec![
            SearchDir {
                path: tmp.path().to_path_buf(),
                origin: "--plugin-dir",
            },
            SearchDir {
                path: PathBuf::from("/nonexistent/idic"),
                origin: "IDIC_PLUGIN_DIR",
            },
        ];
        let err = find("influxdb", &dirs).err().unwrap().0;
        assert!(err.contains("\"influxdb\""), "{err}");
        assert!(err.contains("holds: other"), "{err}");
        assert!(
            err.contains("/nonexistent/idic (IDIC_PLUGIN_DIR): does not exist"),
            "{err}"
        );
    }
}
