//! What the real engines need stored, on Postgres: see the SQLite store's module of the
//! same name for what each function does.
//!
//! A receipt and the send it is for may be recorded at once on two replicas. SQLite
//! serialised them; here both take the instance's engine lock ([`lock_instance`]) before
//! they look: a receipt that finds no link (or an entry still `sending`) and waits in
//! `engine_receipts` is then always seen by the send that links it, and a send recorded
//! first is always seen by the receipt. Status changes lock the instance row, so an
//! `instance.online` is raised once however many replicas report it.

use chrono::{DateTime, Utc};
use sevenoways_sdk::models::groups::Group;
use sevenoways_sdk::models::instances::InstanceStatus;
use sevenoways_sdk::models::webhooks::{EventData, InstanceEvent, MessageEvent, MessageFailed};
use sevenoways_sdk::{InstanceId, QueueId};
use sqlx::{PgConnection, Row};

use super::webhooks::insert_event_for;
use super::*;
use crate::engine::{EngineKind, EngineSecret};
use crate::secrets::SecretsKey;
use crate::store::sealing::{self, Place};

/// Receipt levels as stored: how far a message got.
const LEVEL_SENT: i64 = 1;
const LEVEL_DELIVERED: i64 = 2;
const LEVEL_READ: i64 = 3;

/// Most ids of one receipt looked at (a WAHA serialized id has at most a few segments).
const MAX_RECEIPT_IDS: usize = 4;

/// Namespace of the instances' engine locks in the two-key advisory lock form (1 is the
/// accounts', 2 the webhooks').
const ENGINE_LOCK_SPACE: i32 = 3;

/// Takes the instance's engine lock until `conn`'s transaction ends. Keyed by a hash of
/// the instance: two instances sharing a key only wait for each other a moment.
async fn lock_instance(
    conn: &mut PgConnection,
    account: AccountId,
    instance: &InstanceId,
) -> Result<(), sqlx::Error> {
    sqlx::query("SELECT pg_advisory_xact_lock($1, hashtext($2))")
        .bind(ENGINE_LOCK_SPACE)
        .bind(format!("{account}/{}", instance.as_str()))
        .execute(conn)
        .await?;
    Ok(())
}

pub(super) async fn bind_engine(
    store: &PgStore,
    account: AccountId,
    id: &InstanceId,
    engine_ref: &str,
    secret: Option<&EngineSecret>,
) -> StoreResult<bool> {
    let (text, sealed) =
        sealing::engine_columns(store.secrets_key.as_deref(), account.0, id.as_str(), secret);
    let result = sqlx::query(
        "UPDATE instances SET engine_ref = $1, engine_secret = $2, engine_secret_sealed = $3
         WHERE account_id = $4 AND instance_id = $5",
    )
    .bind(engine_ref)
    .bind(text)
    .bind(sealed)
    .bind(account)
    .bind(id.as_str())
    .execute(&store.pool)
    .await;
    match result {
        Ok(done) => Ok(done.rows_affected() == 1),
        Err(sqlx::Error::Database(e)) if e.is_unique_violation() => Err(StoreError::Conflict(
            format!("{engine_ref:?} already belongs to another instance of this engine"),
        )),
        Err(e) => Err(e.into()),
    }
}

/// An instance's engine secret from its row: opened with the secrets key when sealed.
fn engine_secret(store: &PgStore, row: &PgRow) -> StoreResult<Option<EngineSecret>> {
    let sealed: Option<Vec<u8>> = row.try_get("engine_secret_sealed")?;
    let text: Option<String> = row.try_get("engine_secret")?;
    if sealed.is_none() {
        return Ok(text.map(EngineSecret::new));
    }
    let (account, instance): (i64, String) =
        (row.try_get("account_id")?, row.try_get("instance_id")?);
    let place = Place::Engine(account, &instance);
    Ok(sealing::open(store.secrets_key.as_deref(), place, text, sealed)?.map(EngineSecret::new))
}

/// Whether any engine secret is sealed: a start without the key must then refuse.
pub(super) async fn any_sealed(conn: &mut PgConnection) -> StoreResult<bool> {
    Ok(sqlx::query_scalar(
        "SELECT EXISTS(SELECT 1 FROM instances WHERE engine_secret_sealed IS NOT NULL)",
    )
    .fetch_one(conn)
    .await?)
}

