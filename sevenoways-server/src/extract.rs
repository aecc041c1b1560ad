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

/// A path parameter parsed with the SDK's validating `FromStr`, answering 404 when it
/// cannot name anything (an id with a space cannot exist).
#[derive(Debug)]
pub struct PathId<T>(pub T);

impl<T, S> FromRequestParts<S> for PathId<T>
where
    T: std::str::FromStr + Send,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, ApiError> {
        let axum::extract::Path(raw) =
            axum::extract::Path::<String>::from_request_parts(parts, state)
                .await
                .map_err(|e| ApiError::BadRequest(e.body_text()))?;
        raw.parse()
            .map(PathId)
            .map_err(|_| ApiError::not_found(format!("{raw:?} not found")))
    }
}

/// Query parameters, answering a malformed query (`?instanceId=a&instanceId=b`) with a
/// 400 in the envelope rather than axum's plain-text rejection.
#[derive(Debug)]
pub struct QueryParams<T>(pub T);

impl<T, S> FromRequestParts<S> for QueryParams<T>
where
    T: DeserializeOwned,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, ApiError> {
        axum::extract::Query::<T>::from_request_parts(parts, state)
            .await
            .map(|axum::extract::Query(q)| QueryParams(q))
            .map_err(|e| ApiError::BadRequest(format!("query: {}", e.body_text())))
    }
}
