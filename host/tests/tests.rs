//! idic's integration tests: the built `idic` binary run as an operator runs it,
//! against simulated clusters over HTTPS, with plugins loaded from a folder.

// The harness: temp folders, the idic process, plugins, simulated clusters.
mod util;
// Simulated clusters and configs pointing at them.
mod sim;
// A real Prometheus server started for a test and queried through its HTTP API.
mod promd;
// Whether influxd, prometheus and promtool are installed: skip or fail.
mod services;
// A real InfluxDB 1.x server started for a test and queried through its HTTP API.
mod influxd;
// Remote-write receivers (Prometheus, VictoriaMetrics), shared with the plugin's tests.
#[path = "../../plugins/remote_write/tests/receivers.rs"]
mod receivers;

// Command line: help, version, check-config messages.
mod cli;
// Plugin loading: discovery, refusals, ABI compatibility.
mod plugins;
// Collection end to end through onefs-sim and the jsonl sink.
mod collect;
// Clusters answering garbage: idic survives, logs once, and collects fully again.
mod hostile;
// Authentication and TLS toward clusters, as an operator configures them.
mod onefs;
// READMEs and module docs that must stay true.
mod docs;
// The prometheus sink end to end: discovery, scrapes and values in a real Prometheus.
mod prometheus;
// The influxdb sink end to end: dashboard queries, a gostats database, an outage.
mod influxdb;
// Durable, fanned-out delivery: outages, SIGKILL, dead sinks, damaged buffers, full disks.
mod durable;
// The quota source: paging, InfluxDB and /metrics values, deletions, limits, refusals.
mod quotas;
// The partitioned-performance source: datasets, workloads, exact values in InfluxDB.
mod perf;
// Several idic processes, one InfluxDB: shards split clusters; active-active pairs.
mod scaling;
// The remote_write sink end to end into real Prometheus and VictoriaMetrics.
mod remote_write;
// History backfill: gaps after a stop, an outage, a cap; live cycles first.
mod backfill;
// idic's own metrics, /health and /ready; $file: secrets; SIGUSR1 log reopening.
mod telemetry;
// `idic doctor` with every failure injected into onefs-sim.
mod doctor;
// Shell completions and the man page as installed.
mod manual;
