//! The `prometheus` sink: serves each cluster's latest statistics on its own
//! `/metrics` endpoint (port `prometheus_port` of its `[[cluster]]`), as gostats
//! does, so that Prometheus scrape configs and dashboards made for gostats keep
//! working; and, with `[prom_http_sd] enabled`, one process-wide HTTP service
//! discovery endpoint listing those ports.
//!
//! This file is glue: read the settings (`config`), keep the samples (`store`,
//! named and rendered by `encode`, compressed by `gzip`), answer requests (`endpoint`, `sd`,
//! whole or streamed bodies from `body`) on
//! listeners (`server`, with `tls` and `idle`) that all run on the plugin's own
//! small runtime (`runtime`). A write only updates the store; scrapes render
//! from it on the runtime's threads, so neither waits long for the other.
//!
//! # Example
//!
//! Opening a sink by hand, as the host would, and scraping it:
//!
//! ```
//! use idic_plugin_api::{testing, Field, OpenContext, Plugin, Point, Row, Sink, Tag, Value};
//! let ctx = OpenContext {
//!     cluster_config: "prometheus_port = 0\n".into(), // 0: any free port
//!     ..testing::open_context("prometheus", "c1", "") // the testing kit's host
//! };
//! let mut sink = prometheus::Prometheus::default().open(&ctx).unwrap();
//! sink.write(&[Point {
//!     measurement: "cluster.cpu.idle.avg".into(),
//!     time: 1_700_000_000,
//!     rows: vec![Row {
//!         tags: vec![Tag::new("cluster", "c1")].into(),
//!         fields: vec![Field::new("value", Value::Float(912.0))].into(),
//!     }].into(),
//! }]).unwrap();
//! let body = sink.render_text();
//! assert!(body.contains("isilon_stat_cluster_cpu_idle_avg{cluster=\"c1\"} 912 1700000000000\n"));
//! sink.close().unwrap();
//! ```

#![deny(missing_docs)]

mod body;
mod config;
pub mod encode;
mod endpoint;
pub mod gzip;
mod idle;
pub mod ppstat;
mod recycle;
mod runtime;
mod sd;
mod server;
pub mod snapshot;
pub mod store;
mod tls;

use std::collections::HashMap;
use std::net::SocketAddr;
use std::path::Path;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Instant;

use idic_plugin_api::{
    conversation, export_plugin, OpenContext, Plugin, Point, Sink, SinkError, StartContext,
};

pub use config::{Config, SdConfig};
use endpoint::{Credentials, Endpoint};
use runtime::Runtime;
use sd::{Discovery, Ports};
use server::Service;
use store::Store;

/// The plugin: its runtime, the discovery listener and the registry of open
/// cluster listeners, for the whole process.
#[derive(Default)]
pub struct Prometheus {
    shared: Arc<Shared>,
    /// Started by `start` (or the first `open`), let go by `stop`; every
    /// listener holds it too, so it stops with the last of them.
    runtime: Mutex<Option<Arc<Runtime>>>,
    discovery: Mutex<Option<Service>>,
}

#[derive(Default)]
struct Shared {
    ports: Arc<Mutex<Ports>>,
    /// Open listeners by port: which cluster holds it, and the listener.
    listeners: Mutex<HashMap<u16, (String, Arc<Service>)>>,
    /// Each cluster's whole snapshots (quotas), by cluster name: announced by
    /// `control("snapshot", ...)`, possibly before the cluster's sink opens.
    snapshots: Mutex<HashMap<String, Arc<snapshot::Snapshots>>>,
}

impl Shared {
    /// The snapshots of `cluster`, made on first use.
    fn snapshots(&self, cluster: &str) -> Arc<snapshot::Snapshots> {
        let mut all = lock(&self.snapshots);
        Arc::clone(
            all.entry(cluster.to_string())
                .or_insert_with(|| Arc::new(snapshot::Snapshots::new(cluster))),
        )
    }
}

/// One cluster's sink: its store and its listener.
pub struct PrometheusSink {
    cluster: String,
    port: u16,
    store: Arc<Store>,
    service: Arc<Service>,
    shared: Arc<Shared>,
}

impl Plugin for Prometheus {
    type Sink = PrometheusSink;
    const NAME: &'static str = "prometheus";
    const VERSION: &'static str = env!("CARGO_PKG_VERSION");
    const DESCRIPTION: &'static str =
        "serves each cluster's latest statistics on its own Prometheus /metrics endpoint";

