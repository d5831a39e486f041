//! The HTTP side: one blocking client per sink (sharing one connection pool per
//! transport settings) that sends request bodies to
//! InfluxDB's write endpoint and turns every answer into `Ok` or a classified
//! [`Error`]. It does not retry (the host owns retries) and does not encode.
//!
//! The two API versions differ only in the URL, the authentication and some
//! messages ([`ProtocolVersion`]):
//!
//! | | v1 (`[influxdb]`) | v2 (`[influxdbv2]`) |
//! |---|---|---|
//! | write | `POST /write?db=<database>&precision=s` | `POST /api/v2/write?org=<org>&bucket=<bucket>&precision=s` |
//! | auth | HTTP Basic, when `authenticated` | `Authorization: Token <access_token>` |
//! | ping | `GET /ping` (204) | `GET /ping` (204) |
//!
//! Bodies are gzip-compressed (`Content-Encoding: gzip`) when enabled and at
//! least [`GZIP_MIN_BYTES`] long; a server answering 415 gets the body again
//! uncompressed, and no more gzip from this client.

use std::collections::HashMap;
use std::fmt;
use std::sync::{Mutex, OnceLock};
use std::time::Duration;

use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;
use idic_httpresolve::CachingResolver;
use ureq::tls::TlsConfig;
use ureq::unversioned::transport::DefaultConnector;
use ureq::Agent;

use crate::error::{parse_rejection, server_message, Error, ErrorKind};
use crate::gzip;

/// A compressed-body buffer larger than this is freed after use.
const KEEP_COMPRESSED: usize = 64 * 1024;

/// Bodies shorter than this are sent uncompressed: gzip would not pay.
pub const GZIP_MIN_BYTES: usize = 1024;

/// How much of an error answer is read.
const MAX_ERROR_BODY: u64 = 64 * 1024;

/// The longest wait for the start-up ping.
const PING_TIMEOUT: Duration = Duration::from_secs(5);

/// Which InfluxDB write API a client speaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ProtocolVersion {
    /// InfluxDB 1.x: `/write`, databases, optional user and password.
    V1,
    /// InfluxDB 2.x: `/api/v2/write`, orgs and buckets, a token.
    V2,
}

/// Where the points go, and as whom.
#[derive(Clone, PartialEq, Eq)]
pub enum Destination {
    /// An InfluxDB 1.x database.
    V1 {
        /// The database name.
        database: String,
        /// User name and password (sent as HTTP Basic auth), when `authenticated`.
        credentials: Option<(String, String)>,
    },
    /// An InfluxDB 2.x bucket.
    V2 {
        /// The organization (name or ID).
        org: String,
        /// The bucket (name or ID).
        bucket: String,
        /// The API token.
        token: String,
    },
}

/// Everything a [`Client`] needs.
#[derive(Debug, Clone)]
pub struct ClientConfig {
    /// `http://host:port` or `https://host:port`, without a trailing slash.
    pub base_url: String,
    /// Database or bucket, and credentials.
    pub destination: Destination,
    /// Accept any server certificate (`skip_ssl_verify`).
    pub skip_ssl_verify: bool,
    /// The longest wait for one request, connection included.
    pub timeout: Duration,
    /// Compress request bodies.
    pub gzip: bool,
    /// The `User-Agent` header, e.g. `idic-influxdb/0.1.0`.
    pub user_agent: String,
}

/// The read buffer of an agent's connections. InfluxDB answers writes with a
/// 204 or a short JSON error: ureq's 128 KiB default costs memory for nothing.
const AGENT_INPUT_BUFFER: usize = 16 * 1024;

/// The write buffer of an agent's connections: ureq copies a body through it,
/// one `send` (and, on loopback, one wake-up of InfluxDB) per buffer-full, with
/// a socket option set around each. With 16 KiB a typical cycle's body of 40
/// to 60 KiB took four to eight sends; 64 KiB takes one or two. Only the pages
/// a body fills become resident.
const AGENT_OUTPUT_BUFFER: usize = 64 * 1024;

/// Idle connections an agent keeps per server. The host runs up to
/// `sink_workers` writes at once (4 by default); with ureq's default of 3 the
/// fourth connection was closed after every burst and opened again the next
/// cycle, with a TCP handshake and a resolver thread each time (ureq resolves
/// even an IP address on a thread of its own).
const IDLE_PER_HOST: usize = 16;

