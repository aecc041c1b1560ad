//! What the engines post back: WAHA's events (`POST /engines/waha/events`) and Meta's
//! webhook (`GET` handshake and `POST` notifications at `/engines/meta/webhook`).
//!
//! These are not API operations (no API key, not in the SDK or the OpenAPI document):
//! each is authenticated by its engine's signature over the exact body bytes, checked
//! before anything changes, and anything unsigned or mis-signed is a 401 that changes
//! nothing. An engine that is not configured has no such route (404). A store failure is
//! a 500, so the engine delivers the event again; a redelivery changes nothing
//! (`Store::apply_engine_update`).

use std::collections::HashMap;

use axum::Router;
use axum::body::Body;
use axum::extract::{Query, Request, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use serde_json::json;

use crate::AppState;
use crate::error::ApiError;
use crate::transport::InboundError;
use crate::transport::meta::{MAX_WEBHOOK_BYTES, WEBHOOK_ROUTE};
use crate::transport::waha::{EVENTS_ROUTE, MAX_EVENT_BYTES};

pub(super) fn router() -> Router<AppState> {
    Router::new()
        .route(EVENTS_ROUTE, post(waha_events))
        .route(WEBHOOK_ROUTE, get(meta_handshake).post(meta_webhook))
}

fn not_configured(engine: &str) -> ApiError {
    ApiError::not_found(format!(
        "the {engine} engine is not configured on this server"
    ))
}

fn inbound_error(e: InboundError) -> ApiError {
    match e {
        InboundError::Unauthorized(m) => ApiError::Unauthorized(m),
        InboundError::Invalid(m) => ApiError::BadRequest(m),
        InboundError::Store(e) => e.into(),
    }
}

async fn body(request: Request<Body>, limit: usize) -> Result<(HeaderMap, Vec<u8>), ApiError> {
    let (parts, body) = request.into_parts();
    let bytes = axum::body::to_bytes(body, limit)
        .await
        .map_err(|_| ApiError::PayloadTooLarge(limit))?;
    Ok((parts.headers, bytes.to_vec()))
}

fn accepted() -> Response {
    (StatusCode::OK, axum::Json(json!({"success": true}))).into_response()
}

/// `POST /engines/waha/events`: one event of one WAHA session, signed with that
/// session's key (`X-Webhook-Hmac`).
pub async fn waha_events(
    State(state): State<AppState>,
    request: Request<Body>,
) -> Result<Response, ApiError> {
    let waha = state
        .engines
        .waha
        .clone()
        .ok_or_else(|| not_configured("waha"))?;
    let (headers, bytes) = body(request, MAX_EVENT_BYTES).await?;
    waha.handle_event(&headers, &bytes)
        .await
        .map_err(inbound_error)?;
    Ok(accepted())
}

/// `GET /engines/meta/webhook`: Meta's subscription handshake. With `hub.mode=subscribe`
/// and our `hub.verify_token`, the `hub.challenge` comes back as plain text; anything
/// else is a 403.
pub async fn meta_handshake(
    State(state): State<AppState>,
    Query(q): Query<HashMap<String, String>>,
) -> Result<Response, ApiError> {
    let meta = state
        .engines
        .meta
        .clone()
        .ok_or_else(|| not_configured("meta"))?;
    let challenge = meta.handshake(
        q.get("hub.mode").map(String::as_str),
        q.get("hub.verify_token").map(String::as_str),
        q.get("hub.challenge").map(String::as_str),
    );
    match challenge {
        Some(challenge) => Ok((
            StatusCode::OK,
            [
                (header::CONTENT_TYPE, "text/plain; charset=utf-8"),
                (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
            ],
            challenge,
        )
            .into_response()),
        None => Ok((
            StatusCode::FORBIDDEN,
            axum::Json(sevenoways_sdk::ErrorBody::new(
                "hub.verify_token does not match the server's [engines.meta] verify_token \
                 (or hub.mode is not subscribe)",
            )),
        )
            .into_response()),
    }
}

/// `POST /engines/meta/webhook`: statuses and messages for the Cloud API numbers of this
/// server, signed with the app secret (`X-Hub-Signature-256`).
pub async fn meta_webhook(
    State(state): State<AppState>,
    request: Request<Body>,
) -> Result<Response, ApiError> {
    let meta = state
        .engines
        .meta
        .clone()
        .ok_or_else(|| not_configured("meta"))?;
    let (headers, bytes) = body(request, MAX_WEBHOOK_BYTES).await?;
    meta.handle_webhook(&headers, &bytes)
        .await
        .map_err(inbound_error)?;
    Ok(accepted())
}
