//! One cluster's endpoint: what each request gets. `/metrics` renders the store
//! (behind Basic auth when configured), gzip-compressed when the scraper accepts
//! it; `/` is a small landing page linking to it; anything else is 404. The
//! sockets, TLS and connections are `server.rs`'s.
//!
//! Rendering (and compressing) a body is CPU work of milliseconds to tens of
//! milliseconds: it runs on the runtime's blocking threads, so the worker
//! threads keep serving every other connection meanwhile.

use std::io::Write as _;
use std::sync::Arc;
use std::time::Instant;

use base64::engine::{DecodePaddingMode, GeneralPurpose, GeneralPurposeConfig};
use base64::Engine as _;
use bytes::Bytes;
use http_body_util::Full;
use hyper::header::{self, HeaderName, HeaderValue};
use hyper::http::request::Parts;
use hyper::{Method, Response, StatusCode};

use crate::encode::Format;
use crate::server::{Handler, Reply};
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

impl Handler for Endpoint {
    async fn handle(&self, rq: Parts) -> Reply {
        let readable = rq.method == Method::GET || rq.method == Method::HEAD;
        match rq.uri.path() {
            "/metrics" | "/metrics/" if !readable => not_allowed(),
            "/metrics" | "/metrics/" => match &self.auth {
                Some(creds) if !authorized(&rq, creds) => unauthorized(),
                _ => self.metrics(&rq).await,
            },
            "/" if readable => reply(
                StatusCode::OK,
                "text/html; charset=utf-8",
                self.landing_page(),
            ),
            "/" => not_allowed(),
            _ => text(
                StatusCode::NOT_FOUND,
                "not found: the metrics are at /metrics\n",
            ),
        }
    }
}

/// A rendered `/metrics` body.
struct Rendered {
    body: Vec<u8>,
    samples: usize,
    /// The size before compression.
    text_len: usize,
}

impl Endpoint {
    async fn metrics(&self, rq: &Parts) -> Reply {
        let format = Format::negotiate(header(rq, header::ACCEPT));
        let gzip = accepts_gzip(header(rq, header::ACCEPT_ENCODING));
        let store = Arc::clone(&self.store);
        let started = Instant::now();
        let rendered =
            tokio::task::spawn_blocking(move || render(&store, format, gzip, Instant::now())).await;
        let Rendered {
            body,
            samples,
            text_len,
        } = match rendered {
            Ok(Ok(r)) => r,
            Ok(Err(e)) => return self.failed(&e.to_string()),
            Err(e) => return self.failed(&e.to_string()),
        };
        log::debug!(
            "cluster={} rendered /metrics: {samples} samples, {text_len} bytes{}, {format:?} format, {} ms",
            self.cluster,
            if gzip { format!(" ({} gzipped)", body.len()) } else { String::new() },
            started.elapsed().as_millis(),
        );
        let mut response = reply(StatusCode::OK, format.content_type(), body);
        let headers = response.headers_mut();
        headers.insert(header::VARY, HeaderValue::from_static("Accept-Encoding"));
        if gzip {
            headers.insert(header::CONTENT_ENCODING, HeaderValue::from_static("gzip"));
        }
        response
    }

