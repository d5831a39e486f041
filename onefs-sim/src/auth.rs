//! Authentication as OneFS does it: session login at `/session/1/session` (201, cookies
//! `isisessid` and `isicsrf`, `timeout_absolute` in the body), CSRF token and Referer
//! checks on later requests, session expiry (absolute and inactivity), HTTP Basic auth,
//! and 401 for anything else.
//!
//! Session ids and CSRF tokens are unpredictable enough for a simulator (SipHash with
//! a random key over a counter and the clock), not for production.

use std::collections::hash_map::RandomState;
use std::collections::HashMap;
use std::hash::BuildHasher;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;
use std::time::{Instant, SystemTime};

use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;
use serde_json::{json, Value};

use crate::faults::lock;
use crate::http::Request;
use crate::response::Response;
use crate::state::{ClusterState, SimShared};

/// The session store of one cluster.
pub(crate) struct Sessions {
    map: Mutex<HashMap<String, Session>>,
    counter: AtomicU64,
    keys: RandomState,
}

struct Session {
    user: String,
    csrf: Option<String>,
    created: Instant,
    last_used: Instant,
}

/// Sessions kept per cluster before expired ones are swept at login.
const SWEEP_AT: usize = 1024;

impl Sessions {
    pub(crate) fn new() -> Sessions {
        Sessions {
            map: Mutex::new(HashMap::new()),
            counter: AtomicU64::new(0),
            keys: RandomState::new(),
        }
    }

    /// Ends every session.
    pub(crate) fn clear(&self) {
        lock(&self.map).clear();
    }

    /// Number of live (not yet swept) sessions.
    pub(crate) fn len(&self) -> usize {
        lock(&self.map).len()
    }

    fn token(&self) -> String {
        let n = self.counter.fetch_add(1, Ordering::Relaxed);
        let nanos = SystemTime::now()
            .duration_since(SystemTime::UNIX_EPOCH)
            .map(|d| d.as_nanos())
            .unwrap_or(0);
        let a = self.keys.hash_one((n, nanos, 1u8));
        let b = self.keys.hash_one((n, nanos, 2u8));
        format!("{a:016x}{b:016x}")
    }
}

/// `/session/1/session`: POST logs in, GET describes the session, DELETE logs out.
pub(crate) fn session_endpoint(sim: &SimShared, cluster: &ClusterState, req: &Request) -> Response {
    match req.method.as_str() {
        "POST" => login(sim, cluster, req),
        "GET" | "HEAD" => match session_of(sim, cluster, req) {
            Some(user) => Response::json(200, &session_body(sim, &user)),
            None => unauthorized("Authorization required"),
        },
        "DELETE" => {
            if let Some(id) = cookie(req, "isisessid") {
                lock(&cluster.sessions.map).remove(&id);
            }
            Response::empty(204)
        }
        _ => Response::errors(405, "AEC_METHOD_NOT_ALLOWED", "Method not allowed")
            .with_header("Allow", "GET, POST, DELETE"),
    }
}

/// Checks a `/platform` request: a valid session (with CSRF token and Referer when the
/// session has one) or valid Basic credentials. Returns the user or the 401 answer.
pub(crate) fn authenticate(
    sim: &SimShared,
    cluster: &ClusterState,
    req: &Request,
) -> Result<String, Response> {
    let mut failure = "Authorization required";
    if let Some(id) = cookie(req, "isisessid") {
        match check_session(sim, cluster, req, &id) {
            Ok(user) => return Ok(user),
            Err(why) => failure = why,
        }
    }
    if let Some(auth) = req.header("authorization") {
        return match basic_credentials(auth) {
            Some((user, pass)) if valid_user(sim, &user, &pass) => Ok(user),
            _ => Err(unauthorized("Authorization required")),
        };
    }
    Err(unauthorized(failure))
}

fn login(sim: &SimShared, cluster: &ClusterState, req: &Request) -> Response {
    let body: Value = match serde_json::from_slice(&req.body) {
        Ok(v) => v,
        Err(e) => {
            cluster.recorder.count(|c| c.failed_logins += 1);
            return Response::errors(
                400,
                "AEC_BAD_REQUEST",
                &format!("Unable to parse the request body as JSON: {e}"),
            );
        }
    };
    let (Some(user), Some(pass)) = (body["username"].as_str(), body["password"].as_str()) else {
        cluster.recorder.count(|c| c.failed_logins += 1);
        return Response::errors(
            400,
            "AEC_BAD_REQUEST",
            "Field: username and password are required",
        );
    };
    if !valid_user(sim, user, pass) {
        cluster.recorder.count(|c| c.failed_logins += 1);
        return unauthorized("Username or password is incorrect.");
    }
    let sessions = &cluster.sessions;
    let id = sessions.token();
    let csrf = cluster.spec.csrf.then(|| sessions.token());
    let now = Instant::now();
    {
        let mut map = lock(&sessions.map);
        if map.len() >= SWEEP_AT {
            map.retain(|_, s| !expired(sim, s, now));
        }
        map.insert(
            id.clone(),
            Session {
                user: user.to_string(),
                csrf: csrf.clone(),
                created: now,
                last_used: now,
            },
        );
    }
    cluster.recorder.count(|c| c.logins += 1);
    let secure = if sim.https { "; Secure" } else { "" };
    let mut response = Response::json(201, &session_body(sim, user)).with_header(
        "Set-Cookie",
        format!("isisessid={id}; path=/; HttpOnly{secure}"),
    );
    if let Some(token) = csrf {
        response = response.with_header("Set-Cookie", format!("isicsrf={token}; path=/{secure}"));
    }
    response
}

