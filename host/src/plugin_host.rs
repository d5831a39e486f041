//! What the host offers plugins: the `HostServices` callbacks and the
//! process-wide `StartContext`.
//!
//! Least privilege: plugins get the config with every cluster's `password`
//! removed, and the secret resolver answers only for the `$env:` names that
//! appear in the sinks' own settings (`[<plugin>]`, `[sink.NAME]`), so a plugin
//! cannot read a cluster's password through `$env:` either. The resolver is a
//! plain function shared by all plugins, so the names allowed are those of every
//! sink's settings, not of the calling plugin's only.

use std::sync::RwLock;

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

/// The `$env:` names plugins may resolve: those in the running sinks' settings.
static ALLOWED: RwLock<Vec<String>> = RwLock::new(Vec::new());

/// Allows exactly the `$env:` names that appear in `config`'s sink settings.
pub fn allow_secrets_of(config: &Config) {
    let names: Vec<String> = config
        .sinks
        .iter()
        .flat_map(|s| env_names(&s.settings))
        .collect();
    *ALLOWED.write().unwrap_or_else(|p| p.into_inner()) = names;
}

/// Every `NAME` of a `$env:NAME` in `text`.
fn env_names(text: &str) -> Vec<String> {
    text.split("$env:")
        .skip(1)
        .map(|rest| {
            rest.chars()
                .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
                .collect::<String>()
        })
        .filter(|n| !n.is_empty())
        .collect()
}

extern "C" fn resolve_secret(value: RStr<'_>) -> RResult<RString, RString> {
    if let Some(name) = value.as_str().strip_prefix("$env:") {
        let allowed = ALLOWED.read().unwrap_or_else(|p| p.into_inner());
        if !allowed.iter().any(|a| a == name) {
            return RResult::RErr(
                format!("\"$env:{name}\" is not in a sink's settings: a plugin may resolve only the $env: names of its own section").into(),
            );
        }
    }
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
        config: config.plugin_text().into(),
        plugin_config: sink.settings.as_str().into(),
        clusters: config
            .enabled_clusters()
            .map(|c| RString::from(c.toml.as_str()))
            .collect::<RVec<_>>(),
        host: services(),
        extra: "{}".into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn env_names_are_found_in_settings_text() {
        assert_eq!(
            env_names("password = \"$env:INFLUX_PW\"\ntoken = \"$env:T_2\"\n"),
            ["INFLUX_PW", "T_2"]
        );
        assert!(env_names("password = \"plain\"").is_empty());
    }
}
