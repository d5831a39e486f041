//! HTTP/1.1 responses: the [`Response`] type with OneFS JSON, error and Apache-style
//! HTML constructors, and writing one to a stream (`Date`, `Server`, `Content-Length`,
//! `Connection`, and streamed huge bodies). Reading requests is `http`.

use std::io::{self, Write};
use std::time::{Duration, SystemTime};

use serde_json::{json, Value};

/// One response.
#[derive(Debug)]
pub(crate) struct Response {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Body,
    /// Close the connection after this answer.
    pub close: bool,
}

/// A response body.
#[derive(Debug)]
pub(crate) enum Body {
    Bytes(Vec<u8>),
    /// `prefix`, then `fill` bytes of `x`, then `suffix`, streamed.
    Huge {
        prefix: Vec<u8>,
        fill: usize,
        suffix: Vec<u8>,
    },
    /// `fill` bytes of `x` without a Content-Length, the connection closed after
    /// them (the client cannot know the size in advance).
    Unsized {
        fill: usize,
    },
    /// These bytes, one at a time with `pace` between them.
    Slow {
        bytes: Vec<u8>,
        pace: Duration,
    },
    /// The head announces all these bytes, half of them are sent, then the caller
    /// resets the connection.
    Cut(Vec<u8>),
}

impl Response {
    /// A JSON answer.
    pub fn json(status: u16, value: &Value) -> Response {
        Response::bytes(status, "application/json", value.to_string().into_bytes())
    }

    /// A OneFS error answer: `{"errors":[{"code":...,"message":...}]}`.
    pub fn errors(status: u16, code: &str, message: &str) -> Response {
        Response::json(
            status,
            &json!({"errors": [{"code": code, "message": message}]}),
        )
    }

    /// An Apache-style HTML error page.
    pub fn html(status: u16, message: &str) -> Response {
        let title = format!("{status} {}", reason(status));
        let page = format!(
            "<!DOCTYPE HTML PUBLIC \"-//IETF//DTD HTML 2.0//EN\">\n<html><head>\n<title>{title}</title>\n\
             </head><body>\n<h1>{}</h1>\n<p>{message}</p>\n</body></html>\n",
            reason(status)
        );
        Response::bytes(status, "text/html; charset=iso-8859-1", page.into_bytes())
    }

    /// An answer with a body of the given type.
    pub fn bytes(status: u16, content_type: &str, body: Vec<u8>) -> Response {
        Response {
            status,
            headers: vec![("Content-Type".into(), content_type.into())],
            body: Body::Bytes(body),
            close: false,
        }
    }

    /// An answer without body.
    pub fn empty(status: u16) -> Response {
        Response {
            status,
            headers: Vec::new(),
            body: Body::Bytes(Vec::new()),
            close: false,
        }
    }

    /// Adds a header.
    pub fn with_header(mut self, name: &str, value: impl Into<String>) -> Response {
        self.headers.push((name.into(), value.into()));
        self
    }

    /// Marks the connection to be closed after this answer.
    pub fn closing(mut self) -> Response {
        self.close = true;
        self
    }

    /// Length of the body in bytes.
    pub fn body_len(&self) -> usize {
        match &self.body {
            Body::Bytes(b) => b.len(),
            Body::Huge {
                prefix,
                fill,
                suffix,
            } => prefix.len() + fill + suffix.len(),
            Body::Unsized { fill } => *fill,
            Body::Slow { bytes, .. } | Body::Cut(bytes) => bytes.len(),
        }
    }
}

/// Writes `response`; `head_only` leaves the body out (HEAD requests).
pub(crate) fn write_response<W: Write>(
    w: &mut W,
    response: &Response,
    keep_alive: bool,
    head_only: bool,
) -> io::Result<()> {
    let mut out = Vec::with_capacity(256 + response.body_len().min(1 << 20));
    out.extend_from_slice(
        format!(
            "HTTP/1.1 {} {}\r\n",
            response.status,
            reason(response.status)
        )
        .as_bytes(),
    );
    out.extend_from_slice(
        format!(
            "Date: {}\r\nServer: Apache\r\n",
            http_date(SystemTime::now())
        )
        .as_bytes(),
    );
    for (name, value) in &response.headers {
        out.extend_from_slice(format!("{name}: {value}\r\n").as_bytes());
    }
    let unsized_body = matches!(response.body, Body::Unsized { .. });
    let connection = if keep_alive && !response.close && !unsized_body {
        "keep-alive"
    } else {
        "close"
    };
    if !unsized_body {
        out.extend_from_slice(format!("Content-Length: {}\r\n", response.body_len()).as_bytes());
    }
    out.extend_from_slice(format!("Connection: {connection}\r\n\r\n").as_bytes());
    if head_only {
        w.write_all(&out)?;
        return w.flush();
    }
    match &response.body {
        Body::Bytes(b) => {
            out.extend_from_slice(b);
            w.write_all(&out)?;
        }
        Body::Huge {
            prefix,
            fill,
            suffix,
        } => {
            out.extend_from_slice(prefix);
            w.write_all(&out)?;
            write_fill(w, *fill)?;
            w.write_all(suffix)?;
        }
        Body::Unsized { fill } => {
            w.write_all(&out)?;
            write_fill(w, *fill)?;
        }
        Body::Slow { bytes, pace } => {
            w.write_all(&out)?;
            for b in bytes {
                w.flush()?;
                std::thread::sleep(*pace);
                w.write_all(std::slice::from_ref(b))?;
            }
        }
        Body::Cut(bytes) => {
            out.extend_from_slice(&bytes[..bytes.len() / 2]);
            w.write_all(&out)?;
        }
    }
    w.flush()
}

