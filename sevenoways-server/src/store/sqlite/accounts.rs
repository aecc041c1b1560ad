//! Accounts, instances, groups, channels and the sandbox outbox.

use chrono::Utc;
use sevenoways_sdk::models::channels::Channel;
use sevenoways_sdk::models::groups::Group;
use sevenoways_sdk::models::instances::{Instance, InstanceStatus};
use sevenoways_sdk::models::sandbox::OutboxMessage;
use sevenoways_sdk::models::webhooks::{EventData, InstanceEvent, MessageFailed};
use sevenoways_sdk::{InstanceId, QueueId};
use sqlx::Row;

use super::idempotency::commit_answering;
use super::webhooks::insert_event_for;
use super::*;
use crate::engine::EngineKind;

pub(super) async fn create_instance(
    store: &SqliteStore,
    account: AccountId,
    id: &InstanceId,
    label: &str,
    engine: EngineKind,
    max: u32,
) -> StoreResult<InstanceRecord> {
    let now = Utc::now();
    let qr_ref = crate::ids::random_hex(16);
    // IMMEDIATE: the quota is counted and the row inserted under one write lock.
    let mut tx = store.write.begin_with("BEGIN IMMEDIATE").await?;
    let taken: bool = sqlx::query_scalar(
        "SELECT EXISTS(SELECT 1 FROM instances WHERE account_id = ? AND instance_id = ?)",
    )
    .bind(account)
    .bind(id.as_str())
    .fetch_one(&mut *tx)
    .await?;
    if taken {
        return Err(StoreError::Conflict(format!(
            "instance \"{id}\" already exists"
        )));
    }
    check_quota(&mut tx, Resource::Instances, max, account, None).await?;
    sqlx::query(
        "INSERT INTO instances (account_id, instance_id, label, status, created_at, engine, qr_ref)
         VALUES (?, ?, ?, 'pairing', ?, ?, ?)",
    )
    .bind(account)
    .bind(id.as_str())
    .bind(label)
    .bind(millis(now))
    .bind(engine.as_str())
    .bind(&qr_ref)
    .execute(&mut *tx)
    .await?;
    let record = InstanceRecord {
        account_id: account,
        instance: Instance {
            instance_id: id.clone(),
            label: label.to_owned(),
            status: InstanceStatus::Pairing,
            engine: Some(engine.into()),
            phone: None,
            created_at: stored(now),
        },
        engine,
        qr_ref,
        engine_ref: None,
    };
    commit_answering(tx, &record).await?;
    Ok(record)
}

pub(super) async fn delete_instance(
    store: &SqliteStore,
    account: AccountId,
    id: &InstanceId,
) -> StoreResult<bool> {
    let now = millis(Utc::now());
    let mut tx = store.write.begin().await?;
    let deleted: Option<(String, Option<String>)> = sqlx::query_as(
        "DELETE FROM instances WHERE account_id = ? AND instance_id = ? RETURNING status, phone",
    )
    .bind(account)
    .bind(id.as_str())
    .fetch_optional(&mut *tx)
    .await?;
    let Some((status, phone)) = deleted else {
        return Ok(false);
    };
    // Deleting a connected number disconnects it.
    if status == InstanceStatus::Online.as_str() {
        let event = NewEvent {
            account_id: account,
            instance_id: id.clone(),
            data: EventData::InstanceOffline(InstanceEvent {
                status: InstanceStatus::Offline.as_str().into(),
                phone,
            }),
        };
        insert_event_for(&mut tx, account, event).await?;
    }
    for table in ["groups", "channels", "schedules"] {
        sqlx::query(&format!(
            "DELETE FROM {table} WHERE account_id = ? AND instance_id = ?"
        ))
        .bind(account)
        .bind(id.as_str())
        .execute(&mut *tx)
        .await?;
    }
    // Accepted sends are never silently dropped: they end as failed, with the reason
    // and a `message.failed` event each.
    const REASON: &str = "instance deleted before the message was sent";
    let failed: Vec<(i64, String, i64)> = sqlx::query_as(
        "UPDATE queue SET status = 'failed', error = ?, lease_until = NULL, updated_at = ?
         WHERE account_id = ? AND instance_id = ? AND status IN ('queued', 'sending')
         RETURNING id, recipient, attempts",
    )
    .bind(REASON)
    .bind(now)
    .bind(account)
    .bind(id.as_str())
    .fetch_all(&mut *tx)
    .await?;
    for (queue_id, to, attempts) in failed {
        let event = NewEvent {
            account_id: account,
            instance_id: id.clone(),
            data: EventData::MessageFailed(MessageFailed {
                queue_id: QueueId(queue_id as u64),
                to,
                error: REASON.into(),
                attempts: attempts as u32,
            }),
        };
        insert_event_for(&mut tx, account, event).await?;
    }
    tx.commit().await?;
    Ok(true)
}

