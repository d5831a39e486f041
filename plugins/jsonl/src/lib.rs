//! The `jsonl` sink: writes every point as one JSON line to a file or to standard
//! output, for capturing what idic collects (tests, debugging, `jq` pipelines).
//!
//! This file is glue only: read the `[jsonl]` section (`config`), open the shared
//! output (`output`), encode each batch (`encode`) and write it in one call.
//! The line format is documented in `encode` and in the README.

#![deny(missing_docs)]

mod config;
mod encode;
mod output;

use std::sync::Arc;

use idic_plugin_api::{conversation, export_plugin, OpenContext, Plugin, Point, Sink, SinkError};

use config::Config;
use output::Output;

/// The plugin: nothing process-wide beyond the shared outputs of `output`.
#[derive(Default)]
pub struct Jsonl;

/// One cluster's sink: its cluster name and the shared output.
pub struct JsonlSink {
    cluster: String,
    output: Arc<Output>,
    /// Reused between batches to encode a whole batch before one write.
    buf: String,
}

impl Plugin for Jsonl {
    type Sink = JsonlSink;
    const NAME: &'static str = "jsonl";
    const VERSION: &'static str = env!("CARGO_PKG_VERSION");
    const DESCRIPTION: &'static str =
        "writes every point as one JSON line to a file or standard output";

    /// `check-config`: the section's keys and types (an unknown key is an
    /// error, as at open); the output file is not opened. `ping` (`idic
    /// doctor`): whether the output can be opened for writing.
    fn control(&self, command: &str, payload: &str) -> Result<String, SinkError> {
        if command == conversation::PING {
            let config = Config::parse(payload).map_err(SinkError::config)?;
            return output::writable(&config.path)
                .map(|place| conversation::ping_answer(&format!("{place} can be written")))
                .map_err(|e| {
                    SinkError::config(format!(
                        "[jsonl] path {:?} cannot be opened for writing: {e}; create its folder or give idic's user write access",
                        config.path
                    ))
                });
        }
        conversation::check_config(command, payload, |section| {
            Config::parse(section).map_err(SinkError::config)?;
            Ok(Vec::new())
        })
    }

    fn open(&self, ctx: &OpenContext) -> Result<JsonlSink, SinkError> {
        let config = Config::parse(&ctx.plugin_config).map_err(SinkError::config)?;
        let output = output::open(&config.path, config.append).map_err(|e| {
            SinkError::config(format!(
                "[jsonl] path {:?} cannot be opened for writing: {e}",
                config.path
            ))
        })?;
        let place = if config.is_stdout() {
            "standard output"
        } else {
            output.name()
        };
        log::info!("cluster={} writing points to {place}", ctx.cluster);
        Ok(JsonlSink {
            cluster: ctx.cluster.to_string(),
            output,
            buf: String::new(),
        })
    }
}

impl Sink for JsonlSink {
    fn write(&mut self, batch: &[Point]) -> Result<(), SinkError> {
        self.buf.clear();
        for point in batch {
            encode::line(&self.cluster, point, &mut self.buf);
        }
        if self.buf.is_empty() {
            return Ok(());
        }
        self.output
            .write_lines(self.buf.as_bytes())
            .map_err(|e| SinkError::retryable(format!("writing to {}: {e}", self.output.name())))?;
        log::debug!("cluster={} wrote {} points", self.cluster, batch.len());
        Ok(())
    }

    fn flush(&mut self) -> Result<(), SinkError> {
        self.output
            .flush()
            .map_err(|e| SinkError::retryable(format!("flushing {}: {e}", self.output.name())))
    }
}

export_plugin!(Jsonl);

#[cfg(test)]
mod tests {
    use super::*;
    use idic_plugin_api::{testing, ErrorKind, Field, Row, Tag, Value};

    #[test]
    fn check_config_refuses_an_unknown_key_and_accepts_a_good_section() {
        let err = Jsonl.control("check-config", "pth = \"x\"").unwrap_err();
        assert_eq!(err.kind, ErrorKind::Config);
        assert!(
            err.message.contains("unknown field `pth`"),
            "{}",
            err.message
        );
        let ok = Jsonl.control("check-config", "path = \"-\"").unwrap();
        assert_eq!(ok, "{\"warnings\":[]}");
        let other = Jsonl.control("reopen", "").unwrap_err();
        assert_eq!(other.kind, ErrorKind::Unsupported);
    }

    fn ctx(cluster: &str, section: &str) -> OpenContext {
        testing::open_context("jsonl", cluster, section)
    }

    fn point(value: f64) -> Point {
        Point {
            measurement: "cluster.cpu.idle.avg".into(),
            time: 1_700_000_000,
            rows: vec![Row {
                tags: vec![Tag::new("cluster", "c1")].into(),
                fields: vec![Field::new("value", Value::Float(value))].into(),
            }]
            .into(),
        }
    }

    #[test]
    fn the_kit_lifecycle_writes_every_sample_shape_as_json_lines() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("out.jsonl");
        let section = format!("path = {:?}", path.display().to_string());
        testing::exercise::<Jsonl>(&section).unwrap();
        let text = std::fs::read_to_string(&path).unwrap();
        let points = 2 * testing::sample_points(0).len();
        assert_eq!(text.lines().count(), points, "{text}");
        for line in text.lines() {
            serde_json::from_str::<serde_json::Value>(line).unwrap();
        }
    }

    #[test]
    fn two_clusters_write_their_lines_to_one_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("out.jsonl");
        let section = format!("path = {:?}\nappend = false\n", path.to_str().unwrap());
        let mut a = Jsonl.open(&ctx("c1", &section)).unwrap();
        let mut b = Jsonl.open(&ctx("c2", &section)).unwrap();
        a.write(&[point(1.0), point(2.0)]).unwrap();
        b.write(&[point(3.0)]).unwrap();
        a.write(&[]).unwrap();
        a.flush().unwrap();
        let text = std::fs::read_to_string(&path).unwrap();
        let clusters: Vec<String> = text
            .lines()
            .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap()["cluster"].to_string())
            .collect();
        assert_eq!(clusters, ["\"c1\"", "\"c1\"", "\"c2\""]);
    }

    #[test]
    fn unwritable_path_is_a_config_error_naming_the_setting() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("missing/out.jsonl");
        let section = format!("path = {:?}\n", path.to_str().unwrap());
        let err = Jsonl.open(&ctx("c1", &section)).err().unwrap();
        assert_eq!(err.kind, ErrorKind::Config);
        assert!(err.message.starts_with("[jsonl] path "), "{}", err.message);
        assert!(
            err.message.contains("No such file or directory"),
            "{}",
            err.message
        );
    }

    #[test]
    fn bad_section_is_a_config_error() {
        let err = Jsonl.open(&ctx("c1", "append = 1\n")).err().unwrap();
        assert_eq!(err.kind, ErrorKind::Config);
        assert!(err.message.starts_with("[jsonl] "), "{}", err.message);
    }
}
