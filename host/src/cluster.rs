//! One cluster's collection task: connect, read identity and key metadata, open
//! the sink's delivery queue, then run each bucket on its own drift-free timer
//! until told to stop.
//!
//! A cluster never waits for another: each has its own task, its own connection
//! and its own queue. OneFS calls and decoding run on blocking threads.

use std::collections::{BTreeSet, HashMap, HashSet};
use std::sync::atomic::Ordering::Relaxed;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use abi_stable::std_types::RVec;
use idic_plugin_api::{OpenContext, StatInfo};
use tokio::sync::watch;

use crate::config::{Cluster, Config};
use crate::decode::{self, Decoded, Problem};
use crate::loader::Plugin;
use crate::onefs::{self, Client, Identity, KeyMeta, Stop, Target};
use crate::permits::{self, Permits};
use crate::plugin_host;
use crate::queue::{self, Delivery};
use crate::schedule::{self, Bucket, Fetch};

/// Bounds concurrent parsing and decoding across all clusters (see `permits.rs`).
static DECODING: Permits = Permits::new(permits::DECODERS);

/// How long a stopping cluster may spend delivering what is queued.
pub const SHUTDOWN_GRACE: Duration = Duration::from_secs(10);

/// Everything one cluster task needs.
pub struct Job {
    /// The whole config (shared, read-only).
    pub config: Arc<Config>,
    /// Index of this cluster in `config.clusters`.
    pub index: usize,
    /// The loaded sink plugin.
    pub plugin: Plugin,
    /// `-check-stat-return`.
    pub check_stat_return: bool,
    /// Interrupts blocking waits.
    pub stop: Stop,
    /// Wakes the async side.
    pub stop_rx: watch::Receiver<bool>,
}

struct Connected {
    client: Client,
    /// The cluster's name as tagged: lower-cased unless `preserve_case`.
    name: String,
    identity: Identity,
    metas: HashMap<String, KeyMeta>,
}

/// Runs one cluster until `job.stop_rx` says stop.
pub async fn run(mut job: Job) {
    let cfg = job.config.clusters[job.index].clone();
    let label = format!("{}:{}", cfg.hostname, cfg.port);
    let mut failures = 0;
    let connected = loop {
        let (config, stop) = (Arc::clone(&job.config), job.stop.clone());
        let index = job.index;
        let result = tokio::task::spawn_blocking(move || connect(&config, index, stop)).await;
        match result {
            Ok(Ok(c)) => break c,
            Ok(Err(onefs::Error::Stopped)) => return,
            Ok(Err(e)) => {
                failures += 1;
                let wait = schedule::cycle_backoff(failures);
                log::error!(
                    "cluster={label} cannot start collecting: {e}; trying again in {} s",
                    wait.as_secs()
                );
                if sleep_or_stop(&mut job.stop_rx, Instant::now() + wait).await {
                    return;
                }
            }
            Err(e) => {
                log::error!("cluster={label} connection task failed: {e}");
                return;
            }
        }
    };
    let Connected {
        client,
        name,
        identity,
        metas,
    } = connected;
    let g = &job.config.global;
    let mut buckets = schedule::buckets(
        &job.config.stat_groups,
        &metas,
        g.min_update_interval_override as u64,
        g.fetch_by_statgroup,
    );
    buckets.extend(schedule::summary_buckets(job.config.summary_stats));
    log::info!(
        "cluster={name} connected to {label} ({}); {} statistics in {} timers",
        identity.version,
        metas.len(),
        buckets.len()
    );
    let (plugin, ctx) = (
        job.plugin.clone(),
        open_context(&job, &cfg, &name, &identity, &metas, &buckets),
    );
    let delivery = Delivery::start(
        &name,
        &job.plugin.info.name,
        Box::new(move || plugin.open(&ctx)),
        queue::Settings {
            capacity: g.queue_size,
            max_retries: g.stats_processor_max_retries,
            retry_interval: Duration::from_secs(g.stats_processor_retry_interval.max(1) as u64),
        },
    );
    let opts = decode::Options {
        cluster: name.clone(),
        include_degraded: g.include_degraded,
    };
    let client = Arc::new(Mutex::new(client));
    let mut timers: Vec<(Bucket, Instant, u32)> = buckets
        .into_iter()
        .map(|b| (b, Instant::now(), 0))
        .collect();
    let mut warned: HashSet<String> = HashSet::new();
    while !timers.is_empty() {
        let i = (0..timers.len()).min_by_key(|&i| timers[i].1).unwrap_or(0);
        if sleep_or_stop(&mut job.stop_rx, timers[i].1).await {
            break;
        }
        let (bucket, due, failures) = &mut timers[i];
        let (client, what, opts2) = (Arc::clone(&client), bucket.what.clone(), opts.clone());
        let result = tokio::task::spawn_blocking(move || fetch(&client, &what, &opts2)).await;
        let now = Instant::now();
        match result {
            Ok(Ok(decoded)) => {
                *failures = 0;
                *due = schedule::next_due(*due, bucket.interval, now);
                if job.check_stat_return {
                    report_missing(&name, &bucket.what, &decoded.keys_seen);
                }
                handle_problems(&name, bucket, &decoded.problems, &mut warned);
                delivery.push(decoded.points);
            }
            Ok(Err(CycleError::Stopped)) => break,
            Ok(Err(e)) => {
                *failures += 1;
                let wait = schedule::cycle_backoff(*failures);
                *due = now + wait;
                log::error!(
                    "cluster={name} collecting {} failed: {e}; this cycle is skipped, next try in {} s",
                    bucket.name,
                    wait.as_secs()
                );
            }
            Err(e) => log::error!("cluster={name} collection task failed: {e}"),
        }
        timers.retain(|(b, _, _)| !matches!(&b.what, Fetch::Stats(k) if k.is_empty()));
    }
    let depth = delivery.depth();
    if depth > 0 {
        log::info!("cluster={name} stopping; delivering {depth} queued batches");
    }
    let summary = tokio::task::spawn_blocking(move || {
        let c = delivery.counters();
        let line = format!(
            "delivered {} batches ({} points); {} write retries; dropped: {} queue full, {} after retries, {} refused",
            c.delivered.load(Relaxed),
            c.delivered_points.load(Relaxed),
            c.retries.load(Relaxed),
            c.dropped_full.load(Relaxed),
            c.dropped_retries.load(Relaxed),
            c.dropped_refused.load(Relaxed),
        );
        delivery.close(SHUTDOWN_GRACE);
        line
    })
    .await
    .unwrap_or_default();
    log::info!("cluster={name} stopped: {summary}");
}

