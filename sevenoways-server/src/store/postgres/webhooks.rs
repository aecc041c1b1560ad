//! Events, webhook subscriptions, fan-out, deliveries and attempts on Postgres: see the
//! SQLite store's module of the same name for what each function does.
//!
//! What SQLite's single writer serialised, here across replicas:
//! - the fan-out claims its events with `FOR UPDATE SKIP LOCKED` and marks exactly those,
//!   so each event's deliveries are raised once however many replicas dispatch (and an
//!   event whose `seq` is lower but whose transaction committed later is not skipped);
//! - the delivery claim runs under one cluster-wide advisory lock ([`CLAIM_LOCK`]): its
//!   in-flight counts (per endpoint, per account, the breaker's single half-open probe)
//!   are read and the rows leased in one step, as on SQLite; the rows themselves are
//!   taken with `FOR UPDATE SKIP LOCKED` and the lease-guarded `UPDATE`;
//! - a read-then-write of a webhook row (failure streak, secret rotation, a manual send
//!   against a breaker that is being disabled) locks that row first (`FOR UPDATE`);
//! - the manual-send window is counted under the account's lock ([`lock_account`]).
//!
//! Sealing at startup ([`prepare_secrets`]) runs under [`SECRETS_LOCK`], so replicas
//! starting together check and seal once. Postgres has no `secure_delete`: the rows a
//! sealing replaced stay in the table files as dead tuples, so after sealing anything
//! the tables are rewritten (`VACUUM FULL`); copies in the write-ahead log and in backups
//! taken before remain until those are recycled (see docs/security.md).

use std::collections::{HashMap, HashSet};

use chrono::{DateTime, Utc};
use sevenoways_sdk::models::webhooks::{
    DeliveryAttempt, Event, WEBHOOKS_INSTANCE, WebhookDisabled,
};
use sevenoways_sdk::{DeliveryId, EventId};
use sqlx::{PgConnection, Row};

use super::idempotency::{commit_answering, commit_answering_secret};
use super::*;
use crate::ids::Generate;
use crate::secrets::SecretsKey;
use crate::store::fair_claim::{Assembled, Candidate, Leased, Target, assemble, fair_pick};
use crate::store::sealing::{self, KEY_CHECK, KeyCheck, Place, Slot};
use crate::store::streaks::{StreakStep, held_by_id, rounds_of_distinct_ids, streak_steps};
use crate::time::stored;

/// The columns [`webhook_row`] reads.
pub(super) const WEBHOOK_COLUMNS: &str = "id, url, events, created_at, disabled_at, \
    disabled_reason, failure_streak, paused_until, previous_expires_at";

/// Advisory lock keys (namespace 2 of the two-key form; namespace 1 is the accounts').
/// Held by the replica checking and sealing secrets at startup.
const SECRETS_LOCK: (i32, i32) = (2, 0);
/// Held by the replica claiming webhook deliveries.
const CLAIM_LOCK: (i32, i32) = (2, 1);

/// Takes a transaction-scoped advisory lock: until `conn`'s transaction ends.
async fn advisory_lock(conn: &mut PgConnection, (a, b): (i32, i32)) -> Result<(), sqlx::Error> {
    sqlx::query("SELECT pg_advisory_xact_lock($1, $2)")
        .bind(a)
        .bind(b)
        .execute(conn)
        .await?;
    Ok(())
}

/// A webhook's secret columns: id, secret, secret_sealed, previous_secret,
/// previous_secret_sealed.
type StoredSecrets = (
    String,
    String,
    Option<Vec<u8>>,
    Option<String>,
    Option<Vec<u8>>,
);

/// Checks `key` against the secrets stored and seals those written without one, as the
/// SQLite store's `prepare_secrets`. Returns the rows changed.
pub(super) async fn prepare_secrets(
    store: &PgStore,
    key: Option<&SecretsKey>,
    previous: Option<&SecretsKey>,
) -> StoreResult<u64> {
    let mut tx = store.pool.begin().await?;
    advisory_lock(&mut tx, SECRETS_LOCK).await?;
    let check: Option<Vec<u8>> = sqlx::query_scalar("SELECT value FROM meta WHERE key = $1")
        .bind(KEY_CHECK)
        .fetch_optional(&mut *tx)
        .await?;
    let Some(key) = key else {
        let sealed: bool = sqlx::query_scalar(
            "SELECT EXISTS(SELECT 1 FROM webhooks WHERE secret_sealed IS NOT NULL
                OR previous_secret_sealed IS NOT NULL)
             OR EXISTS(SELECT 1 FROM idempotency_keys WHERE body_sealed IS NOT NULL)",
        )
        .fetch_one(&mut *tx)
        .await?;
        let sealed = sealed || super::engines::any_sealed(&mut tx).await?;
        if check.is_some() || sealed {
            return Err(sealing::sealed_without_key());
        }
        return Ok(0);
    };
    let mut sealed = 0;
    let mut resealing = None;
    match sealing::key_check(check.as_deref(), key, previous)? {
        KeyCheck::Holds => {}
        KeyCheck::Reseal(old) => {
            sealed += reseal(&mut tx, old, key).await?;
            resealing = Some(old);
        }
        KeyCheck::Write(check) => {
            sqlx::query("INSERT INTO meta (key, value) VALUES ($1, $2)")
                .bind(KEY_CHECK)
                .bind(check)
                .execute(&mut *tx)
                .await?;
        }
    }
    let plain: Vec<StoredSecrets> = sqlx::query_as(
        "SELECT id, secret, secret_sealed, previous_secret, previous_secret_sealed FROM webhooks
             WHERE secret_sealed IS NULL
                OR (previous_secret IS NOT NULL AND previous_secret_sealed IS NULL)",
    )
    .fetch_all(&mut *tx)
    .await?;
    for (id, secret, secret_sealed, previous, previous_sealed) in plain {
        let (current, previous) =
            sealing::seal_webhook_row(key, &id, &secret, secret_sealed, previous, previous_sealed);
        sqlx::query(
            "UPDATE webhooks SET secret = '', secret_sealed = $1, previous_secret = NULL,
                previous_secret_sealed = $2 WHERE id = $3",
        )
        .bind(current)
        .bind(previous)
        .bind(&id)
        .execute(&mut *tx)
        .await?;
        sealed += 1;
    }
    sealed += super::engines::seal_plain(&mut tx, key).await?;
    sealed += super::idempotency::seal_answers(&mut tx, key, resealing).await?;
    tx.commit().await?;
    if sealed > 0 {
        // The replaced row versions (plaintext, or sealed with the old key) are dead
        // tuples still in the files: a rewrite leaves them behind. Best effort, as the
        // sealing itself is done: a role that does not own the tables cannot.
        if let Err(e) = sqlx::query("VACUUM FULL webhooks, instances, idempotency_keys")
            .execute(&store.pool)
            .await
        {
            tracing::warn!(
                error = %e,
                "could not rewrite the tables after sealing secrets: run VACUUM FULL on \
                 webhooks, instances and idempotency_keys"
            );
        }
    }
    Ok(sealed)
}

/// A webhook's sealed columns: id, secret_sealed, previous_secret_sealed.
type SealedSecrets = (String, Option<Vec<u8>>, Option<Vec<u8>>);

/// Seals every sealed secret (and the key check) again: opened with `old`, sealed with
/// `new`. Returns the rows changed.
async fn reseal(conn: &mut PgConnection, old: &SecretsKey, new: &SecretsKey) -> StoreResult<u64> {
    let rows: Vec<SealedSecrets> = sqlx::query_as(
        "SELECT id, secret_sealed, previous_secret_sealed FROM webhooks
         WHERE secret_sealed IS NOT NULL OR previous_secret_sealed IS NOT NULL",
    )
    .fetch_all(&mut *conn)
    .await?;
    let again = |blob: &Option<Vec<u8>>, id: &str, slot: Slot| {
        blob.as_deref()
            .map(|blob| sealing::reseal(old, new, Place::Webhook(id, slot), blob))
            .transpose()
    };
    for (id, current, previous) in &rows {
        sqlx::query(
            "UPDATE webhooks SET secret_sealed = $1, previous_secret_sealed = $2 WHERE id = $3",
        )
        .bind(again(current, id, Slot::Current)?)
        .bind(again(previous, id, Slot::Previous)?)
        .bind(id)
        .execute(&mut *conn)
        .await?;
    }
    let engines = super::engines::reseal(&mut *conn, old, new).await?;
    sqlx::query("UPDATE meta SET value = $1 WHERE key = $2")
        .bind(sealing::new_key_check(new))
        .bind(KEY_CHECK)
        .execute(&mut *conn)
        .await?;
    Ok(rows.len() as u64 + engines)
}

