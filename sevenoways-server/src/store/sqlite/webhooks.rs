//! Events, webhook subscriptions, fan-out, deliveries and attempts; the fair claim, the
//! circuit breaker, secret rotation and secrets sealed at rest.

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use sevenoways_sdk::models::webhooks::{
    DeliveryAttempt, Event, WEBHOOKS_INSTANCE, WebhookDisabled,
};
use sevenoways_sdk::{DeliveryId, EventId};
use sqlx::{Row, SqliteConnection};

use super::idempotency::{commit_answering, commit_answering_secret};
use super::*;
use crate::secrets::SecretsKey;
use crate::store::fair_claim::{Assembled, Candidate, Leased, Target, assemble, fair_pick};
use crate::store::sealing::{self, KEY_CHECK, KeyCheck, Place, Slot};
use crate::store::streaks::{StreakStep, held_by_id, rounds_of_distinct_ids, streak_steps};

/// The columns [`webhook_row`] reads.
pub(super) const WEBHOOK_COLUMNS: &str = "id, url, events, created_at, disabled_at, \
    disabled_reason, failure_streak, paused_until, previous_expires_at";

/// A webhook's secret columns: id, secret, secret_sealed, previous_secret,
/// previous_secret_sealed.
type StoredSecrets = (
    String,
    String,
    Option<Vec<u8>>,
    Option<String>,
    Option<Vec<u8>>,
);

/// Checks `key` against the database at startup and seals every secret still stored as
/// given; refuses to go on when secrets are sealed and `key` is not theirs (or is `None`).
/// When they were sealed with `previous` instead, they are sealed again with `key`. Kept
/// `Idempotency-Key` answers that show a secret go with them. Returns the rows changed.
pub(super) async fn prepare_secrets(
    store: &SqliteStore,
    key: Option<&SecretsKey>,
    previous: Option<&SecretsKey>,
) -> StoreResult<u64> {
    let mut tx = store.write.begin_with("BEGIN IMMEDIATE").await?;
    let check: Option<Vec<u8>> = sqlx::query_scalar("SELECT value FROM meta WHERE key = ?")
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
            sqlx::query("INSERT INTO meta (key, value) VALUES (?, ?)")
                .bind(KEY_CHECK)
                .bind(check)
                .execute(&mut *tx)
                .await?;
        }
    }
    // Rows written before the key was configured: seal them now, in this transaction,
    // zeroing what the plaintext leaves behind in the file (then checkpointed below).
    sqlx::query("PRAGMA secure_delete = ON")
        .execute(&mut *tx)
        .await?;
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
            "UPDATE webhooks SET secret = '', secret_sealed = ?, previous_secret = NULL,
                previous_secret_sealed = ? WHERE id = ?",
        )
        .bind(current)
        .bind(previous)
        .bind(&id)
        .execute(&mut *tx)
        .await?;
        sealed += 1;
    }
    sealed += super::engines::seal_plain(&mut tx, key).await?;
    // Recorded answers that show a secret (an Idempotency-Key's answer to a create or a
    // rotation) are sealed, and re-sealed, with the secrets themselves.
    sealed += super::idempotency::seal_answers(&mut tx, key, resealing).await?;
    tx.commit().await?;
    if sealed > 0 {
        // Out of the write-ahead log too, so no copy of a plaintext page stays behind.
        sqlx::query("PRAGMA wal_checkpoint(TRUNCATE)")
            .execute(&mut *store.write.conn().await?)
            .await?;
    }
    sqlx::query("PRAGMA secure_delete = OFF")
        .execute(&mut *store.write.conn().await?)
        .await?;
    Ok(sealed)
}

/// A webhook's sealed columns: id, secret_sealed, previous_secret_sealed.
type SealedSecrets = (String, Option<Vec<u8>>, Option<Vec<u8>>);

