//! The error a plugin returns across the boundary, classified so that the host can
//! decide what to retry.
//!
//! The host owns buffering and retries; a sink writes once and says which class its
//! failure belongs to.

use std::fmt;

use abi_stable::std_types::RString;
use abi_stable::StableAbi;

/// What kind of failure a [`SinkError`] reports.
#[repr(u8)]
#[derive(StableAbi, Clone, Copy, Debug, PartialEq, Eq)]
pub enum ErrorKind {
    /// The backend is unreachable or overloaded (connection refused, timeout, 5xx,
    /// 429): the host keeps the batch and tries again later.
    Retryable,
    /// The data was refused and sending it again cannot help (a malformed line, a
    /// type conflict): the host drops the batch and counts it.
    Permanent,
    /// The plugin's configuration is wrong (bad credentials, missing database, a
    /// required key absent): an operator must act. The host reports it clearly and
    /// treats it as retryable, so that data flows again once it is fixed.
    Config,
    /// The plugin panicked; the host stops using this sink instance.
    Panicked,
    /// The plugin does not support the request (an unknown `control` command).
    Unsupported,
}

/// An error returned by a plugin: a [`ErrorKind`] and a human-readable message.
///
/// Messages are lower-case, without a trailing period, and never contain secrets.
#[repr(C)]
#[derive(StableAbi, Clone, Debug, PartialEq)]
pub struct SinkError {
    /// The class of failure.
    pub kind: ErrorKind,
    /// What went wrong, for the operator.
    pub message: RString,
}

impl SinkError {
    /// An error of the given kind.
    pub fn new(kind: ErrorKind, message: impl Into<String>) -> SinkError {
        SinkError {
            kind,
            message: RString::from(message.into()),
        }
    }

    /// The backend is down or busy; try again later.
    pub fn retryable(message: impl Into<String>) -> SinkError {
        SinkError::new(ErrorKind::Retryable, message)
    }

    /// The data was refused; do not send it again.
    pub fn permanent(message: impl Into<String>) -> SinkError {
        SinkError::new(ErrorKind::Permanent, message)
    }

    /// The configuration is wrong; an operator must fix it.
    pub fn config(message: impl Into<String>) -> SinkError {
        SinkError::new(ErrorKind::Config, message)
    }

    /// Whether the host should keep the batch and try again.
    pub fn is_retryable(&self) -> bool {
        matches!(self.kind, ErrorKind::Retryable | ErrorKind::Config)
    }
}

impl fmt::Display for ErrorKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            ErrorKind::Retryable => "retryable error",
            ErrorKind::Permanent => "permanent error",
            ErrorKind::Config => "configuration error",
            ErrorKind::Panicked => "plugin panicked",
            ErrorKind::Unsupported => "unsupported",
        })
    }
}

impl fmt::Display for SinkError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.kind, self.message)
    }
}

impl std::error::Error for SinkError {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn config_errors_are_retried_so_a_fix_resumes_delivery() {
        assert!(SinkError::config("bad token").is_retryable());
        assert!(SinkError::retryable("down").is_retryable());
        assert!(!SinkError::permanent("bad line").is_retryable());
    }

    #[test]
    fn display_names_the_kind() {
        let e = SinkError::permanent("field type conflict");
        assert_eq!(e.to_string(), "permanent error: field type conflict");
    }
}