pub(super) async fn create_webhook(
    store: &PgStore,
    account: AccountId,
    webhook: &Webhook,
    secret: &WebhookSecret,
    max: u32,
) -> StoreResult<()> {
    let (text, sealed) = sealing::columns(
        store.secrets_key.as_deref(),
        Place::Webhook(webhook.id.as_str(), Slot::Current),
        secret.expose(),
    );
    let events =
        serde_json::to_string(&webhook.events).map_err(|e| StoreError::Backend(Box::new(e)))?;
    let mut tx = store.pool.begin().await?;
    // Takes the account's lock: the count and the insert are one step on every replica.
    check_quota(&mut tx, Resource::Webhooks, max, account, None).await?;
    sqlx::query(
        "INSERT INTO webhooks (id, account_id, url, events, secret, secret_sealed, created_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7)",
    )
    .bind(webhook.id.as_str())
    .bind(account)
    .bind(&webhook.url)
    .bind(events)
    .bind(text.unwrap_or_default())
    .bind(sealed)
    .bind(millis(webhook.created_at))
    .execute(&mut *tx)
    .await?;
    // The answer shows the secret: sealed at rest like it.
    commit_answering_secret(store, tx, &()).await
}

pub(super) async fn rotate_webhook_secret(
    store: &PgStore,
    account: AccountId,
    id: &WebhookId,
    secret: &WebhookSecret,
    previous_expires_at: DateTime<Utc>,
) -> StoreResult<bool> {
    let mut tx = store.pool.begin().await?;
    // Locked: of two rotations at once, the second keeps the first's secret as previous.
    let row: Option<(String, Option<Vec<u8>>)> = sqlx::query_as(
        "SELECT secret, secret_sealed FROM webhooks WHERE account_id = $1 AND id = $2
         FOR UPDATE",
    )
    .bind(account)
    .bind(id.as_str())
    .fetch_optional(&mut *tx)
    .await?;
    let Some((text, sealed)) = row else {
        return Ok(false);
    };
    let rotated = sealing::rotate(
        store.secrets_key.as_deref(),
        id.as_str(),
        (Some(text), sealed),
        secret,
    )?;
    sqlx::query(
        "UPDATE webhooks SET secret = $1, secret_sealed = $2, previous_secret = $3,
            previous_secret_sealed = $4, previous_expires_at = $5 WHERE id = $6",
    )
    .bind(rotated.secret)
    .bind(rotated.secret_sealed)
    .bind(rotated.previous)
    .bind(rotated.previous_sealed)
    .bind(millis(previous_expires_at))
    .bind(id.as_str())
    .execute(&mut *tx)
    .await?;
    // The answer shows the new secret: sealed at rest like it.
    commit_answering_secret(store, tx, &true).await?;
    Ok(true)
}

pub(super) async fn enable_webhook(
    store: &PgStore,
    account: AccountId,
    id: &WebhookId,
    now: DateTime<Utc>,
    give_up_at: DateTime<Utc>,
) -> StoreResult<Option<Webhook>> {
    let mut tx = store.pool.begin().await?;
    // The deliveries first, then the webhook: the claim and the outcomes lock in that
    // order, and the other order deadlocked with them (Postgres then aborted one side,
    // answered 503). The account in the first statement keeps another key's deliveries
    // untouched; the rollback of an unknown id undoes nothing.
    sqlx::query(
        "UPDATE webhook_deliveries SET next_attempt_at = $1, give_up_at = GREATEST(give_up_at, $2),
            updated_at = $1 WHERE webhook_id = $3 AND account_id = $4 AND status = 'pending'",
    )
    .bind(millis(now))
    .bind(millis(give_up_at))
    .bind(id.as_str())
    .bind(account)
    .execute(&mut *tx)
    .await?;
    let enabled = sqlx::query(
        "UPDATE webhooks SET disabled_at = NULL, disabled_reason = NULL, failure_streak = 0,
            failing_since = NULL, paused_until = NULL WHERE account_id = $1 AND id = $2",
    )
    .bind(account)
    .bind(id.as_str())
    .execute(&mut *tx)
    .await?
    .rows_affected();
    if enabled == 0 {
        return Ok(None);
    }
    let row = sqlx::query(&format!(
        "SELECT {WEBHOOK_COLUMNS} FROM webhooks WHERE id = $1"
    ))
    .bind(id.as_str())
    .fetch_one(&mut *tx)
    .await?;
    let webhook = webhook_row(&row)?;
    commit_answering(tx, &webhook).await?;
    Ok(Some(webhook))
}

/// Whether the account has this subscription, and whether it is disabled. Locks the row
/// when it is there: the caller's manual send and a disabling failure are one after the
/// other, as on SQLite.
async fn webhook_state(
    conn: &mut PgConnection,
    account: AccountId,
    id: &WebhookId,
) -> StoreResult<Option<WebhookAction>> {
    let disabled: Option<Option<i64>> = sqlx::query_scalar(
        "SELECT disabled_at FROM webhooks WHERE account_id = $1 AND id = $2 FOR UPDATE",
    )
    .bind(account)
    .bind(id.as_str())
    .fetch_optional(&mut *conn)
    .await?;
    Ok(disabled.map(|d| {
        if d.is_some() {
            WebhookAction::Disabled
        } else {
            WebhookAction::Done
        }
    }))
}

/// A manual send is the next probe: an open breaker's rest ends now.
async fn end_rest(conn: &mut PgConnection, id: &WebhookId) -> StoreResult<()> {
    sqlx::query("UPDATE webhooks SET paused_until = NULL WHERE id = $1")
        .bind(id.as_str())
        .execute(&mut *conn)
        .await?;
    Ok(())
}

pub(super) async fn take_manual_call(
    store: &PgStore,
    account: AccountId,
    now: DateTime<Utc>,
    per_minute: u32,
) -> StoreResult<Result<(), std::time::Duration>> {
    if per_minute == 0 {
        return Ok(Ok(()));
    }
    let now_ms = millis(now);
    let window_start = now_ms - 60_000;
    let mut tx = store.pool.begin().await?;
    // The window is counted and the call recorded as one step on every replica.
    lock_account(&mut tx, account).await?;
    let recent: Vec<i64> = sqlx::query_scalar(
        "SELECT at FROM webhook_manual_calls WHERE account_id = $1 AND at > $2
         ORDER BY at DESC LIMIT $3",
    )
    .bind(account)
    .bind(window_start)
    .bind(i64::from(per_minute))
    .fetch_all(&mut *tx)
    .await?;
    if recent.len() >= per_minute as usize {
        // Allowed again once the oldest of the last `per_minute` calls leaves the window.
        let oldest = recent.last().copied().unwrap_or(now_ms);
        let wait = (oldest + 60_000 - now_ms).max(1) as u64;
        return Ok(Err(std::time::Duration::from_millis(wait)));
    }
    sqlx::query("INSERT INTO webhook_manual_calls (account_id, at) VALUES ($1, $2)")
        .bind(account)
        .bind(now_ms)
        .execute(&mut *tx)
        .await?;
    // The table holds at most a minute of calls per account.
    sqlx::query("DELETE FROM webhook_manual_calls WHERE account_id = $1 AND at <= $2")
        .bind(account)
        .bind(window_start)
        .execute(&mut *tx)
        .await?;
    tx.commit().await?;
    Ok(Ok(()))
}

