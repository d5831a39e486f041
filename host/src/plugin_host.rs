//! What the host offers plugins: the `HostServices` callbacks and the
//! process-wide `StartContext`.

use abi_stable::std_types::{RResult, RStr, RString, RVec};
use idic_plugin_api::{HostServices, StartContext};

use crate::config::{Config, SinkConfig};
use crate::logging;

/// The services handed to every plugin call.
pub fn services() -> HostServices {
    HostServices {
        log: logging::plugin_log,
        max_level: logging::max_level(),
        resolve_secret,
    }
}

extern "C" fn resolve_secret(value: RStr<'_>) -> RResult<RString, RString> {
    match crate::config::resolve_secret(value.as_str()) {
        Ok(v) => RResult::ROk(v.into()),
        Err(e) => RResult::RErr(e.into()),
    }
}

/// The context for the plugin's process-wide start hook, with the settings of
/// `sink`, its first instance.
pub fn start_context(config: &Config, sink: &SinkConfig) -> StartContext {
    StartContext {
        plugin_name: sink.plugin.as_str().into(),
        config: config.text.as_str().into(),
        plugin_config: sink.settings.as_str().into(),
        clusters: config
            .enabled_clusters()
            .map(|c| RString::from(c.toml.as_str()))
            .collect::<RVec<_>>(),
        host: services(),
        extra: "{}".into(),
    }
}
