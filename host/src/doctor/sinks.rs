//! Doctor's check of each configured sink: load its plugin as collection
//! would, then ask it through `control("ping", settings)` whether its backend
//! can be reached. A plugin that does not answer `ping` (`Unsupported`) is
//! reported as such, not as a failure.

use idic_plugin_api::{conversation, ErrorKind};

use super::report::{Section, Step};
use crate::cli::Cli;
use crate::config::Config;
use crate::loader;

/// One section per sink instance.
pub fn check(cli: &Cli, config: &Config) -> Vec<Section> {
    let dirs = loader::search_dirs(
        cli.plugin_dir.as_deref(),
        config.global.plugin_dir.as_deref(),
    );
    config
        .sinks
        .iter()
        .map(|sink| {
            let mut steps = Vec::new();
            let title = if sink.is_named_instance() {
                format!("sink {} (plugin {})", sink.name, sink.plugin)
            } else {
                format!("sink {}", sink.name)
            };
            let plugin = match loader::find(&sink.plugin, &dirs) {
                Ok(p) => p,
                Err(e) => {
                    steps.push(Step::fail(
                        "plugin",
                        e.to_string(),
                        "install the plugin into the plugins folder (idic plugins lists what is there), or correct stats_processor",
                    ));
                    steps.push(Step::skip("reachable"));
                    return Section { title, steps };
                }
            };
            steps.push(Step::ok(
                "plugin",
                format!("{} {} loads", plugin.info.name, plugin.info.version),
            ));
            steps.push(match plugin.control(conversation::PING, &sink.settings) {
                Ok(answer) => {
                    let v: serde_json::Value = serde_json::from_str(&answer).unwrap_or_default();
                    match v["reachable"].as_str() {
                        Some(detail) => Step::ok("reachable", detail.to_string()),
                        None => Step::warn(
                            "reachable",
                            format!("plugin {} answered ping with {answer:?}, not {{\"reachable\": \"...\"}}", plugin.info.name),
                            "tell the plugin's author (docs/PLUGINS.md, the ping conversation)",
                        ),
                    }
                }
                Err(e) if e.kind == ErrorKind::Unsupported => Step::warn(
                    "reachable",
                    format!("not supported by plugin {} {}", plugin.info.name, plugin.info.version),
                    "nothing to do: the plugin cannot be asked; watch idic's log for write errors",
                ),
                Err(e) => {
                    let fix = match e.kind {
                        ErrorKind::Config => format!("change the settings in {} as the message says", sink.section()),
                        _ => "start the backend or make it reachable from this host; idic queues and retries meanwhile".to_string(),
                    };
                    Step::fail("reachable", e.message.to_string(), fix)
                }
            });
            Section { title, steps }
        })
        .collect()
}
