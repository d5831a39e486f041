//! The statistics key catalog: what `/platform/1/statistics/keys/<KEY>` answers and
//! what shape `/platform/1/statistics/current` gives each key.
//!
//! It owns the built-in table (the 116 keys of gostats' example stat groups plus a few
//! keys that show the other value shapes) and the loader for catalog files in the
//! reference format `{"keys":[{...}, ...]}`. It does not generate values (see
//! `values`), and it holds no copy of the reference data: every description below is
//! written for this simulator.
//!
//! Update intervals chosen for the built-in keys (the interval of the first policy whose
//! `persistent` is false):
//!
//! | keys | interval | why |
//! |---|---|---|
//! | most rates, gauges, CPU, disk, network, cache | 5 s | as on a real cluster |
//! | `node.clientstats.active.*` (except `jobd`) | 5 s | shorter retention, as real |
//! | `ifs.bytes.*`, `ifs.percent.*` | 30 s | real clusters use 300 s; 30 s shows movement in a demo |
//! | `cluster.health` | 10 s | a key with a non-5 s interval and a single policy |
//! | `node.ifs.heat.*` | 15 s | the persistent policy is listed *first*, so a collector must pick the first non-persistent one |
//! | `node.uptime`, `node.boottime` | 10 s | as real |
//! | `cluster.protostats.*`, `cluster.node.count.*`, `node.open.files`, `node.cpu.throttling`, `node.clientstats.active.jobd`, `cluster.disk.xfers.{in,out}.rate`, string keys | none | `policies: null`, as real: the collector uses its minimum interval |

use std::collections::HashMap;
use std::fmt;
use std::path::Path;
use std::sync::{Arc, OnceLock};

use serde::{Deserialize, Serialize};

/// Whether a key has one cluster-wide value (devid 0) or one value per node.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Scope {
    /// One value for the whole cluster, answered with devid 0.
    Cluster,
    /// One value per node, answered with the node's devid (and LNN with `show_nodes`).
    Node,
}

/// One history policy of a key, as `/platform/1/statistics/keys/<KEY>` reports it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Policy {
    /// Seconds between samples.
    pub interval: u32,
    /// Whether the history is persisted to disk.
    pub persistent: bool,
    /// Seconds the samples are kept.
    pub retention: u64,
}

/// Metadata of one statistics key, in the field names of the OneFS answer.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct KeyInfo {
    /// Key name, e.g. `cluster.cpu.idle.avg`.
    pub key: String,
    /// Human-readable description (the collector uses it as Prometheus HELP).
    #[serde(default)]
    pub description: String,
    /// Units, e.g. `permil`, `bytes per second`, `none`.
    #[serde(default = "default_units")]
    pub units: String,
    /// Cluster or node scope.
    pub scope: Scope,
    /// Data type, e.g. `int32`, `double`, `stats_proto_opstat_list`, `string`.
    #[serde(rename = "type")]
    pub type_name: String,
    /// Down-sampling aggregation, e.g. `average`, `last`, `custom`.
    #[serde(default = "default_aggregation")]
    pub aggregation_type: String,
    /// Name of the key this one is derived from, if any.
    #[serde(default)]
    pub base_name: Option<String>,
    /// Name of the real key if this is an alias.
    #[serde(default)]
    pub real_name: Option<String>,
    /// Default seconds the cluster serves a cached value.
    #[serde(default)]
    pub default_cache_time: i64,
    /// Configured seconds the cluster serves a cached value.
    #[serde(default)]
    pub policy_cache_time: Option<i64>,
    /// History policies; `None` (JSON `null`) for on-demand keys.
    #[serde(default)]
    pub policies: Option<Vec<Policy>>,
}

/// A set of statistics keys, looked up by name.
#[derive(Clone, Debug)]
pub struct Catalog {
    keys: Vec<KeyInfo>,
    index: HashMap<String, usize>,
}

/// Why a catalog could not be loaded.
#[derive(Debug)]
pub struct CatalogError {
    kind: CatalogErrorKind,
    message: String,
}

/// The class of a [`CatalogError`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum CatalogErrorKind {
    /// The file could not be read.
    Io,
    /// The text is not JSON of the expected shape.
    Json,
    /// The JSON parsed but a key is unusable (empty name, duplicate).
    Invalid,
}

