//! The HTTP client: configuration, encoding and error mapping. When to retry is
//! [`retry`], a pure function apart from the transport.
//!
//! Every `POST` carries an `Idempotency-Key` (a fresh UUID v4 unless the caller chose one
//! with [`Call::idempotency_key`]) and every retry of it carries the same key, so the
//! server answers a retry of a request it already acted on with the first answer instead
//! of acting twice. That is what lets the client retry sends after a 5xx, a timeout or a
//! dropped connection.

mod pages;
mod retry;

use std::future::{Future, IntoFuture};
use std::marker::PhantomData;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use reqwest::header::{CONTENT_TYPE, HeaderMap, HeaderValue, RETRY_AFTER};
use reqwest::{Method, StatusCode};
use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::endpoint::{Endpoint, Method as EndpointMethod};
use crate::error::{Error, Result};
use crate::ids::IdempotencyKey;
use crate::models::common::ErrorBody;
use crate::models::messages::Queued;
use crate::secret::ApiKey;
use crate::validation::ValidationError;
pub use pages::Pages;
use retry::Failure;

/// The production API.
pub const DEFAULT_BASE_URL: &str = "https://sevenoways.app";

/// How POST bodies are encoded. Both are documented; the server treats them alike.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum BodyEncoding {
    /// `application/json` (the default).
    #[default]
    Json,
    /// `application/x-www-form-urlencoded`, lists as `groupIds[]=A&groupIds[]=B`,
    /// as n8n and Pabbly send them.
    Form,
}

/// A client for the Sevenoways Relay API. Cheap to clone; clones share one connection pool.
///
/// ```no_run
/// use sevenoways_sdk::{Client, GroupTarget};
/// use sevenoways_sdk::models::messages::SendRequest;
/// # async fn run() -> Result<(), sevenoways_sdk::Error> {
/// let client = Client::builder().api_key("YOUR_API_KEY").build()?;
/// let queued = client
///     .messages()
///     .send(&SendRequest::new(
///         "number2".parse()?,
///         GroupTarget::names(["Team A"])?,
///         "Hello everyone! 👋".try_into()?,
///     ))
///     .await?;
/// println!("queued as {}", queued.queue_id);
/// # Ok(()) }
/// ```
#[derive(Clone)]
pub struct Client {
    inner: Arc<Inner>,
}

struct Inner {
    http: reqwest::Client,
    base_url: String,
    encoding: BodyEncoding,
    retry: retry::Policy,
    timeout: Duration,
}

impl std::fmt::Debug for Client {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Client")
            .field("base_url", &self.inner.base_url)
            .field("api_key", &"<redacted>")
            .field("encoding", &self.inner.encoding)
            .field("max_retries", &self.inner.retry.max_retries)
            .finish()
    }
}

/// Builds a [`Client`]. Only the API key is required.
#[derive(Debug, Clone)]
pub struct ClientBuilder {
    api_key: Option<ApiKey>,
    base_url: String,
    encoding: BodyEncoding,
    timeout: Duration,
    connect_timeout: Duration,
    max_retries: u32,
    max_retry_wait: Duration,
    user_agent: Option<String>,
}

impl Default for ClientBuilder {
    fn default() -> Self {
        Self {
            api_key: None,
            base_url: DEFAULT_BASE_URL.to_owned(),
            encoding: BodyEncoding::Json,
            timeout: Duration::from_secs(30),
            connect_timeout: Duration::from_secs(10),
            max_retries: 3,
            max_retry_wait: Duration::from_secs(60),
            user_agent: None,
        }
    }
}

impl ClientBuilder {
    /// The API key sent as `x-api-key`.
    pub fn api_key(mut self, key: impl Into<ApiKey>) -> Self {
        self.api_key = Some(key.into());
        self
    }

    /// The server, e.g. `http://127.0.0.1:8080` for a local `sevenoways-server`.
    /// Defaults to [`DEFAULT_BASE_URL`].
    pub fn base_url(mut self, url: impl Into<String>) -> Self {
        self.base_url = url.into();
        self
    }

    /// JSON (default) or form-urlencoded bodies.
    pub fn encoding(mut self, encoding: BodyEncoding) -> Self {
        self.encoding = encoding;
        self
    }