/// How long an idle connection is kept: longer than the usual cycle of 5 to 30
/// seconds, so a cycle reuses the previous one's connections.
const IDLE_AGE: Duration = Duration::from_secs(90);

/// One agent (and so one connection pool and TLS setup) for every sink with the
/// same transport settings: all clusters write to the same server, at most a few
/// at a time, so they share a handful of connections instead of holding one
/// each with its own buffers.
fn shared_agent(config: &ClientConfig) -> Agent {
    type Key = (Duration, bool, String);
    static AGENTS: OnceLock<Mutex<HashMap<Key, Agent>>> = OnceLock::new();
    let key = (
        config.timeout,
        config.skip_ssl_verify,
        config.user_agent.clone(),
    );
    let mut agents = AGENTS
        .get_or_init(Default::default)
        .lock()
        .unwrap_or_else(|e| e.into_inner());
    agents
        .entry(key)
        .or_insert_with(|| {
            let tls = TlsConfig::builder()
                .disable_verification(config.skip_ssl_verify)
                .build();
            let config = Agent::config_builder()
                .http_status_as_error(false)
                .max_redirects(0)
                .timeout_global(Some(config.timeout))
                .timeout_connect(Some(config.timeout.min(Duration::from_secs(10))))
                .user_agent(config.user_agent.as_str())
                .tls_config(tls)
                .input_buffer_size(AGENT_INPUT_BUFFER)
                .output_buffer_size(AGENT_OUTPUT_BUFFER)
                .max_idle_connections_per_host(IDLE_PER_HOST)
                .max_idle_connections(4 * IDLE_PER_HOST)
                .max_idle_age(IDLE_AGE)
                .build();
            Agent::with_parts(
                config,
                DefaultConnector::default(),
                CachingResolver::default(),
            )
        })
        .clone()
}

/// A blocking HTTP client for one InfluxDB write destination.
pub struct Client {
    agent: Agent,
    base_url: String,
    write_url: String,
    destination: Destination,
    authorization: Option<String>,
    gzip: bool,
    timeout: Duration,
    /// Reused buffer for compressed bodies.
    compressed: Vec<u8>,
}

impl ProtocolVersion {
    /// The plugin's config section: `influxdb` or `influxdbv2`.
    pub fn section(self) -> &'static str {
        match self {
            ProtocolVersion::V1 => "influxdb",
            ProtocolVersion::V2 => "influxdbv2",
        }
    }
}

impl Destination {
    /// The API version the destination belongs to.
    pub fn version(&self) -> ProtocolVersion {
        match self {
            Destination::V1 { .. } => ProtocolVersion::V1,
            Destination::V2 { .. } => ProtocolVersion::V2,
        }
    }

    /// `database "x"` or `bucket "b" of org "o"`, for messages.
    pub fn label(&self) -> String {
        match self {
            Destination::V1 { database, .. } => format!("database {database:?}"),
            Destination::V2 { org, bucket, .. } => format!("bucket {bucket:?} of org {org:?}"),
        }
    }
}

impl fmt::Debug for Destination {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Destination::V1 {
                database,
                credentials,
            } => f
                .debug_struct("V1")
                .field("database", database)
                .field("username", &credentials.as_ref().map(|(u, _)| u))
                .finish_non_exhaustive(),
            Destination::V2 { org, bucket, .. } => f
                .debug_struct("V2")
                .field("org", org)
                .field("bucket", bucket)
                .finish_non_exhaustive(),
        }
    }
}

impl Client {
    /// A client for `config`. Does no I/O.
    pub fn new(config: ClientConfig) -> Client {
        let agent = shared_agent(&config);
        let base_url = config.base_url.trim_end_matches('/').to_string();
        let (write_url, authorization) = match &config.destination {
            Destination::V1 {
                database,
                credentials,
            } => (
                format!(
                    "{base_url}/write?db={}&precision=s",
                    percent_encode(database)
                ),
                credentials
                    .as_ref()
                    .map(|(u, p)| format!("Basic {}", STANDARD.encode(format!("{u}:{p}")))),
            ),
            Destination::V2 { org, bucket, token } => (
                format!(
                    "{base_url}/api/v2/write?org={}&bucket={}&precision=s",
                    percent_encode(org),
                    percent_encode(bucket)
                ),
                Some(format!("Token {token}")),
            ),
        };
        Client {
            agent,
            base_url,
            write_url,
            destination: config.destination,
            authorization,
            gzip: config.gzip,
            timeout: config.timeout,
            compressed: Vec::new(),
        }
    }