/// Why a cycle produced nothing.
enum CycleError {
    Onefs(onefs::Error),
    Decode(String),
    Stopped,
}

impl std::fmt::Display for CycleError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            CycleError::Onefs(e) => e.fmt(f),
            CycleError::Decode(e) => write!(f, "the answer could not be decoded: {e}"),
            CycleError::Stopped => f.write_str("stopped"),
        }
    }
}

fn fetch(
    client: &Mutex<Client>,
    what: &Fetch,
    opts: &decode::Options,
) -> Result<Decoded, CycleError> {
    let onefs_err = |e| match e {
        onefs::Error::Stopped => CycleError::Stopped,
        e => CycleError::Onefs(e),
    };
    let decode_err = |e: decode::DecodeError| CycleError::Decode(e.to_string());
    let mut client = client.lock().unwrap_or_else(|e| e.into_inner());
    match what {
        Fetch::Stats(keys) => {
            let answers = client.current(keys).map_err(onefs_err)?;
            drop(client);
            let _permit = DECODING.acquire();
            let mut all = Decoded::default();
            for answer in &answers {
                let d = decode::current(&answer.json().map_err(onefs_err)?, opts)
                    .map_err(decode_err)?;
                all.points.extend(d.points);
                all.problems.extend(d.problems);
                all.keys_seen.extend(d.keys_seen);
            }
            Ok(all)
        }
        Fetch::Summary(kind) => {
            let answer = client.summary(kind.path()).map_err(onefs_err)?;
            drop(client);
            let _permit = DECODING.acquire();
            decode::summary(*kind, &answer.json().map_err(onefs_err)?, opts).map_err(decode_err)
        }
    }
}

