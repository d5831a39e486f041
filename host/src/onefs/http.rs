//! The HTTP side of [`Client`]: the ureq agent with its TLS settings, session login
//! with CSRF, Basic auth, re-login on 401, connection retries with back-off.

use std::time::{Duration, Instant};

use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;
use serde_json::Value;
use ureq::tls::{Certificate, RootCerts, TlsConfig};

use super::{Error, Stop, Target, MAX_BODY};

/// The longest back-off between connection retries (30 minutes).
const MAX_BACKOFF: Duration = Duration::from_secs(30 * 60);

/// Session lifetime when the login answer does not say (OneFS' default, 4 hours).
const DEFAULT_SESSION_SECS: u64 = 14_400;

/// A connection to one cluster. Not shared between threads: one per cluster.
pub struct Client {
    target: Target,
    agent: ureq::Agent,
    base: String,
    session: Option<Session>,
    stop: Stop,
}

struct Session {
    cookie: String,
    csrf: Option<String>,
    renew_at: Instant,
}

/// A failure below HTTP: worth retrying, or not.
enum Failure {
    Retry(String),
    Fatal(Error),
}

impl Client {
    /// Prepares a client; reads `ca_cert` if set. Does not connect.
    pub fn new(target: Target, stop: Stop) -> Result<Client, Error> {
        let mut tls = TlsConfig::builder().disable_verification(!target.verify_tls);
        if let Some(path) = &target.ca_cert {
            let pem = std::fs::read(path)
                .map_err(|e| Error::Tls(format!("cannot read ca_cert {}: {e}", path.display())))?;
            let certs: Vec<Certificate<'static>> = ureq::tls::parse_pem(&pem)
                .filter_map(|item| match item {
                    Ok(ureq::tls::PemItem::Certificate(c)) => Some(c),
                    _ => None,
                })
                .collect();
            if certs.is_empty() {
                return Err(Error::Tls(format!(
                    "ca_cert {} holds no PEM certificate",
                    path.display()
                )));
            }
            tls = tls.root_certs(RootCerts::new_with_certs(&certs));
        }
        let config = ureq::Agent::config_builder()
            .tls_config(tls.build())
            .http_status_as_error(false)
            .timeout_connect(Some(target.connect_timeout))
            .timeout_global(Some(target.request_timeout))
            .user_agent(concat!("idic/", env!("CARGO_PKG_VERSION")))
            .max_redirects(0)
            // Requests are small GETs; answers are read whole. ureq's 128 KiB
            // defaults cost 256 KiB per cluster for nothing.
            .input_buffer_size(32 * 1024)
            .output_buffer_size(16 * 1024)
            .build();
        let host = if target.host.contains(':') {
            format!("[{}]", target.host)
        } else {
            target.host.clone()
        };
        Ok(Client {
            base: format!("https://{host}:{}", target.port),
            agent: config.into(),
            target,
            session: None,
            stop,
        })
    }

    /// Names the cluster in log lines from now on (its name once known).
    pub fn set_label(&mut self, label: &str) {
        self.target.label = label.to_string();
    }

    /// GETs `path` and parses the answer as JSON.
    pub fn get_json(&mut self, path: &str) -> Result<Value, Error> {
        let body = self.get(path)?;
        parse_json(path, &body)
    }

