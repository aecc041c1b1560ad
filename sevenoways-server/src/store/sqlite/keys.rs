//! API keys: creation with the account, lookup, rotation and revocation.
//!
//! Keys live in `api_keys` (migration 0005), apart from accounts, so an account has two
//! working keys while a rotation's grace period runs. Every rotation and revocation
//! increases `key_generation` in the same transaction; servers poll that number and drop
//! their cached keys when it moves (see [`crate::auth::KeyCache`]).

use chrono::{DateTime, Utc};
use sqlx::{Row, SqliteConnection};

use super::*;

pub(super) async fn create_account(
    store: &SqliteStore,
    name: &str,
    plan: &str,
    key_hash: &[u8; 32],
) -> StoreResult<AccountId> {
    let now = millis(Utc::now());
    let mut tx = store.write.begin().await?;
    // `accounts.key_hash` keeps the first key's hash only because the column cannot be
    // dropped; `api_keys` is what authenticates.
    let id: AccountId = sqlx::query_scalar(
        "INSERT INTO accounts (name, plan, key_hash, created_at) VALUES (?, ?, ?, ?) RETURNING id",
    )
    .bind(name)
    .bind(plan)
    .bind(&key_hash[..])
    .bind(now)
    .fetch_one(&mut *tx)
    .await?;
    insert_key(&mut tx, id, key_hash, now).await?;
    tx.commit().await?;
    Ok(id)
}

/// The first account, only while there is none: one statement decides, on the one writer,
/// so of several processes starting on an empty database exactly one creates it.
pub(super) async fn create_first_account(
    store: &SqliteStore,
    name: &str,
    plan: &str,
    key_hash: &[u8; 32],
) -> StoreResult<Option<AccountId>> {
    let now = millis(Utc::now());
    let mut tx = store.write.begin().await?;
    let id: Option<AccountId> = sqlx::query_scalar(
        "INSERT INTO accounts (name, plan, key_hash, created_at)
         SELECT ?, ?, ?, ? WHERE NOT EXISTS (SELECT 1 FROM accounts)
         RETURNING id",
    )
    .bind(name)
    .bind(plan)
    .bind(&key_hash[..])
    .bind(now)
    .fetch_optional(&mut *tx)
    .await?;
    if let Some(id) = id {
        insert_key(&mut tx, id, key_hash, now).await?;
    }
    tx.commit().await?;
    Ok(id)
}

async fn insert_key(
    conn: &mut SqliteConnection,
    account: AccountId,
    key_hash: &[u8; 32],
    now: i64,
) -> Result<(), sqlx::Error> {
    sqlx::query("INSERT INTO api_keys (account_id, key_hash, created_at) VALUES (?, ?, ?)")
        .bind(account)
        .bind(&key_hash[..])
        .bind(now)
        .execute(&mut *conn)
        .await?;
    Ok(())
}

async fn bump_generation(conn: &mut SqliteConnection) -> Result<(), sqlx::Error> {
    sqlx::query("UPDATE key_generation SET generation = generation + 1 WHERE id = 1")
        .execute(&mut *conn)
        .await?;
    Ok(())
}

pub(super) async fn key_lookup(
    store: &SqliteStore,
    key_hash: &[u8; 32],
    now: DateTime<Utc>,
) -> StoreResult<KeyLookup> {
    let row = sqlx::query(
        "SELECT k.id, k.key_hash, k.expires_at, k.revoked_at AS key_revoked_at, k.last_used_at,
                a.id AS account_id, a.name, a.plan, a.revoked_at AS account_revoked_at
         FROM api_keys k JOIN accounts a ON a.id = k.account_id
         WHERE k.key_hash = ?",
    )
    .bind(&key_hash[..])
    .fetch_optional(&store.read)
    .await?;
    let Some(row) = row else {
        return Ok(KeyLookup::Unknown);
    };
    // The index lookup already matched; compare again in constant time so the answer
    // never depends on where two hashes differ.
    let stored: Vec<u8> = row.try_get("key_hash")?;
    if !bool::from(subtle::ConstantTimeEq::ct_eq(&stored[..], &key_hash[..])) {
        return Ok(KeyLookup::Unknown);
    }
    let key_revoked: Option<i64> = row.try_get("key_revoked_at")?;
    let account_revoked: Option<i64> = row.try_get("account_revoked_at")?;
    if key_revoked.is_some() || account_revoked.is_some() {
        return Ok(KeyLookup::Revoked);
    }
    let expires_at = opt_time(row.try_get("expires_at")?);
    if expires_at.is_some_and(|at| at <= now) {
        return Ok(KeyLookup::Expired);
    }
    Ok(KeyLookup::Valid {
        key: KeyId(row.try_get("id")?),
        account: Account {
            id: row.try_get("account_id")?,
            name: row.try_get("name")?,
            plan: row.try_get("plan")?,
        },
        expires_at,
        last_used_at: opt_time(row.try_get("last_used_at")?),
    })
}

pub(super) async fn touch_key(
    store: &SqliteStore,
    key: KeyId,
    now: DateTime<Utc>,
) -> StoreResult<()> {
    let now = millis(now);
    // At most one write a minute per key, whatever the request rate.
    sqlx::query(
        "UPDATE api_keys SET last_used_at = ?
         WHERE id = ? AND (last_used_at IS NULL OR last_used_at < ?)",
    )
    .bind(now)
    .bind(key.0)
    .bind(now - 60_000)
    .execute(&mut *store.write.conn().await?)
    .await?;
    Ok(())
}