    /// A scrape sees only the latest values, so replaying a backlog gains
    /// nothing (the host keeps this sink's queue in memory); and the discovery
    /// service and the per-cluster ports are process-wide, so one instance.
    /// `[prom_http_sd]` is read from `StartContext::config`, so it is declared.
    fn capabilities(&self) -> String {
        r#"{"replay": false, "max_instances": 1, "config_sections": ["prom_http_sd"]}"#.to_string()
    }

    /// `check-config`: the section's keys and types, with unknown keys as
    /// warnings; nothing is bound. `snapshot`: the boundaries of a whole
    /// snapshot (quotas) the host is about to write for a cluster. `ping`
    /// (`idic doctor`): nothing to reach (Prometheus scrapes idic), so the
    /// settings are checked and the answer says where scrapers should look.
    fn control(&self, command: &str, payload: &str) -> Result<String, SinkError> {
        if command == conversation::SNAPSHOT {
            let s = snapshot::Announcement::parse(payload).map_err(SinkError::permanent)?;
            if !snapshot::is_snapshot(&s.measurement) {
                return Err(SinkError::permanent(format!(
                    "measurement {:?} is not one the prometheus plugin serves as snapshots",
                    s.measurement
                )));
            }
            self.shared
                .snapshots(&s.cluster)
                .announce(&s.measurement, s.time, s.points);
            return Ok("{}".into());
        }
        if command == conversation::PING {
            Config::parse(payload).map_err(SinkError::config)?;
            return Ok(conversation::ping_answer(
                "nothing to reach: Prometheus scrapes each cluster's prometheus_port on this host",
            ));
        }
        conversation::check_config(command, payload, |section| {
            let (_, warnings) = Config::parse(section).map_err(SinkError::config)?;
            Ok(warnings)
        })
    }

    fn start(&self, ctx: &StartContext) -> Result<(), SinkError> {
        self.stop();
        let (sd, warnings) = SdConfig::from_config(&ctx.config).map_err(SinkError::config)?;
        for w in warnings {
            log::warn!("{w}");
        }
        let configured = config::cluster_ports(ctx.clusters.iter().map(|c| c.as_str()));
        lock(&self.shared.ports).configured = configured;
        let runtime = self.runtime()?;
        if !sd.enabled {
            return Ok(());
        }
        let port = sd.sd_port.unwrap_or_default();
        let host = if sd.listen_addr.is_empty() {
            sd::external_address()
        } else {
            sd.listen_addr.clone()
        };
        let listener = server::bind(port).map_err(|e| {
            SinkError::config(format!(
                "[prom_http_sd] sd_port {port} cannot be used for service discovery: {e}{}",
                bind_hint(&e)
            ))
        })?;
        let discovery = Discovery {
            host: host.clone(),
            ports: Arc::clone(&self.shared.ports),
        };
        let service = Service::start(runtime, listener, None, "http_sd", discovery)
            .map_err(|e| SinkError::config(format!("[prom_http_sd] sd_port {port}: {e}")))?;
        let targets: Vec<String> = lock(&self.shared.ports)
            .all()
            .iter()
            .map(|p| format!("{host}:{p}"))
            .collect();
        log::info!(
            "http_sd serving Prometheus service discovery at http://localhost:{}/ (targets {})",
            service.local_addr().port(),
            targets.join(", ")
        );
        *lock(&self.discovery) = Some(service);
        Ok(())
    }

    fn stop(&self) {
        if let Some(service) = lock(&self.discovery).take() {
            service.stop();
            log::info!("http_sd stopped");
        }
        // The host closed every sink first: this ends the runtime's threads.
        lock(&self.runtime).take();
    }