/// Seals the engine secrets still stored as given (written before the key was set).
/// Returns how many.
pub(super) async fn seal_plain(conn: &mut PgConnection, key: &SecretsKey) -> StoreResult<u64> {
    let plain: Vec<(i64, String, String)> = sqlx::query_as(
        "SELECT account_id, instance_id, engine_secret FROM instances
         WHERE engine_secret IS NOT NULL AND engine_secret_sealed IS NULL",
    )
    .fetch_all(&mut *conn)
    .await?;
    for (account, instance, secret) in &plain {
        sqlx::query(
            "UPDATE instances SET engine_secret = NULL, engine_secret_sealed = $1
             WHERE account_id = $2 AND instance_id = $3",
        )
        .bind(sealing::seal(
            key,
            Place::Engine(*account, instance),
            secret.as_bytes(),
        ))
        .bind(account)
        .bind(instance)
        .execute(&mut *conn)
        .await?;
    }
    Ok(plain.len() as u64)
}

/// Seals every sealed engine secret again: opened with `old`, sealed with `new`.
pub(super) async fn reseal(
    conn: &mut PgConnection,
    old: &SecretsKey,
    new: &SecretsKey,
) -> StoreResult<u64> {
    let rows: Vec<(i64, String, Vec<u8>)> = sqlx::query_as(
        "SELECT account_id, instance_id, engine_secret_sealed FROM instances
         WHERE engine_secret_sealed IS NOT NULL",
    )
    .fetch_all(&mut *conn)
    .await?;
    for (account, instance, sealed) in &rows {
        let sealed = sealing::reseal(old, new, Place::Engine(*account, instance), sealed)?;
        sqlx::query(
            "UPDATE instances SET engine_secret_sealed = $1
             WHERE account_id = $2 AND instance_id = $3",
        )
        .bind(sealed)
        .bind(account)
        .bind(instance)
        .execute(&mut *conn)
        .await?;
    }
    Ok(rows.len() as u64)
}

pub(super) async fn instance_by_engine_ref(
    store: &PgStore,
    engine: EngineKind,
    engine_ref: &str,
) -> StoreResult<Option<EngineInstance>> {
    let row = sqlx::query("SELECT * FROM instances WHERE engine = $1 AND engine_ref = $2")
        .bind(engine.as_str())
        .bind(engine_ref)
        .fetch_optional(&store.pool)
        .await?;
    let Some(row) = row else { return Ok(None) };
    Ok(Some(EngineInstance {
        record: instance_record_row(&row)?,
        secret: engine_secret(store, &row)?,
    }))
}

pub(super) async fn link_provider_message(
    store: &PgStore,
    entry: &Claimed,
    provider_id: &str,
) -> StoreResult<()> {
    let mut conn = store.pool.acquire().await?;
    link(
        &mut conn,
        entry.account_id,
        &entry.instance_id,
        provider_id,
        entry.id,
    )
    .await?;
    Ok(())
}

async fn link(
    conn: &mut PgConnection,
    account: AccountId,
    instance: &InstanceId,
    provider_id: &str,
    queue_id: QueueId,
) -> StoreResult<()> {
    sqlx::query(
        "INSERT INTO engine_messages (account_id, instance_id, provider_id, queue_id, created_at)
         VALUES ($1, $2, $3, $4, $5) ON CONFLICT DO NOTHING",
    )
    .bind(account)
    .bind(instance.as_str())
    .bind(provider_id)
    .bind(queue_id_column(queue_id)?)
    .bind(millis(Utc::now()))
    .execute(conn)
    .await?;
    Ok(())
}

/// A queue id as its `BIGINT` column.
fn queue_id_column(id: QueueId) -> StoreResult<i64> {
    i64::try_from(id.0).map_err(|_| corrupt("queue id", id.0))
}

