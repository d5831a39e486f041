//! The main job's lifecycle: the runtime, the sink plugins (`sinks.rs`), one
//! supervised task per cluster, the disk buffers' syncer, and what signals and
//! config changes do to them.
//!
//! Threads: two tokio workers run every cluster task, every sink writer and all
//! OneFS I/O; blocking work (sink calls, decoding large answers, name lookups,
//! disk syncs) runs on tokio's blocking threads behind the bounded pools of
//! `pool.rs`, whose sizes for the first config are the runtime's blocking-thread
//! limit (a reload cannot raise it). None of it grows with clusters or sinks.
//!
//! SIGTERM/SIGINT stop polling, let queued batches drain (bounded) and exit 0.
//! SIGHUP or a change of the config file (debounced) parses the new file first: on
//! error the running collection goes on and the log says why; on success
//! collection restarts with the new config. SIGUSR1 reopens the log file
//! (logrotate). The telemetry listener (`[telemetry] listen`) runs from start to
//! exit on its own thread; a reload that changes it is applied at the next start.

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use anyhow::{anyhow, Context};
use tokio::signal::unix::{signal, SignalKind};
use tokio_util::sync::CancellationToken;

use super::limits;
use super::restart::supervised;
use super::sinks::{Sinks, Target};
use crate::cli::Cli;
use crate::collect::cluster::{self, Job};
use crate::config::Config;
use crate::deliver::{Syncer, Writers};
use crate::logging;
use crate::onefs::TlsConfigs;
use crate::pool::Pools;

/// How long a stopping configuration may spend delivering what is queued.
pub const SHUTDOWN_GRACE: Duration = Duration::from_secs(10);

/// How often the config file is checked for changes, and how long it must stay
/// unchanged before a reload (editors write in several steps).
const WATCH_PERIOD: Duration = Duration::from_secs(1);

