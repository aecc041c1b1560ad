//! `/api/instances/{id}/groups`: the groups of a paired number.

use axum::Router;
use axum::extract::State;
use sevenoways_sdk::models::groups::{GroupList, ListGroups};
use sevenoways_sdk::{Endpoint, InstanceId};

use super::{Reply, ok, on};
use crate::AppState;
use crate::auth::Authed;
use crate::error::ApiError;
use crate::extract::PathId;

pub(super) fn router() -> Router<AppState> {
    Router::new().route(ListGroups::ROUTE, on(ListGroups::METHOD, list))
}

/// `GET /api/instances/{id}/groups`.
pub async fn list(
    State(state): State<AppState>,
    Authed(account): Authed,
    PathId(id): PathId<InstanceId>,
) -> Reply<GroupList> {
    if state.store.get_instance(account.id, &id).await?.is_none() {
        return Err(ApiError::instance_not_found(&id));
    }
    let groups = state.store.list_groups(account.id, &id).await?;
    ok(GroupList {
        instance_id: id,
        groups,
    })
}