/// Seals every sealed secret (and the key check) again: opened with `old`, sealed with
/// `new`. Returns the webhooks changed.
async fn reseal(
    conn: &mut SqliteConnection,
    old: &SecretsKey,
    new: &SecretsKey,
) -> StoreResult<u64> {
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
            "UPDATE webhooks SET secret_sealed = ?, previous_secret_sealed = ? WHERE id = ?",
        )
        .bind(again(current, id, Slot::Current)?)
        .bind(again(previous, id, Slot::Previous)?)
        .bind(id)
        .execute(&mut *conn)
        .await?;
    }
    let engines = super::engines::reseal(&mut *conn, old, new).await?;
    sqlx::query("UPDATE meta SET value = ? WHERE key = ?")
        .bind(sealing::new_key_check(new))
        .bind(KEY_CHECK)
        .execute(&mut *conn)
        .await?;
    Ok(rows.len() as u64 + engines)
}

pub(super) async fn create_webhook(
    store: &SqliteStore,
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
    // IMMEDIATE: the quota is counted and the row inserted under one write lock, so
    // concurrent creates cannot both see room for one more.
    let mut tx = store.write.begin_with("BEGIN IMMEDIATE").await?;
    check_quota(&mut tx, Resource::Webhooks, max, account, None).await?;
    sqlx::query(
        "INSERT INTO webhooks (id, account_id, url, events, secret, secret_sealed, created_at)
         VALUES (?, ?, ?, ?, ?, ?, ?)",
    )
    .bind(webhook.id.as_str())
    .bind(account)
    .bind(&webhook.url)
    .bind(serde_json::to_string(&webhook.events).expect("strings serialise"))
    .bind(text.unwrap_or_default())
    .bind(sealed)
    .bind(millis(webhook.created_at))
    .execute(&mut *tx)
    .await?;
    // The answer shows the secret: sealed at rest like it.
    commit_answering_secret(store, tx, &()).await
}