    /// The whole request's time limit (default 30 s).
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    /// The time limit for opening a connection (default 10 s).
    pub fn connect_timeout(mut self, timeout: Duration) -> Self {
        self.connect_timeout = timeout;
        self
    }

    /// How many times a failed request is retried (default 3; 0 turns retries off).
    ///
    /// Retried, waiting the answer's `Retry-After` when it has one and a growing backoff
    /// otherwise: 429, 500, 502, 503, 504, a 409 with `Retry-After` (another request with
    /// the same `Idempotency-Key` is in progress), timeouts, and connections that failed
    /// or dropped. A `POST` is retried with the `Idempotency-Key` of its first attempt,
    /// so a send the server already queued is answered, not queued again; `GET` and
    /// `DELETE` are safe to repeat as they are.
    pub fn max_retries(mut self, retries: u32) -> Self {
        self.max_retries = retries;
        self
    }

    /// The longest single wait between retries (default 60 s). A `Retry-After` longer
    /// than this is not waited for: the call fails with [`Error::RateLimited`].
    pub fn max_retry_wait(mut self, wait: Duration) -> Self {
        self.max_retry_wait = wait;
        self
    }

    /// Prefixes the User-Agent (e.g. `svw/0.1.0`); the SDK's own name and version follow.
    pub fn user_agent(mut self, product: impl Into<String>) -> Self {
        self.user_agent = Some(product.into());
        self
    }

    /// Builds the client.
    pub fn build(self) -> Result<Client> {
        let key = self.api_key.ok_or_else(|| {
            ValidationError::new("apiKey", "expected an API key (set SEVENOWAYS_API_KEY)")
        })?;
        let mut header = HeaderValue::from_str(key.expose().trim()).map_err(|_| {
            ValidationError::new("apiKey", "expected printable ASCII characters only")
        })?;
        header.set_sensitive(true);
        let mut headers = HeaderMap::new();
        headers.insert("x-api-key", header);

        let base_url = self.base_url.trim_end_matches('/').to_owned();
        let parsed = url::Url::parse(&base_url).map_err(|_| {
            ValidationError::new(
                "baseUrl",
                format!("expected an http(s) URL, got {base_url:?}"),
            )
        })?;
        if !matches!(parsed.scheme(), "http" | "https") {
            return Err(ValidationError::new("baseUrl", "expected an http or https URL").into());
        }

        let sdk = concat!("sevenoways-sdk/", env!("CARGO_PKG_VERSION"));
        let user_agent = match self.user_agent {
            Some(product) => format!("{product} {sdk}"),
            None => sdk.to_owned(),
        };
        let http = reqwest::Client::builder()
            .default_headers(headers)
            .user_agent(user_agent)
            .timeout(self.timeout)
            .connect_timeout(self.connect_timeout)
            // A kept-alive connection idle this long is not reused. The relay closes one
            // idle for 10 s (`http.header_read_timeout_secs`), as many servers and proxies
            // close theirs at 5–15 s; a request sent on it just as the server closes it
            // breaks after it left (`Transport { sent: true }`), which only a retry mends.
            .pool_idle_timeout(POOL_IDLE_TIMEOUT)
            .build()
            .map_err(|e| Error::Transport {
                sent: false,
                source: Box::new(e),
            })?;
        Ok(Client {
            inner: Arc::new(Inner {
                http,
                base_url,
                encoding: self.encoding,
                retry: retry::Policy {
                    max_retries: self.max_retries,
                    max_wait: self.max_retry_wait,
                },
                timeout: self.timeout,
            }),
        })
    }
}

/// How long an idle kept-alive connection stays in the client's pool: under the 5 s
/// many servers keep one (the relay keeps one 10 s).
const POOL_IDLE_TIMEOUT: Duration = Duration::from_secs(4);

impl Client {
    /// Starts a [`ClientBuilder`].
    pub fn builder() -> ClientBuilder {
        ClientBuilder::default()
    }

    /// A client configured from `SEVENOWAYS_API_KEY` and, if set, `SEVENOWAYS_BASE_URL`.
    pub fn from_env() -> Result<Self> {
        let mut builder = Self::builder();
        if let Ok(key) = std::env::var(crate::env::API_KEY) {
            builder = builder.api_key(key);
        }
        if let Ok(url) = std::env::var(crate::env::BASE_URL)
            && !url.trim().is_empty()
        {
            builder = builder.base_url(url);
        }
        builder.build()
    }

