//! HTTP/1.1 requests on a byte stream: reading one request (with `httparse`,
//! Content-Length or chunked bodies, `Expect: 100-continue`) and query strings.
//! Responses are in `response`.
//!
//! Limits follow the Apache server in front of the OneFS API: a request target longer
//! than [`MAX_TARGET`] bytes is answered 414, an oversized or garbled head 400, a body
//! over 1 MiB 413, a request that stalls half-way 408. It does not route or know about
//! OneFS (see `api`), nor about TLS or sockets (see `server`).

use std::io::{self, Read, Write};

use crate::response::Response;

/// Longest request target (path and query) answered normally, in bytes.
pub const MAX_TARGET: usize = 8198;
const MAX_HEAD: usize = 64 * 1024;
const MAX_BODY: usize = 1 << 20;
const MAX_HEADERS: usize = 64;

/// One parsed request.
#[derive(Debug)]
pub(crate) struct Request {
    pub method: String,
    pub target: String,
    /// Path part of the target, still percent-encoded.
    pub path: String,
    /// Decoded query parameters in order.
    pub query: Vec<(String, String)>,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
    pub http10: bool,
}

/// The outcome of reading from a connection.
pub(crate) enum Incoming {
    Request(Request),
    /// The peer closed or idled out between requests.
    Closed,
    /// The request is unusable: send this answer, then close.
    Reject {
        response: Response,
        method: String,
        target: String,
        headers: Vec<(String, String)>,
    },
}

impl Request {
    /// A header value by (case-insensitive) name.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// Every value of a header.
    pub fn headers_named<'a>(&'a self, name: &'a str) -> impl Iterator<Item = &'a str> + 'a {
        self.headers
            .iter()
            .filter(move |(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// Every value of a query parameter.
    pub fn query_values<'a>(&'a self, name: &'a str) -> impl Iterator<Item = &'a str> + 'a {
        self.query
            .iter()
            .filter(move |(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }

    /// The first value of a query parameter.
    pub fn query_value(&self, name: &str) -> Option<&str> {
        self.query
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }

    /// Whether a boolean query parameter is set to a true value.
    pub fn query_flag(&self, name: &str) -> bool {
        self.query_value(name)
            .is_some_and(|v| matches!(v.to_ascii_lowercase().as_str(), "true" | "1" | "yes" | ""))
    }

    /// The decoded path.
    pub fn decoded_path(&self) -> String {
        percent_decode(&self.path, false)
    }

    /// Whether the client wants the connection kept open.
    pub fn keep_alive(&self) -> bool {
        let conn = self.header("connection").map(str::to_ascii_lowercase);
        match conn.as_deref() {
            Some(c) if c.contains("close") => false,
            Some(c) if c.contains("keep-alive") => true,
            _ => !self.http10,
        }
    }
}

/// Reads every request in `data` as a connection's request loop would (pipelined
/// requests one after the other, bodies and `Expect: 100-continue` included, what
/// the server would write discarded) and returns how many were usable. For the
/// fuzz target and regression tests of the request parser: whatever `data` holds,
/// this returns and never panics.
pub fn parse_all(data: &[u8]) -> usize {
    struct Stream<'a> {
        data: &'a [u8],
    }
    impl Read for Stream<'_> {
        fn read(&mut self, out: &mut [u8]) -> io::Result<usize> {
            self.data.read(out)
        }
    }
    impl Write for Stream<'_> {
        fn write(&mut self, b: &[u8]) -> io::Result<usize> {
            Ok(b.len())
        }
        fn flush(&mut self) -> io::Result<()> {
            Ok(())
        }
    }
    let mut stream = Stream { data };
    let mut buf = Vec::new();
    let mut usable = 0;
    while let Ok(Incoming::Request(req)) = read_request(&mut stream, &mut buf) {
        usable += 1;
        if !req.keep_alive() {
            break;
        }
    }
    usable
}