    /// GETs `path`, logging in first or again as needed, retrying connection
    /// failures with back-off. Returns the body of a 2xx answer.
    pub fn get(&mut self, path: &str) -> Result<String, Error> {
        let mut relogged = false;
        let mut attempt: u32 = 0;
        loop {
            if !self.target.basic_auth && self.session_expired() {
                self.login_with_retries()?;
            }
            let result = self.send_get(path);
            match result {
                Ok((status, body)) if (200..300).contains(&status) => return Ok(body),
                Ok((401, _)) if self.target.basic_auth => {
                    return Err(Error::Auth(format!(
                        "the cluster refused the Basic credentials of user {:?} (HTTP 401): check username and password in its [[cluster]]",
                        self.target.username
                    )));
                }
                Ok((401, _)) if !relogged => {
                    log::debug!(
                        "cluster={} GET {path} answered 401; logging in again",
                        self.target.label
                    );
                    self.session = None;
                    relogged = true;
                }
                Ok((status, body)) => {
                    return Err(Error::Status {
                        status,
                        path: path.to_string(),
                        body: excerpt(&body),
                    })
                }
                Err(Failure::Fatal(e)) => return Err(e),
                Err(Failure::Retry(why)) => {
                    attempt += 1;
                    self.back_off(attempt, &format!("GET {path}: {why}"))?;
                }
            }
        }
    }

    fn session_expired(&self) -> bool {
        self.session
            .as_ref()
            .is_none_or(|s| Instant::now() >= s.renew_at)
    }

    /// Sleeps before retry `attempt`, or fails when retries are exhausted.
    fn back_off(&mut self, attempt: u32, what: &str) -> Result<(), Error> {
        let max = self.target.max_retries;
        if max > 0 && i64::from(attempt) > max {
            return Err(Error::Unreachable(format!(
                "{what} (gave up after {max} retries)"
            )));
        }
        let wait = Duration::from_secs(1u64 << (attempt - 1).min(11)).min(MAX_BACKOFF);
        log::warn!(
            "cluster={} {what}; retry {attempt} in {} s",
            self.target.label,
            wait.as_secs()
        );
        if self.stop.sleep(wait) {
            return Err(Error::Stopped);
        }
        Ok(())
    }

    fn send_get(&mut self, path: &str) -> Result<(u16, String), Failure> {
        let url = format!("{}{path}", self.base);
        let mut req = self.agent.get(&url);
        if self.target.basic_auth {
            req = req.header(
                "Authorization",
                basic_header(&self.target.username, &self.target.password),
            );
        } else if let Some(s) = &self.session {
            req = req.header("Cookie", &s.cookie);
            if let Some(csrf) = &s.csrf {
                req = req
                    .header("X-CSRF-Token", csrf)
                    .header("Referer", &self.base);
            }
        }
        let mut resp = req.call().map_err(|e| classify(e, &self.target))?;
        let status = resp.status().as_u16();
        let body = resp
            .body_mut()
            .with_config()
            .limit(MAX_BODY)
            .read_to_string()
            .map_err(|e| match classify(e, &self.target) {
                Failure::Retry(why) => Failure::Retry(format!("reading the answer: {why}")),
                fatal => fatal,
            })?;
        Ok((status, body))
    }

    fn login_with_retries(&mut self) -> Result<(), Error> {
        let mut attempt = 0;
        loop {
            match self.login() {
                Ok(()) => return Ok(()),
                Err(Failure::Fatal(e)) => return Err(e),
                Err(Failure::Retry(why)) => {
                    attempt += 1;
                    self.back_off(attempt, &format!("session login: {why}"))?;
                }
            }
        }
    }

