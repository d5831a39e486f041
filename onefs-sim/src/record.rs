//! What tests read back: per-cluster [`Counters`] (requests per path, statuses, logins,
//! 401s, 414s, injected faults) and a bounded request log of [`LoggedRequest`]s.
//!
//! Requests to the `/sim/` control endpoint are neither counted nor logged. Secrets
//! never enter the log: `Authorization`, `Cookie` and `X-CSRF-Token` values are
//! redacted.

use std::collections::{BTreeMap, VecDeque};
use std::sync::Mutex;
use std::time::{Duration, SystemTime};

use serde_json::{json, Value};

use crate::faults::lock;

/// A snapshot of one cluster's counters.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Counters {
    /// Requests per path (target without query string), `<unparsable>` for requests
    /// that could not be parsed.
    pub requests: BTreeMap<String, u64>,
    /// Answers per HTTP status.
    pub statuses: BTreeMap<u16, u64>,
    /// Successful session logins.
    pub logins: u64,
    /// Session logins refused (wrong credentials or malformed).
    pub failed_logins: u64,
    /// Answers with status 401.
    pub unauthorized: u64,
    /// Answers with status 414.
    pub uri_too_long: u64,
    /// TCP connections accepted.
    pub connections: u64,
    /// Connections whose TLS handshake failed.
    pub tls_failures: u64,
    /// Requests whose connection was dropped by fault injection.
    pub dropped: u64,
    /// Requests answered with an injected 500/503.
    pub injected_errors: u64,
    /// Answers whose body was replaced by a malformed one.
    pub malformed: u64,
}

/// One logged request.
#[derive(Clone, Debug)]
pub struct LoggedRequest {
    /// When the request was read.
    pub at: SystemTime,
    /// HTTP method (empty when unparsable).
    pub method: String,
    /// Request target (path and query); cut at 9000 bytes.
    pub target: String,
    /// Length of the full request target in bytes.
    pub target_len: usize,
    /// Answer status; 0 when the connection was dropped without an answer.
    pub status: u16,
    /// Bytes of the answer body.
    pub response_bytes: usize,
    /// Time from reading the request to the answer being ready to send (injected
    /// latency included).
    pub elapsed: Duration,
    /// Request headers, names lower-cased, secret values redacted.
    pub headers: Vec<(String, String)>,
    /// The cluster's clock (Unix seconds, offsets included) the answer was
    /// computed at: its values and `time`s are those of this second's buckets.
    /// `None` when no answer was computed (dropped, injected error, rejected).
    pub clock: Option<i64>,
}

/// Counters and log of one cluster.
pub(crate) struct Recorder {
    inner: Mutex<Inner>,
    capacity: usize,
}

struct Inner {
    counters: Counters,
    log: VecDeque<LoggedRequest>,
}

/// Logged targets are cut at this many bytes.
const MAX_LOGGED_TARGET: usize = 9000;

impl Counters {
    /// Requests to `path` (without query string).
    pub fn requests_to(&self, path: &str) -> u64 {
        self.requests.get(path).copied().unwrap_or(0)
    }

    /// All counted requests.
    pub fn total_requests(&self) -> u64 {
        self.requests.values().sum()
    }

    /// Answers with `status`.
    pub fn status(&self, status: u16) -> u64 {
        self.statuses.get(&status).copied().unwrap_or(0)
    }

    /// The counters as the JSON of `GET /sim/counters`.
    pub fn to_json(&self) -> Value {
        let statuses: BTreeMap<String, u64> = self
            .statuses
            .iter()
            .map(|(k, v)| (k.to_string(), *v))
            .collect();
        json!({
            "requests": self.requests,
            "statuses": statuses,
            "logins": self.logins,
            "failed_logins": self.failed_logins,
            "unauthorized": self.unauthorized,
            "uri_too_long": self.uri_too_long,
            "connections": self.connections,
            "tls_failures": self.tls_failures,
            "dropped": self.dropped,
            "injected_errors": self.injected_errors,
            "malformed": self.malformed,
        })
    }
}

impl LoggedRequest {
    /// The path part of the target.
    pub fn path(&self) -> &str {
        self.target.split('?').next().unwrap_or("")
    }

