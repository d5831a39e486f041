//! The sinks of a config: `stats_processor` (one name, as in gostats, or a list
//! to fan out to), named instances `[sink.NAME]` (`plugin = "..."` and that
//! plugin's settings), and the host's delivery settings `[delivery]` with
//! per-sink overrides `[delivery.NAME]`. Every refusal names the key.

use std::path::PathBuf;

use super::{Ctx, Step};
use crate::config::keys::suggest;
use crate::config::section_toml;
use crate::config::{BufferKind, ConfigError, DeliveryConfig, Global, SinkConfig, Warning};

/// The keys of `[delivery]` and `[delivery.NAME]`.
const DELIVERY: &[&str] = &["state_dir", "buffer", "buffer_max_bytes"];

/// The smallest and largest `buffer_max_bytes`: 64 KiB and 16 TiB.
pub const MIN_BUFFER_BYTES: i64 = 64 << 10;
/// See [`MIN_BUFFER_BYTES`].
pub const MAX_BUFFER_BYTES: i64 = 1 << 44;

/// The sink instances named by `stats_processor`, in its order.
pub fn sinks(
    ctx: &Ctx<'_>,
    table: &toml::Table,
    global: &Global,
    warnings: &mut Vec<Warning>,
) -> Result<Vec<SinkConfig>, ConfigError> {
    let at_list = [Step::Key("global"), Step::Key("stats_processor")];
    if global.stats_processor.is_empty() {
        return Err(ctx.error_at(
            &at_list,
            "stats_processor is an empty list: name at least one sink, e.g. [\"influxdb\"]",
        ));
    }
    let instances = match table.get("sink") {
        None => toml::Table::new(),
        Some(toml::Value::Table(t)) => t.clone(),
        Some(_) => return Err(ctx.error_at(
            &[Step::Key("sink")],
            "sink must be tables [sink.NAME] with plugin = \"<plugin>\" and that plugin's settings",
        )),
    };
    let mut out: Vec<SinkConfig> = Vec::new();
    for name in &global.stats_processor {
        if name.trim().is_empty() {
            return Err(ctx.error_at(
                &at_list,
                "stats_processor names an empty sink: name the sink plugin, e.g. \"influxdb\", \"prometheus\" or \"discard\"",
            ));
        }
        if !name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
        {
            return Err(ctx.error_at(
                &at_list,
                format!("stats_processor: {name:?} is not a sink name: use letters, digits, '_' and '-' (it names a plugin or a [sink.NAME] table)"),
            ));
        }
        if out.iter().any(|s| &s.name == name) {
            return Err(ctx.error_at(
                &at_list,
                format!("stats_processor names {name:?} twice: for two sinks of one plugin, add [sink.NAME] tables with plugin = {name:?} and name them"),
            ));
        }
        let (plugin, settings) = match instances.get(name) {
            Some(v) => instance(ctx, name, v)?,
            None => (name.clone(), section_toml(table, name)),
        };
        out.push(SinkConfig {
            name: name.clone(),
            plugin,
            settings,
            delivery: DeliveryConfig::default(),
        });
    }
    for name in instances.keys() {
        if !out.iter().any(|s| &s.name == name) {
            warnings.push(Warning(
                ctx.error_at(
                    &[Step::Key("sink"), Step::Key(name)],
                    format!("[sink.{name}] is not named in stats_processor and is not used"),
                )
                .to_string(),
            ));
        }
    }
    delivery(ctx, table, &mut out)?;
    Ok(out)
}

/// One `[sink.NAME]`: its plugin and its settings without `plugin`.
fn instance(
    ctx: &Ctx<'_>,
    name: &str,
    value: &toml::Value,
) -> Result<(String, String), ConfigError> {
    let at = [Step::Key("sink"), Step::Key(name)];
    let Some(t) = value.as_table() else {
        return Err(ctx.error_at(&at, format!("sink.{name} must be a table [sink.{name}]")));
    };
    let plugin = match t.get("plugin") {
        Some(toml::Value::String(p)) if !p.trim().is_empty() => p.clone(),
        Some(_) => {
            return Err(ctx.error_at(
                &[Step::Key("sink"), Step::Key(name), Step::Key("plugin")],
                format!("[sink.{name}] plugin must name a sink plugin, e.g. plugin = \"influxdb\""),
            ))
        }
        None => {
            return Err(ctx.error_at(
                &at,
                format!("[sink.{name}] has no plugin key: add plugin = \"<plugin>\", e.g. plugin = \"influxdb\""),
            ))
        }
    };
    let mut settings = t.clone();
    settings.remove("plugin");
    Ok((plugin, toml::to_string(&settings).unwrap_or_default()))
}