    fn open(&self, ctx: &OpenContext) -> Result<PrometheusSink, SinkError> {
        let cluster = ctx.cluster.as_str();
        let (config, warnings) = Config::parse(&ctx.plugin_config).map_err(SinkError::config)?;
        for w in warnings {
            log::warn!("cluster={cluster} {w}");
        }
        let port = config::cluster_port(&ctx.cluster_config)
            .map_err(|e| SinkError::config(format!("cluster {cluster}: {e}")))?
            .ok_or_else(|| {
                SinkError::config(format!(
                    "cluster {cluster}: prometheus_port is not set in its [[cluster]]; \
                     the prometheus sink needs one port per cluster"
                ))
            })?;
        let auth = if config.authenticated {
            let password = ctx.host.secret(&config.password).map_err(|e| {
                SinkError::config(format!("cluster {cluster}: [prometheus] password: {e}"))
            })?;
            Some(Credentials {
                username: config.username.clone(),
                password,
            })
        } else {
            None
        };
        let tls = if config.tls() {
            let loaded =
                tls::server_config(Path::new(&config.tls_cert), Path::new(&config.tls_key))
                    .map_err(|e| {
                        SinkError::config(format!("cluster {cluster}: [prometheus] {e}"))
                    })?;
            Some(loaded)
        } else {
            None
        };
        let store = Arc::new(
            Store::new(cluster, config.instance_label(), &ctx.stats)
                .with_snapshots(self.shared.snapshots(cluster)),
        );
        let runtime = self.runtime()?;

        let mut listeners = lock(&self.shared.listeners);
        if let Some((holder, old)) = listeners.get(&port) {
            if holder != cluster {
                return Err(SinkError::config(format!(
                    "cluster {cluster}: prometheus_port {port} is already used by cluster \
                     {holder}; give each [[cluster]] its own prometheus_port"
                )));
            }
            // The same cluster again without a close (a sink lost to a panic):
            // its old listener gives way.
            old.stop();
        }
        let listener = server::bind(port).map_err(|e| {
            SinkError::config(format!(
                "cluster {cluster}: prometheus_port {port} cannot be listened on: {e}{}",
                bind_hint(&e)
            ))
        })?;
        let endpoint = Endpoint {
            cluster: cluster.to_string(),
            store: Arc::clone(&store),
            auth,
        };
        let name = format!("cluster={cluster}");
        let service =
            Service::start(runtime, listener, tls.clone(), &name, endpoint).map_err(|e| {
                SinkError::retryable(format!(
                    "cluster {cluster}: cannot start the /metrics listener: {e}"
                ))
            })?;
        let service = Arc::new(service);
        let port = service.local_addr().port();
        listeners.insert(port, (cluster.to_string(), Arc::clone(&service)));
        drop(listeners);
        lock(&self.shared.ports).open.insert(port);
        log::info!(
            "cluster={cluster} serving {scheme}://localhost:{port}/metrics (port {port} on every interface{})",
            if config.authenticated { ", basic auth" } else { "" },
            scheme = if tls.is_some() { "https" } else { "http" },
        );
        Ok(PrometheusSink {
            cluster: cluster.to_string(),
            port,
            store,
            service,
            shared: Arc::clone(&self.shared),
        })
    }
}

impl Prometheus {
    /// The address of the service-discovery listener, while it runs.
    pub fn discovery_addr(&self) -> Option<SocketAddr> {
        lock(&self.discovery).as_ref().map(Service::local_addr)
    }

    /// The running runtime, started here when neither `start` nor an earlier
    /// `open` did.
    fn runtime(&self) -> Result<Arc<Runtime>, SinkError> {
        let mut slot = lock(&self.runtime);
        if let Some(rt) = slot.as_ref() {
            return Ok(Arc::clone(rt));
        }
        let rt = Runtime::start("prom-http").map(Arc::new).map_err(|e| {
            SinkError::retryable(format!("cannot start the prometheus plugin's threads: {e}"))
        })?;
        *slot = Some(Arc::clone(&rt));
        Ok(rt)
    }
}

impl PrometheusSink {
    /// The address the cluster's listener is bound to.
    pub fn local_addr(&self) -> SocketAddr {
        self.service.local_addr()
    }

    /// The text-format body a scrape would get now (for tests and examples).
    pub fn render_text(&self) -> String {
        self.store.render(encode::Format::Text, Instant::now()).0
    }

    /// The sink's store (for benchmarks).
    pub fn store(&self) -> &Arc<Store> {
        &self.store
    }

    fn shut(&mut self) {
        self.service.stop();
        let mut listeners = lock(&self.shared.listeners);
        if listeners
            .get(&self.port)
            .is_some_and(|(_, s)| Arc::ptr_eq(s, &self.service))
        {
            listeners.remove(&self.port);
            lock(&self.shared.ports).open.remove(&self.port);
        }
    }
}

impl Sink for PrometheusSink {
    fn write(&mut self, batch: &[Point]) -> Result<(), SinkError> {
        let n = self.store.write(batch, Instant::now());
        log::debug!(
            "cluster={} stored {n} samples from {} points",
            self.cluster,
            batch.len()
        );
        Ok(())
    }

    fn close(&mut self) -> Result<(), SinkError> {
        self.shut();
        log::info!(
            "cluster={} stopped serving port {}",
            self.cluster,
            self.port
        );
        Ok(())
    }
}

impl Drop for PrometheusSink {
    fn drop(&mut self) {
        self.shut();
    }
}

