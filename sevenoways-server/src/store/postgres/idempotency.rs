//! Idempotency keys on Postgres: recorded answers, written inside the transaction of the
//! effect they answer for, as on SQLite (see that module and [`crate::idempotency`]).
//!
//! The claim is the primary key, as there: of two transactions inserting one key, on one
//! replica or two, the second waits for the first at the insert and then finds its row,
//! so it rolls back.

use std::collections::HashSet;
use std::sync::Arc;

use chrono::{DateTime, Utc};
use sevenoways_sdk::{IdempotencyKey, QueueId};
use sqlx::{PgConnection, Postgres, Row, Transaction};

use super::queue::EnqueueJob;
use super::*;
use crate::idempotency::{self, Answer, Claim, Recorded};
use crate::secrets::SecretsKey;
use crate::store::recorded::{Secret, open, seal_context, taken};

/// Inserts `answer` under the claim's key, taking over a row that has expired. `false`
/// when a live row holds the key: the caller must not commit its effect.
async fn insert(
    conn: &mut PgConnection,
    claim: &Claim,
    answer: &Answer,
    now: DateTime<Utc>,
    secret: Secret<'_>,
) -> Result<bool, sqlx::Error> {
    let (body, sealed) = secret.columns(claim, answer);
    let inserted = sqlx::query(
        "INSERT INTO idempotency_keys (account_id, key, method, path, body_sha256, status, body,
                                       holds_secret, body_sealed, created_at, expires_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)
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
    .bind(i64::from(secret.holds_secret()))
    .bind(sealed)
    .bind(millis(now))
    .bind(millis(claim.expires_at(now)))
    .execute(&mut *conn)
    .await?
    .rows_affected();
    Ok(inserted == 1)
}

/// Commits `tx`, and with it the current request's answer for `value` when the request
/// has an Idempotency-Key (the SQLite store's `commit_answering` says when to use it).
pub(super) async fn commit_answering<T: 'static>(
    tx: Transaction<'_, Postgres>,
    value: &T,
) -> StoreResult<()> {
    commit_recording(tx, value, Secret::None).await
}

/// [`commit_answering`] for an effect whose answer shows a webhook signing secret.
pub(super) async fn commit_answering_secret<T: 'static>(
    store: &PgStore,
    tx: Transaction<'_, Postgres>,
    value: &T,
) -> StoreResult<()> {
    let key = store.secrets_key.as_deref();
    commit_recording(tx, value, Secret::Sealed(key)).await
}

