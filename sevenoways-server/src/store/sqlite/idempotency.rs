//! Idempotency keys: recorded answers, written inside the transaction of the effect they
//! answer for (see [`crate::idempotency`] for why).

use std::collections::HashSet;
use std::sync::Arc;

use chrono::{DateTime, Utc};
use sevenoways_sdk::{IdempotencyKey, QueueId};
use sqlx::{Row, SqliteConnection};

use super::commit::{Failure, Params};
use super::queue::EnqueueJob;
use super::*;
use crate::idempotency::{self, Answer, Claim, Recorded};
use crate::secrets::SecretsKey;
use crate::store::recorded::{Secret, open, seal_context, taken};

/// Inserts `answer` under the claim's key, taking over a row that has expired. `false`
/// when a live row holds the key: the caller must not commit its effect.
async fn insert(
    conn: &mut SqliteConnection,
    claim: &Claim,
    answer: &Answer,
    now: DateTime<Utc>,
    secret: Secret<'_>,
) -> Result<bool, sqlx::Error> {
    let (body, sealed) = secret.columns(claim, answer);
    let inserted = sqlx::query(
        "INSERT INTO idempotency_keys (account_id, key, method, path, body_sha256, status, body,
                                       holds_secret, body_sealed, created_at, expires_at)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
         ON CONFLICT (account_id, key) DO UPDATE SET
            method = excluded.method, path = excluded.path, body_sha256 = excluded.body_sha256,
            status = excluded.status, body = excluded.body, holds_secret = excluded.holds_secret,
            body_sealed = excluded.body_sealed, created_at = excluded.created_at,
            expires_at = excluded.expires_at
         WHERE idempotency_keys.expires_at <= excluded.created_at",
    )
    .bind(claim.account)
    .bind(claim.key.as_str())
    .bind(&claim.method)
    .bind(&claim.path)
    .bind(&claim.body_sha256[..])
    .bind(i64::from(answer.status))
    .bind(body)
    .bind(secret.holds_secret())
    .bind(sealed)
    .bind(millis(now))
    .bind(millis(claim.expires_at(now)))
    .execute(&mut *conn)
    .await?
    .rows_affected();
    Ok(inserted == 1)
}

/// Commits `tx`, and with it the current request's answer for `value` when the request
/// has an Idempotency-Key and its handler answers from a `T`
/// ([`idempotency::answer_with`]). When a live row holds the key already, nothing is
/// committed: `tx` rolls back and the result is a `Conflict`.
///
/// Every store call that is a request's effect ends with this instead of `tx.commit()`,
/// on its success path only, with `value` the very value it returns (`&()` for `()`), so
/// a handler answers from the result it gets back. It is a plain commit for everything
/// else.
pub(super) async fn commit_answering<T: 'static>(tx: WriteTx, value: &T) -> StoreResult<()> {
    commit_recording(tx, value, Secret::None).await
}

/// [`commit_answering`] for an effect whose answer shows a webhook signing secret: with a
/// secrets key configured the recorded answer is sealed with it, like the secret itself
/// (see `webhooks::prepare_secrets`).
pub(super) async fn commit_answering_secret<T: 'static>(
    store: &SqliteStore,
    tx: WriteTx,
    value: &T,
) -> StoreResult<()> {
    let key = store.secrets_key.as_deref();
    commit_recording(tx, value, Secret::Sealed(key)).await
}

async fn commit_recording<T: 'static>(
    mut tx: WriteTx,
    value: &T,
    secret: Secret<'_>,
) -> StoreResult<()> {
    let recording =
        idempotency::current().and_then(|claim| claim.render(value).map(|answer| (claim, answer)));
    let Some((claim, answer)) = recording else {
        tx.commit().await?;
        return Ok(());
    };
    if !insert(&mut tx, &claim, &answer, Utc::now(), secret).await? {
        claim.taken();
        return Err(taken(&claim));
    }
    tx.commit().await?;
    claim.committed(answer);
    Ok(())
}

/// [`Store::record_answer`]: the current request's answer for `value`, in a transaction
/// of its own; nothing (not even a transaction) when the request has no key or its
/// handler does not answer from `value`'s type.
pub(super) async fn record_alone(
    store: &SqliteStore,
    value: &(dyn std::any::Any + Send + Sync),
) -> StoreResult<()> {
    let Some(claim) = idempotency::current() else {
        return Ok(());
    };
    let Some(answer) = claim.render_any(value) else {
        return Ok(());
    };
    let mut tx = store.write.begin().await?;
    if !insert(&mut tx, &claim, &answer, Utc::now(), Secret::None).await? {
        claim.taken();
        return Err(taken(&claim));
    }
    tx.commit().await?;
    claim.committed(answer);
    Ok(())
}

