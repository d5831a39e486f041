//! The `[influxdbv2]` section of `idic.toml`: gostats' keys plus idic's
//! extensions. Parsing and checking only; the token is resolved and the
//! connection made in `client`.

use idic_lineproto::settings::{self, Gzip, Port, Secret};
use serde::Deserialize;

/// Every key the section knows, in the order of `idic.toml.example`.
pub const KEYS: &[&str] = &[
    "host",
    "port",
    "org",
    "bucket",
    "access_token",
    "use_ssl",
    "skip_ssl_verify",
    "max_request_bytes",
    "gzip",
    "timeout",
];

/// The `[influxdbv2]` section. Unknown keys are warned about and ignored, as
/// gostats ignores them.
#[derive(Clone, Deserialize)]
#[serde(default)]
pub struct Config {
    /// The InfluxDB server's name or address.
    ///
    /// A name or address only; the port goes in `port` and HTTPS is `use_ssl`.
    /// Default `"localhost"`.
    pub host: String,
    /// The InfluxDB HTTP port.
    ///
    /// A string as in gostats' files (`"8086"`); an integer is accepted too.
    /// Default `"8086"`.
    pub port: Port,
    /// The organization the bucket belongs to (name or ID). Required.
    pub org: String,
    /// The bucket to write to (name or ID). Required; it must exist.
    pub bucket: String,
    /// An API token with write permission on the bucket. Required, non-empty.
    ///
    /// `"$env:NAME"` reads it from the environment variable `NAME` (an unset
    /// variable is a configuration error).
    pub access_token: Secret,
    /// Talk HTTPS instead of HTTP. Default `false`.
    pub use_ssl: bool,
    /// Accept any server certificate (self-signed, expired, another name).
    ///
    /// Default `false`.
    pub skip_ssl_verify: bool,
    /// idic extension: the largest request body, in bytes before compression.
    ///
    /// A bigger batch is split at line boundaries into several requests; a
    /// single longer line is sent alone. At least 1024. Default `1048576` (1 MiB).
    pub max_request_bytes: usize,
    /// idic extension: gzip-compress request bodies (`Content-Encoding: gzip`).
    ///
    /// Bodies under 1 KiB are sent as they are; a server that answers 415 gets
    /// plain bodies from then on. `true`, `false` or `"auto"` (the default):
    /// compress unless `host` is this machine ([`Gzip`]).
    pub gzip: Gzip,
    /// idic extension: seconds to wait for InfluxDB to answer one request,
    /// connecting included. At least 1. Default `30`.
    pub timeout: u64,
}

impl Default for Config {
    fn default() -> Config {
        Config {
            host: "localhost".to_string(),
            port: Port::default(),
            org: String::new(),
            bucket: String::new(),
            access_token: Secret::default(),
            use_ssl: false,
            skip_ssl_verify: false,
            max_request_bytes: settings::DEFAULT_MAX_REQUEST_BYTES,
            gzip: Gzip::Auto,
            timeout: settings::DEFAULT_TIMEOUT_SECS,
        }
    }
}

impl Config {
    /// Reads the section's TOML text (its keys, without the `[influxdbv2]`
    /// header). Returns the config and one warning per unknown key; the error
    /// names the section and the key.
    pub fn parse(text: &str) -> Result<(Config, Vec<String>), String> {
        let table = settings::table("influxdbv2", text)?;
        let warnings = settings::unknown_keys("influxdbv2", &table, KEYS);
        let config: Config = settings::from_table("influxdbv2", table)?;
        for (key, value) in [("org", &config.org), ("bucket", &config.bucket)] {
            if value.trim().is_empty() {
                return Err(format!(
                    "[influxdbv2] {key} is missing: name the InfluxDB 2 {key} to write to"
                ));
            }
        }
        if config.access_token.0.is_empty() {
            return Err("[influxdbv2] access_token is missing: give an API token that may write to the bucket, e.g. access_token = \"$env:INFLUXDB_TOKEN\"".to_string());
        }
        config.base_url()?;
        settings::check_limits("influxdbv2", config.max_request_bytes, config.timeout)?;
        Ok((config, warnings))
    }

    /// Whether request bodies are compressed, `gzip` applied to `host`.
    pub fn gzip(&self) -> bool {
        self.gzip.for_host(&self.host)
    }

    /// `http[s]://host:port`.
    pub fn base_url(&self) -> Result<String, String> {
        settings::base_url("influxdbv2", &self.host, self.port, self.use_ssl)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MINIMAL: &str = "org = \"o\"\nbucket = \"b\"\naccess_token = \"t\"\n";

    fn err(text: &str, needle: &str) {
        let e = Config::parse(text).err().unwrap();
        assert!(e.contains(needle), "{e:?} lacks {needle:?}");
    }

    #[test]
    fn gostats_section_is_read() {
        let (c, warnings) = Config::parse("host = \"db\"\nport = \"8087\"\norg = \"my-org\"\nbucket = \"isi_data_insights\"\naccess_token = \"$env:INFLUXDB_TOKEN\"\nuse_ssl = true\nskip_ssl_verify = true\n").unwrap();
        assert!(warnings.is_empty());
        assert_eq!(c.base_url().unwrap(), "https://db:8087");
        assert_eq!(
            (c.org.as_str(), c.bucket.as_str()),
            ("my-org", "isi_data_insights")
        );
        assert_eq!(c.access_token.0, "$env:INFLUXDB_TOKEN");
        assert!(c.skip_ssl_verify);
    }

    #[test]
    fn defaults() {
        let (c, _) = Config::parse(MINIMAL).unwrap();
        assert_eq!(c.base_url().unwrap(), "http://localhost:8086");
        assert!(
            !c.gzip() && !c.use_ssl,
            "no compression to localhost unless asked for"
        );
        assert_eq!((c.max_request_bytes, c.timeout), (1 << 20, 30));
    }

    #[test]
    fn unknown_keys_are_warned_not_refused() {
        let (_, warnings) = Config::parse(&format!("{MINIMAL}database = \"x\"\n")).unwrap();
        assert_eq!(warnings.len(), 1);
        assert!(warnings[0].starts_with("[influxdbv2] unknown key \"database\" is ignored"));
    }

    #[test]
    fn required_keys_are_named() {
        err(
            "bucket = \"b\"\naccess_token = \"t\"\n",
            "[influxdbv2] org is missing",
        );
        err(
            "org = \"o\"\naccess_token = \"t\"\n",
            "[influxdbv2] bucket is missing",
        );
        err(
            "org = \"o\"\nbucket = \"b\"\n",
            "[influxdbv2] access_token is missing",
        );
        err(
            "org = \"o\"\nbucket = \"b\"\naccess_token = \"\"\n",
            "access_token is missing",
        );
        err(&format!("{MINIMAL}port = 0\n"), "out of range");
        err(&format!("{MINIMAL}gzip = 1\n"), "[influxdbv2] invalid type");
    }
}
