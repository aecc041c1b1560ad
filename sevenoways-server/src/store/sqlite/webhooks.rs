//! Events, webhook subscriptions, fan-out, deliveries and attempts.

use chrono::{DateTime, Utc};
use sevenoways_sdk::models::webhooks::{DeliveryAttempt, Event};
use sevenoways_sdk::{DeliveryId, EventId};
use sqlx::{Row, SqliteConnection};

use super::idempotency::commit_answering;
use super::*;

pub(super) async fn delete_webhook(
    store: &SqliteStore,
    account: AccountId,
    id: &WebhookId,
) -> StoreResult<bool> {
    let mut tx = store.write.begin().await?;
    let deleted = sqlx::query("DELETE FROM webhooks WHERE account_id = ? AND id = ?")
        .bind(account)
        .bind(id.as_str())
        .execute(&mut *tx)
        .await?
        .rows_affected();
    if deleted == 0 {
        return Ok(false);
    }
    sqlx::query(
        "DELETE FROM webhook_attempts WHERE delivery_id IN
            (SELECT id FROM webhook_deliveries WHERE webhook_id = ?)",
    )
    .bind(id.as_str())
    .execute(&mut *tx)
    .await?;
    sqlx::query("DELETE FROM webhook_deliveries WHERE webhook_id = ?")
        .bind(id.as_str())
        .execute(&mut *tx)
        .await?;
    tx.commit().await?;
    Ok(true)
}

pub(super) async fn queue_test_event(
    store: &SqliteStore,
    account: AccountId,
    id: &WebhookId,
    event: NewEvent,
    now: DateTime<Utc>,
    give_up_at: DateTime<Utc>,
) -> StoreResult<bool> {
    let mut tx = store.write.begin_with("BEGIN IMMEDIATE").await?;
    let exists: Option<i64> =
        sqlx::query_scalar("SELECT 1 FROM webhooks WHERE account_id = ? AND id = ?")
            .bind(account)
            .bind(id.as_str())
            .fetch_optional(&mut *tx)
            .await?;
    if exists.is_none() {
        return Ok(false);
    }
    let event_id = insert_event_for(&mut tx, account, event).await?;
    // Already fanned out: to this subscription only.
    sqlx::query("UPDATE events SET dispatched = 1 WHERE id = ?")
        .bind(event_id.as_str())
        .execute(&mut *tx)
        .await?;
    insert_delivery(
        &mut tx,
        id.as_str(),
        account,
        event_id.as_str(),
        now,
        give_up_at,
    )
    .await?;
    commit_answering(tx, &true).await?;
    Ok(true)
}

pub(super) async fn dispatch_events(
    store: &SqliteStore,
    now: DateTime<Utc>,
    give_up_at: DateTime<Utc>,
    limit: u32,
) -> StoreResult<u64> {
    let any: bool = sqlx::query_scalar("SELECT EXISTS(SELECT 1 FROM events WHERE dispatched = 0)")
        .fetch_one(&store.read)
        .await?;
    if !any {
        return Ok(0);
    }
    let mut tx = store.write.begin_with("BEGIN IMMEDIATE").await?;
    let events: Vec<(String, i64, AccountId, String)> = sqlx::query_as(
        "SELECT id, seq, account_id, event_type FROM events WHERE dispatched = 0 ORDER BY seq LIMIT ?",
    )
    .bind(limit as i64)
    .fetch_all(&mut *tx)
    .await?;
    let Some(last_seq) = events.last().map(|e| e.1) else {
        return Ok(0);
    };
    let mut hooks: std::collections::HashMap<AccountId, Vec<Webhook>> = Default::default();
    let mut created = 0;
    for (event_id, _, account, event_type) in &events {
        if !hooks.contains_key(account) {
            let rows = sqlx::query(
                "SELECT id, url, events, created_at FROM webhooks WHERE account_id = ? ORDER BY created_at, id",
            )
            .bind(account)
            .fetch_all(&mut *tx)
            .await?;
            let list = rows
                .iter()
                .map(webhook_row)
                .collect::<StoreResult<Vec<_>>>()?;
            hooks.insert(*account, list);
        }
        for hook in &hooks[account] {
            if hook.events.is_empty() || hook.events.iter().any(|e| e == event_type) {
                insert_delivery(
                    &mut tx,
                    hook.id.as_str(),
                    *account,
                    event_id,
                    now,
                    give_up_at,
                )
                .await?;
                created += 1;
            }
        }
    }
    sqlx::query("UPDATE events SET dispatched = 1 WHERE dispatched = 0 AND seq <= ?")
        .bind(last_seq)
        .execute(&mut *tx)
        .await?;
    tx.commit().await?;
    Ok(created)
}