pub(super) async fn set_instance_status(
    store: &SqliteStore,
    account: AccountId,
    id: &InstanceId,
    status: InstanceStatus,
    phone: Option<&str>,
    event: Option<NewEvent>,
) -> StoreResult<bool> {
    // IMMEDIATE: this reads before it writes (see `insert_batch`).
    let mut tx = store.write.begin_with("BEGIN IMMEDIATE").await?;
    let before: Option<String> =
        sqlx::query_scalar("SELECT status FROM instances WHERE account_id = ? AND instance_id = ?")
            .bind(account)
            .bind(id.as_str())
            .fetch_optional(&mut *tx)
            .await?;
    let Some(before) = before else {
        return Ok(false);
    };
    // The same state again (a second scan, a double click) raises no second event.
    let event = event.filter(|_| before != status.as_str());
    let changed = sqlx::query(
        "UPDATE instances SET status = ?, phone = COALESCE(?, phone) WHERE account_id = ? AND instance_id = ?",
    )
    .bind(status.as_str())
    .bind(phone)
    .bind(account)
    .bind(id.as_str())
    .execute(&mut *tx)
    .await?
    .rows_affected();
    if changed == 0 {
        return Ok(false);
    }
    if let Some(event) = event {
        insert_event_for(&mut tx, account, event).await?;
    }
    commit_answering(tx, &true).await?;
    Ok(true)
}

pub(super) async fn list_groups(
    store: &SqliteStore,
    account: AccountId,
    id: &InstanceId,
) -> StoreResult<Vec<Group>> {
    sqlx::query(
        "SELECT group_id, name, participants FROM groups WHERE account_id = ? AND instance_id = ?
         ORDER BY name_lower, group_id",
    )
    .bind(account)
    .bind(id.as_str())
    .fetch_all(&store.read)
    .await?
    .iter()
    .map(group_row)
    .collect()
}

pub(super) async fn list_groups_page(
    store: &SqliteStore,
    account: AccountId,
    id: &InstanceId,
    page: &PageRequest,
) -> StoreResult<Page<Group>> {
    let (name, group) = match &page.after {
        Some(After::Name(name, group)) => (Some(name.as_str()), group.as_str()),
        _ => (None, ""),
    };
    let rows = sqlx::query(
        "SELECT group_id, name, name_lower, participants FROM groups
         WHERE account_id = ? AND instance_id = ? AND (? IS NULL OR (name_lower, group_id) > (?, ?))
         ORDER BY name_lower, group_id LIMIT ?",
    )
    .bind(account)
    .bind(id.as_str())
    .bind(name)
    .bind(name)
    .bind(group)
    .bind(page.fetch())
    .fetch_all(&store.read)
    .await?;
    Page::from_rows(
        page,
        rows,
        |r| {
            After::Name(
                r.try_get("name_lower").unwrap_or_default(),
                r.try_get("group_id").unwrap_or_default(),
            )
        },
        |r| group_row(&r),
    )
}

fn group_row(row: &sqlx::sqlite::SqliteRow) -> StoreResult<Group> {
    Ok(Group {
        id: sevenoways_sdk::GroupId::new(row.try_get::<&str, _>("group_id")?)
            .map_err(|e| corrupt("group id", e))?,
        name: row.try_get("name")?,
        participants: row.try_get::<i64, _>("participants")? as u32,
    })
}

