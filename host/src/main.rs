//! `idic`: polls PowerScale (OneFS) clusters for statistics and hands them to a sink
//! plugin loaded at run time. This file only dispatches: parse the command line,
//! run the command, print an error chain once, choose the exit code. The modules
//! are the `idic` library's (`lib.rs`).

use std::process::ExitCode;

use idic::{cli, commands, conformance, doctor, manual, scaffold, supervise};

/// Collecting is allocation-heavy (answers, JSON, points, all short-lived);
/// mimalloc spends a fraction of glibc's time on it and fragments less
/// (`supervise/allocator.rs`). Plugins keep their own allocator: every type
/// that crosses the boundary frees itself through the side that allocated it
/// (abi_stable).
#[global_allocator]
static ALLOCATOR: supervise::Allocator = supervise::Allocator;

/// `pow`, the one function idic took from the system's libm (tokio's runtime
/// weighs its poll-time average with `f64::powf`): defined here, from the
/// `libm` crate (the Rust port of musl's, which Rust's compiler-builtins uses),
/// the linker drops libm.so from idic's needs, and loading it cost 0.5 MiB of
/// resident memory (its relocations and symbol tables are read at start).
/// The linker exports it, so a plugin that calls `pow` gets this one too (its
/// other libm functions still come from libm); musl's `pow`, like glibc's, is
/// within one unit in the last place. `tests/collect.rs` checks that a
/// collecting idic has no libm loaded.
#[no_mangle]
pub extern "C" fn pow(x: f64, y: f64) -> f64 {
    libm::pow(x, y)
}

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