pub(super) async fn claim_deliveries(
    store: &SqliteStore,
    now: DateTime<Utc>,
    lease_until: DateTime<Utc>,
    limit: u32,
) -> StoreResult<Vec<ClaimedDelivery>> {
    let now_ms = millis(now);
    let any: bool = sqlx::query_scalar(
        "SELECT EXISTS(SELECT 1 FROM webhook_deliveries WHERE status = 'pending'
            AND next_attempt_at <= ? AND (lease_until IS NULL OR lease_until < ?))",
    )
    .bind(now_ms)
    .bind(now_ms)
    .fetch_one(&store.read)
    .await?;
    if !any {
        return Ok(Vec::new());
    }
    let mut tx = store.write.begin_with("BEGIN IMMEDIATE").await?;
    let rows = sqlx::query(
        "UPDATE webhook_deliveries SET lease_until = ?, attempts = attempts + 1, updated_at = ?
         WHERE id IN (
            SELECT id FROM webhook_deliveries
            WHERE status = 'pending' AND next_attempt_at <= ?
              AND (lease_until IS NULL OR lease_until < ?)
            ORDER BY next_attempt_at, created_at LIMIT ?)
         RETURNING id, webhook_id, event_id, attempts, give_up_at",
    )
    .bind(millis(lease_until))
    .bind(now_ms)
    .bind(now_ms)
    .bind(now_ms)
    .bind(limit as i64)
    .fetch_all(&mut *tx)
    .await?;
    let mut claimed = Vec::with_capacity(rows.len());
    for row in &rows {
        let id: String = row.try_get("id")?;
        let webhook_id: String = row.try_get("webhook_id")?;
        let event_id: String = row.try_get("event_id")?;
        let target = sqlx::query(
            "SELECT w.url, w.secret, e.payload, e.event_type FROM webhooks w, events e
             WHERE w.id = ? AND e.id = ?",
        )
        .bind(&webhook_id)
        .bind(&event_id)
        .fetch_optional(&mut *tx)
        .await?;
        let Some(target) = target else {
            // The subscription went away between the fan-out and now.
            sqlx::query("UPDATE webhook_deliveries SET status = 'failed', lease_until = NULL, last_error = 'webhook deleted' WHERE id = ?")
                .bind(&id)
                .execute(&mut *tx)
                .await?;
            continue;
        };
        claimed.push(ClaimedDelivery {
            id: DeliveryId::new(&id).map_err(|e| corrupt("delivery id", e))?,
            webhook_id: WebhookId::new(&webhook_id).map_err(|e| corrupt("webhook id", e))?,
            url: target.try_get("url")?,
            secret: WebhookSecret::new(target.try_get::<String, _>("secret")?),
            event_id: EventId::new(&event_id).map_err(|e| corrupt("event id", e))?,
            event_type: target.try_get("event_type")?,
            payload: target.try_get("payload")?,
            attempt: row.try_get::<i64, _>("attempts")? as u32,
            give_up_at: from_millis(row.try_get("give_up_at")?),
        });
    }
    tx.commit().await?;
    Ok(claimed)
}

