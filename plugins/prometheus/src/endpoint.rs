//! One cluster's endpoint: what each request gets. `/metrics` renders the store
//! (behind Basic auth when configured), gzip-compressed when the scraper accepts
//! it; `/` is a small landing page linking to it; anything else is 404. The
//! sockets, TLS and connections are `server.rs`'s.
//!
//! A body is rendered (and compressed) piece by piece as the connection takes
//! it: the copy of the store's samples and the first megabyte run on the
//! runtime's blocking threads (a small body goes out whole, with its length),
//! and each further piece, tens of kilobytes of work, when the connection asks
//! for it. So a body never piles up in memory ahead of its client, and the
//! pieces reuse the same few blocks of memory instead of faulting in fresh
//! pages for the whole body at every scrape.

use std::io::Write as _;
use std::sync::Arc;
use std::time::Instant;

use base64::engine::{DecodePaddingMode, GeneralPurpose, GeneralPurposeConfig};
use base64::Engine as _;
use bytes::Bytes;
use hyper::header::{self, HeaderName, HeaderValue};
use hyper::http::request::Parts;
use hyper::{Method, Response, StatusCode};

use crate::body::{Body, Render};
use crate::encode::Format;
use crate::recycle;
use crate::server::{Handler, Reply};
use crate::store::{Cursor, Snapshot, Store};

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

/// A body whose pieces add up to less than this is sent whole, with its
/// `Content-Length`; a larger one is streamed as it is rendered.
const STREAM_FROM: usize = 1024 * 1024;

/// How much gzip output is gathered before it is handed on: like the text
/// pieces (`store::PIECE`), its buffer stays under glibc's mmap threshold.
const GZIP_PIECE: usize = 32 * 1024;

impl Endpoint {
    async fn metrics(&self, rq: &Parts) -> Reply {
        let format = Format::negotiate(header(rq, header::ACCEPT));
        let gzip = accepts_gzip(header(rq, header::ACCEPT_ENCODING));
        let store = Arc::clone(&self.store);
        let cluster = self.cluster.clone();
        let rendering = tokio::task::spawn_blocking(move || {
            let snapshot = store.snapshot(Instant::now());
            let mut renderer = Renderer::new(snapshot, format, gzip, cluster);
            // Gather the first pieces: a small body is sent whole, a large one
            // streams on from what is gathered.
            let mut first = Vec::new();
            let mut gathered = 0;
            while let Some(piece) = renderer.next_piece()? {
                gathered += piece.len();
                first.push(piece);
                if gathered >= STREAM_FROM {
                    return Ok::<_, std::io::Error>((first, Some(renderer)));
                }
            }
            Ok((first, None))
        });
        let body = match rendering.await {
            Ok(Ok((first, None))) => Body::pieces(first),
            Ok(Ok((first, Some(rest)))) => Body::streamed(first, Box::new(rest)),
            Ok(Err(e)) => return self.failed(&e.to_string()),
            Err(e) => return self.failed(&e.to_string()),
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

/// Renders one `/metrics` body from a snapshot of the store, gzipped or not,
/// one piece per call, and logs what it did once it is complete.
struct Renderer {
    snapshot: Snapshot,
    cursor: Cursor,
    format: Format,
    /// `Some` while a gzipped body is not finished.
    encoder: Option<GzEncoder>,
    /// The text of the next piece (the gzipped body's, reused).
    text: String,
    /// The text's size, and the size sent.
    text_len: usize,
    sent_len: usize,
    /// Whether the body is rendered whole, and whether that is logged.
    done: bool,
    logged: bool,
    gzip: bool,
    cluster: String,
    started: Instant,
}

type GzEncoder = flate2::write::GzEncoder<Vec<u8>>;

impl Renderer {
    fn new(snapshot: Snapshot, format: Format, gzip: bool, cluster: String) -> Renderer {
        // Packed, a body is about a tenth of its text.
        let encoder = gzip.then(|| GzEncoder::new(recycle::buffer(), crate::gzip::LEVEL));
        let text = String::with_capacity(if gzip { snapshot.piece_capacity() } else { 0 });
        Renderer {
            snapshot,
            cursor: Cursor::default(),
            format,
            encoder,
            text,
            text_len: 0,
            sent_len: 0,
            done: false,
            logged: false,
            gzip,
            cluster,
            started: Instant::now(),
        }
    }

    /// The next plain piece, or the next [`GZIP_PIECE`] of gzip output;
    /// empty at the end of a body whose last piece was full.
    fn render(&mut self) -> std::io::Result<Vec<u8>> {
        let Some(encoder) = self.encoder.as_mut() else {
            let mut piece = String::from_utf8(recycle::buffer()).unwrap_or_default();
            let more = self
                .snapshot
                .render_piece(self.format, &mut self.cursor, &mut piece);
            self.text_len += piece.len();
            self.done = !more;
            return Ok(piece.into_bytes());
        };
        loop {
            let more = self
                .snapshot
                .render_piece(self.format, &mut self.cursor, &mut self.text);
            self.text_len += self.text.len();
            encoder.write_all(self.text.as_bytes())?;
            self.text.clear();
            if !more {
                self.done = true;
                return match self.encoder.take() {
                    Some(encoder) => encoder.finish(),
                    None => Ok(Vec::new()),
                };
            }
            let packed = encoder.get_mut();
            if packed.len() >= GZIP_PIECE {
                return Ok(std::mem::replace(packed, recycle::buffer()));
            }
        }
    }
}

impl Render for Renderer {
    fn next_piece(&mut self) -> std::io::Result<Option<Bytes>> {
        while !self.done {
            let piece = self.render()?;
            if !piece.is_empty() {
                self.sent_len += piece.len();
                return Ok(Some(recycle::bytes(piece)));
            }
        }
        if !self.logged {
            self.logged = true;
            log::debug!(
                "cluster={} rendered /metrics: {} samples, {} bytes{}, {:?} format, {} ms",
                self.cluster,
                self.cursor.written(),
                self.text_len,
                if self.gzip {
                    format!(" ({} gzipped)", self.sent_len)
                } else {
                    String::new()
                },
                self.format,
                self.started.elapsed().as_millis(),
            );
        }
        Ok(None)
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

    /// What a [`Renderer`] reports and its pieces joined.
    struct All {
        samples: usize,
        text_len: usize,
        sent_len: usize,
        pieces: usize,
    }

    fn render_all(store: &Store, gzip: bool, now: Instant) -> (Vec<u8>, All) {
        let mut r = Renderer::new(store.snapshot(now), Format::Text, gzip, "c1".into());
        let mut bytes = Vec::new();
        let mut pieces = 0;
        while let Some(piece) = r.next_piece().unwrap() {
            assert!(!piece.is_empty(), "no empty piece");
            bytes.extend_from_slice(&piece);
            pieces += 1;
        }
        assert!(r.next_piece().unwrap().is_none(), "nothing after the end");
        let all = All {
            samples: r.cursor.written(),
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
