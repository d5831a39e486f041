//! The telemetry listener (`[telemetry] listen`): one tiny_http server on one
//! thread, for a scraper and a probe or two, never on the collection runtime.
//!
//! - `GET /metrics`: the text exposition of [`global`]'s registry; behind
//!   Basic auth when `username` and `password` are set.
//! - `GET /health`: 200 while the process serves at all (liveness).
//! - `GET /ready`: 200 once the config and the plugins are loaded and at least
//!   one cluster is connected, else 503 saying what is missing. Both probes
//!   answer without credentials (they disclose nothing and load balancers and
//!   container runtimes rarely send any).

use std::io;
use std::sync::Arc;
use std::thread::JoinHandle;

use base64::Engine as _;
use tiny_http::{Header, Request, Response, Server};

use super::metrics::global;

/// A running listener; dropping it stops it.
pub struct Listener {
    server: Arc<Server>,
    thread: Option<JoinHandle<()>>,
    /// The bound address (the port the OS chose for `:0`).
    pub addr: String,
}

/// Serves on `addr` (`HOST:PORT`); `auth` is the Basic-auth user and password
/// `/metrics` requires.
pub fn serve(addr: &str, auth: Option<(String, String)>) -> io::Result<Listener> {
    let server = Server::http(addr).map_err(|e| {
        io::Error::other(format!(
            "[telemetry] listen = {addr:?}: cannot listen there: {e}; choose a free port or an address of this host"
        ))
    })?;
    let bound = server
        .server_addr()
        .to_ip()
        .map_or_else(|| addr.to_string(), |a| a.to_string());
    let server = Arc::new(server);
    let expected = auth.map(|(u, p)| {
        format!(
            "Basic {}",
            base64::engine::general_purpose::STANDARD.encode(format!("{u}:{p}"))
        )
    });
    let s = Arc::clone(&server);
    let thread = std::thread::Builder::new()
        .name("idic-telemetry".into())
        .spawn(move || {
            for request in s.incoming_requests() {
                answer(request, expected.as_deref());
            }
        })?;
    log::info!("telemetry: serving /metrics, /health and /ready on http://{bound}");
    Ok(Listener {
        server,
        thread: Some(thread),
        addr: bound,
    })
}

impl Drop for Listener {
    fn drop(&mut self) {
        self.server.unblock();
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

fn header(name: &str, value: &str) -> Header {
    Header::from_bytes(name.as_bytes(), value.as_bytes()).expect("a valid header")
}

fn answer(request: Request, expected_auth: Option<&str>) {
    let path = request.url().split('?').next().unwrap_or("").to_string();
    let text = |status: u16, body: String| {
        Response::from_string(body)
            .with_status_code(status)
            .with_header(header("Content-Type", "text/plain; charset=utf-8"))
    };
    let response = match path.as_str() {
        "/health" => text(200, "ok\n".into()),
        "/ready" => match global().readiness.missing() {
            None => text(200, "ready\n".into()),
            Some(why) => text(503, format!("not ready: {why}\n")),
        },
        "/metrics" => {
            let given = request
                .headers()
                .iter()
                .find(|h| h.field.equiv("Authorization"))
                .map(|h| h.value.as_str());
            match expected_auth {
                Some(want) if given != Some(want) => text(401, "authentication required\n".into())
                    .with_header(header("WWW-Authenticate", "Basic realm=\"idic telemetry\"")),
                _ => Response::from_string(global().render()).with_header(header(
                    "Content-Type",
                    "text/plain; version=0.0.4; charset=utf-8",
                )),
            }
        }
        _ => text(404, "not found: try /metrics, /health or /ready\n".into()),
    };
    if let Err(e) = request.respond(response) {
        log::debug!("telemetry: could not answer {path}: {e}");
    }
}
