//! The HTTP side: one blocking client per sink that POSTs a compressed
//! `WriteRequest` with the headers remote-write 1.0 requires and turns the
//! receiver's answer into `Ok` or a classified `SinkError`. It neither retries
//! (the host owns retries and back-off) nor encodes. [`Client::ping`] is
//! doctor's reachability check: a GET without credentials.
//!
//! | answer | kind | why |
//! |---|---|---|
//! | 2xx | ok | stored |
//! | 5xx, 429, no answer, timeout | retryable | the receiver's trouble; the spec says retry |
//! | any other 4xx | permanent | the spec says never retry: the same body would be refused again |

use std::time::Duration;

use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;
use idic_httpresolve::CachingResolver;
use idic_plugin_api::SinkError;
use ureq::tls::{parse_pem, PemItem, RootCerts, TlsConfig};
use ureq::unversioned::transport::DefaultConnector;
use ureq::Agent;

use crate::config::Config;

/// How much of an error answer is read for the message.
const MAX_ERROR_BODY: u64 = 4 * 1024;

/// The remote-write protocol version header value (1.0).
pub const PROTOCOL_VERSION: &str = "0.1.0";

/// A blocking client for one receiver.
pub struct Client {
    agent: Agent,
    url: String,
    authorization: Option<String>,
}

impl Client {
    /// Builds the client: TLS roots from `ca_cert` (read now, so a bad file is
    /// a configuration error at open), `password`/`bearer_token` already
    /// resolved by the caller.
    pub fn new(config: &Config, password: &str, token: &str) -> Result<Client, SinkError> {
        let mut tls = TlsConfig::builder().disable_verification(config.skip_ssl_verify);
        if !config.ca_cert.is_empty() {
            tls = tls.root_certs(RootCerts::new_with_certs(&read_ca(&config.ca_cert)?));
        }
        let timeout = Duration::from_secs(config.timeout);
        let agent_config = Agent::config_builder()
            .http_status_as_error(false)
            .max_redirects(0)
            .timeout_global(Some(timeout))
            .timeout_connect(Some(timeout.min(Duration::from_secs(10))))
            .user_agent(concat!("idic-remote-write/", env!("CARGO_PKG_VERSION")))
            .tls_config(tls.build())
            .build();
        // No resolver thread per request: IP addresses and remembered names.
        let agent = Agent::with_parts(
            agent_config,
            DefaultConnector::default(),
            CachingResolver::default(),
        );
        let authorization = if !config.username.is_empty() {
            Some(format!(
                "Basic {}",
                STANDARD.encode(format!("{}:{password}", config.username))
            ))
        } else if !token.is_empty() {
            Some(format!("Bearer {token}"))
        } else {
            None
        };
        Ok(Client {
            agent,
            url: config.url.trim().to_string(),
            authorization,
        })
    }

    /// The receiver's URL.
    pub fn url(&self) -> &str {
        &self.url
    }

    /// Sends one compressed body once.
    pub fn send(&self, body: &[u8]) -> Result<(), SinkError> {
        let mut request = self
            .agent
            .post(&self.url)
            .header("Content-Encoding", "snappy")
            .header("Content-Type", "application/x-protobuf")
            .header("X-Prometheus-Remote-Write-Version", PROTOCOL_VERSION);
        if let Some(auth) = &self.authorization {
            request = request.header("Authorization", auth);
        }
        let mut answer = match request.send(body) {
            Ok(answer) => answer,
            Err(e) => {
                return Err(SinkError::retryable(format!(
                    "cannot reach the remote-write receiver at {}: {e}",
                    self.url
                )))
            }
        };
        let status = answer.status().as_u16();
        if (200..300).contains(&status) {
            return Ok(());
        }
        let message = answer
            .body_mut()
            .with_config()
            .limit(MAX_ERROR_BODY)
            .read_to_string()
            .unwrap_or_default();
        Err(classify(&self.url, status, message.trim()))
    }
}

