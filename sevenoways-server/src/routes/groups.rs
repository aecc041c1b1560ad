//! `/api/instances/{id}/groups`: the groups of a paired number.

use axum::Router;
use axum::extract::State;
use sevenoways_sdk::models::groups::{GroupList, ListGroups};
use sevenoways_sdk::{Endpoint, InstanceId};

use super::pages::{self, parts};
use super::{Reply, ok, on};
use crate::AppState;
use crate::auth::Authed;
use crate::error::ApiError;
use crate::extract::{PathId, QueryParams};
use crate::store::ListKind;

pub(super) fn router() -> Router<AppState> {
    Router::new().route(ListGroups::ROUTE, on(ListGroups::METHOD, list))
}

/// `GET /api/instances/{id}/groups?limit=&cursor=`.
pub async fn list(
    State(state): State<AppState>,
    Authed(account): Authed,
    PathId(id): PathId<InstanceId>,
    QueryParams(q): QueryParams<sevenoways_sdk::PageParams>,
) -> Reply<GroupList> {
    let page = pages::request(&q, ListKind::Groups)?;
    if state.store.get_instance(account.id, &id).await?.is_none() {
        return Err(ApiError::instance_not_found(&id));
    }
    let (groups, next_cursor) = parts(
        state.store.list_groups_page(account.id, &id, &page).await?,
        ListKind::Groups,
    );
    ok(GroupList {
        instance_id: id,
        groups,
        next_cursor,
    })
}
