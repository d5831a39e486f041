//! Talking to one OneFS cluster over the Platform API: authentication (session
//! with CSRF, or Basic), cluster identity, statistics metadata and values.
//!
//! Async on the host's runtime (hyper over tokio-rustls, `transport.rs`): a
//! request holds no thread while it waits, so a cluster that never answers costs
//! a socket and a timer. Every exchange has connect and overall timeouts and a
//! response-size limit. Each call makes one attempt; back-off and retries belong
//! to the caller (the cluster task).

mod client;
mod split;
mod tls;
mod transport;

use bytes::Bytes;
use serde_json::Value;

pub use client::Client;
pub use split::split_keys;
pub use tls::TlsConfigs;
pub use transport::{Endpoint, Transport};

/// Who the client is toward one cluster (where it is: [`Endpoint`]).
#[derive(Debug, Clone)]
pub struct Target {
    /// User name.
    pub username: String,
    /// Resolved password (never logged).
    pub password: String,
    /// Session or Basic authentication.
    pub basic_auth: bool,
    /// A label for messages: the configured host name and port, then the
    /// cluster's name once known.
    pub label: String,
}

/// What `/platform/1/cluster/config` says about the cluster.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Identity {
    /// The cluster's name as the cluster spells it.
    pub name: String,
    /// The OneFS release, e.g. `9.11.0.0`.
    pub version: String,
    /// The cluster's GUID (empty when it gave none): what backfill's state is
    /// kept by, since names and addresses change.
    pub guid: String,
}

/// What `/platform/1/statistics/keys/<key>` says about one key.
#[derive(Debug, Clone, PartialEq)]
pub struct KeyMeta {
    /// The key.
    pub key: String,
    /// Description (may be empty).
    pub description: String,
    /// Units (may be empty).
    pub units: String,
    /// The key's update interval: the `interval` of the first non-persistent
    /// policy; 0 = none ("use the minimum interval").
    pub interval: u64,
    /// The cluster keeps a history of the key (it has policies): backfill can
    /// ask `/statistics/history` for it.
    pub has_history: bool,
}

/// Why a request failed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Error {
    /// The cluster could not be reached (after the configured retries).
    Unreachable(String),
    /// The credentials were refused; an operator must fix the config.
    Auth(String),
    /// The certificate could not be verified; says which setting fixes it.
    Tls(String),
    /// The cluster answered with an unexpected HTTP status.
    Status {
        /// HTTP status code.
        status: u16,
        /// The request path (no secrets in it).
        path: String,
        /// The start of the answer body.
        body: String,
    },
    /// The answer was not the JSON expected (truncated, HTML, too large).
    Malformed(String),
}

/// The longest request target OneFS accepts is 8198 bytes; idic stays below it.
pub const MAX_TARGET_LEN: usize = 8000;

/// The largest answer accepted, in bytes.
pub const MAX_BODY: u64 = 64 * 1024 * 1024;

impl std::fmt::Display for Error {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Error::Unreachable(m) | Error::Auth(m) | Error::Tls(m) | Error::Malformed(m) => {
                f.write_str(m)
            }
            Error::Status { status, path, body } => {
                write!(f, "GET {path} answered HTTP {status}")?;
                if !body.is_empty() {
                    write!(f, ": {body}")?;
                }
                Ok(())
            }
        }
    }
}

impl std::error::Error for Error {}

impl Error {
    /// The cluster could not be reached at all: every timer of the cluster waits
    /// for the back-off, not only the one that failed.
    pub fn is_connection(&self) -> bool {
        matches!(self, Error::Unreachable(_))
    }

    /// An operator must change something (credentials, certificate settings):
    /// retrying sooner than the back-off's cap helps nobody.
    pub fn is_config(&self) -> bool {
        matches!(self, Error::Auth(_) | Error::Tls(_))
    }
}

impl Client {
    /// GETs `path` and parses the answer as JSON.
    pub async fn get_json(&mut self, path: &str) -> Result<Value, Error> {
        let body = self.get(path).await?;
        parse_json(path, &body)
    }

    /// Reads the cluster's name and OneFS version.
    pub async fn identity(&mut self) -> Result<Identity, Error> {
        let v = self.get_json("/platform/1/cluster/config").await?;
        let name = v["name"].as_str().unwrap_or_default().to_string();
        if name.is_empty() {
            return Err(Error::Malformed(
                "/platform/1/cluster/config has no cluster name".to_string(),
            ));
        }
        let version = v["onefs_version"]["version"]
            .as_str()
            .or_else(|| v["onefs_version"]["release"].as_str())
            .unwrap_or("unknown")
            .to_string();
        let guid = v["guid"].as_str().unwrap_or_default().to_string();
        Ok(Identity {
            name,
            version,
            guid,
        })
    }