async fn commit_recording<T: 'static>(
    mut tx: Transaction<'_, Postgres>,
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
/// of its own.
pub(super) async fn record_alone(
    store: &PgStore,
    value: &(dyn std::any::Any + Send + Sync),
) -> StoreResult<()> {
    let Some(claim) = idempotency::current() else {
        return Ok(());
    };
    let Some(answer) = claim.render_any(value) else {
        return Ok(());
    };
    let mut tx = store.pool.begin().await?;
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
    store: &PgStore,
    account: AccountId,
    key: &IdempotencyKey,
    now: DateTime<Utc>,
) -> StoreResult<Option<Recorded>> {
    let row = sqlx::query(
        "SELECT method, path, body_sha256, status, body, body_sealed FROM idempotency_keys
         WHERE account_id = $1 AND key = $2 AND expires_at > $3",
    )
    .bind(account)
    .bind(key.as_str())
    .bind(millis(now))
    .fetch_optional(&store.pool)
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
/// secret and were recorded without a key, or, with `old`, re-seals them with `new`.
pub(super) async fn seal_answers(
    conn: &mut PgConnection,
    new: &SecretsKey,
    old: Option<&SecretsKey>,
) -> StoreResult<u64> {
    let rows: Vec<KeptAnswer> = sqlx::query_as(
        "SELECT account_id, key, body, body_sealed FROM idempotency_keys
         WHERE holds_secret = 1 AND (body_sealed IS NULL OR $1)",
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
            "UPDATE idempotency_keys SET body = '\\x'::bytea, body_sealed = $1
             WHERE account_id = $2 AND key = $3",
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

/// Deletes keys that expired by `now`, at most `limit` per statement; returns how many.
pub(super) async fn prune(store: &PgStore, now: DateTime<Utc>, limit: u32) -> StoreResult<u64> {
    let mut deleted = 0;
    loop {
        let n = sqlx::query(
            "DELETE FROM idempotency_keys WHERE (account_id, key) IN (
                SELECT account_id, key FROM idempotency_keys WHERE expires_at <= $1 LIMIT $2)",
        )
        .bind(millis(now))
        .bind(i64::from(limit))
        .execute(&store.pool)
        .await?
        .rows_affected();
        deleted += n;
        if n < u64::from(limit) {
            return Ok(deleted);
        }
    }
}

/// For the group commit: which jobs are replays, because a committed request holds their
/// key or an earlier job of this batch carries it (as the SQLite store's `replays`).
///
/// The batch holds the lock of every account whose key it checks, so another replica's
/// batch cannot record one of these keys between this check and [`record_sends`]. A key
/// recorded meanwhile by an effect outside the group commit (any other keyed request) is
/// caught there and the batch tried again ([`is_key_race`]).
pub(super) async fn replays(
    conn: &mut PgConnection,
    jobs: &[&EnqueueJob],
    now: DateTime<Utc>,
) -> Result<Vec<bool>, sqlx::Error> {
    let keyed: Vec<&Claim> = jobs.iter().filter_map(|j| j.claim.as_deref()).collect();
    let mut held: HashSet<(AccountId, String)> = HashSet::new();
    if !keyed.is_empty() {
        let accounts: Vec<i64> = keyed.iter().map(|c| c.account.0).collect();
        let keys: Vec<&str> = keyed.iter().map(|c| c.key.as_str()).collect();
        held.extend(
            sqlx::query_as::<_, (AccountId, String)>(
                "SELECT account_id, key FROM idempotency_keys
                 WHERE expires_at > $1 AND (account_id, key) IN (
                    SELECT * FROM unnest($2::BIGINT[], $3::TEXT[]))",
            )
            .bind(millis(now))
            .bind(&accounts)
            .bind(&keys)
            .fetch_all(&mut *conn)
            .await?,
        );
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

/// The message of the error [`record_sends`] fails a batch with when a key it records was
/// recorded by another transaction after [`replays`] looked.
const KEY_RACE: &str = "idempotency keys were recorded during their own batch";

/// Whether the group commit failed because a key was taken during the batch: nothing was
/// committed, and a second try answers that job as a replay.
pub(super) fn is_key_race(e: &sqlx::Error) -> bool {
    matches!(e, sqlx::Error::Protocol(msg) if msg.ends_with(KEY_RACE))
}

/// For the group commit: records the answer of every admitted job that has a key, in the
/// batch's transaction, in one statement (the rows go in as arrays). Returns the claims to
/// mark committed once that transaction is.
pub(super) async fn record_sends(
    conn: &mut PgConnection,
    jobs: &[&EnqueueJob],
    results: &[Result<Vec<QueueId>, Refusal>],
    now: DateTime<Utc>,
) -> Result<Vec<(Arc<Claim>, Answer)>, sqlx::Error> {
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
    if recorded.is_empty() {
        return Ok(recorded);
    }
    let n = recorded.len();
    let (mut accounts, mut keys, mut methods, mut paths) = (
        Vec::with_capacity(n),
        Vec::with_capacity(n),
        Vec::with_capacity(n),
        Vec::with_capacity(n),
    );
    let (mut hashes, mut statuses, mut bodies, mut expiries) = (
        Vec::with_capacity(n),
        Vec::with_capacity(n),
        Vec::with_capacity(n),
        Vec::with_capacity(n),
    );
    for (claim, answer) in &recorded {
        accounts.push(claim.account.0);
        keys.push(claim.key.as_str());
        methods.push(claim.method.as_str());
        paths.push(claim.path.as_str());
        hashes.push(&claim.body_sha256[..]);
        statuses.push(i64::from(answer.status));
        bodies.push(answer.body.as_slice());
        expiries.push(millis(claim.expires_at(now)));
    }
    // An expired row of the key is taken over, as in `insert`.
    let written = sqlx::query(
        "INSERT INTO idempotency_keys (account_id, key, method, path, body_sha256, status, body,
                                       created_at, expires_at)
         SELECT r.account_id, r.key, r.method, r.path, r.body_sha256, r.status, r.body, $9,
                r.expires_at
         FROM unnest($1::BIGINT[], $2::TEXT[], $3::TEXT[], $4::TEXT[], $5::BYTEA[],
                     $6::BIGINT[], $7::BYTEA[], $8::BIGINT[])
              AS r(account_id, key, method, path, body_sha256, status, body, expires_at)
         ON CONFLICT (account_id, key) DO UPDATE SET
            method = excluded.method, path = excluded.path, body_sha256 = excluded.body_sha256,
            status = excluded.status, body = excluded.body, holds_secret = 0,
            body_sealed = NULL, created_at = excluded.created_at,
            expires_at = excluded.expires_at
         WHERE idempotency_keys.expires_at <= excluded.created_at",
    )
    .bind(&accounts)
    .bind(&keys)
    .bind(&methods)
    .bind(&paths)
    .bind(&hashes)
    .bind(&statuses)
    .bind(&bodies)
    .bind(&expiries)
    .bind(millis(now))
    .execute(&mut *conn)
    .await?
    .rows_affected();
    if written != n as u64 {
        // Committing would answer one key twice; failing the batch commits nothing.
        return Err(sqlx::Error::Protocol(format!(
            "{} of {n} {KEY_RACE}",
            n as u64 - written
        )));
    }
    Ok(recorded)
}
