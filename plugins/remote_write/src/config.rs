//! The `[remote_write]` section of `idic.toml`: where the receiver is, how to
//! authenticate, how to batch. Parsing and checking only; secrets are resolved
//! and the agent built in `client`.

use std::collections::BTreeMap;
use std::fmt;

use serde::Deserialize;

/// Every key the section knows, in the order of `idic.toml.example`.
pub const KEYS: &[&str] = &[
    "url",
    "external_labels",
    "username",
    "password",
    "bearer_token",
    "ca_cert",
    "skip_ssl_verify",
    "max_request_bytes",
    "max_series_per_request",
    "timeout",
];

/// Default `max_request_bytes`: 1 MiB of uncompressed protobuf per request
/// (Prometheus' own sender sends at most 2,000 samples, about 150 KB; receivers
/// accept far more: Mimir's default limit is 100 MiB compressed).
pub const DEFAULT_MAX_REQUEST_BYTES: usize = 1 << 20;

/// Default `max_series_per_request`.
pub const DEFAULT_MAX_SERIES: usize = 10_000;

/// Default `timeout`, in seconds.
pub const DEFAULT_TIMEOUT_SECS: u64 = 30;

/// The `[remote_write]` section. Unknown keys are errors: the section is new
/// (not gostats'), so a typo would otherwise silently mean a default.
#[derive(Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Config {
    /// The receiver's write endpoint, `http(s)://host:port/path`. Required.
    ///
    /// Prometheus: `http://h:9090/api/v1/write` (started with
    /// `--web.enable-remote-write-receiver`); VictoriaMetrics:
    /// `http://h:8428/api/v1/write`; Mimir: `http://h:8080/api/v1/push`.
    pub url: String,
    /// Labels added to every series; a point's own label of the same name wins,
    /// as series labels win over external labels in Prometheus.
    ///
    /// For active-active pairs, e.g. `{ cluster = "idic-a", __replica__ = "a" }`
    /// for Mimir's HA tracker. Default: none.
    pub external_labels: BTreeMap<String, String>,
    /// HTTP Basic user name; set together with `password`.
    pub username: String,
    /// HTTP Basic password; `"$env:NAME"` reads it from the environment.
    pub password: Secret,
    /// `Authorization: Bearer <token>`; `"$env:NAME"` reads it from the
    /// environment. Not together with `username`.
    pub bearer_token: Secret,
    /// A PEM file of CA certificates that replaces the built-in web roots for
    /// an `https://` receiver (a private CA). Default: the web roots.
    pub ca_cert: String,
    /// Accept any server certificate. Default `false`.
    pub skip_ssl_verify: bool,
    /// The largest request body in bytes, before snappy compression: a
    /// bigger batch is split into several requests. At least 1024. Default
    /// `1048576`.
    pub max_request_bytes: usize,
    /// The most series in one request. At least 1. Default `10000`.
    pub max_series_per_request: usize,
    /// Seconds to wait for the receiver to answer one request, connecting
    /// included. 1 to 3600. Default `30`.
    pub timeout: u64,
}

/// A password or token: never shown by `Debug`.
#[derive(Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(transparent)]
pub struct Secret(pub String);

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(if self.0.is_empty() { "\"\"" } else { "\"***\"" })
    }
}

impl Default for Config {
    fn default() -> Config {
        Config {
            url: String::new(),
            external_labels: BTreeMap::new(),
            username: String::new(),
            password: Secret::default(),
            bearer_token: Secret::default(),
            ca_cert: String::new(),
            skip_ssl_verify: false,
            max_request_bytes: DEFAULT_MAX_REQUEST_BYTES,
            max_series_per_request: DEFAULT_MAX_SERIES,
            timeout: DEFAULT_TIMEOUT_SECS,
        }
    }
}

impl Config {
    /// Reads the section's TOML text (its keys, without the header). The
    /// error names the section and the key.
    pub fn parse(text: &str) -> Result<Config, String> {
        let config: Config = toml::from_str(text).map_err(|e| {
            format!(
                "[remote_write] {}; known keys: {}",
                e.message().trim_end_matches('.'),
                KEYS.join(", ")
            )
        })?;
        config.check()?;
        Ok(config)
    }

