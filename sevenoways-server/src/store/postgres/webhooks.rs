//! Postgres: see the SQLite store's module of the same name for what each function does.

use chrono::Utc;
use sevenoways_sdk::EventId;
use sevenoways_sdk::models::webhooks::Event;
use sqlx::PgConnection;

use super::*;
use crate::ids::Generate;
use crate::secrets::SecretsKey;
use crate::time::stored;

/// Checks `key` against the secrets stored and seals those written without one (see the
/// SQLite store's `prepare_secrets`).
pub(super) async fn prepare_secrets(
    store: &PgStore,
    key: Option<&SecretsKey>,
    previous: Option<&SecretsKey>,
) -> StoreResult<u64> {
    let _ = (store, key, previous);
    todo!("postgres: prepare_secrets")
}

/// Inserts an event row inside the caller's transaction, as the SQLite store's
/// `insert_event_for`. `seq` comes from the `events_seq` sequence: numbers are unique
/// across replicas but a lower one may commit later, so the fan-out never assumes the
/// events it has not seen are above the ones it has.
pub(super) async fn insert_event_for(
    conn: &mut PgConnection,
    account: AccountId,
    event: NewEvent,
) -> StoreResult<EventId> {
    let now = Utc::now();
    let event = Event {
        id: EventId::generate(),
        timestamp: stored(now),
        instance_id: event.instance_id,
        data: event.data,
    };
    let payload = serde_json::to_vec(&event).map_err(|e| StoreError::Backend(Box::new(e)))?;
    sqlx::query(
        "INSERT INTO events (id, account_id, event_type, payload, created_at)
         VALUES ($1, $2, $3, $4, $5)",
    )
    .bind(event.id.as_str())
    .bind(account)
    .bind(event.event_type())
    .bind(payload)
    .bind(millis(now))
    .execute(conn)
    .await?;
    Ok(event.id)
}