/// The stat groups activated by gostats' example configuration, in its order: 13 groups,
/// 116 keys. All of them are in [`Catalog::builtin`].
pub const EXAMPLE_STAT_GROUPS: &[(&str, &[&str])] = &[
    (
        "cluster_cpu_stats",
        &[
            "cluster.cpu.sys.avg",
            "cluster.cpu.user.avg",
            "cluster.cpu.idle.avg",
            "cluster.cpu.intr.avg",
        ],
    ),
    (
        "cluster_network_traffic_stats",
        &[
            "cluster.net.ext.bytes.in.rate",
            "cluster.net.ext.bytes.out.rate",
            "cluster.net.ext.packets.in.rate",
            "cluster.net.ext.packets.out.rate",
            "cluster.net.ext.errors.in.rate",
            "cluster.net.ext.errors.out.rate",
        ],
    ),
    (
        "cluster_client_activity_stats",
        &[
            "node.clientstats.active.ftp",
            "node.clientstats.active.hdfs",
            "node.clientstats.active.http",
            "node.clientstats.active.lsass_out",
            "node.clientstats.active.jobd",
            "node.clientstats.active.nfs",
            "node.clientstats.active.nfs4",
            "node.clientstats.active.nlm",
            "node.clientstats.active.papi",
            "node.clientstats.active.siq",
            "node.clientstats.active.cifs",
            "node.clientstats.active.smb2",
            "node.clientstats.connected.ftp",
            "node.clientstats.connected.hdfs",
            "node.clientstats.connected.http",
            "node.clientstats.connected.nfs",
            "node.clientstats.connected.nlm",
            "node.clientstats.connected.papi",
            "node.clientstats.connected.siq",
            "node.clientstats.connected.cifs",
        ],
    ),
    (
        "cluster_health_stats",
        &[
            "cluster.health",
            "cluster.node.count.all",
            "cluster.node.count.down",
        ],
    ),
    (
        "ifs_space_stats",
        &[
            "ifs.bytes.avail",
            "ifs.bytes.free",
            "ifs.bytes.used",
            "ifs.bytes.total",
            "ifs.percent.free",
            "ifs.percent.avail",
            "ifs.percent.used",
        ],
    ),
    (
        "ifs_rate_stats",
        &[
            "ifs.bytes.in.rate",
            "ifs.bytes.out.rate",
            "ifs.ops.in.rate",
            "ifs.ops.out.rate",
        ],
    ),
    (
        "node_load_stats",
        &[
            "node.cpu.throttling",
            "node.load.1min",
            "node.load.5min",
            "node.load.15min",
            "node.memory.used",
            "node.memory.free",
            "node.open.files",
        ],
    ),
    (
        "node_disk_stats",
        &[
            "node.disk.bytes.out.rate.avg",
            "node.disk.bytes.in.rate.avg",
            "node.disk.busy.avg",
            "node.disk.xfers.out.rate.avg",
            "node.disk.xfers.in.rate.avg",
            "node.disk.xfer.size.out.avg",
            "node.disk.xfer.size.in.avg",
            "node.disk.access.latency.avg",
            "node.disk.access.slow.avg",
            "node.disk.iosched.queue.avg",
            "node.disk.iosched.latency.avg",
        ],
    ),
    (
        "node_net_stats",
        &[
            "node.net.int.bytes.in.rate",
            "node.net.int.bytes.out.rate",
            "node.net.ext.bytes.in.rate",
            "node.net.ext.bytes.out.rate",
            "node.net.int.errors.in.rate",
            "node.net.int.errors.out.rate",
            "node.net.ext.errors.in.rate",
            "node.net.ext.errors.out.rate",
        ],
    ),
    (
        "cluster_disk_rate_stats",
        &[
            "cluster.disk.xfers.rate",
            "cluster.disk.xfers.in.rate",
            "cluster.disk.xfers.out.rate",
            "cluster.disk.bytes.in.rate",
            "cluster.disk.bytes.out.rate",
        ],
    ),
    (
        "cluster_proto_stats",
        &[
            "cluster.protostats.nfs",
            "cluster.protostats.nlm",
            "cluster.protostats.cifs",
            "cluster.protostats.ftp",
            "cluster.protostats.http",
            "cluster.protostats.siq",
            "cluster.protostats.jobd",
            "cluster.protostats.smb2",
            "cluster.protostats.nfs4",
            "cluster.protostats.irp",
            "cluster.protostats.lsass_in",
            "cluster.protostats.lsass_out",
            "cluster.protostats.papi",
            "cluster.protostats.hdfs",
            "cluster.protostats.nfs.total",
            "cluster.protostats.nlm.total",
            "cluster.protostats.cifs.total",
            "cluster.protostats.ftp.total",
            "cluster.protostats.http.total",
            "cluster.protostats.siq.total",
            "cluster.protostats.jobd.total",
            "cluster.protostats.smb2.total",
            "cluster.protostats.nfs4.total",
            "cluster.protostats.irp.total",
            "cluster.protostats.lsass_in.total",
            "cluster.protostats.lsass_out.total",
            "cluster.protostats.papi.total",
            "cluster.protostats.hdfs.total",
        ],
    ),
    ("cache_stats", &["node.ifs.cache"]),
    (
        "heat_total_stats",
        &[
            "node.ifs.heat.lock.total",
            "node.ifs.heat.blocked.total",
            "node.ifs.heat.contended.total",
            "node.ifs.heat.deadlocked.total",
            "node.ifs.heat.write.total",
            "node.ifs.heat.read.total",
            "node.ifs.heat.lookup.total",
            "node.ifs.heat.rename.total",
            "node.ifs.heat.link.total",
            "node.ifs.heat.unlink.total",
            "node.ifs.heat.getattr.total",
            "node.ifs.heat.setattr.total",
        ],
    ),
];

