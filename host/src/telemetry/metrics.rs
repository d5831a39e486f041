//! The process-wide metric families and the readiness state.
//!
//! Names follow Prometheus' conventions: an `idic_` prefix, base units
//! (seconds, bytes), `_total` on counters. Everything lives in one
//! [`prometheus::Registry`] created at first use; nothing is served unless
//! `[telemetry] listen` is set.

use std::sync::atomic::{AtomicBool, AtomicI64, Ordering};
use std::sync::OnceLock;

use prometheus::{
    HistogramOpts, HistogramVec, IntCounter, IntCounterVec, IntGauge, IntGaugeVec, Opts, Registry,
};

use super::queues::Queues;

/// Poll latency buckets, seconds: a healthy cycle takes milliseconds, a
/// struggling cluster up to `request_timeout`.
const LATENCY_BUCKETS: &[f64] = &[
    0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0,
];

/// Every family idic exports.
pub struct Metrics {
    /// Where they are gathered from.
    pub registry: Registry,
    pub(super) cycles: IntCounterVec,
    pub(super) cycles_late: IntCounterVec,
    pub(super) cycles_failed: IntCounterVec,
    pub(super) poll_seconds: HistogramVec,
    pub(super) answer_bytes: IntCounterVec,
    pub(super) points: IntCounterVec,
    pub(super) keys_skipped: IntCounterVec,
    pub(super) logins: IntCounterVec,
    pub(super) connected: IntGaugeVec,
    connect_failures: IntCounterVec,
    plugin_load_failures: IntCounter,
    panics: IntCounterVec,
    reloads: IntCounterVec,
    plugins: IntGaugeVec,
    /// The delivery queues, read at scrape time.
    pub queues: Queues,
    /// What `/ready` reports.
    pub readiness: Readiness,
}

/// What `/ready` checks: the config is loaded, the plugins are loaded and
/// started, and at least one cluster is connected.
#[derive(Default)]
pub struct Readiness {
    config_loaded: AtomicBool,
    plugins_loaded: AtomicBool,
    pub(super) clusters_connected: AtomicI64,
}

impl Readiness {
    /// `None` when ready, else what is missing.
    pub fn missing(&self) -> Option<String> {
        let mut missing = Vec::new();
        if !self.config_loaded.load(Ordering::Relaxed) {
            missing.push("the config is not loaded");
        }
        if !self.plugins_loaded.load(Ordering::Relaxed) {
            missing.push("the sink plugins are not loaded");
        }
        if self.clusters_connected.load(Ordering::Relaxed) <= 0 {
            missing.push("no cluster is connected");
        }
        (!missing.is_empty()).then(|| missing.join("; "))
    }
}

/// The process's metrics (created at first use).
pub fn global() -> &'static Metrics {
    static METRICS: OnceLock<Metrics> = OnceLock::new();
    METRICS.get_or_init(Metrics::new)
}

fn counter(registry: &Registry, name: &str, help: &str, labels: &[&str]) -> IntCounterVec {
    let c = IntCounterVec::new(Opts::new(name, help), labels).expect("a valid metric name");
    registry
        .register(Box::new(c.clone()))
        .expect("registered once");
    c
}

fn gauge(registry: &Registry, name: &str, help: &str, labels: &[&str]) -> IntGaugeVec {
    let g = IntGaugeVec::new(Opts::new(name, help), labels).expect("a valid metric name");
    registry
        .register(Box::new(g.clone()))
        .expect("registered once");
    g
}

