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
    /// send, whether the message may already be queued. For `false` the request was
    /// certainly not acted on and can be sent again as it is.
    ///
    /// The client retries these failures itself, a `POST` with the `Idempotency-Key` of its
    /// first attempt, so you see one only when its retries ran out (or are turned off):
    /// the server did not answer in all that time. Sending the request again is safe
    /// **with the same key**, which the server answers with the first answer if it did act
    /// (for 24 hours). The client's own keys are fresh per call, so a program that may
    /// send again later chooses the key ([`Call::idempotency_key`](crate::Call::idempotency_key)),
    /// as `svw send --csv` does for each row; a new key means a new send.
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
    /// ```
    /// use std::time::Duration;
    /// use sevenoways_sdk::Error;
    ///
    /// // Connection refused: nothing left this machine, so sending again is safe.
    /// let refused = Error::Transport { sent: false, source: "connection refused".into() };
    /// assert!(!refused.may_have_been_processed());
    ///
    /// // No answer in time, after every retry: the message may be queued; send it again
    /// // only with the same Idempotency-Key.
    /// assert!(Error::Timeout(Duration::from_secs(30)).may_have_been_processed());
    ///
    /// let rate_limited = Error::RateLimited { retry_after: None, message: "slow down".into() };
    /// assert!(!rate_limited.may_have_been_processed());
    /// ```
    ///
    /// A sender that keys its requests can send again whatever the answer was:
    ///
    /// ```no_run
    /// # use sevenoways_sdk::{Client, Error};
    /// # use sevenoways_sdk::models::messages::SendNumberRequest;
    /// # async fn run(client: &Client, request: &SendNumberRequest) {
    /// let key = "order-1234-ready";
    /// match client.call(request).idempotency_key(key).await {
    ///     Ok(queued) => println!("queued as {}", queued.queue_id),
    ///     Err(err) if err.may_have_been_processed() => {
    ///         eprintln!("{err}: maybe queued; sending again with key {key} cannot send it twice")
    ///     }
    ///     Err(err) => eprintln!("{err}: not sent"),
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