    /// The API version this client speaks.
    pub fn version(&self) -> ProtocolVersion {
        self.destination.version()
    }

    /// The server's base URL, `http://host:port`.
    pub fn url(&self) -> &str {
        &self.base_url
    }

    /// Where the points go, for messages.
    pub fn destination(&self) -> &Destination {
        &self.destination
    }

    /// Whether bodies are (still) compressed.
    pub fn gzip(&self) -> bool {
        self.gzip
    }

    /// `GET /ping`: the server's version (`X-Influxdb-Version`) when it answers.
    pub fn ping(&self) -> Result<Option<String>, Error> {
        let mut response = self
            .agent
            .get(format!("{}/ping", self.base_url))
            .config()
            .timeout_global(Some(self.timeout.min(PING_TIMEOUT)))
            .build()
            .call()
            .map_err(|e| self.transport_error(e, self.timeout.min(PING_TIMEOUT)))?;
        let status = response.status().as_u16();
        if (200..300).contains(&status) {
            return Ok(response
                .headers()
                .get("x-influxdb-version")
                .and_then(|v| v.to_str().ok())
                .map(str::to_string));
        }
        let body = read_error_body(&mut response);
        Err(self.status_error(status, &body, 0))
    }

    /// Sends one body of line protocol. `Ok` means InfluxDB stored every line.
    pub fn write(&mut self, body: &[u8]) -> Result<(), Error> {
        if self.gzip && body.len() >= GZIP_MIN_BYTES {
            let mut compressed = std::mem::take(&mut self.compressed);
            let result =
                gzip::compress(body, &mut compressed).then(|| self.post(&compressed, true));
            // Kept for the next body of this batch, unless it is large: sinks are
            // idle between cycles.
            if compressed.capacity() <= KEEP_COMPRESSED {
                self.compressed = compressed;
            }
            match result {
                Some(Err(Failure::Http(415, _))) => {
                    log::warn!(
                        "InfluxDB at {} does not accept gzip-compressed writes (HTTP 415): sending uncompressed from now on; set gzip = false in [{}] to silence this",
                        self.base_url,
                        self.version().section()
                    );
                    self.gzip = false;
                }
                Some(other) => return other.map_err(|f| self.failure_error(f, body.len())),
                // deflate failed: this body goes plain.
                None => {}
            }
        }
        self.post(body, false)
            .map_err(|f| self.failure_error(f, body.len()))
    }

    /// POSTs `bytes` to the write URL.
    fn post(&self, bytes: &[u8], gzip: bool) -> Result<(), Failure> {
        let mut request = self
            .agent
            .post(&self.write_url)
            .header("Content-Type", "text/plain; charset=utf-8");
        if gzip {
            request = request.header("Content-Encoding", "gzip");
        }
        if let Some(auth) = &self.authorization {
            request = request.header("Authorization", auth);
        }
        let mut response = request
            .send(bytes)
            .map_err(|e| Failure::Transport(self.transport_error(e, self.timeout)))?;
        let status = response.status().as_u16();
        if (200..300).contains(&status) {
            return Ok(());
        }
        Err(Failure::Http(status, read_error_body(&mut response)))
    }

    /// The error for a failed write of `len` (uncompressed) bytes.
    fn failure_error(&self, failure: Failure, len: usize) -> Error {
        match failure {
            Failure::Transport(e) => e,
            Failure::Http(status, body) => self.status_error(status, &body, len),
        }
    }

    /// A failure below HTTP (no connection, a timeout, TLS) of a request allowed
    /// `timeout`.
    fn transport_error(&self, e: ureq::Error, timeout: Duration) -> Error {
        let url = &self.base_url;
        let section = self.version().section();
        let tls = match &e {
            ureq::Error::Tls(_) | ureq::Error::Rustls(_) | ureq::Error::TlsRequired => true,
            // rustls reports handshake and certificate failures as invalid data.
            ureq::Error::Io(io) => {
                io.kind() == std::io::ErrorKind::InvalidData && url.starts_with("https:")
            }
            _ => false,
        };
        if tls {
            return Error::new(
                ErrorKind::Tls,
                format!(
                    "[{section}] TLS with InfluxDB at {url} failed: {e}: check use_ssl (the server must speak HTTPS), or set skip_ssl_verify = true for a certificate idic cannot verify"
                ),
            );
        }
        match e {
            ureq::Error::Timeout(_) => Error::new(
                ErrorKind::Timeout,
                format!(
                    "InfluxDB at {url} did not answer within {} s",
                    timeout.as_secs_f64()
                ),
            ),
            ureq::Error::Io(io) if io.kind() == std::io::ErrorKind::TimedOut => Error::new(
                ErrorKind::Timeout,
                format!("InfluxDB at {url} did not answer in time: {io}"),
            ),
            ureq::Error::Io(_)
            | ureq::Error::HostNotFound
            | ureq::Error::ConnectionFailed
            | ureq::Error::Protocol(_) => Error::new(
                ErrorKind::Unreachable,
                format!("cannot reach InfluxDB at {url}: {e}"),
            ),
            other => Error::new(
                ErrorKind::Unexpected,
                format!("[{section}] request to InfluxDB at {url} failed: {other}"),
            ),
        }
    }

