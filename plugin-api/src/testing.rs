//! Ready-made host pieces for testing a plugin without idic (cargo feature
//! `testing`, meant for `[dev-dependencies]`): the contexts, sample points of
//! every shape the collector produces, and [`Harness`], which drives a [`Sink`]
//! through its whole lifecycle as the host does.
//!
//! ```
//! # #[cfg(feature = "testing")] {
//! use idic_plugin_api::testing::{self, Harness};
//! # use idic_plugin_api::{OpenContext, Plugin, Point, Sink, SinkError};
//! # #[derive(Default)] struct Counter;
//! # struct Count(usize);
//! # impl Plugin for Counter {
//! #     type Sink = Count;
//! #     const NAME: &'static str = "counter";
//! #     const VERSION: &'static str = "0.1.0";
//! #     const DESCRIPTION: &'static str = "counts";
//! #     fn open(&self, _: &OpenContext) -> Result<Count, SinkError> { Ok(Count(0)) }
//! # }
//! # impl Sink for Count {
//! #     fn write(&mut self, b: &[Point]) -> Result<(), SinkError> { self.0 += b.len(); Ok(()) }
//! # }
//! let mut harness = Harness::<Counter>::start("").unwrap();
//! let sink = harness.open("c1").unwrap();
//! sink.write(&testing::sample_points(1_700_000_000)).unwrap();
//! harness.finish().unwrap(); // flush and close every sink, then stop
//! # }
//! ```

use std::sync::Mutex;

use abi_stable::std_types::{RResult, RStr, RString, RVec};

use crate::{
    Field, HostServices, LogLevel, OpenContext, Plugin, Point, Row, Sink, SinkError, StartContext,
    StatInfo, Tag, Value,
};

/// Every record plugins logged through [`host_services`] in this process, as
/// `LEVEL plugin: message`.
static LOGGED: Mutex<Vec<String>> = Mutex::new(Vec::new());

extern "C" fn log(level: LogLevel, plugin: RStr<'_>, _module: RStr<'_>, message: RStr<'_>) {
    let line = format!("{level:?} {plugin}: {message}");
    LOGGED.lock().unwrap_or_else(|p| p.into_inner()).push(line);
}

/// Resolves `$env:NAME` from the environment as idic does; any other value is
/// returned as it is.
extern "C" fn resolve_secret(value: RStr<'_>) -> RResult<RString, RString> {
    match value.as_str().strip_prefix("$env:") {
        None => RResult::ROk(value.into()),
        Some(name) => match std::env::var(name) {
            Ok(v) => RResult::ROk(v.into()),
            Err(_) => RResult::RErr(format!("environment variable {name} is not set").into()),
        },
    }
}

/// Host services that record log lines (read them with [`logged`]) at every
/// level up to `Trace`, and resolve `$env:NAME` secrets from the environment.
pub fn host_services() -> HostServices {
    HostServices {
        log,
        max_level: LogLevel::Trace,
        resolve_secret,
    }
}

/// The log lines recorded so far by [`host_services`], in order.
pub fn logged() -> Vec<String> {
    LOGGED.lock().unwrap_or_else(|p| p.into_inner()).clone()
}

/// A start context for plugin `name` with its section `plugin_config` (TOML
/// text); the whole config is that section under `[name]`, and no clusters.
pub fn start_context(name: &str, plugin_config: &str) -> StartContext {
    StartContext {
        plugin_name: name.into(),
        config: format!("[{name}]\n{plugin_config}\n").into(),
        plugin_config: plugin_config.into(),
        clusters: RVec::new(),
        host: host_services(),
        extra: "{}".into(),
    }
}