    /// The server this client talks to, without a trailing slash.
    pub fn base_url(&self) -> &str {
        &self.inner.base_url
    }

    /// Sends one operation and decodes its answer: the one way every handle method
    /// ([`Client::instances`], [`Client::messages`], ...) talks to the server.
    ///
    /// The request is checked and encoded now ([`Endpoint::check`]), so a bad value fails
    /// before anything is sent, and sent when the [`Call`] is awaited. Failed attempts
    /// are retried as [`ClientBuilder::max_retries`] describes.
    ///
    /// ```no_run
    /// use sevenoways_sdk::Client;
    /// use sevenoways_sdk::models::instances::GetQr;
    /// # async fn run(client: Client) -> Result<(), sevenoways_sdk::Error> {
    /// let qr = client.call(&GetQr { id: "number2".parse()? }).await?;
    /// println!("{:?}", qr.pairing_code);
    /// # Ok(()) }
    /// ```
    ///
    /// A `POST` goes with a fresh `Idempotency-Key`; name the request yourself when you may
    /// send it again later, from another process or after a restart (an order number, a
    /// row of a file): the server then answers every send of it with the first answer.
    ///
    /// ```no_run
    /// use sevenoways_sdk::{Client, Phone};
    /// use sevenoways_sdk::models::messages::SendNumberRequest;
    /// # async fn run(client: Client) -> Result<(), sevenoways_sdk::Error> {
    /// let req = SendNumberRequest::new(
    ///     "number2".parse()?,
    ///     Phone::normalize("+971 50 123 4567")?,
    ///     "Your order 1234 is ready".try_into()?,
    /// );
    /// let queued = client.call(&req).idempotency_key("order-1234-ready").await?;
    /// # Ok(()) }
    /// ```
    pub fn call<E: Endpoint>(&self, endpoint: &E) -> Call<'_, E::Response> {
        let request = endpoint.check().map_err(Error::from).and_then(|()| {
            let mut path = endpoint.path().into_owned();
            let query = endpoint.query();
            if !query.is_empty() {
                path.push('?');
                path.push_str(
                    &url::form_urlencoded::Serializer::new(String::new())
                        .extend_pairs(query)
                        .finish(),
                );
            }
            let body = match endpoint.body() {
                Some(body) => Some(self.encode(body)?),
                None => None,
            };
            Ok(Prepared {
                method: E::METHOD,
                path,
                body,
                key: None,
            })
        });
        Call::new(self, request)
    }

    /// The body in the configured encoding, with its content type.
    fn encode<B: Serialize + ?Sized>(&self, body: &B) -> Result<(&'static str, Vec<u8>)> {
        Ok(match self.inner.encoding {
            BodyEncoding::Json => (
                "application/json",
                serde_json::to_vec(body).map_err(|e| Error::Transport {
                    sent: false,
                    source: Box::new(e),
                })?,
            ),
            BodyEncoding::Form => (
                "application/x-www-form-urlencoded",
                crate::body::to_form(body).into_bytes(),
            ),
        })
    }

    /// POSTs a send whose endpoint is chosen at run time ([`Client::send_message`]).
    pub(crate) fn post_send(&self, route: &str, body: &impl Serialize) -> Call<'_, Queued> {
        let request = self.encode(body).map(|body| Prepared {
            method: EndpointMethod::Post,
            path: route.to_owned(),
            body: Some(body),
            key: None,
        });
        Call::new(self, request)
    }

    async fn execute<T: DeserializeOwned>(&self, request: Prepared) -> Result<T> {
        let Prepared {
            method,
            path,
            body,
            key,
        } = request;
        let url = format!("{}{}", self.inner.base_url, path);
        // One key for every attempt: that is what makes a retried POST safe.
        let key = match method {
            EndpointMethod::Post => Some(key.unwrap_or_else(IdempotencyKey::generate)),
            EndpointMethod::Get | EndpointMethod::Delete => None,
        };
        let repeatable = method.is_idempotent() || key.is_some();
        let method = match method {
            EndpointMethod::Get => Method::GET,
            EndpointMethod::Post => Method::POST,
            EndpointMethod::Delete => Method::DELETE,
        };
        let mut attempt = 0u32;
        loop {
            let mut request = self.inner.http.request(method.clone(), &url);
            if let Some(key) = &key {
                request = request.header(IDEMPOTENCY_KEY, key.as_str());
            }
            if let Some((content_type, bytes)) = &body {
                request = request
                    .header(CONTENT_TYPE, *content_type)
                    .body(bytes.clone());
            }
            let outcome = match request.send().await {
                Ok(response) => self.read(response).await,
                Err(e) => Err(self.transport_error(e)),
            };
            let failed = match outcome {
                Ok(value) => return Ok(value),
                Err(failed) => failed,
            };
            let Some(wait) = retry::decide(
                failed.failure,
                repeatable,
                attempt,
                self.inner.retry,
                retry::backoff(attempt),
            ) else {
                return Err(failed.error);
            };
            attempt += 1;
            tokio::time::sleep(wait).await;
        }
    }

    async fn read<T: DeserializeOwned>(&self, response: reqwest::Response) -> Result<T, Failed> {
        let status = response.status();
        let retry_after = response
            .headers()
            .get(RETRY_AFTER)
            .and_then(|v| v.to_str().ok())
            .and_then(retry::parse_retry_after);
        // The answer had begun, so the request was sent whatever broke while reading it.
        let bytes = response.bytes().await.map_err(|e| Failed {
            error: self.transport_error_inner(e, true),
            failure: Failure::Connection { sent: true },
        })?;
        if status.is_success() {
            // Some proxies and no-code relays answer 200 with the error envelope inside.
            if let Ok(body) = serde_json::from_slice::<ErrorBody>(&bytes)
                && !body.success
            {
                return Err(Failed::last(Error::Api {
                    status: status.as_u16(),
                    message: body.error,
                    retry_after,
                }));
            }
            // `T` itself rather than `Success<T>`: the envelope's `success` key is ignored as
            // an unknown field either way, and without the envelope's `#[serde(flatten)]`
            // the error keeps its path (`channels[0].subscribers`, not `.`).
            let de = &mut serde_json::Deserializer::from_slice(&bytes);
            return serde_path_to_error::deserialize::<_, T>(de)
                .map_err(|e| Failed::last(decode_error(e, &bytes)));
        }
        let message = serde_json::from_slice::<ErrorBody>(&bytes)
            .map(|b| b.error)
            .unwrap_or_else(|_| excerpt(&bytes));
        let error = match status {
            StatusCode::UNAUTHORIZED => Error::Unauthorized { message },
            StatusCode::NOT_FOUND => Error::NotFound { message },
            StatusCode::TOO_MANY_REQUESTS => Error::RateLimited {
                retry_after,
                message,
            },
            _ => Error::Api {
                status: status.as_u16(),
                message,
                retry_after,
            },
        };
        Err(Failed {
            error,
            failure: Failure::Status {
                status: status.as_u16(),
                retry_after,
            },
        })
    }

    fn transport_error(&self, e: reqwest::Error) -> Failed {
        // A connect error (refused, DNS, TLS handshake, connect timeout) means the request
        // never left; anything later may have reached the server.
        let sent = !e.is_connect();
        Failed {
            error: self.transport_error_inner(e, sent),
            failure: Failure::Connection { sent },
        }
    }

    fn transport_error_inner(&self, e: reqwest::Error, sent: bool) -> Error {
        // A connect timeout is a connection failure like any other: nothing was sent.
        if e.is_timeout() && sent {
            Error::Timeout(self.inner.timeout)
        } else {
            // without_url: the URL holds no secret, but the message reads better without it
            // and never grows a query string someone added by hand.
            Error::Transport {
                sent,
                source: Box::new(e.without_url()),
            }
        }
    }
}

