//! `/api/queue/:queueId`.

use axum::extract::State;
use sevenoways_sdk::QueueId;
use sevenoways_sdk::models::queue::QueueEntry;

use super::{Reply, ok};
use crate::AppState;
use crate::auth::Authed;
use crate::error::ApiError;
use crate::extract::PathId;

/// `GET /api/queue/:queueId`.
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
