//! The `influxdb` sink: writes every point to an InfluxDB 1.x database over its
//! HTTP write API, in gostats' schema (measurement = statistics key, every number
//! a float field, timestamps in seconds), so that a database gostats filled keeps
//! growing without a type conflict and the Data Insights dashboards keep working.
//!
//! This file is glue only: read the `[influxdb]` section (`config`), connect
//! (`client`), and hand each batch to the shared write path of `idic-lineproto`,
//! which encodes, splits, compresses, sends once and classifies the answer.

#![deny(missing_docs)]

pub mod client;
pub mod config;

use idic_lineproto::settings::WarnOnce;
use idic_lineproto::LineSink;
use idic_plugin_api::{
    conversation, export_plugin, OpenContext, Plugin, Point, Sink, SinkError, StartContext,
};

use config::Config;

/// The plugin: remembers the warnings already logged, so that each appears once
/// per process rather than once per cluster.
#[derive(Default)]
pub struct Influxdb {
    warned: WarnOnce,
}

/// One cluster's sink.
pub struct InfluxdbSink {
    lines: LineSink,
}

impl Influxdb {
    /// Parses the section, logging each new warning once.
    fn config(&self, text: &str) -> Result<Config, SinkError> {
        let (config, warnings) = Config::parse(text).map_err(SinkError::config)?;
        self.warned.log(warnings);
        Ok(config)
    }
}

impl Plugin for Influxdb {
    type Sink = InfluxdbSink;
    const NAME: &'static str = "influxdb";
    const VERSION: &'static str = env!("CARGO_PKG_VERSION");
    const DESCRIPTION: &'static str = "writes points to InfluxDB 1.x (gostats' schema)";

    /// Checks `[influxdb]` once at start, so that a broken section stops idic
    /// with a clear message instead of failing every write.
    fn start(&self, ctx: &StartContext) -> Result<(), SinkError> {
        let config = self.config(&ctx.plugin_config)?;
        if config.authenticated {
            ctx.host
                .secret(&config.password.0)
                .map_err(|e| SinkError::config(format!("[influxdb] password: {e}")))?;
        }
        Ok(())
    }

    /// `check-config`: the section's keys, types, limits and server URL, with
    /// unknown keys as warnings; no secret is resolved, nothing is contacted.
    /// `ping` (`idic doctor`): the server's `/ping`.
    fn control(&self, command: &str, payload: &str) -> Result<String, SinkError> {
        if command == conversation::PING {
            let (config, _) = Config::parse(payload).map_err(SinkError::config)?;
            return client::ping(&config);
        }
        conversation::check_config(command, payload, |section| {
            let (config, warnings) = Config::parse(section).map_err(SinkError::config)?;
            config.base_url().map_err(SinkError::config)?;
            Ok(warnings)
        })
    }

    fn open(&self, ctx: &OpenContext) -> Result<InfluxdbSink, SinkError> {
        let config = self.config(&ctx.plugin_config)?;
        let lines = client::connect(&config, &ctx.cluster, &ctx.host)?;
        Ok(InfluxdbSink { lines })
    }
}

impl Sink for InfluxdbSink {
    fn write(&mut self, batch: &[Point]) -> Result<(), SinkError> {
        self.lines.write(batch)
    }
}

export_plugin!(Influxdb);
