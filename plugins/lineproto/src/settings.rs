//! Pieces of the `[influxdb]` and `[influxdbv2]` sections that both plugins read
//! the same way: the port (a string in gostats' files, an integer accepted too),
//! secrets that never print, the server URL, unknown-key warnings and the idic
//! extensions' defaults and limits, and logging each warning once. Parsing only.

use std::collections::HashSet;
use std::fmt;
use std::sync::{Mutex, PoisonError};

use serde::de::{self, Deserializer, Visitor};
use serde::Deserialize;

/// Default `max_request_bytes`: 1 MiB of line protocol (about 10,000 lines) per
/// request, well under InfluxDB's 25 MB default `max-body-size`.
pub const DEFAULT_MAX_REQUEST_BYTES: usize = 1 << 20;

/// The smallest accepted `max_request_bytes`.
pub const MIN_REQUEST_BYTES: usize = 1024;

/// Default `timeout`, in seconds.
pub const DEFAULT_TIMEOUT_SECS: u64 = 30;

/// Logs each configuration warning once per process, not once per cluster (every
/// cluster's sink parses the same section).
#[derive(Default)]
pub struct WarnOnce(Mutex<HashSet<String>>);

impl WarnOnce {
    /// Logs the warnings not logged before.
    pub fn log(&self, warnings: Vec<String>) {
        let mut seen = self.0.lock().unwrap_or_else(PoisonError::into_inner);
        for w in warnings {
            if seen.insert(w.clone()) {
                log::warn!("{w}");
            }
        }
    }
}

/// The InfluxDB port: gostats writes it as a string (`port = "8086"`); an integer
/// is accepted too.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Port(pub u16);

/// The `gzip` key: `true`, `false`, or `"auto"` (the default): compress unless
/// the server is on this machine (`localhost` or a loopback address). An
/// InfluxDB on the same machine gains nothing from smaller bodies, and deflate
/// was a third of the InfluxDB plugin's CPU at 20 clusters (docs/PERFORMANCE.md,
/// fourth pass); across a network, line protocol shrinks several times, as
/// Telegraf's default assumes.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum Gzip {
    /// Compress unless the host is local.
    #[default]
    Auto,
    /// `gzip = true`.
    On,
    /// `gzip = false`.
    Off,
}

impl Gzip {
    /// Whether bodies sent to `host` are compressed.
    pub fn for_host(self, host: &str) -> bool {
        match self {
            Gzip::On => true,
            Gzip::Off => false,
            Gzip::Auto => !is_local(host),
        }
    }
}

/// `localhost` or a loopback address (127.0.0.0/8, `::1`, bracketed or not).
fn is_local(host: &str) -> bool {
    let host = host.trim();
    let bare = host
        .strip_prefix('[')
        .and_then(|h| h.strip_suffix(']'))
        .unwrap_or(host);
    bare.eq_ignore_ascii_case("localhost")
        || bare
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback())
}

impl<'de> Deserialize<'de> for Gzip {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Gzip, D::Error> {
        struct GzipVisitor;
        impl Visitor<'_> for GzipVisitor {
            type Value = Gzip;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("true, false or \"auto\"")
            }
            fn visit_bool<E: de::Error>(self, v: bool) -> Result<Gzip, E> {
                Ok(if v { Gzip::On } else { Gzip::Off })
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Gzip, E> {
                match v.trim() {
                    "auto" => Ok(Gzip::Auto),
                    _ => Err(E::custom(format!(
                        "gzip = {v:?} is not a choice: give true, false or \"auto\" (compress unless the server is on this machine)"
                    ))),
                }
            }
        }
        d.deserialize_any(GzipVisitor)
    }
}

/// A password or token: never shown by `Debug`.
#[derive(Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(transparent)]
pub struct Secret(pub String);

impl Default for Port {
    fn default() -> Port {
        Port(8086)
    }
}

impl<'de> Deserialize<'de> for Port {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Port, D::Error> {
        struct PortVisitor;
        impl Visitor<'_> for PortVisitor {
            type Value = Port;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a port number from 1 to 65535, as a string (\"8086\") or an integer")
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<Port, E> {
                match u16::try_from(v) {
                    Ok(p) if p > 0 => Ok(Port(p)),
                    _ => Err(E::custom(format!(
                        "port {v} is out of range: give a port from 1 to 65535"
                    ))),
                }
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Port, E> {
                match v.trim().parse::<i64>() {
                    Ok(n) => self.visit_i64(n),
                    Err(_) => Err(E::custom(format!(
                        "port {v:?} is not a number: give a port from 1 to 65535, e.g. \"8086\""
                    ))),
                }
            }
        }
        d.deserialize_any(PortVisitor)
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(if self.0.is_empty() { "\"\"" } else { "\"***\"" })
    }
}

/// `http[s]://host:port`, with an IPv6 address in brackets. The error names the
/// section and says what to write instead.
pub fn base_url(section: &str, host: &str, port: Port, use_ssl: bool) -> Result<String, String> {
    let host = host.trim();
    if host.is_empty() {
        return Err(format!(
            "[{section}] host is empty: give the InfluxDB server's name or address"
        ));
    }
    if host.contains("://") || host.contains('/') {
        return Err(format!(
            "[{section}] host {host:?} must be a name or address only: set the port with port and HTTPS with use_ssl = true"
        ));
    }
    let scheme = if use_ssl { "https" } else { "http" };
    if host.contains(':') && !host.starts_with('[') {
        Ok(format!("{scheme}://[{host}]:{}", port.0))
    } else {
        Ok(format!("{scheme}://{host}:{}", port.0))
    }
}