/// An open context for plugin `name` and cluster `cluster` with its section
/// `plugin_config`, OneFS 9.11.0.0, and the [`StatInfo`] of every sample point.
pub fn open_context(name: &str, cluster: &str, plugin_config: &str) -> OpenContext {
    let stats = sample_points(0)
        .iter()
        .map(|p| StatInfo {
            key: p.measurement.clone(),
            description: format!("sample statistic {}", p.measurement).into(),
            units: "".into(),
            update_interval: 5,
        })
        .collect();
    OpenContext {
        plugin_name: name.into(),
        cluster: cluster.into(),
        onefs_version: "9.11.0.0".into(),
        plugin_config: plugin_config.into(),
        cluster_config: format!("hostname = \"{cluster}.example\"\n").into(),
        global_config: "version = \"0.39\"\n".into(),
        stats,
        host: host_services(),
        extra: "{}".into(),
    }
}

fn row(tags: &[(&str, &str)], fields: Vec<(&str, Value)>) -> Row {
    Row {
        tags: tags.iter().map(|(k, v)| Tag::new(k, v)).collect(),
        fields: fields.into_iter().map(|(k, v)| Field::new(k, v)).collect(),
    }
}

/// One point of every shape the collector produces, at `time`, for cluster `c1`:
/// a cluster-wide scalar (one row, field `value`), a node-scoped statistic (one
/// row per node), a protocol statistic (one row per operation, several fields),
/// a summary (`node.summary.protocol`), and a row with every [`Value`] variant
/// (the collector itself sends only floats).
pub fn sample_points(time: i64) -> Vec<Point> {
    let point = |measurement: &str, rows: Vec<Row>| Point {
        measurement: measurement.into(),
        time,
        rows: rows.into(),
    };
    vec![
        point(
            "cluster.cpu.idle.avg",
            vec![row(
                &[("cluster", "c1")],
                vec![("value", Value::Float(97.5))],
            )],
        ),
        point(
            "node.load.1min",
            (1..=3)
                .map(|n| {
                    let node = n.to_string();
                    row(
                        &[("cluster", "c1"), ("node", &node)],
                        vec![("value", Value::Float(0.25 * n as f64))],
                    )
                })
                .collect(),
        ),
        point(
            "cluster.protostats.nfs",
            ["read", "write"]
                .iter()
                .map(|op| {
                    row(
                        &[("cluster", "c1"), ("op_name", op)],
                        vec![
                            ("op_rate", Value::Float(120.0)),
                            ("time_avg", Value::Float(0.5)),
                            ("in_max", Value::Float(1e21)),
                        ],
                    )
                })
                .collect(),
        ),
        point(
            "node.summary.protocol",
            vec![row(
                &[
                    ("cluster", "c1"),
                    ("node", "1"),
                    ("protocol", "smb2"),
                    ("class", "read"),
                ],
                vec![
                    ("operation_rate", Value::Float(3.0)),
                    ("time_avg", Value::Float(0.1)),
                ],
            )],
        ),
        point(
            "sample.every.value",
            vec![row(
                &[("cluster", "c1"), ("note", "a \"quoted\", spaced=tag\\")],
                vec![
                    ("float", Value::Float(-1.5)),
                    ("int", Value::Int(-7)),
                    ("uint", Value::UInt(u64::MAX)),
                    ("bool", Value::Bool(true)),
                    ("str", Value::Str("text with \"quotes\"\n".into())),
                ],
            )],
        ),
    ]
}

/// Drives plugin `P` as idic does: `start` once, `open` per cluster, then
/// [`Harness::finish`] flushes and closes every sink and calls `stop`. Calls go
/// straight to the traits (no library loading); the real loading path is
/// `idic plugins` and `idic check-config`.
pub struct Harness<P: Plugin> {
    plugin: P,
    sinks: Vec<(String, P::Sink)>,
}

impl<P: Plugin> Harness<P> {
    /// Builds the plugin and runs its `start` with `plugin_config`.
    pub fn start(plugin_config: &str) -> Result<Harness<P>, SinkError> {
        let plugin = P::default();
        plugin.start(&start_context(P::NAME, plugin_config))?;
        Ok(Harness {
            plugin,
            sinks: Vec::new(),
        })
    }

    /// The plugin value.
    pub fn plugin(&self) -> &P {
        &self.plugin
    }

