//! The settings the sink reads: the `[prometheus]` section (auth, TLS, the extra
//! cluster label), the `[prom_http_sd]` section (service discovery) and each
//! cluster's `prometheus_port`. Parsing and checking only: resolving `$env:`
//! secrets and reading certificate files happen in `lib.rs` and `tls.rs`.
//!
//! Unknown keys are reported back as warnings, not refused: a gostats config must
//! keep working, and gostats ignores keys it does not know.

use std::collections::BTreeSet;
use std::fmt;

use serde::Deserialize;

/// The `[prometheus]` section. Every key is optional; an empty string means
/// "not set", as in gostats.
#[derive(Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(default)]
pub struct Config {
    /// Require HTTP Basic credentials on `/metrics`.
    ///
    /// With `true`, both `username` and `password` must be set; a scrape without
    /// them, or with wrong ones, gets 401. Default `false`.
    pub authenticated: bool,
    /// The user name scrapers must send when `authenticated` is true. No default.
    pub username: String,
    /// The password scrapers must send when `authenticated` is true.
    ///
    /// `$env:NAME` reads it from the environment variable `NAME` (gostats did not
    /// resolve `$env:` here). No default.
    pub password: String,
    /// Path of a PEM certificate chain; with `tls_key`, the endpoints serve HTTPS.
    ///
    /// Both or neither. Default: unset (plain HTTP).
    pub tls_cert: String,
    /// Path of the PEM private key (PKCS#8, PKCS#1 or SEC1) for `tls_cert`.
    ///
    /// Both or neither. Default: unset (plain HTTP).
    pub tls_key: String,
    /// Name of a second label carrying the cluster name, beside `cluster`.
    ///
    /// Must be a valid Prometheus label name. A row's own tag of the same name
    /// wins over it. Default: unset (no second label).
    pub instance_label_name: String,
}

/// The `[prom_http_sd]` section: Prometheus HTTP service discovery.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(default)]
pub struct SdConfig {
    /// Serve the discovery JSON on `sd_port`. Default `false`.
    pub enabled: bool,
    /// The host name or address written into the targets.
    ///
    /// Default: the address of the interface that routes outward (see `sd.rs`).
    pub listen_addr: String,
    /// The port of the discovery endpoint; required when `enabled`.
    pub sd_port: Option<u16>,
}

impl Config {
    /// The keys `[prometheus]` knows, in the order of `idic.toml.example`.
    pub const KEYS: [&'static str; 6] = [
        "authenticated",
        "username",
        "password",
        "tls_cert",
        "tls_key",
        "instance_label_name",
    ];

    /// Reads the section's TOML text (its keys, without the `[prometheus]`
    /// header). Returns the config and one warning per unknown key; the error
    /// names the section and the offending key.
    pub fn parse(text: &str) -> Result<(Config, Vec<String>), String> {
        let table: toml::Table =
            toml::from_str(text).map_err(|e| format!("[prometheus] {}", e.message().trim_end()))?;
        let warnings = unknown_keys("prometheus", &table, &Config::KEYS);
        let config: Config = table
            .try_into()
            .map_err(|e: toml::de::Error| format!("[prometheus] {}", e.message().trim_end()))?;
        config.check()?;
        Ok((config, warnings))
    }

    /// Whether the endpoints serve HTTPS.
    pub fn tls(&self) -> bool {
        !self.tls_cert.is_empty()
    }

    /// The extra cluster label's name, if one is configured.
    pub fn instance_label(&self) -> Option<&str> {
        Some(self.instance_label_name.as_str()).filter(|s| !s.is_empty())
    }

    fn check(&self) -> Result<(), String> {
        if self.authenticated && (self.username.is_empty() || self.password.is_empty()) {
            return Err(
                "[prometheus] authenticated = true needs both username and password \
                        (gostats silently served without authentication here)"
                    .to_string(),
            );
        }
        if self.tls_cert.is_empty() != self.tls_key.is_empty() {
            return Err(
                "[prometheus] tls_cert and tls_key go together: set both to serve HTTPS, or neither"
                    .to_string(),
            );
        }
        if let Some(name) = self.instance_label() {
            if !is_label_name(name) {
                return Err(format!(
                    "[prometheus] instance_label_name {name:?} is not a Prometheus label name \
                     (letters, digits and underscores, not starting with a digit or \"__\")"
                ));
            }
        }
        Ok(())
    }
}

