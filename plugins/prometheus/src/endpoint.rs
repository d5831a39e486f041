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
use hyper::header::{self, HeaderName, HeaderValue};
use hyper::http::request::Parts;
use hyper::{Method, Response, StatusCode};

use crate::body::{self, Body, PieceSender};
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

/// What rendering a `/metrics` body did (the body itself went piece by piece
/// to a [`PieceSender`]).
struct Rendered {
    samples: usize,
    /// The size before compression.
    text_len: usize,
    /// The size sent.
    sent_len: usize,
}

/// A body whose pieces add up to less than this is sent whole, with its
/// `Content-Length`; a larger one is streamed as it is rendered.
const STREAM_FROM: usize = 1024 * 1024;

/// How much gzip output is gathered before it is handed on.
const GZIP_PIECE: usize = 64 * 1024;

impl Endpoint {
    async fn metrics(&self, rq: &Parts) -> Reply {
        let format = Format::negotiate(header(rq, header::ACCEPT));
        let gzip = accepts_gzip(header(rq, header::ACCEPT_ENCODING));
        let store = Arc::clone(&self.store);
        let cluster = self.cluster.clone();
        let (tx, mut rx) = body::channel();
        let rendering = tokio::task::spawn_blocking(move || {
            let started = Instant::now();
            let rendered = render(&store, format, gzip, Instant::now(), &tx);
            if let Ok(r) = &rendered {
                log::debug!(
                    "cluster={cluster} rendered /metrics: {} samples, {} bytes{}, {format:?} format, {} ms",
                    r.samples,
                    r.text_len,
                    if gzip { format!(" ({} gzipped)", r.sent_len) } else { String::new() },
                    started.elapsed().as_millis(),
                );
            }
            rendered
        });
        // Gather the first pieces: a small body is sent whole, a large one
        // streams on from what is gathered.
        let mut first = Vec::new();
        let mut gathered = 0;
        let body = loop {
            match rx.recv().await {
                Some(Some(piece)) => {
                    gathered += piece.len();
                    first.push(piece);
                    if gathered >= STREAM_FROM {
                        break Body::streamed(first, rx);
                    }
                }
                Some(None) => break Body::pieces(first),
                // The renderer stopped without its end mark: say why.
                None => {
                    return match rendering.await {
                        Ok(Err(e)) => self.failed(&e.to_string()),
                        Err(e) => self.failed(&e.to_string()),
                        Ok(Ok(_)) => self.failed("the body ended early"),
                    };
                }
            }
        };
        let mut response = answer(StatusCode::OK, format.content_type(), body);
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

/// Renders the body of every sample of `store` live at `now`, gzipped when
/// `gzip`, piece by piece into `out`, then its end mark. The store's lock is
/// held only while its live samples are copied; the text never exists whole,
/// and pieces leave as they are made, so the client receives the start of a
/// large body while the rest is rendered.
fn render(
    store: &Store,
    format: Format,
    gzip: bool,
    now: Instant,
    out: &PieceSender,
) -> std::io::Result<Rendered> {
    let gone = || std::io::Error::other("the request was dropped");
    let snapshot = store.snapshot(now);
    let mut text_len = 0;
    let mut sent_len = 0;
    let samples = if gzip {
        // Packed, a body is about a tenth of its text.
        let capacity = (GZIP_PIECE * 2).min(snapshot.size_hint() / 8 + 64);
        let mut encoder = crate::gzip::encoder(capacity);
        let samples = snapshot.render_in_pieces(format, |piece| {
            text_len += piece.len();
            encoder.write_all(piece.as_bytes())?;
            piece.clear();
            let packed = encoder.get_mut();
            if packed.len() >= GZIP_PIECE {
                let full = std::mem::replace(packed, Vec::with_capacity(capacity));
                sent_len += full.len();
                out.send(Some(full.into())).map_err(|_| gone())?;
            }
            Ok::<(), std::io::Error>(())
        })?;
        let last = encoder.finish()?;
        sent_len += last.len();
        out.send(Some(last.into())).map_err(|_| gone())?;
        samples
    } else {
        snapshot.render_in_pieces(format, |piece| {
            text_len += piece.len();
            let full = std::mem::take(piece);
            out.send(Some(full.into_bytes().into())).map_err(|_| gone())
        })?
    };
    if !gzip {
        sent_len = text_len;
    }
    out.send(None).map_err(|_| gone())?;
    Ok(Rendered {
        samples,
        text_len,
        sent_len,
    })
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
    answer(status, content_type, Body::whole(body))
}

/// An answer with a `Content-Type` and `body`.
fn answer(status: StatusCode, content_type: &'static str, body: Body) -> Reply {
    let mut response = Response::new(body);
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
        // About 1.5 MB of text: several pieces, plain and gzipped.
        let rows = (0..30_000)
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
        let (plain, p) = render_all(&store, false, now);
        let (packed, g) = render_all(&store, true, now);
        assert_eq!((p.samples, g.samples), (30_000, 30_000));
        assert!(
            p.pieces > 2 && g.pieces > 2,
            "{} and {} pieces",
            p.pieces,
            g.pieces
        );
        assert_eq!((p.text_len, p.sent_len), (plain.len(), plain.len()));
        assert_eq!((g.text_len, g.sent_len), (plain.len(), packed.len()));
        assert!(packed.len() * 4 < plain.len(), "{}", packed.len());
        let mut unpacked = Vec::new();
        flate2::read::GzDecoder::new(&packed[..])
            .read_to_end(&mut unpacked)
            .unwrap();
        assert_eq!(unpacked, plain);
        // Sorted by label text: node="9999" comes last.
        assert!(plain.ends_with(b"{cluster=\"c1\",node=\"9999\"} 9999 1700000000000\n"));
    }

    /// What [`render`] reports and its pieces joined, checking the end mark
    /// comes last.
    struct All {
        samples: usize,
        text_len: usize,
        sent_len: usize,
        pieces: usize,
    }

    fn render_all(store: &Store, gzip: bool, now: Instant) -> (Vec<u8>, All) {
        let (tx, mut rx) = body::channel();
        let r = render(store, Format::Text, gzip, now, &tx).unwrap();
        let mut bytes = Vec::new();
        let mut pieces = 0;
        let mut ended = false;
        while let Ok(piece) = rx.try_recv() {
            assert!(!ended, "nothing after the end mark");
            match piece {
                Some(b) => {
                    bytes.extend_from_slice(&b);
                    pieces += 1;
                }
                None => ended = true,
            }
        }
        assert!(ended, "an end mark");
        let all = All {
            samples: r.samples,
            text_len: r.text_len,
            sent_len: r.sent_len,
            pieces,
        };
        (bytes, all)
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
