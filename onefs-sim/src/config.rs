//! What a simulator serves: [`SimConfig`] for the process (bind address, TLS, users,
//! session lifetimes, catalog) and one [`ClusterSpec`] per simulated cluster.
//!
//! Plain structs with `Default` and a few `with_*` helpers; validation happens in
//! `Sim::start`. Nothing here runs.

use std::net::{IpAddr, Ipv4Addr};
use std::sync::Arc;
use std::time::Duration;

use crate::catalog::Catalog;
use crate::faults::FaultSettings;

/// Node count of a cluster unless set.
pub const DEFAULT_NODES: u32 = 4;
/// OneFS release reported unless set.
pub const DEFAULT_ONEFS_VERSION: &str = "9.11.0.0";
/// User accepted unless set.
pub const DEFAULT_USER: &str = "statsreader";
/// Password of [`DEFAULT_USER`].
pub const DEFAULT_PASSWORD: &str = "s3kret";
/// Rows of each summary answer unless set.
pub const DEFAULT_SUMMARY_ROWS: usize = 12;

/// Settings of one simulator process.
#[derive(Clone, Debug)]
pub struct SimConfig {
    /// Address every cluster listens on.
    ///
    /// Default: `127.0.0.1`.
    pub bind: IpAddr,
    /// Serve HTTPS with a certificate generated at start; false serves plain HTTP.
    ///
    /// Default: true.
    pub https: bool,
    /// Accepted (user name, password) pairs, for session login and Basic auth.
    ///
    /// Default: `statsreader` / `s3kret`.
    pub users: Vec<(String, String)>,
    /// Absolute lifetime of a session; the login answer's `timeout_absolute`.
    ///
    /// Default: 14400 s (4 hours), as OneFS.
    pub session_timeout: Duration,
    /// A session unused for this long expires too; the login answer's `timeout_inactive`.
    ///
    /// Default: 900 s, as OneFS.
    pub session_idle_timeout: Duration,
    /// An idle keep-alive connection is closed after this long.
    ///
    /// Default: 60 s.
    pub keep_alive_timeout: Duration,
    /// Statistics keys served by every cluster.
    ///
    /// Default: [`Catalog::builtin`].
    pub catalog: Arc<Catalog>,
    /// The clusters, each on its own port.
    ///
    /// Default: none (`Sim::start` refuses an empty list).
    pub clusters: Vec<ClusterSpec>,
    /// Requests kept in each cluster's request log (oldest dropped first); 0 keeps none.
    ///
    /// Default: 128.
    pub request_log_capacity: usize,
    /// Extra DNS names or IP addresses for the certificate, besides `localhost`,
    /// `127.0.0.1`, `::1` and the bind address.
    ///
    /// Default: none.
    pub cert_names: Vec<String>,
}

/// One simulated cluster.
#[derive(Clone, Debug)]
pub struct ClusterSpec {
    /// Cluster name as `/platform/1/cluster/config` reports it (keep it mixed case so a
    /// collector's lower-casing shows).
    pub name: String,
    /// TCP port; 0 picks a free one.
    ///
    /// Default: 0.
    pub port: u16,
    /// Number of nodes.
    ///
    /// Default: 4.
    pub nodes: u32,
    /// Explicit (devid, LNN) pairs; empty means [`default_devices`] of `nodes`.
    ///
    /// Default: empty.
    pub devices: Vec<(u32, u32)>,
    /// OneFS release, e.g. `9.11.0.0`.
    ///
    /// Default: `9.11.0.0`.
    pub onefs_version: String,
    /// Rows in each `/platform/3/statistics/summary/*` answer.
    ///
    /// Default: 12.
    pub summary_rows: usize,
    /// Keys that always answer error_code 1 ("not present").
    ///
    /// Default: none.
    pub not_present: Vec<String>,
    /// Keys that always answer the given error_code (1..=10); code 3 keeps the value.
    ///
    /// Default: none.
    pub key_errors: Vec<(String, u32)>,
    /// A node whose answers are degraded (error_code 3, value kept).
    ///
    /// Default: none.
    pub degraded_devid: Option<u32>,
    /// Whether session login sets the `isicsrf` cookie and later requests need the
    /// `X-CSRF-Token` and `Referer` headers (false mimics releases before CSRF).
    ///
    /// Default: true.
    pub csrf: bool,
    /// Faults active from the start.
    ///
    /// Default: none.
    pub faults: FaultSettings,
    /// How many quotas `/platform/8/quota/quotas` lists (see `quotas`).
    ///
    /// Default: 24.
    pub quotas: u32,
    /// Serve a certificate (from the same CA) whose validity ends this many days
    /// after start, at midnight UTC; negative: it has already expired. Only with
    /// HTTPS.
    ///
    /// Default: none (the certificate every cluster shares, valid for centuries).
    pub cert_expiry_days: Option<i64>,
}

impl Default for SimConfig {
    fn default() -> SimConfig {
        SimConfig {
            bind: IpAddr::V4(Ipv4Addr::LOCALHOST),
            https: true,
            users: vec![(DEFAULT_USER.to_string(), DEFAULT_PASSWORD.to_string())],
            session_timeout: Duration::from_secs(14_400),
            session_idle_timeout: Duration::from_secs(900),
            keep_alive_timeout: Duration::from_secs(60),
            catalog: Catalog::builtin(),
            clusters: Vec::new(),
            request_log_capacity: 128,
            cert_names: Vec::new(),
        }
    }
}