    /// A header value by (case-insensitive) name.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// The entry as JSON (for `GET /sim/log`).
    pub fn to_json(&self) -> Value {
        let at = self
            .at
            .duration_since(SystemTime::UNIX_EPOCH)
            .unwrap_or_default()
            .as_secs_f64();
        let headers: BTreeMap<&str, &str> = self
            .headers
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_str()))
            .collect();
        json!({
            "at": at,
            "method": self.method,
            "target": self.target,
            "target_len": self.target_len,
            "status": self.status,
            "response_bytes": self.response_bytes,
            "elapsed_ms": self.elapsed.as_secs_f64() * 1000.0,
            "headers": headers,
            "clock": self.clock,
        })
    }

    pub(crate) fn new(method: &str, target: &str, headers: &[(String, String)]) -> LoggedRequest {
        let mut cut = target.len().min(MAX_LOGGED_TARGET);
        while !target.is_char_boundary(cut) {
            cut -= 1;
        }
        LoggedRequest {
            at: SystemTime::now(),
            method: method.to_string(),
            target: target[..cut].to_string(),
            target_len: target.len(),
            status: 0,
            response_bytes: 0,
            elapsed: Duration::ZERO,
            headers: headers
                .iter()
                .map(|(n, v)| (n.to_ascii_lowercase(), redact(n, v)))
                .collect(),
            clock: None,
        }
    }
}

impl Recorder {
    pub(crate) fn new(capacity: usize) -> Recorder {
        Recorder {
            inner: Mutex::new(Inner {
                counters: Counters::default(),
                log: VecDeque::new(),
            }),
            capacity,
        }
    }

    /// Updates counters.
    pub(crate) fn count(&self, f: impl FnOnce(&mut Counters)) {
        f(&mut lock(&self.inner).counters);
    }

    /// Counts and logs one finished request.
    pub(crate) fn record(&self, entry: LoggedRequest) {
        let mut inner = lock(&self.inner);
        let path = if entry.method.is_empty() {
            "<unparsable>".to_string()
        } else {
            entry.path().chars().take(256).collect()
        };
        *inner.counters.requests.entry(path).or_default() += 1;
        if entry.status != 0 {
            *inner.counters.statuses.entry(entry.status).or_default() += 1;
        }
        match entry.status {
            401 => inner.counters.unauthorized += 1,
            414 => inner.counters.uri_too_long += 1,
            _ => {}
        }
        if self.capacity > 0 {
            if inner.log.len() == self.capacity {
                inner.log.pop_front();
            }
            inner.log.push_back(entry);
        }
    }

    pub(crate) fn counters(&self) -> Counters {
        lock(&self.inner).counters.clone()
    }

    pub(crate) fn log(&self) -> Vec<LoggedRequest> {
        lock(&self.inner).log.iter().cloned().collect()
    }

    pub(crate) fn reset(&self) {
        let mut inner = lock(&self.inner);
        inner.counters = Counters::default();
        inner.log.clear();
    }
}

/// Hides secrets: keeps the auth scheme and cookie names only.
fn redact(name: &str, value: &str) -> String {
    match name.to_ascii_lowercase().as_str() {
        "authorization" => format!(
            "{} <redacted>",
            value.split_whitespace().next().unwrap_or("")
        ),
        "cookie" => value
            .split(';')
            .map(|c| format!("{}=<redacted>", c.split('=').next().unwrap_or("").trim()))
            .collect::<Vec<_>>()
            .join("; "),
        "x-csrf-token" => "<redacted>".to_string(),
        _ => value.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_are_redacted() {
        let headers = vec![
            (
                "Authorization".to_string(),
                "Basic c3RhdHM6czNrcmV0".to_string(),
            ),
            (
                "Cookie".to_string(),
                "isisessid=abc; isicsrf=def".to_string(),
            ),
            ("X-CSRF-Token".to_string(), "def".to_string()),
            ("User-Agent".to_string(), "idic/1.0".to_string()),
        ];
        let e = LoggedRequest::new("GET", "/platform/1/cluster/config", &headers);
        assert_eq!(e.header("authorization"), Some("Basic <redacted>"));
        assert_eq!(
            e.header("cookie"),
            Some("isisessid=<redacted>; isicsrf=<redacted>")
        );
        assert_eq!(e.header("x-csrf-token"), Some("<redacted>"));
        assert_eq!(e.header("user-agent"), Some("idic/1.0"));
    }

    #[test]
    fn log_is_bounded_and_counts_statuses() {
        let r = Recorder::new(2);
        for status in [200, 401, 414] {
            let mut e = LoggedRequest::new("GET", "/a?b=c", &[]);
            e.status = status;
            r.record(e);
        }
        let c = r.counters();
        assert_eq!(
            (c.requests_to("/a"), c.unauthorized, c.uri_too_long),
            (3, 1, 1)
        );
        assert_eq!(r.log().len(), 2);
        assert_eq!(r.log()[0].status, 401);
    }
}