export_plugin!(Prometheus);

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// What to do about a port that cannot be listened on, when the cause is known.
fn bind_hint(e: &std::io::Error) -> &'static str {
    /// EMFILE ("Too many open files") on Linux, the BSDs and macOS alike.
    const EMFILE: i32 = 24;
    if e.kind() == std::io::ErrorKind::AddrInUse {
        " (another program, or another idic, listens there: stop it or choose another port)"
    } else if e.raw_os_error() == Some(EMFILE) {
        " (idic has as many files open as it may: raise its limit, `LimitNOFILE=` in its \
         systemd unit or `ulimit -n`; each cluster needs about three)"
    } else {
        ""
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use idic_plugin_api::{testing, Field, Row, Tag, Value};
    use std::io::{Read, Write};
    use std::net::TcpStream;

    #[test]
    fn check_config_warns_about_unknown_keys_without_binding_anything() {
        let answer = Prometheus::default()
            .control("check-config", "listen = \"x\"")
            .unwrap();
        assert!(
            answer.contains("unknown key \\\"listen\\\" ignored"),
            "{answer}"
        );
    }

    #[test]
    fn ping_says_there_is_nothing_to_reach_and_checks_the_settings() {
        let answer = Prometheus::default().control("ping", "").unwrap();
        assert!(
            answer.starts_with("{\"reachable\":\"nothing to reach"),
            "{answer}"
        );
        let err = Prometheus::default()
            .control("ping", "authenticated = true\n")
            .unwrap_err();
        assert_eq!(
            err.kind,
            idic_plugin_api::ErrorKind::Config,
            "{}",
            err.message
        );
    }

    fn open_ctx(cluster: &str) -> OpenContext {
        OpenContext {
            cluster_config: "prometheus_port = 0\n".into(),
            ..testing::open_context("prometheus", cluster, "")
        }
    }

    fn start_ctx() -> StartContext {
        testing::start_context("prometheus", "")
    }

    /// The threads of the plugin's runtime (the only one named so in this test
    /// binary).
    fn runtime_threads() -> usize {
        std::fs::read_dir("/proc/self/task")
            .unwrap()
            .flatten()
            .filter(|t| {
                std::fs::read_to_string(t.path().join("comm"))
                    .is_ok_and(|name| name.trim_end() == "prom-http")
            })
            .count()
    }

    #[test]
    fn bind_errors_say_what_to_do_when_the_cause_is_known() {
        let in_use = std::io::Error::from(std::io::ErrorKind::AddrInUse);
        assert!(bind_hint(&in_use).contains("choose another port"));
        let too_many = std::io::Error::from_raw_os_error(24);
        assert!(bind_hint(&too_many).contains("LimitNOFILE"));
        let other = std::io::Error::from(std::io::ErrorKind::PermissionDenied);
        assert_eq!(bind_hint(&other), "");
    }

    #[test]
    fn many_endpoints_share_two_workers_and_stop_ends_the_threads() {
        let plugin = Prometheus::default();
        plugin.start(&start_ctx()).unwrap();
        let mut sinks: Vec<PrometheusSink> = (0..200)
            .map(|i| plugin.open(&open_ctx(&format!("c{i}"))).unwrap())
            .collect();
        for (i, sink) in sinks.iter_mut().enumerate() {
            sink.write(&[Point {
                measurement: "cluster.cpu.idle.avg".into(),
                time: 1_700_000_000,
                rows: vec![Row {
                    tags: vec![Tag::new("cluster", &format!("c{i}"))].into(),
                    fields: vec![Field::new("value", Value::Float(i as f64))].into(),
                }]
                .into(),
            }])
            .unwrap();
        }
        // Every endpoint answers, several connections open at once.
        let mut open: Vec<TcpStream> = sinks
            .iter()
            .map(|s| TcpStream::connect(("127.0.0.1", s.local_addr().port())).unwrap())
            .collect();
        for (i, conn) in open.iter_mut().enumerate() {
            conn.write_all(b"GET /metrics HTTP/1.0\r\n\r\n").unwrap();
            let mut answer = String::new();
            conn.read_to_string(&mut answer).unwrap();
            assert!(
                answer.ends_with(&format!("{{cluster=\"c{i}\"}} {i} 1700000000000\n")),
                "{answer}"
            );
        }
        assert!(
            runtime_threads() <= runtime::WORKER_THREADS + runtime::RENDER_THREADS,
            "{} threads",
            runtime_threads()
        );
        for mut sink in sinks {
            sink.close().unwrap();
        }
        plugin.stop();
        // Joined threads can linger in /proc a moment: wait for the count to
        // reach zero (bounded, so a failure cannot hang).
        for _ in 0..1000 {
            if runtime_threads() == 0 {
                break;
            }
            std::thread::sleep(std::time::Duration::from_millis(10));
        }
        assert_eq!(runtime_threads(), 0);
    }
}