fn session_body(sim: &SimShared, user: &str) -> Value {
    json!({
        "services": ["platform", "namespace"],
        "timeout_absolute": sim.session_timeout.as_secs(),
        "timeout_inactive": sim.session_idle_timeout.as_secs(),
        "username": user,
    })
}

/// The user of a valid session cookie (no CSRF check: for `GET /session/1/session`).
fn session_of(sim: &SimShared, cluster: &ClusterState, req: &Request) -> Option<String> {
    let id = cookie(req, "isisessid")?;
    let mut map = lock(&cluster.sessions.map);
    let now = Instant::now();
    let session = map.get_mut(&id)?;
    if expired(sim, session, now) {
        map.remove(&id);
        return None;
    }
    session.last_used = now;
    Some(session.user.clone())
}

fn check_session(
    sim: &SimShared,
    cluster: &ClusterState,
    req: &Request,
    id: &str,
) -> Result<String, &'static str> {
    let now = Instant::now();
    let mut map = lock(&cluster.sessions.map);
    let Some(session) = map.get_mut(id) else {
        return Err("Authorization required");
    };
    if expired(sim, session, now) {
        map.remove(id);
        return Err("Authorization required");
    }
    if let Some(csrf) = &session.csrf {
        if req.header("x-csrf-token") != Some(csrf.as_str()) {
            return Err("CSRF token missing or invalid");
        }
        if !referer_matches(req) {
            return Err("Referer header missing or not matching the cluster");
        }
    }
    session.last_used = now;
    Ok(session.user.clone())
}

fn expired(sim: &SimShared, s: &Session, now: Instant) -> bool {
    now.duration_since(s.created) >= sim.session_timeout
        || now.duration_since(s.last_used) >= sim.session_idle_timeout
}

/// A Referer is required; when the request names its Host, the Referer's authority
/// must be that host (and port).
fn referer_matches(req: &Request) -> bool {
    let Some(referer) = req
        .header("referer")
        .map(str::trim)
        .filter(|r| !r.is_empty())
    else {
        return false;
    };
    let Some(host) = req.header("host") else {
        return true;
    };
    let rest = referer.split_once("://").map_or(referer, |(_, r)| r);
    let authority = rest.split(['/', '?', '#']).next().unwrap_or("");
    authority.eq_ignore_ascii_case(host.trim())
}

fn valid_user(sim: &SimShared, user: &str, pass: &str) -> bool {
    sim.users.iter().any(|(u, p)| u == user && p == pass)
}

/// The value of a cookie from the `Cookie` headers.
fn cookie(req: &Request, name: &str) -> Option<String> {
    req.headers_named("cookie")
        .flat_map(|h| h.split(';'))
        .filter_map(|c| c.trim().split_once('='))
        .find(|(n, _)| *n == name)
        .map(|(_, v)| v.trim_matches('"').to_string())
}

/// User and password from a `Basic` authorization header.
fn basic_credentials(header: &str) -> Option<(String, String)> {
    let (scheme, encoded) = header.trim().split_once(' ')?;
    if !scheme.eq_ignore_ascii_case("basic") {
        return None;
    }
    let decoded = String::from_utf8(STANDARD.decode(encoded.trim()).ok()?).ok()?;
    let (user, pass) = decoded.split_once(':')?;
    Some((user.to_string(), pass.to_string()))
}

fn unauthorized(message: &str) -> Response {
    Response::errors(401, "AEC_UNAUTHORIZED", message)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decodes_basic_credentials() {
        assert_eq!(
            basic_credentials("Basic c3RhdHNyZWFkZXI6czNrcmV0"),
            Some(("statsreader".into(), "s3kret".into()))
        );
        assert_eq!(
            basic_credentials("basic YTpi"),
            Some(("a".into(), "b".into()))
        );
        assert_eq!(basic_credentials("Bearer abc"), None);
        assert_eq!(basic_credentials("Basic !!!"), None);
    }

    #[test]
    fn tokens_differ() {
        let s = Sessions::new();
        let (a, b) = (s.token(), s.token());
        assert_ne!(a, b);
        assert_eq!(a.len(), 32);
    }
}