pub(super) async fn list_keys(store: &SqliteStore) -> StoreResult<Vec<KeyInfo>> {
    sqlx::query(
        "SELECT k.id, k.account_id, a.name, a.plan, k.created_at, k.last_used_at, k.expires_at,
                COALESCE(k.revoked_at, a.revoked_at) AS revoked_at
         FROM api_keys k JOIN accounts a ON a.id = k.account_id
         ORDER BY k.account_id, k.id",
    )
    .fetch_all(&store.read)
    .await?
    .iter()
    .map(|row| {
        Ok(KeyInfo {
            key: KeyId(row.try_get("id")?),
            account_id: row.try_get("account_id")?,
            name: row.try_get("name")?,
            plan: row.try_get("plan")?,
            created_at: from_millis(row.try_get("created_at")?),
            last_used_at: opt_time(row.try_get("last_used_at")?),
            expires_at: opt_time(row.try_get("expires_at")?),
            revoked_at: opt_time(row.try_get("revoked_at")?),
        })
    })
    .collect()
}

pub(super) async fn rotate_key(
    store: &SqliteStore,
    account: AccountId,
    new_key_hash: &[u8; 32],
    old_expires_at: DateTime<Utc>,
    now: DateTime<Utc>,
) -> StoreResult<bool> {
    let mut tx = store.write.begin_with("BEGIN IMMEDIATE").await?;
    let live: Option<i64> =
        sqlx::query_scalar("SELECT 1 FROM accounts WHERE id = ? AND revoked_at IS NULL")
            .bind(account)
            .fetch_optional(&mut *tx)
            .await?;
    if live.is_none() {
        return Ok(false);
    }
    // A key already on its way out keeps the earlier of its two ends: rotating again
    // never lengthens an old key's life.
    sqlx::query(
        "UPDATE api_keys SET expires_at = MIN(COALESCE(expires_at, ?1), ?1)
         WHERE account_id = ?2 AND revoked_at IS NULL",
    )
    .bind(millis(old_expires_at.max(now)))
    .bind(account)
    .execute(&mut *tx)
    .await?;
    insert_key(&mut tx, account, new_key_hash, millis(now)).await?;
    bump_generation(&mut tx).await?;
    tx.commit().await?;
    Ok(true)
}

pub(super) async fn revoke_account(
    store: &SqliteStore,
    account: AccountId,
    now: DateTime<Utc>,
    reason: &str,
) -> StoreResult<Option<Revoked>> {
    let now = millis(now);
    let mut tx = store.write.begin_with("BEGIN IMMEDIATE").await?;
    let revoked =
        sqlx::query("UPDATE accounts SET revoked_at = ? WHERE id = ? AND revoked_at IS NULL")
            .bind(now)
            .bind(account)
            .execute(&mut *tx)
            .await?
            .rows_affected();
    if revoked == 0 {
        return Ok(None);
    }
    let keys = sqlx::query(
        "UPDATE api_keys SET revoked_at = ? WHERE account_id = ? AND revoked_at IS NULL",
    )
    .bind(now)
    .bind(account)
    .execute(&mut *tx)
    .await?
    .rows_affected();
    // Unsent messages fail with the reason. An entry a worker holds right now may still
    // go out; its outcome is then not recorded (the lease no longer matches).
    let failed_entries = sqlx::query(
        "UPDATE queue SET status = 'failed', error = ?, lease_until = NULL, updated_at = ?
         WHERE account_id = ? AND status IN ('queued', 'sending')",
    )
    .bind(reason)
    .bind(now)
    .bind(account)
    .execute(&mut *tx)
    .await?
    .rows_affected();
    let schedules = sqlx::query(
        "UPDATE schedules SET next_run_at = NULL WHERE account_id = ? AND next_run_at IS NOT NULL",
    )
    .bind(account)
    .execute(&mut *tx)
    .await?
    .rows_affected();
    // A revoked key may be a stolen one: its holder's webhooks must not keep receiving
    // the account's events, so the subscriptions go with their pending deliveries.
    let hooks: Vec<(String, String)> =
        sqlx::query_as("SELECT id, url FROM webhooks WHERE account_id = ? ORDER BY created_at, id")
            .bind(account)
            .fetch_all(&mut *tx)
            .await?;
    sqlx::query(
        "DELETE FROM webhook_attempts WHERE delivery_id IN
            (SELECT id FROM webhook_deliveries WHERE account_id = ?)",
    )
    .bind(account)
    .execute(&mut *tx)
    .await?;
    for table in ["webhook_deliveries", "webhooks", "webhook_manual_calls"] {
        sqlx::query(&format!("DELETE FROM {table} WHERE account_id = ?"))
            .bind(account)
            .execute(&mut *tx)
            .await?;
    }
    bump_generation(&mut tx).await?;
    tx.commit().await?;
    let webhooks = hooks
        .into_iter()
        .map(|(id, url)| {
            WebhookId::new(&id)
                .map(|id| (id, url))
                .map_err(|e| corrupt("webhook id", e))
        })
        .collect::<StoreResult<_>>()?;
    Ok(Some(Revoked {
        keys,
        failed_entries,
        schedules,
        webhooks,
    }))
}