/// `[delivery]` and its `[delivery.NAME]` overrides, into each sink.
fn delivery(
    ctx: &Ctx<'_>,
    table: &toml::Table,
    sinks: &mut [SinkConfig],
) -> Result<(), ConfigError> {
    let Some(value) = table.get("delivery") else {
        return Ok(());
    };
    let Some(t) = value.as_table() else {
        return Err(ctx.error_at(
            &[Step::Key("delivery")],
            "delivery must be a table [delivery] (state_dir, buffer, buffer_max_bytes)",
        ));
    };
    let base = settings(ctx, t, &[Step::Key("delivery")], "[delivery]", true)?;
    for s in sinks.iter_mut() {
        s.delivery = base.clone();
    }
    for (key, v) in t {
        let Some(sub) = v.as_table() else { continue };
        let label = format!("[delivery.{key}]");
        let Some(sink) = sinks.iter_mut().find(|s| &s.name == key) else {
            return Err(ctx.error_at(
                &[Step::Key("delivery"), Step::Key(key)],
                format!("{label} names no sink of stats_processor: use a name listed there, or remove the table"),
            ));
        };
        let o = settings(
            ctx,
            sub,
            &[Step::Key("delivery"), Step::Key(key)],
            &label,
            false,
        )?;
        sink.delivery = DeliveryConfig {
            buffer: o.buffer.or(base.buffer),
            buffer_max_bytes: o.buffer_max_bytes.or(base.buffer_max_bytes),
            state_dir: o.state_dir.or(base.state_dir.clone()),
        };
    }
    Ok(())
}