impl Client {
    /// `idic doctor`'s `ping`: one GET of the URL without credentials (none
    /// can be resolved there) and without a body. Any answer proves that the
    /// receiver is reachable over this TCP/TLS path (a remote-write endpoint
    /// answers GET with 405 or 400, one behind auth with 401), except 404 (no
    /// such path: the url is wrong) and 5xx (something answers, the receiver
    /// behind it does not). Whether writes are accepted is not checked.
    pub fn ping(&self) -> Result<String, SinkError> {
        let answer = self.agent.get(&self.url).call().map_err(|e| {
            SinkError::retryable(format!(
                "cannot reach the remote-write receiver at {}: {e}; check url (host, port, http/https), ca_cert, and that the receiver runs",
                self.url
            ))
        })?;
        let status = answer.status().as_u16();
        match status {
            404 => Err(SinkError::config(format!(
                "the server at {} answered HTTP 404 (no such path); check url (Prometheus needs --web.enable-remote-write-receiver and the path /api/v1/write)",
                self.url
            ))),
            s if s >= 500 => Err(SinkError::retryable(format!(
                "the remote-write receiver at {} failed (HTTP {s}); check that the receiver (or what is behind this proxy) runs",
                self.url
            ))),
            s => Ok(format!(
                "the remote-write receiver at {} answered a GET without credentials with HTTP {s} (credentials and writes are not checked)",
                self.url
            )),
        }
    }
}

/// The error for a non-2xx answer: see the module's table.
pub fn classify(url: &str, status: u16, message: &str) -> SinkError {
    let said = if message.is_empty() {
        String::from("(no message)")
    } else {
        message.replace('\n', " ")
    };
    if status == 429 || status >= 500 {
        SinkError::retryable(format!(
            "the remote-write receiver at {url} failed (HTTP {status}): {said}; retrying with back-off"
        ))
    } else {
        let hint = match status {
            401 | 403 => "check username/password or bearer_token",
            404 | 405 => "check url (Prometheus needs --web.enable-remote-write-receiver and the path /api/v1/write)",
            413 => "lower max_request_bytes",
            _ => "the receiver refused these samples (too old, out of order, or invalid); they are dropped",
        };
        SinkError::permanent(format!(
            "the remote-write receiver at {url} refused a request (HTTP {status}): {said}; {hint}"
        ))
    }
}

/// The certificates of a PEM file.
fn read_ca(path: &str) -> Result<Vec<ureq::tls::Certificate<'static>>, SinkError> {
    let pem = std::fs::read(path)
        .map_err(|e| SinkError::config(format!("[remote_write] ca_cert {path:?}: {e}")))?;
    let mut certs = Vec::new();
    for item in parse_pem(&pem) {
        match item {
            Ok(PemItem::Certificate(c)) => certs.push(c),
            Ok(_) => {}
            Err(e) => {
                return Err(SinkError::config(format!(
                    "[remote_write] ca_cert {path:?} is not a PEM file: {e}"
                )))
            }
        }
    }
    if certs.is_empty() {
        return Err(SinkError::config(format!(
            "[remote_write] ca_cert {path:?} holds no certificate"
        )));
    }
    Ok(certs)
}

#[cfg(test)]
mod tests {
    use super::*;
    use idic_plugin_api::ErrorKind;

    #[test]
    fn statuses_are_classified_as_the_protocol_says() {
        let check = |status: u16, kind: ErrorKind, text: &str| {
            let e = classify("http://r/w", status, "out of order sample\n");
            assert_eq!(e.kind, kind, "{status}");
            assert!(e.message.contains(text), "{}", e.message);
            assert!(e.message.contains("out of order sample"), "{}", e.message);
        };
        check(500, ErrorKind::Retryable, "HTTP 500");
        check(503, ErrorKind::Retryable, "retrying");
        check(429, ErrorKind::Retryable, "HTTP 429");
        check(400, ErrorKind::Permanent, "dropped");
        check(401, ErrorKind::Permanent, "bearer_token");
        check(404, ErrorKind::Permanent, "enable-remote-write-receiver");
        check(413, ErrorKind::Permanent, "max_request_bytes");
    }

    #[test]
    fn a_missing_or_empty_ca_file_is_a_config_error() {
        let e = read_ca("/nonexistent/ca.pem").unwrap_err();
        assert_eq!(e.kind, idic_plugin_api::ErrorKind::Config);
        let dir = tempfile::tempdir().unwrap();
        let f = dir.path().join("ca.pem");
        std::fs::write(&f, "not pem").unwrap();
        let e = read_ca(f.to_str().unwrap()).unwrap_err();
        assert!(e.message.contains("no certificate"), "{}", e.message);
    }
}
