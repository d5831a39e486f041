//! [`Client`]: one cluster's Platform API session over a [`Transport`]: session
//! login with CSRF, Basic auth, logging in again before the session ends or on a
//! 401. One attempt per call: back-off and retries are the caller's.

use std::time::{Duration, Instant};

use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;
use bytes::Bytes;
use http_body_util::Full;
use hyper::Request;

use super::transport::{Failure, Response, Transport};
use super::{excerpt, Error, Target};

/// Session lifetime when the login answer does not say (OneFS' default, 4 hours).
const DEFAULT_SESSION_SECS: u64 = 14_400;

/// Logged in again this long before the session's absolute end.
const RENEW_BEFORE_END: u64 = 60;

/// A connection to one cluster, used by one task at a time.
pub struct Client {
    target: Target,
    transport: Transport,
    referer: String,
    session: Option<Session>,
    /// Successful session logins since the client was made (telemetry).
    logins: u64,
}

struct Session {
    cookie: String,
    csrf: Option<String>,
    renew_at: Instant,
}

impl Client {
    /// A client for `target` over `transport`. Does not connect.
    pub fn new(target: Target, transport: Transport) -> Client {
        Client {
            referer: format!("https://{}", transport.authority()),
            target,
            transport,
            session: None,
            logins: 0,
        }
    }

    /// Successful session logins so far (none with Basic auth).
    pub fn logins(&self) -> u64 {
        self.logins
    }

    /// Names the cluster in log lines from now on (its name once known).
    pub fn set_label(&mut self, label: &str) {
        self.target.label = label.to_string();
    }

    /// GETs `path`, logging in first or again as needed. Returns the body of a 2xx
    /// answer.
    pub async fn get(&mut self, path: &str) -> Result<Bytes, Error> {
        let mut relogged = false;
        loop {
            if !self.target.basic_auth && self.session_expired() {
                self.login().await?;
            }
            let request = self.request(path);
            let answer = self
                .transport
                .send(request)
                .await
                .map_err(|f| self.failure(f))?;
            match answer.status {
                200..=299 => return Ok(answer.body),
                401 if self.target.basic_auth => {
                    return Err(Error::Auth(format!(
                        "the cluster refused the Basic credentials of user {:?} (HTTP 401): check username and password in its [[cluster]]",
                        self.target.username
                    )));
                }
                401 if !relogged => {
                    log::debug!(
                        "cluster={} GET {path} answered 401; logging in again",
                        self.target.label
                    );
                    self.session = None;
                    relogged = true;
                }
                status => {
                    return Err(Error::Status {
                        status,
                        path: path.to_string(),
                        body: excerpt(&answer.body),
                    })
                }
            }
        }
    }

    fn request(&self, path: &str) -> Request<Full<Bytes>> {
        let mut request = Request::get(path).header(hyper::header::USER_AGENT, USER_AGENT);
        if self.target.basic_auth {
            request = request.header(
                hyper::header::AUTHORIZATION,
                basic_header(&self.target.username, &self.target.password),
            );
        } else if let Some(s) = &self.session {
            request = request.header(hyper::header::COOKIE, &s.cookie);
            if let Some(csrf) = &s.csrf {
                request = request
                    .header("X-CSRF-Token", csrf)
                    .header(hyper::header::REFERER, &self.referer);
            }
        }
        request
            .body(Full::new(Bytes::new()))
            .expect("a path and header values from the config and the cluster")
    }

    fn session_expired(&self) -> bool {
        self.session
            .as_ref()
            .is_none_or(|s| Instant::now() >= s.renew_at)
    }

    /// POST /session/1/session; keeps the cookies and the CSRF token.
    async fn login(&mut self) -> Result<(), Error> {
        let body = serde_json::json!({
            "username": self.target.username,
            "password": self.target.password,
            "services": ["platform"],
        })
        .to_string();
        let request = Request::post("/session/1/session")
            .header(hyper::header::USER_AGENT, USER_AGENT)
            .header(hyper::header::CONTENT_TYPE, "application/json")
            .body(Full::new(Bytes::from(body)))
            .expect("a fixed path and headers");
        let answer = self
            .transport
            .send(request)
            .await
            .map_err(|f| self.failure(f))?;
        match answer.status {
            200 | 201 => {}
            401 | 403 => {
                return Err(Error::Auth(format!(
                    "the cluster refused the login of user {:?} (HTTP {}): check username and password in its [[cluster]]",
                    self.target.username, answer.status
                )))
            }
            status => {
                return Err(Error::Status {
                    status,
                    path: "/session/1/session".to_string(),
                    body: excerpt(&answer.body),
                })
            }
        }
        self.session = Some(session_of(&answer)?);
        self.logins += 1;
        log::debug!(
            "cluster={} logged in as {:?}",
            self.target.label,
            self.target.username
        );
        Ok(())
    }