    /// Opens a sink for `cluster` with `plugin_config` and keeps it; returns it.
    pub fn open_with(
        &mut self,
        cluster: &str,
        plugin_config: &str,
    ) -> Result<&mut P::Sink, SinkError> {
        let sink = self
            .plugin
            .open(&open_context(P::NAME, cluster, plugin_config))?;
        self.sinks.push((cluster.to_string(), sink));
        Ok(&mut self.sinks.last_mut().expect("just pushed").1)
    }

    /// Opens a sink for `cluster` with an empty section.
    pub fn open(&mut self, cluster: &str) -> Result<&mut P::Sink, SinkError> {
        self.open_with(cluster, "")
    }

    /// Flushes and closes every open sink (as at exit: `flush` then `close`),
    /// then runs `stop`. The first error wins, named by its cluster.
    pub fn finish(mut self) -> Result<(), SinkError> {
        let mut first: Option<SinkError> = None;
        for (cluster, mut sink) in self.sinks.drain(..) {
            if let Err(e) = sink.flush().and_then(|()| sink.close()) {
                first.get_or_insert(SinkError::new(
                    e.kind,
                    format!("cluster {cluster}: {}", e.message),
                ));
            }
        }
        self.plugin.stop();
        first.map_or(Ok(()), Err)
    }
}

/// The whole lifecycle in one call: start, open `c1`, write [`sample_points`]
/// twice (two cycles, 5 s apart), flush, close, stop.
pub fn exercise<P: Plugin>(plugin_config: &str) -> Result<(), SinkError> {
    let mut harness = Harness::<P>::start(plugin_config)?;
    let sink = harness.open_with("c1", plugin_config)?;
    sink.write(&sample_points(1_700_000_000))?;
    sink.write(&sample_points(1_700_000_005))?;
    harness.finish()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Default)]
    struct Counting;
    struct Count(usize);

    impl Plugin for Counting {
        type Sink = Count;
        const NAME: &'static str = "counting";
        const VERSION: &'static str = "0.0.1";
        const DESCRIPTION: &'static str = "counts";
        fn open(&self, ctx: &OpenContext) -> Result<Count, SinkError> {
            log::info!("open {}", ctx.cluster);
            Ok(Count(0))
        }
    }

    impl Sink for Count {
        fn write(&mut self, batch: &[Point]) -> Result<(), SinkError> {
            self.0 += batch.len();
            Ok(())
        }
        fn close(&mut self) -> Result<(), SinkError> {
            if self.0 == 10 {
                Ok(())
            } else {
                Err(SinkError::permanent(format!("saw {} points", self.0)))
            }
        }
    }

    #[test]
    fn exercise_writes_two_cycles_and_closes() {
        exercise::<Counting>("").unwrap();
    }

    #[test]
    fn finish_names_the_cluster_whose_close_failed() {
        let mut h = Harness::<Counting>::start("").unwrap();
        h.open("c9").unwrap();
        let err = h.finish().unwrap_err();
        assert!(
            err.message.contains("cluster c9: saw 0 points"),
            "{}",
            err.message
        );
    }

    #[test]
    fn sample_points_have_rows_and_fields_and_every_value_kind() {
        let points = sample_points(5);
        assert!(points.iter().all(|p| p.time == 5 && !p.rows.is_empty()));
        assert!(points
            .iter()
            .flat_map(|p| p.rows.iter())
            .all(|r| !r.fields.is_empty()));
        let last = &points.last().unwrap().rows[0];
        assert!(matches!(last.field("uint"), Some(Value::UInt(u64::MAX))));
        assert!(matches!(last.field("str"), Some(Value::Str(_))));
    }

    #[test]
    fn secrets_resolve_from_the_environment() {
        let host = host_services();
        assert_eq!(host.secret("plain").unwrap(), "plain");
        let err = host.secret("$env:IDIC_TESTING_SURELY_UNSET").unwrap_err();
        assert!(err.contains("IDIC_TESTING_SURELY_UNSET"), "{err}");
    }
}
