//! `/api/instances/:id/groups`.

use axum::extract::State;
use sevenoways_sdk::InstanceId;
use sevenoways_sdk::models::groups::GroupList;

use super::instances::instance_not_found;
use super::{Reply, ok};
use crate::AppState;
use crate::auth::Authed;
use crate::extract::PathId;

/// `GET /api/instances/:id/groups`.
pub async fn list(
    State(state): State<AppState>,
    Authed(account): Authed,
    PathId(id): PathId<InstanceId>,
) -> Reply<GroupList> {
    if state.store.get_instance(account.id, &id).await?.is_none() {
        return Err(instance_not_found(&id));
    }
    let groups = state.store.list_groups(account.id, &id).await?;
    ok(GroupList {
        instance_id: id,
        groups,
    })
}