/// The header that names a request ([`IdempotencyKey`]).
const IDEMPOTENCY_KEY: &str = "idempotency-key";

/// A request checked and encoded, ready to send.
struct Prepared {
    method: EndpointMethod,
    /// With the query string.
    path: String,
    /// The content type and bytes.
    body: Option<(&'static str, Vec<u8>)>,
    /// The caller's `Idempotency-Key`; a `POST` without one gets a fresh one.
    key: Option<IdempotencyKey>,
}

/// One request to the server, sent when awaited: what [`Client::call`] and
/// [`Client::send_message`] return (the typed handles await it for you).
///
/// Before awaiting it, a `POST` can be given an `Idempotency-Key` of the caller's
/// choosing ([`Call::idempotency_key`]).
#[must_use = "a call sends nothing until it is awaited"]
pub struct Call<'a, T> {
    client: &'a Client,
    request: Result<Prepared>,
    answer: PhantomData<fn() -> T>,
}

impl<T> std::fmt::Debug for Call<'_, T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let mut d = f.debug_struct("Call");
        match &self.request {
            Ok(p) => d
                .field("method", &p.method)
                .field("path", &p.path)
                .field("idempotency_key", &p.key),
            Err(e) => d.field("error", e),
        };
        d.finish_non_exhaustive()
    }
}