    fn failed(&self, why: &str) -> Reply {
        log::error!("cluster={} cannot render /metrics: {why}", self.cluster);
        text(
            StatusCode::INTERNAL_SERVER_ERROR,
            "internal error: /metrics could not be rendered (see idic's log)\n",
        )
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

/// The body of every sample of `store` live at `now`, gzipped when `gzip`. The
/// store's lock is held only while its live samples are copied; a gzipped body
/// is compressed piece by piece as it is rendered, so its text never exists
/// whole.
fn render(store: &Store, format: Format, gzip: bool, now: Instant) -> std::io::Result<Rendered> {
    let snapshot = store.snapshot(now);
    if gzip {
        let mut encoder = crate::gzip::encoder(snapshot.size_hint() / 8 + 64);
        let mut text_len = 0;
        let samples = snapshot.render_in_pieces(format, |piece| {
            text_len += piece.len();
            encoder.write_all(piece.as_bytes())
        })?;
        Ok(Rendered {
            body: encoder.finish()?,
            samples,
            text_len,
        })
    } else {
        let mut text = String::new();
        let samples = snapshot.render(format, &mut text);
        Ok(Rendered {
            text_len: text.len(),
            body: text.into_bytes(),
            samples,
        })
    }
}

/// Whether an `Accept-Encoding` header accepts gzip: `gzip` (or `x-gzip`, or
/// else `*`) listed without `q=0`.
pub fn accepts_gzip(accept_encoding: Option<&str>) -> bool {
    let Some(value) = accept_encoding else {
        return false;
    };
    let mut gzip = None;
    let mut any = None;
    for item in value.split(',') {
        let mut parts = item.split(';');
        let coding = parts.next().unwrap_or_default().trim();
        let q = parts
            .find_map(|p| {
                let (k, v) = p.split_once('=')?;
                k.trim()
                    .eq_ignore_ascii_case("q")
                    .then(|| v.trim().parse::<f32>().unwrap_or(0.0))
            })
            .unwrap_or(1.0);
        if coding.eq_ignore_ascii_case("gzip") || coding.eq_ignore_ascii_case("x-gzip") {
            gzip = Some(q > 0.0);
        } else if coding == "*" {
            any = Some(q > 0.0);
        }
    }
    gzip.or(any).unwrap_or(false)
}

/// Whether the request carries the expected Basic credentials. Both parts are
/// always compared, each in time independent of where it differs.
pub fn authorized(rq: &Parts, creds: &Credentials) -> bool {
    let Some(value) = header(rq, header::AUTHORIZATION) else {
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

fn header(rq: &Parts, name: HeaderName) -> Option<&str> {
    rq.headers.get(name).and_then(|v| v.to_str().ok())
}

/// A whole answer with a `Content-Type`.
pub fn reply(status: StatusCode, content_type: &'static str, body: impl Into<Bytes>) -> Reply {
    let mut response = Response::new(Full::new(body.into()));
    *response.status_mut() = status;
    response
        .headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    response
}

fn text(status: StatusCode, body: &'static str) -> Reply {
    reply(status, "text/plain; charset=utf-8", body)
}

fn unauthorized() -> Reply {
    let mut response = text(
        StatusCode::UNAUTHORIZED,
        "unauthorized: /metrics needs the configured Basic credentials\n",
    );
    response.headers_mut().insert(
        header::WWW_AUTHENTICATE,
        HeaderValue::from_static("Basic realm=\"idic\", charset=\"UTF-8\""),
    );
    response
}

/// 405 with the methods that are allowed.
pub fn not_allowed() -> Reply {
    let mut response = text(
        StatusCode::METHOD_NOT_ALLOWED,
        "method not allowed: use GET\n",
    );
    response
        .headers_mut()
        .insert(header::ALLOW, HeaderValue::from_static("GET, HEAD"));
    response
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
    fn gzip_is_chosen_when_accepted_with_a_nonzero_q() {
        let check = |header: Option<&str>, want: bool| {
            assert_eq!(accepts_gzip(header), want, "{header:?}");
        };
        check(None, false);
        check(Some(""), false);
        // What Prometheus 2.42 sends, and what curl --compressed sends.
        check(Some("gzip"), true);
        check(Some("deflate, gzip, br, zstd"), true);
        check(Some("GZIP;q=0.5"), true);
        check(Some("x-gzip"), true);
        check(Some("gzip;q=0"), false);
        check(Some("gzip; q=0.000"), false);
        check(Some("identity"), false);
        check(Some("br, *"), true);
        check(Some("*;q=0"), false);
        check(Some("*, gzip;q=0"), false);
        check(Some("gzip;q=nonsense"), false);
    }

    #[test]
    fn a_gzipped_body_unpacks_to_the_text_body() {
        use idic_plugin_api::{Field, Point, Row, Tag, Value};
        use std::io::Read as _;
        let store = Store::new("c1", None, &[]);
        let now = Instant::now();
        let rows = (0..500)
            .map(|n| Row {
                tags: vec![Tag::new("cluster", "c1"), Tag::new("node", &n.to_string())].into(),
                fields: vec![Field::new("value", Value::Float(f64::from(n)))].into(),
            })
            .collect();
        store.write(
            &[Point {
                measurement: "node.load.1min".into(),
                time: 1_700_000_000,
                rows,
            }],
            now,
        );
        let plain = render(&store, Format::Text, false, now).unwrap();
        let packed = render(&store, Format::Text, true, now).unwrap();
        assert_eq!((plain.samples, packed.samples), (500, 500));
        assert_eq!(packed.text_len, plain.body.len());
        assert!(
            packed.body.len() * 4 < plain.body.len(),
            "{}",
            packed.body.len()
        );
        let mut unpacked = Vec::new();
        flate2::read::GzDecoder::new(&packed.body[..])
            .read_to_end(&mut unpacked)
            .unwrap();
        assert_eq!(unpacked, plain.body);
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
