//! The HTTP API: one module per resource, named as in the SDK and the CLI.

mod channels;
mod groups;
mod instances;
mod messages;
pub mod openapi;
pub(crate) mod qr;
mod queue;
mod sandbox;
mod schedules;
mod usage;
mod webhooks;

use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::{get, post};
use axum::{Json, Router};
use serde_json::json;
use sevenoways_sdk::models::channels::{
    AddChannelRequest, SendDocumentToChannelRequest, SendImageToChannelRequest,
    SendToChannelRequest,
};
use sevenoways_sdk::models::communities::{
    SendDocumentToCommunityRequest, SendImageToCommunityRequest, SendToCommunityRequest,
};
use sevenoways_sdk::models::instances::CreateInstanceRequest;
use sevenoways_sdk::models::messages::{
    SendDocumentRequest, SendImageRequest, SendNumberDocumentRequest, SendNumberImageRequest,
    SendNumberRequest, SendRequest,
};
use sevenoways_sdk::models::schedules::CreateScheduleRequest;
use sevenoways_sdk::models::webhooks::CreateWebhookRequest;
use sevenoways_sdk::{Endpoint, Success};

use crate::AppState;
use crate::error::ApiError;

/// Every route. Paths of bodies' endpoints come from the SDK's [`Endpoint::PATH`], so the
/// client and the server cannot disagree on them.
pub fn router(state: AppState) -> Router {
    use messages::send;
    Router::new()
        .route(
            "/healthz",
            get(|| async { Json(json!({"success": true, "status": "ok"})) }),
        )
        .route("/readyz", get(ready))
        .route("/api/openapi.json", get(openapi::serve))
        .route(
            CreateInstanceRequest::PATH,
            get(instances::list).post(instances::create),
        )
        .route(
            "/api/instances/{id}",
            axum::routing::delete(instances::delete),
        )
        .route("/api/instances/{id}/qr", get(qr::qr))
        .route("/api/instances/{id}/groups", get(groups::list))
        .route(SendRequest::PATH, post(send::<SendRequest>))
        .route(SendImageRequest::PATH, post(send::<SendImageRequest>))
        .route(SendDocumentRequest::PATH, post(send::<SendDocumentRequest>))
        .route(SendNumberRequest::PATH, post(send::<SendNumberRequest>))
        .route(
            SendNumberImageRequest::PATH,
            post(send::<SendNumberImageRequest>),
        )
        .route(
            SendNumberDocumentRequest::PATH,
            post(send::<SendNumberDocumentRequest>),
        )
        .route(
            SendToCommunityRequest::PATH,
            post(send::<SendToCommunityRequest>),
        )
        .route(
            SendImageToCommunityRequest::PATH,
            post(send::<SendImageToCommunityRequest>),
        )
        .route(
            SendDocumentToCommunityRequest::PATH,
            post(send::<SendDocumentToCommunityRequest>),
        )
        .route(
            SendToChannelRequest::PATH,
            post(send::<SendToChannelRequest>),
        )
        .route(
            SendImageToChannelRequest::PATH,
            post(send::<SendImageToChannelRequest>),
        )
        .route(
            SendDocumentToChannelRequest::PATH,
            post(send::<SendDocumentToChannelRequest>),
        )
        .route(
            AddChannelRequest::PATH,
            get(channels::list).post(channels::add),
        )
        .route(
            "/api/channels/{id}",
            axum::routing::delete(channels::remove),
        )
        .route(
            CreateScheduleRequest::PATH,
            get(schedules::list).post(schedules::create),
        )
        .route(
            "/api/schedules/{id}",
            axum::routing::delete(schedules::delete),
        )
        .route("/api/queue/{id}", get(queue::status))
        .route("/api/sandbox/instances/{id}/pair", post(sandbox::pair))
        .route(
            "/api/sandbox/instances/{id}/groups",
            post(sandbox::add_group),
        )
        .route(
            "/api/sandbox/instances/{id}/inbound",
            post(sandbox::inbound),
        )
        .route("/api/sandbox/outbox", get(sandbox::outbox))
        .route("/api/sandbox/instances/{id}/unpair", post(sandbox::unpair))
        .route("/api/usage", get(usage::get))
        .route(
            CreateWebhookRequest::PATH,
            get(webhooks::list).post(webhooks::create),
        )
        .route(
            "/api/webhooks/{id}",
            axum::routing::delete(webhooks::delete),
        )
        .route("/api/webhooks/{id}/test", post(webhooks::test))
        .route("/api/webhooks/{id}/deliveries", get(webhooks::deliveries))
        .route(
            "/api/webhooks/{id}/deliveries/{deliveryId}",
            get(webhooks::delivery),
        )
        .route(
            "/api/webhooks/{id}/deliveries/{deliveryId}/redeliver",
            post(webhooks::redeliver),
        )
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed)
        .with_state(state)
}

async fn ready(
    State(state): State<AppState>,
) -> Result<Json<Success<serde_json::Value>>, ApiError> {
    state.store.count_accounts().await?;
    Ok(Json(Success(json!({"status": "ready"}))))
}

async fn not_found(uri: axum::http::Uri) -> ApiError {
    ApiError::not_found(format!("no endpoint at {}", uri.path()))
}

async fn method_not_allowed(
    method: axum::http::Method,
    uri: axum::http::Uri,
) -> (StatusCode, Json<sevenoways_sdk::ErrorBody>) {
    (
        StatusCode::METHOD_NOT_ALLOWED,
        Json(sevenoways_sdk::ErrorBody::new(format!(
            "{method} is not allowed on {}",
            uri.path()
        ))),
    )
}

/// A JSON success answer.
pub(crate) type Reply<T> = Result<Json<Success<T>>, ApiError>;

/// Wraps `value` in the success envelope.
pub(crate) fn ok<T>(value: T) -> Reply<T> {
    Ok(Json(Success(value)))
}