    /// POST /session/1/session; keeps the cookies and the CSRF token.
    fn login(&mut self) -> Result<(), Failure> {
        let url = format!("{}/session/1/session", self.base);
        let body = serde_json::json!({
            "username": self.target.username,
            "password": self.target.password,
            "services": ["platform"],
        })
        .to_string();
        let mut resp = self
            .agent
            .post(&url)
            .header("Content-Type", "application/json")
            .send(body.as_bytes())
            .map_err(|e| classify(e, &self.target))?;
        let status = resp.status().as_u16();
        let mut sessid = None;
        let mut csrf = None;
        for value in resp.headers().get_all("set-cookie") {
            let Ok(v) = value.to_str() else { continue };
            let pair = v.split(';').next().unwrap_or_default().trim();
            if let Some(id) = pair.strip_prefix("isisessid=") {
                sessid = Some(id.to_string());
            } else if let Some(token) = pair.strip_prefix("isicsrf=") {
                csrf = Some(token.to_string());
            }
        }
        let text = resp
            .body_mut()
            .with_config()
            .limit(1024 * 1024)
            .read_to_string()
            .unwrap_or_default();
        match status {
            201 | 200 => {}
            401 | 403 => {
                return Err(Failure::Fatal(Error::Auth(format!(
                    "the cluster refused the login of user {:?} (HTTP {status}): check username and password in its [[cluster]]",
                    self.target.username
                ))))
            }
            s if s >= 500 => return Err(Failure::Retry(format!("session login answered HTTP {s}"))),
            s => {
                return Err(Failure::Fatal(Error::Status {
                    status: s,
                    path: "/session/1/session".to_string(),
                    body: excerpt(&text),
                }))
            }
        }
        let Some(sessid) = sessid else {
            return Err(Failure::Fatal(Error::Malformed(
                "session login succeeded but set no isisessid cookie".to_string(),
            )));
        };
        let timeout = serde_json::from_str::<Value>(&text)
            .ok()
            .and_then(|v| v["timeout_absolute"].as_u64())
            .unwrap_or(DEFAULT_SESSION_SECS);
        let mut cookie = format!("isisessid={sessid}");
        if let Some(c) = &csrf {
            cookie.push_str(&format!("; isicsrf={c}"));
        }
        log::debug!(
            "cluster={} logged in as {:?}; session valid {timeout} s",
            self.target.label,
            self.target.username
        );
        self.session = Some(Session {
            cookie,
            csrf,
            renew_at: Instant::now() + Duration::from_secs(timeout.saturating_sub(60).max(1)),
        });
        Ok(())
    }
}

/// Parses the body of `GET path` as JSON.
pub fn parse_json(path: &str, body: &str) -> Result<Value, Error> {
    serde_json::from_str(body).map_err(|e| {
        Error::Malformed(format!(
            "GET {path}: the answer is not valid JSON ({e}); it starts with {:?}",
            excerpt(body)
        ))
    })
}

/// Sorts a ureq error into retry-worthy or not, with an operator's message.
fn classify(e: ureq::Error, target: &Target) -> Failure {
    let text = e.to_string();
    match e {
        ureq::Error::BodyExceedsLimit(limit) => Failure::Fatal(Error::Malformed(format!(
            "the answer is larger than {limit} bytes"
        ))),
        _ if is_certificate_problem(&text) => Failure::Fatal(Error::Tls(format!(
            "the certificate of {} could not be verified ({text}): set ca_cert in its [[cluster]] to the cluster's CA certificate (PEM), or, not recommended, verify-ssl = false",
            target.label
        ))),
        ureq::Error::BadUri(_) | ureq::Error::Http(_) => Failure::Fatal(Error::Unreachable(text)),
        _ => Failure::Retry(text),
    }
}

fn is_certificate_problem(text: &str) -> bool {
    let t = text.to_ascii_lowercase();
    t.contains("certificate") || t.contains("unknownissuer") || t.contains("notvalidforname")
}

fn basic_header(user: &str, password: &str) -> String {
    format!("Basic {}", STANDARD.encode(format!("{user}:{password}")))
}

/// The first 200 characters of a body, for messages.
fn excerpt(body: &str) -> String {
    let mut s: String = body.chars().take(200).collect();
    if body.chars().count() > 200 {
        s.push('…');
    }
    s.replace(['\n', '\r'], " ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn basic_header_encodes_user_and_password() {
        assert_eq!(
            basic_header("statsreader", "s3kret"),
            "Basic c3RhdHNyZWFkZXI6czNrcmV0"
        );
    }

    #[test]
    fn excerpt_is_short_and_single_line() {
        let long = "<html>\n".repeat(100);
        let e = excerpt(&long);
        assert!(e.chars().count() <= 201);
        assert!(!e.contains('\n'));
    }
}
