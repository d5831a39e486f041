//! `idic`: polls PowerScale (OneFS) clusters for statistics and hands them to a sink
//! plugin loaded at run time. This file only dispatches: parse the command line,
//! run the command, print an error chain once, choose the exit code. The modules
//! are the `idic` library's (`lib.rs`).

use std::process::ExitCode;

use idic::{cli, commands, conformance, doctor, manual, scaffold, supervise};

/// Collecting is allocation-heavy (answers, JSON, points, all short-lived);
/// mimalloc spends a fraction of glibc's time on it and fragments less. Plugins
/// keep their own allocator: every type that crosses the boundary frees itself
/// through the side that allocated it (abi_stable).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> ExitCode {
    match run() {
        Ok(code) => code,
        Err(err) => {
            eprintln!("idic: error: {err:#}");
            ExitCode::FAILURE
        }
    }
}

fn run() -> anyhow::Result<ExitCode> {
    let cli = match cli::parse(std::env::args().skip(1)) {
        Ok(cli) => cli,
        Err(msg) => {
            eprintln!("idic: {msg}");
            return Ok(ExitCode::from(2));
        }
    };
    match cli.command {
        cli::Command::Help(topic) => {
            commands::emit(cli::help(topic));
            Ok(ExitCode::SUCCESS)
        }
        cli::Command::Version => {
            commands::emit(&format!(
                "idic {} (plugin-api {})\n",
                env!("CARGO_PKG_VERSION"),
                idic_plugin_api::API_VERSION
            ));
            Ok(ExitCode::SUCCESS)
        }
        cli::Command::Plugins => commands::plugins(&cli),
        cli::Command::CheckConfig => commands::check_config(&cli),
        cli::Command::Doctor => doctor::run(&cli),
        cli::Command::Completions(ref shell) => {
            commands::emit(&manual::completions(shell));
            Ok(ExitCode::SUCCESS)
        }
        cli::Command::Manpage => {
            commands::emit(&manual::manpage());
            Ok(ExitCode::SUCCESS)
        }
        cli::Command::PluginCheck(ref path) => conformance::check(&cli, path),
        cli::Command::PluginNew(ref name) => scaffold::new(name, cli.dir.as_deref()),
        cli::Command::Run => supervise::collect(&cli),
    }
}
