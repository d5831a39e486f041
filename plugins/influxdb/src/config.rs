//! The `[influxdb]` section of `idic.toml`: gostats' keys plus idic's extensions.
//! Parsing and checking only; secrets are resolved and connections made in
//! `client`.

use idic_lineproto::settings::{self, Gzip, Port, Secret};
use serde::Deserialize;

/// Every key the section knows, in the order of `idic.toml.example`.
pub const KEYS: &[&str] = &[
    "host",
    "port",
    "database",
    "authenticated",
    "username",
    "password",
    "use_ssl",
    "skip_ssl_verify",
    "max_request_bytes",
    "gzip",
    "timeout",
];

/// The `[influxdb]` section. Unknown keys are warned about and ignored, as
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
    /// The database to write to. Required.
    ///
    /// It must exist: idic does not create it (see the README). gostats'
    /// example uses `"isi_data_insights"`, which the Data Insights dashboards
    /// expect.
    pub database: String,
    /// Send `username` and `password` with every request (HTTP Basic auth).
    ///
    /// Default `false`.
    pub authenticated: bool,
    /// The InfluxDB user, when `authenticated`. It needs write permission on the
    /// database.
    pub username: String,
    /// The user's password, when `authenticated`.
    ///
    /// `"$env:NAME"` reads it from the environment variable `NAME` (an unset
    /// variable is a configuration error).
    pub password: Secret,
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
            database: String::new(),
            authenticated: false,
            username: String::new(),
            password: Secret::default(),
            use_ssl: false,
            skip_ssl_verify: false,
            max_request_bytes: settings::DEFAULT_MAX_REQUEST_BYTES,
            gzip: Gzip::Auto,
            timeout: settings::DEFAULT_TIMEOUT_SECS,
        }
    }
}

impl Config {
    /// Reads the section's TOML text (its keys, without the `[influxdb]` header).
    /// Returns the config and one warning per unknown key; the error names the
    /// section and the key.
    pub fn parse(text: &str) -> Result<(Config, Vec<String>), String> {
        let table = settings::table("influxdb", text)?;
        let warnings = settings::unknown_keys("influxdb", &table, KEYS);
        let config: Config = settings::from_table("influxdb", table)?;
        if config.database.trim().is_empty() {
            return Err("[influxdb] database is missing: name the InfluxDB database to write to, e.g. database = \"isi_data_insights\"".to_string());
        }
        if config.authenticated && config.username.is_empty() {
            return Err("[influxdb] authenticated = true but username is empty: set username and password, or authenticated = false".to_string());
        }
        config.base_url()?;
        settings::check_limits("influxdb", config.max_request_bytes, config.timeout)?;
        Ok((config, warnings))
    }

    /// Whether request bodies are compressed, `gzip` applied to `host`.
    pub fn gzip(&self) -> bool {
        self.gzip.for_host(&self.host)
    }

    /// `http[s]://host:port`.
    pub fn base_url(&self) -> Result<String, String> {
        settings::base_url("influxdb", &self.host, self.port, self.use_ssl)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ok(text: &str) -> Config {
        let (config, warnings) = Config::parse(text).unwrap();
        assert!(warnings.is_empty(), "{warnings:?}");
        config
    }

    fn err(text: &str, needle: &str) {
        let e = Config::parse(text).err().unwrap();
        assert!(e.contains(needle), "{e:?} lacks {needle:?}");
    }

    #[test]
    fn gostats_section_is_read() {
        let c = ok("host = \"db.example.com\"\nport = \"8087\"\ndatabase = \"isi_data_insights\"\nauthenticated = true\nusername = \"idic\"\npassword = \"$env:PW\"\nuse_ssl = true\nskip_ssl_verify = true\n");
        assert_eq!(c.base_url().unwrap(), "https://db.example.com:8087");
        assert_eq!(c.database, "isi_data_insights");
        assert!(c.authenticated && c.skip_ssl_verify);
        assert_eq!(c.username, "idic");
        assert_eq!(c.password.0, "$env:PW");
    }

    #[test]
    fn defaults_need_only_a_database() {
        let c = ok("database = \"d\"");
        assert_eq!(c.base_url().unwrap(), "http://localhost:8086");
        assert!(!c.authenticated && !c.use_ssl && !c.skip_ssl_verify);
        assert!(!c.gzip(), "no compression to localhost unless asked for");
        assert!(ok("database = \"d\"\nhost = \"db.example.com\"").gzip());
        assert_eq!(c.max_request_bytes, 1 << 20);
        assert_eq!(c.timeout, 30);
    }

    #[test]
    fn extensions_and_an_integer_port_are_read() {
        let c = ok(
            "database = \"d\"\nport = 9999\nmax_request_bytes = 4096\ngzip = false\ntimeout = 5\n",
        );
        assert_eq!(c.port, Port(9999));
        assert_eq!((c.max_request_bytes, c.gzip(), c.timeout), (4096, false, 5));
        assert!(ok("database = \"d\"\ngzip = true\n").gzip());
    }

    #[test]
    fn unknown_keys_are_warned_not_refused() {
        let (_, warnings) = Config::parse("database = \"d\"\nretention_policy = \"x\"\n").unwrap();
        assert_eq!(warnings.len(), 1);
        assert!(warnings[0].contains("unknown key \"retention_policy\" is ignored"));
    }

    #[test]
    fn mistakes_name_the_key() {
        err("", "[influxdb] database is missing");
        err(
            "database = \"d\"\nauthenticated = true\n",
            "username is empty",
        );
        err(
            "database = \"d\"\nport = \"x\"\n",
            "[influxdb] port \"x\" is not a number",
        );
        err(
            "database = \"d\"\nuse_ssl = \"yes\"\n",
            "[influxdb] invalid type",
        );
        err("database = \"d\"\nhost = \"https://x\"\n", "use_ssl");
        err("database = \"d\"\nmax_request_bytes = 10\n", "too small");
        err("database = \"d\"\ntimeout = 0\n", "timeout = 0");
        err("database = ", "[influxdb] ");
    }
}