/// The answer recorded under `key`, unless it expired by `now`.
pub(super) async fn recorded(
    store: &SqliteStore,
    account: AccountId,
    key: &IdempotencyKey,
    now: DateTime<Utc>,
) -> StoreResult<Option<Recorded>> {
    let row = sqlx::query(
        "SELECT method, path, body_sha256, status, body, body_sealed FROM idempotency_keys
         WHERE account_id = ? AND key = ? AND expires_at > ?",
    )
    .bind(account)
    .bind(key.as_str())
    .bind(millis(now))
    .fetch_optional(&store.read)
    .await?;
    let Some(row) = row else { return Ok(None) };
    let status: i64 = row.try_get("status")?;
    let body = match row.try_get::<Option<Vec<u8>>, _>("body_sealed")? {
        None => row.try_get("body")?,
        Some(sealed) => open(store.secrets_key.as_deref(), &sealed, account, key.as_str())?,
    };
    Ok(Some(Recorded {
        method: row.try_get("method")?,
        path: row.try_get("path")?,
        body_sha256: row.try_get("body_sha256")?,
        answer: Answer {
            status: u16::try_from(status).map_err(|e| corrupt("recorded status", e))?,
            body,
        },
    }))
}

/// A kept answer's row as `seal_answers` reads it: account, key, body, sealed body.
type KeptAnswer = (AccountId, String, Vec<u8>, Option<Vec<u8>>);

/// For `webhooks::prepare_secrets`, in its transaction: seals the answers that show a
/// secret and were recorded without a key (plaintext), or, with `old`, opens the sealed
/// ones with it and seals them again with `new`. Returns how many rows changed.
pub(super) async fn seal_answers(
    conn: &mut SqliteConnection,
    new: &SecretsKey,
    old: Option<&SecretsKey>,
) -> StoreResult<u64> {
    let rows: Vec<KeptAnswer> = sqlx::query_as(
        "SELECT account_id, key, body, body_sealed FROM idempotency_keys
         WHERE holds_secret = 1 AND (body_sealed IS NULL OR ?)",
    )
    .bind(old.is_some())
    .fetch_all(&mut *conn)
    .await?;
    let mut changed = 0;
    for (account, key, body, sealed) in rows {
        let context = seal_context(account, &key);
        let plain = match (sealed, old) {
            (None, _) => body,
            (Some(sealed), Some(old)) => old.open(&sealed, &context).map_err(|_| {
                StoreError::Secrets(format!(
                    "a recorded answer does not open with {}",
                    sevenoways_sdk::env::SECRETS_KEY_PREVIOUS
                ))
            })?,
            (Some(_), None) => continue,
        };
        sqlx::query(
            "UPDATE idempotency_keys SET body = X'', body_sealed = ?
             WHERE account_id = ? AND key = ?",
        )
        .bind(new.seal(&plain, &context))
        .bind(account)
        .bind(&key)
        .execute(&mut *conn)
        .await?;
        changed += 1;
    }
    Ok(changed)
}

/// Deletes keys that expired by `now`, at most `limit` per transaction so that the queue's
/// group commit never waits long behind it; returns how many.
pub(super) async fn prune(store: &SqliteStore, now: DateTime<Utc>, limit: u32) -> StoreResult<u64> {
    let mut deleted = 0;
    loop {
        let n = sqlx::query(
            "DELETE FROM idempotency_keys WHERE (account_id, key) IN (
                SELECT account_id, key FROM idempotency_keys WHERE expires_at <= ? LIMIT ?)",
        )
        .bind(millis(now))
        .bind(i64::from(limit))
        .execute(&mut *store.write.conn().await?)
        .await?
        .rows_affected();
        deleted += n;
        if n < u64::from(limit) {
            return Ok(deleted);
        }
    }
}

/// Rows per statement in the group commit's idempotency statements: 9 parameters each stays
/// well under SQLite's 32766-parameter limit.
const ROWS_PER_STATEMENT: usize = 400;