pub(super) async fn linked_message(
    store: &PgStore,
    entry: &Claimed,
) -> StoreResult<Option<LinkedMessage>> {
    // The latest link, and whether any receipt names one of the entry's ids.
    let row: Option<(String, bool)> = sqlx::query_as(
        "SELECT m.provider_id,
                EXISTS (SELECT 1 FROM engine_receipts r
                        JOIN engine_messages o ON o.account_id = r.account_id
                             AND o.instance_id = r.instance_id AND o.provider_id = r.provider_id
                        WHERE o.queue_id = m.queue_id AND o.account_id = m.account_id
                              AND o.instance_id = m.instance_id)
         FROM engine_messages m
         WHERE m.queue_id = $1 AND m.account_id = $2 AND m.instance_id = $3
         ORDER BY m.created_at DESC, m.seq DESC LIMIT 1",
    )
    .bind(queue_id_column(entry.id)?)
    .bind(entry.account_id)
    .bind(entry.instance_id.as_str())
    .fetch_optional(&store.pool)
    .await?;
    Ok(row.map(|(provider_id, seen)| LinkedMessage {
        provider_id,
        engine_has_it: seen,
    }))
}

pub(super) async fn mark_sent_with_id(
    store: &PgStore,
    entry: &Claimed,
    now: DateTime<Utc>,
    event: NewEvent,
    provider_id: Option<&str>,
) -> StoreResult<bool> {
    let queue_id = queue_id_column(entry.id)?;
    let mut tx = store.pool.begin().await?;
    // Before the entry's row and the look at waiting receipts, in the order a receipt
    // takes them (see the module docs).
    lock_instance(&mut tx, entry.account_id, &entry.instance_id).await?;
    let held = sqlx::query(
        "UPDATE queue SET status = 'sent', sent_at = $1, updated_at = $1, lease_until = NULL,
            error = NULL
         WHERE id = $2 AND status = 'sending' AND lease_until = $3",
    )
    .bind(millis(now))
    .bind(queue_id)
    .bind(entry.lease)
    .execute(&mut *tx)
    .await?
    .rows_affected()
        == 1;
    if !held {
        return Ok(false);
    }
    insert_event_for(&mut tx, event.account_id, event).await?;
    if let Some(provider_id) = provider_id {
        link(
            &mut tx,
            entry.account_id,
            &entry.instance_id,
            provider_id,
            entry.id,
        )
        .await?;
    }
    // Receipts that came while the entry was being sent, under any of its ids.
    let pending: Vec<(i64, Option<String>)> = sqlx::query_as(
        "DELETE FROM engine_receipts
         WHERE account_id = $1 AND instance_id = $2 AND provider_id IN (
            SELECT provider_id FROM engine_messages
            WHERE queue_id = $3 AND account_id = $1 AND instance_id = $2)
         RETURNING level, failed",
    )
    .bind(entry.account_id)
    .bind(entry.instance_id.as_str())
    .bind(queue_id)
    .fetch_all(&mut *tx)
    .await?;
    if !pending.is_empty() {
        let level = pending.iter().map(|p| p.0).max().unwrap_or(0);
        let failed = pending.into_iter().find_map(|p| p.1);
        let (account, instance) = (entry.account_id, &entry.instance_id);
        advance(&mut tx, account, instance, entry.id, level, now).await?;
        if let Some(reason) = failed {
            fail(&mut tx, account, instance, entry.id, &reason, now).await?;
        }
    }
    tx.commit().await?;
    Ok(true)
}

pub(super) async fn apply_engine_update(
    store: &PgStore,
    account: AccountId,
    instance: &InstanceId,
    event_key: Option<(EngineKind, &str)>,
    update: EngineUpdate,
    now: DateTime<Utc>,
) -> StoreResult<bool> {
    let mut tx = store.pool.begin().await?;
    if let Some((engine, key)) = event_key {
        // Of two replicas given one event, the second waits here for the first and then
        // finds its row: the event is applied once.
        let fresh = sqlx::query(
            "INSERT INTO engine_events (engine, event_key, received_at) VALUES ($1, $2, $3)
             ON CONFLICT DO NOTHING",
        )
        .bind(engine.as_str())
        .bind(key)
        .bind(millis(now))
        .execute(&mut *tx)
        .await?
        .rows_affected()
            == 1;
        if !fresh {
            return Ok(false);
        }
    }
    match update {
        EngineUpdate::Status { status, phone } => {
            set_status(&mut tx, account, instance, status, phone.as_deref()).await?;
        }
        EngineUpdate::Receipt {
            provider_ids,
            receipt,
            queue_hint,
        } => {
            let ids: Vec<&str> = provider_ids
                .iter()
                .map(String::as_str)
                .filter(|id| !id.is_empty())
                .take(MAX_RECEIPT_IDS)
                .collect();
            receipt_for(&mut tx, account, instance, &ids, &receipt, queue_hint, now).await?;
        }
        EngineUpdate::Received(message) => {
            let event = NewEvent {
                account_id: account,
                instance_id: instance.clone(),
                data: EventData::MessageReceived(message),
            };
            insert_event_for(&mut tx, account, event).await?;
        }
    }
    tx.commit().await?;
    Ok(true)
}