/// Reads one request from `stream`; `buf` carries bytes across requests (pipelining).
pub(crate) fn read_request<S: Read + Write>(
    stream: &mut S,
    buf: &mut Vec<u8>,
) -> io::Result<Incoming> {
    loop {
        if !buf.is_empty() {
            if let Some(incoming) = try_parse(stream, buf)? {
                return Ok(incoming);
            }
        }
        match read_more(stream, buf) {
            Ok(0) => return Ok(Incoming::Closed),
            Ok(_) => {}
            Err(e) if is_timeout(&e) && !buf.is_empty() => {
                return Ok(reject(
                    Response::html(
                        408,
                        "Server timeout waiting for the HTTP request from the client.",
                    ),
                    "",
                    "",
                    Vec::new(),
                ));
            }
            Err(e) if is_timeout(&e) => return Ok(Incoming::Closed),
            Err(e) => return Err(e),
        }
    }
}

/// Parses `buf` if it holds a whole head; `None` = need more bytes.
fn try_parse<S: Read + Write>(stream: &mut S, buf: &mut Vec<u8>) -> io::Result<Option<Incoming>> {
    let mut slots = [httparse::EMPTY_HEADER; MAX_HEADERS];
    let mut parsed = httparse::Request::new(&mut slots);
    let head_len = match parsed.parse(buf) {
        Ok(httparse::Status::Complete(n)) => n,
        Ok(httparse::Status::Partial) if buf.len() <= MAX_HEAD => return Ok(None),
        Ok(httparse::Status::Partial) => {
            let first_line_done = buf.contains(&b'\n');
            let response = if first_line_done {
                Response::html(400, "Size of a request header field exceeds server limit.")
            } else {
                Response::html(
                    414,
                    "The requested URL's length exceeds the capacity limit for this server.",
                )
            };
            return Ok(Some(reject(response, "", "", Vec::new())));
        }
        Err(e) => {
            return Ok(Some(reject(
                Response::html(
                    400,
                    &format!(
                        "Your browser sent a request that this server could not understand ({e})."
                    ),
                ),
                "",
                "",
                Vec::new(),
            )));
        }
    };
    let method = parsed.method.unwrap_or("").to_string();
    let target = parsed.path.unwrap_or("").to_string();
    let http10 = parsed.version == Some(0);
    let headers: Vec<(String, String)> = parsed
        .headers
        .iter()
        .map(|h| {
            (
                h.name.to_string(),
                String::from_utf8_lossy(h.value).into_owned(),
            )
        })
        .collect();
    if target.len() > MAX_TARGET {
        let response = Response::html(
            414,
            "The requested URL's length exceeds the capacity limit for this server.",
        );
        return Ok(Some(reject(response, &method, &target, headers)));
    }
    let find = |name: &str| {
        headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.trim())
    };
    let chunked =
        find("transfer-encoding").is_some_and(|v| v.to_ascii_lowercase().contains("chunked"));
    let body = if chunked {
        match read_chunked(stream, buf, head_len)? {
            Ok((body, end)) => {
                buf.drain(..end);
                body
            }
            Err(response) => return Ok(Some(reject(response, &method, &target, headers))),
        }
    } else {
        let len = match find("content-length").map(str::parse::<usize>) {
            None => 0,
            Some(Ok(n)) if n <= MAX_BODY => n,
            Some(Ok(_)) => {
                let response = Response::html(413, "The requested resource does not allow request data, or the amount of data exceeds the capacity limit.");
                return Ok(Some(reject(response, &method, &target, headers)));
            }
            Some(Err(_)) => {
                return Ok(Some(reject(
                    Response::html(400, "Invalid Content-Length."),
                    &method,
                    &target,
                    headers,
                )))
            }
        };
        if buf.len() < head_len + len
            && find("expect").is_some_and(|v| v.eq_ignore_ascii_case("100-continue"))
        {
            stream.write_all(b"HTTP/1.1 100 Continue\r\n\r\n")?;
            stream.flush()?;
        }
        while buf.len() < head_len + len {
            if read_more(stream, buf)? == 0 {
                return Ok(Some(Incoming::Closed));
            }
        }
        let body = buf[head_len..head_len + len].to_vec();
        buf.drain(..head_len + len);
        body
    };
    let (path, query) = match target.split_once('?') {
        Some((p, q)) => (p.to_string(), parse_query(q)),
        None => (target.clone(), Vec::new()),
    };
    Ok(Some(Incoming::Request(Request {
        method,
        target,
        path,
        query,
        headers,
        body,
        http10,
    })))
}

