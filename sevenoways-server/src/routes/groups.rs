//! `/api/instances/{id}/groups`: the groups of a paired number, as the relay keeps them,
//! and reading them from the number's engine again (`.../groups/refresh`).

use axum::Router;
use axum::extract::State;
use sevenoways_sdk::models::groups::{GroupList, ListGroups, RefreshGroups};
use sevenoways_sdk::{Endpoint, InstanceId, NoFields};

use super::pages::{self, parts};
use super::{Reply, ok, on};
use crate::AppState;
use crate::auth::Authed;
use crate::error::ApiError;
use crate::extract::{Body, PathId, QueryParams};
use crate::idempotency::Done;
use crate::store::ListKind;

pub(super) fn router() -> Router<AppState> {
    Router::new()
        .route(ListGroups::ROUTE, on(ListGroups::METHOD, list))
        .route(RefreshGroups::ROUTE, on(RefreshGroups::METHOD, refresh))
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

/// `POST /api/instances/{id}/groups/refresh`: the number's groups read from its engine
/// again (WAHA's list; the sandbox's own), kept, and answered. 409 while a WAHA number is
/// not online, 422 for a Meta Cloud API number (it has no groups), 502 if the engine fails.
pub async fn refresh(
    State(state): State<AppState>,
    Authed(account): Authed,
    PathId(id): PathId<InstanceId>,
    Body(NoFields {}): Body<NoFields>,
) -> Reply<GroupList> {
    // Read from the engine and kept by it, outside one store transaction: the answer is
    // recorded once the list is (see `Done`).
    crate::idempotency::answer_with(|done: &Done<GroupList>| done.0.clone());
    let record = state
        .store
        .instance_record(account.id, &id)
        .await?
        .ok_or_else(|| ApiError::instance_not_found(&id))?;
    let groups = state
        .engines
        .get(record.engine)?
        .refresh_groups(&record)
        .await?;
    // The whole refreshed list, in one answer: it is what the engine holds now.
    let list = GroupList {
        instance_id: id,
        groups,
        next_cursor: None,
    };
    state.store.record_answer(&Done(list.clone())).await?;
    ok(list)
}