pub(super) async fn rotate_webhook_secret(
    store: &SqliteStore,
    account: AccountId,
    id: &WebhookId,
    secret: &WebhookSecret,
    previous_expires_at: DateTime<Utc>,
) -> StoreResult<bool> {
    let mut tx = store.write.begin_with("BEGIN IMMEDIATE").await?;
    let row: Option<(String, Option<Vec<u8>>)> = sqlx::query_as(
        "SELECT secret, secret_sealed FROM webhooks WHERE account_id = ? AND id = ?",
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
        "UPDATE webhooks SET secret = ?, secret_sealed = ?, previous_secret = ?,
            previous_secret_sealed = ?, previous_expires_at = ? WHERE id = ?",
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
    store: &SqliteStore,
    account: AccountId,
    id: &WebhookId,
    now: DateTime<Utc>,
    give_up_at: DateTime<Utc>,
) -> StoreResult<Option<Webhook>> {
    let mut tx = store.write.begin_with("BEGIN IMMEDIATE").await?;
    let enabled = sqlx::query(
        "UPDATE webhooks SET disabled_at = NULL, disabled_reason = NULL, failure_streak = 0,
            failing_since = NULL, paused_until = NULL WHERE account_id = ? AND id = ?",
    )
    .bind(account)
    .bind(id.as_str())
    .execute(&mut *tx)
    .await?
    .rows_affected();
    if enabled == 0 {
        return Ok(None);
    }
    sqlx::query(
        "UPDATE webhook_deliveries SET next_attempt_at = ?, give_up_at = MAX(give_up_at, ?),
            updated_at = ? WHERE webhook_id = ? AND status = 'pending'",
    )
    .bind(millis(now))
    .bind(millis(give_up_at))
    .bind(millis(now))
    .bind(id.as_str())
    .execute(&mut *tx)
    .await?;
    let row = sqlx::query(&format!(
        "SELECT {WEBHOOK_COLUMNS} FROM webhooks WHERE id = ?"
    ))
    .bind(id.as_str())
    .fetch_one(&mut *tx)
    .await?;
    let webhook = webhook_row(&row)?;
    commit_answering(tx, &webhook).await?;
    Ok(Some(webhook))
}

/// Whether the account has this subscription, and whether it is disabled.
async fn webhook_state(
    conn: &mut SqliteConnection,
    account: AccountId,
    id: &WebhookId,
) -> StoreResult<Option<WebhookAction>> {
    let disabled: Option<Option<i64>> =
        sqlx::query_scalar("SELECT disabled_at FROM webhooks WHERE account_id = ? AND id = ?")
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
async fn end_rest(conn: &mut SqliteConnection, id: &WebhookId) -> StoreResult<()> {
    sqlx::query("UPDATE webhooks SET paused_until = NULL WHERE id = ?")
        .bind(id.as_str())
        .execute(&mut *conn)
        .await?;
    Ok(())
}

pub(super) async fn take_manual_call(
    store: &SqliteStore,
    account: AccountId,
    now: DateTime<Utc>,
    per_minute: u32,
) -> StoreResult<Result<(), std::time::Duration>> {
    if per_minute == 0 {
        return Ok(Ok(()));
    }
    let now_ms = millis(now);
    let window_start = now_ms - 60_000;
    let mut tx = store.write.begin_with("BEGIN IMMEDIATE").await?;
    let recent: Vec<i64> = sqlx::query_scalar(
        "SELECT at FROM webhook_manual_calls WHERE account_id = ? AND at > ? ORDER BY at DESC LIMIT ?",
    )
    .bind(account)
    .bind(window_start)
    .bind(per_minute as i64)
    .fetch_all(&mut *tx)
    .await?;
    if recent.len() >= per_minute as usize {
        // Allowed again once the oldest of the last `per_minute` calls leaves the window.
        let oldest = recent.last().copied().unwrap_or(now_ms);
        let wait = (oldest + 60_000 - now_ms).max(1) as u64;
        return Ok(Err(std::time::Duration::from_millis(wait)));
    }
    sqlx::query("INSERT INTO webhook_manual_calls (account_id, at) VALUES (?, ?)")
        .bind(account)
        .bind(now_ms)
        .execute(&mut *tx)
        .await?;
    // The table holds at most a minute of calls per account.
    sqlx::query("DELETE FROM webhook_manual_calls WHERE account_id = ? AND at <= ?")
        .bind(account)
        .bind(window_start)
        .execute(&mut *tx)
        .await?;
    tx.commit().await?;
    Ok(Ok(()))
}

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
) -> StoreResult<WebhookAction> {
    let mut tx = store.write.begin_with("BEGIN IMMEDIATE").await?;
    match webhook_state(&mut tx, account, id).await? {
        Some(WebhookAction::Done) => {}
        other => return Ok(other.unwrap_or(WebhookAction::NotFound)),
    }
    let event_id = insert_event_for(&mut tx, account, event).await?;
    // Already fanned out: to this subscription only.
    sqlx::query("UPDATE events SET dispatched = 1 WHERE id = ?")
        .bind(event_id.as_str())
        .execute(&mut *tx)
        .await?;
    insert_deliveries(
        &mut tx,
        &[(id.as_str(), account, event_id.as_str())],
        now,
        give_up_at,
    )
    .await?;
    end_rest(&mut tx, id).await?;
    commit_answering(tx, &WebhookAction::Done).await?;
    Ok(WebhookAction::Done)
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
    // Each account's subscriptions that take deliveries: (id, event filter).
    let mut hooks: HashMap<AccountId, Vec<(String, Vec<String>)>> = Default::default();
    for (_, _, account, _) in &events {
        if !hooks.contains_key(account) {
            let rows: Vec<(String, String)> = sqlx::query_as(
                "SELECT id, events FROM webhooks WHERE account_id = ? AND disabled_at IS NULL
                 ORDER BY created_at, id",
            )
            .bind(account)
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
    }
    let mut deliveries: Vec<(&str, AccountId, &str)> = Vec::new();
    for (event_id, _, account, event_type) in &events {
        for (hook, filter) in hooks.get(account).into_iter().flatten() {
            if filter.is_empty() || filter.iter().any(|e| e == event_type) {
                deliveries.push((hook, *account, event_id));
            }
        }
    }
    insert_deliveries(&mut tx, &deliveries, now, give_up_at).await?;
    sqlx::query("UPDATE events SET dispatched = 1 WHERE dispatched = 0 AND seq <= ?")
        .bind(last_seq)
        .execute(&mut *tx)
        .await?;
    tx.commit().await?;
    Ok(deliveries.len() as u64)
}

pub(super) async fn claim_deliveries(
    store: &SqliteStore,
    now: DateTime<Utc>,
    lease_until: DateTime<Utc>,
    limits: ClaimLimits,
) -> StoreResult<Vec<ClaimedDelivery>> {
    if limits.total == 0 {
        return Ok(Vec::new());
    }
    let now_ms = millis(now);
    // What to claim is decided on a read connection, so the writer is held only for the
    // claim itself; each row is claimed only if it is still free then.
    let mut conn = store.read.acquire().await?;
    // The leases in flight before the endpoints' states, as on Postgres: each read sees
    // what was committed when it began, and an attempt's outcome clears its lease and
    // opens the breaker in one commit. In this order a lease seen gone means its breaker
    // is seen too; the other order could see the lease gone but the webhook not yet
    // paused, and send one attempt past an open breaker (the likely cause of a CI run
    // where `the_circuit_breaker_rests_a_failing_webhook` waited in vain for a streak of
    // exactly 2). `+status` keeps the planner off the status index (every pending
    // delivery, a backlog of thousands) and on the lease index (only those in flight).
    let leased: Vec<(String, AccountId, i64)> = sqlx::query_as(
        "SELECT webhook_id, account_id, COUNT(*) FROM webhook_deliveries
         WHERE lease_until >= ? AND +status = 'pending' GROUP BY webhook_id, account_id",
    )
    .bind(now_ms)
    .fetch_all(&mut *conn)
    .await?;
    let endpoints: Vec<(String, AccountId, i64, i64)> = sqlx::query_as(
        "SELECT w.id, w.account_id, w.last_claimed_at, w.failure_streak FROM webhooks w
         WHERE w.disabled_at IS NULL AND (w.paused_until IS NULL OR w.paused_until <= ?1)
           AND EXISTS (SELECT 1 FROM webhook_deliveries d
                WHERE d.webhook_id = w.id AND d.status = 'pending' AND d.next_attempt_at <= ?1
                  AND (d.lease_until IS NULL OR d.lease_until < ?1))",
    )
    .bind(now_ms)
    .fetch_all(&mut *conn)
    .await?;
    if endpoints.is_empty() {
        return Ok(Vec::new());
    }
    let mut endpoint_busy: HashMap<&str, u32> = HashMap::new();
    let mut account_busy: HashMap<AccountId, u32> = HashMap::new();
    for (webhook, account, n) in &leased {
        endpoint_busy.insert(webhook.as_str(), *n as u32);
        *account_busy.entry(*account).or_insert(0) += *n as u32;
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
             WHERE webhook_id = ?1 AND status = 'pending' AND next_attempt_at <= ?2
               AND (lease_until IS NULL OR lease_until < ?2)
             ORDER BY next_attempt_at, created_at LIMIT ?3",
        )
        .bind(id)
        .bind(now_ms)
        .bind(room as i64)
        .fetch_all(&mut *conn)
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
    drop(conn);
    let picked = fair_pick(candidates, &account_room, limits.total as usize);
    if picked.is_empty() {
        return Ok(Vec::new());
    }

    let lease = millis(lease_until);
    let mut tx = store.write.begin_with("BEGIN IMMEDIATE").await?;
    // One statement per step for the whole claim, not per delivery: each is a hop to the
    // writer's thread. A row claimed by another process in the meantime is not returned.
    // (`+` keeps the planner on the id: by status it would read every pending delivery.)
    let picked_json = serde_json::to_string(&picked).expect("ids serialise");
    let rows: Vec<Leased> = sqlx::query_as(
        "UPDATE webhook_deliveries SET lease_until = ?1, attempts = attempts + 1, updated_at = ?2
         WHERE id IN (SELECT value FROM json_each(?3)) AND +status = 'pending'
           AND +next_attempt_at <= ?2 AND (lease_until IS NULL OR lease_until < ?2)
         RETURNING id, webhook_id, account_id, event_id, attempts, give_up_at",
    )
    .bind(lease)
    .bind(now_ms)
    .bind(&picked_json)
    .fetch_all(&mut *tx)
    .await?;
    let mut webhook_ids: Vec<&str> = rows.iter().map(|r| r.1.as_str()).collect();
    webhook_ids.sort_unstable();
    webhook_ids.dedup();
    let mut event_ids: Vec<&str> = rows.iter().map(|r| r.3.as_str()).collect();
    event_ids.sort_unstable();
    event_ids.dedup();
    let hooks: Vec<sqlx::sqlite::SqliteRow> = sqlx::query(
        "SELECT id, url, secret, secret_sealed, previous_secret, previous_secret_sealed,
                previous_expires_at
         FROM webhooks WHERE id IN (SELECT value FROM json_each(?))",
    )
    .bind(serde_json::to_string(&webhook_ids).expect("ids serialise"))
    .fetch_all(&mut *tx)
    .await?;
    let events: HashMap<String, (Vec<u8>, String)> = sqlx::query_as(
        "SELECT id, payload, event_type FROM events WHERE id IN (SELECT value FROM json_each(?))",
    )
    .bind(serde_json::to_string(&event_ids).expect("ids serialise"))
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
                    last_error = 'webhook deleted'
             WHERE id IN (SELECT value FROM json_each(?))",
        )
        .bind(serde_json::to_string(&gone).expect("ids serialise"))
        .execute(&mut *tx)
        .await?;
    }
    if !webhook_ids.is_empty() {
        sqlx::query(
            "UPDATE webhooks SET last_claimed_at = ? WHERE id IN (SELECT value FROM json_each(?))",
        )
        .bind(now_ms)
        .bind(serde_json::to_string(&webhook_ids).expect("ids serialise"))
        .execute(&mut *tx)
        .await?;
    }
    tx.commit().await?;
    Ok(claimed)
}