impl KeyInfo {
    /// The key's update interval: the `interval` of the first policy whose `persistent`
    /// is false; `None` when there is no such policy (an on-demand key).
    pub fn update_interval(&self) -> Option<u32> {
        self.policies
            .as_ref()?
            .iter()
            .find(|p| !p.persistent)
            .map(|p| p.interval)
            .filter(|&i| i > 0)
    }

    /// Width in seconds of the time buckets the key's values change in: the update
    /// interval, or 5 s for keys without one.
    pub fn value_interval(&self) -> u32 {
        self.update_interval().unwrap_or(5)
    }

    /// The key as the JSON object of a `/platform/1/statistics/keys/<KEY>` answer.
    pub fn to_json(&self) -> serde_json::Value {
        serde_json::to_value(self).unwrap_or(serde_json::Value::Null)
    }
}

impl Catalog {
    /// The built-in catalog (shared; cloning the `Arc` is cheap).
    pub fn builtin() -> Arc<Catalog> {
        static BUILTIN_CATALOG: OnceLock<Arc<Catalog>> = OnceLock::new();
        BUILTIN_CATALOG
            .get_or_init(|| {
                let keys = BUILTIN.iter().map(|row| builtin_key(*row)).collect();
                Arc::new(Catalog::from_keys(keys).expect("built-in catalog is valid"))
            })
            .clone()
    }

    /// Builds a catalog from key records; fails on an empty or duplicate key name.
    pub fn from_keys(keys: Vec<KeyInfo>) -> Result<Catalog, CatalogError> {
        let mut index = HashMap::with_capacity(keys.len());
        for (i, info) in keys.iter().enumerate() {
            if info.key.is_empty() {
                return Err(CatalogError::new(
                    CatalogErrorKind::Invalid,
                    format!("key number {i} has an empty name"),
                ));
            }
            if index.insert(info.key.clone(), i).is_some() {
                return Err(CatalogError::new(
                    CatalogErrorKind::Invalid,
                    format!("key {} appears twice", info.key),
                ));
            }
        }
        Ok(Catalog { keys, index })
    }

    /// Parses a catalog in the reference format `{"keys":[{...}, ...]}`.
    pub fn from_json(text: &str) -> Result<Catalog, CatalogError> {
        #[derive(Deserialize)]
        struct File {
            keys: Vec<KeyInfo>,
        }
        let file: File = serde_json::from_str(text)
            .map_err(|e| CatalogError::new(CatalogErrorKind::Json, e.to_string()))?;
        Catalog::from_keys(file.keys)
    }

    /// Reads and parses a catalog file in the reference format.
    pub fn load(path: impl AsRef<Path>) -> Result<Catalog, CatalogError> {
        let path = path.as_ref();
        let text = std::fs::read_to_string(path).map_err(|e| {
            CatalogError::new(CatalogErrorKind::Io, format!("{}: {e}", path.display()))
        })?;
        Catalog::from_json(&text)
            .map_err(|e| CatalogError::new(e.kind, format!("{}: {}", path.display(), e.message)))
    }

    /// Looks a key up by name.
    pub fn get(&self, key: &str) -> Option<&KeyInfo> {
        self.index.get(key).map(|&i| &self.keys[i])
    }

    /// All keys, in catalog order.
    pub fn keys(&self) -> &[KeyInfo] {
        &self.keys
    }

    /// Number of keys.
    pub fn len(&self) -> usize {
        self.keys.len()
    }

    /// Whether the catalog has no key.
    pub fn is_empty(&self) -> bool {
        self.keys.is_empty()
    }
}

impl CatalogError {
    fn new(kind: CatalogErrorKind, message: String) -> CatalogError {
        CatalogError { kind, message }
    }

    /// The class of the error.
    pub fn kind(&self) -> CatalogErrorKind {
        self.kind
    }
}

impl fmt::Display for CatalogError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let what = match self.kind {
            CatalogErrorKind::Io => "cannot read catalog",
            CatalogErrorKind::Json => "catalog is not valid JSON of the form {\"keys\":[...]}",
            CatalogErrorKind::Invalid => "invalid catalog",
        };
        write!(f, "{what}: {}", self.message)
    }
}

impl std::error::Error for CatalogError {}

fn default_units() -> String {
    "none".to_string()
}

fn default_aggregation() -> String {
    "last".to_string()
}

/// Policy sets of the built-in table.
#[derive(Clone, Copy)]
enum Pol {
    /// 5 s non-persistent (4200 s) + 120 s persistent (14 days).
    Std5,
    /// 5 s non-persistent (1200 s) + 120 s persistent (2 days): client activity.
    Client5,
    /// 30 s non-persistent + daily persistent: /ifs space.
    Space30,
    /// A single 10 s non-persistent policy.
    Every10,
    /// Persistent 120 s listed first, then 15 s non-persistent: heat.
    Heat15,
    /// `policies: null`.
    OnDemand,
}