/// Sets the status; raises `instance.online` on becoming online and `instance.offline` on
/// leaving it, nothing for other moves (pairing ↔ offline). The row is locked while the
/// move is judged, so two replicas reporting one change raise its event once.
async fn set_status(
    tx: &mut PgConnection,
    account: AccountId,
    instance: &InstanceId,
    status: InstanceStatus,
    phone: Option<&str>,
) -> StoreResult<()> {
    let before: Option<(String, Option<String>)> = sqlx::query_as(
        "SELECT status, phone FROM instances WHERE account_id = $1 AND instance_id = $2
         FOR UPDATE",
    )
    .bind(account)
    .bind(instance.as_str())
    .fetch_optional(&mut *tx)
    .await?;
    let Some((before, old_phone)) = before else {
        return Ok(());
    };
    sqlx::query(
        "UPDATE instances SET status = $1, phone = COALESCE($2, phone)
         WHERE account_id = $3 AND instance_id = $4",
    )
    .bind(status.as_str())
    .bind(phone)
    .bind(account)
    .bind(instance.as_str())
    .execute(&mut *tx)
    .await?;
    let was_online = before == InstanceStatus::Online.as_str();
    let is_online = status == InstanceStatus::Online;
    let data = match (was_online, is_online) {
        (false, true) => EventData::InstanceOnline(InstanceEvent {
            status: InstanceStatus::Online.as_str().into(),
            phone: phone.map(str::to_owned).or(old_phone),
        }),
        (true, false) => EventData::InstanceOffline(InstanceEvent {
            status: InstanceStatus::Offline.as_str().into(),
            phone: old_phone,
        }),
        _ => return Ok(()),
    };
    let event = NewEvent {
        account_id: account,
        instance_id: instance.clone(),
        data,
    };
    insert_event_for(tx, account, event).await?;
    Ok(())
}

fn level_of(receipt: &Receipt) -> i64 {
    match receipt {
        Receipt::Sent | Receipt::Failed(_) => LEVEL_SENT,
        Receipt::Delivered => LEVEL_DELIVERED,
        Receipt::Read => LEVEL_READ,
    }
}

async fn receipt_for(
    tx: &mut PgConnection,
    account: AccountId,
    instance: &InstanceId,
    ids: &[&str],
    receipt: &Receipt,
    queue_hint: Option<QueueId>,
    now: DateTime<Utc>,
) -> StoreResult<()> {
    if ids.is_empty() {
        return Ok(());
    }
    lock_instance(tx, account, instance).await?;
    let mut found: Option<(String, i64)> = None;
    for id in ids {
        let queue: Option<i64> = sqlx::query_scalar(
            "SELECT queue_id FROM engine_messages
             WHERE account_id = $1 AND instance_id = $2 AND provider_id = $3",
        )
        .bind(account)
        .bind(instance.as_str())
        .bind(*id)
        .fetch_optional(&mut *tx)
        .await?;
        if let Some(q) = queue {
            found = Some(((*id).to_owned(), q));
            break;
        }
    }
    // Meta echoes the queue id we sent: enough to find an entry whose id we never learnt
    // (the send's answer was lost), as long as it is this instance's.
    if found.is_none()
        && let Some(hint) = queue_hint.and_then(|q| i64::try_from(q.0).ok())
    {
        let ours: Option<i64> = sqlx::query_scalar(
            "SELECT id FROM queue WHERE id = $1 AND account_id = $2 AND instance_id = $3",
        )
        .bind(hint)
        .bind(account)
        .bind(instance.as_str())
        .fetch_optional(&mut *tx)
        .await?;
        if let Some(q) = ours {
            link(tx, account, instance, ids[0], QueueId(q as u64)).await?;
            found = Some((ids[0].to_owned(), q));
        }
    }
    let Some((provider_id, queue_id)) = found else {
        // Nobody's yet (or a message sent from the phone itself): kept a day in case the
        // send that made it is recorded meanwhile.
        for id in ids {
            pend(tx, account, instance, id, receipt, now).await?;
        }
        return Ok(());
    };
    let status: Option<String> = sqlx::query_scalar("SELECT status FROM queue WHERE id = $1")
        .bind(queue_id)
        .fetch_optional(&mut *tx)
        .await?;
    let queue_id = QueueId(queue_id as u64);
    match status.as_deref() {
        // Still being sent (or due again after a lost answer): applied when it is sent.
        Some("queued" | "sending") => pend(tx, account, instance, &provider_id, receipt, now).await,
        Some("sent" | "delivered" | "read") => match receipt {
            Receipt::Failed(reason) => fail(tx, account, instance, queue_id, reason, now).await,
            other => advance(tx, account, instance, queue_id, level_of(other), now).await,
        },
        _ => Ok(()),
    }
}

