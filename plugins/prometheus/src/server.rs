//! One cluster's endpoint: what each request gets. `/metrics` renders the store
//! (behind Basic auth when configured), `/` is a small landing page linking to it,
//! anything else is 404. The sockets, TLS and threads are `http.rs`'s.

use std::net::TcpListener;
use std::sync::Arc;
use std::time::Instant;

use base64::engine::{DecodePaddingMode, GeneralPurpose, GeneralPurposeConfig};
use base64::Engine as _;
use tiny_http::{Header, Method, Request, Response};

use crate::encode::Format;
use crate::http::{self, Service};
use crate::store::Store;

/// Standard base64 for Basic credentials, padding optional (some clients omit it).
const BASE64: GeneralPurpose = GeneralPurpose::new(
    &base64::alphabet::STANDARD,
    GeneralPurposeConfig::new().with_decode_padding_mode(DecodePaddingMode::Indifferent),
);

/// The credentials scrapers must send.
#[derive(Clone)]
pub struct Credentials {
    /// Expected user name.
    pub username: String,
    /// Expected password (resolved from `$env:` already).
    pub password: String,
}

/// What one cluster's endpoint serves.
pub struct Endpoint {
    /// The cluster name, for the landing page and the log.
    pub cluster: String,
    /// The samples.
    pub store: Arc<Store>,
    /// `Some` when `/metrics` needs Basic auth.
    pub auth: Option<Credentials>,
}

/// Serves `endpoint` on `listener`, over TLS when `tls` is given.
pub fn serve(
    listener: TcpListener,
    tls: Option<Arc<rustls::ServerConfig>>,
    endpoint: Endpoint,
) -> std::io::Result<Service> {
    let name = format!("cluster={}", endpoint.cluster);
    let endpoint = Arc::new(endpoint);
    http::start(
        listener,
        tls,
        &name,
        Arc::new(move |rq| endpoint.handle(rq)),
    )
}

impl Endpoint {
    /// Answers one request.
    pub fn handle(&self, rq: Request) {
        let path = rq.url().split('?').next().unwrap_or("");
        let readable = matches!(rq.method(), Method::Get | Method::Head);
        let response = match path {
            "/metrics" | "/metrics/" if !readable => not_allowed(),
            "/metrics" | "/metrics/" => match &self.auth {
                Some(creds) if !authorized(&rq, creds) => unauthorized(),
                _ => return self.metrics(rq),
            },
            "/" if readable => html(self.landing_page()),
            "/" => not_allowed(),
            _ => text(404, "not found: the metrics are at /metrics\n"),
        };
        let _ = rq.respond(response);
    }

    fn metrics(&self, rq: Request) {
        let accept = header(&rq, "Accept");
        let format = Format::negotiate(accept);
        let started = Instant::now();
        let (body, samples) = self.store.render(format, Instant::now());
        let bytes = body.len();
        let response = Response::from_data(body)
            .with_header(header_line("Content-Type", format.content_type()));
        let result = rq.respond(response);
        log::debug!(
            "cluster={} served /metrics: {samples} samples, {bytes} bytes, {:?} format, {} ms{}",
            self.cluster,
            format,
            started.elapsed().as_millis(),
            match result {
                Ok(()) => String::new(),
                Err(e) => format!(" (client went away: {e})"),
            }
        );
    }

    fn landing_page(&self) -> String {
        let cluster = escape_html(&self.cluster);
        format!(
            "<!DOCTYPE html>\n<html>\n<head><meta charset=\"utf-8\"><title>idic: {cluster}</title></head>\n\
             <body>\n<h1>idic: Dell PowerScale OneFS statistics</h1>\n\
             <p>Cluster <b>{cluster}</b>: the latest statistics are at <a href=\"/metrics\">/metrics</a>.</p>\n\
             </body>\n</html>\n"
        )
    }
}

/// Whether the request carries the expected Basic credentials. Both parts are
/// always compared, each in time independent of where it differs.
pub fn authorized(rq: &Request, creds: &Credentials) -> bool {
    let Some(value) = header(rq, "Authorization") else {
        return false;
    };
    let Some((scheme, token)) = value.trim().split_once(' ') else {
        return false;
    };
    if !scheme.eq_ignore_ascii_case("basic") {
        return false;
    }
    let Ok(decoded) = BASE64.decode(token.trim()) else {
        return false;
    };
    let Some(colon) = decoded.iter().position(|&b| b == b':') else {
        return false;
    };
    let user_ok = constant_time_eq(&decoded[..colon], creds.username.as_bytes());
    let pass_ok = constant_time_eq(&decoded[colon + 1..], creds.password.as_bytes());
    user_ok & pass_ok
}

/// Compares two byte strings in time that depends only on their lengths.
pub fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    let diff = a
        .iter()
        .zip(b)
        .fold(0u8, |acc, (x, y)| acc | std::hint::black_box(x ^ y));
    std::hint::black_box(diff) == 0
}

fn header<'a>(rq: &'a Request, name: &'static str) -> Option<&'a str> {
    rq.headers()
        .iter()
        .find(|h| h.field.equiv(name))
        .map(|h| h.value.as_str())
}

fn header_line(name: &str, value: &str) -> Header {
    Header::from_bytes(name.as_bytes(), value.as_bytes()).expect("static header is valid")
}

fn text(status: u16, body: &str) -> Response<std::io::Cursor<Vec<u8>>> {
    Response::from_string(body)
        .with_status_code(status)
        .with_header(header_line("Content-Type", "text/plain; charset=utf-8"))
}

fn html(body: String) -> Response<std::io::Cursor<Vec<u8>>> {
    Response::from_string(body).with_header(header_line("Content-Type", "text/html; charset=utf-8"))
}

fn unauthorized() -> Response<std::io::Cursor<Vec<u8>>> {
    text(
        401,
        "unauthorized: /metrics needs the configured Basic credentials\n",
    )
    .with_header(header_line(
        "WWW-Authenticate",
        "Basic realm=\"idic\", charset=\"UTF-8\"",
    ))
}

fn not_allowed() -> Response<std::io::Cursor<Vec<u8>>> {
    text(405, "method not allowed: use GET\n").with_header(header_line("Allow", "GET, HEAD"))
}

fn escape_html(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base64_decodes_with_and_without_padding() {
        let check = |text: &str, want: Option<&[u8]>| {
            assert_eq!(BASE64.decode(text).ok().as_deref(), want, "{text}");
        };
        check("dTpw", Some(b"u:p"));
        check("dXNlcjpwYXNz", Some(b"user:pass"));
        check("YTpiYw==", Some(b"a:bc"));
        check("YTpiYw", Some(b"a:bc"));
        check("", Some(b""));
        check("a", None);
        check("ab$c", None);
    }

    #[test]
    fn constant_time_eq_compares_exactly() {
        assert!(constant_time_eq(b"secret", b"secret"));
        assert!(!constant_time_eq(b"secret", b"secreT"));
        assert!(!constant_time_eq(b"secret", b"secret!"));
        assert!(constant_time_eq(b"", b""));
    }

    #[test]
    fn landing_page_escapes_the_cluster_name() {
        let e = Endpoint {
            cluster: "<c&1>".into(),
            store: Arc::new(Store::new("c", None, &[])),
            auth: None,
        };
        let page = e.landing_page();
        assert!(page.contains("<b>&lt;c&amp;1&gt;</b>"), "{page}");
        assert!(page.contains("<a href=\"/metrics\">/metrics</a>"), "{page}");
    }
}