pub(super) async fn delete_webhook(
    store: &PgStore,
    account: AccountId,
    id: &WebhookId,
) -> StoreResult<bool> {
    let mut tx = store.pool.begin().await?;
    // Waits for a fan-out that read this subscription (it holds it `FOR SHARE`), so the
    // deliveries it raised are deleted with it.
    let deleted = sqlx::query("DELETE FROM webhooks WHERE account_id = $1 AND id = $2")
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
            (SELECT id FROM webhook_deliveries WHERE webhook_id = $1)",
    )
    .bind(id.as_str())
    .execute(&mut *tx)
    .await?;
    sqlx::query("DELETE FROM webhook_deliveries WHERE webhook_id = $1")
        .bind(id.as_str())
        .execute(&mut *tx)
        .await?;
    tx.commit().await?;
    Ok(true)
}

pub(super) async fn queue_test_event(
    store: &PgStore,
    account: AccountId,
    id: &WebhookId,
    event: NewEvent,
    now: DateTime<Utc>,
    give_up_at: DateTime<Utc>,
) -> StoreResult<WebhookAction> {
    let mut tx = store.pool.begin().await?;
    match webhook_state(&mut tx, account, id).await? {
        Some(WebhookAction::Done) => {}
        other => return Ok(other.unwrap_or(WebhookAction::NotFound)),
    }
    let event_id = insert_event_for(&mut tx, account, event).await?;
    // Already fanned out: to this subscription only.
    sqlx::query("UPDATE events SET dispatched = 1 WHERE id = $1")
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
    end_rest(&mut tx, id).await?;
    commit_answering(tx, &WebhookAction::Done).await?;
    Ok(WebhookAction::Done)
}

pub(super) async fn dispatch_events(
    store: &PgStore,
    now: DateTime<Utc>,
    give_up_at: DateTime<Utc>,
    limit: u32,
) -> StoreResult<u64> {
    let any: bool = sqlx::query_scalar("SELECT EXISTS(SELECT 1 FROM events WHERE dispatched = 0)")
        .fetch_one(&store.pool)
        .await?;
    if !any {
        return Ok(0);
    }
    let mut tx = store.pool.begin().await?;
    // Events another replica is fanning out are skipped, not waited for: each is taken
    // by one transaction, and marked by id (not by `seq`) so none is passed over.
    let events: Vec<(String, AccountId, String)> = sqlx::query_as(
        "SELECT id, account_id, event_type FROM events WHERE dispatched = 0
         ORDER BY seq LIMIT $1 FOR UPDATE SKIP LOCKED",
    )
    .bind(i64::from(limit))
    .fetch_all(&mut *tx)
    .await?;
    if events.is_empty() {
        return Ok(0);
    }
    // Each account's subscriptions that take deliveries: (id, event filter).
    let mut hooks: HashMap<AccountId, Vec<(String, Vec<String>)>> = Default::default();
    // The deliveries, as columns for one INSERT: a batch of 500 events to two dozen
    // webhooks is 12,000 rows, and a statement each held this transaction (and every
    // other tenant's events behind it) for seconds on a busy database.
    let (mut ids, mut webhook_ids, mut accounts, mut event_ids) =
        (Vec::new(), Vec::new(), Vec::new(), Vec::new());
    for (event_id, account, event_type) in &events {
        if !hooks.contains_key(account) {
            // `FOR SHARE`: a delete of one of them waits for this fan-out to commit, and
            // then deletes the deliveries raised here too.
            let rows: Vec<(String, String)> = sqlx::query_as(
                "SELECT id, events FROM webhooks WHERE account_id = $1 AND disabled_at IS NULL
                 ORDER BY created_at, id FOR SHARE",
            )
            .bind(*account)
            .fetch_all(&mut *tx)
            .await?;
            let list = rows
                .into_iter()
                .map(|(id, events)| {
                    serde_json::from_str(&events)
                        .map(|events| (id, events))
                        .map_err(|e| corrupt("webhook events", e))
                })
                .collect::<StoreResult<Vec<_>>>()?;
            hooks.insert(*account, list);
        }
        for (hook, filter) in hooks.get(account).into_iter().flatten() {
            if filter.is_empty() || filter.iter().any(|e| e == event_type) {
                ids.push(DeliveryId::generate().as_str().to_owned());
                webhook_ids.push(hook.clone());
                accounts.push(account.0);
                event_ids.push(event_id.as_str());
            }
        }
    }
    if !ids.is_empty() {
        sqlx::query(
            "INSERT INTO webhook_deliveries (id, webhook_id, account_id, event_id, status, attempts,
                                             next_attempt_at, give_up_at, created_at, updated_at)
             SELECT d.id, d.webhook_id, d.account_id, d.event_id, 'pending', 0, $5, $6, $5, $5
             FROM unnest($1::TEXT[], $2::TEXT[], $3::BIGINT[], $4::TEXT[])
                  AS d(id, webhook_id, account_id, event_id)",
        )
        .bind(&ids)
        .bind(&webhook_ids)
        .bind(&accounts)
        .bind(&event_ids)
        .bind(millis(now))
        .bind(millis(give_up_at))
        .execute(&mut *tx)
        .await?;
    }
    let dispatched: Vec<&str> = events.iter().map(|e| e.0.as_str()).collect();
    sqlx::query("UPDATE events SET dispatched = 1 WHERE id = ANY($1)")
        .bind(&dispatched)
        .execute(&mut *tx)
        .await?;
    tx.commit().await?;
    Ok(ids.len() as u64)
}