/// The settings of one delivery table; `top` allows sub-tables (sink names).
fn settings(
    ctx: &Ctx<'_>,
    t: &toml::Table,
    at: &[Step<'_>],
    label: &str,
    top: bool,
) -> Result<DeliveryConfig, ConfigError> {
    let mut d = DeliveryConfig::default();
    for (key, v) in t {
        if top && v.is_table() {
            continue;
        }
        let mut p = at.to_vec();
        p.push(Step::Key(key));
        if !DELIVERY.contains(&key.as_str()) {
            let hint = suggest(key, DELIVERY)
                .map(|s| format!("; did you mean {s:?}?"))
                .unwrap_or_default();
            return Err(ctx.error_at(
                &p,
                format!("{label}: unknown key {key:?}: the keys are state_dir, buffer and buffer_max_bytes{hint}"),
            ));
        }
        match (key.as_str(), v) {
            ("state_dir", toml::Value::String(s)) if !s.trim().is_empty() => {
                d.state_dir = Some(PathBuf::from(s));
            }
            ("state_dir", _) => {
                return Err(ctx.error_at(
                    &p,
                    format!("{label}: state_dir must be a folder path, e.g. state_dir = \"/var/lib/idic\""),
                ))
            }
            ("buffer", toml::Value::String(s)) if s == "disk" || s == "memory" => {
                d.buffer = Some(if s == "disk" {
                    BufferKind::Disk
                } else {
                    BufferKind::Memory
                });
            }
            ("buffer", _) => {
                return Err(ctx.error_at(
                    &p,
                    format!("{label}: buffer must be \"disk\" (kept across restarts) or \"memory\""),
                ))
            }
            (_, toml::Value::Integer(n)) if (MIN_BUFFER_BYTES..=MAX_BUFFER_BYTES).contains(n) => {
                d.buffer_max_bytes = Some(*n as u64);
            }
            _ => {
                return Err(ctx.error_at(
                    &p,
                    format!("{label}: buffer_max_bytes must be a number of bytes from {MIN_BUFFER_BYTES} (64 KiB) to {MAX_BUFFER_BYTES} (16 TiB), e.g. buffer_max_bytes = 1073741824 for 1 GiB"),
                ))
            }
        }
    }
    Ok(d)
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use crate::config::{BufferKind, Config};

    const BASE: &str = r#"
[global]
version = "0.39"
stats_processor = STATS
active_stat_groups = ["g"]

[influxdb]
host = "a"

[[cluster]]
hostname = "c1.example.com"
username = "u"
password = "p"

[[statgroup]]
name = "g"
stats = ["cluster.cpu.idle.avg"]
"#;

    fn parse(stats: &str, extra: &str) -> Result<Config, String> {
        let text = BASE.replace("STATS", stats) + extra;
        Config::parse(Path::new("t.toml"), &text)
            .map(|(c, _)| c)
            .map_err(|e| e.to_string())
    }

    #[test]
    fn one_string_means_one_sink_with_the_plugins_section_as_today() {
        let c = parse("\"influxdb\"", "").unwrap();
        assert_eq!(c.sinks.len(), 1);
        let s = &c.sinks[0];
        assert_eq!(
            (s.name.as_str(), s.plugin.as_str()),
            ("influxdb", "influxdb")
        );
        assert_eq!(s.settings, "host = \"a\"\n");
        assert_eq!(s.delivery, Default::default());
    }

    #[test]
    fn a_list_fans_out_and_named_instances_carry_their_own_settings() {
        let c = parse(
            "[\"influxdb\", \"archive\", \"prometheus\"]",
            "[sink.archive]\nplugin = \"influxdb\"\nhost = \"b\"\n\n[delivery]\nbuffer_max_bytes = 2097152\n\n[delivery.archive]\nbuffer = \"memory\"\nstate_dir = \"/tmp/x\"\n",
        )
        .unwrap();
        let names: Vec<(&str, &str)> = c
            .sinks
            .iter()
            .map(|s| (s.name.as_str(), s.plugin.as_str()))
            .collect();
        assert_eq!(
            names,
            [
                ("influxdb", "influxdb"),
                ("archive", "influxdb"),
                ("prometheus", "prometheus")
            ]
        );
        assert_eq!(c.sinks[1].settings, "host = \"b\"\n");
        assert_eq!(c.sinks[0].delivery.buffer_max_bytes, Some(2 << 20));
        assert_eq!(c.sinks[0].delivery.buffer, None);
        assert_eq!(c.sinks[1].delivery.buffer, Some(BufferKind::Memory));
        assert_eq!(c.sinks[1].delivery.buffer_max_bytes, Some(2 << 20));
        assert_eq!(
            c.sinks[1].delivery.state_dir.as_deref(),
            Some(Path::new("/tmp/x"))
        );
    }

    #[test]
    fn bad_sink_lists_are_refused_naming_the_key() {
        for (stats, extra, want) in [
            ("[]", "", "t.toml:4:19: stats_processor is an empty list"),
            ("[\"a\", \"a\"]", "", "names \"a\" twice"),
            ("[\"a b\"]", "", "\"a b\" is not a sink name"),
            ("[\"\"]", "", "names an empty sink"),
            ("[1]", "", "expected a string"),
            (
                "[\"x\"]",
                "[sink.x]\nhost = \"b\"\n",
                "[sink.x] has no plugin key",
            ),
            (
                "[\"x\"]",
                "[sink.x]\nplugin = 3\n",
                "[sink.x] plugin must name a sink plugin",
            ),
        ] {
            let e = parse(stats, extra).unwrap_err();
            assert!(e.contains(want), "{stats} {extra}: {e}");
        }
    }

    #[test]
    fn bad_delivery_values_are_refused_naming_the_key() {
        for (extra, want) in [
            (
                "[delivery]\nbuffer = \"tape\"\n",
                "[delivery]: buffer must be \"disk\"",
            ),
            (
                "[delivery]\nbuffer_max_bytes = 10\n",
                "[delivery]: buffer_max_bytes must be",
            ),
            (
                "[delivery]\nstate_dir = \"\"\n",
                "[delivery]: state_dir must be a folder path",
            ),
            (
                "[delivery]\nbufer = \"disk\"\n",
                "unknown key \"bufer\": the keys are state_dir, buffer and buffer_max_bytes; did you mean \"buffer\"?",
            ),
            (
                "[delivery.other]\nbuffer = \"disk\"\n",
                "[delivery.other] names no sink",
            ),
            (
                "[delivery.influxdb]\nbuffer_max_bytes = -1\n",
                "[delivery.influxdb]: buffer_max_bytes must be",
            ),
        ] {
            let e = parse("\"influxdb\"", extra).unwrap_err();
            assert!(e.contains(want), "{extra}: {e}");
            assert!(e.starts_with("t.toml:"), "{e}");
        }
    }

    #[test]
    fn an_unused_sink_table_is_warned_about() {
        let text = BASE.replace("STATS", "\"influxdb\"") + "[sink.spare]\nplugin = \"influxdb\"\n";
        let (_, warnings) = Config::parse(Path::new("t.toml"), &text).unwrap();
        assert!(
            warnings
                .iter()
                .any(|w| w.0.contains("[sink.spare] is not named in stats_processor")),
            "{warnings:?}"
        );
    }
}
