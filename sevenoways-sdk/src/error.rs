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
        /// The answer's `Retry-After`, if it had one (a 503 with one says the request was
        /// not acted on).
        retry_after: Option<Duration>,
    },
    /// No answer within the client's timeout; the request may have reached the server.
    /// (A connection that could not be opened within the connect timeout is a
    /// [`Error::Transport`] with `sent: false`.)
    #[error("request timed out after {0:?}")]
    Timeout(Duration),
    /// The request did not reach the server, or the connection broke before an answer came.
    ///
    /// The message lists the causes (`error sending request: client error (Connect): tcp
    /// connect error: Connection refused`), so one line says it all; `source` is the
    /// typed error, for programs that look inside (a `reqwest::Error`, without the URL).
    #[error("network error: {}", chain(.source.as_ref()))]
    Transport {
        /// Whether the request may have reached the server: `false` when the connection
        /// could not be opened (refused, DNS, TLS handshake), so nothing was sent;
        /// `true` when it broke after the request went out.
        sent: bool,
        /// What went wrong.
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
    },
    /// A success answer that is not the documented shape.
    #[error("could not decode the response at `{path}`: {source} (body starts: {excerpt:?})")]
    Decode {
        /// The JSON path of the bad field (`instances[0].createdAt`).
        path: String,
        /// What was wrong, at that path.
        #[source]
        source: serde_json::Error,
        /// The body's first 200 characters, with secrets redacted.
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

    /// Whether the server may have acted on the request even though the call failed: for a
    /// send, whether the message may already be queued. Retrying a call for which this is
    /// `true` could do its work twice (the API has no idempotency key); for `false` the
    /// request was certainly not acted on and can be sent again as it is.
    ///
    /// `true` for:
    /// - [`Error::Timeout`]: the request may have arrived, and the answer did not;
    /// - [`Error::Transport`] when the connection broke after the request was sent
    ///   (reset, closed without an answer);
    /// - a 5xx [`Error::Api`] (500, 502, 504, …), except a 503 with `Retry-After`, which
    ///   says the server did not take the request;
    /// - [`Error::Decode`]: a success answer came, so the request *was* processed, but
    ///   what it returned (a queue id, say) is lost.
    ///
    /// `false` for [`Error::Validation`] (nothing was sent), [`Error::Unauthorized`],
    /// [`Error::NotFound`], [`Error::RateLimited`], a 4xx or an error envelope in a 2xx
    /// [`Error::Api`], and an [`Error::Transport`] where no connection could be opened
    /// (refused, DNS failure, TLS handshake).
    ///
    /// The client retries `GET` and `DELETE` after timeouts and 5xx answers, so for those
    /// this describes the last attempt; a `POST` is only retried when nothing was acted on.
    ///
    /// ```
    /// use std::time::Duration;
    /// use sevenoways_sdk::Error;
    ///
    /// // Connection refused: nothing left this machine, so sending again is safe.
    /// let refused = Error::Transport { sent: false, source: "connection refused".into() };
    /// assert!(!refused.may_have_been_processed());
    ///
    /// // No answer in time: the message may be queued; check before sending again.
    /// assert!(Error::Timeout(Duration::from_secs(30)).may_have_been_processed());
    ///
    /// let rate_limited = Error::RateLimited { retry_after: None, message: "slow down".into() };
    /// assert!(!rate_limited.may_have_been_processed());
    /// ```
    ///
    /// A bulk sender can use it to tell a row it may re-send from one it must check first:
    ///
    /// ```no_run
    /// # use sevenoways_sdk::{Client, Error};
    /// # use sevenoways_sdk::models::messages::SendNumberRequest;
    /// # async fn run(client: &Client, request: &SendNumberRequest) {
    /// match client.messages().send_number(request).await {
    ///     Ok(queued) => println!("queued as {}", queued.queue_id),
    ///     Err(err) if err.may_have_been_processed() => {
    ///         eprintln!("{err}: it may be queued; check before sending again")
    ///     }
    ///     Err(err) => eprintln!("{err}: not sent; safe to try again"),
    /// }
    /// # }
    /// ```
    pub fn may_have_been_processed(&self) -> bool {
        match self {
            Error::Timeout(_) | Error::Decode { .. } => true,
            Error::Transport { sent, .. } => *sent,
            Error::Api {
                status: 503,
                retry_after: Some(_),
                ..
            } => false,
            Error::Api { status, .. } => *status >= 500,
            Error::Validation(_)
            | Error::Unauthorized { .. }
            | Error::NotFound { .. }
            | Error::RateLimited { .. } => false,
        }
    }
}

/// `e` and its causes, `: `-separated.
fn chain(e: &(dyn std::error::Error + 'static)) -> String {
    let mut out = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        out.push_str(": ");
        out.push_str(&s.to_string());
        source = s.source();
    }
    out
}

/// Shorthand for `Result<T, sevenoways_sdk::Error>`.
pub type Result<T, E = Error> = std::result::Result<T, E>;
