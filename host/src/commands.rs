//! The verbs besides collecting: `plugins` (list what is installed) and
//! `check-config` (validate, load the named plugins, let each check its own
//! settings, and summarise). Collecting is `engine.rs`.

use std::collections::HashMap;
use std::fmt::Write as _;
use std::process::ExitCode;

use crate::cli::Cli;
use crate::config::{Config, UpdateInterval};
use crate::loader;
use idic_plugin_api::conversation;
use idic_plugin_api::ErrorKind;

/// `idic plugins`: every library in the plugin folders, and whether it loads.
pub fn plugins(cli: &Cli) -> anyhow::Result<ExitCode> {
    let mut out = String::new();
    let config_dir = Config::load(&cli.config_file)
        .ok()
        .and_then(|(c, _)| c.global.plugin_dir);
    let dirs = loader::search_dirs(cli.plugin_dir.as_deref(), config_dir.as_deref());
    let mut found = 0;
    let mut broken = 0;
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
                Err(e) => {
                    broken += 1;
                    writeln!(out, "  {expected:<12} does not load: {e}")?
                }
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
    if broken > 0 {
        eprintln!("idic: error: {broken} of {found} plugin libraries do not load (see above)");
        return Ok(ExitCode::FAILURE);
    }
    Ok(ExitCode::SUCCESS)
}

/// `idic check-config [FILE]`: warnings, then a summary; exit 1 when unusable.
pub fn check_config(cli: &Cli) -> anyhow::Result<ExitCode> {
    let mut out = String::new();
    let (mut config, warnings) = match Config::load(&cli.config_file) {
        Ok(ok) => ok,
        Err(e) => {
            eprintln!("idic: error: {e}");
            return Ok(ExitCode::FAILURE);
        }
    };
    for w in &warnings {
        eprintln!("idic: warning: {w}");
    }
    config.override_shard(cli.shard);
    let checked = check_sinks(cli, &config);
    for w in &checked.warnings {
        eprintln!("idic: warning: {w}");
    }
    for e in &checked.errors {
        eprintln!("idic: error: {e}");
    }
    if !checked.errors.is_empty() {
        return Ok(ExitCode::FAILURE);
    }
    let warned = warnings.len() + checked.warnings.len();
    if cli.strict && warned > 0 {
        eprintln!("idic: error: {warned} warning(s) above, and --strict makes warnings fatal");
        return Ok(ExitCode::FAILURE);
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
        let checked = if checked.unchecked.contains(&sink.plugin) {
            ", settings not checked: the plugin has no check-config"
        } else {
            ""
        };
        if sink.is_named_instance() {
            writeln!(
                out,
                "sink: {} (plugin {}, {buffer}{bound}{checked})",
                sink.name, sink.plugin
            )?;
        } else {
            writeln!(out, "sink: {} ({buffer}{bound}{checked})", sink.name)?;
        }
    }
    let enabled = config.clusters.iter().filter(|c| !c.disabled).count();
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
    if let Some(shard) = config.global.shard {
        let owned: Vec<String> = config
            .enabled_clusters()
            .map(|c| format!("{}:{}", c.hostname, c.port))
            .collect();
        writeln!(
            out,
            "shard {shard} collects {} enabled cluster(s): {}",
            owned.len(),
            if owned.is_empty() {
                "none".to_string()
            } else {
                owned.join(", ")
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

/// What the plugins said about the config's sinks.
#[derive(Default)]
struct SinkCheck {
    errors: Vec<String>,
    warnings: Vec<String>,
    /// Plugins that do not answer `check-config`.
    unchecked: Vec<String>,
}

/// Loads each plugin the config names and asks it to check each of its sinks'
/// settings through `control("check-config", <settings TOML>)`.
fn check_sinks(cli: &Cli, config: &Config) -> SinkCheck {
    let dirs = loader::search_dirs(
        cli.plugin_dir.as_deref(),
        config.global.plugin_dir.as_deref(),
    );
    let file = config.path.display();
    let mut check = SinkCheck::default();
    // Each plugin is loaded once; `None`: it did not load (reported once).
    let mut plugins: HashMap<&str, Option<loader::Plugin>> = HashMap::new();
    for sink in &config.sinks {
        let plugin = plugins.entry(&sink.plugin).or_insert_with(|| {
            let place = if sink.is_named_instance() {
                format!("{file}: [sink.{}] plugin {:?}", sink.name, sink.plugin)
            } else {
                format!("{file}: stats_processor {:?}", sink.name)
            };
            loader::find(&sink.plugin, &dirs)
                .map_err(|e| {
                    check
                        .errors
                        .push(format!("{place}: {e}{}", installed(&dirs)))
                })
                .ok()
        });
        let Some(plugin) = plugin else { continue };
        let section = sink.section();
        match plugin.control(conversation::CHECK_CONFIG, &sink.settings) {
            Ok(answer) => match crate::supervise::check_config_warnings(&answer) {
                Some(warnings) => check
                    .warnings
                    .extend(warnings.iter().map(|w| format!("{file}: {section}: {w}"))),
                None => check.warnings.push(format!(
                    "{file}: {section}: plugin {} answered check-config with {answer:?}, not {{\"warnings\": [...]}}, so its settings were not checked",
                    plugin.info.name
                )),
            },
            Err(e) if e.kind == ErrorKind::Unsupported => {
                if !check.unchecked.contains(&sink.plugin) {
                    check.unchecked.push(sink.plugin.clone());
                }
            }
            Err(e) => check.errors.push(format!(
                "{file}: {section} (plugin {} {}): {}",
                plugin.info.name, plugin.info.version, e.message
            )),
        }
    }
    check
}

/// `; installed plugins: discard, jsonl`, every loadable name in `dirs`.
fn installed(dirs: &[loader::SearchDir]) -> String {
    let mut names: Vec<String> = dirs
        .iter()
        .flat_map(|d| loader::libraries_in(&d.path))
        .filter_map(|p| loader::name_of(&p))
        .collect();
    names.sort();
    names.dedup();
    if names.is_empty() {
        "\ninstalled plugins: none".to_string()
    } else {
        format!("\ninstalled plugins: {}", names.join(", "))
    }
}

/// Writes `text` to standard output; a closed pipe (`idic plugins | head`) is not
/// an error.
pub fn emit(text: &str) {
    use std::io::Write as _;
    let _ = std::io::stdout().lock().write_all(text.as_bytes());
}