impl SimConfig {
    /// Default settings with the given clusters.
    pub fn with_clusters(clusters: impl IntoIterator<Item = ClusterSpec>) -> SimConfig {
        SimConfig {
            clusters: clusters.into_iter().collect(),
            ..SimConfig::default()
        }
    }

    /// Adds a cluster.
    pub fn cluster(mut self, spec: ClusterSpec) -> SimConfig {
        self.clusters.push(spec);
        self
    }
}

/// Quotas of a cluster unless set otherwise.
pub const DEFAULT_QUOTAS: u32 = 24;

impl ClusterSpec {
    /// A cluster with default settings on an ephemeral port.
    pub fn new(name: impl Into<String>) -> ClusterSpec {
        ClusterSpec {
            name: name.into(),
            port: 0,
            nodes: DEFAULT_NODES,
            devices: Vec::new(),
            onefs_version: DEFAULT_ONEFS_VERSION.to_string(),
            summary_rows: DEFAULT_SUMMARY_ROWS,
            not_present: Vec::new(),
            key_errors: Vec::new(),
            degraded_devid: None,
            csrf: true,
            faults: FaultSettings::default(),
            quotas: DEFAULT_QUOTAS,
            cert_expiry_days: None,
        }
    }

    /// `n` clusters named `SimCluster1`..`SimClusterN`, on ports `base_port`.. (or all
    /// ephemeral when `base_port` is 0).
    pub fn numbered(n: usize, base_port: u16) -> Vec<ClusterSpec> {
        (0..n)
            .map(|i| {
                let port = if base_port == 0 {
                    0
                } else {
                    base_port.saturating_add(i as u16)
                };
                ClusterSpec::new(format!("SimCluster{}", i + 1)).with_port(port)
            })
            .collect()
    }

    /// Sets the port.
    pub fn with_port(mut self, port: u16) -> ClusterSpec {
        self.port = port;
        self
    }

    /// Sets the node count (and the default layout for it).
    pub fn with_nodes(mut self, nodes: u32) -> ClusterSpec {
        self.nodes = nodes;
        self
    }

    /// Sets explicit (devid, LNN) pairs; the node count follows.
    pub fn with_devices(mut self, devices: Vec<(u32, u32)>) -> ClusterSpec {
        self.nodes = devices.len() as u32;
        self.devices = devices;
        self
    }

    /// Sets the OneFS release.
    pub fn with_onefs_version(mut self, version: impl Into<String>) -> ClusterSpec {
        self.onefs_version = version.into();
        self
    }

    /// Sets the number of summary rows.
    pub fn with_summary_rows(mut self, rows: usize) -> ClusterSpec {
        self.summary_rows = rows;
        self
    }

    /// Sets the number of quotas.
    pub fn with_quotas(mut self, quotas: u32) -> ClusterSpec {
        self.quotas = quotas;
        self
    }

    /// Serves a certificate that ends `days` days after start (negative: expired).
    pub fn with_cert_expiry_days(mut self, days: i64) -> ClusterSpec {
        self.cert_expiry_days = Some(days);
        self
    }

    /// Makes a key always answer "not present".
    pub fn with_not_present(mut self, key: impl Into<String>) -> ClusterSpec {
        self.not_present.push(key.into());
        self
    }

    /// Makes a key always answer `error_code` (1..=10).
    pub fn with_key_error(mut self, key: impl Into<String>, error_code: u32) -> ClusterSpec {
        self.key_errors.push((key.into(), error_code));
        self
    }

    /// Makes one node degraded.
    pub fn with_degraded_devid(mut self, devid: u32) -> ClusterSpec {
        self.degraded_devid = Some(devid);
        self
    }

    /// Turns CSRF protection off, as on releases before it.
    pub fn without_csrf(mut self) -> ClusterSpec {
        self.csrf = false;
        self
    }

    /// Sets the faults active from the start.
    pub fn with_faults(mut self, faults: FaultSettings) -> ClusterSpec {
        self.faults = faults;
        self
    }

    /// The (devid, LNN) pairs this cluster serves, sorted by devid.
    pub fn layout(&self) -> Vec<(u32, u32)> {
        let mut devices = if self.devices.is_empty() {
            default_devices(self.nodes)
        } else {
            self.devices.clone()
        };
        devices.sort_unstable();
        devices
    }
}

/// The default layout of an `n`-node cluster: devids 1..=n with LNN = devid, except
/// that devids 3 and 4 swap LNNs (3 nodes: devid 3 has LNN 4, as after a node
/// replacement), so a collector's `node` tag visibly differs from `devid`.
pub fn default_devices(nodes: u32) -> Vec<(u32, u32)> {
    (1..=nodes)
        .map(|devid| {
            let lnn = match (nodes, devid) {
                (3, 3) => 4,
                (n, 3) if n >= 4 => 4,
                (n, 4) if n >= 4 => 3,
                _ => devid,
            };
            (devid, lnn)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_layout_swaps_lnns_three_and_four() {
        assert_eq!(default_devices(1), vec![(1, 1)]);
        assert_eq!(default_devices(3), vec![(1, 1), (2, 2), (3, 4)]);
        assert_eq!(
            default_devices(5),
            vec![(1, 1), (2, 2), (3, 4), (4, 3), (5, 5)]
        );
    }

    #[test]
    fn numbered_clusters_are_mixed_case_on_consecutive_ports() {
        let specs = ClusterSpec::numbered(3, 18080);
        assert_eq!(specs[2].name, "SimCluster3");
        assert_eq!(specs[2].port, 18082);
        assert!(ClusterSpec::numbered(2, 0).iter().all(|s| s.port == 0));
    }
}
