//! What a sink learns of the cluster it is opened for: the [`OpenContext`].

use std::collections::HashMap;

use abi_stable::std_types::RVec;
use idic_plugin_api::{OpenContext, StatInfo};

use super::schedule::{Bucket, Fetch};
use crate::config::Config;
use crate::onefs::{Identity, KeyMeta};
use crate::plugin_host;

/// The context for opening a sink of `plugin` with `settings` (its instance's
/// table) for cluster `index`, named `name`, collecting `buckets`.
pub fn open_context(
    config: &Config,
    index: usize,
    (plugin, settings): (&str, &str),
    name: &str,
    identity: &Identity,
    metas: &HashMap<String, KeyMeta>,
    buckets: &[Bucket],
) -> OpenContext {
    let mut stats: Vec<StatInfo> = Vec::new();
    for b in buckets {
        match &b.what {
            Fetch::Stats(keys) => {
                stats.extend(keys.iter().filter_map(|k| metas.get(k)).map(|m| StatInfo {
                    key: m.key.as_str().into(),
                    description: m.description.as_str().into(),
                    units: m.units.as_str().into(),
                    update_interval: b.interval.as_secs(),
                }))
            }
            Fetch::Summary(kind) => stats.push(StatInfo {
                key: kind.measurement().into(),
                description: format!("OneFS {} summary statistics", kind.answer_key()).into(),
                units: "".into(),
                update_interval: b.interval.as_secs(),
            }),
        }
    }
    stats.sort_by(|a, b| a.key.cmp(&b.key));
    OpenContext {
        plugin_name: plugin.into(),
        cluster: name.into(),
        onefs_version: identity.version.as_str().into(),
        plugin_config: settings.into(),
        cluster_config: config.clusters[index].toml.as_str().into(),
        global_config: config.section_toml("global").into(),
        stats: RVec::from(stats),
        host: plugin_host::services(plugin),
        extra: "{}".into(),
    }
}