/// Why the supervisor woke.
enum Event {
    Shutdown(&'static str),
    Reload(&'static str),
    Reopen,
}

/// `idic` with no verb: collect until told to stop.
pub fn collect(cli: &Cli) -> anyhow::Result<ExitCode> {
    limits::no_huge_pages();
    limits::tune_malloc();
    limits::tune_mimalloc();
    let (mut config, warnings) = Config::load(&cli.config_file).map_err(|e| anyhow!("{e}"))?;
    config.override_shard(cli.shard);
    logging::init(&log_settings(cli, &config)).context("cannot set up logging")?;
    for w in &warnings {
        log::warn!("{w}");
    }
    log_shard(&config);
    limits::raise_open_files(limits::files_needed(
        config.enabled_clusters().count(),
        config.sinks.len(),
    ));
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .max_blocking_threads(Pools::threads(config.global.sink_workers))
        // Sinks write once per cycle: with tokio's default 10 s, pool threads
        // exited between slow cycles and were made again for the next.
        .thread_keep_alive(Duration::from_secs(300))
        .enable_all()
        .thread_name("idic")
        .build()
        .context("cannot start the async runtime")?;
    let _listener = start_telemetry(&config)?;
    crate::telemetry::global().config_loaded();
    runtime.block_on(supervise(cli, config))?;
    runtime.shutdown_timeout(Duration::from_secs(1));
    Ok(ExitCode::SUCCESS)
}

/// Says which clusters a sharded instance collects.
fn log_shard(config: &Config) {
    if let Some(shard) = config.global.shard {
        let all = config.clusters.iter().filter(|c| !c.disabled).count();
        log::info!(
            "shard {shard}: collecting {} of the {all} enabled clusters",
            config.enabled_clusters().count()
        );
    }
}

fn log_settings(cli: &Cli, config: &Config) -> logging::Settings {
    let l = &config.logging;
    let level = cli
        .loglevel
        .as_deref()
        .or(l.log_level.as_deref())
        .and_then(logging::parse_level)
        .unwrap_or(log::LevelFilter::Info);
    logging::Settings {
        file: cli
            .logfile
            .clone()
            .or_else(|| l.logfile.as_ref().map(PathBuf::from)),
        json: l
            .logfile_format
            .as_deref()
            .is_some_and(|f| f.eq_ignore_ascii_case("json")),
        level,
        to_stdout: l.log_to_stdout,
    }
}

/// Starts the telemetry listener if `[telemetry]` asks for one.
fn start_telemetry(config: &Config) -> anyhow::Result<Option<crate::telemetry::Listener>> {
    let Some(t) = &config.telemetry else {
        return Ok(None);
    };
    let auth = match (&t.username, &t.password) {
        (Some(u), Some(p)) => Some((
            u.clone(),
            crate::config::resolve_secret(p).map_err(|e| anyhow!("[telemetry] password: {e}"))?,
        )),
        _ => None,
    };
    Ok(Some(crate::telemetry::serve(&t.listen, auth)?))
}

/// Loads and starts the sinks of `config`.
fn start_sinks(cli: &Cli, config: &Config) -> anyhow::Result<Sinks> {
    let sinks = Sinks::load(cli, config, None)
        .and_then(|s| s.start(config).map(|()| s))
        .inspect_err(|_| crate::telemetry::global().plugin_load_failed())?;
    plugins_loaded(&sinks);
    let dropped = super::resident::drop_start_up_pages();
    log::debug!(
        "gave back {} KiB of read-only pages only starting needed",
        dropped / 1024
    );
    Ok(sinks)
}

/// Tells telemetry which plugins run.
fn plugins_loaded(sinks: &Sinks) {
    let names: Vec<(String, String)> = sinks
        .plugins
        .iter()
        .map(|p| (p.info.name.to_string(), p.info.version.to_string()))
        .collect();
    crate::telemetry::global().plugins_loaded(&names);
}

async fn supervise(cli: &Cli, mut config: Config) -> anyhow::Result<()> {
    // The runtime's blocking threads were sized for the first config's pools.
    let sink_threads = config.global.sink_workers;
    let mut sinks = start_sinks(cli, &config)?;
    let mut term = signal(SignalKind::terminate()).context("cannot watch SIGTERM")?;
    let mut int = signal(SignalKind::interrupt()).context("cannot watch SIGINT")?;
    let mut hup = signal(SignalKind::hangup()).context("cannot watch SIGHUP")?;
    let mut usr1 = signal(SignalKind::user_defined1()).context("cannot watch SIGUSR1")?;
    let mut stamp = file_stamp(&config.path);
    loop {
        let config_arc = Arc::new(config.clone());
        let running = Running::start(cli, &config_arc, &sinks, sink_threads);
        log::info!(
            "collecting from {} clusters into plugin={}",
            running.tasks.len(),
            sinks.describe()
        );
        let reload = loop {
            let event = tokio::select! {
                _ = term.recv() => Event::Shutdown("SIGTERM"),
                _ = int.recv() => Event::Shutdown("SIGINT"),
                _ = hup.recv() => Event::Reload("SIGHUP"),
                _ = usr1.recv() => Event::Reopen,
                changed = watch_file(&config.path, stamp) => {
                    stamp = changed;
                    Event::Reload("a change of the config file")
                }
            };
            match event {
                Event::Reopen => match logging::reopen() {
                    Ok(true) => log::info!("SIGUSR1: log file reopened"),
                    Ok(false) => log::info!("SIGUSR1: no log file to reopen (logging to a stream)"),
                    Err(e) => log::error!("SIGUSR1: {e}; logging goes on to the previous file"),
                },
                Event::Shutdown(why) => {
                    log::info!("{why}: stopping; delivering what is queued");
                    break None;
                }
                Event::Reload(why) => match Config::load(&config.path) {
                    Ok((mut new, warnings)) => {
                        new.override_shard(cli.shard);
                        for w in &warnings {
                            log::warn!("{w}");
                        }
                        log_shard(&new);
                        break Some((why, new));
                    }
                    Err(e) => {
                        crate::telemetry::global().reloaded(false);
                        log::error!(
                            "reload after {why} refused: {e}; collection goes on with the running config"
                        )
                    }
                },
            }
        };
        running.stop().await;
        let Some((why, new)) = reload else {
            sinks.stop();
            log::info!("stopped");
            return Ok(());
        };
        log::info!("{why}: reloading {}", new.path.display());
        // Load first (the old plugins keep serving if that fails), then restart
        // every plugin's process-wide part with the new config (the Prometheus
        // plugin's discovery lists the clusters).
        let loaded = match Sinks::load(cli, &new, Some(&sinks)) {
            Ok(l) => l,
            Err(e) => {
                crate::telemetry::global().plugin_load_failed();
                crate::telemetry::global().reloaded(false);
                log::error!("reload refused: {e:#}; collection goes on with the previous config");
                continue;
            }
        };
        sinks.stop();
        if let Err(e) = loaded.start(&new) {
            crate::telemetry::global().plugin_load_failed();
            crate::telemetry::global().reloaded(false);
            log::error!(
                "reload refused: {e:#} with the new config; collection goes on with the previous config"
            );
            if let Err(e) = sinks.start(&config) {
                log::error!("the previous sinks failed to start again: {e:#}");
            }
            continue;
        }
        plugins_loaded(&loaded);
        crate::telemetry::global().reloaded(true);
        if new.telemetry != config.telemetry {
            log::warn!("[telemetry] changed: the telemetry listener keeps its settings until idic restarts");
        }
        sinks = loaded;
        config = new;
    }
}

/// The cluster tasks of one configuration, and the writers of their sinks.
struct Running {
    tasks: Vec<tokio::task::JoinHandle<()>>,
    stop: CancellationToken,
    writers: Writers,
    syncer: Syncer,
    syncing: tokio::task::JoinHandle<()>,
    pools: Pools,
}

impl Running {
    /// Starts collecting with `config`; at most `sink_threads` sink calls run at
    /// once, the number the runtime's blocking threads were sized for.
    fn start(cli: &Cli, config: &Arc<Config>, sinks: &Sinks, sink_threads: usize) -> Running {
        let stop = CancellationToken::new();
        let writers = Writers::default();
        let wanted = config.global.sink_workers;
        if wanted > sink_threads {
            log::warn!("sink_workers = {wanted} takes effect at the next restart: the threads for sink calls are set at start; until then at most {sink_threads} run at once");
        }
        let pools = Pools::new(wanted.min(sink_threads));
        let tls = Arc::new(TlsConfigs::default());
        let cap = Duration::from_secs(config.global.max_backoff.max(1));
        let start_spread = cluster::start_spread(config.enabled_clusters().count());
        let targets: Arc<[Target]> = sinks.targets(config).into();
        let syncer = Syncer::default();
        let syncing = tokio::spawn(syncer.clone().run(pools.disk.clone(), stop.clone()));
        let tasks = config
            .clusters
            .iter()
            .enumerate()
            .filter(|(_, c)| config.collects(c))
            .map(|(index, _)| {
                let job = Job {
                    config: Arc::clone(config),
                    index,
                    targets: Arc::clone(&targets),
                    check_stat_return: cli.check_stat_return,
                    pools: pools.clone(),
                    tls: Arc::clone(&tls),
                    writers: writers.clone(),
                    syncer: syncer.clone(),
                    start_spread,
                };
                let what = format!("cluster={} collection", job.label());
                let stop = stop.clone();
                tokio::spawn(async move {
                    supervised(&what, cap, stop, || cluster::run(job.clone())).await
                })
            })
            .collect();
        Running {
            tasks,
            stop,
            writers,
            syncer,
            syncing,
            pools,
        }
    }

    /// Stops every cluster, then lets the writers deliver what is queued within
    /// the grace period, and syncs the disk buffers.
    async fn stop(self) {
        self.stop.cancel();
        for task in self.tasks {
            let _ = task.await;
        }
        if !self.writers.drain(SHUTDOWN_GRACE).await {
            log::error!(
                "some sink calls did not return within the {} s shutdown grace period; leaving them behind",
                SHUTDOWN_GRACE.as_secs()
            );
        }
        let _ = self.syncing.await;
        self.syncer.sync_now(&self.pools.disk).await;
    }
}

/// The config file's modification time and size.
type Stamp = Option<(SystemTime, u64)>;

fn file_stamp(path: &Path) -> Stamp {
    let m = std::fs::metadata(path).ok()?;
    Some((m.modified().ok()?, m.len()))
}

/// Resolves when the file's stamp differs from `known` and then stays the same
/// for one period; returns the new stamp.
async fn watch_file(path: &Path, known: Stamp) -> Stamp {
    loop {
        tokio::time::sleep(WATCH_PERIOD).await;
        let now = file_stamp(path);
        if now == known {
            continue;
        }
        tokio::time::sleep(WATCH_PERIOD).await;
        if file_stamp(path) == now {
            return now;
        }
    }
}