    /// An operator's message for a failed exchange.
    fn failure(&self, failure: Failure) -> Error {
        match failure {
            Failure::Connection(why) => Error::Unreachable(why),
            Failure::Certificate(why) => Error::Tls(format!(
                "the certificate of {} could not be verified ({why}): set ca_cert in its [[cluster]] to the cluster's CA certificate (PEM), or, not recommended, verify-ssl = false",
                self.target.label
            )),
            Failure::TooLarge => Error::Malformed(format!(
                "the answer is larger than {} bytes",
                super::MAX_BODY
            )),
        }
    }
}

/// The `User-Agent` of every request.
const USER_AGENT: &str = concat!("idic/", env!("CARGO_PKG_VERSION"));

/// The session a login answer sets up: `isisessid` (required), `isicsrf`, and
/// when to log in again.
fn session_of(answer: &Response) -> Result<Session, Error> {
    let mut sessid = None;
    let mut csrf = None;
    for value in answer.headers.get_all(hyper::header::SET_COOKIE) {
        let Ok(v) = value.to_str() else { continue };
        let pair = v.split(';').next().unwrap_or_default().trim();
        if let Some(id) = pair.strip_prefix("isisessid=") {
            sessid = Some(id.to_string());
        } else if let Some(token) = pair.strip_prefix("isicsrf=") {
            csrf = Some(token.to_string());
        }
    }
    let Some(sessid) = sessid else {
        return Err(Error::Malformed(
            "session login succeeded but set no isisessid cookie".to_string(),
        ));
    };
    let timeout = serde_json::from_slice::<serde_json::Value>(&answer.body)
        .ok()
        .and_then(|v| v["timeout_absolute"].as_u64())
        .unwrap_or(DEFAULT_SESSION_SECS);
    let mut cookie = format!("isisessid={sessid}");
    if let Some(c) = &csrf {
        cookie.push_str(&format!("; isicsrf={c}"));
    }
    let lifetime = timeout
        .saturating_sub(RENEW_BEFORE_END)
        .clamp(1, 365 * 86_400);
    Ok(Session {
        cookie,
        csrf,
        renew_at: Instant::now() + Duration::from_secs(lifetime),
    })
}

fn basic_header(user: &str, password: &str) -> String {
    format!("Basic {}", STANDARD.encode(format!("{user}:{password}")))
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

    fn login_answer(cookies: &[&str], body: &str) -> Response {
        let mut headers = hyper::HeaderMap::new();
        for c in cookies {
            headers.append(hyper::header::SET_COOKIE, c.parse().unwrap());
        }
        Response {
            status: 201,
            headers,
            body: Bytes::from(body.to_string()),
        }
    }

    #[test]
    fn a_login_keeps_the_session_and_csrf_cookies() {
        let s = session_of(&login_answer(
            &["isisessid=abc; Path=/; HttpOnly", "isicsrf=tok; Path=/"],
            r#"{"timeout_absolute": 600}"#,
        ))
        .unwrap();
        assert_eq!(s.cookie, "isisessid=abc; isicsrf=tok");
        assert_eq!(s.csrf.as_deref(), Some("tok"));
        let left = s.renew_at - Instant::now();
        assert!(left <= Duration::from_secs(540) && left > Duration::from_secs(500));
    }

    #[test]
    fn a_login_without_a_session_cookie_is_malformed() {
        let e = session_of(&login_answer(&["other=1"], "{}")).err().unwrap();
        assert!(matches!(e, Error::Malformed(_)));
    }

    #[test]
    fn an_absurd_session_lifetime_does_not_overflow() {
        let s = session_of(&login_answer(
            &["isisessid=abc"],
            r#"{"timeout_absolute": 18446744073709551615}"#,
        ))
        .unwrap();
        assert!(s.renew_at > Instant::now());
    }
}
