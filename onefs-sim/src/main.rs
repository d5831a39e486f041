//! The `onefs-sim` binary: parse the command line, start the simulator, print one
//! `listening:` line per cluster, wait for SIGTERM or SIGINT, stop cleanly (exit 0).
//! All behaviour lives in the library; this file only wires it to a process.

use std::io::Write;
use std::process::ExitCode;
use std::time::Duration;

use onefs_sim::cli::{self, Command, Options};
use onefs_sim::Sim;

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match cli::parse(&args) {
        Ok(Command::Help) => {
            print!("{}", cli::USAGE);
            ExitCode::SUCCESS
        }
        Ok(Command::Version) => {
            println!("onefs-sim {}", env!("CARGO_PKG_VERSION"));
            ExitCode::SUCCESS
        }
        Ok(Command::Run(options)) => run(*options),
        Err(message) => {
            eprintln!("onefs-sim: {message}\nTry 'onefs-sim --help'.");
            ExitCode::from(2)
        }
    }
}

fn run(options: Options) -> ExitCode {
    env_logger::Builder::from_env(
        env_logger::Env::default().default_filter_or(options.log_level.as_str()),
    )
    .format_target(false)
    .init();
    signals::install();
    let sim = match Sim::start(options.config) {
        Ok(sim) => sim,
        Err(e) => {
            eprintln!("onefs-sim: {e}");
            return ExitCode::FAILURE;
        }
    };
    if let Some(path) = &options.ca_cert_out {
        if let Err(e) = std::fs::write(path, sim.ca_cert_pem()) {
            eprintln!(
                "onefs-sim: cannot write the CA certificate to {}: {e}",
                path.display()
            );
            return ExitCode::FAILURE;
        }
    }
    let mut out = std::io::stdout().lock();
    for c in sim.clusters() {
        let _ = writeln!(
            out,
            "listening: cluster {} at {} ({} nodes, OneFS {})",
            c.name(),
            c.url(),
            c.nodes(),
            c.onefs_version()
        );
    }
    let _ = out.flush();
    drop(out);
    while !signals::received() {
        std::thread::sleep(Duration::from_millis(100));
    }
    log::info!("stopping on signal");
    sim.shutdown();
    ExitCode::SUCCESS
}

/// SIGTERM and SIGINT set a flag the main thread polls.
#[cfg(unix)]
mod signals {
    use std::sync::atomic::{AtomicBool, Ordering};

    static STOP: AtomicBool = AtomicBool::new(false);

    extern "C" fn on_signal(_signum: i32) {
        STOP.store(true, Ordering::SeqCst);
    }

    extern "C" {
        fn signal(signum: i32, handler: extern "C" fn(i32)) -> usize;
    }

    const SIGINT: i32 = 2;
    const SIGTERM: i32 = 15;

    pub fn install() {
        // SAFETY: `signal` is the C library's; the handler only stores to an atomic,
        // which is async-signal-safe.
        unsafe {
            signal(SIGINT, on_signal);
            signal(SIGTERM, on_signal);
        }
    }

    pub fn received() -> bool {
        STOP.load(Ordering::SeqCst)
    }
}

/// Without Unix signals the process runs until killed.
#[cfg(not(unix))]
mod signals {
    pub fn install() {}

    pub fn received() -> bool {
        false
    }
}
