//! The web console's rows on Postgres: sessions, failed sign-ins, and the queue page's
//! recent entries, as in the SQLite store's module of the same name.

use std::time::Duration;

use chrono::{DateTime, Utc};
use sevenoways_sdk::QueueId;
use sevenoways_sdk::models::queue::QueueEntry;
use sqlx::Row;
use sqlx::postgres::PgRow;

use super::*;

pub(super) async fn create_session(
    store: &PgStore,
    token_hash: &[u8; 32],
    account: AccountId,
    sealed_key: &[u8],
    now: DateTime<Utc>,
    expires_at: DateTime<Utc>,
    max_per_account: u32,
) -> StoreResult<()> {
    let now_ms = millis(now);
    let mut tx = store.pool.begin().await?;
    if max_per_account > 0 {
        // Sign-ins of one account on several replicas at once trim in turn, so the
        // account never keeps more than `max_per_account` (SQLite's one writer did this).
        lock_account(&mut tx, account).await?;
    }
    sqlx::query("DELETE FROM console_sessions WHERE expires_at <= $1")
        .bind(now_ms)
        .execute(&mut *tx)
        .await?;
    sqlx::query(
        "INSERT INTO console_sessions (token_hash, account_id, sealed_key, created_at, expires_at)
         VALUES ($1, $2, $3, $4, $5)",
    )
    .bind(&token_hash[..])
    .bind(account)
    .bind(sealed_key)
    .bind(now_ms)
    .bind(millis(expires_at))
    .execute(&mut *tx)
    .await?;
    if max_per_account > 0 {
        // The newest `max_per_account` stay (see the SQLite store's `create_session`).
        sqlx::query(
            "DELETE FROM console_sessions WHERE account_id = $1 AND token_hash NOT IN
             (SELECT token_hash FROM console_sessions WHERE account_id = $1
              ORDER BY created_at DESC, token_hash LIMIT $2)",
        )
        .bind(account)
        .bind(i64::from(max_per_account))
        .execute(&mut *tx)
        .await?;
    }
    tx.commit().await?;
    Ok(())
}

pub(super) async fn session(
    store: &PgStore,
    token_hash: &[u8; 32],
    now: DateTime<Utc>,
) -> StoreResult<Option<ConsoleSessionRow>> {
    let row = sqlx::query(
        "SELECT account_id, sealed_key, expires_at FROM console_sessions
         WHERE token_hash = $1 AND expires_at > $2",
    )
    .bind(&token_hash[..])
    .bind(millis(now))
    .fetch_optional(&store.pool)
    .await?;
    row.map(|row| {
        Ok(ConsoleSessionRow {
            account_id: row.try_get("account_id")?,
            sealed_key: row.try_get("sealed_key")?,
            expires_at: from_millis(row.try_get("expires_at")?),
        })
    })
    .transpose()
}

pub(super) async fn delete_session(store: &PgStore, token_hash: &[u8; 32]) -> StoreResult<()> {
    sqlx::query("DELETE FROM console_sessions WHERE token_hash = $1")
        .bind(&token_hash[..])
        .execute(&store.pool)
        .await?;
    Ok(())
}

pub(super) async fn sign_in_wait(
    store: &PgStore,
    client: &str,
    now: DateTime<Utc>,
    per_minute: u32,
) -> StoreResult<Option<Duration>> {
    if per_minute == 0 {
        return Ok(None);
    }
    let now_ms = millis(now);
    let recent: Vec<i64> = sqlx::query_scalar(
        "SELECT at FROM console_sign_in_failures WHERE client = $1 AND at > $2
         ORDER BY at DESC LIMIT $3",
    )
    .bind(client)
    .bind(now_ms - 60_000)
    .bind(i64::from(per_minute))
    .fetch_all(&store.pool)
    .await?;
    if recent.len() < per_minute as usize {
        return Ok(None);
    }
    // Checked again once the oldest of the last `per_minute` failures leaves the minute.
    let oldest = recent.last().copied().unwrap_or(now_ms);
    Ok(Some(Duration::from_millis(
        (oldest + 60_000 - now_ms).max(1) as u64,
    )))
}

pub(super) async fn record_sign_in_failure(
    store: &PgStore,
    client: &str,
    now: DateTime<Utc>,
) -> StoreResult<()> {
    let now_ms = millis(now);
    let mut tx = store.pool.begin().await?;
    sqlx::query("INSERT INTO console_sign_in_failures (client, at) VALUES ($1, $2)")
        .bind(client)
        .bind(now_ms)
        .execute(&mut *tx)
        .await?;
    // At most a minute of rows, whoever left them.
    sqlx::query("DELETE FROM console_sign_in_failures WHERE at <= $1")
        .bind(now_ms - 60_000)
        .execute(&mut *tx)
        .await?;
    tx.commit().await?;
    Ok(())
}

pub(super) async fn recent_entries(
    store: &PgStore,
    account: AccountId,
    filter: &QueueFilter,
    limit: u32,
) -> StoreResult<Vec<QueueEntry>> {
    let before = filter
        .before
        .and_then(|QueueId(id)| i64::try_from(id).ok())
        .unwrap_or(i64::MAX);
    // The inner query walks `queue_by_account` backwards and stops after QUEUE_SCAN rows,
    // so a filter that matches nothing costs a bounded read, not the account's history.
    let rows = sqlx::query(
        "SELECT * FROM (SELECT * FROM queue WHERE account_id = $1 AND id < $2
                        ORDER BY id DESC LIMIT $3) AS scanned
         WHERE ($4::TEXT IS NULL OR instance_id = $4) AND ($5::TEXT IS NULL OR status = $5)
         ORDER BY id DESC LIMIT $6",
    )
    .bind(account)
    .bind(before)
    .bind(i64::from(QUEUE_SCAN))
    .bind(filter.instance.as_ref().map(|i| i.as_str()))
    .bind(filter.status.map(|s| s.as_str()))
    .bind(i64::from(limit))
    .fetch_all(&store.pool)
    .await?;
    rows.iter().map(entry_row).collect()
}

/// A `queue` row as the API shows it (the same reading as the queue module's).
fn entry_row(row: &PgRow) -> StoreResult<QueueEntry> {
    let attempts: i64 = row.try_get("attempts")?;
    Ok(QueueEntry {
        queue_id: QueueId(row.try_get::<i64, _>("id")? as u64),
        instance_id: instance_id(row.try_get("instance_id")?)?,
        to: row.try_get("recipient")?,
        status: queue_status(row.try_get::<&str, _>("status")?),
        attempts: u32::try_from(attempts).map_err(|e| corrupt("queue attempts", e))?,
        error: row.try_get("error")?,
        content: content(row.try_get::<&str, _>("content")?)?,
        created_at: from_millis(row.try_get("created_at")?),
        updated_at: from_millis(row.try_get("updated_at")?),
        sent_at: opt_time(row.try_get("sent_at")?),
        delivered_at: opt_time(row.try_get("delivered_at")?),
        read_at: opt_time(row.try_get("read_at")?),
    })
}
