//! `[telemetry]`: where idic serves its own metrics, `/health` and `/ready`
//! (`listen = "HOST:PORT"`), and the Basic-auth credentials of `/metrics`
//! (`username` and `password`, both or neither; the password may be a secret
//! reference). Absent: no listener. Unknown keys are errors (a new table: a
//! typo would silently mean "off").

use super::{Ctx, Step};
use crate::config::keys::suggest;
use crate::config::secret::resolve_secret;
use crate::config::{ConfigError, Telemetry};

const KEYS: &[&str] = &["listen", "username", "password"];

/// The `[telemetry]` table, if any.
pub fn telemetry(ctx: &Ctx<'_>, table: &toml::Table) -> Result<Option<Telemetry>, ConfigError> {
    let Some(value) = table.get("telemetry") else {
        return Ok(None);
    };
    let top = [Step::Key("telemetry")];
    let Some(t) = value.as_table() else {
        return Err(ctx.error_at(
            &top,
            "telemetry must be a table [telemetry] with listen = \"HOST:PORT\"",
        ));
    };
    let mut out = Telemetry::default();
    for (key, v) in t {
        let at = [Step::Key("telemetry"), Step::Key(key)];
        let Some(text) = v
            .as_str()
            .filter(|s| KEYS.contains(&key.as_str()) && !s.is_empty())
        else {
            if !KEYS.contains(&key.as_str()) {
                let hint = suggest(key, KEYS)
                    .map(|s| format!("; did you mean {s:?}?"))
                    .unwrap_or_default();
                return Err(ctx.error_at(
                    &at,
                    format!("[telemetry]: unknown key {key:?}: the keys are listen, username and password{hint}"),
                ));
            }
            return Err(ctx.error_at(&at, format!("[telemetry] {key} must be a non-empty string")));
        };
        match key.as_str() {
            "listen" => {
                let port = text
                    .rsplit_once(':')
                    .and_then(|(_, p)| p.parse::<u16>().ok());
                if port.is_none() {
                    return Err(ctx.error_at(
                        &at,
                        format!("[telemetry] listen = {text:?} is not HOST:PORT, e.g. listen = \"127.0.0.1:9465\" or \"0.0.0.0:9465\""),
                    ));
                }
                out.listen = text.to_string();
            }
            "username" => out.username = Some(text.to_string()),
            _ => {
                if let Err(e) = resolve_secret(text) {
                    return Err(ctx.error_at(&at, format!("[telemetry] password: {e}")));
                }
                out.password = Some(text.to_string());
            }
        }
    }
    if out.listen.is_empty() {
        return Err(ctx.error_at(
            &top,
            "[telemetry] has no listen key: add listen = \"HOST:PORT\", e.g. \"127.0.0.1:9465\" (or remove the table to serve nothing)",
        ));
    }
    if out.username.is_some() != out.password.is_some() {
        return Err(ctx.error_at(
            &top,
            "[telemetry] needs both username and password for Basic auth, or neither",
        ));
    }
    Ok(Some(out))
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use crate::config::Config;

    const BASE: &str = "[global]\nversion = \"0.39\"\nstats_processor = \"discard\"\nactive_stat_groups = [\"g\"]\n\n[[cluster]]\nhostname = \"h\"\nusername = \"u\"\npassword = \"p\"\n\n[[statgroup]]\nname = \"g\"\nstats = [\"cluster.cpu.idle.avg\"]\n";

    fn check(extra: &str) -> Result<Config, String> {
        Config::parse(Path::new("t.toml"), &format!("{BASE}{extra}"))
            .map(|(c, _)| c)
            .map_err(|e| e.to_string())
    }

    #[test]
    fn absent_means_no_listener() {
        assert_eq!(check("").unwrap().telemetry, None);
    }

    #[test]
    fn listen_and_credentials_are_read() {
        let c = check(
            "\n[telemetry]\nlisten = \"127.0.0.1:9465\"\nusername = \"u\"\npassword = \"p\"\n",
        )
        .unwrap();
        let t = c.telemetry.unwrap();
        assert_eq!(t.listen, "127.0.0.1:9465");
        assert_eq!(
            (t.username.as_deref(), t.password.as_deref()),
            (Some("u"), Some("p"))
        );
    }

    #[test]
    fn mistakes_are_refused_naming_the_key() {
        for (extra, expected) in [
            ("listen = \"9465\"", "t.toml:16:10: [telemetry] listen = \"9465\" is not HOST:PORT"),
            ("listn = \"h:1\"", "unknown key \"listn\": the keys are listen, username and password; did you mean \"listen\"?"),
            ("username = \"u\"", "has no listen key"),
            ("listen = \"h:1\"\nusername = \"u\"", "both username and password"),
            ("listen = \"h:1\"\nusername = \"u\"\npassword = \"$env:IDIC_TELEMETRY_UNSET\"", "IDIC_TELEMETRY_UNSET"),
        ] {
            let e = check(&format!("\n[telemetry]\n{extra}\n")).unwrap_err();
            assert!(e.contains(expected), "{extra}: {e}");
        }
    }
}