/// For the group commit: which jobs are replays, because a committed request holds their
/// key or an earlier job of this batch carries it. A replay is not admitted (it counts
/// against no limit) and writes nothing; its claim is marked taken once the batch commits.
///
/// Runs under the write lock (`BEGIN IMMEDIATE`), so no other writer can record a key
/// between this check and the batch's own inserts. One statement per 400 keyed jobs, not
/// one per job.
pub(super) fn replays(
    conn: &rusqlite::Connection,
    jobs: &[EnqueueJob],
    now: DateTime<Utc>,
) -> rusqlite::Result<Vec<bool>> {
    let keyed: Vec<&Claim> = jobs.iter().filter_map(|j| j.claim.as_deref()).collect();
    let mut held: HashSet<(AccountId, String)> = HashSet::new();
    for chunk in keyed.chunks(ROWS_PER_STATEMENT) {
        let mut sql = String::from(
            "SELECT account_id, key FROM idempotency_keys WHERE expires_at > ? AND (account_id, key) IN (VALUES ",
        );
        for i in 0..chunk.len() {
            sql.push_str(if i == 0 { "(?, ?)" } else { ", (?, ?)" });
        }
        sql.push(')');
        let mut stmt = conn.prepare_cached(&sql)?;
        let mut params = Params::new(&mut stmt);
        params.bind(millis(now))?;
        for claim in chunk {
            params.bind(claim.account)?.bind(claim.key.as_str())?;
        }
        let mut rows = stmt.raw_query();
        while let Some(row) = rows.next()? {
            held.insert((row.get(0)?, row.get(1)?));
        }
    }
    let mut in_batch: HashSet<(AccountId, &str)> = HashSet::new();
    Ok(jobs
        .iter()
        .map(|job| {
            job.claim.as_ref().is_some_and(|claim| {
                !in_batch.insert((claim.account, claim.key.as_str()))
                    || held.contains(&(claim.account, claim.key.as_str().to_owned()))
            })
        })
        .collect())
}

/// For the group commit: records the answer of every admitted job that has a key, in the
/// batch's transaction, with multi-row INSERTs. Returns the claims to mark committed once
/// that transaction is.
pub(super) fn record_sends(
    conn: &rusqlite::Connection,
    jobs: &[&EnqueueJob],
    results: &[Result<Vec<QueueId>, Refusal>],
    now: DateTime<Utc>,
) -> Result<Vec<(Arc<Claim>, Answer)>, Failure> {
    let recorded: Vec<(Arc<Claim>, Answer)> = jobs
        .iter()
        .zip(results)
        .filter_map(|(job, result)| {
            let (Some(claim), Ok(ids)) = (&job.claim, result) else {
                return None;
            };
            claim.render(ids).map(|answer| (claim.clone(), answer))
        })
        .collect();
    for chunk in recorded.chunks(ROWS_PER_STATEMENT) {
        let mut sql = String::from(
            "INSERT INTO idempotency_keys (account_id, key, method, path, body_sha256, status, body,
                                           created_at, expires_at) VALUES ",
        );
        for i in 0..chunk.len() {
            sql.push_str(if i == 0 {
                "(?, ?, ?, ?, ?, ?, ?, ?, ?)"
            } else {
                ", (?, ?, ?, ?, ?, ?, ?, ?, ?)"
            });
        }
        // An expired row of the key is taken over, as in `insert`.
        sql.push_str(
            " ON CONFLICT (account_id, key) DO UPDATE SET
                method = excluded.method, path = excluded.path, body_sha256 = excluded.body_sha256,
                status = excluded.status, body = excluded.body, holds_secret = 0, body_sealed = NULL,
                created_at = excluded.created_at,
                expires_at = excluded.expires_at
             WHERE idempotency_keys.expires_at <= excluded.created_at",
        );
        let mut stmt = conn.prepare_cached(&sql)?;
        let mut params = Params::new(&mut stmt);
        for (claim, answer) in chunk {
            params
                .bind(claim.account)?
                .bind(claim.key.as_str())?
                .bind(&claim.method)?
                .bind(&claim.path)?
                .bind(&claim.body_sha256[..])?
                .bind(i64::from(answer.status))?
                .bind(&answer.body)?
                .bind(millis(now))?
                .bind(millis(claim.expires_at(now)))?;
        }
        let written = stmt.raw_execute()?;
        if written != chunk.len() {
            // `replays` ruled this out under the same write lock; if it happens anyway,
            // failing the batch is the safe way out (nothing commits, every caller may
            // retry), where committing would answer one key twice.
            return Err(Failure::broken(format!(
                "{} of {} idempotency keys were recorded during their own batch",
                chunk.len() - written,
                chunk.len()
            )));
        }
    }
    Ok(recorded)
}
