//! Private copies of plugin files: idic never maps an installed plugin file
//! itself, so `cp new.so plugins/` (which rewrites the file in place) while idic
//! runs cannot change the code idic is executing.
//!
//! A library is read once, fingerprinted (CRC-32 and length of its bytes),
//! written to a fresh folder of its own (mode 0700) under the temporary folder,
//! loaded from there, and the copy and its folder are removed at once: the
//! loaded library stays mapped, and nothing is left on disk even if idic is
//! killed. Libraries are never unloaded (their code may still be running on a
//! pool thread), so the same bytes loaded twice return the first module, and the
//! number of distinct libraries one process loads is capped at [`MAX_LIBRARIES`]:
//! the memory kept by replaced versions is at most that many libraries.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;

use abi_stable::library::lib_header_from_path;
use idic_plugin_api::PluginModRef;

use super::{explain, LoadError};

/// The most distinct plugin libraries one idic process loads (reloads with
/// changed files included); past it, a reload asks for a restart.
pub const MAX_LIBRARIES: usize = 64;

/// Modules already loaded, by fingerprint of their bytes.
static LOADED: Mutex<Option<HashMap<u64, PluginModRef>>> = Mutex::new(None);

/// The fingerprint of a library's bytes: length and CRC-32, shown as hex.
pub fn fingerprint(bytes: &[u8]) -> u64 {
    ((bytes.len() as u64) << 32) | u64::from(crc32fast::hash(bytes))
}

/// Loads the library at `path` from a private copy, or returns the module
/// already loaded from the same bytes; with the bytes' fingerprint.
pub fn load(path: &Path) -> Result<(PluginModRef, u64), LoadError> {
    let fail = |what: String| LoadError(format!("{}: {what}", path.display()));
    let bytes = std::fs::read(path).map_err(|e| fail(format!("cannot be read: {e}")))?;
    let print = fingerprint(&bytes);
    let mut loaded = LOADED.lock().unwrap_or_else(|p| p.into_inner());
    let loaded = loaded.get_or_insert_with(HashMap::new);
    if let Some(module) = loaded.get(&print) {
        return Ok((*module, print));
    }
    if loaded.len() >= MAX_LIBRARIES {
        return Err(fail(format!(
            "not loaded: this idic has already loaded {MAX_LIBRARIES} different plugin libraries, which are never unloaded; restart idic to load a new version"
        )));
    }
    let copy = Copy::write(path, &bytes).map_err(|e| {
        fail(format!(
            "cannot make the private copy idic loads plugins from in {}: {e}; set TMPDIR to a writable folder",
            std::env::temp_dir().display()
        ))
    })?;
    // dlopen's messages name the copy: name the installed file instead.
    let refuse =
        |e| fail(explain(&e).replace(&*copy.file.to_string_lossy(), &path.to_string_lossy()));
    let header = lib_header_from_path(&copy.file).map_err(refuse)?;
    let module = header.init_root_module::<PluginModRef>().map_err(refuse)?;
    drop(copy);
    loaded.insert(print, module);
    Ok((module, print))
}

/// One private copy; removed (file and folder) on drop.
struct Copy {
    dir: PathBuf,
    file: PathBuf,
}

impl Copy {
    fn write(path: &Path, bytes: &[u8]) -> std::io::Result<Copy> {
        static NEXT: AtomicU64 = AtomicU64::new(0);
        let n = NEXT.fetch_add(1, Ordering::Relaxed);
        let dir = std::env::temp_dir().join(format!("idic-plugin-{}-{n}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir); // a stale folder of a dead process with our pid
        let mut builder = std::fs::DirBuilder::new();
        #[cfg(unix)]
        std::os::unix::fs::DirBuilderExt::mode(&mut builder, 0o700);
        builder.create(&dir)?;
        let name = path.file_name().unwrap_or(path.as_os_str());
        let copy = Copy {
            file: dir.join(name),
            dir,
        };
        std::fs::write(&copy.file, bytes)?;
        Ok(copy)
    }
}

impl Drop for Copy {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.file);
        let _ = std::fs::remove_dir(&self.dir);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fingerprint_differs_when_bytes_or_length_differ() {
        assert_ne!(fingerprint(b"abc"), fingerprint(b"abd"));
        assert_ne!(fingerprint(b"abc"), fingerprint(b"abc\0"));
        assert_eq!(fingerprint(b"abc"), fingerprint(b"abc"));
    }

    #[test]
    fn a_failed_load_leaves_no_copy_behind() {
        let tmp = tempfile::tempdir().unwrap();
        let lib = tmp.path().join("libjunk.so");
        std::fs::write(&lib, b"not a library").unwrap();
        let err = load(&lib).err().unwrap().0;
        assert!(
            err.contains("libjunk.so: the library cannot be loaded"),
            "{err}"
        );
        let prefix = format!("idic-plugin-{}-", std::process::id());
        let left = std::fs::read_dir(std::env::temp_dir())
            .unwrap()
            .filter_map(|e| e.ok())
            .filter(|e| e.file_name().to_string_lossy().starts_with(&prefix))
            .count();
        assert_eq!(left, 0);
    }
}
