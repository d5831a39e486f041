//! What can go wrong writing to InfluxDB, classified for the host's retry logic,
//! and the parsing of InfluxDB's own reasons for refusing lines. Pure.

use std::fmt;

use idic_plugin_api::SinkError;

/// A failed request to InfluxDB: its kind and a message for the operator.
///
/// Messages are lower-case (but for names), without a trailing period, and never
/// contain a password or token.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Error {
    kind: ErrorKind,
    message: String,
    rejection: Option<Rejection>,
}

/// The kinds of [`Error`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum ErrorKind {
    /// No connection: refused, reset, name not resolved. Retryable.
    Unreachable,
    /// No complete answer within the configured timeout. Retryable.
    Timeout,
    /// The server is overloaded or failing: HTTP 5xx or 429. Retryable.
    Unavailable,
    /// The credentials or token were refused: HTTP 401 or 403. Configuration.
    Unauthorized,
    /// The database (v1) or bucket/org (v2) does not exist: HTTP 404.
    /// Configuration.
    NotFound,
    /// A request body larger than the server accepts: HTTP 413. Configuration
    /// (lower `max_request_bytes`).
    TooLarge,
    /// TLS failed: untrusted certificate, or TLS spoken to a plain HTTP server.
    /// Configuration.
    Tls,
    /// Some or all lines were refused (HTTP 400 or 422): a type conflict, a line
    /// that does not parse, a retention or cardinality limit. InfluxDB stored the
    /// other lines. Permanent: sending them again cannot help.
    Rejected,
    /// Any other answer (a redirect, an unexpected 4xx). Configuration: most likely
    /// `host`/`port` point at something that is not InfluxDB.
    Unexpected,
}

/// InfluxDB's reason for refusing lines (HTTP 400), as far as it can be read.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Rejection {
    /// InfluxDB's message (`error` in 1.x answers, `message` in 2.x ones).
    pub reason: String,
    /// The measurements the message names, in order, without repeats.
    pub measurements: Vec<String>,
    /// How many lines were dropped (`dropped=N`), when the message says.
    pub dropped: Option<u64>,
}

impl Error {
    /// An error of `kind`.
    pub fn new(kind: ErrorKind, message: impl Into<String>) -> Error {
        Error {
            kind,
            message: message.into(),
            rejection: None,
        }
    }

    /// A [`ErrorKind::Rejected`] error carrying InfluxDB's reason.
    pub fn rejected(message: impl Into<String>, rejection: Rejection) -> Error {
        Error {
            kind: ErrorKind::Rejected,
            message: message.into(),
            rejection: Some(rejection),
        }
    }

    /// The kind of failure.
    pub fn kind(&self) -> ErrorKind {
        self.kind
    }

    /// The message for the operator.
    pub fn message(&self) -> &str {
        &self.message
    }

    /// InfluxDB's reason, for [`ErrorKind::Rejected`].
    pub fn rejection(&self) -> Option<&Rejection> {
        self.rejection.as_ref()
    }

