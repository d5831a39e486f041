//! The `discard` sink: accepts every point and drops it, counting what it saw.
//!
//! This is the smallest complete idic plugin and the template for third-party
//! authors: one `Plugin` (process-wide, created with `Default`), one `Sink` per
//! cluster, and `export_plugin!`. It needs no configuration.

use idic_plugin_api::{conversation, export_plugin, OpenContext, Plugin, Point, Sink, SinkError};

/// The plugin: nothing process-wide to hold.
#[derive(Default)]
pub struct Discard;

/// One cluster's sink: counts what it drops.
pub struct DiscardSink {
    cluster: String,
    points: u64,
    rows: u64,
}

impl Plugin for Discard {
    type Sink = DiscardSink;
    const NAME: &'static str = "discard";
    const VERSION: &'static str = env!("CARGO_PKG_VERSION");
    const DESCRIPTION: &'static str = "accepts and drops every point (for tests and dry runs)";

    /// Replaying a backlog into a sink that drops it is pointless: without
    /// `"replay": false` the host would buffer this sink's batches on disk.
    fn capabilities(&self) -> String {
        r#"{"replay": false}"#.to_string()
    }

    /// `ping` (`idic doctor`): there is no backend to reach. Any other
    /// command is `Unsupported`, which is what the default `control` says.
    fn control(&self, command: &str, _payload: &str) -> Result<String, SinkError> {
        match command {
            conversation::PING => Ok(conversation::ping_answer("nothing to reach")),
            other => Err(conversation::unsupported(other)),
        }
    }

    fn open(&self, ctx: &OpenContext) -> Result<DiscardSink, SinkError> {
        log::debug!("cluster={} opened", ctx.cluster);
        Ok(DiscardSink {
            cluster: ctx.cluster.to_string(),
            points: 0,
            rows: 0,
        })
    }
}

impl Sink for DiscardSink {
    fn write(&mut self, batch: &[Point]) -> Result<(), SinkError> {
        self.points += batch.len() as u64;
        self.rows += batch.iter().map(|p| p.rows.len() as u64).sum::<u64>();
        log::debug!(
            "cluster={} dropped {} points ({} in all, {} rows)",
            self.cluster,
            batch.len(),
            self.points,
            self.rows
        );
        Ok(())
    }

    fn close(&mut self) -> Result<(), SinkError> {
        log::debug!(
            "cluster={} closed after {} points",
            self.cluster,
            self.points
        );
        Ok(())
    }
}

export_plugin!(Discard);