impl<'a, T> Call<'a, T> {
    fn new(client: &'a Client, request: Result<Prepared>) -> Self {
        Self {
            client,
            request,
            answer: PhantomData,
        }
    }

    /// A call that fails with `error` when awaited, sending nothing.
    pub(crate) fn failed(client: &'a Client, error: Error) -> Self {
        Self::new(client, Err(error))
    }

    /// Sends this `POST` with `key` as its `Idempotency-Key` instead of a fresh one, so
    /// that sending the same request with the same key again, from this process or
    /// another, is answered with the first answer instead of being acted on twice (for
    /// 24 hours on the server). Use a key that names the request: `order-1234-ready`.
    ///
    /// The key must be 1 to 255 printable ASCII characters ([`IdempotencyKey`]); any
    /// other, or a key on a `GET` or `DELETE` (which are safe to repeat as they are), is
    /// an [`Error::Validation`] when the call is awaited, before anything is sent.
    pub fn idempotency_key(mut self, key: impl AsRef<str>) -> Self {
        if let Ok(prepared) = &mut self.request {
            if prepared.method != EndpointMethod::Post {
                self.request = Err(ValidationError::new(
                    "Idempotency-Key",
                    format!(
                        "only POST requests take one; a {} can be repeated as it is",
                        prepared.method
                    ),
                )
                .into());
            } else {
                match IdempotencyKey::new(key.as_ref()) {
                    Ok(key) => prepared.key = Some(key),
                    Err(e) => self.request = Err(e.into()),
                }
            }
        }
        self
    }
}

impl<'a, T: DeserializeOwned + Send + 'a> IntoFuture for Call<'a, T> {
    type Output = Result<T>;
    type IntoFuture = Pin<Box<dyn Future<Output = Result<T>> + Send + 'a>>;

    fn into_future(self) -> Self::IntoFuture {
        Box::pin(async move { self.client.execute(self.request?).await })
    }
}

/// A failed attempt: the error the caller gets if it is the last, and what the retry
/// rule needs to know.
struct Failed {
    error: Error,
    failure: Failure,
}

impl Failed {
    /// A failure no retry would change.
    fn last(error: Error) -> Self {
        Self {
            error,
            failure: Failure::Final,
        }
    }
}

fn decode_error(err: serde_path_to_error::Error<serde_json::Error>, body: &[u8]) -> Error {
    Error::Decode {
        path: err.path().to_string(),
        source: err.into_inner(),
        excerpt: excerpt(body),
    }
}

/// The body's first 200 characters for an error message, with the value of any `secret`
/// key replaced: a webhook's creation answer carries its signing secret.
fn excerpt(body: &[u8]) -> String {
    fn redact(v: &mut serde_json::Value) {
        match v {
            serde_json::Value::Object(map) => {
                for (k, v) in map.iter_mut() {
                    if k.to_ascii_lowercase().contains("secret") || k.eq_ignore_ascii_case("apiKey")
                    {
                        *v = serde_json::Value::String("<redacted>".into());
                    } else {
                        redact(v);
                    }
                }
            }
            serde_json::Value::Array(items) => items.iter_mut().for_each(redact),
            _ => {}
        }
    }
    let text = match serde_json::from_slice::<serde_json::Value>(body) {
        Ok(mut value) => {
            redact(&mut value);
            value.to_string()
        }
        Err(_) => String::from_utf8_lossy(body).into_owned(),
    };
    text.chars().take(200).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn excerpts_never_carry_secrets() {
        let body = br#"{"success":true,"webhook":{"id":"wh_1","url":5},"secret":"whsec_abcdef"}"#;
        let text = excerpt(body);
        assert!(!text.contains("whsec_abcdef"), "{text}");
        assert!(
            text.contains("<redacted>") && text.contains("wh_1"),
            "{text}"
        );
    }
}
