//! What the real engines need stored: how they name an instance, their ids of our
//! messages, receipts that came early, and the events already handled.
//!
//! A receipt moves a queue entry forward only, `sent` → `delivered` → `read`, each step
//! one conditional `UPDATE` whose event is written in the same transaction; so each event
//! is raised at most once and in order, however often and in whatever order the engine
//! reports. A receipt for an entry that is not `sent` yet (it overtook the send's answer)
//! waits in `engine_receipts` and is applied when the send is recorded.

use chrono::{DateTime, Utc};
use sevenoways_sdk::models::groups::Group;
use sevenoways_sdk::models::instances::InstanceStatus;
use sevenoways_sdk::models::webhooks::{EventData, InstanceEvent, MessageEvent, MessageFailed};
use sevenoways_sdk::{InstanceId, QueueId};
use sqlx::{Row, SqliteConnection};

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

pub(super) async fn bind_engine(
    store: &SqliteStore,
    account: AccountId,
    id: &InstanceId,
    engine_ref: &str,
    secret: Option<&EngineSecret>,
) -> StoreResult<bool> {
    let (text, sealed) =
        sealing::engine_columns(store.secrets_key.as_deref(), account.0, id.as_str(), secret);
    let result = sqlx::query(
        "UPDATE instances SET engine_ref = ?, engine_secret = ?, engine_secret_sealed = ?
         WHERE account_id = ? AND instance_id = ?",
    )
    .bind(engine_ref)
    .bind(text)
    .bind(sealed)
    .bind(account)
    .bind(id.as_str())
    .execute(&mut *store.write.conn().await?)
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
fn engine_secret(
    store: &SqliteStore,
    row: &sqlx::sqlite::SqliteRow,
) -> StoreResult<Option<EngineSecret>> {
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
pub(super) async fn any_sealed(conn: &mut SqliteConnection) -> StoreResult<bool> {
    Ok(sqlx::query_scalar(
        "SELECT EXISTS(SELECT 1 FROM instances WHERE engine_secret_sealed IS NOT NULL)",
    )
    .fetch_one(conn)
    .await?)
}

/// Seals the engine secrets still stored as given (written before the key was set).
/// Returns how many.
pub(super) async fn seal_plain(conn: &mut SqliteConnection, key: &SecretsKey) -> StoreResult<u64> {
    let plain: Vec<(i64, String, String)> = sqlx::query_as(
        "SELECT account_id, instance_id, engine_secret FROM instances
         WHERE engine_secret IS NOT NULL AND engine_secret_sealed IS NULL",
    )
    .fetch_all(&mut *conn)
    .await?;
    for (account, instance, secret) in &plain {
        sqlx::query(
            "UPDATE instances SET engine_secret = NULL, engine_secret_sealed = ?
             WHERE account_id = ? AND instance_id = ?",
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
    conn: &mut SqliteConnection,
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
            "UPDATE instances SET engine_secret_sealed = ? WHERE account_id = ? AND instance_id = ?",
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
    store: &SqliteStore,
    engine: EngineKind,
    engine_ref: &str,
) -> StoreResult<Option<EngineInstance>> {
    let row = sqlx::query("SELECT * FROM instances WHERE engine = ? AND engine_ref = ?")
        .bind(engine.as_str())
        .bind(engine_ref)
        .fetch_optional(&store.read)
        .await?;
    let Some(row) = row else { return Ok(None) };
    Ok(Some(EngineInstance {
        record: instance_record_row(&row)?,
        secret: engine_secret(store, &row)?,
    }))
}

pub(super) async fn link_provider_message(
    store: &SqliteStore,
    entry: &Claimed,
    provider_id: &str,
) -> StoreResult<()> {
    let mut tx = store.write.begin().await?;
    link(
        &mut tx,
        entry.account_id,
        &entry.instance_id,
        provider_id,
        entry.id,
    )
    .await?;
    tx.commit().await?;
    Ok(())
}

async fn link(
    conn: &mut SqliteConnection,
    account: AccountId,
    instance: &InstanceId,
    provider_id: &str,
    queue_id: QueueId,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT OR IGNORE INTO engine_messages (account_id, instance_id, provider_id, queue_id, created_at)
         VALUES (?, ?, ?, ?, ?)",
    )
    .bind(account)
    .bind(instance.as_str())
    .bind(provider_id)
    .bind(queue_id.0 as i64)
    .bind(millis(Utc::now()))
    .execute(conn)
    .await?;
    Ok(())
}

pub(super) async fn linked_message(
    store: &SqliteStore,
    entry: &Claimed,
) -> StoreResult<Option<LinkedMessage>> {
    // The latest link, and whether any receipt names one of the entry's ids.
    let row: Option<(String, i64)> = sqlx::query_as(
        "SELECT m.provider_id,
                EXISTS (SELECT 1 FROM engine_receipts r
                        JOIN engine_messages o ON o.account_id = r.account_id
                             AND o.instance_id = r.instance_id AND o.provider_id = r.provider_id
                        WHERE o.queue_id = m.queue_id AND o.account_id = m.account_id
                              AND o.instance_id = m.instance_id)
         FROM engine_messages m
         WHERE m.queue_id = ? AND m.account_id = ? AND m.instance_id = ?
         ORDER BY m.created_at DESC, m.rowid DESC LIMIT 1",
    )
    .bind(entry.id.0 as i64)
    .bind(entry.account_id)
    .bind(entry.instance_id.as_str())
    .fetch_optional(&store.read)
    .await?;
    Ok(row.map(|(provider_id, seen)| LinkedMessage {
        provider_id,
        engine_has_it: seen != 0,
    }))
}

pub(super) async fn mark_sent_with_id(
    store: &SqliteStore,
    entry: &Claimed,
    now: DateTime<Utc>,
    event: NewEvent,
    provider_id: Option<&str>,
) -> StoreResult<bool> {
    let mut tx = store.write.begin_with("BEGIN IMMEDIATE").await?;
    let held = sqlx::query(
        "UPDATE queue SET status = 'sent', sent_at = ?, updated_at = ?, lease_until = NULL, error = NULL
         WHERE id = ? AND status = 'sending' AND lease_until = ?",
    )
    .bind(millis(now))
    .bind(millis(now))
    .bind(entry.id.0 as i64)
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
         WHERE account_id = ? AND instance_id = ? AND provider_id IN (
            SELECT provider_id FROM engine_messages
            WHERE queue_id = ? AND account_id = ? AND instance_id = ?)
         RETURNING level, failed",
    )
    .bind(entry.account_id)
    .bind(entry.instance_id.as_str())
    .bind(entry.id.0 as i64)
    .bind(entry.account_id)
    .bind(entry.instance_id.as_str())
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
    store: &SqliteStore,
    account: AccountId,
    instance: &InstanceId,
    event_key: Option<(EngineKind, &str)>,
    update: EngineUpdate,
    now: DateTime<Utc>,
) -> StoreResult<bool> {
    let mut tx = store.write.begin_with("BEGIN IMMEDIATE").await?;
    if let Some((engine, key)) = event_key {
        let fresh = sqlx::query(
            "INSERT OR IGNORE INTO engine_events (engine, event_key, received_at) VALUES (?, ?, ?)",
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
/// leaving it, nothing for other moves (pairing ↔ offline).
async fn set_status(
    tx: &mut SqliteConnection,
    account: AccountId,
    instance: &InstanceId,
    status: InstanceStatus,
    phone: Option<&str>,
) -> StoreResult<()> {
    let before: Option<(String, Option<String>)> = sqlx::query_as(
        "SELECT status, phone FROM instances WHERE account_id = ? AND instance_id = ?",
    )
    .bind(account)
    .bind(instance.as_str())
    .fetch_optional(&mut *tx)
    .await?;
    let Some((before, old_phone)) = before else {
        return Ok(());
    };
    sqlx::query(
        "UPDATE instances SET status = ?, phone = COALESCE(?, phone) WHERE account_id = ? AND instance_id = ?",
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
    tx: &mut SqliteConnection,
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
    let mut found: Option<(String, i64)> = None;
    for id in ids {
        let queue: Option<i64> = sqlx::query_scalar(
            "SELECT queue_id FROM engine_messages WHERE account_id = ? AND instance_id = ? AND provider_id = ?",
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
            "SELECT id FROM queue WHERE id = ? AND account_id = ? AND instance_id = ?",
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
    let queue_id = QueueId(queue_id as u64);
    let status: Option<String> = sqlx::query_scalar("SELECT status FROM queue WHERE id = ?")
        .bind(queue_id.0 as i64)
        .fetch_optional(&mut *tx)
        .await?;
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
    tx: &mut SqliteConnection,
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
         VALUES (?, ?, ?, ?, ?, ?)
         ON CONFLICT (account_id, instance_id, provider_id) DO UPDATE SET
            level = MAX(level, excluded.level), failed = COALESCE(failed, excluded.failed)",
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
    tx: &mut SqliteConnection,
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
    for (needs, from, to, column, make) in steps {
        if level < needs {
            break;
        }
        let row = sqlx::query(&format!(
            "UPDATE queue SET status = '{to}', {column} = ?, updated_at = ?
             WHERE id = ? AND account_id = ? AND instance_id = ? AND status = '{from}'
             RETURNING recipient, content"
        ))
        .bind(millis(now))
        .bind(millis(now))
        .bind(queue_id.0 as i64)
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
    tx: &mut SqliteConnection,
    account: AccountId,
    instance: &InstanceId,
    queue_id: QueueId,
    reason: &str,
    now: DateTime<Utc>,
) -> StoreResult<()> {
    let row: Option<(String, i64)> = sqlx::query_as(
        "UPDATE queue SET status = 'failed', error = ?, updated_at = ?
         WHERE id = ? AND account_id = ? AND instance_id = ? AND status = 'sent'
         RETURNING recipient, attempts",
    )
    .bind(reason)
    .bind(millis(now))
    .bind(queue_id.0 as i64)
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
                attempts: attempts as u32,
            }),
        };
        insert_event_for(tx, account, event).await?;
    }
    Ok(())
}

pub(super) async fn replace_groups(
    store: &SqliteStore,
    account: AccountId,
    id: &InstanceId,
    groups: &[Group],
) -> StoreResult<bool> {
    let mut tx = store.write.begin_with("BEGIN IMMEDIATE").await?;
    let exists: Option<i64> =
        sqlx::query_scalar("SELECT 1 FROM instances WHERE account_id = ? AND instance_id = ?")
            .bind(account)
            .bind(id.as_str())
            .fetch_optional(&mut *tx)
            .await?;
    if exists.is_none() {
        return Ok(false);
    }
    let keep: Vec<&str> = groups.iter().map(|g| g.id.as_str()).collect();
    sqlx::query(
        "DELETE FROM groups WHERE account_id = ? AND instance_id = ?
         AND group_id NOT IN (SELECT value FROM json_each(?))",
    )
    .bind(account)
    .bind(id.as_str())
    .bind(serde_json::to_string(&keep).expect("strings serialise"))
    .execute(&mut *tx)
    .await?;
    for group in groups {
        // A count of 0 means the engine did not say (participants are left out of the
        // list to keep it small): the last known count stays.
        sqlx::query(
            "INSERT INTO groups (account_id, instance_id, group_id, name, name_lower, participants)
             VALUES (?, ?, ?, ?, ?, ?)
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
        .bind(group.participants as i64)
        .execute(&mut *tx)
        .await?;
    }
    tx.commit().await?;
    Ok(true)
}

pub(super) async fn prune_engine_state(
    store: &SqliteStore,
    before: DateTime<Utc>,
) -> StoreResult<u64> {
    let cutoff = millis(before);
    let mut tx = store.write.begin().await?;
    let mut deleted = 0;
    for sql in [
        "DELETE FROM engine_receipts WHERE received_at < ?",
        "DELETE FROM engine_events WHERE received_at < ?",
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
