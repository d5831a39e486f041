//! The verbs besides collecting: `plugins` (list what is installed) and
//! `check-config` (validate and summarise). Collecting is `engine.rs`.

use std::fmt::Write as _;
use std::process::ExitCode;

use crate::cli::Cli;
use crate::config::{Config, UpdateInterval};
use crate::loader;

/// `idic plugins`: every library in the plugin folders, and whether it loads.
pub fn plugins(cli: &Cli) -> anyhow::Result<ExitCode> {
    let mut out = String::new();
    let config_dir = Config::load(&cli.config_file)
        .ok()
        .and_then(|(c, _)| c.global.plugin_dir);
    let dirs = loader::search_dirs(cli.plugin_dir.as_deref(), config_dir.as_deref());
    let mut found = 0;
    for dir in &dirs {
        let files = loader::libraries_in(&dir.path);
        if files.is_empty() {
            continue;
        }
        writeln!(out, "{} ({}):", dir.path.display(), dir.origin)?;
        for file in files {
            found += 1;
            let expected = loader::name_of(&file).unwrap_or_default();
            match loader::load(&file, &expected) {
                Ok(p) => writeln!(
                    out,
                    "  {:<12} {:<8} plugin-api {:<6} loads  {}",
                    p.info.name, p.info.version, p.info.api_version, p.info.description
                )?,
                Err(e) => writeln!(out, "  {expected:<12} does not load: {e}")?,
            }
        }
    }
    if found == 0 {
        writeln!(out, "no plugins found; searched:")?;
        for dir in &dirs {
            writeln!(out, "  {} ({})", dir.path.display(), dir.origin)?;
        }
    }
    emit(&out);
    Ok(ExitCode::SUCCESS)
}

/// `idic check-config [FILE]`: warnings, then a summary; exit 1 when unusable.
pub fn check_config(cli: &Cli) -> anyhow::Result<ExitCode> {
    let mut out = String::new();
    let (config, warnings) = match Config::load(&cli.config_file) {
        Ok(ok) => ok,
        Err(e) => {
            eprintln!("idic: error: {e}");
            return Ok(ExitCode::FAILURE);
        }
    };
    for w in &warnings {
        eprintln!("idic: warning: {w}");
    }
    writeln!(out, "{}: ok", config.path.display())?;
    for sink in &config.sinks {
        let d = &sink.delivery;
        let buffer = match d.buffer {
            Some(crate::config::BufferKind::Disk) => "disk buffer",
            Some(crate::config::BufferKind::Memory) => "memory queue",
            None => "the plugin's default buffer",
        };
        let bound = d
            .buffer_max_bytes
            .map(|b| format!(", at most {b} bytes"))
            .unwrap_or_default();
        if sink.name == sink.plugin {
            writeln!(out, "sink: {} ({buffer}{bound})", sink.name)?;
        } else {
            writeln!(
                out,
                "sink: {} (plugin {}, {buffer}{bound})",
                sink.name, sink.plugin
            )?;
        }
    }
    let enabled = config.enabled_clusters().count();
    writeln!(
        out,
        "clusters: {} ({} enabled)",
        config.clusters.len(),
        enabled
    )?;
    for c in &config.clusters {
        writeln!(
            out,
            "  {}:{} user {} auth {:?}{}{}{}",
            c.hostname,
            c.port,
            c.username,
            c.authtype,
            c.prometheus_port
                .map(|p| format!(", prometheus_port {p}"))
                .unwrap_or_default(),
            if c.disabled { " (disabled)" } else { "" },
            if c.verify_ssl {
                ""
            } else {
                " (certificate NOT verified)"
            }
        )?;
    }
    let stats: usize = config.stat_groups.iter().map(|g| g.stats.len()).sum();
    writeln!(
        out,
        "stat groups: {} active, {stats} statistics",
        config.stat_groups.len()
    )?;
    for g in &config.stat_groups {
        let interval = match g.update_interval {
            UpdateInterval::Own => "each stat's own interval".to_string(),
            UpdateInterval::Multiplier(m) => format!("{m} x each stat's own interval"),
            UpdateInterval::Absolute(s) => format!("every {s} s"),
        };
        writeln!(
            out,
            "  {:<32} {:>3} stats, {interval}",
            g.name,
            g.stats.len()
        )?;
    }
    let s = config.summary_stats;
    writeln!(
        out,
        "summary stats: protocol {}, client {}, drive {}",
        s.protocol, s.client, s.drive
    )?;
    emit(&out);
    Ok(ExitCode::SUCCESS)
}

/// Writes `text` to standard output; a closed pipe (`idic plugins | head`) is not
/// an error.
pub fn emit(text: &str) {
    use std::io::Write as _;
    let _ = std::io::stdout().lock().write_all(text.as_bytes());
}
