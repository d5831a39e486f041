//! The `snapshot` control message: before the points of a whole snapshot (all
//! of a cluster's quotas, listed at one time) are pushed to the sinks, every
//! plugin is told what the snapshot holds, so a plugin that serves the latest
//! values (Prometheus) can swap the old snapshot for the new one at once, and
//! a quota deleted on the cluster disappears. The payload (documented in
//! docs/PLUGINS.md):
//!
//! `{"cluster":"<name>","measurement":"quota","time":<unix seconds>,"points":<n>}`
//!
//! `points` is how many points of that measurement and time the sink will be
//! written (0: the snapshot is empty). A plugin that does not know the command
//! answers `Unsupported`, which is expected and only logged at debug level.

use idic_plugin_api::{conversation, ErrorKind};

use super::Outlet;

/// Tells every sink's plugin about the snapshot of `measurement` at `time` with
/// `points` points, each plugin once (instances of one plugin share it).
pub async fn announce(out: &Outlet<'_>, measurement: &str, time: i64, points: usize) {
    let payload = conversation::snapshot_payload(out.cluster, measurement, time, points);
    let mut told: Vec<&str> = Vec::new();
    for target in out.targets {
        let name = target.plugin.info.name.as_str();
        if told.contains(&name) {
            continue;
        }
        told.push(name);
        let plugin = target.plugin.clone();
        let body = payload.clone();
        let answer = out
            .sinks_pool
            .run(move || plugin.control(conversation::SNAPSHOT, &body))
            .await;
        match answer {
            Ok(Ok(_)) => {}
            Ok(Err(e)) if e.kind == ErrorKind::Unsupported => log::debug!(
                "cluster={} plugin={name} does not take snapshot boundaries: {e}",
                out.cluster
            ),
            Ok(Err(e)) => log::warn!(
                "cluster={} plugin={name} refused the {measurement} snapshot boundary: {e}",
                out.cluster
            ),
            Err(e) => log::error!(
                "cluster={} plugin={name} panicked on the snapshot boundary: {}; this is a bug in the plugin",
                out.cluster,
                crate::supervise::panic_message(e)
            ),
        }
    }
}
