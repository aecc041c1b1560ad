//! The client's error type.

use std::time::Duration;

use crate::validation::ValidationError;

/// Everything a client call can fail with. Messages never contain the API key.
///
/// ```
/// use sevenoways_sdk::{Error, Phone};
/// let err: Error = Phone::new("+44").unwrap_err().into();
/// assert!(err.to_string().starts_with("invalid request: phone: "));
/// ```
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The value was refused before any request was sent.
    #[error("invalid request: {0}")]
    Validation(#[from] ValidationError),
    /// 401: the API key is missing or wrong.
    #[error("unauthorized (401): {message}")]
    Unauthorized {
        /// The server's message.
        message: String,
    },
    /// 429: a rate limit or message cap. Retried automatically unless retries are off
    /// or the wait is longer than the client's limit.
    #[error("rate limited (429): {message}{}", retry_after.map(|d| format!(" (retry after {}s)", d.as_secs())).unwrap_or_default())]
    RateLimited {
        /// When the server says to try again.
        retry_after: Option<Duration>,
        /// The server's message, e.g. the documented
        /// `Send rate limit exceeded — max 60 requests/minute per API key.`
        message: String,
    },
    /// 404: the instance, channel, schedule or queue entry does not exist for this key.
    #[error("not found (404): {message}")]
    NotFound {
        /// The server's message.
        message: String,
    },
    /// Any other non-success answer.
    #[error("API error ({status}): {message}")]
    Api {
        /// The HTTP status.
        status: u16,
        /// The server's message, or an excerpt of the body if it sent no envelope.
        message: String,
    },
    /// No answer within the client's timeout.
    #[error("request timed out after {0:?}")]
    Timeout(Duration),
    /// The request did not reach the server, or the connection broke.
    #[error("network error: {0}")]
    Transport(String),
    /// A success answer that is not the documented shape.
    #[error("could not decode the response at `{path}`: {message} (body starts: {excerpt:?})")]
    Decode {
        /// The JSON path of the bad field (`instances[0].createdAt`).
        path: String,
        /// What was wrong.
        message: String,
        /// The body's first 200 characters.
        excerpt: String,
    },
}

impl Error {
    /// The HTTP status, where the server answered.
    pub fn status(&self) -> Option<u16> {
        match self {
            Error::Unauthorized { .. } => Some(401),
            Error::RateLimited { .. } => Some(429),
            Error::NotFound { .. } => Some(404),
            Error::Api { status, .. } => Some(*status),
            _ => None,
        }
    }
}

/// Shorthand for `Result<T, sevenoways_sdk::Error>`.
pub type Result<T, E = Error> = std::result::Result<T, E>;
