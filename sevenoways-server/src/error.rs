//! The error envelope: every failure answers `{"success":false,"error":"…"}`.

use axum::Json;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use sevenoways_sdk::{ErrorBody, InstanceId, ValidationError};

use crate::store::StoreError;

/// A failed request, with the status it answers.
#[derive(Debug)]
pub enum ApiError {
    /// 400: the body or a parameter is wrong; the message names the field.
    BadRequest(String),
    /// 401: no key or an unknown key.
    Unauthorized(String),
    /// 404: not found for this key (another key's ids are not found either).
    NotFound(String),
    /// 409: the id is taken, or a plan quota is used up.
    Conflict(String),
    /// 413: body too large.
    PayloadTooLarge(usize),
    /// 415: neither JSON nor form.
    UnsupportedMediaType(String),
    /// 422: well-formed, but the instance's engine can never do it (a channel send on a
    /// Meta Cloud API number).
    Unprocessable(String),
    /// 502: the engine behind the instance (WAHA, Meta) failed or could not be reached;
    /// nothing was changed.
    BadGateway(String),
    /// 429 with `Retry-After` seconds.
    RateLimited {
        /// Seconds until a retry can succeed.
        retry_after_secs: u64,
        /// The message.
        message: String,
    },
    /// 503 with `Retry-After` seconds: the server cannot do this now for a reason outside
    /// the request that passes (a full disk); nothing was stored. The detail is logged.
    Unavailable {
        /// Seconds until a retry may succeed.
        retry_after_secs: u64,
        /// What is wrong, for the client.
        message: String,
        /// The underlying error, for the log only.
        detail: String,
    },
    /// 500: a bug or a database failure. The detail is logged, not sent.
    Internal(String),
}

/// Shorthand for handler results.
pub type ApiResult<T> = Result<T, ApiError>;

impl ApiError {
    /// 404 with a message.
    pub fn not_found(what: impl Into<String>) -> Self {
        Self::NotFound(what.into())
    }

    /// The 404 for an instance this key does not have (or that does not exist: the two
    /// are not told apart, so ids of other keys cannot be probed).
    pub fn instance_not_found(id: &InstanceId) -> Self {
        Self::not_found(format!("instance {:?} not found", id.as_str()))
    }
}

impl From<ValidationError> for ApiError {
    fn from(e: ValidationError) -> Self {
        Self::BadRequest(e.to_string())
    }
}

impl From<StoreError> for ApiError {
    fn from(e: StoreError) -> Self {
        if let Some(retry_after_secs) = e.retry_after_secs() {
            let reason = match &e {
                StoreError::Degraded { reason, .. } => reason,
                _ => "the storage is not running",
            };
            return Self::Unavailable {
                retry_after_secs,
                message: format!(
                    "temporarily unavailable: {reason}; nothing was stored, retry after {retry_after_secs} s"
                ),
                detail: e.to_string(),
            };
        }
        match e {
            StoreError::Conflict(msg) => Self::Conflict(msg),
            StoreError::QuotaExceeded(quota) => Self::Conflict(quota.message()),
            other => Self::Internal(other.to_string()),
        }
    }
}

/// Gives the envelope to error answers produced below the handlers (the request timeout),
/// which come with an empty body.
pub async fn envelope_empty_errors(response: Response) -> Response {
    let status = response.status();
    let empty = response
        .headers()
        .get(header::CONTENT_LENGTH)
        .is_some_and(|len| len == "0")
        || axum::body::HttpBody::size_hint(response.body()).exact() == Some(0);
    if status == StatusCode::REQUEST_TIMEOUT && empty {
        let message = "the request took too long (the body arrived too slowly, or not at all)";
        return (status, Json(ErrorBody::new(message))).into_response();
    }
    response
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let (status, message) = match self {
            Self::BadRequest(m) => (StatusCode::BAD_REQUEST, m),
            Self::Unauthorized(m) => (StatusCode::UNAUTHORIZED, m),
            Self::NotFound(m) => (StatusCode::NOT_FOUND, m),
            Self::Conflict(m) => (StatusCode::CONFLICT, m),
            Self::PayloadTooLarge(limit) => (
                StatusCode::PAYLOAD_TOO_LARGE,
                format!("request body is larger than {limit} bytes"),
            ),
            Self::UnsupportedMediaType(m) => (StatusCode::UNSUPPORTED_MEDIA_TYPE, m),
            Self::Unprocessable(m) => (StatusCode::UNPROCESSABLE_ENTITY, m),
            Self::BadGateway(m) => {
                tracing::warn!(%m, "engine call failed");
                (StatusCode::BAD_GATEWAY, m)
            }
            Self::RateLimited {
                retry_after_secs,
                message,
            } => {
                let mut response =
                    (StatusCode::TOO_MANY_REQUESTS, Json(ErrorBody::new(message))).into_response();
                response.headers_mut().insert(
                    header::RETRY_AFTER,
                    HeaderValue::from(retry_after_secs.max(1)),
                );
                return response;
            }
            Self::Unavailable {
                retry_after_secs,
                message,
                detail,
            } => {
                tracing::warn!(%detail, "answered 503");
                let mut response = (
                    StatusCode::SERVICE_UNAVAILABLE,
                    Json(ErrorBody::new(message)),
                )
                    .into_response();
                response.headers_mut().insert(
                    header::RETRY_AFTER,
                    HeaderValue::from(retry_after_secs.max(1)),
                );
                return response;
            }
            Self::Internal(detail) => {
                tracing::error!(%detail, "internal error");
                (
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "internal error; the server log has details".to_owned(),
                )
            }
        };
        (status, Json(ErrorBody::new(message))).into_response()
    }
}