pub(super) async fn record_attempt(store: &SqliteStore, record: &AttemptRecord) -> StoreResult<()> {
    let now = millis(Utc::now());
    let (status, next) = match record.outcome {
        AttemptOutcome::Succeeded => ("succeeded", None),
        AttemptOutcome::RetryAt(at) => ("pending", Some(millis(at))),
        AttemptOutcome::GaveUp => ("failed", None),
    };
    let mut tx = store.write.begin().await?;
    sqlx::query(
        "INSERT OR REPLACE INTO webhook_attempts (delivery_id, attempt, started_at, response_code, latency_ms, error)
         VALUES (?, ?, ?, ?, ?, ?)",
    )
    .bind(record.delivery_id.as_str())
    .bind(record.attempt as i64)
    .bind(millis(record.started_at))
    .bind(record.response_code.map(i64::from))
    .bind(record.latency_ms as i64)
    .bind(&record.error)
    .execute(&mut *tx)
    .await?;
    sqlx::query(
        "UPDATE webhook_deliveries SET status = ?, next_attempt_at = COALESCE(?, next_attempt_at),
                lease_until = NULL, response_code = ?, latency_ms = ?, last_error = ?, updated_at = ?
         WHERE id = ?",
    )
    .bind(status)
    .bind(next)
    .bind(record.response_code.map(i64::from))
    .bind(record.latency_ms as i64)
    .bind(&record.error)
    .bind(now)
    .bind(record.delivery_id.as_str())
    .execute(&mut *tx)
    .await?;
    tx.commit().await?;
    Ok(())
}

pub(super) async fn list_deliveries(
    store: &SqliteStore,
    account: AccountId,
    id: &WebhookId,
    limit: u32,
) -> StoreResult<Option<Vec<Delivery>>> {
    let mut conn = store.read.acquire().await?;
    let exists: Option<i64> =
        sqlx::query_scalar("SELECT 1 FROM webhooks WHERE account_id = ? AND id = ?")
            .bind(account)
            .bind(id.as_str())
            .fetch_optional(&mut *conn)
            .await?;
    if exists.is_none() {
        return Ok(None);
    }
    sqlx::query(
        "SELECT d.*, e.event_type FROM webhook_deliveries d JOIN events e ON e.id = d.event_id
         WHERE d.account_id = ? AND d.webhook_id = ?
         ORDER BY d.created_at DESC, d.rowid DESC LIMIT ?",
    )
    .bind(account)
    .bind(id.as_str())
    .bind(limit as i64)
    .fetch_all(&mut *conn)
    .await?
    .iter()
    .map(delivery_row)
    .collect::<StoreResult<Vec<_>>>()
    .map(Some)
}

pub(super) async fn get_delivery(
    store: &SqliteStore,
    account: AccountId,
    id: &WebhookId,
    delivery_id: &DeliveryId,
) -> StoreResult<Option<DeliveryDetail>> {
    let mut conn = store.read.acquire().await?;
    let row = sqlx::query(
        "SELECT d.*, e.event_type FROM webhook_deliveries d JOIN events e ON e.id = d.event_id
         WHERE d.account_id = ? AND d.webhook_id = ? AND d.id = ?",
    )
    .bind(account)
    .bind(id.as_str())
    .bind(delivery_id.as_str())
    .fetch_optional(&mut *conn)
    .await?;
    let Some(row) = row else { return Ok(None) };
    let delivery = delivery_row(&row)?;
    let attempts =
        sqlx::query("SELECT * FROM webhook_attempts WHERE delivery_id = ? ORDER BY attempt")
            .bind(delivery_id.as_str())
            .fetch_all(&mut *conn)
            .await?
            .iter()
            .map(|r| {
                Ok(DeliveryAttempt {
                    attempt: r.try_get::<i64, _>("attempt")? as u32,
                    started_at: from_millis(r.try_get("started_at")?),
                    response_code: r
                        .try_get::<Option<i64>, _>("response_code")?
                        .map(|c| c as u16),
                    latency_ms: r.try_get::<i64, _>("latency_ms")?.max(0) as u64,
                    error: r.try_get("error")?,
                })
            })
            .collect::<StoreResult<Vec<_>>>()?;
    Ok(Some(DeliveryDetail { delivery, attempts }))
}