impl Pol {
    fn policies(self) -> Option<Vec<Policy>> {
        let p = |interval, persistent, retention| Policy {
            interval,
            persistent,
            retention,
        };
        match self {
            Pol::Std5 => Some(vec![p(5, false, 4200), p(120, true, 1_209_600)]),
            Pol::Client5 => Some(vec![p(5, false, 1200), p(120, true, 172_800)]),
            Pol::Space30 => Some(vec![p(30, false, 87_000), p(86_400, true, 31_536_000)]),
            Pol::Every10 => Some(vec![p(10, false, 1000)]),
            Pol::Heat15 => Some(vec![p(120, true, 604_800), p(15, false, 1000)]),
            Pol::OnDemand => None,
        }
    }

    fn cache_times(self) -> (i64, Option<i64>) {
        match self {
            Pol::Std5 | Pol::Space30 => (0, Some(7)),
            Pol::Client5 => (0, Some(5)),
            Pol::Every10 | Pol::Heat15 => (0, Some(10)),
            Pol::OnDemand => (0, None),
        }
    }
}

type Row = (
    &'static str,
    &'static str,
    &'static str,
    Scope,
    &'static str,
    Pol,
    &'static str,
);

fn builtin_key((key, type_name, units, scope, aggregation, pol, description): Row) -> KeyInfo {
    let (default_cache_time, policy_cache_time) = pol.cache_times();
    KeyInfo {
        key: key.to_string(),
        description: description.to_string(),
        units: units.to_string(),
        scope,
        type_name: type_name.to_string(),
        aggregation_type: aggregation.to_string(),
        base_name: None,
        real_name: None,
        default_cache_time,
        policy_cache_time,
        policies: pol.policies(),
    }
}

use Pol::*;
use Scope::{Cluster as C, Node as N};

const AVG: &str = "average";
const LAST: &str = "last";
const CUSTOM: &str = "custom";
const BPS: &str = "bytes per second";
const OPS: &str = "operations per second";

