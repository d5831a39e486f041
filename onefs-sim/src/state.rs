//! Shared state: [`SimShared`] for the process (users, timeouts, catalog, TLS, the
//! clusters) and [`ClusterState`] for one cluster (spec, layout, faults, sessions,
//! counters, listener). Connection threads hold an `Arc` of both; the public handles
//! in `sim` wrap them.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicI64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use serde_json::Value;

use crate::auth::Sessions;
use crate::catalog::Catalog;
use crate::config::{ClusterSpec, SimConfig};
use crate::faults::FaultState;
use crate::perf::PerfSet;
use crate::quotas::QuotaSet;
use crate::record::Recorder;
use crate::server::{ConnRegistry, ListenerCtl};
use crate::values::{self, ClusterView};

/// State of the whole simulator.
pub(crate) struct SimShared {
    pub users: Vec<(String, String)>,
    pub session_timeout: Duration,
    pub session_idle_timeout: Duration,
    pub keep_alive_timeout: Duration,
    pub https: bool,
    pub catalog: Arc<Catalog>,
    pub tls: Option<Arc<rustls::ServerConfig>>,
    pub clusters: Vec<Arc<ClusterState>>,
    pub shutdown: AtomicBool,
}

/// State of one cluster.
pub(crate) struct ClusterState {
    pub spec: ClusterSpec,
    /// (devid, LNN) pairs sorted by devid.
    pub devices: Vec<(u32, u32)>,
    pub addr: SocketAddr,
    pub faults: FaultState,
    pub sessions: Sessions,
    pub recorder: Recorder,
    pub listener: ListenerCtl,
    pub conns: ConnRegistry,
    pub quotas: QuotaSet,
    pub perf: PerfSet,
    /// Seconds added to the wall clock for every answer's `now` (the cluster's own
    /// clock; tests move it forward instead of waiting).
    pub clock_offset: AtomicI64,
    /// This cluster's own TLS configuration (see `ClusterSpec::cert_expiry_days`);
    /// none serves `SimShared::tls`.
    pub tls: Option<Arc<rustls::ServerConfig>>,
}

impl SimShared {
    pub(crate) fn new(
        config: &SimConfig,
        tls: Option<Arc<rustls::ServerConfig>>,
        clusters: Vec<Arc<ClusterState>>,
    ) -> SimShared {
        SimShared {
            users: config.users.clone(),
            session_timeout: config.session_timeout,
            session_idle_timeout: config.session_idle_timeout,
            keep_alive_timeout: config.keep_alive_timeout,
            https: config.https,
            catalog: config.catalog.clone(),
            tls,
            clusters,
            shutdown: AtomicBool::new(false),
        }
    }

    /// A cluster by exact name.
    pub(crate) fn cluster(&self, name: &str) -> Option<&Arc<ClusterState>> {
        self.clusters.iter().find(|c| c.spec.name == name)
    }
}

impl ClusterState {
    pub(crate) fn new(
        spec: ClusterSpec,
        addr: SocketAddr,
        log_capacity: usize,
        tls: Option<Arc<rustls::ServerConfig>>,
    ) -> ClusterState {
        let devices = spec.layout();
        let mut key_errors: HashMap<String, u32> = spec.key_errors.iter().cloned().collect();
        for key in &spec.not_present {
            key_errors.insert(key.clone(), 1);
        }
        let faults = FaultState::new(
            &spec.name,
            spec.faults.clone(),
            key_errors,
            spec.degraded_devid,
        );
        let quotas = QuotaSet::new(&spec.name, spec.quotas);
        let perf = PerfSet::new(&spec.name, devices.iter().map(|d| d.0).collect());
        ClusterState {
            quotas,
            perf,
            listener: ListenerCtl::new(addr),
            spec,
            devices,
            addr,
            faults,
            sessions: Sessions::new(),
            recorder: Recorder::new(log_capacity),
            conns: ConnRegistry::default(),
            clock_offset: AtomicI64::new(0),
            tls,
        }
    }

    /// The cluster's clock: the wall clock in Unix seconds plus its offset.
    pub(crate) fn now(&self) -> i64 {
        crate::server::unix_now() + self.clock_offset.load(Ordering::SeqCst)
    }

    pub(crate) fn view(&self) -> ClusterView<'_> {
        ClusterView {
            name: &self.spec.name,
            devices: &self.devices,
        }
    }

    /// The LNN of a devid.
    pub(crate) fn lnn(&self, devid: u32) -> Option<u32> {
        self.devices.iter().find(|d| d.0 == devid).map(|d| d.1)
    }

    /// The value `/platform/1/statistics/current` answers for `key` and `devid` at answer
    /// time `time`, including forced errors (`null` unless the error is "degraded").
    pub(crate) fn expected(
        &self,
        catalog: &Catalog,
        key: &str,
        devid: u32,
        time: i64,
    ) -> Option<Value> {
        let info = catalog.get(key)?;
        let known = match info.scope {
            crate::catalog::Scope::Cluster => devid == 0,
            crate::catalog::Scope::Node => self.lnn(devid).is_some(),
        };
        if !known {
            return None;
        }
        let code = self
            .faults
            .key_error(key)
            .or((info.type_name == "invalid").then_some(1));
        if code.is_some_and(|c| c != 3) {
            return Some(Value::Null);
        }
        Some(values::value(&self.view(), info, devid, time))
    }
}