pub(super) async fn claim_deliveries(
    store: &PgStore,
    now: DateTime<Utc>,
    lease_until: DateTime<Utc>,
    limits: ClaimLimits,
) -> StoreResult<Vec<ClaimedDelivery>> {
    if limits.total == 0 {
        return Ok(Vec::new());
    }
    let now_ms = millis(now);
    // Cheap and lock-free: most polls find nothing due.
    let any: bool = sqlx::query_scalar(
        "SELECT EXISTS(SELECT 1 FROM webhook_deliveries
            WHERE status = 'pending' AND next_attempt_at <= $1
              AND (lease_until IS NULL OR lease_until < $1))",
    )
    .bind(now_ms)
    .fetch_one(&store.pool)
    .await?;
    if !any {
        return Ok(Vec::new());
    }
    let mut tx = store.pool.begin().await?;
    // One claimer at a time across replicas: the in-flight counts below are exact when
    // the leases are taken, so no endpoint gets more than its share (or a second probe).
    advisory_lock(&mut tx, CLAIM_LOCK).await?;
    // The leases in flight before the endpoints' states, not after: each statement sees
    // what was committed when it began, and an attempt's outcome clears its lease and
    // opens the breaker in one commit. Read in this order, a lease seen gone means its
    // breaker is seen too; the other order could see the lease gone but the webhook not
    // yet paused, and send one more attempt past an open breaker.
    let leased: Vec<(String, AccountId, i64)> = sqlx::query_as(
        "SELECT webhook_id, account_id, COUNT(*) FROM webhook_deliveries
         WHERE lease_until >= $1 AND status = 'pending' GROUP BY webhook_id, account_id",
    )
    .bind(now_ms)
    .fetch_all(&mut *tx)
    .await?;
    let endpoints: Vec<(String, AccountId, i64, i64)> = sqlx::query_as(
        "SELECT w.id, w.account_id, w.last_claimed_at, w.failure_streak FROM webhooks w
         WHERE w.disabled_at IS NULL AND (w.paused_until IS NULL OR w.paused_until <= $1)
           AND EXISTS (SELECT 1 FROM webhook_deliveries d
                WHERE d.webhook_id = w.id AND d.status = 'pending' AND d.next_attempt_at <= $1
                  AND (d.lease_until IS NULL OR d.lease_until < $1))",
    )
    .bind(now_ms)
    .fetch_all(&mut *tx)
    .await?;
    if endpoints.is_empty() {
        return Ok(Vec::new());
    }
    let mut endpoint_busy: HashMap<&str, u32> = HashMap::new();
    let mut account_busy: HashMap<AccountId, u32> = HashMap::new();
    for (webhook, account, n) in &leased {
        let n = u32::try_from(*n).unwrap_or(u32::MAX);
        endpoint_busy.insert(webhook.as_str(), n);
        let busy = account_busy.entry(*account).or_insert(0);
        *busy = busy.saturating_add(n);
    }
    let account_room: HashMap<AccountId, u32> = endpoints
        .iter()
        .map(|(_, account, _, _)| {
            let busy = account_busy.get(account).copied().unwrap_or(0);
            (*account, limits.per_account.saturating_sub(busy))
        })
        .collect();
    let mut candidates = Vec::with_capacity(endpoints.len());
    for (id, account, last_claimed_at, streak) in &endpoints {
        let cap = if *streak >= i64::from(limits.half_open_after.max(1)) {
            1
        } else {
            limits.per_endpoint
        };
        let room = cap
            .saturating_sub(endpoint_busy.get(id.as_str()).copied().unwrap_or(0))
            .min(limits.total)
            .min(account_room.get(account).copied().unwrap_or(0));
        if room == 0 {
            continue;
        }
        let due: Vec<String> = sqlx::query_scalar(
            "SELECT id FROM webhook_deliveries
             WHERE webhook_id = $1 AND status = 'pending' AND next_attempt_at <= $2
               AND (lease_until IS NULL OR lease_until < $2)
             ORDER BY next_attempt_at, created_at LIMIT $3",
        )
        .bind(id)
        .bind(now_ms)
        .bind(i64::from(room))
        .fetch_all(&mut *tx)
        .await?;
        candidates.push((
            id.clone(),
            Candidate {
                account: *account,
                last_claimed_at: *last_claimed_at,
                due: due.into(),
            },
        ));
    }
    let picked = fair_pick(candidates, &account_room, limits.total as usize);
    if picked.is_empty() {
        return Ok(Vec::new());
    }

    let lease = millis(lease_until);
    // One statement per step for the whole claim, not per delivery: each is a round trip
    // to the database. A row another transaction holds (a redelivery, an enable) is left
    // for the next claim rather than waited for; the guard is SQLite's.
    let rows: Vec<Leased> = sqlx::query_as(
        "UPDATE webhook_deliveries SET lease_until = $1, attempts = attempts + 1, updated_at = $2
         WHERE id IN (SELECT id FROM webhook_deliveries
                      WHERE id = ANY($3) AND status = 'pending' AND next_attempt_at <= $2
                        AND (lease_until IS NULL OR lease_until < $2)
                      FOR UPDATE SKIP LOCKED)
         RETURNING id, webhook_id, account_id, event_id, attempts, give_up_at",
    )
    .bind(lease)
    .bind(now_ms)
    .bind(&picked)
    .fetch_all(&mut *tx)
    .await?;
    let mut webhook_ids: Vec<&str> = rows.iter().map(|r| r.1.as_str()).collect();
    webhook_ids.sort_unstable();
    webhook_ids.dedup();
    let mut event_ids: Vec<&str> = rows.iter().map(|r| r.3.as_str()).collect();
    event_ids.sort_unstable();
    event_ids.dedup();
    let hooks = sqlx::query(
        "SELECT id, url, secret, secret_sealed, previous_secret, previous_secret_sealed,
                previous_expires_at
         FROM webhooks WHERE id = ANY($1)",
    )
    .bind(&webhook_ids)
    .fetch_all(&mut *tx)
    .await?;
    let events: HashMap<String, (Vec<u8>, String)> =
        sqlx::query_as("SELECT id, payload, event_type FROM events WHERE id = ANY($1)")
            .bind(&event_ids)
            .fetch_all(&mut *tx)
            .await?
            .into_iter()
            .map(|(id, payload, event_type): (String, Vec<u8>, String)| (id, (payload, event_type)))
            .collect();
    // Each webhook's URL and secrets, read (and unsealed) once for all its deliveries;
    // `None` for a secret that cannot be read.
    let mut targets: HashMap<String, Target> = HashMap::with_capacity(hooks.len());
    for hook in &hooks {
        let webhook_id: String = hook.try_get("id")?;
        let target = sealing::claim_target(
            store.secrets_key.as_deref(),
            &webhook_id,
            hook.try_get("url")?,
            (hook.try_get("secret")?, hook.try_get("secret_sealed")?),
            (
                hook.try_get("previous_secret")?,
                hook.try_get("previous_secret_sealed")?,
            ),
            hook.try_get("previous_expires_at")?,
            now_ms,
        )?;
        targets.insert(webhook_id, target);
    }
    let Assembled { claimed, gone } = assemble(&rows, &targets, &events, &picked, lease)?;
    if !gone.is_empty() {
        sqlx::query(
            "UPDATE webhook_deliveries SET status = 'failed', lease_until = NULL,
                    last_error = 'webhook deleted' WHERE id = ANY($1)",
        )
        .bind(&gone)
        .execute(&mut *tx)
        .await?;
    }
    let mut served: Vec<&str> = claimed.iter().map(|d| d.webhook_id.as_str()).collect();
    served.sort_unstable();
    served.dedup();
    if !served.is_empty() {
        sqlx::query("UPDATE webhooks SET last_claimed_at = $1 WHERE id = ANY($2)")
            .bind(now_ms)
            .bind(&served)
            .execute(&mut *tx)
            .await?;
    }
    tx.commit().await?;
    Ok(claimed)
}

pub(super) async fn record_attempts(
    store: &PgStore,
    records: &[AttemptRecord],
    now: DateTime<Utc>,
    breaker: &BreakerPolicy,
) -> StoreResult<Vec<Recorded>> {
    let now_ms = millis(now);
    let mut results = vec![Recorded::Stale; records.len()];
    let mut tx = store.pool.begin().await?;
    // Fenced by the lease, as on SQLite: a worker whose lease ran out records nothing.
    let mut held: Vec<(String, AccountId, usize)> = Vec::with_capacity(records.len());
    for round in rounds_of_distinct_ids(records) {
        held.extend(record_outcomes(&mut tx, records, &round, now_ms).await?);
    }
    held.sort_unstable_by_key(|h| h.2);
    insert_attempts(&mut tx, records, &held).await?;
    for h in &held {
        results[h.2] = Recorded::Recorded;
    }
    let succeeded = |i: usize| records[i].outcome == AttemptOutcome::Succeeded;
    // The webhook rows the steps below write, locked now in one statement and in the
    // order the fan-out locks an account's webhooks (`created_at, id`): taken one by one in
    // the batch's order, two of them could be taken in the other order by a fan-out that
    // holds one and waits for the other, and Postgres aborted one side as a deadlock. Rows
    // with nothing to clear are not locked (a success writes them only after a failure).
    // Those with something to clear are returned: a success on any other writes nothing,
    // so it costs no statement.
    let mut to_clear: HashSet<String> = HashSet::new();
    if !held.is_empty() {
        let all: Vec<&str> = held.iter().map(|h| h.0.as_str()).collect();
        let failing: Vec<&str> = held
            .iter()
            .filter(|h| !succeeded(h.2))
            .map(|h| h.0.as_str())
            .collect();
        let locked: Vec<(String, bool)> = sqlx::query_as(
            "SELECT id, (failure_streak <> 0 OR failing_since IS NOT NULL
                         OR paused_until IS NOT NULL) FROM webhooks
             WHERE id = ANY($1) AND (id = ANY($2) OR failure_streak <> 0
                                     OR failing_since IS NOT NULL OR paused_until IS NOT NULL)
             ORDER BY created_at, id FOR UPDATE",
        )
        .bind(&all)
        .bind(&failing)
        .fetch_all(&mut *tx)
        .await?;
        to_clear.extend(locked.into_iter().filter(|r| r.1).map(|r| r.0));
    }
    for step in streak_steps(&mut held, succeeded) {
        match step {
            StreakStep::Clear { webhook } => {
                if to_clear.remove(webhook) {
                    clear_failures(&mut tx, webhook).await?;
                }
            }
            StreakStep::Fail {
                webhook,
                account,
                index,
            } => {
                let record = &records[index];
                results[index] =
                    count_failure(&mut tx, webhook, account, record, now_ms, breaker).await?;
                // The streak it grew (or a rest it began) is the next success's to end.
                to_clear.insert(webhook.to_owned());
            }
        }
    }
    tx.commit().await?;
    Ok(results)
}