pub(super) async fn record_attempts(
    store: &SqliteStore,
    records: &[AttemptRecord],
    now: DateTime<Utc>,
    breaker: &BreakerPolicy,
) -> StoreResult<Vec<Recorded>> {
    let now_ms = millis(now);
    let mut results = vec![Recorded::Stale; records.len()];
    let mut tx = store.write.begin_with("BEGIN IMMEDIATE").await?;
    // Fenced by the lease, as the queue's mark_sent is: a worker whose lease ran out (and
    // whose delivery another worker took over) records nothing.
    let mut held: Vec<(String, AccountId, usize)> = Vec::with_capacity(records.len());
    for round in rounds_of_distinct_ids(records) {
        held.extend(record_outcomes(&mut tx, records, &round, now_ms).await?);
    }
    held.sort_unstable_by_key(|h| h.2);
    insert_attempts(&mut tx, records, held.iter().map(|h| h.2)).await?;
    for h in &held {
        results[h.2] = Recorded::Recorded;
    }
    let succeeded = |i: usize| records[i].outcome == AttemptOutcome::Succeeded;
    for step in streak_steps(&mut held, succeeded) {
        match step {
            StreakStep::Clear { webhook } => clear_failures(&mut tx, webhook).await?,
            StreakStep::Fail {
                webhook,
                account,
                index,
            } => {
                let record = &records[index];
                results[index] =
                    count_failure(&mut tx, webhook, account, record, now_ms, breaker).await?;
            }
        }
    }
    tx.commit().await?;
    Ok(results)
}