    /// Reads one key's metadata. `Ok(None)` when the cluster does not know the key.
    pub async fn key_meta(&mut self, key: &str) -> Result<Option<KeyMeta>, Error> {
        let path = format!("/platform/1/statistics/keys/{key}");
        let v = match self.get_json(&path).await {
            Ok(v) => v,
            Err(Error::Status { status: 404, .. }) => return Ok(None),
            Err(e) => return Err(e),
        };
        Ok(parse_key_meta(key, &v))
    }

    /// Fetches current values of `keys`, split into as many requests as needed.
    /// The answers are returned unparsed (see [`Answer::json`]), so that the
    /// caller can bound how many are parsed at once.
    pub async fn current(&mut self, keys: &[String]) -> Result<Vec<Answer>, Error> {
        let mut answers = Vec::new();
        for target in split_keys(
            "/platform/1/statistics/current?degraded=true&devid=all&show_nodes=true",
            keys,
            MAX_TARGET_LEN,
        ) {
            let body = self.get(&target).await?;
            answers.push(Answer { path: target, body });
        }
        Ok(answers)
    }

    /// Fetches a summary endpoint (`/platform/3/statistics/summary/...`), unparsed.
    pub async fn summary(&mut self, path: &str) -> Result<Answer, Error> {
        let body = self.get(path).await?;
        Ok(Answer {
            path: path.to_string(),
            body,
        })
    }
}

/// An unparsed 2xx answer.
#[derive(Debug, Clone)]
pub struct Answer {
    /// The request target (no secrets in it).
    pub path: String,
    /// The body.
    pub body: Bytes,
}

/// Parses the body of `GET path` as JSON.
pub fn parse_json(path: &str, body: &[u8]) -> Result<Value, Error> {
    serde_json::from_slice(body).map_err(|e| not_json(path, body, e))
}

/// The error for a body of `GET path` that is not JSON: the parser's words
/// (`why`) and how the body starts.
pub fn not_json(path: &str, body: &[u8], why: impl std::fmt::Display) -> Error {
    Error::Malformed(format!(
        "GET {path}: the answer is not valid JSON ({why}); it starts with {:?}",
        excerpt(body)
    ))
}

/// The first 200 characters of a body, on one line, for messages.
fn excerpt(body: &[u8]) -> String {
    let head = &body[..body.len().min(800)];
    let text = String::from_utf8_lossy(head);
    let mut s: String = text.chars().take(200).collect();
    if text.chars().count() > 200 || head.len() < body.len() {
        s.push('…');
    }
    s.replace(['\n', '\r'], " ")
}

/// Reads a `/statistics/keys/<key>` answer.
pub fn parse_key_meta(key: &str, v: &Value) -> Option<KeyMeta> {
    let entry = v["keys"].as_array()?.first()?;
    let interval = entry["policies"]
        .as_array()
        .and_then(|ps| ps.iter().find(|p| p["persistent"] == Value::Bool(false)))
        .and_then(|p| p["interval"].as_u64())
        .unwrap_or(0);
    Some(KeyMeta {
        key: key.to_string(),
        description: entry["description"]
            .as_str()
            .unwrap_or_default()
            .to_string(),
        units: entry["units"].as_str().unwrap_or_default().to_string(),
        interval,
        has_history: entry["policies"]
            .as_array()
            .is_some_and(|ps| ps.iter().any(|p| p["interval"].as_u64().unwrap_or(0) > 0)),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn key_interval_is_the_first_non_persistent_policy() {
        let v = serde_json::json!({"keys": [{"key": "k", "description": "d", "units": "percent",
            "policies": [{"interval": 120, "persistent": true, "retention": 1},
                         {"interval": 10, "persistent": false, "retention": 1},
                         {"interval": 5, "persistent": false, "retention": 1}]}]});
        let m = parse_key_meta("k", &v).unwrap();
        assert_eq!(m.interval, 10);
        assert_eq!(m.units, "percent");
    }

    #[test]
    fn excerpt_is_short_and_single_line() {
        let long = "<html>\n".repeat(100);
        let e = excerpt(long.as_bytes());
        assert!(e.chars().count() <= 201);
        assert!(!e.contains('\n'));
    }

    #[test]
    fn key_without_policies_has_no_interval() {
        let v = serde_json::json!({"keys": [{"key": "k", "description": "", "policies": null}]});
        assert_eq!(parse_key_meta("k", &v).unwrap().interval, 0);
        assert!(!parse_key_meta("k", &v).unwrap().has_history);
    }
}
