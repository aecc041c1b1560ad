//! Operations on Postgres: the readiness write probe, the `/metrics` queue depth and the
//! server-wide secret.
//!
//! Errors that pass (the database restarting or unreachable, a full disk, no free
//! connection) become [`StoreError::Degraded`] in the one conversion both backends share,
//! the SQLite store's `ops::passing_condition`.

use super::*;

/// The `meta` row [`probe_write`] rewrites.
const PROBE_KEY: &str = "write_probe";

/// A small durable write: one row of `meta` rewritten and committed. Every replica has its
/// own pool, so this proves this process can write now (a full disk, a read-only standby
/// after a failover and a lost connection all fail it as `Degraded`).
pub(super) async fn probe_write(store: &PgStore) -> StoreResult<()> {
    let mut stamp = [0u8; 8];
    getrandom::fill(&mut stamp).map_err(|e| StoreError::Backend(e.to_string().into()))?;
    sqlx::query(
        "INSERT INTO meta (key, value) VALUES ($1, $2)
         ON CONFLICT (key) DO UPDATE SET value = excluded.value",
    )
    .bind(PROBE_KEY)
    .bind(&stamp[..])
    .execute(&store.pool)
    .await?;
    Ok(())
}

/// Created by the first replica that asks; every other one reads that value.
pub(super) async fn server_secret(store: &PgStore) -> StoreResult<Vec<u8>> {
    let mut fresh = [0u8; 32];
    getrandom::fill(&mut fresh).map_err(|e| StoreError::Backend(e.to_string().into()))?;
    // Of two first inserts the second waits for the first to commit and then does nothing;
    // the SELECT, a statement of its own, sees the row that won.
    sqlx::query(
        "INSERT INTO meta (key, value) VALUES ('server_secret', $1) ON CONFLICT (key) DO NOTHING",
    )
    .bind(&fresh[..])
    .execute(&store.pool)
    .await?;
    Ok(
        sqlx::query_scalar("SELECT value FROM meta WHERE key = 'server_secret'")
            .fetch_one(&store.pool)
            .await?,
    )
}

/// Unfinished entries by state, one count each (served by the `queue_due` index).
pub(super) async fn queue_depth(store: &PgStore) -> StoreResult<Vec<(&'static str, u64)>> {
    let mut depth = vec![("queued", 0), ("sending", 0)];
    for (state, n) in &mut depth {
        let count: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM queue WHERE status = $1")
            .bind(*state)
            .fetch_one(&store.pool)
            .await?;
        *n = count.max(0) as u64;
    }
    Ok(depth)
}
