//! The `remote_write` sink: pushes every point to a Prometheus remote-write 1.0
//! receiver (Prometheus with `--web.enable-remote-write-receiver`, Mimir,
//! Thanos Receive, Cortex, VictoriaMetrics) with gostats' metric names and
//! labels, the same the `prometheus` plugin serves, and the points' own
//! timestamps, so backfilled and replayed points land where they belong.
//!
//! This file is glue only: read the `[remote_write]` section (`config`),
//! encode each batch (`encode`, pure), send each body once (`client`) and tell
//! the host what happened. The host owns the queue, retries and back-off.

#![deny(missing_docs)]

pub mod client;
pub mod config;
pub mod encode;

use idic_plugin_api::{
    conversation, export_plugin, OpenContext, Plugin, Point, Sink, SinkError, StartContext,
};

use client::Client;
use config::Config;
use encode::Encoder;

/// The plugin: stateless; each cluster's sink has its own client and encoder.
#[derive(Default)]
pub struct RemoteWrite;

/// One cluster's sink.
pub struct RemoteWriteSink {
    cluster: String,
    client: Client,
    encoder: Encoder,
    /// After a failure part-way through a batch: that batch's fingerprint and
    /// how many of its requests were stored. The host retries the same batch,
    /// which encodes to the same requests; those already stored are skipped,
    /// since a receiver without an out-of-order window (Prometheus' default)
    /// would refuse them again as out of order and fail the whole retry.
    resume: Option<(u64, usize)>,
}

/// Identifies a batch cheaply: its length and its points' measurements, times
/// and row counts (FNV-1a).
fn fingerprint(batch: &[Point]) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    let mut eat = |bytes: &[u8]| {
        for b in bytes {
            h = (h ^ u64::from(*b)).wrapping_mul(0x0100_0000_01b3);
        }
    };
    eat(&batch.len().to_le_bytes());
    for p in batch {
        eat(p.measurement.as_bytes());
        eat(&p.time.to_le_bytes());
        eat(&p.rows.len().to_le_bytes());
    }
    h
}

fn parse(text: &str) -> Result<Config, SinkError> {
    Config::parse(text).map_err(SinkError::config)
}

/// Resolves `password` and `bearer_token` (`$env:NAME` or literal).
fn secrets(
    config: &Config,
    resolve: impl Fn(&str) -> Result<String, String>,
) -> Result<(String, String), SinkError> {
    let one = |key: &str, value: &str| {
        if value.is_empty() {
            return Ok(String::new());
        }
        resolve(value).map_err(|e| SinkError::config(format!("[remote_write] {key}: {e}")))
    };
    Ok((
        one("password", &config.password.0)?,
        one("bearer_token", &config.bearer_token.0)?,
    ))
}

impl Plugin for RemoteWrite {
    type Sink = RemoteWriteSink;
    const NAME: &'static str = "remote_write";
    const VERSION: &'static str = env!("CARGO_PKG_VERSION");
    const DESCRIPTION: &'static str =
        "pushes points to Prometheus remote-write receivers (gostats' metric names)";

    /// Checks `[remote_write]` and its secrets once at start, so that a broken
    /// section stops idic with one clear message.
    fn start(&self, ctx: &StartContext) -> Result<(), SinkError> {
        let config = parse(&ctx.plugin_config)?;
        secrets(&config, |v| ctx.host.secret(v))?;
        Ok(())
    }

    /// `check-config`: the section's keys, types and limits; no secret is
    /// resolved, nothing is contacted. `ping` (`idic doctor`): a GET of `url`
    /// without credentials (`Client::ping`).
    fn control(&self, command: &str, payload: &str) -> Result<String, SinkError> {
        if command == conversation::PING {
            let config = parse(payload)?;
            let detail = Client::new(&config, "", "")?.ping()?;
            return Ok(conversation::ping_answer(&detail));
        }
        conversation::check_config(command, payload, |section| {
            parse(section)?;
            Ok(Vec::new())
        })
    }

    fn open(&self, ctx: &OpenContext) -> Result<RemoteWriteSink, SinkError> {
        let config = parse(&ctx.plugin_config)?;
        let (password, token) = secrets(&config, |v| ctx.host.secret(v))?;
        let client = Client::new(&config, &password, &token)?;
        let external = config.external_labels.clone().into_iter().collect();
        log::info!(
            "cluster={} writing to the remote-write receiver at {}",
            ctx.cluster,
            client.url()
        );
        Ok(RemoteWriteSink {
            cluster: ctx.cluster.to_string(),
            client,
            encoder: Encoder::new(
                config.max_request_bytes,
                config.max_series_per_request,
                external,
            ),
            resume: None,
        })
    }
}

impl Sink for RemoteWriteSink {
    /// Sends the batch's requests in order, each once. The first failure ends
    /// the batch with its error; the host's retry of the same batch resumes at
    /// the request that failed (see `resume`). A refused request (4xx) is
    /// logged with the receiver's message and the batch is dropped by the
    /// host.
    fn write(&mut self, batch: &[Point]) -> Result<(), SinkError> {
        let print = fingerprint(batch);
        let skip = match self.resume.take() {
            Some((p, stored)) if p == print => stored,
            _ => 0,
        };
        let bodies = self.encoder.encode(batch);
        let (mut series, mut samples) = (0, 0);
        for (i, body) in bodies.iter().enumerate().skip(skip) {
            if let Err(e) = self.client.send(&body.bytes) {
                if e.kind == idic_plugin_api::ErrorKind::Permanent {
                    log::error!("cluster={} {}", self.cluster, e.message);
                } else if i > 0 {
                    self.resume = Some((print, i));
                }
                return Err(e);
            }
            series += body.series;
            samples += body.samples;
        }
        log::debug!(
            "cluster={} sent {samples} samples of {series} series in {} requests",
            self.cluster,
            bodies.len()
        );
        Ok(())
    }
}

export_plugin!(RemoteWrite);
