//! The running simulator: [`Sim::start`] binds every cluster's port, generates the
//! certificate and starts the threads; [`ClusterHandle`] gives a test everything about
//! one cluster (address, layout, faults, counters, request log, expected values).
//! [`Sim::shutdown`] (or dropping the `Sim`) stops it and frees the ports.

use std::collections::HashSet;
use std::io;
use std::net::{SocketAddr, TcpListener};
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::catalog::Catalog;
use crate::config::SimConfig;
use crate::faults::Faults;
use crate::record::{Counters, LoggedRequest};
use crate::server;
use crate::state::{ClusterState, SimShared};
use crate::summary::{self, SummaryKind};
use crate::tls;

/// A running simulator serving one or more clusters.
pub struct Sim {
    shared: Arc<SimShared>,
    handles: Vec<ClusterHandle>,
    threads: Vec<JoinHandle<()>>,
    ca_pem: String,
}

/// One simulated cluster of a running [`Sim`] (cheap to clone).
#[derive(Clone)]
pub struct ClusterHandle {
    state: Arc<ClusterState>,
    shared: Arc<SimShared>,
}

impl Sim {
    /// Binds every cluster's port and starts serving. Fails on an invalid configuration
    /// (no cluster, duplicate names, bad layout, error codes out of 1..=10) or when a
    /// port cannot be bound; then nothing keeps running.
    pub fn start(config: SimConfig) -> io::Result<Sim> {
        validate(&config)?;
        let certs = if config.https {
            Some(tls::generate(&tls::cert_names(
                config.bind,
                &config.cert_names,
            ))?)
        } else {
            None
        };
        let mut listeners = Vec::new();
        let mut states = Vec::new();
        for spec in &config.clusters {
            let addr = SocketAddr::new(config.bind, spec.port);
            let listener = TcpListener::bind(addr).map_err(|e| {
                io::Error::new(
                    e.kind(),
                    format!("cluster {}: cannot listen on {addr}: {e}", spec.name),
                )
            })?;
            let addr = listener.local_addr()?;
            let own_tls = match (&certs, spec.cert_expiry_days) {
                (Some(certs), Some(days)) => Some(certs.ending_in(days)?),
                _ => None,
            };
            states.push(Arc::new(ClusterState::new(
                spec.clone(),
                addr,
                config.request_log_capacity,
                own_tls,
            )));
            listeners.push(listener);
        }
        let (ca_pem, tls_config) = match certs {
            Some(c) => (c.ca_pem, Some(c.config)),
            None => (String::new(), None),
        };
        let shared = Arc::new(SimShared::new(&config, tls_config, states));
        let mut sim = Sim {
            shared: shared.clone(),
            handles: Vec::new(),
            threads: Vec::new(),
            ca_pem,
        };
        for (index, listener) in listeners.into_iter().enumerate() {
            let thread = server::spawn_acceptor(shared.clone(), index, listener)?;
            sim.threads.push(thread);
        }
        sim.handles = shared
            .clusters
            .iter()
            .map(|state| ClusterHandle {
                state: state.clone(),
                shared: shared.clone(),
            })
            .collect();
        for c in &shared.clusters {
            if c.spec.faults.down {
                c.listener.set_down(true);
            }
        }
        Ok(sim)
    }

    /// The clusters, in configuration order.
    pub fn clusters(&self) -> &[ClusterHandle] {
        &self.handles
    }

    /// A cluster by exact (case-sensitive) name.
    pub fn cluster(&self, name: &str) -> Option<&ClusterHandle> {
        self.handles.iter().find(|h| h.name() == name)
    }

    /// PEM of the CA certificate that signed the server certificate (empty with plain
    /// HTTP). Its SANs cover `localhost`, `127.0.0.1`, `::1` and the bind address.
    pub fn ca_cert_pem(&self) -> String {
        self.ca_pem.clone()
    }

    /// Whether the clusters speak HTTPS.
    pub fn https(&self) -> bool {
        self.shared.https
    }

    /// The catalog every cluster serves.
    pub fn catalog(&self) -> &Catalog {
        &self.shared.catalog
    }

    /// Like [`ClusterHandle::expected`] for the cluster named `cluster`.
    pub fn expected(&self, cluster: &str, key: &str, devid: u32, time: i64) -> Option<Value> {
        self.cluster(cluster)?.expected(key, devid, time)
    }

    /// Stops every cluster and waits (up to 2 s) for open connections to end.
    pub fn shutdown(mut self) {
        self.stop();
    }

    fn stop(&mut self) {
        if self.shared.shutdown.swap(true, Ordering::SeqCst) {
            return;
        }
        for c in &self.shared.clusters {
            c.listener.shutdown();
            c.conns.close_all();
        }
        for t in self.threads.drain(..) {
            let _ = t.join();
        }
        let deadline = Instant::now() + Duration::from_secs(2);
        while self.shared.clusters.iter().any(|c| c.conns.active() > 0) && Instant::now() < deadline
        {
            for c in &self.shared.clusters {
                c.conns.close_all();
            }
            std::thread::sleep(Duration::from_millis(5));
        }
    }
}

impl Drop for Sim {
    fn drop(&mut self) {
        self.stop();
    }
}

impl ClusterHandle {
    /// Cluster name, as configured (mixed case).
    pub fn name(&self) -> &str {
        &self.state.spec.name
    }

