//! The HTTP API: one module per resource, named as in the SDK and the CLI.

// `pub(crate)`: the console (`crate::console`) calls these handlers as functions, so it
// runs the API's own code for every action.
pub(crate) mod channels;
mod communities;
pub mod engines;
pub(crate) mod groups;
pub(crate) mod instances;
pub(crate) mod messages;
pub mod openapi;
pub(crate) mod pages;
pub(crate) mod qr;
pub(crate) mod queue;
pub(crate) mod sandbox;
pub(crate) mod schedules;
pub(crate) mod usage;
pub(crate) mod webhooks;

use axum::extract::State;
use axum::handler::Handler;
use axum::http::StatusCode;
use axum::routing::{MethodFilter, MethodRouter, get};
use axum::{Json, Router};
use serde_json::json;
use sevenoways_sdk::Success;
use sevenoways_sdk::endpoint::Method;

use crate::AppState;
use crate::error::ApiError;

pub use sandbox::SANDBOX_PHONE;

/// Liveness, for load balancers: answers while the process serves HTTP.
pub const HEALTHZ: &str = "/healthz";
/// Readiness: 200 while every background loop runs and a write through the path sends
/// take succeeds; 503 with `Retry-After` otherwise (see [`crate::health`]).
pub const READYZ: &str = "/readyz";
/// This server's OpenAPI document.
pub const OPENAPI: &str = "/api/openapi.json";

/// Every route: each resource module registers its operations with the route and method
/// of the SDK's [`Endpoint`](sevenoways_sdk::Endpoint) types, so the client, this router
/// and the OpenAPI document cannot disagree; this adds only the operational routes and
/// the fallbacks.
pub fn router(state: AppState) -> Router {
    Router::new()
        .route(
            HEALTHZ,
            get(|| async { Json(json!({"success": true, "status": "ok"})) }),
        )
        .route(READYZ, get(ready))
        .route(OPENAPI, get(openapi::serve))
        .merge(instances::router())
        .merge(qr::router())
        .merge(groups::router())
        .merge(messages::router())
        .merge(communities::router())
        .merge(channels::router())
        .merge(schedules::router())
        .merge(queue::router())
        .merge(sandbox::router())
        .merge(usage::router())
        .merge(webhooks::router())
        .merge(engines::router())
        .merge(crate::console::router(&state.config))
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed)
        .with_state(state)
}

/// `handler` for the SDK's `method` only (as `get(handler)` would for `GET`).
fn on<H, T>(method: Method, handler: H) -> MethodRouter<AppState>
where
    H: Handler<T, AppState>,
    T: 'static,
{
    let filter = match method {
        Method::Get => MethodFilter::GET,
        Method::Post => MethodFilter::POST,
        Method::Delete => MethodFilter::DELETE,
    };
    axum::routing::on(filter, handler)
}

/// `{"success":true,"status":"ready","loops":{"queue":{"running":true,"restarts":0},…}}`,
/// or 503 in the error envelope saying what is wrong.
async fn ready(
    State(state): State<AppState>,
) -> Result<Json<Success<serde_json::Value>>, ApiError> {
    state
        .health
        .check(&*state.store)
        .await
        .map_err(|not| ApiError::Unavailable {
            retry_after_secs: not.retry_after_secs,
            message: not.message,
            detail: not.detail,
        })?;
    Ok(Json(Success(
        json!({"status": "ready", "loops": state.health.loops()}),
    )))
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

impl From<crate::transport::ControlError> for ApiError {
    fn from(e: crate::transport::ControlError) -> Self {
        use crate::transport::ControlError as E;
        match e {
            E::Invalid(m) => Self::BadRequest(m),
            E::NotFound(m) => Self::NotFound(m),
            E::Conflict(m) => Self::Conflict(m),
            E::Unsupported(m) => Self::Unprocessable(m),
            E::Engine(m) => Self::BadGateway(m),
            // A table removed from the configuration after its instances were made.
            E::NotConfigured(m) => Self::Unprocessable(m),
            E::Store(e) => e.into(),
        }
    }
}

/// A JSON success answer.
pub(crate) type Reply<T> = Result<Json<Success<T>>, ApiError>;

/// The key's quota of `resource`, after a cheap look that it has room for one more: taken
/// before work that costs more than a count (a host-name lookup), so a key at its quota
/// does none. The insert counts again in its own transaction; that count is the exact one.
pub(crate) async fn room_for(
    state: &AppState,
    account: &crate::account::Account,
    resource: crate::limits::Resource,
) -> Result<u32, ApiError> {
    let max = state.plans.get(&account.plan).quotas.get(resource);
    if max > 0 && state.store.count_owned(account.id, resource).await? >= u64::from(max) {
        let quota = crate::limits::QuotaExceeded { resource, max };
        return Err(ApiError::Conflict(quota.message()));
    }
    Ok(max)
}

/// Wraps `value` in the success envelope.
pub(crate) fn ok<T>(value: T) -> Reply<T> {
    Ok(Json(Success(value)))
}

#[cfg(test)]
mod tests {
    use sevenoways_sdk::endpoint::OPERATIONS;

    /// Every operation of the SDK reaches a handler with its own method: without a key,
    /// each answers 401 rather than the fallback's 404 or 405.
    #[tokio::test]
    async fn every_sdk_operation_is_routed_with_its_method() {
        let dir = tempfile::tempdir().unwrap();
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let config = crate::Config {
            data_dir: dir.path().into(),
            ..Default::default()
        };
        let server = crate::launch(config, listener).await.unwrap();
        let http = reqwest::Client::new();
        for op in OPERATIONS {
            let path: Vec<&str> = op
                .route
                .split('/')
                .map(|s| if s.starts_with('{') { "x" } else { s })
                .collect();
            let method = reqwest::Method::from_bytes(op.method.as_str().as_bytes()).unwrap();
            let url = format!("{}{}", server.base_url(), path.join("/"));
            let response = http.request(method, url).send().await.unwrap();
            assert_eq!(
                response.status(),
                401,
                "{} {} ({})",
                op.method,
                op.route,
                op.name
            );
        }
        server.shutdown().await;
    }
}
