//! One cluster's write path, shared by both plugins: encode a batch, send its
//! bodies once each, and tell the host what happened. No retries, no queue: the
//! host owns both.
//!
//! Result of a batch:
//! - every body stored: `Ok`.
//! - a body failed for a retryable or configuration reason: that error at once
//!   (the host sends the whole batch again later; InfluxDB overwrites a point with
//!   the same series and timestamp, so bodies already stored are not duplicated).
//! - some lines refused (HTTP 400): the other bodies are still sent, InfluxDB's
//!   reason is logged once per measurement for the life of the sink, and the
//!   batch ends with a permanent error: the accepted lines are stored and sending
//!   the refused ones again cannot help.

use std::collections::HashSet;

use idic_plugin_api::{Point, SinkError};

use crate::client::Client;
use crate::encode::{Encoder, Stats};
use crate::error::{Error, ErrorKind};

/// Distinct refusal reasons remembered per sink, beyond which they are no longer
/// logged (a bound on memory for a server that names no measurement).
const MAX_REPORTED: usize = 10_000;

/// The write path of one cluster's sink.
pub struct LineSink {
    cluster: String,
    client: Client,
    encoder: Encoder,
    /// Measurements (or, when InfluxDB names none, reasons) already logged.
    reported: HashSet<String>,
}

impl LineSink {
    /// A sink for `cluster` writing through `client` in bodies of at most
    /// `max_request_bytes`.
    pub fn new(cluster: &str, client: Client, max_request_bytes: usize) -> LineSink {
        LineSink {
            cluster: cluster.to_string(),
            client,
            encoder: Encoder::new(max_request_bytes),
            reported: HashSet::new(),
        }
    }

    /// The HTTP client.
    pub fn client(&self) -> &Client {
        &self.client
    }

    /// Pings the server and logs the result: a server that is down is not an
    /// error (the host queues and retries), only worth a warning.
    pub fn ping_and_log(&self) {
        let url = self.client.url();
        let target = self.client.destination().label();
        match self.client.ping() {
            Ok(version) => log::info!(
                "cluster={} InfluxDB {} at {url} is up; writing to {target}",
                self.cluster,
                version.as_deref().unwrap_or("(version not reported)")
            ),
            Err(e) => log::warn!(
                "cluster={} {e}; not fatal: idic keeps the points queued and keeps trying to write to {target}",
                self.cluster
            ),
        }
    }

    /// Writes a batch: see the module documentation for the outcomes. The
    /// encoder's buffers are freed afterwards, whatever the outcome.
    pub fn write(&mut self, batch: &[Point]) -> Result<(), SinkError> {
        self.encoder.clear();
        for point in batch {
            self.encoder.point(point);
        }
        let result = self.send();
        self.encoder.release();
        result
    }

    /// Sends the encoded bodies once each and sums up the answers.
    fn send(&mut self) -> Result<(), SinkError> {
        let stats = self.encoder.stats();
        log_skipped(&self.cluster, &stats);
        let mut refused: Option<Refused> = None;
        let mut stored = 0;
        for body in self.encoder.bodies() {
            match self.client.write(&body.bytes) {
                Ok(()) => stored += body.lines,
                Err(e) if e.kind() == ErrorKind::Rejected => {
                    report(&self.cluster, &mut self.reported, &e);
                    refused
                        .get_or_insert_with(Refused::default)
                        .add(&e, body.lines);
                }
                Err(e) => return Err(e.to_sink_error()),
            }
        }
        log::debug!(
            "cluster={} stored {stored} of {} lines in {} requests",
            self.cluster,
            stats.lines,
            self.encoder.bodies().len()
        );
        match refused {
            None => Ok(()),
            Some(r) => Err(SinkError::permanent(
                r.message(self.client.url(), stats.lines),
            )),
        }
    }
}

/// What the refused bodies of one batch add up to.
#[derive(Default)]
struct Refused {
    /// Lines InfluxDB said it dropped, or the whole body when it did not say.
    dropped: u64,
    measurements: Vec<String>,
}

impl Refused {
    fn add(&mut self, e: &Error, lines: usize) {
        let rejection = e.rejection();
        self.dropped += rejection.and_then(|r| r.dropped).unwrap_or(lines as u64);
        for m in rejection.iter().flat_map(|r| &r.measurements) {
            if !self.measurements.contains(m) {
                self.measurements.push(m.clone());
            }
        }
    }

    fn message(&self, url: &str, lines: u64) -> String {
        let which = if self.measurements.is_empty() {
            String::new()
        } else {
            format!(" of {}", self.measurements.join(", "))
        };
        format!(
            "InfluxDB at {url} refused {} of {lines} lines{which} (the reason is logged once per measurement); the other lines are stored",
            self.dropped.min(lines)
        )
    }
}

/// Logs InfluxDB's reason once per measurement (or per reason when it names none).
fn report(cluster: &str, reported: &mut HashSet<String>, e: &Error) {
    let Some(rejection) = e.rejection() else {
        return;
    };
    let keys: Vec<&String> = if rejection.measurements.is_empty() {
        vec![&rejection.reason]
    } else {
        rejection.measurements.iter().collect()
    };
    let fresh: Vec<&str> = keys
        .into_iter()
        .filter(|k| reported.len() < MAX_REPORTED && reported.insert(k.to_string()))
        .map(String::as_str)
        .collect();
    if fresh.is_empty() {
        return;
    }
    if rejection.measurements.is_empty() {
        log::error!("cluster={cluster} {e}; this reason is not logged again for this cluster");
    } else {
        log::error!(
            "cluster={cluster} {e}; further refusals of measurement {} are not logged again for this cluster",
            fresh.join(", ")
        );
    }
}

/// Logs, at debug level, what the encoder left out of a batch.
fn log_skipped(cluster: &str, s: &Stats) {
    if s.non_finite + s.unusable_names + s.empty_rows + s.bad_measurements > 0 {
        log::debug!(
            "cluster={cluster} left out {} NaN or infinite fields, {} tags or fields with an empty name or value or named time, {} rows without a writable field, {} points with an unusable measurement name",
            s.non_finite,
            s.unusable_names,
            s.empty_rows,
            s.bad_measurements
        );
    }
}

/// The answer to `control("ping")` (`idic doctor`): pings the server of
/// `config` once (`/ping` needs no credentials) and says what answered, or why
/// nothing did, as a `SinkError` of the lineproto classification.
pub fn ping_for_doctor(config: crate::ClientConfig) -> Result<String, SinkError> {
    let client = crate::Client::new(config);
    let target = client.destination().label();
    match client.ping() {
        Ok(version) => Ok(idic_plugin_api::conversation::ping_answer(&format!(
            "InfluxDB {} at {} answered /ping; points go to {target}",
            version.as_deref().unwrap_or("(version not reported)"),
            client.url()
        ))),
        Err(e) => Err(e.to_sink_error()),
    }
}