pub(super) async fn upsert_group(
    store: &SqliteStore,
    account: AccountId,
    id: &InstanceId,
    group: &Group,
    max: u32,
) -> StoreResult<()> {
    // IMMEDIATE: a new group is counted against the quota and inserted under one write
    // lock; renaming one the instance has is always allowed.
    let mut tx = store.write.begin_with("BEGIN IMMEDIATE").await?;
    let known: bool = sqlx::query_scalar(
        "SELECT EXISTS(SELECT 1 FROM groups WHERE account_id = ? AND instance_id = ? AND group_id = ?)",
    )
    .bind(account)
    .bind(id.as_str())
    .bind(group.id.as_str())
    .fetch_one(&mut *tx)
    .await?;
    if !known {
        check_quota(&mut tx, Resource::GroupsPerInstance, max, account, Some(id)).await?;
    }
    sqlx::query(
        "INSERT INTO groups (account_id, instance_id, group_id, name, name_lower, participants)
         VALUES (?, ?, ?, ?, ?, ?)
         ON CONFLICT (account_id, instance_id, group_id)
         DO UPDATE SET name = excluded.name, name_lower = excluded.name_lower",
    )
    .bind(account)
    .bind(id.as_str())
    .bind(group.id.as_str())
    .bind(&group.name)
    .bind(group.name.to_lowercase())
    .bind(group.participants as i64)
    .execute(&mut *tx)
    .await?;
    commit_answering(tx, &()).await
}

pub(super) async fn save_channel(
    store: &SqliteStore,
    account: AccountId,
    c: &Channel,
    max: u32,
) -> StoreResult<Channel> {
    // IMMEDIATE: a new channel is counted against the quota and inserted under one write
    // lock; refreshing a saved one is always allowed.
    let mut tx = store.write.begin_with("BEGIN IMMEDIATE").await?;
    let saved: bool = sqlx::query_scalar(
        "SELECT EXISTS(SELECT 1 FROM channels WHERE account_id = ? AND instance_id = ? AND jid = ?)",
    )
    .bind(account)
    .bind(c.instance_id.as_str())
    .bind(c.channel_jid.as_str())
    .fetch_one(&mut *tx)
    .await?;
    if !saved {
        check_quota(&mut tx, Resource::Channels, max, account, None).await?;
    }
    let row = sqlx::query(
        "INSERT INTO channels (id, account_id, instance_id, jid, name, description, subscribers, is_admin,
                               invite_link, created_at)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
         ON CONFLICT (account_id, instance_id, jid) DO UPDATE SET
            name = excluded.name, description = excluded.description,
            subscribers = excluded.subscribers, is_admin = excluded.is_admin,
            invite_link = excluded.invite_link
         RETURNING *",
    )
    .bind(c.id.as_str())
    .bind(account)
    .bind(c.instance_id.as_str())
    .bind(c.channel_jid.as_str())
    .bind(&c.name)
    .bind(&c.description)
    .bind(c.subscribers as i64)
    .bind(c.is_admin)
    .bind(&c.invite_link)
    .bind(millis(Utc::now()))
    .fetch_one(&mut *tx)
    .await?;
    let channel = channel_row(&row)?;
    commit_answering(tx, &channel).await?;
    Ok(channel)
}

pub(super) async fn record_outbox(
    store: &SqliteStore,
    m: &OutboxMessage,
    account: AccountId,
) -> StoreResult<()> {
    sqlx::query(
        "INSERT OR IGNORE INTO outbox (queue_id, account_id, instance_id, recipient, content, sent_at)
         VALUES (?, ?, ?, ?, ?, ?)",
    )
    .bind(m.queue_id.0 as i64)
    .bind(account)
    .bind(m.instance_id.as_str())
    .bind(&m.to)
    .bind(serde_json::to_string(&m.content).expect("content serialises"))
    .bind(millis(m.sent_at))
    .execute(&mut *store.write.conn().await?)
    .await?;
    Ok(())
}

pub(super) async fn list_outbox(
    store: &SqliteStore,
    account: AccountId,
    id: &InstanceId,
    page: &PageRequest,
) -> StoreResult<Page<OutboxMessage>> {
    let after = match page.after {
        Some(After::Seq(seq)) => seq,
        _ => i64::MIN,
    };
    let rows = sqlx::query(
        "SELECT * FROM outbox WHERE account_id = ? AND instance_id = ? AND queue_id > ?
         ORDER BY queue_id LIMIT ?",
    )
    .bind(account)
    .bind(id.as_str())
    .bind(after)
    .bind(page.fetch())
    .fetch_all(&store.read)
    .await?;
    Page::from_rows(
        page,
        rows,
        |r| After::Seq(r.try_get("queue_id").unwrap_or_default()),
        |row| {
            Ok(OutboxMessage {
                queue_id: QueueId(row.try_get::<i64, _>("queue_id")? as u64),
                instance_id: instance_id(row.try_get("instance_id")?)?,
                to: row.try_get("recipient")?,
                content: content(row.try_get::<&str, _>("content")?)?,
                sent_at: from_millis(row.try_get("sent_at")?),
            })
        },
    )
}