/// Parses a section's TOML text into a table; the error names the section.
pub fn table(section: &str, text: &str) -> Result<toml::Table, String> {
    text.parse::<toml::Table>()
        .map_err(|e| format!("[{section}] {}", e.message().trim_end()))
}

/// Deserializes a section's table; the error names the section and the key.
pub fn from_table<T: serde::de::DeserializeOwned>(
    section: &str,
    table: toml::Table,
) -> Result<T, String> {
    toml::Value::Table(table)
        .try_into()
        .map_err(|e: toml::de::Error| format!("[{section}] {}", e.message().trim_end()))
}

/// A warning for each key of `table` that is not in `known`: gostats ignores
/// unknown keys, so refusing them would break configs that work with gostats.
pub fn unknown_keys(section: &str, table: &toml::Table, known: &[&str]) -> Vec<String> {
    table
        .keys()
        .filter(|k| !known.contains(&k.as_str()))
        .map(|k| {
            format!(
                "[{section}] unknown key {k:?} is ignored; known keys: {}",
                known.join(", ")
            )
        })
        .collect()
}

/// Checks the idic extensions' values.
pub fn check_limits(section: &str, max_request_bytes: usize, timeout: u64) -> Result<(), String> {
    if max_request_bytes < MIN_REQUEST_BYTES {
        return Err(format!(
            "[{section}] max_request_bytes = {max_request_bytes} is too small: give at least {MIN_REQUEST_BYTES} (default {DEFAULT_MAX_REQUEST_BYTES})"
        ));
    }
    if timeout == 0 {
        return Err(format!(
            "[{section}] timeout = 0: give the seconds to wait for InfluxDB, at least 1 (default {DEFAULT_TIMEOUT_SECS})"
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Deserialize)]
    struct P {
        port: Port,
    }

    fn port(text: &str) -> Result<u16, String> {
        from_table::<P>("influxdb", table("influxdb", text)?).map(|p| p.port.0)
    }

    #[test]
    fn auto_compresses_except_to_this_machine() {
        for host in [
            "localhost",
            "LOCALHOST",
            "127.0.0.1",
            "127.1.2.3",
            "::1",
            "[::1]",
        ] {
            assert!(!Gzip::Auto.for_host(host), "{host}");
            assert!(Gzip::On.for_host(host), "{host}");
        }
        for host in [
            "db.example.com",
            "10.0.0.5",
            "fe80::1",
            "localhost.example.com",
        ] {
            assert!(Gzip::Auto.for_host(host), "{host}");
            assert!(!Gzip::Off.for_host(host), "{host}");
        }
    }

    #[derive(Deserialize)]
    struct G {
        gzip: Gzip,
    }

    fn gzip(text: &str) -> Result<Gzip, String> {
        from_table::<G>("influxdb", table("influxdb", text)?).map(|g| g.gzip)
    }

    #[test]
    fn gzip_is_a_bool_or_auto() {
        assert_eq!(gzip("gzip = true"), Ok(Gzip::On));
        assert_eq!(gzip("gzip = false"), Ok(Gzip::Off));
        assert_eq!(gzip("gzip = \"auto\""), Ok(Gzip::Auto));
        let err = gzip("gzip = \"yes\"").unwrap_err();
        assert!(
            err.contains("[influxdb]") && err.contains("\"auto\""),
            "{err}"
        );
        assert!(gzip("gzip = 1").is_err());
    }

    #[test]
    fn port_is_a_string_or_an_integer() {
        assert_eq!(port("port = \"8086\""), Ok(8086));
        assert_eq!(port("port = 9999"), Ok(9999));
        assert_eq!(port("port = \" 8087 \""), Ok(8087));
    }

    #[test]
    fn bad_ports_are_explained() {
        let err = port("port = \"http\"").unwrap_err();
        assert!(
            err.starts_with("[influxdb] port \"http\" is not a number"),
            "{err}"
        );
        let err = port("port = 70000").unwrap_err();
        assert!(err.contains("out of range"), "{err}");
        assert!(port("port = \"0\"").unwrap_err().contains("out of range"));
        assert!(port("port = true")
            .unwrap_err()
            .contains("a port number from 1 to 65535"));
    }

    #[test]
    fn base_url_brackets_ipv6_and_picks_the_scheme() {
        let url = |h, ssl| base_url("influxdb", h, Port(8086), ssl);
        assert_eq!(url("localhost", false).unwrap(), "http://localhost:8086");
        assert_eq!(
            url("db.example.com", true).unwrap(),
            "https://db.example.com:8086"
        );
        assert_eq!(url("::1", false).unwrap(), "http://[::1]:8086");
        assert!(url("", false).unwrap_err().contains("host is empty"));
        assert!(url("http://x", false).unwrap_err().contains("use_ssl"));
    }

    #[test]
    fn unknown_keys_are_warned_about_by_name() {
        let t = table("influxdb", "host = \"h\"\nhots = \"x\"\n").unwrap();
        let w = unknown_keys("influxdb", &t, &["host", "port"]);
        assert_eq!(w.len(), 1);
        assert!(
            w[0].starts_with("[influxdb] unknown key \"hots\" is ignored"),
            "{}",
            w[0]
        );
    }

    #[test]
    fn secrets_never_print() {
        assert_eq!(format!("{:?}", Secret("hunter2".into())), "\"***\"");
        assert_eq!(format!("{:?}", Secret::default()), "\"\"");
    }

    #[test]
    fn limits_are_checked() {
        assert!(check_limits("influxdb", DEFAULT_MAX_REQUEST_BYTES, 30).is_ok());
        assert!(check_limits("influxdb", 100, 30)
            .unwrap_err()
            .contains("too small"));
        assert!(check_limits("influxdb", 4096, 0)
            .unwrap_err()
            .contains("timeout = 0"));
    }
}