/// Each delivery of `records[round]` (distinct ids) takes its outcome if its lease holds,
/// in one UPDATE over the outcomes as arrays (each statement is a round trip). Those
/// updated, as (webhook, account, index in `records`).
async fn record_outcomes(
    conn: &mut PgConnection,
    records: &[AttemptRecord],
    round: &[usize],
    now_ms: i64,
) -> StoreResult<Vec<(String, AccountId, usize)>> {
    let n = round.len();
    let (mut ids, mut leases, mut statuses, mut nexts) = (
        Vec::with_capacity(n),
        Vec::with_capacity(n),
        Vec::with_capacity(n),
        Vec::with_capacity(n),
    );
    let (mut codes, mut latencies, mut errors) = (
        Vec::with_capacity(n),
        Vec::with_capacity(n),
        Vec::with_capacity(n),
    );
    for &i in round {
        let record = &records[i];
        let (status, next) = record.outcome.columns();
        ids.push(record.delivery_id.as_str());
        leases.push(record.lease);
        statuses.push(status);
        nexts.push(next);
        codes.push(record.response_code.map(i64::from));
        latencies.push(i64::try_from(record.latency_ms).unwrap_or(i64::MAX));
        errors.push(record.error.as_deref());
    }
    let updated: Vec<(String, String, AccountId)> = sqlx::query_as(
        "UPDATE webhook_deliveries d
         SET status = r.status, next_attempt_at = COALESCE(r.next, d.next_attempt_at),
             lease_until = NULL, response_code = r.code, latency_ms = r.latency,
             last_error = r.error, updated_at = $1
         FROM unnest($2::TEXT[], $3::BIGINT[], $4::TEXT[], $5::BIGINT[], $6::BIGINT[],
                     $7::BIGINT[], $8::TEXT[]) AS r(id, lease, status, next, code, latency, error)
         WHERE d.id = r.id AND d.status = 'pending' AND d.lease_until = r.lease
         RETURNING d.id, d.webhook_id, d.account_id",
    )
    .bind(now_ms)
    .bind(&ids)
    .bind(&leases)
    .bind(&statuses)
    .bind(&nexts)
    .bind(&codes)
    .bind(&latencies)
    .bind(&errors)
    .fetch_all(&mut *conn)
    .await?;
    Ok(held_by_id(records, round, updated))
}

/// The attempt rows of the `held` records (distinct deliveries: a lease is cleared by the
/// first outcome that matches it), in one INSERT.
async fn insert_attempts(
    conn: &mut PgConnection,
    records: &[AttemptRecord],
    held: &[(String, AccountId, usize)],
) -> StoreResult<()> {
    if held.is_empty() {
        return Ok(());
    }
    let rows = held.iter().map(|h| &records[h.2]);
    let ids: Vec<&str> = rows.clone().map(|r| r.delivery_id.as_str()).collect();
    let attempts: Vec<i64> = rows.clone().map(|r| i64::from(r.attempt)).collect();
    let started: Vec<i64> = rows.clone().map(|r| millis(r.started_at)).collect();
    let codes: Vec<Option<i64>> = rows
        .clone()
        .map(|r| r.response_code.map(i64::from))
        .collect();
    let latencies: Vec<i64> = rows
        .clone()
        .map(|r| i64::try_from(r.latency_ms).unwrap_or(i64::MAX))
        .collect();
    let errors: Vec<Option<&str>> = rows.map(|r| r.error.as_deref()).collect();
    sqlx::query(
        "INSERT INTO webhook_attempts (delivery_id, attempt, started_at, response_code, latency_ms, error)
         SELECT * FROM unnest($1::TEXT[], $2::BIGINT[], $3::BIGINT[], $4::BIGINT[], $5::BIGINT[],
                              $6::TEXT[])
         ON CONFLICT (delivery_id, attempt) DO UPDATE SET
            started_at = excluded.started_at, response_code = excluded.response_code,
            latency_ms = excluded.latency_ms, error = excluded.error",
    )
    .bind(&ids)
    .bind(&attempts)
    .bind(&started)
    .bind(&codes)
    .bind(&latencies)
    .bind(&errors)
    .execute(&mut *conn)
    .await?;
    Ok(())
}

/// A success: the webhook's failure streak and rest end (written, and its row locked,
/// only if there is one).
async fn clear_failures(conn: &mut PgConnection, webhook_id: &str) -> StoreResult<()> {
    sqlx::query(
        "UPDATE webhooks SET failure_streak = 0, failing_since = NULL, paused_until = NULL
         WHERE id = $1 AND (failure_streak <> 0 OR failing_since IS NOT NULL
                            OR paused_until IS NOT NULL)",
    )
    .bind(webhook_id)
    .execute(&mut *conn)
    .await?;
    Ok(())
}

/// One more failure in a row for the webhook, as the SQLite store's `count_failure`.
/// The row is locked first: failures recorded at once on two replicas both count.
async fn count_failure(
    conn: &mut PgConnection,
    webhook_id: &str,
    account: AccountId,
    record: &AttemptRecord,
    now_ms: i64,
    breaker: &BreakerPolicy,
) -> StoreResult<Recorded> {
    let row: Option<(i64, Option<i64>, Option<i64>)> = sqlx::query_as(
        "SELECT failure_streak, failing_since, disabled_at FROM webhooks WHERE id = $1
         FOR UPDATE",
    )
    .bind(webhook_id)
    .fetch_optional(&mut *conn)
    .await?;
    let Some((streak, failing_since, disabled_at)) = row else {
        return Ok(Recorded::Recorded);
    };
    let streak = u32::try_from(streak.max(0))
        .unwrap_or(u32::MAX)
        .saturating_add(1);
    let since = failing_since.unwrap_or_else(|| millis(record.started_at));
    let paused_until = (streak >= breaker.open_after.max(1)).then(|| {
        let doublings = (streak - breaker.open_after.max(1)).min(32);
        let pause = breaker
            .base_pause_ms
            .max(1)
            .saturating_mul(1i64 << doublings)
            .min(breaker.max_pause_ms.max(1));
        now_ms.saturating_add(pause)
    });
    let disable = disabled_at.is_none()
        && breaker.disable_after_failures > 0
        && streak >= breaker.disable_after_failures
        && now_ms - since >= breaker.disable_after_ms;
    sqlx::query(
        "UPDATE webhooks SET failure_streak = $1, failing_since = $2, paused_until = $3
         WHERE id = $4",
    )
    .bind(i64::from(streak))
    .bind(since)
    .bind(paused_until)
    .bind(webhook_id)
    .execute(&mut *conn)
    .await?;
    if !disable {
        return Ok(Recorded::Recorded);
    }
    let failing_since = from_millis(since);
    let reason = format!(
        "disabled after {streak} failed attempts in a row since {}; the last: {}",
        failing_since.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
        record.error.as_deref().unwrap_or("failed")
    );
    sqlx::query("UPDATE webhooks SET disabled_at = $1, disabled_reason = $2 WHERE id = $3")
        .bind(now_ms)
        .bind(&reason)
        .bind(webhook_id)
        .execute(&mut *conn)
        .await?;
    let event = NewEvent {
        account_id: account,
        instance_id: InstanceId::new(WEBHOOKS_INSTANCE)
            .map_err(|e| corrupt("webhooks instance id", e))?,
        data: EventData::WebhookDisabled(WebhookDisabled {
            webhook_id: WebhookId::new(webhook_id).map_err(|e| corrupt("webhook id", e))?,
            reason,
            failure_streak: streak,
            failing_since,
        }),
    };
    insert_event_for(conn, account, event).await?;
    Ok(Recorded::Disabled)
}