impl fmt::Debug for Config {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Config")
            .field("authenticated", &self.authenticated)
            .field("username", &self.username)
            .field(
                "password",
                &if self.password.is_empty() {
                    ""
                } else {
                    "<redacted>"
                },
            )
            .field("tls_cert", &self.tls_cert)
            .field("tls_key", &self.tls_key)
            .field("instance_label_name", &self.instance_label_name)
            .finish()
    }
}

impl SdConfig {
    /// The keys `[prom_http_sd]` knows, in the order of `idic.toml.example`.
    pub const KEYS: [&'static str; 3] = ["enabled", "listen_addr", "sd_port"];

    /// Reads `[prom_http_sd]` out of the whole configuration file's text. An
    /// absent section means "disabled".
    pub fn from_config(whole: &str) -> Result<(SdConfig, Vec<String>), String> {
        let table: toml::Table =
            toml::from_str(whole).map_err(|e| format!("idic.toml: {}", e.message().trim_end()))?;
        let Some(section) = table.get("prom_http_sd") else {
            return Ok((SdConfig::default(), Vec::new()));
        };
        let Some(section) = section.as_table() else {
            return Err("[prom_http_sd] must be a table".to_string());
        };
        let warnings = unknown_keys("prom_http_sd", section, &SdConfig::KEYS);
        let config: SdConfig = section
            .clone()
            .try_into()
            .map_err(|e: toml::de::Error| format!("[prom_http_sd] {}", e.message().trim_end()))?;
        if config.enabled && config.sd_port.is_none() {
            return Err(
                "[prom_http_sd] enabled = true needs sd_port, the port of the \
                        discovery endpoint"
                    .to_string(),
            );
        }
        Ok((config, warnings))
    }
}

/// The `prometheus_port` of one `[[cluster]]` table given as TOML text, if set.
pub fn cluster_port(table: &str) -> Result<Option<u16>, String> {
    let table: toml::Table =
        toml::from_str(table).map_err(|e| e.message().trim_end().to_string())?;
    match table.get("prometheus_port") {
        None => Ok(None),
        Some(v) => v
            .as_integer()
            .and_then(|n| u16::try_from(n).ok())
            .map(Some)
            .ok_or_else(|| format!("prometheus_port = {v} is not a port number (0 to 65535)")),
    }
}

/// The ports of the given `[[cluster]]` tables that set one (and not 0).
pub fn cluster_ports<'a>(tables: impl IntoIterator<Item = &'a str>) -> BTreeSet<u16> {
    tables
        .into_iter()
        .filter_map(|t| cluster_port(t).ok().flatten())
        .filter(|&p| p != 0)
        .collect()
}