async fn pend(
    tx: &mut PgConnection,
    account: AccountId,
    instance: &InstanceId,
    provider_id: &str,
    receipt: &Receipt,
    now: DateTime<Utc>,
) -> StoreResult<()> {
    let failed = match receipt {
        Receipt::Failed(reason) => Some(reason.as_str()),
        _ => None,
    };
    sqlx::query(
        "INSERT INTO engine_receipts (account_id, instance_id, provider_id, level, failed, received_at)
         VALUES ($1, $2, $3, $4, $5, $6)
         ON CONFLICT (account_id, instance_id, provider_id) DO UPDATE SET
            level = GREATEST(engine_receipts.level, excluded.level),
            failed = COALESCE(engine_receipts.failed, excluded.failed)",
    )
    .bind(account)
    .bind(instance.as_str())
    .bind(provider_id)
    .bind(level_of(receipt))
    .bind(failed)
    .bind(millis(now))
    .execute(&mut *tx)
    .await?;
    Ok(())
}

/// Moves a sent entry up to `level`, one step at a time, each with its event: a `read`
/// that arrives without a `delivered` raises both, delivered first.
async fn advance(
    tx: &mut PgConnection,
    account: AccountId,
    instance: &InstanceId,
    queue_id: QueueId,
    level: i64,
    now: DateTime<Utc>,
) -> StoreResult<()> {
    /// One step: the level that takes it, from and to which status, the time column set,
    /// and its event.
    type Step = (
        i64,
        &'static str,
        &'static str,
        &'static str,
        fn(MessageEvent) -> EventData,
    );
    let steps: [Step; 2] = [
        (
            LEVEL_DELIVERED,
            "sent",
            "delivered",
            "delivered_at",
            EventData::MessageDelivered,
        ),
        (
            LEVEL_READ,
            "delivered",
            "read",
            "read_at",
            EventData::MessageRead,
        ),
    ];
    let id = queue_id_column(queue_id)?;
    for (needs, from, to, column, make) in steps {
        if level < needs {
            break;
        }
        // Conditional on the status it moves from: of two replicas applying one step,
        // the second's update finds nothing (and raises nothing).
        let row = sqlx::query(&format!(
            "UPDATE queue SET status = '{to}', {column} = $1, updated_at = $1
             WHERE id = $2 AND account_id = $3 AND instance_id = $4 AND status = '{from}'
             RETURNING recipient, content"
        ))
        .bind(millis(now))
        .bind(id)
        .bind(account)
        .bind(instance.as_str())
        .fetch_optional(&mut *tx)
        .await?;
        if let Some(row) = row {
            let event = NewEvent {
                account_id: account,
                instance_id: instance.clone(),
                data: make(MessageEvent {
                    queue_id,
                    to: row.try_get("recipient")?,
                    kind: Some(
                        content(row.try_get::<&str, _>("content")?)?
                            .kind()
                            .to_owned(),
                    ),
                }),
            };
            insert_event_for(tx, account, event).await?;
        }
    }
    Ok(())
}

/// Fails a `sent` entry the engine gave up on; one that reached the phone stays as it is.
async fn fail(
    tx: &mut PgConnection,
    account: AccountId,
    instance: &InstanceId,
    queue_id: QueueId,
    reason: &str,
    now: DateTime<Utc>,
) -> StoreResult<()> {
    let row: Option<(String, i64)> = sqlx::query_as(
        "UPDATE queue SET status = 'failed', error = $1, updated_at = $2
         WHERE id = $3 AND account_id = $4 AND instance_id = $5 AND status = 'sent'
         RETURNING recipient, attempts",
    )
    .bind(reason)
    .bind(millis(now))
    .bind(queue_id_column(queue_id)?)
    .bind(account)
    .bind(instance.as_str())
    .fetch_optional(&mut *tx)
    .await?;
    if let Some((to, attempts)) = row {
        let event = NewEvent {
            account_id: account,
            instance_id: instance.clone(),
            data: EventData::MessageFailed(MessageFailed {
                queue_id,
                to,
                error: reason.to_owned(),
                attempts: attempts.clamp(0, i64::from(u32::MAX)) as u32,
            }),
        };
        insert_event_for(tx, account, event).await?;
    }
    Ok(())
}