pub(super) async fn release_deliveries(
    store: &PgStore,
    claims: &[(DeliveryId, i64)],
) -> StoreResult<()> {
    let mut tx = store.pool.begin().await?;
    for (id, lease) in claims {
        sqlx::query(
            "UPDATE webhook_deliveries SET lease_until = NULL, attempts = GREATEST(attempts - 1, 0)
             WHERE id = $1 AND status = 'pending' AND lease_until = $2",
        )
        .bind(id.as_str())
        .bind(lease)
        .execute(&mut *tx)
        .await?;
    }
    tx.commit().await?;
    Ok(())
}

pub(super) async fn list_deliveries(
    store: &PgStore,
    account: AccountId,
    id: &WebhookId,
    page: &PageRequest,
) -> StoreResult<Option<Page<Delivery>>> {
    let mut conn = store.pool.acquire().await?;
    let exists: Option<i32> =
        sqlx::query_scalar("SELECT 1 FROM webhooks WHERE account_id = $1 AND id = $2")
            .bind(account)
            .bind(id.as_str())
            .fetch_optional(&mut *conn)
            .await?;
    if exists.is_none() {
        return Ok(None);
    }
    // Newest first, by (created_at, seq): `seq` is this backend's insertion order (what
    // SQLite's rowid is there).
    let (t, seq) = match page.after {
        Some(After::Newest(t, seq)) => (t, seq),
        _ => (i64::MAX, i64::MAX),
    };
    let rows = sqlx::query(
        "SELECT d.*, e.event_type FROM webhook_deliveries d
         JOIN events e ON e.id = d.event_id
         WHERE d.account_id = $1 AND d.webhook_id = $2 AND (d.created_at, d.seq) < ($3, $4)
         ORDER BY d.created_at DESC, d.seq DESC LIMIT $5",
    )
    .bind(account)
    .bind(id.as_str())
    .bind(t)
    .bind(seq)
    .bind(page.fetch())
    .fetch_all(&mut *conn)
    .await?;
    Page::from_rows(
        page,
        rows,
        |r| {
            After::Newest(
                r.try_get("created_at").unwrap_or_default(),
                r.try_get("seq").unwrap_or_default(),
            )
        },
        |r| delivery_row(&r),
    )
    .map(Some)
}

