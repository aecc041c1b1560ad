//! `/api/instances`: the numbers of an account. Pairing is [`super::qr`].

use axum::Router;
use axum::extract::State;
use sevenoways_sdk::models::instances::{
    CreateInstanceRequest, DeleteInstance, Instance, InstanceCreated, InstanceList, ListInstances,
};
use sevenoways_sdk::{Empty, Endpoint, InstanceId};

use super::{Reply, answer_from, ok, on};
use crate::AppState;
use crate::auth::{Authed, qr_token};
use crate::error::ApiError;
use crate::extract::{Body, PathId};

pub(super) fn router() -> Router<AppState> {
    Router::new()
        .route(ListInstances::ROUTE, on(ListInstances::METHOD, list))
        .route(
            CreateInstanceRequest::ROUTE,
            on(CreateInstanceRequest::METHOD, create),
        )
        .route(DeleteInstance::ROUTE, on(DeleteInstance::METHOD, delete))
}

/// `GET /api/instances`.
pub async fn list(State(state): State<AppState>, Authed(account): Authed) -> Reply<InstanceList> {
    ok(InstanceList {
        instances: state.store.list_instances(account.id).await?,
    })
}

/// `POST /api/instances`: creates it in `pairing` state and links its QR page.
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
    let qr_url = qr_token::page_url(&state, account.id, &req.instance_id);
    answer_from(
        state
            .store
            .create_instance(account.id, &req.instance_id, label),
        move |instance: &Instance| InstanceCreated {
            instance: instance.clone(),
            qr_url: qr_url.clone(),
        },
    )
    .await
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