/// Whether `name` is a label name Prometheus accepts from an exporter.
pub fn is_label_name(name: &str) -> bool {
    let mut chars = name.chars();
    matches!(chars.next(), Some(c) if c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
        && !name.starts_with("__")
}

fn unknown_keys(section: &str, table: &toml::Table, known: &[&str]) -> Vec<String> {
    table
        .keys()
        .filter(|k| !known.contains(&k.as_str()))
        .map(|k| {
            format!(
                "[{section}] unknown key {k:?} ignored (known: {})",
                known.join(", ")
            )
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(text: &str, expected: Result<Config, &str>) {
        match (Config::parse(text), expected) {
            (Ok((got, _)), Ok(want)) => assert_eq!(got, want),
            (Err(e), Err(needle)) => assert!(e.contains(needle), "{e:?} lacks {needle:?}"),
            (got, want) => panic!("{text:?}: got {got:?}, want {want:?}"),
        }
    }

    #[test]
    fn empty_section_means_plain_http_without_auth() {
        check("", Ok(Config::default()));
        let (c, w) = Config::parse("").unwrap();
        assert!(!c.tls() && c.instance_label().is_none() && w.is_empty());
    }

    #[test]
    fn every_key_is_read() {
        check(
            "authenticated = true\nusername = \"u\"\npassword = \"$env:P\"\n\
             tls_cert = \"c.pem\"\ntls_key = \"k.pem\"\ninstance_label_name = \"isilon_cluster\"\n",
            Ok(Config {
                authenticated: true,
                username: "u".into(),
                password: "$env:P".into(),
                tls_cert: "c.pem".into(),
                tls_key: "k.pem".into(),
                instance_label_name: "isilon_cluster".into(),
            }),
        );
    }

    #[test]
    fn credentials_without_authenticated_are_unused_but_accepted() {
        let (c, _) = Config::parse("username = \"u\"\npassword = \"p\"\n").unwrap();
        assert!(!c.authenticated);
    }

    #[test]
    fn authenticated_needs_both_credentials() {
        check(
            "authenticated = true\nusername = \"u\"\n",
            Err("needs both username and password"),
        );
        check(
            "authenticated = true\npassword = \"p\"\n",
            Err("needs both username and password"),
        );
    }

    #[test]
    fn tls_needs_both_files() {
        check(
            "tls_cert = \"c.pem\"\n",
            Err("tls_cert and tls_key go together"),
        );
        check(
            "tls_key = \"k.pem\"\n",
            Err("tls_cert and tls_key go together"),
        );
    }

    #[test]
    fn instance_label_name_must_be_a_label_name() {
        check(
            "instance_label_name = \"isilon-cluster\"\n",
            Err("instance_label_name \"isilon-cluster\" is not a Prometheus label name"),
        );
        check(
            "instance_label_name = \"__x\"\n",
            Err("not a Prometheus label name"),
        );
        check(
            "instance_label_name = \"1x\"\n",
            Err("not a Prometheus label name"),
        );
    }

    #[test]
    fn unknown_keys_warn_instead_of_failing() {
        let (_, warnings) = Config::parse("listen = 1\nusername = \"u\"\n").unwrap();
        assert_eq!(warnings.len(), 1);
        assert!(warnings[0].starts_with("[prometheus] unknown key \"listen\" ignored"));
    }

    #[test]
    fn wrong_type_names_the_section() {
        check(
            "authenticated = \"yes\"\n",
            Err("[prometheus] invalid type"),
        );
    }

    #[test]
    fn debug_output_hides_the_password() {
        let (c, _) = Config::parse("password = \"hunter2\"\n").unwrap();
        let text = format!("{c:?}");
        assert!(
            !text.contains("hunter2") && text.contains("<redacted>"),
            "{text}"
        );
    }

    #[test]
    fn sd_section_is_read_from_the_whole_file() {
        let whole = "[global]\nversion = \"0.39\"\n[prom_http_sd]\nenabled = true\n\
                     listen_addr = \"10.0.0.1\"\nsd_port = 9999\nextra = 1\n";
        let (sd, warnings) = SdConfig::from_config(whole).unwrap();
        assert_eq!(
            sd,
            SdConfig {
                enabled: true,
                listen_addr: "10.0.0.1".into(),
                sd_port: Some(9999)
            }
        );
        assert_eq!(warnings.len(), 1, "{warnings:?}");
    }

    #[test]
    fn absent_sd_section_is_disabled() {
        let (sd, _) = SdConfig::from_config("[global]\n").unwrap();
        assert!(!sd.enabled);
    }

    #[test]
    fn enabled_sd_needs_a_port() {
        let err = SdConfig::from_config("[prom_http_sd]\nenabled = true\n").unwrap_err();
        assert!(err.contains("needs sd_port"), "{err}");
        let err = SdConfig::from_config("[prom_http_sd]\nsd_port = 70000\n").unwrap_err();
        assert!(err.starts_with("[prom_http_sd] "), "{err}");
    }

    #[test]
    fn cluster_port_is_read_from_the_table() {
        assert_eq!(
            cluster_port("hostname = \"h\"\nprometheus_port = 9101\n"),
            Ok(Some(9101))
        );
        assert_eq!(cluster_port("hostname = \"h\"\n"), Ok(None));
        assert!(cluster_port("prometheus_port = 123456\n")
            .unwrap_err()
            .contains("not a port number"));
        let ports = cluster_ports(["prometheus_port = 2", "x = 1", "prometheus_port = 1"]);
        assert_eq!(ports.into_iter().collect::<Vec<_>>(), [1, 2]);
    }
}