    /// Listening address.
    pub fn addr(&self) -> SocketAddr {
        self.state.addr
    }

    /// Listening port.
    pub fn port(&self) -> u16 {
        self.state.addr.port()
    }

    /// Base URL, e.g. `https://127.0.0.1:18080`.
    pub fn url(&self) -> String {
        let scheme = if self.shared.https { "https" } else { "http" };
        format!("{scheme}://{}", self.state.addr)
    }

    /// Number of nodes.
    pub fn nodes(&self) -> u32 {
        self.state.devices.len() as u32
    }

    /// (devid, LNN) pairs, sorted by devid.
    pub fn devices(&self) -> Vec<(u32, u32)> {
        self.state.devices.clone()
    }

    /// The LNN of a devid, if the cluster has it.
    pub fn lnn(&self, devid: u32) -> Option<u32> {
        self.state.lnn(devid)
    }

    /// The OneFS release, e.g. `9.11.0.0`.
    pub fn onefs_version(&self) -> &str {
        &self.state.spec.onefs_version
    }

    /// Live fault injection.
    pub fn faults(&self) -> Faults {
        Faults::new(self.state.clone())
    }

    /// A snapshot of the counters.
    pub fn counters(&self) -> Counters {
        self.state.recorder.counters()
    }

    /// The request log, oldest first.
    pub fn request_log(&self) -> Vec<LoggedRequest> {
        self.state.recorder.log()
    }

    /// The cluster's clock in Unix seconds: what its answers take as "now".
    pub fn now(&self) -> i64 {
        self.state.now()
    }

    /// Sets the cluster's clock to the wall clock plus `seconds` (negative: in the
    /// past). Answers, history and the values' time buckets follow it; sessions and
    /// timeouts keep real time.
    pub fn set_clock_offset(&self, seconds: i64) {
        self.state
            .clock_offset
            .store(seconds, std::sync::atomic::Ordering::SeqCst);
    }

    /// Moves the cluster's clock forward by `seconds`, as if that much time had
    /// passed at once.
    pub fn advance_clock(&self, seconds: i64) {
        self.state
            .clock_offset
            .fetch_add(seconds, std::sync::atomic::Ordering::SeqCst);
    }

    /// Clears counters and request log.
    pub fn reset_counters(&self) {
        self.state.recorder.reset();
    }

    /// Sessions currently held (expired ones may linger until swept).
    pub fn sessions(&self) -> usize {
        self.state.sessions.len()
    }

    /// The exact `value` `/platform/1/statistics/current` answers for `key` and `devid`
    /// at answer time `time` (see [`answer_time`](crate::answer_time)); `null` for keys
    /// configured with an error other than 3. `None` for an unknown key, or a devid
    /// that does not fit the key's scope (0 for cluster keys, a node's devid else).
    pub fn expected(&self, key: &str, devid: u32, time: i64) -> Option<Value> {
        self.state.expected(&self.shared.catalog, key, devid, time)
    }

    /// The cluster's partitioned-performance datasets, changed live.
    pub fn perf(&self) -> &crate::perf::PerfSet {
        &self.state.perf
    }

    /// The cluster's quotas: what the quota endpoints list, changed live.
    pub fn quotas(&self) -> &crate::quotas::QuotaSet {
        &self.state.quotas
    }

    /// The rows of a summary answer at `time` (any second of its 5 s bucket).
    pub fn expected_summary(&self, kind: SummaryKind, time: i64) -> Vec<Value> {
        summary::rows(&self.state.view(), kind, self.state.spec.summary_rows, time)
    }
}

fn validate(config: &SimConfig) -> io::Result<()> {
    let invalid = |m: String| Err(io::Error::new(io::ErrorKind::InvalidInput, m));
    if config.clusters.is_empty() {
        return invalid("no cluster configured".into());
    }
    if config.users.is_empty() {
        return invalid("no user configured".into());
    }
    let mut names = HashSet::new();
    for spec in &config.clusters {
        if spec.name.is_empty() || !names.insert(spec.name.as_str()) {
            return invalid(format!(
                "cluster name {:?} is empty or used twice",
                spec.name
            ));
        }
        let layout = spec.layout();
        let devids: HashSet<u32> = layout.iter().map(|d| d.0).collect();
        let lnns: HashSet<u32> = layout.iter().map(|d| d.1).collect();
        if layout.is_empty()
            || devids.len() != layout.len()
            || lnns.len() != layout.len()
            || devids.contains(&0)
            || lnns.contains(&0)
        {
            return invalid(format!(
                "cluster {}: needs at least one node, with distinct non-zero devids and LNNs",
                spec.name
            ));
        }
        if let Some((key, code)) = spec.key_errors.iter().find(|(_, c)| !(1..=10).contains(c)) {
            return invalid(format!(
                "cluster {}: error code {code} for {key} is not in 1..=10",
                spec.name
            ));
        }
        if spec.degraded_devid.is_some_and(|d| !devids.contains(&d)) {
            return invalid(format!(
                "cluster {}: degraded devid is not a node of the cluster",
                spec.name
            ));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn handles_can_be_shared_between_threads() {
        fn send_sync<T: Send + Sync>() {}
        send_sync::<Sim>();
        send_sync::<ClusterHandle>();
        send_sync::<Faults>();
    }
}