pub(super) async fn redeliver(
    store: &SqliteStore,
    account: AccountId,
    id: &WebhookId,
    delivery_id: &DeliveryId,
    now: DateTime<Utc>,
    give_up_at: DateTime<Utc>,
) -> StoreResult<bool> {
    let mut tx = store.write.begin().await?;
    let found = sqlx::query(
        "UPDATE webhook_deliveries SET status = 'pending', next_attempt_at = ?, give_up_at = ?, updated_at = ?
         WHERE account_id = ? AND webhook_id = ? AND id = ?",
    )
    .bind(millis(now))
    .bind(millis(give_up_at))
    .bind(millis(now))
    .bind(account)
    .bind(id.as_str())
    .bind(delivery_id.as_str())
    .execute(&mut *tx)
    .await?
    .rows_affected()
        > 0;
    if !found {
        return Ok(false);
    }
    commit_answering(tx, &true).await?;
    Ok(true)
}

/// A pending delivery of an event to a subscription, due now.
async fn insert_delivery(
    conn: &mut SqliteConnection,
    webhook_id: &str,
    account: AccountId,
    event_id: &str,
    now: DateTime<Utc>,
    give_up_at: DateTime<Utc>,
) -> StoreResult<()> {
    sqlx::query(
        "INSERT INTO webhook_deliveries (id, webhook_id, account_id, event_id, status, attempts,
                                         next_attempt_at, give_up_at, created_at, updated_at)
         VALUES (?, ?, ?, ?, 'pending', 0, ?, ?, ?, ?)",
    )
    .bind(DeliveryId::generate().as_str())
    .bind(webhook_id)
    .bind(account)
    .bind(event_id)
    .bind(millis(now))
    .bind(millis(give_up_at))
    .bind(millis(now))
    .bind(millis(now))
    .execute(&mut *conn)
    .await?;
    Ok(())
}

pub(super) fn webhook_row(row: &sqlx::sqlite::SqliteRow) -> StoreResult<Webhook> {
    Ok(Webhook {
        id: WebhookId::new(row.try_get::<&str, _>("id")?).map_err(|e| corrupt("webhook id", e))?,
        url: row.try_get("url")?,
        events: serde_json::from_str(row.try_get::<&str, _>("events")?)
            .map_err(|e| corrupt("webhook events", e))?,
        created_at: from_millis(row.try_get("created_at")?),
    })
}

fn delivery_row(row: &sqlx::sqlite::SqliteRow) -> StoreResult<Delivery> {
    let status: String = row.try_get("status")?;
    Ok(Delivery {
        id: DeliveryId::new(row.try_get::<&str, _>("id")?)
            .map_err(|e| corrupt("delivery id", e))?,
        event_id: EventId::new(row.try_get::<&str, _>("event_id")?)
            .map_err(|e| corrupt("event id", e))?,
        event: row.try_get("event_type")?,
        attempts: row.try_get::<i64, _>("attempts")? as u32,
        response_code: row
            .try_get::<Option<i64>, _>("response_code")?
            .map(|c| c as u16),
        latency_ms: row
            .try_get::<Option<i64>, _>("latency_ms")?
            .map(|l| l.max(0) as u64),
        last_error: row.try_get("last_error")?,
        next_attempt_at: if status == "pending" {
            opt_time(row.try_get("next_attempt_at")?)
        } else {
            None
        },
        created_at: from_millis(row.try_get("created_at")?),
        status,
    })
}

/// Inserts an event row inside the caller's transaction. The payload is serialised here,
/// once: these bytes are what is signed and sent.
pub(super) async fn insert_event_for(
    conn: &mut SqliteConnection,
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
    let payload = serde_json::to_vec(&event).expect("events serialise");
    sqlx::query(
        "INSERT INTO events (id, seq, account_id, event_type, payload, created_at)
         VALUES (?, (SELECT COALESCE(MAX(seq), 0) + 1 FROM events), ?, ?, ?, ?)",
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
