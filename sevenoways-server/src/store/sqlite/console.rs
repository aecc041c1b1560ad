//! The web console's rows: sessions, failed sign-ins, and the queue page's recent entries.

use std::time::Duration;

use chrono::{DateTime, Utc};
use sevenoways_sdk::QueueId;
use sevenoways_sdk::models::queue::QueueEntry;
use sqlx::Row;

use super::SqliteStore;
use super::queue::queue_entry_row;
use crate::store::{AccountId, ConsoleSessionRow, QUEUE_SCAN, QueueFilter, StoreResult};
use crate::time::{from_millis, millis};

pub(super) async fn create_session(
    store: &SqliteStore,
    token_hash: &[u8; 32],
    account: AccountId,
    sealed_key: &[u8],
    now: DateTime<Utc>,
    expires_at: DateTime<Utc>,
    max_per_account: u32,
) -> StoreResult<()> {
    let now_ms = millis(now);
    let mut tx = store.write.begin_with("BEGIN IMMEDIATE").await?;
    sqlx::query("DELETE FROM console_sessions WHERE expires_at <= ?")
        .bind(now_ms)
        .execute(&mut *tx)
        .await?;
    sqlx::query(
        "INSERT INTO console_sessions (token_hash, account_id, sealed_key, created_at, expires_at) \
         VALUES (?, ?, ?, ?, ?)",
    )
    .bind(&token_hash[..])
    .bind(account)
    .bind(sealed_key)
    .bind(now_ms)
    .bind(millis(expires_at))
    .execute(&mut *tx)
    .await?;
    if max_per_account > 0 {
        // The newest `max_per_account` stay; a key signing in over and over replaces its
        // own oldest sessions rather than growing the table.
        sqlx::query(
            "DELETE FROM console_sessions WHERE account_id = ?1 AND token_hash NOT IN \
             (SELECT token_hash FROM console_sessions WHERE account_id = ?1 \
              ORDER BY created_at DESC, token_hash LIMIT ?2)",
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
    store: &SqliteStore,
    token_hash: &[u8; 32],
    now: DateTime<Utc>,
) -> StoreResult<Option<ConsoleSessionRow>> {
    let row = sqlx::query(
        "SELECT account_id, sealed_key, expires_at FROM console_sessions \
         WHERE token_hash = ? AND expires_at > ?",
    )
    .bind(&token_hash[..])
    .bind(millis(now))
    .fetch_optional(&store.read)
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

pub(super) async fn delete_session(store: &SqliteStore, token_hash: &[u8; 32]) -> StoreResult<()> {
    sqlx::query("DELETE FROM console_sessions WHERE token_hash = ?")
        .bind(&token_hash[..])
        .execute(&mut *store.write.conn().await?)
        .await?;
    Ok(())
}

pub(super) async fn sign_in_wait(
    store: &SqliteStore,
    client: &str,
    now: DateTime<Utc>,
    per_minute: u32,
) -> StoreResult<Option<Duration>> {
    if per_minute == 0 {
        return Ok(None);
    }
    let now_ms = millis(now);
    let recent: Vec<i64> = sqlx::query_scalar(
        "SELECT at FROM console_sign_in_failures WHERE client = ? AND at > ? \
         ORDER BY at DESC LIMIT ?",
    )
    .bind(client)
    .bind(now_ms - 60_000)
    .bind(i64::from(per_minute))
    .fetch_all(&store.read)
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
    store: &SqliteStore,
    client: &str,
    now: DateTime<Utc>,
) -> StoreResult<()> {
    let now_ms = millis(now);
    let mut tx = store.write.begin_with("BEGIN IMMEDIATE").await?;
    sqlx::query("INSERT INTO console_sign_in_failures (client, at) VALUES (?, ?)")
        .bind(client)
        .bind(now_ms)
        .execute(&mut *tx)
        .await?;
    // At most a minute of rows, whoever left them.
    sqlx::query("DELETE FROM console_sign_in_failures WHERE at <= ?")
        .bind(now_ms - 60_000)
        .execute(&mut *tx)
        .await?;
    tx.commit().await?;
    Ok(())
}

pub(super) async fn recent_entries(
    store: &SqliteStore,
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
        "SELECT * FROM (SELECT * FROM queue WHERE account_id = ?1 AND id < ?2 \
                        ORDER BY id DESC LIMIT ?3) \
         WHERE (?4 IS NULL OR instance_id = ?4) AND (?5 IS NULL OR status = ?5) \
         ORDER BY id DESC LIMIT ?6",
    )
    .bind(account)
    .bind(before)
    .bind(i64::from(QUEUE_SCAN))
    .bind(filter.instance.as_ref().map(|i| i.as_str()))
    .bind(filter.status.map(|s| s.as_str()))
    .bind(i64::from(limit))
    .fetch_all(&store.read)
    .await?;
    rows.iter().map(queue_entry_row).collect()
}