/// Decodes a chunked body starting at `start`; returns it and the end offset in `buf`.
fn read_chunked<S: Read>(
    stream: &mut S,
    buf: &mut Vec<u8>,
    start: usize,
) -> io::Result<Result<(Vec<u8>, usize), Response>> {
    let mut pos = start;
    let mut body = Vec::new();
    loop {
        let line_end = match line_at(stream, buf, pos)? {
            Some(end) => end,
            None => return Ok(Err(Response::html(400, "Malformed chunked body."))),
        };
        let line = String::from_utf8_lossy(&buf[pos..line_end]).into_owned();
        let size_text = line.split(';').next().unwrap_or("").trim();
        let Ok(size) = usize::from_str_radix(size_text, 16) else {
            return Ok(Err(Response::html(400, "Malformed chunk size.")));
        };
        pos = line_end + 2;
        if size == 0 {
            loop {
                let Some(end) = line_at(stream, buf, pos)? else {
                    return Ok(Err(Response::html(400, "Malformed chunked trailer.")));
                };
                let empty = end == pos;
                pos = end + 2;
                if empty {
                    return Ok(Ok((body, pos)));
                }
            }
        }
        if body.len() + size > MAX_BODY {
            return Ok(Err(Response::html(
                413,
                "The amount of request data exceeds the capacity limit.",
            )));
        }
        while buf.len() < pos + size + 2 {
            if read_more(stream, buf)? == 0 {
                return Ok(Err(Response::html(400, "Truncated chunked body.")));
            }
        }
        body.extend_from_slice(&buf[pos..pos + size]);
        if &buf[pos + size..pos + size + 2] != b"\r\n" {
            return Ok(Err(Response::html(400, "Malformed chunk.")));
        }
        pos += size + 2;
    }
}

/// Offset of the CRLF ending the line at `pos`, reading more as needed.
fn line_at<S: Read>(stream: &mut S, buf: &mut Vec<u8>, pos: usize) -> io::Result<Option<usize>> {
    loop {
        if let Some(i) = buf[pos..].windows(2).position(|w| w == b"\r\n") {
            return Ok(Some(pos + i));
        }
        if buf.len() - pos > 4096 || read_more(stream, buf)? == 0 {
            return Ok(None);
        }
    }
}

fn read_more<S: Read>(stream: &mut S, buf: &mut Vec<u8>) -> io::Result<usize> {
    let mut chunk = [0u8; 16 * 1024];
    let n = stream.read(&mut chunk)?;
    buf.extend_from_slice(&chunk[..n]);
    Ok(n)
}

fn reject(
    response: Response,
    method: &str,
    target: &str,
    headers: Vec<(String, String)>,
) -> Incoming {
    Incoming::Reject {
        response: response.closing(),
        method: method.to_string(),
        target: target.to_string(),
        headers,
    }
}

/// Whether an I/O error is a read timeout.
pub(crate) fn is_timeout(e: &io::Error) -> bool {
    matches!(
        e.kind(),
        io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
    )
}

/// Splits and decodes a query string (`+` is a space).
pub(crate) fn parse_query(q: &str) -> Vec<(String, String)> {
    q.split('&')
        .filter(|p| !p.is_empty())
        .map(|p| match p.split_once('=') {
            Some((k, v)) => (percent_decode(k, true), percent_decode(v, true)),
            None => (percent_decode(p, true), String::new()),
        })
        .collect()
}