/// Each delivery of `records[round]` (distinct ids) takes its outcome if its lease holds,
/// in one UPDATE (each statement is a hop to the writer's thread), the outcomes given as
/// a JSON array; `+` keeps the planner on the id, as in the claim. Those updated, as
/// (webhook, account, index in `records`).
async fn record_outcomes(
    conn: &mut SqliteConnection,
    records: &[AttemptRecord],
    round: &[usize],
    now_ms: i64,
) -> StoreResult<Vec<(String, AccountId, usize)>> {
    let outcomes: Vec<serde_json::Value> = round
        .iter()
        .map(|&i| {
            let record = &records[i];
            let (status, next) = record.outcome.columns();
            serde_json::json!({
                "id": record.delivery_id.as_str(),
                "lease": record.lease,
                "status": status,
                "next": next,
                "code": record.response_code,
                "latency": record.latency_ms.min(i64::MAX as u64),
                "error": record.error,
            })
        })
        .collect();
    let updated: Vec<(String, String, AccountId)> = sqlx::query_as(
        "UPDATE webhook_deliveries
         SET status = r.value ->> 'status',
             next_attempt_at = COALESCE(r.value ->> 'next', next_attempt_at),
             lease_until = NULL, response_code = r.value ->> 'code',
             latency_ms = r.value ->> 'latency', last_error = r.value ->> 'error', updated_at = ?
         FROM json_each(?) AS r
         WHERE webhook_deliveries.id = r.value ->> 'id' AND +status = 'pending'
           AND +lease_until = r.value ->> 'lease'
         RETURNING id, webhook_id, account_id",
    )
    .bind(now_ms)
    .bind(serde_json::Value::Array(outcomes).to_string())
    .fetch_all(&mut *conn)
    .await?;
    Ok(held_by_id(records, round, updated))
}

