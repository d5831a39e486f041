//! The conversations that travel as JSON through `capabilities()` and
//! `control()`: their names and the shapes of their answers (the registry is
//! `docs/PLUGINS.md`). Pure helpers, no part of the checked layout.

use crate::{ErrorKind, SinkError};

/// The `control` command with which `idic check-config` asks a plugin to check
/// one sink's settings without connecting anywhere. The payload is the settings
/// as TOML text, exactly what `plugin_config` would hold (the `[<name>]` section,
/// or a `[sink.NAME]` table without its `plugin` key). Answer `Ok` with
/// [`check_config_answer`] (warnings, e.g. unknown keys, which idic prints and
/// `--strict` makes fatal), or `Err(SinkError::config(..))` naming the setting
/// that is wrong (a bad type, a missing required key). [`check_config`] does
/// both from a plugin's `control`.
pub const CHECK_CONFIG: &str = "check-config";

/// A plugin's whole `control` when [`CHECK_CONFIG`] is the only command it
/// answers: runs `check` on the payload (the settings' TOML text) and answers
/// its warnings with [`check_config_answer`]; any other command is
/// [`ErrorKind::Unsupported`], as the default `Plugin::control` answers.
///
/// ```
/// use idic_plugin_api::{conversation, ErrorKind, SinkError};
///
/// let check = |section: &str| {
///     if section.contains("path") {
///         Ok(vec![])
///     } else {
///         Err(SinkError::config("[x] path is missing"))
///     }
/// };
/// let answer = conversation::check_config(conversation::CHECK_CONFIG, "path = \"-\"", check);
/// assert_eq!(answer.unwrap(), r#"{"warnings":[]}"#);
/// let other = conversation::check_config("reopen", "", check).unwrap_err();
/// assert_eq!(other.kind, ErrorKind::Unsupported);
/// ```
pub fn check_config(
    command: &str,
    payload: &str,
    check: impl FnOnce(&str) -> Result<Vec<String>, SinkError>,
) -> Result<String, SinkError> {
    if command != CHECK_CONFIG {
        return Err(unsupported(command));
    }
    check(payload).map(|warnings| check_config_answer(&warnings))
}

/// The answer to [`CHECK_CONFIG`]: `{"warnings":["...", ...]}`.
pub fn check_config_answer(warnings: &[String]) -> String {
    let items: Vec<String> = warnings.iter().map(|w| json_string(w)).collect();
    format!("{{\"warnings\":[{}]}}", items.join(","))
}

/// The `control` command with which the host announces a whole snapshot
/// before writing its points to a cluster's sinks: all of a cluster's quotas
/// (measurement `quota`) listed at one time. The payload is
/// [`snapshot_payload`]'s JSON object: `cluster` (the name the cluster's sinks
/// were opened with), `measurement`, `time` (Unix seconds, the time of every
/// point of the snapshot) and `points` (how many points of that measurement
/// and time follow; 0: the snapshot is empty). A plugin that serves only the
/// latest values can replace the previous snapshot once all of them arrived,
/// so that an object deleted on the cluster disappears. Plugins that do not
/// care answer `Unsupported` (the default), which the host expects.
pub const SNAPSHOT: &str = "snapshot";

/// The payload of [`SNAPSHOT`].
///
/// ```
/// use idic_plugin_api::conversation::snapshot_payload;
/// assert_eq!(
///     snapshot_payload("c1", "quota", 1_700_000_000, 2),
///     r#"{"cluster":"c1","measurement":"quota","time":1700000000,"points":2}"#
/// );
/// ```
pub fn snapshot_payload(cluster: &str, measurement: &str, time: i64, points: usize) -> String {
    format!(
        "{{\"cluster\":{},\"measurement\":{},\"time\":{time},\"points\":{points}}}",
        json_string(cluster),
        json_string(measurement)
    )
}

/// The `control` command with which `idic doctor` asks a plugin whether one
/// sink's backend can be reached now. The payload is the sink's settings as TOML
/// text (as for [`CHECK_CONFIG`]); the plugin's `start` may not have run and no
/// secret can be resolved, so ask only what needs none (an InfluxDB `/ping`, a
/// writable output folder). Answer `Ok` with [`ping_answer`] (one line saying
/// what was reached), or `Err` with the reason and the fix:
/// `SinkError::config(..)` for a setting to change, `SinkError::retryable(..)`
/// for a backend that is down. `Unsupported` (the default) makes doctor say
/// the plugin cannot be asked.
pub const PING: &str = "ping";

/// The answer to [`PING`]: `{"reachable":"<detail>"}`.
pub fn ping_answer(detail: &str) -> String {
    format!("{{\"reachable\":{}}}", json_string(detail))
}

/// The answer to a `control` command the plugin does not know.
pub fn unsupported(command: &str) -> SinkError {
    SinkError::new(
        ErrorKind::Unsupported,
        format!("unknown control command {command:?}"),
    )
}

/// `text` as a JSON string literal.
fn json_string(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 2);
    out.push('"');
    for c in text.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if (c as u32) < 0x20 => out.push_str(&format!("\\u{:04x}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ping_answer_is_one_json_string() {
        assert_eq!(
            ping_answer("up \"v1\""),
            "{\"reachable\":\"up \\\"v1\\\"\"}"
        );
    }

    #[test]
    fn check_config_answer_escapes_quotes_and_control_characters() {
        assert_eq!(check_config_answer(&[]), "{\"warnings\":[]}");
        assert_eq!(
            check_config_answer(&["[x] unknown key \"a\\b\"\n\u{1}".to_string()]),
            "{\"warnings\":[\"[x] unknown key \\\"a\\\\b\\\"\\n\\u0001\"]}"
        );
    }
}