/// The built-in keys: (key, type, units, scope, aggregation, policies, description).
#[rustfmt::skip]
const BUILTIN: &[Row] = &[
    // cluster_cpu_stats
    ("cluster.cpu.sys.avg", "int32", "permil", C, AVG, Std5, "Cluster-wide mean of system-mode CPU time, in tenths of a percent"),
    ("cluster.cpu.user.avg", "int32", "permil", C, AVG, Std5, "Cluster-wide mean of user-mode CPU time, in tenths of a percent"),
    ("cluster.cpu.idle.avg", "int32", "permil", C, AVG, Std5, "Cluster-wide mean of idle CPU time, in tenths of a percent"),
    ("cluster.cpu.intr.avg", "int32", "permil", C, AVG, Std5, "Cluster-wide mean of CPU time spent on interrupts, in tenths of a percent"),
    // cluster_network_traffic_stats
    ("cluster.net.ext.bytes.in.rate", "double", BPS, C, AVG, Std5, "Bytes per second received on all front-end interfaces of the cluster"),
    ("cluster.net.ext.bytes.out.rate", "double", BPS, C, AVG, Std5, "Bytes per second sent on all front-end interfaces of the cluster"),
    ("cluster.net.ext.packets.in.rate", "double", "packets per second", C, AVG, Std5, "Packets per second received on all front-end interfaces of the cluster"),
    ("cluster.net.ext.packets.out.rate", "double", "packets per second", C, AVG, Std5, "Packets per second sent on all front-end interfaces of the cluster"),
    ("cluster.net.ext.errors.in.rate", "double", "errors per second", C, AVG, Std5, "Receive errors per second on all front-end interfaces of the cluster"),
    ("cluster.net.ext.errors.out.rate", "double", "errors per second", C, AVG, Std5, "Transmit errors per second on all front-end interfaces of the cluster"),
    // cluster_client_activity_stats
    ("node.clientstats.active.ftp", "int32", "none", N, AVG, Client5, "FTP clients with an operation in flight on this node"),
    ("node.clientstats.active.hdfs", "int32", "none", N, AVG, Client5, "HDFS clients with an operation in flight on this node"),
    ("node.clientstats.active.http", "int32", "none", N, AVG, Client5, "HTTP clients with an operation in flight on this node"),
    ("node.clientstats.active.lsass_out", "int32", "none", N, AVG, Client5, "Outgoing authentication (LSASS) requests in flight on this node"),
    ("node.clientstats.active.jobd", "int32", "none", N, AVG, OnDemand, "Job engine clients with an operation in flight on this node"),
    ("node.clientstats.active.nfs", "int32", "none", N, AVG, Client5, "NFSv3 clients with an operation in flight on this node"),
    ("node.clientstats.active.nfs4", "int32", "none", N, AVG, Client5, "NFSv4 clients with an operation in flight on this node"),
    ("node.clientstats.active.nlm", "int32", "none", N, AVG, Client5, "NFS lock manager clients with an operation in flight on this node"),
    ("node.clientstats.active.papi", "int32", "none", N, AVG, Client5, "Platform API clients with a request in flight on this node"),
    ("node.clientstats.active.siq", "int32", "none", N, AVG, Client5, "SyncIQ peers with an operation in flight on this node"),
    ("node.clientstats.active.cifs", "int32", "none", N, AVG, Client5, "SMB1 clients with an operation in flight on this node"),
    ("node.clientstats.active.smb2", "int32", "none", N, AVG, Client5, "SMB2 and SMB3 clients with an operation in flight on this node"),
    ("node.clientstats.connected.ftp", "int32", "none", N, AVG, Std5, "FTP clients connected to this node"),
    ("node.clientstats.connected.hdfs", "int32", "none", N, AVG, Std5, "HDFS clients connected to this node"),
    ("node.clientstats.connected.http", "int32", "none", N, AVG, Std5, "HTTP clients connected to this node"),
    ("node.clientstats.connected.nfs", "int32", "none", N, AVG, Std5, "NFS clients connected to this node"),
    ("node.clientstats.connected.nlm", "int32", "none", N, AVG, Std5, "NFS lock manager clients connected to this node"),
    ("node.clientstats.connected.papi", "int32", "none", N, AVG, Std5, "Platform API clients connected to this node"),
    ("node.clientstats.connected.siq", "int32", "none", N, AVG, Std5, "SyncIQ peers connected to this node"),
    ("node.clientstats.connected.cifs", "int32", "none", N, AVG, Std5, "SMB clients (all dialects) connected to this node"),
    // cluster_health_stats
    ("cluster.health", "int32", "none", C, AVG, Every10, "Overall cluster state: 0 healthy, 1 needs attention, 2 down"),
    ("cluster.node.count.all", "int32", "none", C, AVG, OnDemand, "Nodes configured in the cluster"),
    ("cluster.node.count.down", "int32", "none", C, AVG, OnDemand, "Configured nodes that are not currently up"),
    // ifs_space_stats
    ("ifs.bytes.avail", "int64", "bytes", C, AVG, Space30, "Bytes of /ifs that can still be written by users"),
    ("ifs.bytes.free", "int64", "bytes", C, AVG, Space30, "Bytes of /ifs not in use, including the space reserved for the system"),
    ("ifs.bytes.used", "int64", "bytes", C, AVG, Space30, "Bytes of /ifs in use"),
    ("ifs.bytes.total", "int64", "bytes", C, AVG, Space30, "Capacity of /ifs in bytes"),
    ("ifs.percent.free", "double", "percent", C, AVG, Space30, "Share of /ifs not in use, including the system reserve"),
    ("ifs.percent.avail", "double", "percent", C, AVG, Space30, "Share of /ifs that users can still write"),
    ("ifs.percent.used", "double", "percent", C, AVG, Space30, "Share of /ifs in use"),
    // ifs_rate_stats
    ("ifs.bytes.in.rate", "double", BPS, C, AVG, Std5, "Bytes per second written into /ifs across the cluster"),
    ("ifs.bytes.out.rate", "double", BPS, C, AVG, Std5, "Bytes per second read from /ifs across the cluster"),
    ("ifs.ops.in.rate", "double", OPS, C, AVG, Std5, "Write operations per second into /ifs across the cluster"),
    ("ifs.ops.out.rate", "double", OPS, C, AVG, Std5, "Read operations per second from /ifs across the cluster"),
    // node_load_stats
    ("node.cpu.throttling", "int32", "none", N, AVG, OnDemand, "1 while the node's CPUs are thermally throttled, else 0"),
    ("node.load.1min", "int32", "cents", N, AVG, Std5, "Run-queue load average over one minute, times 100"),
    ("node.load.5min", "int32", "cents", N, AVG, Std5, "Run-queue load average over five minutes, times 100"),
    ("node.load.15min", "int32", "cents", N, AVG, Std5, "Run-queue load average over fifteen minutes, times 100"),
    ("node.memory.used", "uint64", "bytes", N, AVG, Std5, "Physical memory in use on the node, in bytes"),
    ("node.memory.free", "uint64", "bytes", N, AVG, Std5, "Physical memory free on the node, in bytes"),
    ("node.open.files", "int32", "none", N, AVG, OnDemand, "Files currently open on the node"),
    // node_disk_stats
    ("node.disk.bytes.out.rate.avg", "double", BPS, N, AVG, Std5, "Mean over the node's drives of bytes read per second"),
    ("node.disk.bytes.in.rate.avg", "double", BPS, N, AVG, Std5, "Mean over the node's drives of bytes written per second"),
    ("node.disk.busy.avg", "int32", "permil", N, AVG, Std5, "Mean over the node's drives of busy time, in tenths of a percent"),
    ("node.disk.xfers.out.rate.avg", "double", OPS, N, AVG, Std5, "Mean over the node's drives of read transfers per second"),
    ("node.disk.xfers.in.rate.avg", "double", OPS, N, AVG, Std5, "Mean over the node's drives of write transfers per second"),
    ("node.disk.xfer.size.out.avg", "double", "bytes", N, AVG, Std5, "Mean size of a read transfer on the node's drives, in bytes"),
    ("node.disk.xfer.size.in.avg", "double", "bytes", N, AVG, Std5, "Mean size of a write transfer on the node's drives, in bytes"),
    ("node.disk.access.latency.avg", "double", "seconds", N, AVG, Std5, "Mean time a drive of this node takes to complete an access"),
    ("node.disk.access.slow.avg", "int32", "cents", N, AVG, Std5, "Mean over the node's drives of slow accesses per second, times 100"),
    ("node.disk.iosched.queue.avg", "int32", "cents", N, AVG, Std5, "Mean length of the node's I/O scheduler queues, times 100"),
    ("node.disk.iosched.latency.avg", "double", "seconds", N, AVG, Std5, "Mean time a request waits in the node's I/O scheduler"),
    // node_net_stats
    ("node.net.int.bytes.in.rate", "double", BPS, N, AVG, Std5, "Bytes per second received on the node's back-end interfaces"),
    ("node.net.int.bytes.out.rate", "double", BPS, N, AVG, Std5, "Bytes per second sent on the node's back-end interfaces"),
    ("node.net.ext.bytes.in.rate", "double", BPS, N, AVG, Std5, "Bytes per second received on the node's front-end interfaces"),
    ("node.net.ext.bytes.out.rate", "double", BPS, N, AVG, Std5, "Bytes per second sent on the node's front-end interfaces"),
    ("node.net.int.errors.in.rate", "double", "errors per second", N, AVG, Std5, "Receive errors per second on the node's back-end interfaces"),
    ("node.net.int.errors.out.rate", "double", "errors per second", N, AVG, Std5, "Transmit errors per second on the node's back-end interfaces"),
    ("node.net.ext.errors.in.rate", "double", "errors per second", N, AVG, Std5, "Receive errors per second on the node's front-end interfaces"),
    ("node.net.ext.errors.out.rate", "double", "errors per second", N, AVG, Std5, "Transmit errors per second on the node's front-end interfaces"),
    // cluster_disk_rate_stats
    ("cluster.disk.xfers.rate", "double", OPS, C, AVG, Std5, "Drive transfers per second, all drives of the cluster"),
    ("cluster.disk.xfers.in.rate", "double", OPS, C, AVG, OnDemand, "Drive write transfers per second, all drives of the cluster"),
    ("cluster.disk.xfers.out.rate", "double", OPS, C, AVG, OnDemand, "Drive read transfers per second, all drives of the cluster"),
    ("cluster.disk.bytes.in.rate", "double", BPS, C, AVG, Std5, "Bytes written per second to all drives of the cluster"),
    ("cluster.disk.bytes.out.rate", "double", BPS, C, AVG, Std5, "Bytes read per second from all drives of the cluster"),
    // cluster_proto_stats
    ("cluster.protostats.nfs", "stats_proto_opstat_list", "none", C, CUSTOM, OnDemand, "NFSv3 activity summed over the cluster, one record per operation"),
    ("cluster.protostats.nlm", "stats_proto_opstat_list", "none", C, CUSTOM, OnDemand, "NFS lock manager activity summed over the cluster, one record per operation"),
    ("cluster.protostats.cifs", "stats_proto_opstat_list", "none", C, CUSTOM, OnDemand, "SMB1 activity summed over the cluster, one record per operation"),
    ("cluster.protostats.ftp", "stats_proto_opstat_list", "none", C, CUSTOM, OnDemand, "FTP activity summed over the cluster, one record per operation"),
    ("cluster.protostats.http", "stats_proto_opstat_list", "none", C, CUSTOM, OnDemand, "HTTP activity summed over the cluster, one record per operation"),
    ("cluster.protostats.siq", "stats_proto_opstat_list", "none", C, CUSTOM, OnDemand, "SyncIQ activity summed over the cluster, one record per operation"),
    ("cluster.protostats.jobd", "stats_proto_opstat_list", "none", C, CUSTOM, OnDemand, "Job engine activity summed over the cluster, one record per operation"),
    ("cluster.protostats.smb2", "stats_proto_opstat_list", "none", C, CUSTOM, OnDemand, "SMB2 and SMB3 activity summed over the cluster, one record per operation"),
    ("cluster.protostats.nfs4", "stats_proto_opstat_list", "none", C, CUSTOM, OnDemand, "NFSv4 activity summed over the cluster, one record per operation"),
    ("cluster.protostats.irp", "stats_proto_opstat_list", "none", C, CUSTOM, OnDemand, "I/O request packet activity summed over the cluster, one record per operation"),
    ("cluster.protostats.lsass_in", "stats_proto_opstat_list", "none", C, CUSTOM, OnDemand, "Incoming authentication requests summed over the cluster, one record per operation"),
    ("cluster.protostats.lsass_out", "stats_proto_opstat_list", "none", C, CUSTOM, OnDemand, "Outgoing authentication requests summed over the cluster, one record per operation"),
    ("cluster.protostats.papi", "stats_proto_opstat_list", "none", C, CUSTOM, OnDemand, "Platform API activity summed over the cluster, one record per operation"),
    ("cluster.protostats.hdfs", "stats_proto_opstat_list", "none", C, CUSTOM, OnDemand, "HDFS activity summed over the cluster, one record per operation"),
    ("cluster.protostats.nfs.total", "stats_proto_opstat_list", "none", C, CUSTOM, OnDemand, "NFSv3 activity summed over the cluster and all operations"),
    ("cluster.protostats.nlm.total", "stats_proto_opstat_list", "none", C, CUSTOM, OnDemand, "NFS lock manager activity summed over the cluster and all operations"),
    ("cluster.protostats.cifs.total", "stats_proto_opstat_list", "none", C, CUSTOM, OnDemand, "SMB1 activity summed over the cluster and all operations"),
    ("cluster.protostats.ftp.total", "stats_proto_opstat_list", "none", C, CUSTOM, OnDemand, "FTP activity summed over the cluster and all operations"),
    ("cluster.protostats.http.total", "stats_proto_opstat_list", "none", C, CUSTOM, OnDemand, "HTTP activity summed over the cluster and all operations"),
    ("cluster.protostats.siq.total", "stats_proto_opstat_list", "none", C, CUSTOM, OnDemand, "SyncIQ activity summed over the cluster and all operations"),
    ("cluster.protostats.jobd.total", "stats_proto_opstat_list", "none", C, CUSTOM, OnDemand, "Job engine activity summed over the cluster and all operations"),
    ("cluster.protostats.smb2.total", "stats_proto_opstat_list", "none", C, CUSTOM, OnDemand, "SMB2 and SMB3 activity summed over the cluster and all operations"),
    ("cluster.protostats.nfs4.total", "stats_proto_opstat_list", "none", C, CUSTOM, OnDemand, "NFSv4 activity summed over the cluster and all operations"),
    ("cluster.protostats.irp.total", "stats_proto_opstat_list", "none", C, CUSTOM, OnDemand, "I/O request packet activity summed over the cluster and all operations"),
    ("cluster.protostats.lsass_in.total", "stats_proto_opstat_list", "none", C, CUSTOM, OnDemand, "Incoming authentication requests summed over the cluster and all operations"),
    ("cluster.protostats.lsass_out.total", "stats_proto_opstat_list", "none", C, CUSTOM, OnDemand, "Outgoing authentication requests summed over the cluster and all operations"),
    ("cluster.protostats.papi.total", "stats_proto_opstat_list", "none", C, CUSTOM, OnDemand, "Platform API activity summed over the cluster and all operations"),
    ("cluster.protostats.hdfs.total", "stats_proto_opstat_list", "none", C, CUSTOM, OnDemand, "HDFS activity summed over the cluster and all operations"),
    // cache_stats
    ("node.ifs.cache", "stats_cache_data", "none", N, CUSTOM, Std5, "Counters of the node's L1, L2 and L3 read caches (starts, hits, misses, waits, prefetches) since boot"),
    // heat_total_stats
    ("node.ifs.heat.lock.total", "double", OPS, N, AVG, Heat15, "Lock events per second on this node, all files"),
    ("node.ifs.heat.blocked.total", "double", OPS, N, AVG, Heat15, "Blocked lock events per second on this node, all files"),
    ("node.ifs.heat.contended.total", "double", OPS, N, AVG, Heat15, "Contended lock events per second on this node, all files"),
    ("node.ifs.heat.deadlocked.total", "double", OPS, N, AVG, Heat15, "Deadlocked lock events per second on this node, all files"),
    ("node.ifs.heat.write.total", "double", OPS, N, AVG, Heat15, "Write events per second on this node, all files"),
    ("node.ifs.heat.read.total", "double", OPS, N, AVG, Heat15, "Read events per second on this node, all files"),
    ("node.ifs.heat.lookup.total", "double", OPS, N, AVG, Heat15, "Name lookups per second on this node, all directories"),
    ("node.ifs.heat.rename.total", "double", OPS, N, AVG, Heat15, "Renames per second on this node, all files"),
    ("node.ifs.heat.link.total", "double", OPS, N, AVG, Heat15, "Hard links created per second on this node"),
    ("node.ifs.heat.unlink.total", "double", OPS, N, AVG, Heat15, "Unlinks per second on this node"),
    ("node.ifs.heat.getattr.total", "double", OPS, N, AVG, Heat15, "Attribute reads per second on this node"),
    ("node.ifs.heat.setattr.total", "double", OPS, N, AVG, Heat15, "Attribute changes per second on this node"),
    // Extra keys: more value shapes and node-level counterparts.
    ("cluster.cpu.count", "int32", "none", C, LAST, OnDemand, "CPU cores online in the whole cluster"),
    ("node.cpu.count", "int32", "none", N, LAST, OnDemand, "CPU cores online on the node"),
    ("node.cpu.user.avg", "int32", "permil", N, AVG, Std5, "Node mean of user-mode CPU time, in tenths of a percent"),
    ("node.cpu.sys.avg", "int32", "permil", N, AVG, Std5, "Node mean of system-mode CPU time, in tenths of a percent"),
    ("node.cpu.intr.avg", "int32", "permil", N, AVG, Std5, "Node mean of CPU time spent on interrupts, in tenths of a percent"),
    ("node.cpu.idle.avg", "int32", "permil", N, AVG, Std5, "Node mean of idle CPU time, in tenths of a percent"),
    ("node.uptime", "int32", "seconds", N, LAST, Every10, "Seconds since the node booted"),
    ("node.boottime", "int32", "epoch seconds", N, LAST, Every10, "When the node last booted, in seconds since the Unix epoch"),
    ("node.memory.cache", "uint64", "bytes", N, AVG, Std5, "Physical memory holding cached file data, in bytes"),
    ("node.ifs.bytes.in.rate", "double", BPS, N, AVG, Std5, "Bytes per second written into /ifs through this node"),
    ("node.ifs.bytes.out.rate", "double", BPS, N, AVG, Std5, "Bytes per second read from /ifs through this node"),
    ("node.ifs.ops.in", "uint64", "operations", N, LAST, OnDemand, "Write operations into /ifs through this node since boot"),
    ("node.protostats.nfs", "stats_proto_opstat_list", "none", N, CUSTOM, Client5, "NFSv3 activity on this node, one record per operation"),
    ("node.protostats.nfs.total", "stats_proto_opstat_list", "none", N, CUSTOM, Client5, "NFSv3 activity on this node summed over all operations"),
    ("node.protostats.smb2", "stats_proto_opstat_list", "none", N, CUSTOM, Client5, "SMB2 and SMB3 activity on this node, one record per operation"),
    ("node.clientstats.proto.nfs", "stats_client_proto_list_v2", "none", N, CUSTOM, Client5, "NFSv3 activity on this node per client, with one record per operation class"),
    ("node.clientstats.proto.smb2", "stats_client_proto_list_v2", "none", N, CUSTOM, Client5, "SMB2 and SMB3 activity on this node per client, with one record per operation class"),
    ("node.ifs.heat.lock", "stats_heat_list", "none", N, CUSTOM, Heat15, "The files with the most lock events on this node"),
    ("node.ifs.heat.read", "stats_heat_list", "none", N, CUSTOM, Heat15, "The files with the most read events on this node"),
    ("node.disk.busy.all", "stats_node_disk_list", "none", N, CUSTOM, Std5, "Busy time of each drive of the node, in tenths of a percent"),
    ("node.disk.xfers.rate.all", "stats_node_disk_list", "none", N, CUSTOM, Std5, "Transfers per second of each drive of the node"),
    ("cluster.node.list.all", "string", "none", C, LAST, OnDemand, "LNNs of all configured nodes, comma separated"),
    ("cluster.node.list.up", "string", "none", C, LAST, OnDemand, "LNNs of the nodes that are up, comma separated"),
    ("cluster.node.list.down", "string", "none", C, LAST, OnDemand, "LNNs of the nodes that are down, comma separated"),
    ("node.disk.name.0", "string", "none", N, LAST, OnDemand, "Bay name of the node's first drive"),
    ("node.mds.cache.stats", "stats_mds_cache", "none", N, CUSTOM, OnDemand, "Hit and miss counters of the mirrored data structure cache"),
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn builtin_covers_every_example_key() {
        let catalog = Catalog::builtin();
        let mut count = 0;
        for (_, keys) in EXAMPLE_STAT_GROUPS {
            for key in *keys {
                assert!(
                    catalog.get(key).is_some(),
                    "{key} missing from the built-in catalog"
                );
                count += 1;
            }
        }
        assert_eq!(count, 116);
        assert_eq!(EXAMPLE_STAT_GROUPS.len(), 13);
    }

    #[test]
    fn update_interval_is_first_non_persistent_policy() {
        let catalog = Catalog::builtin();
        let check = |key: &str, expected: Option<u32>| {
            assert_eq!(
                catalog.get(key).unwrap().update_interval(),
                expected,
                "{key}"
            )
        };
        check("cluster.cpu.idle.avg", Some(5));
        check("ifs.bytes.used", Some(30));
        check("cluster.health", Some(10));
        check("node.ifs.heat.read.total", Some(15));
        check("cluster.protostats.nfs", None);
        assert_eq!(
            catalog
                .get("cluster.protostats.nfs")
                .unwrap()
                .value_interval(),
            5
        );
    }

    #[test]
    fn loads_reference_format() {
        let text = r#"{"keys":[{"key":"a.b","description":"d","units":"none","scope":"node","type":"int32",
            "aggregation_type":"last","base_name":null,"real_name":null,"default_cache_time":0,
            "policy_cache_time":null,"policies":[{"interval":10,"persistent":false,"retention":5}]}]}"#;
        let catalog = Catalog::from_json(text).unwrap();
        assert_eq!(catalog.len(), 1);
        assert_eq!(catalog.get("a.b").unwrap().update_interval(), Some(10));
        assert_eq!(catalog.get("a.b").unwrap().to_json()["type"], "int32");
    }

    #[test]
    fn rejects_duplicates_and_bad_json() {
        let dup = r#"{"keys":[{"key":"a","scope":"node","type":"int32"},{"key":"a","scope":"node","type":"int32"}]}"#;
        assert_eq!(
            Catalog::from_json(dup).unwrap_err().kind(),
            CatalogErrorKind::Invalid
        );
        assert_eq!(
            Catalog::from_json("[1,2]").unwrap_err().kind(),
            CatalogErrorKind::Json
        );
        assert_eq!(
            Catalog::load("/nonexistent/catalog.json")
                .unwrap_err()
                .kind(),
            CatalogErrorKind::Io
        );
    }
}