/// Connects, reads identity and every configured key's metadata.
fn connect(config: &Config, index: usize, stop: Stop) -> Result<Connected, onefs::Error> {
    let c = &config.clusters[index];
    let g = &config.global;
    let password = crate::config::resolve_secret(&c.password).map_err(onefs::Error::Auth)?;
    let target = Target {
        host: c.hostname.clone(),
        port: c.port,
        username: c.username.clone(),
        password,
        basic_auth: c.authtype == crate::config::AuthType::Basic,
        verify_tls: c.verify_ssl,
        ca_cert: c.ca_cert.clone(),
        connect_timeout: Duration::from_secs(g.connect_timeout.max(1)),
        request_timeout: Duration::from_secs(g.request_timeout.max(1)),
        max_retries: g.max_retries,
        label: format!("{}:{}", c.hostname, c.port),
    };
    let mut client = Client::new(target, stop)?;
    let identity = client.identity()?;
    let name = if config.preserve_case(c) {
        identity.name.clone()
    } else {
        identity.name.to_lowercase()
    };
    client.set_label(&name);
    let mut metas = HashMap::new();
    let keys: BTreeSet<&String> = config.stat_groups.iter().flat_map(|g| &g.stats).collect();
    for key in keys {
        match client.key_meta(key)? {
            Some(m) => {
                metas.insert(key.clone(), m);
            }
            None => log::warn!(
                "cluster={name} statistic {key:?} is not known to this cluster ({}); it is left out",
                identity.version
            ),
        }
    }
    Ok(Connected {
        client,
        name,
        identity,
        metas,
    })
}

fn open_context(
    job: &Job,
    cfg: &Cluster,
    name: &str,
    identity: &Identity,
    metas: &HashMap<String, KeyMeta>,
    buckets: &[Bucket],
) -> OpenContext {
    let mut stats: Vec<StatInfo> = Vec::new();
    for b in buckets {
        match &b.what {
            Fetch::Stats(keys) => {
                stats.extend(keys.iter().filter_map(|k| metas.get(k)).map(|m| StatInfo {
                    key: m.key.as_str().into(),
                    description: m.description.as_str().into(),
                    units: m.units.as_str().into(),
                    update_interval: b.interval.as_secs(),
                }))
            }
            Fetch::Summary(kind) => stats.push(StatInfo {
                key: kind.measurement().into(),
                description: format!("OneFS {} summary statistics", kind.answer_key()).into(),
                units: "".into(),
                update_interval: b.interval.as_secs(),
            }),
        }
    }
    stats.sort_by(|a, b| a.key.cmp(&b.key));
    OpenContext {
        plugin_name: job.plugin.info.name.as_str().into(),
        cluster: name.into(),
        onefs_version: identity.version.as_str().into(),
        plugin_config: job.config.section_toml(&job.plugin.info.name).into(),
        cluster_config: cfg.toml.as_str().into(),
        global_config: job.config.section_toml("global").into(),
        stats: RVec::from(stats),
        host: plugin_host::services(),
        extra: "{}".into(),
    }
}

/// Acts on per-key problems: stop asking for unavailable or unusable keys (warned
/// once), warn about skipped ones.
fn handle_problems(
    cluster: &str,
    bucket: &mut Bucket,
    problems: &[Problem],
    warned: &mut HashSet<String>,
) {
    for p in problems {
        match p {
            Problem::Unavailable { key, code, error } => {
                if let Fetch::Stats(keys) = &mut bucket.what {
                    keys.retain(|k| k != key);
                }
                if warned.insert(key.clone()) {
                    log::warn!("cluster={cluster} statistic {key:?} is unavailable (error_code {code}: {error}); no longer asking for it");
                }
            }
            Problem::Unusable { key, devid, why } => {
                if let Fetch::Stats(keys) = &mut bucket.what {
                    keys.retain(|k| k != key);
                }
                if warned.insert(key.clone()) {
                    log::warn!("cluster={cluster} statistic {key:?} (devid {devid}) has no usable value ({why}); it is skipped and no longer asked for");
                }
            }
            Problem::Skipped {
                key,
                devid,
                code,
                error,
            } => {
                log::warn!("cluster={cluster} statistic {key:?} devid {devid} skipped this time (error_code {code}: {error})");
            }
            Problem::UnknownCode {
                key,
                devid,
                code,
                error,
            } => {
                log::error!("cluster={cluster} statistic {key:?} devid {devid} answered unknown error_code {code} ({error}); skipped");
            }
        }
    }
}

fn report_missing(cluster: &str, what: &Fetch, seen: &BTreeSet<String>) {
    if let Fetch::Stats(keys) = what {
        for k in keys.iter().filter(|k| !seen.contains(*k)) {
            log::warn!(
                "cluster={cluster} statistic {k:?} was requested but is missing from the answer"
            );
        }
    }
}

/// Sleeps until `deadline`; `true` when stop was signalled instead.
async fn sleep_or_stop(stop: &mut watch::Receiver<bool>, deadline: Instant) -> bool {
    if *stop.borrow() {
        return true;
    }
    let stopped = tokio::select! {
        _ = tokio::time::sleep_until(tokio::time::Instant::from_std(deadline)) => false,
        _ = stop.wait_for(|s| *s) => true,
    };
    stopped || *stop.borrow()
}