impl Metrics {
    fn new() -> Metrics {
        let r = Registry::new();
        let c = ["cluster"];
        let poll_seconds = HistogramVec::new(
            HistogramOpts::new(
                "idic_cluster_poll_duration_seconds",
                "Time from a cycle's first request to its decoded points, seconds.",
            )
            .buckets(LATENCY_BUCKETS.to_vec()),
            &c,
        )
        .expect("a valid histogram");
        r.register(Box::new(poll_seconds.clone()))
            .expect("registered once");
        let build = gauge(
            &r,
            "idic_build_info",
            "Always 1; the labels say which idic and plugin-api this is.",
            &["version", "plugin_api"],
        );
        build
            .with_label_values(&[env!("CARGO_PKG_VERSION"), idic_plugin_api::API_VERSION])
            .set(1);
        let plugin_load_failures = IntCounter::new(
            "idic_plugin_load_failures_total",
            "Sink plugins that failed to load or start (at start or on a reload).",
        )
        .expect("a valid metric name");
        r.register(Box::new(plugin_load_failures.clone()))
            .expect("registered once");
        let queues = Queues::default();
        r.register(Box::new(queues.clone()))
            .expect("registered once");
        // Known label values start at 0, so that the series exist (and alerts
        // and dashboards see 0) before the first event.
        let panics = counter(&r, "idic_panics_total", "Panics caught: task: a cluster task or sink writer (a bug in idic, restarted); plugin: a sink call (the sink is reopened).", &["where"]);
        let reloads = counter(
            &r,
            "idic_reloads_total",
            "Reloads (SIGHUP or a config change), by result.",
            &["result"],
        );
        for place in ["task", "plugin"] {
            panics.with_label_values(&[place]);
        }
        for result in ["ok", "refused"] {
            reloads.with_label_values(&[result]);
        }
        Metrics {
            cycles: counter(&r, "idic_cluster_cycles_total", "Collection cycles that delivered points to the queues.", &c),
            cycles_late: counter(&r, "idic_cluster_cycles_late_total", "Successful cycles that ended after their next slot (a slot was missed).", &c),
            cycles_failed: counter(&r, "idic_cluster_cycles_failed_total", "Collection cycles that failed (unreachable, refused, malformed answer, ...).", &c),
            poll_seconds,
            answer_bytes: counter(&r, "idic_cluster_answer_bytes_total", "Bytes of OneFS answers decoded.", &c),
            points: counter(&r, "idic_cluster_points_decoded_total", "Points decoded from OneFS answers.", &c),
            keys_skipped: counter(&r, "idic_cluster_keys_skipped_total", "Keys an answer left out (not present, not supported, unusable value), per cycle.", &c),
            logins: counter(&r, "idic_cluster_logins_total", "Successful OneFS session logins (none with Basic auth).", &c),
            connected: gauge(&r, "idic_cluster_connected", "1 while the cluster's task is connected and collecting.", &c),
            connect_failures: counter(&r, "idic_cluster_connect_failures_total", "Failed attempts to connect, before the cluster's name is known (by configured host:port).", &["target"]),
            plugin_load_failures,
            panics,
            reloads,
            plugins: gauge(&r, "idic_plugin_info", "1 for each loaded sink plugin, with its version.", &["plugin", "version"]),
            queues,
            readiness: Readiness::default(),
            registry: r,
        }
    }

    /// The text exposition of every family.
    pub fn render(&self) -> String {
        let families = self.registry.gather();
        prometheus::TextEncoder::new()
            .encode_to_string(&families)
            .unwrap_or_else(|e| format!("# idic: cannot encode the metrics: {e}\n"))
    }

    /// The config is loaded (at start; a refused reload keeps the old one).
    pub fn config_loaded(&self) {
        self.readiness.config_loaded.store(true, Ordering::Relaxed);
    }

    /// The plugins of the running config are loaded and started, these ones.
    pub fn plugins_loaded(&self, plugins: &[(String, String)]) {
        self.plugins.reset();
        for (name, version) in plugins {
            self.plugins.with_label_values(&[name, version]).set(1);
        }
        self.readiness.plugins_loaded.store(true, Ordering::Relaxed);
    }

    /// A plugin failed to load or start.
    pub fn plugin_load_failed(&self) {
        self.plugin_load_failures.inc();
    }

    /// A panic was caught; `place` is `task` (a cluster task or sink writer) or `plugin` (a sink call).
    pub fn panicked(&self, place: &str) {
        self.panics.with_label_values(&[place]).inc();
    }

    /// A reload was applied (`ok`) or refused (`refused`).
    pub fn reloaded(&self, ok: bool) {
        let result = if ok { "ok" } else { "refused" };
        self.reloads.with_label_values(&[result]).inc();
    }

    /// Connecting to `target` (`host:port`) failed.
    pub fn connect_failed(&self, target: &str) {
        self.connect_failures.with_label_values(&[target]).inc();
    }

    /// How many clusters are connected now.
    pub fn clusters_connected(&self) -> i64 {
        self.readiness.clusters_connected.load(Ordering::Relaxed)
    }

    /// The connected gauge of `cluster`.
    pub(super) fn connected_gauge(&self, cluster: &str) -> IntGauge {
        self.connected.with_label_values(&[cluster])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn readiness_lists_what_is_missing() {
        let r = Readiness::default();
        let m = r.missing().unwrap();
        assert!(m.contains("config") && m.contains("plugins") && m.contains("no cluster"));
        r.config_loaded.store(true, Ordering::Relaxed);
        r.plugins_loaded.store(true, Ordering::Relaxed);
        assert_eq!(r.missing().as_deref(), Some("no cluster is connected"));
        r.clusters_connected.store(1, Ordering::Relaxed);
        assert_eq!(r.missing(), None);
    }

    #[test]
    fn every_family_follows_the_naming_conventions() {
        let m = global();
        m.reloaded(true);
        m.panicked("task");
        m.connect_failed("h:8080");
        let text = m.render();
        for line in text.lines().filter(|l| l.starts_with("# TYPE ")) {
            let mut parts = line.split(' ').skip(2);
            let (name, kind) = (parts.next().unwrap(), parts.next().unwrap());
            assert!(name.starts_with("idic_"), "{line}");
            if kind == "counter" {
                assert!(name.ends_with("_total"), "{line}");
            } else {
                assert!(!name.ends_with("_total"), "{line}");
            }
        }
        assert!(text.contains("idic_build_info{plugin_api="), "{text}");
    }
}