pub(super) async fn get_delivery(
    store: &PgStore,
    account: AccountId,
    id: &WebhookId,
    delivery_id: &DeliveryId,
) -> StoreResult<Option<DeliveryDetail>> {
    let mut conn = store.pool.acquire().await?;
    let row = sqlx::query(
        "SELECT d.*, e.event_type FROM webhook_deliveries d JOIN events e ON e.id = d.event_id
         WHERE d.account_id = $1 AND d.webhook_id = $2 AND d.id = $3",
    )
    .bind(account)
    .bind(id.as_str())
    .bind(delivery_id.as_str())
    .fetch_optional(&mut *conn)
    .await?;
    let Some(row) = row else { return Ok(None) };
    let delivery = delivery_row(&row)?;
    let attempts =
        sqlx::query("SELECT * FROM webhook_attempts WHERE delivery_id = $1 ORDER BY attempt")
            .bind(delivery_id.as_str())
            .fetch_all(&mut *conn)
            .await?
            .iter()
            .map(|r| {
                Ok(DeliveryAttempt {
                    attempt: r
                        .try_get::<i64, _>("attempt")?
                        .clamp(0, i64::from(u32::MAX)) as u32,
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
    store: &PgStore,
    account: AccountId,
    id: &WebhookId,
    delivery_id: &DeliveryId,
    now: DateTime<Utc>,
    give_up_at: DateTime<Utc>,
) -> StoreResult<WebhookAction> {
    let mut tx = store.pool.begin().await?;
    match webhook_state(&mut tx, account, id).await? {
        Some(WebhookAction::Done) => {}
        other => return Ok(other.unwrap_or(WebhookAction::NotFound)),
    }
    let updated = sqlx::query(
        "UPDATE webhook_deliveries SET status = 'pending', next_attempt_at = $1, give_up_at = $2,
            updated_at = $1
         WHERE account_id = $3 AND webhook_id = $4 AND id = $5",
    )
    .bind(millis(now))
    .bind(millis(give_up_at))
    .bind(account)
    .bind(id.as_str())
    .bind(delivery_id.as_str())
    .execute(&mut *tx)
    .await?
    .rows_affected();
    if updated == 0 {
        return Ok(WebhookAction::NotFound);
    }
    end_rest(&mut tx, id).await?;
    commit_answering(tx, &WebhookAction::Done).await?;
    Ok(WebhookAction::Done)
}

/// A pending delivery of an event to a subscription, due now.
async fn insert_delivery(
    conn: &mut PgConnection,
    webhook_id: &str,
    account: AccountId,
    event_id: &str,
    now: DateTime<Utc>,
    give_up_at: DateTime<Utc>,
) -> StoreResult<()> {
    sqlx::query(
        "INSERT INTO webhook_deliveries (id, webhook_id, account_id, event_id, status, attempts,
                                         next_attempt_at, give_up_at, created_at, updated_at)
         VALUES ($1, $2, $3, $4, 'pending', 0, $5, $6, $5, $5)",
    )
    .bind(DeliveryId::generate().as_str())
    .bind(webhook_id)
    .bind(account)
    .bind(event_id)
    .bind(millis(now))
    .bind(millis(give_up_at))
    .execute(&mut *conn)
    .await?;
    Ok(())
}

/// A subscription from the [`WEBHOOK_COLUMNS`]. A rest or a previous secret that has
/// ended is not shown.
pub(super) fn webhook_row(row: &PgRow) -> StoreResult<Webhook> {
    let now = millis(Utc::now());
    let future = |ms: Option<i64>| ms.filter(|&t| t > now).map(from_millis);
    let disabled_at = opt_time(row.try_get("disabled_at")?);
    Ok(Webhook {
        id: WebhookId::new(row.try_get::<&str, _>("id")?).map_err(|e| corrupt("webhook id", e))?,
        url: row.try_get("url")?,
        events: serde_json::from_str(row.try_get::<&str, _>("events")?)
            .map_err(|e| corrupt("webhook events", e))?,
        created_at: from_millis(row.try_get("created_at")?),
        disabled: disabled_at.is_some(),
        disabled_reason: row.try_get("disabled_reason")?,
        disabled_at,
        failure_streak: row
            .try_get::<i64, _>("failure_streak")?
            .clamp(0, i64::from(u32::MAX)) as u32,
        paused_until: future(row.try_get("paused_until")?),
        previous_secret_expires_at: future(row.try_get("previous_expires_at")?),
    })
}

fn delivery_row(row: &PgRow) -> StoreResult<Delivery> {
    let status: String = row.try_get("status")?;
    Ok(Delivery {
        id: DeliveryId::new(row.try_get::<&str, _>("id")?)
            .map_err(|e| corrupt("delivery id", e))?,
        event_id: EventId::new(row.try_get::<&str, _>("event_id")?)
            .map_err(|e| corrupt("event id", e))?,
        event: row.try_get("event_type")?,
        attempts: row
            .try_get::<i64, _>("attempts")?
            .clamp(0, i64::from(u32::MAX)) as u32,
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

#[cfg(test)]
pub(super) mod tests {
    //! On a Postgres database of their own, made through `SEVENOWAYS_TEST_DATABASE_URL`
    //! (a role with `CREATEDB`); skipped, saying so, when it is not set. Several
    //! [`PgStore`]s on one database stand for several replicas.

    use std::collections::HashSet;

    use chrono::Duration;
    use sevenoways_sdk::QueueId;
    use sevenoways_sdk::models::webhooks::MessageEvent;
    use sqlx::Connection;

    use super::*;

    const URL_VAR: &str = "SEVENOWAYS_TEST_DATABASE_URL";

    /// A database made for one test, dropped by [`TestDb::drop`].
    pub(in crate::store::postgres) struct TestDb {
        admin: String,
        name: String,
        url: String,
    }

    impl TestDb {
        /// `None` (after saying why) when no Postgres is configured for tests.
        pub(in crate::store::postgres) async fn create(test: &str) -> Option<Self> {
            let Ok(admin) = std::env::var(URL_VAR) else {
                eprintln!("{test}: skipped, {URL_VAR} is not set");
                return None;
            };
            let name = format!("svw_test_hooks_{}", &EventId::generate().as_str()[4..]);
            let mut conn = sqlx::PgConnection::connect(&admin)
                .await
                .expect("the test database server answers");
            sqlx::query(&format!("CREATE DATABASE {name}"))
                .execute(&mut conn)
                .await
                .expect("CREATE DATABASE");
            let mut url = url::Url::parse(&admin).expect("a URL");
            url.set_path(&name);
            Some(Self {
                admin,
                name,
                url: url.into(),
            })
        }

        /// One more replica on the database.
        pub(in crate::store::postgres) async fn replica(&self) -> PgStore {
            PgStore::open(&self.url).await.expect("the store opens")
        }

        pub(in crate::store::postgres) fn url(&self) -> &str {
            &self.url
        }

        pub(in crate::store::postgres) async fn drop(self, stores: Vec<PgStore>) {
            for store in stores {
                store.pool.close().await;
            }
            let mut conn = sqlx::PgConnection::connect(&self.admin)
                .await
                .expect("the test database server answers");
            if crate::testing::matrix::drop_database(&mut conn, &self.name)
                .await
                .is_ok()
            {
                return;
            }
            eprintln!("could not drop the test database {}", self.name);
        }
    }

    /// A new account, straight into its table.
    pub(in crate::store::postgres) async fn account(store: &PgStore) -> AccountId {
        let id: i64 = sqlx::query_scalar(
            "INSERT INTO accounts (name, plan, key_hash, created_at)
             VALUES ('test', 'free', $1, 0) RETURNING id",
        )
        .bind(EventId::generate().as_str().as_bytes())
        .fetch_one(&store.pool)
        .await
        .expect("an account");
        AccountId(id)
    }

    async fn webhook(store: &PgStore, account: AccountId, events: &[&str]) -> WebhookId {
        let webhook = Webhook {
            id: WebhookId::generate(),
            url: "https://example.com/hook".into(),
            events: events.iter().map(|e| (*e).to_owned()).collect(),
            created_at: stored(Utc::now()),
            disabled: false,
            disabled_reason: None,
            disabled_at: None,
            failure_streak: 0,
            paused_until: None,
            previous_secret_expires_at: None,
        };
        store
            .create_webhook(account, &webhook, &WebhookSecret::new("whsec_test"), 0)
            .await
            .expect("the webhook is created");
        webhook.id
    }

    fn sent_event(account: AccountId) -> NewEvent {
        NewEvent {
            account_id: account,
            instance_id: InstanceId::new("number1").expect("an instance id"),
            data: EventData::MessageSent(MessageEvent {
                queue_id: QueueId(1),
                to: "15550001111".into(),
                kind: Some("text".into()),
            }),
        }
    }

    fn limits(per_endpoint: u32) -> ClaimLimits {
        ClaimLimits {
            total: 50,
            per_account: 50,
            per_endpoint,
            half_open_after: 1000,
        }
    }

    /// Runs each future on a task of its own, all at once (as replicas would).
    pub(in crate::store::postgres) async fn at_once<T: Send + 'static>(
        futures: impl IntoIterator<Item = impl Future<Output = T> + Send + 'static>,
    ) -> Vec<T> {
        let tasks: Vec<_> = futures.into_iter().map(tokio::spawn).collect();
        let mut out = Vec::with_capacity(tasks.len());
        for task in tasks {
            out.push(task.await.expect("the task ends"));
        }
        out
    }

    async fn count(store: &PgStore, sql: &str) -> i64 {
        sqlx::query_scalar(sql)
            .fetch_one(&store.pool)
            .await
            .expect("a count")
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
    async fn each_event_is_fanned_out_once_by_replicas_dispatching_at_once() {
        let Some(db) = TestDb::create("fan-out").await else {
            return;
        };
        let replicas = vec![db.replica().await, db.replica().await, db.replica().await];
        let store = &replicas[0];
        let account = account(store).await;
        webhook(store, account, &[]).await;
        webhook(store, account, &["message.sent"]).await;
        webhook(store, account, &["instance.online"]).await;
        let mut tx = store.pool.begin().await.expect("a transaction");
        for _ in 0..40 {
            insert_event_for(&mut tx, account, sent_event(account))
                .await
                .expect("an event");
        }
        tx.commit().await.expect("committed");

        let now = Utc::now();
        let dispatching = replicas.iter().cloned().map(|replica| async move {
            let mut created = 0;
            loop {
                let n = replica
                    .dispatch_events(now, now + Duration::days(3), 7)
                    .await
                    .expect("dispatched");
                if n == 0 {
                    return created;
                }
                created += n;
            }
        });
        let created: u64 = at_once(dispatching).await.iter().sum();

        // Two of the three subscriptions take message.sent: 80 deliveries, none twice.
        assert_eq!(created, 80);
        assert_eq!(
            count(store, "SELECT COUNT(*) FROM webhook_deliveries").await,
            80
        );
        assert_eq!(
            count(
                store,
                "SELECT COUNT(*) FROM (SELECT DISTINCT webhook_id, event_id FROM webhook_deliveries) d"
            )
            .await,
            80
        );
        assert_eq!(
            count(store, "SELECT COUNT(*) FROM events WHERE dispatched = 0").await,
            0
        );
        db.drop(replicas).await;
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
    async fn replicas_claiming_at_once_keep_the_per_endpoint_cap_and_the_single_probe() {
        let Some(db) = TestDb::create("claim caps").await else {
            return;
        };
        let replicas: Vec<PgStore> = vec![
            db.replica().await,
            db.replica().await,
            db.replica().await,
            db.replica().await,
        ];
        let store = &replicas[0];
        let account = account(store).await;
        let open = webhook(store, account, &[]).await;
        let failing = webhook(store, account, &[]).await;
        sqlx::query("UPDATE webhooks SET failure_streak = 5 WHERE id = $1")
            .bind(failing.as_str())
            .execute(&store.pool)
            .await
            .expect("a failing webhook");
        let mut tx = store.pool.begin().await.expect("a transaction");
        for _ in 0..20 {
            insert_event_for(&mut tx, account, sent_event(account))
                .await
                .expect("an event");
        }
        tx.commit().await.expect("committed");
        let now = Utc::now();
        store
            .dispatch_events(now, now + Duration::days(3), 100)
            .await
            .expect("dispatched");

        let caps = ClaimLimits {
            half_open_after: 5,
            ..limits(3)
        };
        let claims = replicas.iter().cloned().map(|r| async move {
            r.claim_deliveries(now, now + Duration::minutes(1), caps)
                .await
        });
        let claimed: Vec<ClaimedDelivery> = at_once(claims)
            .await
            .into_iter()
            .flat_map(|c| c.expect("claimed"))
            .collect();

        let ids: HashSet<&str> = claimed.iter().map(|c| c.id.as_str()).collect();
        assert_eq!(ids.len(), claimed.len(), "a delivery was claimed twice");
        let to = |w: &WebhookId| claimed.iter().filter(|c| c.webhook_id == *w).count();
        assert_eq!(to(&open), 3, "the per-endpoint cap");
        assert_eq!(to(&failing), 1, "one probe for a half-open webhook");
        assert!(claimed.iter().all(|c| c.secret.expose() == "whsec_test"));
        assert!(claimed.iter().all(|c| c.attempt == 1));
        db.drop(replicas).await;
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
    async fn failures_recorded_at_once_on_replicas_all_count_and_disable_once() {
        let Some(db) = TestDb::create("failure streak").await else {
            return;
        };
        let replicas = vec![db.replica().await, db.replica().await, db.replica().await];
        let store = &replicas[0];
        let account = account(store).await;
        let hook = webhook(store, account, &[]).await;
        let mut tx = store.pool.begin().await.expect("a transaction");
        for _ in 0..6 {
            insert_event_for(&mut tx, account, sent_event(account))
                .await
                .expect("an event");
        }
        tx.commit().await.expect("committed");
        let now = Utc::now();
        store
            .dispatch_events(now, now + Duration::days(3), 100)
            .await
            .expect("dispatched");
        let claimed = store
            .claim_deliveries(now, now + Duration::minutes(1), limits(10))
            .await
            .expect("claimed");
        assert_eq!(claimed.len(), 6);

        let breaker = BreakerPolicy {
            open_after: 100,
            base_pause_ms: 1000,
            max_pause_ms: 60_000,
            disable_after_failures: 6,
            disable_after_ms: 0,
        };
        let records = claimed.iter().enumerate().map(|(i, c)| {
            let replica = replicas[i % replicas.len()].clone();
            let record = AttemptRecord {
                delivery_id: c.id.clone(),
                lease: c.lease,
                attempt: c.attempt,
                started_at: now,
                response_code: Some(500),
                latency_ms: 12,
                error: Some("HTTP 500".into()),
                outcome: AttemptOutcome::RetryAt(now + Duration::minutes(5)),
            };
            async move { replica.record_attempt(&record, now, &breaker).await }
        });
        let recorded: Vec<Recorded> = at_once(records)
            .await
            .into_iter()
            .map(|r| r.expect("recorded"))
            .collect();

        assert_eq!(
            recorded
                .iter()
                .filter(|r| **r == Recorded::Disabled)
                .count(),
            1
        );
        let page = store
            .list_webhooks(account, &PageRequest::first(10))
            .await
            .expect("listed");
        let listed = page.items.iter().find(|w| w.id == hook).expect("listed");
        assert_eq!(listed.failure_streak, 6);
        assert!(listed.disabled);
        assert_eq!(
            count(
                store,
                "SELECT COUNT(*) FROM events WHERE event_type = 'webhook.disabled'"
            )
            .await,
            1
        );
        // A stale lease records nothing.
        let again = AttemptRecord {
            delivery_id: claimed[0].id.clone(),
            lease: claimed[0].lease,
            attempt: 1,
            started_at: now,
            response_code: None,
            latency_ms: 1,
            error: None,
            outcome: AttemptOutcome::Succeeded,
        };
        assert_eq!(
            store
                .record_attempt(&again, now, &breaker)
                .await
                .expect("answered"),
            Recorded::Stale
        );
        db.drop(replicas).await;
    }

    #[tokio::test]
    async fn deliveries_page_newest_first_and_show_their_attempts() {
        let Some(db) = TestDb::create("deliveries").await else {
            return;
        };
        let store = db.replica().await;
        let account = account(&store).await;
        let hook = webhook(&store, account, &[]).await;
        // One instant for all: the order falls to the insertion order.
        let now = stored(Utc::now());
        for _ in 0..5 {
            let queued = store
                .queue_test_event(
                    account,
                    &hook,
                    sent_event(account),
                    now,
                    now + Duration::days(3),
                )
                .await
                .expect("queued");
            assert_eq!(queued, WebhookAction::Done);
        }
        let mut seen = Vec::new();
        let mut page = PageRequest::first(2);
        loop {
            let got = store
                .list_deliveries(account, &hook, &page)
                .await
                .expect("listed")
                .expect("the webhook is there");
            seen.extend(got.items.into_iter().map(|d| d.id));
            match got.next {
                Some(next) => page.after = Some(next),
                None => break,
            }
        }
        let order: Vec<DeliveryId> =
            sqlx::query_scalar("SELECT id FROM webhook_deliveries ORDER BY seq DESC")
                .fetch_all(&store.pool)
                .await
                .expect("ids")
                .into_iter()
                .map(|id: String| DeliveryId::new(id).expect("an id"))
                .collect();
        assert_eq!(seen, order);

        let claimed = store
            .claim_deliveries(now, now + Duration::minutes(1), limits(1))
            .await
            .expect("claimed");
        let record = AttemptRecord {
            delivery_id: claimed[0].id.clone(),
            lease: claimed[0].lease,
            attempt: claimed[0].attempt,
            started_at: now,
            response_code: Some(204),
            latency_ms: 30,
            error: None,
            outcome: AttemptOutcome::Succeeded,
        };
        let breaker = BreakerPolicy {
            open_after: 5,
            base_pause_ms: 1000,
            max_pause_ms: 60_000,
            disable_after_failures: 0,
            disable_after_ms: 0,
        };
        store
            .record_attempt(&record, now, &breaker)
            .await
            .expect("recorded");
        let detail = store
            .get_delivery(account, &hook, &claimed[0].id)
            .await
            .expect("read")
            .expect("there");
        assert_eq!(detail.delivery.status, "succeeded");
        assert_eq!(detail.attempts.len(), 1);
        assert_eq!(detail.attempts[0].response_code, Some(204));
        assert_eq!(
            store
                .redeliver(account, &hook, &claimed[0].id, now, now + Duration::days(1))
                .await
                .expect("answered"),
            WebhookAction::Done
        );
        let other = self::account(&store).await;
        assert!(
            store
                .list_deliveries(other, &hook, &PageRequest::first(2))
                .await
                .expect("answered")
                .is_none(),
            "another account's webhook is not found"
        );
        db.drop(vec![store]).await;
    }

    #[tokio::test]
    async fn secrets_are_sealed_at_start_and_the_key_is_checked() {
        let Some(db) = TestDb::create("sealing").await else {
            return;
        };
        let plain = db.replica().await;
        let account = account(&plain).await;
        let hook = webhook(&plain, account, &[]).await;
        let key_again = || SecretsKey::from_bytes(&[7; 32]);
        let sealed = PgStore::open_with_secrets(db.url(), 4, Some(key_again()), None)
            .await
            .expect("sealed at start");
        let (text, blob): (String, Option<Vec<u8>>) =
            sqlx::query_as("SELECT secret, secret_sealed FROM webhooks WHERE id = $1")
                .bind(hook.as_str())
                .fetch_one(&sealed.pool)
                .await
                .expect("the row");
        assert_eq!(text, "", "no plaintext left");
        assert!(blob.is_some());

        let refused = PgStore::open_with_secrets(db.url(), 4, None, None).await;
        assert!(matches!(refused, Err(StoreError::Secrets(_))));
        let wrong =
            PgStore::open_with_secrets(db.url(), 4, Some(SecretsKey::generate()), None).await;
        assert!(matches!(wrong, Err(StoreError::Secrets(_))));

        // A key change: the old key as previous, and the secret still signs.
        let new_key = || SecretsKey::from_bytes(&[9; 32]);
        let changed = PgStore::open_with_secrets(db.url(), 4, Some(new_key()), Some(&key_again()))
            .await
            .expect("resealed");
        store_signs_with(&changed, account, &hook, "whsec_test").await;
        let rotated = WebhookSecret::new("whsec_rotated");
        assert!(
            changed
                .rotate_webhook_secret(account, &hook, &rotated, Utc::now() + Duration::hours(1))
                .await
                .expect("rotated")
        );
        let claimed = store_signs_with(&changed, account, &hook, "whsec_rotated").await;
        assert_eq!(
            claimed
                .previous_secret
                .as_ref()
                .map(|s| s.expose().to_owned()),
            Some("whsec_test".to_owned())
        );
        db.drop(vec![plain, sealed, changed]).await;
    }

    /// Queues a test event and claims it: the secret it is signed with.
    async fn store_signs_with(
        store: &PgStore,
        account: AccountId,
        hook: &WebhookId,
        secret: &str,
    ) -> ClaimedDelivery {
        let now = Utc::now();
        store
            .queue_test_event(
                account,
                hook,
                sent_event(account),
                now,
                now + Duration::days(1),
            )
            .await
            .expect("queued");
        let claimed = store
            .claim_deliveries(now, now + Duration::minutes(1), limits(1))
            .await
            .expect("claimed")
            .pop()
            .expect("one due");
        assert_eq!(claimed.secret.expose(), secret);
        let release = [(claimed.id.clone(), claimed.lease)];
        store.release_deliveries(&release).await.expect("released");
        sqlx::query("UPDATE webhook_deliveries SET status = 'succeeded' WHERE id = $1")
            .bind(claimed.id.as_str())
            .execute(&store.pool)
            .await
            .expect("done");
        claimed
    }
}
