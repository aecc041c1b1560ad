//! `/api/queue/{id}`: where a queued message is.

use axum::Router;
use axum::extract::State;
use sevenoways_sdk::models::queue::{GetQueueEntry, QueueEntry};
use sevenoways_sdk::{Endpoint, QueueId};

use super::{Reply, ok, on};
use crate::AppState;
use crate::auth::Authed;
use crate::error::ApiError;
use crate::extract::PathId;

pub(super) fn router() -> Router<AppState> {
    Router::new().route(GetQueueEntry::ROUTE, on(GetQueueEntry::METHOD, status))
}

/// `GET /api/queue/{id}`.
pub async fn status(
    State(state): State<AppState>,
    Authed(account): Authed,
    PathId(id): PathId<QueueId>,
) -> Reply<QueueEntry> {
    match state.store.get_entry(account.id, id).await? {
        Some(entry) => ok(entry),
        None => Err(ApiError::not_found(format!("queue entry {id} not found"))),
    }
}