/// The attempt rows of `records[which]`, with multi-row INSERTs.
async fn insert_attempts(
    conn: &mut SqliteConnection,
    records: &[AttemptRecord],
    which: impl Iterator<Item = usize>,
) -> StoreResult<()> {
    /// Rows per INSERT: 6 parameters each, well under SQLite's parameter limit.
    const ROWS_PER_STATEMENT: usize = 500;
    let which: Vec<usize> = which.collect();
    for chunk in which.chunks(ROWS_PER_STATEMENT) {
        let mut sql = String::from(
            "INSERT OR REPLACE INTO webhook_attempts
                (delivery_id, attempt, started_at, response_code, latency_ms, error) VALUES ",
        );
        for n in 0..chunk.len() {
            sql.push_str(if n == 0 {
                "(?, ?, ?, ?, ?, ?)"
            } else {
                ", (?, ?, ?, ?, ?, ?)"
            });
        }
        let mut query = sqlx::query(&sql);
        for &i in chunk {
            let record = &records[i];
            query = query
                .bind(record.delivery_id.as_str())
                .bind(record.attempt as i64)
                .bind(millis(record.started_at))
                .bind(record.response_code.map(i64::from))
                .bind(record.latency_ms as i64)
                .bind(&record.error);
        }
        query.execute(&mut *conn).await?;
    }
    Ok(())
}

/// A success: the webhook's failure streak and rest end (written only if there is one).
async fn clear_failures(conn: &mut SqliteConnection, webhook_id: &str) -> StoreResult<()> {
    sqlx::query(
        "UPDATE webhooks SET failure_streak = 0, failing_since = NULL, paused_until = NULL
         WHERE id = ? AND (failure_streak <> 0 OR failing_since IS NOT NULL
                           OR paused_until IS NOT NULL)",
    )
    .bind(webhook_id)
    .execute(&mut *conn)
    .await?;
    Ok(())
}

