//! Accounts' resources on Postgres: instances, groups, channels and the sandbox outbox,
//! as in the SQLite store's module of the same name.
//!
//! Where SQLite counted a quota and inserted under `BEGIN IMMEDIATE`, these take the
//! account's advisory lock ([`lock_account`]) before the first read the write depends on
//! (the "exists already" check as well as the count), so two replicas creating the same
//! row, or the last one the quota allows, are ordered instead of racing.

use chrono::Utc;
use sevenoways_sdk::models::channels::Channel;
use sevenoways_sdk::models::groups::Group;
use sevenoways_sdk::models::instances::{Instance, InstanceStatus};
use sevenoways_sdk::models::sandbox::OutboxMessage;
use sevenoways_sdk::models::webhooks::{EventData, InstanceEvent, MessageFailed};
use sevenoways_sdk::{InstanceId, QueueId};
use sqlx::Row;
use sqlx::postgres::PgRow;

use super::idempotency::commit_answering;
use super::webhooks::insert_event_for;
use super::*;
use crate::engine::EngineKind;
use crate::time::stored;

/// The instance columns every instance query reads (`engine_secret*` stay in the table).
const INSTANCE_COLUMNS: &str =
    "account_id, instance_id, label, status, phone, created_at, engine, qr_ref, engine_ref";

pub(super) async fn list_instances(
    store: &PgStore,
    account: AccountId,
    page: &PageRequest,
) -> StoreResult<Page<Instance>> {
    store
        .page_by_created(
            ("instances", INSTANCE_COLUMNS, "instance_id"),
            account,
            page,
            instance_row,
        )
        .await
}

/// The account's instance `id`, as the row helpers read it.
async fn instance(
    store: &PgStore,
    account: AccountId,
    id: &InstanceId,
) -> StoreResult<Option<PgRow>> {
    Ok(sqlx::query(&format!(
        "SELECT {INSTANCE_COLUMNS} FROM instances WHERE account_id = $1 AND instance_id = $2"
    ))
    .bind(account)
    .bind(id.as_str())
    .fetch_optional(&store.pool)
    .await?)
}

pub(super) async fn get_instance(
    store: &PgStore,
    account: AccountId,
    id: &InstanceId,
) -> StoreResult<Option<Instance>> {
    instance(store, account, id)
        .await?
        .as_ref()
        .map(instance_row)
        .transpose()
}

pub(super) async fn instance_record(
    store: &PgStore,
    account: AccountId,
    id: &InstanceId,
) -> StoreResult<Option<InstanceRecord>> {
    instance(store, account, id)
        .await?
        .as_ref()
        .map(instance_record_row)
        .transpose()
}

pub(super) async fn instance_by_qr_ref(
    store: &PgStore,
    id: &InstanceId,
    qr_ref: &str,
) -> StoreResult<Option<InstanceRecord>> {
    sqlx::query(&format!(
        "SELECT {INSTANCE_COLUMNS} FROM instances WHERE qr_ref = $1 AND instance_id = $2"
    ))
    .bind(qr_ref)
    .bind(id.as_str())
    .fetch_optional(&store.pool)
    .await?
    .as_ref()
    .map(instance_record_row)
    .transpose()
}