    /// The error for an HTTP answer outside 2xx. `len` is the uncompressed body
    /// size of a write (0 for a ping).
    fn status_error(&self, status: u16, body: &str, len: usize) -> Error {
        let url = &self.base_url;
        let section = self.version().section();
        let reason = server_message(body);
        match status {
            400 if reason.contains("HTTP request to an HTTPS server") => Error::new(
                ErrorKind::Tls,
                format!("[{section}] InfluxDB at {url} speaks HTTPS: set use_ssl = true in [{section}]"),
            ),
            400 | 422 => {
                let rejection = parse_rejection(body);
                Error::rejected(
                    format!("InfluxDB at {url} refused lines (HTTP {status}): {reason}"),
                    rejection,
                )
            }
            401 | 403 => Error::new(ErrorKind::Unauthorized, self.unauthorized(status, &reason)),
            404 => Error::new(ErrorKind::NotFound, self.not_found(&reason)),
            413 => Error::new(
                ErrorKind::TooLarge,
                format!(
                    "[{section}] InfluxDB at {url} refused a request of {len} bytes as too large (HTTP 413): lower max_request_bytes in [{section}]"
                ),
            ),
            429 => Error::new(
                ErrorKind::Unavailable,
                format!("InfluxDB at {url} is too busy (HTTP 429): {reason}"),
            ),
            500..=599 => Error::new(
                ErrorKind::Unavailable,
                format!("InfluxDB at {url} failed (HTTP {status}): {reason}"),
            ),
            _ => Error::new(
                ErrorKind::Unexpected,
                format!(
                    "[{section}] unexpected answer from {url} (HTTP {status}): {reason}: check host, port and use_ssl in [{section}]"
                ),
            ),
        }
    }

    /// The message for 401 and 403.
    fn unauthorized(&self, status: u16, reason: &str) -> String {
        let url = &self.base_url;
        match &self.destination {
            Destination::V1 {
                database,
                credentials: None,
            } => format!(
                "[influxdb] InfluxDB at {url} refused the credentials (HTTP {status}: {reason}): the server requires authentication: set authenticated = true, username and password in [influxdb] (a user that may write to database {database:?})"
            ),
            Destination::V1 {
                database,
                credentials: Some((user, _)),
            } => format!(
                "[influxdb] InfluxDB at {url} refused the credentials of user {user:?} (HTTP {status}: {reason}): check username and password in [influxdb]; the user needs write permission: GRANT WRITE ON {} TO {}",
                influxql_ident(database),
                influxql_ident(user)
            ),
            Destination::V2 { org, bucket, .. } => format!(
                "[influxdbv2] InfluxDB at {url} refused the access token (HTTP {status}: {reason}): check access_token in [influxdbv2]; the token needs write permission on bucket {bucket:?} of org {org:?}"
            ),
        }
    }

    /// The message for 404.
    fn not_found(&self, reason: &str) -> String {
        let url = &self.base_url;
        match &self.destination {
            Destination::V1 {
                database,
                credentials,
            } if reason.contains("database not found") => {
                let user = match credentials {
                    Some((u, _)) => format!(" -u {}", shell_quote(u)),
                    None => String::new(),
                };
                let query = format!("q=CREATE DATABASE {}", influxql_ident(database));
                format!(
                    "[influxdb] database {database:?} not found on InfluxDB at {url}: create it with: curl -XPOST{user} '{url}/query' --data-urlencode {}",
                    shell_quote(&query)
                )
            }
            Destination::V1 { .. } => format!(
                "[influxdb] {url} answered 404 to /write ({reason}): is it InfluxDB 1.x? check host, port and use_ssl in [influxdb]"
            ),
            Destination::V2 { .. } if reason.is_empty() || reason.contains("page not found") => {
                format!(
                    "[influxdbv2] {url} has no /api/v2/write ({reason}): it is not InfluxDB 2.x (or 1.8 and later); check host and port in [influxdbv2], or use the influxdb plugin for InfluxDB 1.x"
                )
            }
            Destination::V2 { org, bucket, .. } => format!(
                "[influxdbv2] bucket {bucket:?} or org {org:?} not found on InfluxDB at {url} ({reason}): create the bucket with: influx bucket create --name {} --org {}",
                shell_quote(bucket),
                shell_quote(org)
            ),
        }
    }
}