    /// The error as the host sees it: retryable, permanent or configuration.
    pub fn to_sink_error(&self) -> SinkError {
        match self.kind {
            ErrorKind::Unreachable | ErrorKind::Timeout | ErrorKind::Unavailable => {
                SinkError::retryable(self.message.clone())
            }
            ErrorKind::Rejected => SinkError::permanent(self.message.clone()),
            ErrorKind::Unauthorized
            | ErrorKind::NotFound
            | ErrorKind::TooLarge
            | ErrorKind::Tls
            | ErrorKind::Unexpected => SinkError::config(self.message.clone()),
        }
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for Error {}

/// The message of an InfluxDB error answer: the JSON `error` (1.x) or `message`
/// (2.x) string, else the body itself, trimmed and cut at 500 characters.
pub fn server_message(body: &str) -> String {
    let text = serde_json::from_str::<serde_json::Value>(body)
        .ok()
        .and_then(|v| {
            v.get("error")
                .or_else(|| v.get("message"))
                .and_then(|m| m.as_str().map(str::to_string))
        })
        .unwrap_or_else(|| body.trim().to_string());
    match text.char_indices().nth(500) {
        Some((i, _)) => format!("{}…", &text[..i]),
        None => text,
    }
}

/// Reads InfluxDB's reason for a 400: the message, the measurements it names and
/// the `dropped=N` count.
///
/// Recognised: `... on measurement "M" ...` (field type conflicts, invalid field
/// names), `measurement="M"` (series and tag-value limits) and
/// `unable to parse 'LINE'` (the measurement is the start of the line).
pub fn parse_rejection(body: &str) -> Rejection {
    let reason = server_message(body);
    let mut measurements: Vec<String> = Vec::new();
    let mut add = |m: String| {
        if !m.is_empty() && !measurements.contains(&m) {
            measurements.push(m);
        }
    };
    for part in reason.split("on measurement \"").skip(1) {
        add(part.split('"').next().unwrap_or("").to_string());
    }
    for part in reason.split("measurement=\"").skip(1) {
        add(part.split('"').next().unwrap_or("").to_string());
    }
    for part in reason.split("unable to parse '").skip(1) {
        add(line_measurement(part));
    }
    let dropped = reason
        .rsplit("dropped=")
        .next()
        .filter(|_| reason.contains("dropped="))
        .and_then(|rest| {
            let digits: String = rest.chars().take_while(char::is_ascii_digit).collect();
            digits.parse().ok()
        });
    Rejection {
        reason,
        measurements,
        dropped,
    }
}

/// The unescaped measurement at the start of a line of line protocol.
fn line_measurement(line: &str) -> String {
    let mut out = String::new();
    let mut chars = line.chars();
    while let Some(c) = chars.next() {
        match c {
            '\\' => match chars.next() {
                Some(n @ (',' | ' ')) => out.push(n),
                Some(n) => {
                    out.push('\\');
                    out.push(n);
                }
                None => out.push('\\'),
            },
            ',' | ' ' | '\'' => break,
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use idic_plugin_api::ErrorKind as Sink;

    fn check(body: &str, measurements: &[&str], dropped: Option<u64>) {
        let r = parse_rejection(body);
        assert_eq!(r.measurements, measurements, "{body}");
        assert_eq!(r.dropped, dropped, "{body}");
    }

    #[test]
    fn field_type_conflict_names_the_measurement() {
        check(
            r#"{"error":"partial write: field type conflict: input field \"value\" on measurement \"cluster.cpu.idle.avg\" is type integer, already exists as type float dropped=3"}"#,
            &["cluster.cpu.idle.avg"],
            Some(3),
        );
    }

    #[test]
    fn parse_errors_name_the_line_measurement() {
        check(
            r#"{"error":"unable to parse 'my\\ m\\,x,t=a v=x 1': invalid boolean\nunable to parse 'n v= 1': missing field value"}"#,
            &["my m,x", "n"],
            None,
        );
    }

    #[test]
    fn limit_errors_name_the_measurement() {
        check(
            r#"{"error":"partial write: max-values-per-tag limit exceeded (100001/100000): measurement=\"node.ifs.cache\" tag=\"node\" value=\"9\" dropped=1"}"#,
            &["node.ifs.cache"],
            Some(1),
        );
    }

    #[test]
    fn v2_messages_are_read_too() {
        let r = parse_rejection(
            r#"{"code":"invalid","message":"partial write error (2 written): field type conflict: input field \"op_count\" on measurement \"cluster.protostats.nfs\" is type float, already exists as type integer dropped=1"}"#,
        );
        assert_eq!(r.measurements, ["cluster.protostats.nfs"]);
        assert!(r.reason.starts_with("partial write error (2 written)"));
    }

    #[test]
    fn unknown_bodies_are_kept_as_the_reason() {
        let r = parse_rejection("  something odd\n");
        assert_eq!(r.reason, "something odd");
        assert!(r.measurements.is_empty());
        assert_eq!(r.dropped, None);
        assert_eq!(server_message(&"x".repeat(600)).chars().count(), 501);
    }

    #[test]
    fn kinds_map_to_the_host_classes() {
        let kind = |k| Error::new(k, "m").to_sink_error().kind;
        assert_eq!(kind(ErrorKind::Unreachable), Sink::Retryable);
        assert_eq!(kind(ErrorKind::Timeout), Sink::Retryable);
        assert_eq!(kind(ErrorKind::Unavailable), Sink::Retryable);
        assert_eq!(kind(ErrorKind::Unauthorized), Sink::Config);
        assert_eq!(kind(ErrorKind::NotFound), Sink::Config);
        assert_eq!(kind(ErrorKind::TooLarge), Sink::Config);
        assert_eq!(kind(ErrorKind::Tls), Sink::Config);
        assert_eq!(kind(ErrorKind::Unexpected), Sink::Config);
        assert_eq!(kind(ErrorKind::Rejected), Sink::Permanent);
    }
}