/// One more failure in a row for the webhook: the breaker rests it once the streak is
/// long enough, and a streak long in both count and time disables it.
async fn count_failure(
    conn: &mut SqliteConnection,
    webhook_id: &str,
    account: AccountId,
    record: &AttemptRecord,
    now_ms: i64,
    breaker: &BreakerPolicy,
) -> StoreResult<Recorded> {
    let row: Option<(i64, Option<i64>, Option<i64>)> = sqlx::query_as(
        "SELECT failure_streak, failing_since, disabled_at FROM webhooks WHERE id = ?",
    )
    .bind(webhook_id)
    .fetch_optional(&mut *conn)
    .await?;
    let Some((streak, failing_since, disabled_at)) = row else {
        return Ok(Recorded::Recorded);
    };
    let streak = streak.max(0) as u32 + 1;
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
        "UPDATE webhooks SET failure_streak = ?, failing_since = ?, paused_until = ? WHERE id = ?",
    )
    .bind(streak as i64)
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
    sqlx::query("UPDATE webhooks SET disabled_at = ?, disabled_reason = ? WHERE id = ?")
        .bind(now_ms)
        .bind(&reason)
        .bind(webhook_id)
        .execute(&mut *conn)
        .await?;
    let event = NewEvent {
        account_id: account,
        instance_id: InstanceId::new(WEBHOOKS_INSTANCE).expect("a valid instance id"),
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
    store: &SqliteStore,
    claims: &[(DeliveryId, i64)],
) -> StoreResult<()> {
    let mut tx = store.write.begin().await?;
    for (id, lease) in claims {
        sqlx::query(
            "UPDATE webhook_deliveries SET lease_until = NULL, attempts = MAX(attempts - 1, 0)
             WHERE id = ? AND status = 'pending' AND lease_until = ?",
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
    store: &SqliteStore,
    account: AccountId,
    id: &WebhookId,
    page: &PageRequest,
) -> StoreResult<Option<Page<Delivery>>> {
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
    // Newest first: the next page holds what was created before the last one shown.
    let (t, seq) = match page.after {
        Some(After::Newest(t, seq)) => (t, seq),
        _ => (i64::MAX, i64::MAX),
    };
    let rows = sqlx::query(
        "SELECT d.*, d.rowid AS seq, e.event_type FROM webhook_deliveries d
         JOIN events e ON e.id = d.event_id
         WHERE d.account_id = ? AND d.webhook_id = ? AND (d.created_at, d.rowid) < (?, ?)
         ORDER BY d.created_at DESC, d.rowid DESC LIMIT ?",
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
) -> StoreResult<WebhookAction> {
    let mut tx = store.write.begin_with("BEGIN IMMEDIATE").await?;
    match webhook_state(&mut tx, account, id).await? {
        Some(WebhookAction::Done) => {}
        other => return Ok(other.unwrap_or(WebhookAction::NotFound)),
    }
    let updated = sqlx::query(
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
    .rows_affected();
    if updated == 0 {
        return Ok(WebhookAction::NotFound);
    }
    end_rest(&mut tx, id).await?;
    commit_answering(tx, &WebhookAction::Done).await?;
    Ok(WebhookAction::Done)
}

/// A pending delivery of an event to a subscription, due now.
/// Pending deliveries of `(webhook, account, event)`, with multi-row INSERTs.
async fn insert_deliveries(
    conn: &mut SqliteConnection,
    deliveries: &[(&str, AccountId, &str)],
    now: DateTime<Utc>,
    give_up_at: DateTime<Utc>,
) -> StoreResult<()> {
    /// Rows per INSERT: 8 parameters each, well under SQLite's parameter limit.
    const ROWS_PER_STATEMENT: usize = 500;
    let (now, give_up_at) = (millis(now), millis(give_up_at));
    for chunk in deliveries.chunks(ROWS_PER_STATEMENT) {
        let mut sql = String::from(
            "INSERT INTO webhook_deliveries (id, webhook_id, account_id, event_id, status, attempts,
                                             next_attempt_at, give_up_at, created_at, updated_at)
             VALUES ",
        );
        for n in 0..chunk.len() {
            sql.push_str(if n == 0 { "" } else { ", " });
            sql.push_str("(?, ?, ?, ?, 'pending', 0, ?, ?, ?, ?)");
        }
        let mut query = sqlx::query(&sql);
        for (webhook_id, account, event_id) in chunk {
            query = query
                .bind(DeliveryId::generate().as_str().to_owned())
                .bind(*webhook_id)
                .bind(*account)
                .bind(*event_id)
                .bind(now)
                .bind(give_up_at)
                .bind(now)
                .bind(now);
        }
        query.execute(&mut *conn).await?;
    }
    Ok(())
}

/// A subscription from the [`WEBHOOK_COLUMNS`]. A rest or a previous secret that has
/// ended is not shown.
pub(super) fn webhook_row(row: &sqlx::sqlite::SqliteRow) -> StoreResult<Webhook> {
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
        failure_streak: row.try_get::<i64, _>("failure_streak")?.max(0) as u32,
        paused_until: future(row.try_get("paused_until")?),
        previous_secret_expires_at: future(row.try_get("previous_expires_at")?),
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
