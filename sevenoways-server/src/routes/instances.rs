//! `/api/instances`: the numbers of an account. Pairing is [`super::qr`].

use axum::Router;
use axum::extract::State;
use sevenoways_sdk::models::instances::{
    CreateInstanceRequest, DeleteInstance, InstanceCreated, InstanceList, ListInstances,
};
use sevenoways_sdk::{Empty, Endpoint, InstanceId};

use super::pages::{self, parts};
use super::{Reply, ok, on};
use crate::AppState;
use crate::auth::{Authed, qr_token};
use crate::error::ApiError;
use crate::extract::{Body, PathId, QueryParams};
use crate::store::ListKind;

pub(super) fn router() -> Router<AppState> {
    Router::new()
        .route(ListInstances::ROUTE, on(ListInstances::METHOD, list))
        .route(
            CreateInstanceRequest::ROUTE,
            on(CreateInstanceRequest::METHOD, create),
        )
        .route(DeleteInstance::ROUTE, on(DeleteInstance::METHOD, delete))
}

/// `GET /api/instances?limit=&cursor=`.
pub async fn list(
    State(state): State<AppState>,
    Authed(account): Authed,
    QueryParams(q): QueryParams<sevenoways_sdk::PageParams>,
) -> Reply<InstanceList> {
    let page = pages::request(&q, ListKind::Instances)?;
    let (instances, next_cursor) = parts(
        state.store.list_instances(account.id, &page).await?,
        ListKind::Instances,
    );
    ok(InstanceList {
        instances,
        next_cursor,
    })
}

/// `POST /api/instances`: creates it in `pairing` state, served by the server's
/// `default_engine`, and links its QR page (and, for the sandbox, the page whose scan
/// button pairs). An engine the server has not configured is a 400 naming the missing
/// `[engines.*]` table.
pub async fn create(
    State(state): State<AppState>,
    Authed(account): Authed,
    Body(req): Body<CreateInstanceRequest>,
) -> Reply<InstanceCreated> {
    let label = if req.label.trim().is_empty() {
        req.instance_id.as_str()
    } else {
        req.label.trim()
    };
    let engine = state.config.default_engine;
    state.config.engine_configured(engine).map_err(|why| {
        ApiError::BadRequest(format!(
            "engine: {why} (instances created without an engine use the server's default_engine)"
        ))
    })?;
    let max = state.plans.get(&account.plan).quotas.instances;
    let record = state
        .store
        .create_instance(account.id, &req.instance_id, label, engine, max)
        .await?;
    ok(InstanceCreated {
        qr_url: qr_token::page_url(&state, &record),
        sandbox_pair_url: qr_token::sandbox_pair_url(&state, &record),
        instance: record.instance,
    })
}

/// `DELETE /api/instances/{id}`.
pub async fn delete(
    State(state): State<AppState>,
    Authed(account): Authed,
    PathId(id): PathId<InstanceId>,
) -> Reply<Empty> {
    if !state.store.delete_instance(account.id, &id).await? {
        return Err(ApiError::instance_not_found(&id));
    }
    ok(Empty {})
}