/// A failed POST before it is turned into an [`Error`].
enum Failure {
    /// No HTTP answer: the error is complete.
    Transport(Error),
    /// An answer outside 2xx: its status and body.
    Http(u16, String),
}

/// Reads at most [`MAX_ERROR_BODY`] of an error answer (empty if unreadable).
fn read_error_body(response: &mut ureq::http::Response<ureq::Body>) -> String {
    let bytes = response
        .body_mut()
        .with_config()
        .limit(MAX_ERROR_BODY)
        .read_to_vec()
        .unwrap_or_default();
    String::from_utf8_lossy(&bytes).into_owned()
}

/// Percent-encodes a query parameter value (everything but RFC 3986 unreserved
/// characters).
fn percent_encode(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~') {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// An InfluxQL identifier: double-quoted, inner quotes and backslashes escaped.
fn influxql_ident(name: &str) -> String {
    format!("\"{}\"", name.replace('\\', "\\\\").replace('"', "\\\""))
}

/// A POSIX shell word in single quotes.
fn shell_quote(s: &str) -> String {
    if !s.is_empty()
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-_.:/".contains(&b))
    {
        return s.to_string();
    }
    format!("'{}'", s.replace('\'', "'\\''"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn client(destination: Destination) -> Client {
        Client::new(ClientConfig {
            base_url: "http://127.0.0.1:8086/".into(),
            destination,
            skip_ssl_verify: false,
            timeout: Duration::from_secs(30),
            gzip: true,
            user_agent: "test".into(),
        })
    }

    fn v1(user: Option<&str>) -> Client {
        client(Destination::V1 {
            database: "isi data".into(),
            credentials: user.map(|u| (u.to_string(), "hunter2".to_string())),
        })
    }

    fn v2() -> Client {
        client(Destination::V2 {
            org: "my org".into(),
            bucket: "b/1".into(),
            token: "t0ken".into(),
        })
    }

    fn check(c: &Client, status: u16, body: &str, kind: ErrorKind, needles: &[&str]) {
        let e = c.status_error(status, body, 2048);
        assert_eq!(e.kind(), kind, "{e}");
        for n in needles {
            assert!(e.message().contains(n), "{:?} lacks {n:?}", e.message());
        }
        assert!(!e.message().contains("hunter2") && !e.message().contains("t0ken"));
    }

    #[test]
    fn urls_and_auth_per_version() {
        let c = v1(None);
        assert_eq!(
            c.write_url,
            "http://127.0.0.1:8086/write?db=isi%20data&precision=s"
        );
        assert_eq!(c.authorization, None);
        let c = v1(Some("idic"));
        assert_eq!(c.authorization.as_deref(), Some("Basic aWRpYzpodW50ZXIy"));
        let c = v2();
        assert_eq!(
            c.write_url,
            "http://127.0.0.1:8086/api/v2/write?org=my%20org&bucket=b%2F1&precision=s"
        );
        assert_eq!(c.authorization.as_deref(), Some("Token t0ken"));
        assert_eq!(c.url(), "http://127.0.0.1:8086");
    }

    #[test]
    fn debug_never_shows_secrets() {
        let text = format!(
            "{:?} {:?}",
            v1(Some("idic")).destination(),
            v2().destination()
        );
        assert!(text.contains("idic") && text.contains("my org"), "{text}");
        assert!(
            !text.contains("hunter2") && !text.contains("t0ken"),
            "{text}"
        );
    }

    #[test]
    fn retryable_statuses() {
        check(
            &v1(None),
            500,
            r#"{"error":"timeout"}"#,
            ErrorKind::Unavailable,
            &["HTTP 500", "timeout"],
        );
        check(&v1(None), 503, "", ErrorKind::Unavailable, &["HTTP 503"]);
        check(&v2(), 429, "", ErrorKind::Unavailable, &["HTTP 429"]);
    }

    #[test]
    fn bad_credentials_are_a_configuration_error_named_as_such() {
        check(
            &v1(None),
            401,
            r#"{"error":"unable to parse authentication credentials"}"#,
            ErrorKind::Unauthorized,
            &[
                "[influxdb]",
                "refused the credentials",
                "authenticated = true",
            ],
        );
        check(
            &v1(Some("idic")),
            403,
            r#"{"error":"\"idic\" user is not authorized to write to database \"isi data\""}"#,
            ErrorKind::Unauthorized,
            &[
                "refused the credentials of user \"idic\"",
                "GRANT WRITE ON \"isi data\" TO \"idic\"",
            ],
        );
        check(
            &v2(),
            401,
            r#"{"code":"unauthorized","message":"unauthorized access"}"#,
            ErrorKind::Unauthorized,
            &["[influxdbv2]", "refused the access token", "access_token"],
        );
    }

    #[test]
    fn missing_database_says_how_to_create_it() {
        check(
            &v1(None),
            404,
            r#"{"error":"database not found: \"isi data\""}"#,
            ErrorKind::NotFound,
            &[
                "database \"isi data\" not found on InfluxDB at http://127.0.0.1:8086",
                "curl -XPOST 'http://127.0.0.1:8086/query' --data-urlencode 'q=CREATE DATABASE \"isi data\"'",
            ],
        );
        check(
            &v1(Some("idic")),
            404,
            r#"{"error":"database not found: \"isi data\""}"#,
            ErrorKind::NotFound,
            &["curl -XPOST -u idic 'http"],
        );
        check(
            &v1(None),
            404,
            "404 page not found",
            ErrorKind::NotFound,
            &["is it InfluxDB 1.x?"],
        );
    }

    #[test]
    fn missing_bucket_and_missing_api_are_told_apart() {
        check(
            &v2(),
            404,
            r#"{"code":"not found","message":"bucket \"b/1\" not found"}"#,
            ErrorKind::NotFound,
            &[
                "bucket \"b/1\" or org \"my org\" not found",
                "influx bucket create --name b/1 --org 'my org'",
            ],
        );
        check(
            &v2(),
            404,
            "404 page not found\n",
            ErrorKind::NotFound,
            &["has no /api/v2/write"],
        );
    }

    #[test]
    fn refused_lines_are_permanent_with_the_reason() {
        let body = r#"{"error":"partial write: field type conflict: input field \"value\" on measurement \"m\" is type integer, already exists as type float dropped=1"}"#;
        let e = v1(None).status_error(400, body, 10);
        assert_eq!(e.kind(), ErrorKind::Rejected);
        assert_eq!(e.rejection().unwrap().measurements, ["m"]);
        assert_eq!(
            e.to_sink_error().kind,
            idic_plugin_api::ErrorKind::Permanent
        );
        check(
            &v2(),
            422,
            r#"{"code":"unprocessable entity","message":"failure writing points"}"#,
            ErrorKind::Rejected,
            &["HTTP 422", "failure writing points"],
        );
    }

    #[test]
    fn other_answers_point_at_the_settings() {
        check(
            &v1(None),
            413,
            "",
            ErrorKind::TooLarge,
            &["2048 bytes", "lower max_request_bytes in [influxdb]"],
        );
        check(
            &v1(None),
            400,
            "Client sent an HTTP request to an HTTPS server.\n",
            ErrorKind::Tls,
            &["use_ssl = true"],
        );
        check(
            &v1(None),
            301,
            "",
            ErrorKind::Unexpected,
            &["HTTP 301", "check host, port and use_ssl"],
        );
    }

    #[test]
    fn refused_connections_are_retryable() {
        let port = {
            let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
            l.local_addr().unwrap().port()
        };
        let mut c = Client::new(ClientConfig {
            base_url: format!("http://127.0.0.1:{port}"),
            destination: Destination::V1 {
                database: "d".into(),
                credentials: None,
            },
            skip_ssl_verify: false,
            timeout: Duration::from_secs(5),
            gzip: true,
            user_agent: "test".into(),
        });
        let e = c.write(b"m v=1 1\n").unwrap_err();
        assert_eq!(e.kind(), ErrorKind::Unreachable, "{e}");
        assert!(
            e.message()
                .starts_with(&format!("cannot reach InfluxDB at http://127.0.0.1:{port}")),
            "{e}"
        );
        assert_eq!(c.ping().unwrap_err().kind(), ErrorKind::Unreachable);
    }
}