pub(super) async fn replace_groups(
    store: &PgStore,
    account: AccountId,
    id: &InstanceId,
    groups: &[Group],
) -> StoreResult<bool> {
    let mut tx = store.pool.begin().await?;
    let exists: Option<i32> =
        sqlx::query_scalar("SELECT 1 FROM instances WHERE account_id = $1 AND instance_id = $2")
            .bind(account)
            .bind(id.as_str())
            .fetch_optional(&mut *tx)
            .await?;
    if exists.is_none() {
        return Ok(false);
    }
    // Two syncs of one instance at once (two replicas) replace one after the other, so
    // the list is one of them, never a mix.
    lock_instance(&mut tx, account, id).await?;
    let keep: Vec<&str> = groups.iter().map(|g| g.id.as_str()).collect();
    sqlx::query(
        "DELETE FROM groups WHERE account_id = $1 AND instance_id = $2
         AND NOT (group_id = ANY($3))",
    )
    .bind(account)
    .bind(id.as_str())
    .bind(&keep)
    .execute(&mut *tx)
    .await?;
    for group in groups {
        // A count of 0 means the engine did not say (participants are left out of the
        // list to keep it small): the last known count stays.
        sqlx::query(
            "INSERT INTO groups (account_id, instance_id, group_id, name, name_lower, participants)
             VALUES ($1, $2, $3, $4, $5, $6)
             ON CONFLICT (account_id, instance_id, group_id) DO UPDATE SET
                name = excluded.name, name_lower = excluded.name_lower,
                participants = CASE WHEN excluded.participants > 0
                                    THEN excluded.participants ELSE groups.participants END",
        )
        .bind(account)
        .bind(id.as_str())
        .bind(group.id.as_str())
        .bind(&group.name)
        .bind(group.name.to_lowercase())
        .bind(i64::from(group.participants))
        .execute(&mut *tx)
        .await?;
    }
    tx.commit().await?;
    Ok(true)
}

pub(super) async fn prune_engine_state(store: &PgStore, before: DateTime<Utc>) -> StoreResult<u64> {
    let cutoff = millis(before);
    let mut tx = store.pool.begin().await?;
    let mut deleted = 0;
    for sql in [
        "DELETE FROM engine_receipts WHERE received_at < $1",
        "DELETE FROM engine_events WHERE received_at < $1",
    ] {
        deleted += sqlx::query(sql)
            .bind(cutoff)
            .execute(&mut *tx)
            .await?
            .rows_affected();
    }
    tx.commit().await?;
    Ok(deleted)
}

#[cfg(test)]
mod tests {
    use sevenoways_sdk::GroupId;
    use sevenoways_sdk::models::webhooks::MessageEvent;

    use super::super::webhooks::tests::{TestDb, account, at_once};
    use super::*;
    use crate::store::RecipientKind;

    async fn instance(store: &PgStore, account: AccountId, status: &str) -> InstanceId {
        // Named after the account, so an id names one instance in the whole database.
        let id = InstanceId::new(format!("number{}", account.0)).expect("an id");
        sqlx::query(
            "INSERT INTO instances (account_id, instance_id, label, status, created_at, qr_ref)
             VALUES ($1, $2, 'test', $3, 0, $4)",
        )
        .bind(account)
        .bind(id.as_str())
        .bind(status)
        .bind(format!("qr-{}-{}", account.0, id.as_str()))
        .execute(&store.pool)
        .await
        .expect("an instance");
        id
    }

