//! What can go wrong talking OneRoster REST, on either side.
//!
//! A [`RestError`] names the request's path (with its page offset) and what to do; it
//! never holds a token, a secret, a response body or any person's value. It converts into
//! [`MisError`] so the connector fits beside the file readers: transport failures become
//! [`MisError::Io`] with an [`io::ErrorKind`] that says which failure it was (and the
//! [`RestErrorKind`] as its source), and bad records become [`MisError::BadValue`] or
//! [`MisError::DuplicateSourcedId`] with the record's position in its collection as the
//! line.
//!
//! Limitation: [`MisError`] has no REST variant yet, so transport failures travel as
//! [`MisError::Io`], whose message ends with that variant's file-oriented advice.

use std::fmt;
use std::io;
use std::time::Duration;

use crate::mis::MisError;

/// A failed OneRoster REST request or response.
#[derive(Debug)]
pub struct RestError {
    /// The request, e.g. `GET /ims/oneroster/v1p1/users?offset=200`.
    pub path: String,
    /// What went wrong.
    pub kind: RestErrorKind,
}

/// What went wrong with one request.
#[derive(Debug, thiserror::Error)]
pub enum RestErrorKind {
    /// The connector's configuration cannot be used.
    #[error("{reason}")]
    Config {
        /// What is wrong and what to change.
        reason: String,
    },

    /// No connection could be made or kept.
    #[error("cannot connect ({reason}); check the MIS address, its port and its certificate")]
    Connect {
        /// A value-free reason, e.g. `connection refused`.
        reason: String,
    },

    /// The server did not answer in time.
    #[error("no answer within {}s; the MIS may be down or overloaded, try again later",
        .after.as_secs_f32())]
    Timeout {
        /// The configured timeout.
        after: Duration,
    },

    /// The token endpoint refused the client id or secret.
    #[error(
        "the token endpoint refused the client credentials (HTTP {status}); \
             check the client id and secret the MIS supplier issued"
    )]
    Credentials {
        /// The HTTP status, usually 400 or 401.
        status: u16,
    },

    /// The API refused the access token, even after a fresh one was fetched.
    #[error(
        "the API refused the access token (HTTP {status}); check that the client may \
             read rostering data"
    )]
    Unauthorised {
        /// The HTTP status, 401 or 403.
        status: u16,
    },

    /// The server answered with an unexpected status.
    #[error("the server answered HTTP {status}{}", hint(*.status))]
    Status {
        /// The HTTP status.
        status: u16,
    },

    /// The body is not the JSON the standard describes.
    #[error("the response is not OneRoster JSON ({reason}); ask the MIS supplier")]
    BadBody {
        /// What is wrong with it, without any value from it.
        reason: String,
    },

    /// A record's field does not hold the kind of value it needs.
    #[error("record {position} ({sourced_id}): field {field} is not {expected}")]
    BadValue {
        /// The record's 1-based position in its collection.
        position: u64,
        /// The record's identifier (blank when that is what is missing).
        sourced_id: String,
        /// The field.
        field: &'static str,
        /// What it should be.
        expected: String,
    },

    /// Two records of one collection share a `sourcedId`, or a page was served twice.
    #[error(
        "record {position}: sourcedId {sourced_id} was already served at record \
             {first_position}; the server may be ignoring offset"
    )]
    Duplicate {
        /// The second record's 1-based position.
        position: u64,
        /// The first record's 1-based position.
        first_position: u64,
        /// The repeated identifier.
        sourced_id: String,
    },
}

fn hint(status: u16) -> &'static str {
    match status {
        500..=599 => "; the MIS failed, try again later or ask its supplier",
        404 => "; check the base URL (it ends in /ims/oneroster/v1p1)",
        429 => "; the MIS is rate limiting, read less often",
        _ => "",
    }
}

impl RestError {
    /// An error about the request described by `path`.
    pub fn new(path: impl Into<String>, kind: RestErrorKind) -> Self {
        RestError {
            path: path.into(),
            kind,
        }
    }

    /// The REST error inside a [`MisError`] made from one, if it was.
    pub fn kind_of(error: &MisError) -> Option<&RestErrorKind> {
        match error {
            MisError::Io { source, .. } => source.get_ref()?.downcast_ref(),
            _ => None,
        }
    }
}

impl fmt::Display for RestError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.path, self.kind)
    }
}

impl std::error::Error for RestError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        Some(&self.kind)
    }
}

impl From<RestError> for MisError {
    fn from(error: RestError) -> Self {
        let RestError { path, kind } = error;
        let io_kind = match &kind {
            RestErrorKind::BadValue {
                position,
                sourced_id,
                field,
                expected,
            } => {
                return MisError::BadValue {
                    file: path,
                    line: *position,
                    column: (*field).to_owned(),
                    expected: format!("{expected} (record {sourced_id})"),
                };
            }
            RestErrorKind::Duplicate {
                position,
                first_position,
                sourced_id,
            } => {
                return MisError::DuplicateSourcedId {
                    file: path,
                    line: *position,
                    first_line: *first_position,
                    sourced_id: sourced_id.clone(),
                };
            }
            RestErrorKind::Config { .. } => io::ErrorKind::InvalidInput,
            RestErrorKind::Connect { .. } => io::ErrorKind::ConnectionRefused,
            RestErrorKind::Timeout { .. } => io::ErrorKind::TimedOut,
            RestErrorKind::Credentials { .. } | RestErrorKind::Unauthorised { .. } => {
                io::ErrorKind::PermissionDenied
            }
            RestErrorKind::Status { .. } => io::ErrorKind::Other,
            RestErrorKind::BadBody { .. } => io::ErrorKind::InvalidData,
        };
        MisError::Io {
            file: path,
            source: io::Error::new(io_kind, kind),
        }
    }
}

/// Why the OneRoster REST server stopped or could not start.
#[derive(Debug, thiserror::Error)]
pub enum ServeError {
    /// The bundle to serve cannot be read.
    #[error("the bundle cannot be served: {0}")]
    Bundle(#[from] MisError),

    /// The listener failed.
    #[error("the server stopped ({0}); check the listen address")]
    Io(#[from] io::Error),
}