pub(super) async fn create_instance(
    store: &PgStore,
    account: AccountId,
    id: &InstanceId,
    label: &str,
    engine: EngineKind,
    max: u32,
) -> StoreResult<InstanceRecord> {
    let now = Utc::now();
    let qr_ref = crate::ids::random_hex(16);
    let mut tx = store.pool.begin().await?;
    // Before the check, so a second create of the same id (another replica) waits and
    // then answers 409 rather than failing on the primary key.
    lock_account(&mut tx, account).await?;
    let taken: bool = sqlx::query_scalar(
        "SELECT EXISTS(SELECT 1 FROM instances WHERE account_id = $1 AND instance_id = $2)",
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
         VALUES ($1, $2, $3, 'pairing', $4, $5, $6)",
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
    store: &PgStore,
    account: AccountId,
    id: &InstanceId,
) -> StoreResult<bool> {
    let now = millis(Utc::now());
    let mut tx = store.pool.begin().await?;
    // A send batch on another replica (admitted under this lock) then either commits
    // before, and its entries are failed below, or after, as behind SQLite's one writer.
    lock_account(&mut tx, account).await?;
    let deleted: Option<(String, Option<String>)> = sqlx::query_as(
        "DELETE FROM instances WHERE account_id = $1 AND instance_id = $2
         RETURNING status, phone",
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
            "DELETE FROM {table} WHERE account_id = $1 AND instance_id = $2"
        ))
        .bind(account)
        .bind(id.as_str())
        .execute(&mut *tx)
        .await?;
    }
    // Accepted sends end as failed, with the reason and an event each (as on SQLite).
    const REASON: &str = "instance deleted before the message was sent";
    let failed: Vec<(i64, String, i64)> = sqlx::query_as(
        "UPDATE queue SET status = 'failed', error = $1, lease_until = NULL, updated_at = $2
         WHERE account_id = $3 AND instance_id = $4 AND status IN ('queued', 'sending')
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
    store: &PgStore,
    account: AccountId,
    id: &InstanceId,
    status: InstanceStatus,
    phone: Option<&str>,
    event: Option<NewEvent>,
) -> StoreResult<bool> {
    let mut tx = store.pool.begin().await?;
    // The row lock makes "was it already in this state" and the change one step: of two
    // replicas applying the same change, the second sees it done and raises no event.
    let before: Option<String> = sqlx::query_scalar(
        "SELECT status FROM instances WHERE account_id = $1 AND instance_id = $2 FOR UPDATE",
    )
    .bind(account)
    .bind(id.as_str())
    .fetch_optional(&mut *tx)
    .await?;
    let Some(before) = before else {
        return Ok(false);
    };
    let event = event.filter(|_| before != status.as_str());
    let changed = sqlx::query(
        "UPDATE instances SET status = $1, phone = COALESCE($2, phone)
         WHERE account_id = $3 AND instance_id = $4",
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

// Groups sort as SQLite sorts text, byte by byte (`COLLATE "C"`), whatever the database's
// collation: the order and the page cursors are then the same on both backends.

pub(super) async fn list_groups(
    store: &PgStore,
    account: AccountId,
    id: &InstanceId,
) -> StoreResult<Vec<Group>> {
    sqlx::query(
        r#"SELECT group_id, name, participants FROM groups
           WHERE account_id = $1 AND instance_id = $2
           ORDER BY name_lower COLLATE "C", group_id COLLATE "C""#,
    )
    .bind(account)
    .bind(id.as_str())
    .fetch_all(&store.pool)
    .await?
    .iter()
    .map(group_row)
    .collect()
}

pub(super) async fn list_groups_page(
    store: &PgStore,
    account: AccountId,
    id: &InstanceId,
    page: &PageRequest,
) -> StoreResult<Page<Group>> {
    let (name, group) = match &page.after {
        Some(After::Name(name, group)) => (Some(name.as_str()), group.as_str()),
        _ => (None, ""),
    };
    let rows = sqlx::query(
        r#"SELECT group_id, name, name_lower, participants FROM groups
           WHERE account_id = $1 AND instance_id = $2
             AND ($3::TEXT IS NULL
                  OR (name_lower COLLATE "C", group_id COLLATE "C") > ($3::TEXT, $4::TEXT))
           ORDER BY name_lower COLLATE "C", group_id COLLATE "C" LIMIT $5"#,
    )
    .bind(account)
    .bind(id.as_str())
    .bind(name)
    .bind(group)
    .bind(page.fetch())
    .fetch_all(&store.pool)
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

fn group_row(row: &PgRow) -> StoreResult<Group> {
    let participants: i64 = row.try_get("participants")?;
    Ok(Group {
        id: sevenoways_sdk::GroupId::new(row.try_get::<&str, _>("group_id")?)
            .map_err(|e| corrupt("group id", e))?,
        name: row.try_get("name")?,
        participants: u32::try_from(participants).map_err(|e| corrupt("group participants", e))?,
    })
}

pub(super) async fn upsert_group(
    store: &PgStore,
    account: AccountId,
    id: &InstanceId,
    group: &Group,
    max: u32,
) -> StoreResult<()> {
    let mut tx = store.pool.begin().await?;
    if max > 0 {
        // Before "is it new": a group another replica is adding right now is then
        // known here, and renaming it is not counted against the quota.
        lock_account(&mut tx, account).await?;
    }
    let known: bool = sqlx::query_scalar(
        "SELECT EXISTS(SELECT 1 FROM groups
                       WHERE account_id = $1 AND instance_id = $2 AND group_id = $3)",
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
         VALUES ($1, $2, $3, $4, $5, $6)
         ON CONFLICT (account_id, instance_id, group_id)
         DO UPDATE SET name = excluded.name, name_lower = excluded.name_lower",
    )
    .bind(account)
    .bind(id.as_str())
    .bind(group.id.as_str())
    .bind(&group.name)
    .bind(group.name.to_lowercase())
    .bind(i64::from(group.participants))
    .execute(&mut *tx)
    .await?;
    commit_answering(tx, &()).await
}

pub(super) async fn list_channels(
    store: &PgStore,
    account: AccountId,
    page: &PageRequest,
) -> StoreResult<Page<Channel>> {
    store
        .page_by_created(("channels", "*", "id"), account, page, channel_row)
        .await
}

pub(super) async fn channel_by_jid(
    store: &PgStore,
    account: AccountId,
    instance: &InstanceId,
    jid: &sevenoways_sdk::NewsletterJid,
) -> StoreResult<Option<Channel>> {
    sqlx::query("SELECT * FROM channels WHERE account_id = $1 AND instance_id = $2 AND jid = $3")
        .bind(account)
        .bind(instance.as_str())
        .bind(jid.as_str())
        .fetch_optional(&store.pool)
        .await?
        .as_ref()
        .map(channel_row)
        .transpose()
}

pub(super) async fn save_channel(
    store: &PgStore,
    account: AccountId,
    c: &Channel,
    max: u32,
) -> StoreResult<Channel> {
    let mut tx = store.pool.begin().await?;
    if max > 0 {
        // As in `upsert_group`: a channel being saved elsewhere right now counts as saved.
        lock_account(&mut tx, account).await?;
    }
    let saved: bool = sqlx::query_scalar(
        "SELECT EXISTS(SELECT 1 FROM channels
                       WHERE account_id = $1 AND instance_id = $2 AND jid = $3)",
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
        "INSERT INTO channels (id, account_id, instance_id, jid, name, description, subscribers,
                               is_admin, invite_link, created_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)
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
    .bind(i64::try_from(c.subscribers).unwrap_or(i64::MAX))
    .bind(i64::from(c.is_admin))
    .bind(&c.invite_link)
    .bind(millis(Utc::now()))
    .fetch_one(&mut *tx)
    .await?;
    let channel = channel_row(&row)?;
    commit_answering(tx, &channel).await?;
    Ok(channel)
}

pub(super) async fn record_outbox(
    store: &PgStore,
    m: &OutboxMessage,
    account: AccountId,
) -> StoreResult<()> {
    let content = serde_json::to_string(&m.content).map_err(|e| corrupt("outbox content", e))?;
    sqlx::query(
        "INSERT INTO outbox (queue_id, account_id, instance_id, recipient, content, sent_at)
         VALUES ($1, $2, $3, $4, $5, $6)
         ON CONFLICT DO NOTHING",
    )
    .bind(m.queue_id.0 as i64)
    .bind(account)
    .bind(m.instance_id.as_str())
    .bind(&m.to)
    .bind(content)
    .bind(millis(m.sent_at))
    .execute(&store.pool)
    .await?;
    Ok(())
}

pub(super) async fn list_outbox(
    store: &PgStore,
    account: AccountId,
    id: &InstanceId,
    page: &PageRequest,
) -> StoreResult<Page<OutboxMessage>> {
    let after = match page.after {
        Some(After::Seq(seq)) => seq,
        _ => i64::MIN,
    };
    let rows = sqlx::query(
        "SELECT * FROM outbox WHERE account_id = $1 AND instance_id = $2 AND queue_id > $3
         ORDER BY queue_id LIMIT $4",
    )
    .bind(account)
    .bind(id.as_str())
    .bind(after)
    .bind(page.fetch())
    .fetch_all(&store.pool)
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

#[cfg(test)]
mod tests {
    use super::super::ops::testing;
    use super::*;
    use sevenoways_sdk::GroupId;

    fn id(s: &str) -> InstanceId {
        InstanceId::new(s).expect("an instance id")
    }

    #[tokio::test]
    async fn racing_creates_keep_the_quota_and_one_id_once() {
        let Some((db, store)) = testing::store().await else {
            return;
        };
        let (account, _) = testing::account(&store).await;
        // Separate pools, as separate replicas would have.
        let mut replicas = vec![store.clone()];
        for _ in 0..2 {
            replicas.push(db.replica().await);
        }
        let mut creates = tokio::task::JoinSet::new();
        for n in 0..9 {
            let r = replicas[n % replicas.len()].clone();
            creates.spawn(async move {
                r.create_instance(account, &id(&format!("n{n}")), "x", EngineKind::Sandbox, 3)
                    .await
            });
        }
        let results = creates.join_all().await;
        assert_eq!(results.iter().filter(|r| r.is_ok()).count(), 3);
        assert!(
            results
                .iter()
                .filter_map(|r| r.as_ref().err())
                .all(|e| matches!(e, StoreError::QuotaExceeded(_)))
        );
        assert_eq!(
            store
                .count_owned(account, Resource::Instances)
                .await
                .expect("count"),
            3
        );

        let (account, _) = testing::account(&store).await;
        let mut creates = tokio::task::JoinSet::new();
        for n in 0..6 {
            let r = replicas[n % replicas.len()].clone();
            creates.spawn(async move {
                r.create_instance(account, &id("same"), "x", EngineKind::Sandbox, 0)
                    .await
            });
        }
        let results = creates.join_all().await;
        assert_eq!(results.iter().filter(|r| r.is_ok()).count(), 1);
        assert!(
            results
                .iter()
                .filter_map(|r| r.as_ref().err())
                .all(|e| matches!(e, StoreError::Conflict(_)))
        );
    }

    #[tokio::test]
    async fn an_instance_reads_back_and_its_deletion_fails_its_unsent_messages() {
        let Some((_db, store)) = testing::store().await else {
            return;
        };
        let (account, _) = testing::account(&store).await;
        let n1 = id("n1");
        let record = store
            .create_instance(account, &n1, "Sales", EngineKind::Sandbox, 0)
            .await
            .expect("created");
        let by_qr = store
            .instance_by_qr_ref(&n1, &record.qr_ref)
            .await
            .expect("read")
            .expect("found by its QR reference");
        assert_eq!(by_qr.instance, record.instance);
        assert_eq!(
            store.get_instance(account, &n1).await.expect("read"),
            Some(record.instance.clone())
        );
        let page = store
            .list_instances(account, &PageRequest::first(10))
            .await
            .expect("list");
        assert_eq!(page.items, vec![record.instance.clone()]);

        // Online, twice: one event.
        for _ in 0..2 {
            let event = NewEvent {
                account_id: account,
                instance_id: n1.clone(),
                data: EventData::InstanceOnline(InstanceEvent {
                    status: "online".into(),
                    phone: Some("+15550001".into()),
                }),
            };
            assert!(
                store
                    .set_instance_status(
                        account,
                        &n1,
                        InstanceStatus::Online,
                        Some("+15550001"),
                        Some(event)
                    )
                    .await
                    .expect("set")
            );
        }
        let instance = store
            .get_instance(account, &n1)
            .await
            .expect("read")
            .expect("there");
        assert_eq!(instance.status, InstanceStatus::Online);
        assert_eq!(instance.phone.as_deref(), Some("+15550001"));

        let now = millis(Utc::now());
        for to in ["+15550002", "+15550003"] {
            sqlx::query(
                "INSERT INTO queue (account_id, instance_id, recipient, recipient_kind, content,
                                    status, next_attempt_at, created_at, updated_at)
                 VALUES ($1, 'n1', $2, 'phone', '{\"kind\":\"text\",\"message\":\"hi\"}', 'queued',
                         $3, $3, $3)",
            )
            .bind(account)
            .bind(to)
            .bind(now)
            .execute(&store.pool)
            .await
            .expect("queued");
        }
        assert!(store.delete_instance(account, &n1).await.expect("deleted"));
        assert!(!store.delete_instance(account, &n1).await.expect("answers"));
        let failed: i64 = sqlx::query_scalar(
            "SELECT COUNT(*) FROM queue WHERE account_id = $1 AND status = 'failed'",
        )
        .bind(account)
        .fetch_one(&store.pool)
        .await
        .expect("count");
        assert_eq!(failed, 2);
        let events: Vec<String> =
            sqlx::query_scalar("SELECT event_type FROM events WHERE account_id = $1 ORDER BY seq")
                .bind(account)
                .fetch_all(&store.pool)
                .await
                .expect("events");
        assert_eq!(
            events,
            [
                "instance.online",
                "instance.offline",
                "message.failed",
                "message.failed"
            ]
        );
        assert!(
            store
                .get_instance(account, &n1)
                .await
                .expect("read")
                .is_none()
        );
    }

    #[tokio::test]
    async fn groups_page_in_sqlite_order_and_count_against_the_quota_when_new() {
        let Some((_db, store)) = testing::store().await else {
            return;
        };
        let (account, _) = testing::account(&store).await;
        let n1 = id("n1");
        let names = ["beta", "Alpha", "_under", "Zed", "alpha", "émile", "10 ten"];
        for (i, name) in names.iter().enumerate() {
            let group = Group {
                id: GroupId::new(format!("12036300000000{i}@g.us")).expect("a group id"),
                name: (*name).into(),
                participants: 3,
            };
            store
                .upsert_group(account, &n1, &group, 7)
                .await
                .expect("within the quota");
        }
        let extra = Group {
            id: GroupId::new("120363999999999@g.us").expect("a group id"),
            name: "one too many".into(),
            participants: 1,
        };
        assert!(matches!(
            store.upsert_group(account, &n1, &extra, 7).await,
            Err(StoreError::QuotaExceeded(_))
        ));
        // A known group is renamed whatever the quota.
        let renamed = Group {
            id: GroupId::new("120363000000000@g.us").expect("a group id"),
            name: "Beta renamed".into(),
            participants: 3,
        };
        store
            .upsert_group(account, &n1, &renamed, 7)
            .await
            .expect("a rename");

        let all = store.list_groups(account, &n1).await.expect("list");
        let mut expected: Vec<(String, String)> = all
            .iter()
            .map(|g| (g.name.to_lowercase(), g.id.as_str().to_owned()))
            .collect();
        expected.sort(); // Rust compares strings byte by byte, as SQLite does.
        let listed: Vec<(String, String)> = all
            .iter()
            .map(|g| (g.name.to_lowercase(), g.id.as_str().to_owned()))
            .collect();
        assert_eq!(listed, expected);

        let mut paged = Vec::new();
        let mut page = PageRequest::first(2);
        loop {
            let p = store
                .list_groups_page(account, &n1, &page)
                .await
                .expect("a page");
            paged.extend(p.items);
            match p.next {
                Some(after) => page.after = Some(after),
                None => break,
            }
        }
        assert_eq!(paged, all);
    }

    #[tokio::test]
    async fn a_channel_saved_twice_is_one_row_and_the_outbox_pages() {
        let Some((_db, store)) = testing::store().await else {
            return;
        };
        let (account, _) = testing::account(&store).await;
        let channel = Channel {
            id: ChannelId::new(format!("ch_{}", crate::ids::random_hex(6))).expect("an id"),
            channel_jid: sevenoways_sdk::NewsletterJid::new("120363111@newsletter").expect("a jid"),
            name: "News".into(),
            description: "d".into(),
            subscribers: 10,
            is_admin: true,
            invite_link: "https://whatsapp.com/channel/x".into(),
            instance_id: id("n1"),
        };
        let saved = store
            .save_channel(account, &channel, 1)
            .await
            .expect("saved");
        assert_eq!(saved, channel);
        let again = Channel {
            subscribers: 11,
            id: ChannelId::new("ch_other").expect("an id"),
            ..channel.clone()
        };
        let refreshed = store
            .save_channel(account, &again, 1)
            .await
            .expect("a refresh is not a new channel");
        assert_eq!(refreshed.id, channel.id);
        assert_eq!(refreshed.subscribers, 11);
        assert_eq!(
            store
                .channel_by_jid(account, &id("n1"), &channel.channel_jid)
                .await
                .expect("read")
                .map(|c| c.id),
            Some(channel.id.clone())
        );
        let listed = store
            .list_channels(account, &PageRequest::first(5))
            .await
            .expect("list");
        assert_eq!(listed.items.len(), 1);
        assert!(
            store
                .delete_channel(account, &channel.id)
                .await
                .expect("deleted")
        );

        for q in 1..=3u64 {
            let message = OutboxMessage {
                queue_id: QueueId(u64::from(account.0 as u32) * 1000 + q),
                instance_id: id("n1"),
                to: "+15550002".into(),
                content: serde_json::from_str(r#"{"kind":"text","message":"hi"}"#)
                    .expect("content"),
                sent_at: stored(Utc::now()),
            };
            store
                .record_outbox(&message, account)
                .await
                .expect("recorded");
            // Recording one again (a retried report) keeps one row.
            store
                .record_outbox(&message, account)
                .await
                .expect("recorded");
        }
        let first = store
            .list_outbox(account, &id("n1"), &PageRequest::first(2))
            .await
            .expect("a page");
        assert_eq!(first.items.len(), 2);
        let rest = store
            .list_outbox(
                account,
                &id("n1"),
                &PageRequest {
                    limit: 2,
                    after: first.next.clone(),
                },
            )
            .await
            .expect("a page");
        assert_eq!(rest.items.len(), 1);
        assert!(rest.next.is_none());
    }
}
