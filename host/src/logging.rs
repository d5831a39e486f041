//! The host's log: gostats' level names, text or JSON lines, to a file, standard
//! error and optionally standard output.
//!
//! Every line that concerns a cluster or a plugin carries `cluster=<name>` or
//! `plugin=<name>`, so a grep for one tells its whole story. Plugins log through
//! [`plugin_log`], which the host hands them in `HostServices`.
//!
//! A log file is opened in append mode and opened again by [`reopen`] (SIGUSR1,
//! logrotate's `postrotate`), so a rotated file is let go of at once.

use std::fs::OpenOptions;
use std::io::{self, Write};
use std::path::PathBuf;
use std::sync::{Arc, Mutex, OnceLock};

use abi_stable::std_types::RStr;
use idic_plugin_api::LogLevel;
use log::LevelFilter;

/// Resolved logging settings: `[logging]` with the command line's overrides.
#[derive(Debug, Clone)]
pub struct Settings {
    /// Log file; `None` logs to standard error.
    pub file: Option<PathBuf>,
    /// JSON lines instead of text.
    pub json: bool,
    /// The most verbose level printed.
    pub level: LevelFilter,
    /// Also copy every line to standard output.
    pub to_stdout: bool,
}

/// Maps gostats' level names (any case) to a filter. `None` for unknown names.
pub fn parse_level(name: &str) -> Option<LevelFilter> {
    Some(match name.trim().to_ascii_uppercase().as_str() {
        "CRITICAL" | "ERROR" => LevelFilter::Error,
        "WARNING" | "WARN" => LevelFilter::Warn,
        "NOTICE" | "INFO" => LevelFilter::Info,
        "DEBUG" => LevelFilter::Debug,
        "TRACE" => LevelFilter::Trace,
        "OFF" => LevelFilter::Off,
        _ => return None,
    })
}

/// The installed logger's output, for [`reopen`].
static OUTPUT: OnceLock<Arc<Output>> = OnceLock::new();

fn open_file(path: &PathBuf) -> io::Result<std::fs::File> {
    OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
        .map_err(|e| {
            io::Error::new(
                e.kind(),
                format!("cannot open log file {}: {e}", path.display()),
            )
        })
}

/// Installs the global logger. Call once, early.
pub fn init(settings: &Settings) -> io::Result<()> {
    let file = match &settings.file {
        Some(path) => Some((path.clone(), Mutex::new(open_file(path)?))),
        None => None,
    };
    let out = Arc::new(Output {
        file,
        to_stdout: settings.to_stdout,
    });
    let _ = OUTPUT.set(Arc::clone(&out));
    let json = settings.json;
    env_logger::Builder::new()
        .filter_level(settings.level)
        // Dependencies' chatter (TLS, HTTP) only when asked for by RUST_LOG.
        .filter_module("rustls", LevelFilter::Warn)
        .filter_module("ureq", LevelFilter::Warn)
        .filter_module("ureq_proto", LevelFilter::Warn)
        .parse_env("RUST_LOG")
        .format(move |buf, record| {
            let time = buf.timestamp_millis().to_string();
            let line = if json {
                json_line(&time, record)
            } else {
                text_line(&time, record)
            };
            out.write(&line);
            Ok(())
        })
        .try_init()
        .map_err(io::Error::other)
}

/// Opens the log file again under its name (after logrotate moved it away);
/// `Ok(false)` when idic logs to no file. On failure the old file stays in use.
pub fn reopen() -> io::Result<bool> {
    let Some((path, file)) = OUTPUT.get().and_then(|o| o.file.as_ref()) else {
        return Ok(false);
    };
    let fresh = open_file(path)?;
    *file.lock().unwrap_or_else(|p| p.into_inner()) = fresh;
    Ok(true)
}

/// Where formatted lines go.
struct Output {
    file: Option<(PathBuf, Mutex<std::fs::File>)>,
    to_stdout: bool,
}

impl Output {
    fn write(&self, line: &str) {
        match &self.file {
            Some((_, f)) => {
                if let Ok(mut f) = f.lock() {
                    let _ = f.write_all(line.as_bytes());
                }
            }
            None => {
                let _ = io::stderr().lock().write_all(line.as_bytes());
            }
        }
        if self.to_stdout {
            let _ = io::stdout().lock().write_all(line.as_bytes());
        }
    }
}

fn text_line(time: &str, record: &log::Record<'_>) -> String {
    format!(
        "{} {:<5} {}: {}\n",
        time,
        record.level(),
        record.target(),
        record.args()
    )
}

fn json_line(time: &str, record: &log::Record<'_>) -> String {
    let value = serde_json::json!({
        "time": time,
        "level": record.level().as_str(),
        "target": record.target(),
        "message": record.args().to_string(),
    });
    format!("{value}\n")
}

/// The `log` callback handed to plugins: records land here tagged with the plugin.
pub extern "C" fn plugin_log(
    level: LogLevel,
    plugin: RStr<'_>,
    module: RStr<'_>,
    message: RStr<'_>,
) {
    let target = if module.is_empty() {
        "plugin"
    } else {
        module.as_str()
    };
    log::log!(target: target, level.into(), "plugin={} {}", plugin, message);
}

/// The host's current level as a plugin-api level.
pub fn max_level() -> LogLevel {
    match log::max_level().to_level() {
        Some(level) => level.into(),
        None => LogLevel::Error,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gostats_level_names_map_to_filters() {
        assert_eq!(parse_level("critical"), Some(LevelFilter::Error));
        assert_eq!(parse_level("WARNING"), Some(LevelFilter::Warn));
        assert_eq!(parse_level("Notice"), Some(LevelFilter::Info));
        assert_eq!(parse_level("trace"), Some(LevelFilter::Trace));
        assert_eq!(parse_level("verbose"), None);
    }

    #[test]
    fn json_lines_are_valid_json() {
        let record = log::Record::builder()
            .args(format_args!("cluster=c1 says \"hi\""))
            .level(log::Level::Warn)
            .target("idic::test")
            .build();
        let line = json_line("2026-01-01T00:00:00.000Z", &record);
        let v: serde_json::Value = serde_json::from_str(&line).unwrap();
        assert_eq!(v["level"], "WARN");
        assert_eq!(v["message"], "cluster=c1 says \"hi\"");
    }
}