/// Decodes `%XX` escapes (and `+` when `plus_is_space`); invalid escapes stay as they are.
pub(crate) fn percent_decode(s: &str, plus_is_space: bool) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'%' if i + 2 < bytes.len() => {
                let hex = std::str::from_utf8(&bytes[i + 1..i + 3])
                    .ok()
                    .and_then(|h| u8::from_str_radix(h, 16).ok());
                match hex {
                    Some(b) => {
                        out.push(b);
                        i += 3;
                    }
                    None => {
                        out.push(b'%');
                        i += 1;
                    }
                }
            }
            b'+' if plus_is_space => {
                out.push(b' ');
                i += 1;
            }
            b => {
                out.push(b);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Cursor;

    /// A test stream: reads from `input`, collects writes.
    struct Duplex {
        input: Cursor<Vec<u8>>,
        output: Vec<u8>,
    }

    impl Read for Duplex {
        fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
            self.input.read(buf)
        }
    }

    impl Write for Duplex {
        fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
            self.output.write(buf)
        }
        fn flush(&mut self) -> io::Result<()> {
            Ok(())
        }
    }

    fn read(input: &[u8]) -> (Incoming, Vec<u8>) {
        let mut s = Duplex {
            input: Cursor::new(input.to_vec()),
            output: Vec::new(),
        };
        let mut buf = Vec::new();
        let incoming = read_request(&mut s, &mut buf).unwrap();
        (incoming, buf)
    }

    fn status(input: &[u8]) -> u16 {
        match read(input).0 {
            Incoming::Reject { response, .. } => response.status,
            Incoming::Request(_) => 0,
            Incoming::Closed => 1,
        }
    }

    #[test]
    fn parses_query_and_keeps_pipelined_bytes() {
        let (incoming, rest) =
            read(b"GET /a/b?key=x.y&key=z%2Ew&flag HTTP/1.1\r\nHost: h\r\n\r\nGET / HTTP/1.1\r\n");
        let Incoming::Request(r) = incoming else {
            panic!("not a request")
        };
        assert_eq!(r.path, "/a/b");
        assert_eq!(r.query_values("key").collect::<Vec<_>>(), ["x.y", "z.w"]);
        assert!(r.query_flag("flag") && r.keep_alive());
        assert!(rest.starts_with(b"GET / "));
    }

    #[test]
    fn reads_content_length_and_chunked_bodies() {
        let (incoming, _) = read(b"POST /s HTTP/1.1\r\nContent-Length: 5\r\n\r\nhello");
        let Incoming::Request(r) = incoming else {
            panic!()
        };
        assert_eq!(r.body, b"hello");
        let (incoming, rest) = read(b"POST /s HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nhel\r\n2\r\nlo\r\n0\r\n\r\nX");
        let Incoming::Request(r) = incoming else {
            panic!()
        };
        assert_eq!(
            (r.body.as_slice(), rest.as_slice()),
            (&b"hello"[..], &b"X"[..])
        );
    }

    #[test]
    fn limits_give_apache_statuses() {
        let long = format!("GET /{} HTTP/1.1\r\n\r\n", "a".repeat(MAX_TARGET));
        assert_eq!(status(long.as_bytes()), 414);
        let at_limit = format!("GET /{} HTTP/1.1\r\n\r\n", "a".repeat(MAX_TARGET - 1));
        assert_eq!(status(at_limit.as_bytes()), 0);
        let huge = format!("GET /{}", "a".repeat(MAX_HEAD + 10));
        assert_eq!(status(huge.as_bytes()), 414);
        assert_eq!(status(b"\x16\x03\x01garbage\r\n\r\n"), 400);
        assert_eq!(
            status(b"POST / HTTP/1.1\r\nContent-Length: 99999999\r\n\r\n"),
            413
        );
        assert_eq!(status(b"POST / HTTP/1.1\r\nContent-Length: x\r\n\r\n"), 400);
        assert_eq!(status(b""), 1);
    }

    #[test]
    fn percent_decoding_tolerates_bad_escapes() {
        assert_eq!(percent_decode("a%2Fb%zz%", false), "a/b%zz%");
        assert_eq!(percent_decode("a+b", true), "a b");
    }
}