/// Writes `fill` bytes of `x`, 64 KiB at a time.
fn write_fill<W: Write>(w: &mut W, fill: usize) -> io::Result<()> {
    let block = vec![b'x'; 64 * 1024];
    let mut left = fill;
    while left > 0 {
        let n = left.min(block.len());
        w.write_all(&block[..n])?;
        left -= n;
    }
    Ok(())
}

/// The reason phrase of a status.
pub(crate) fn reason(status: u16) -> &'static str {
    match status {
        100 => "Continue",
        200 => "OK",
        201 => "Created",
        204 => "No Content",
        400 => "Bad Request",
        401 => "Unauthorized",
        403 => "Forbidden",
        404 => "Not Found",
        405 => "Method Not Allowed",
        408 => "Request Timeout",
        411 => "Length Required",
        413 => "Request Entity Too Large",
        414 => "Request-URI Too Long",
        500 => "Internal Server Error",
        502 => "Bad Gateway",
        503 => "Service Unavailable",
        504 => "Gateway Timeout",
        _ => "Unknown",
    }
}

/// An IMF-fixdate, e.g. `Sun, 06 Nov 1994 08:49:37 GMT`.
fn http_date(t: SystemTime) -> String {
    let secs = t
        .duration_since(SystemTime::UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0);
    let (days, rem) = (secs.div_euclid(86_400), secs.rem_euclid(86_400));
    // Civil date from days since 1970-01-01 (Howard Hinnant's algorithm).
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    const DAYS: [&str; 7] = ["Thu", "Fri", "Sat", "Sun", "Mon", "Tue", "Wed"];
    const MONTHS: [&str; 12] = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ];
    format!(
        "{}, {day:02} {} {year} {:02}:{:02}:{:02} GMT",
        DAYS[days.rem_euclid(7) as usize],
        MONTHS[(month - 1) as usize],
        rem / 3600,
        rem / 60 % 60,
        rem % 60
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn writes_length_and_connection() {
        let mut out = Vec::new();
        let response = Response::errors(404, "AEC_NOT_FOUND", "no");
        write_response(&mut out, &response, true, false).unwrap();
        let text = String::from_utf8(out).unwrap();
        assert!(text.starts_with("HTTP/1.1 404 Not Found\r\n"));
        assert!(text.contains("Connection: keep-alive\r\n"));
        assert!(text.ends_with("\"message\":\"no\"}]}"));
    }

    #[test]
    fn streams_huge_bodies_and_closes_when_asked() {
        let response = Response {
            status: 200,
            headers: Vec::new(),
            body: Body::Huge {
                prefix: b"[".to_vec(),
                fill: 100_000,
                suffix: b"]".to_vec(),
            },
            close: true,
        };
        let mut out = Vec::new();
        write_response(&mut out, &response, true, false).unwrap();
        let text = String::from_utf8(out).unwrap();
        assert!(text.contains("Content-Length: 100002\r\nConnection: close\r\n"));
        assert!(text.ends_with("xx]"));
    }

    #[test]
    fn unsized_bodies_have_no_length_and_close() {
        let response = Response::bytes(200, "application/json", Vec::new());
        let response = Response {
            body: Body::Unsized { fill: 10 },
            ..response
        };
        let mut out = Vec::new();
        write_response(&mut out, &response, true, false).unwrap();
        let text = String::from_utf8(out).unwrap();
        assert!(!text.contains("Content-Length"));
        assert!(text.contains("Connection: close\r\n\r\nxxxxxxxxxx"));
    }

    #[test]
    fn cut_bodies_announce_everything_and_send_half() {
        let response = Response::bytes(200, "application/json", Vec::new());
        let response = Response {
            body: Body::Cut(b"0123456789".to_vec()),
            ..response
        };
        let mut out = Vec::new();
        write_response(&mut out, &response, true, false).unwrap();
        let text = String::from_utf8(out).unwrap();
        assert!(text.contains("Content-Length: 10\r\n"));
        assert!(text.ends_with("\r\n\r\n01234"));
    }

    #[test]
    fn dates_are_imf_fixdates() {
        let t = SystemTime::UNIX_EPOCH + std::time::Duration::from_secs(784_111_777);
        assert_eq!(http_date(t), "Sun, 06 Nov 1994 08:49:37 GMT");
    }
}