    fn check(&self) -> Result<(), String> {
        let url = self.url.trim();
        if url.is_empty() {
            return Err("[remote_write] url is missing: give the receiver's write endpoint, e.g. url = \"http://localhost:9090/api/v1/write\"".into());
        }
        let rest = url
            .strip_prefix("http://")
            .or_else(|| url.strip_prefix("https://"))
            .ok_or_else(|| {
                format!("[remote_write] url {url:?} must start with http:// or https://")
            })?;
        if rest.is_empty() || rest.starts_with('/') {
            return Err(format!("[remote_write] url {url:?} has no host"));
        }
        if !self.username.is_empty() && !self.bearer_token.0.is_empty() {
            return Err("[remote_write] username and bearer_token are both set: use one (HTTP Basic or a bearer token)".into());
        }
        if self.username.is_empty() && !self.password.0.is_empty() {
            return Err(
                "[remote_write] password is set without username: set both for HTTP Basic auth"
                    .into(),
            );
        }
        if self.max_request_bytes < 1024 {
            return Err(format!(
                "[remote_write] max_request_bytes = {} is too small: give at least 1024",
                self.max_request_bytes
            ));
        }
        if self.max_series_per_request == 0 {
            return Err("[remote_write] max_series_per_request = 0: give at least 1".into());
        }
        if !(1..=3600).contains(&self.timeout) {
            return Err(format!(
                "[remote_write] timeout = {} is out of range: give 1 to 3600 seconds",
                self.timeout
            ));
        }
        for name in self.external_labels.keys() {
            let valid = name
                .chars()
                .enumerate()
                .all(|(i, c)| c.is_ascii_alphabetic() || c == '_' || (i > 0 && c.is_ascii_digit()));
            if name.is_empty() || !valid {
                return Err(format!(
                    "[remote_write] external_labels: {name:?} is not a Prometheus label name ([a-zA-Z_][a-zA-Z0-9_]*)"
                ));
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check_err(text: &str, want: &str) {
        let err = Config::parse(text)
            .err()
            .unwrap_or_else(|| panic!("{text} parsed"));
        assert!(err.contains(want), "{err:?} lacks {want:?}");
    }

    #[test]
    fn defaults_and_a_full_section() {
        let c = Config::parse("url = \"http://h:9090/api/v1/write\"").unwrap();
        assert_eq!(c.max_request_bytes, DEFAULT_MAX_REQUEST_BYTES);
        assert_eq!(c.max_series_per_request, DEFAULT_MAX_SERIES);
        assert_eq!(c.timeout, 30);
        let c = Config::parse(
            "url = \"https://h/push\"\nexternal_labels = { replica = \"a\" }\nusername = \"u\"\npassword = \"$env:P\"\ntimeout = 5",
        )
        .unwrap();
        assert_eq!(c.external_labels["replica"], "a");
        assert_eq!(format!("{:?}", c.password), "\"***\"");
    }

    #[test]
    fn bad_sections_name_the_key() {
        check_err("", "url is missing");
        check_err("url = \"h:9090\"", "must start with http");
        check_err("url = \"http:///x\"", "has no host");
        check_err(
            "url = \"http://h\"\nusername = \"u\"\nbearer_token = \"t\"",
            "use one",
        );
        check_err("url = \"http://h\"\npassword = \"p\"", "without username");
        check_err(
            "url = \"http://h\"\nmax_request_bytes = 10",
            "max_request_bytes",
        );
        check_err(
            "url = \"http://h\"\nmax_series_per_request = 0",
            "max_series_per_request",
        );
        check_err("url = \"http://h\"\ntimeout = 0", "timeout");
        check_err(
            "url = \"http://h\"\nexternal_labels = { \"a-b\" = \"x\" }",
            "label name",
        );
        check_err("url = \"http://h\"\nurll = 1", "known keys");
    }
}