    /// A queue entry being sent, as the worker holds it.
    async fn sending(store: &PgStore, account: AccountId, instance: &InstanceId) -> Claimed {
        let content = r#"{"kind":"text","message":"hello"}"#;
        let lease = millis(Utc::now()) + 60_000;
        let id: i64 = sqlx::query_scalar(
            "INSERT INTO queue (account_id, instance_id, recipient, recipient_kind, content,
                                status, attempts, lease_until, next_attempt_at, created_at,
                                updated_at)
             VALUES ($1, $2, '15550001111', 'phone', $3, 'sending', 1, $4, 0, 0, 0)
             RETURNING id",
        )
        .bind(account)
        .bind(instance.as_str())
        .bind(content)
        .bind(lease)
        .fetch_one(&store.pool)
        .await
        .expect("an entry");
        Claimed {
            id: QueueId(id as u64),
            account_id: account,
            instance_id: instance.clone(),
            to: "15550001111".into(),
            kind: RecipientKind::Phone,
            content: serde_json::from_str(content).expect("content"),
            attempts: 1,
            lease,
        }
    }

    fn sent(entry: &Claimed) -> NewEvent {
        NewEvent {
            account_id: entry.account_id,
            instance_id: entry.instance_id.clone(),
            data: EventData::MessageSent(MessageEvent {
                queue_id: entry.id,
                to: entry.to.clone(),
                kind: Some("text".into()),
            }),
        }
    }

    async fn events(store: &PgStore, event_type: &str) -> i64 {
        sqlx::query_scalar("SELECT COUNT(*) FROM events WHERE event_type = $1")
            .bind(event_type)
            .fetch_one(&store.pool)
            .await
            .expect("a count")
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
    async fn a_receipt_racing_its_send_on_another_replica_is_applied() {
        let Some(db) = TestDb::create("receipt race").await else {
            return;
        };
        let (a, b) = (db.replica().await, db.replica().await);
        let account = account(&a).await;
        let number = instance(&a, account, "online").await;
        const ROUNDS: i64 = 20;
        for round in 0..ROUNDS {
            let entry = sending(&a, account, &number).await;
            let wamid = format!("wamid.{round}");
            a.link_provider_message(&entry, &wamid)
                .await
                .expect("linked");
            let now = Utc::now();
            let (send, receipt) = {
                let (a, b, entry, number) = (a.clone(), b.clone(), entry.clone(), number.clone());
                let send = tokio::spawn(async move {
                    a.mark_sent_with_id(&entry, now, sent(&entry), None).await
                });
                let receipt = tokio::spawn(async move {
                    let update = EngineUpdate::Receipt {
                        provider_ids: vec![wamid],
                        receipt: Receipt::Delivered,
                        queue_hint: None,
                    };
                    b.apply_engine_update(account, &number, None, update, now)
                        .await
                });
                (send, receipt)
            };
            assert!(send.await.expect("ends").expect("recorded"));
            assert!(receipt.await.expect("ends").expect("applied"));
            let status: String = sqlx::query_scalar("SELECT status FROM queue WHERE id = $1")
                .bind(entry.id.0 as i64)
                .fetch_one(&a.pool)
                .await
                .expect("the entry");
            assert_eq!(status, "delivered", "round {round}");
        }
        assert_eq!(events(&a, "message.delivered").await, ROUNDS);
        assert_eq!(
            a.linked_message(&sending(&a, account, &number).await)
                .await
                .expect("read"),
            None
        );
        db.drop(vec![a, b]).await;
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
    async fn one_status_change_reported_by_every_replica_raises_one_event() {
        let Some(db) = TestDb::create("status once").await else {
            return;
        };
        let replicas = vec![db.replica().await, db.replica().await, db.replica().await];
        let account = account(&replicas[0]).await;
        let number = instance(&replicas[0], account, "offline").await;
        let now = Utc::now();
        let reports = replicas.iter().cloned().map(|r| {
            let number = number.clone();
            async move {
                let update = EngineUpdate::Status {
                    status: InstanceStatus::Online,
                    phone: Some("15550002222".into()),
                };
                r.apply_engine_update(account, &number, None, update, now)
                    .await
            }
        });
        for applied in at_once(reports).await {
            assert!(applied.expect("applied"));
        }
        assert_eq!(events(&replicas[0], "instance.online").await, 1);

        // One engine event given to every replica is applied once.
        let reports = replicas.iter().cloned().map(|r| {
            let number = number.clone();
            async move {
                let update = EngineUpdate::Status {
                    status: InstanceStatus::Offline,
                    phone: None,
                };
                r.apply_engine_update(
                    account,
                    &number,
                    Some((EngineKind::Waha, "evt-1")),
                    update,
                    now,
                )
                .await
            }
        });
        let applied = at_once(reports).await;
        assert_eq!(applied.iter().filter(|a| matches!(a, Ok(true))).count(), 1);
        assert_eq!(events(&replicas[0], "instance.offline").await, 1);
        db.drop(replicas).await;
    }

    #[tokio::test]
    async fn a_read_before_the_send_is_recorded_raises_delivered_then_read() {
        let Some(db) = TestDb::create("early read").await else {
            return;
        };
        let store = db.replica().await;
        let account = account(&store).await;
        let number = instance(&store, account, "online").await;
        let entry = sending(&store, account, &number).await;
        let now = Utc::now();
        let update = EngineUpdate::Receipt {
            provider_ids: vec!["wamid.early".into()],
            receipt: Receipt::Read,
            queue_hint: None,
        };
        store
            .apply_engine_update(account, &number, None, update, now)
            .await
            .expect("kept");
        assert_eq!(events(&store, "message.read").await, 0);
        assert!(
            store
                .mark_sent_with_id(&entry, now, sent(&entry), Some("wamid.early"))
                .await
                .expect("recorded")
        );
        assert_eq!(events(&store, "message.delivered").await, 1);
        assert_eq!(events(&store, "message.read").await, 1);
        let linked = store
            .linked_message(&entry)
            .await
            .expect("read")
            .expect("linked");
        assert_eq!(linked.provider_id, "wamid.early");
        // A second send record under a lost lease changes nothing.
        assert!(
            !store
                .mark_sent_with_id(&entry, now, sent(&entry), None)
                .await
                .expect("answered")
        );
        assert_eq!(
            store
                .prune_engine_state(now + chrono::Duration::days(2))
                .await
                .expect("pruned"),
            0,
            "the applied receipt is gone already"
        );
        db.drop(vec![store]).await;
    }

    #[tokio::test]
    async fn engine_refs_are_unique_per_engine_and_groups_are_replaced() {
        let Some(db) = TestDb::create("engine refs").await else {
            return;
        };
        let store = db.replica().await;
        let account = account(&store).await;
        let one = instance(&store, account, "pairing").await;
        let other_account = super::super::webhooks::tests::account(&store).await;
        let two = instance(&store, other_account, "pairing").await;
        let secret = EngineSecret::new("engine-key");
        assert!(
            store
                .bind_engine(account, &one, "session-1", Some(&secret))
                .await
                .expect("bound")
        );
        let taken = store
            .bind_engine(other_account, &two, "session-1", None)
            .await;
        assert!(matches!(taken, Err(StoreError::Conflict(_))));
        sqlx::query("UPDATE instances SET engine = 'waha' WHERE instance_id = $1")
            .bind(one.as_str())
            .execute(&store.pool)
            .await
            .expect("a WAHA instance");
        let found = store
            .instance_by_engine_ref(EngineKind::Waha, "session-1")
            .await
            .expect("read")
            .expect("found");
        assert_eq!(found.record.instance.instance_id, one);
        assert_eq!(
            found.secret.as_ref().map(|s| s.expose().to_owned()),
            Some("engine-key".to_owned())
        );

        let group = |id: &str, name: &str, participants: u32| Group {
            id: GroupId::new(id).expect("a group id"),
            name: name.into(),
            participants,
        };
        let first = [
            group("120363000000000001@g.us", "Alpha", 3),
            group("120363000000000002@g.us", "Beta", 4),
        ];
        assert!(
            store
                .replace_groups(account, &one, &first)
                .await
                .expect("replaced")
        );
        let second = [group("120363000000000002@g.us", "Beta 2", 0)];
        assert!(
            store
                .replace_groups(account, &one, &second)
                .await
                .expect("replaced")
        );
        let rows: Vec<(String, String, i64)> =
            sqlx::query_as("SELECT group_id, name, participants FROM groups WHERE account_id = $1")
                .bind(account)
                .fetch_all(&store.pool)
                .await
                .expect("groups");
        assert_eq!(
            rows,
            vec![("120363000000000002@g.us".to_owned(), "Beta 2".to_owned(), 4)]
        );
        assert!(
            !store
                .replace_groups(other_account, &one, &second)
                .await
                .expect("answered"),
            "another account's instance"
        );
        db.drop(vec![store]).await;
    }
}
