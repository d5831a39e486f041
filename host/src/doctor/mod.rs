//! `idic doctor [CONFIG]`: checks, step by step, that every enabled cluster
//! and every sink of a config can be used, and says how to fix what cannot.
//! Exit 0 only when nothing failed (warnings do not count).
//!
//! `cluster.rs` the cluster checks (resolution to clock skew and unknown keys),
//! `cert.rs` a certificate's expiry date, `sinks.rs` the sinks' `ping`,
//! `report.rs` the verdicts and their rendering.

mod cert;
mod cluster;
mod report;
mod sinks;

use std::process::ExitCode;

use anyhow::Context;

use crate::cli::Cli;
use crate::commands::emit;
use crate::config::Config;

pub use report::{Section, Step, Verdict};

/// Runs every check of the config `cli` names and prints the report.
pub fn run(cli: &Cli) -> anyhow::Result<ExitCode> {
    let (config, warnings) = match Config::load(&cli.config_file) {
        Ok(ok) => ok,
        Err(e) => {
            eprintln!("idic: error: {e}");
            eprintln!("doctor: fix the config first (idic check-config)");
            return Ok(ExitCode::FAILURE);
        }
    };
    for w in &warnings {
        eprintln!("idic: warning: {w}");
    }
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")?;
    let mut sections: Vec<Section> = (0..config.clusters.len())
        .filter(|&i| !config.clusters[i].disabled)
        .map(|i| cluster::check(&config, i, &runtime))
        .collect();
    sections.extend(sinks::check(cli, &config));
    let (text, failures) = report::render(&sections);
    emit(&format!("idic doctor: {}\n{text}", config.path.display()));
    Ok(if failures == 0 {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}
