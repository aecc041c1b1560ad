//! Request extractors that answer in the error envelope: bodies in JSON or form
//! encoding, and path parameters.

use axum::body::Bytes;
use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::header::CONTENT_TYPE;
use axum::http::request::Parts;
use serde::de::DeserializeOwned;
use sevenoways_sdk::{Validate, body};

use crate::AppState;
use crate::error::ApiError;

/// A validated request body, from `application/json` or
/// `application/x-www-form-urlencoded` alike.
///
/// With no `Content-Type`, a body starting with `{` is read as JSON and anything else as a
/// form (what `curl -d` sends). Any other type is 415.
#[derive(Debug)]
pub struct Body<T>(pub T);

impl<T> FromRequest<AppState> for Body<T>
where
    T: DeserializeOwned + Validate,
{
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &AppState) -> Result<Self, ApiError> {
        let limit = state.config.max_body_bytes;
        let content_type = req
            .headers()
            .get(CONTENT_TYPE)
            .map(|v| v.to_str().unwrap_or("").to_ascii_lowercase());
        let bytes = axum::body::to_bytes(req.into_body(), limit)
            .await
            .map_err(|_| ApiError::PayloadTooLarge(limit))?;
        let value: T = parse(content_type.as_deref(), &bytes)?;
        value.validate()?;
        Ok(Body(value))
    }
}

fn parse<T: DeserializeOwned>(content_type: Option<&str>, bytes: &Bytes) -> Result<T, ApiError> {
    let essence = content_type.map(|ct| ct.split(';').next().unwrap_or("").trim());
    let is_json = match essence {
        Some("application/json") => true,
        Some(ct) if ct.ends_with("+json") => true,
        Some("application/x-www-form-urlencoded") => false,
        Some(other) if !other.is_empty() => {
            return Err(ApiError::UnsupportedMediaType(format!(
                "unsupported Content-Type {other:?}: send application/json or application/x-www-form-urlencoded"
            )));
        }
        _ => bytes.iter().find(|b| !b.is_ascii_whitespace()) == Some(&b'{'),
    };
    let empty = bytes.iter().all(|b| b.is_ascii_whitespace());
    let result = match (is_json, empty) {
        (true, true) => body::from_json(b"{}"),
        (true, false) => body::from_json(bytes),
        (false, _) => body::from_form(bytes),
    };
    result.map_err(ApiError::from)
}

/// A path parameter, read exactly as sent (nothing trimmed), answering 404 when it cannot
/// name anything (an id with a space cannot exist).
#[derive(Debug)]
pub struct PathId<T>(pub T);

/// A value a path segment names: the SDK's ids, checked as the OpenAPI document's path
/// parameter schemas say.
pub trait FromPath: Sized {
    /// The value, or `None` when the segment cannot name one.
    fn from_path(raw: &str) -> Option<Self>;
}

macro_rules! from_path_exact {
    ($($ty:ty),*) => {
        $(impl FromPath for $ty {
            fn from_path(raw: &str) -> Option<Self> {
                <$ty>::exact(raw).ok()
            }
        })*
    };
}

from_path_exact!(
    sevenoways_sdk::InstanceId,
    sevenoways_sdk::ChannelId,
    sevenoways_sdk::ScheduleId,
    sevenoways_sdk::WebhookId,
    sevenoways_sdk::DeliveryId
);

impl FromPath for sevenoways_sdk::QueueId {
    /// Decimal digits only (no sign, no spaces), as the document's integer says.
    fn from_path(raw: &str) -> Option<Self> {
        if raw.is_empty() || !raw.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        raw.parse().ok().map(sevenoways_sdk::QueueId)
    }
}

impl<T, S> FromRequestParts<S> for PathId<T>
where
    T: FromPath + Send,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, ApiError> {
        let axum::extract::Path(raw) =
            axum::extract::Path::<String>::from_request_parts(parts, state)
                .await
                .map_err(|e| ApiError::BadRequest(e.body_text()))?;
        T::from_path(&raw)
            .map(PathId)
            .ok_or_else(|| ApiError::not_found(format!("{raw:?} not found")))
    }
}

/// Query parameters, read with the same codec and messages as a form body (a missing or
/// invalid parameter is a 400 naming it), rather than axum's plain-text rejection.
#[derive(Debug)]
pub struct QueryParams<T>(pub T);

impl<T, S> FromRequestParts<S> for QueryParams<T>
where
    T: DeserializeOwned,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, ApiError> {
        let query = parts.uri.query().unwrap_or("");
        body::from_form(query.as_bytes())
            .map(QueryParams)
            .map_err(ApiError::from)
    }
}
