//! The embedded default: SQLite in WAL mode under the data directory.
//!
//! Reads go through a small pool; writes through one connection (SQLite has one writer
//! anyway). Queue inserts, the hot path, go through a group-commit task: concurrent sends
//! are written in one transaction and each caller is answered once that commit is on
//! disk (`synchronous = FULL`), so a reply always means durable.

use std::path::Path;
use std::str::FromStr;
use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, TimeZone, Utc};
use sevenoways_sdk::models::channels::Channel;
use sevenoways_sdk::models::groups::Group;
use sevenoways_sdk::models::instances::{Instance, InstanceStatus};
use sevenoways_sdk::models::queue::{QueueEntry, QueueStatus};
use sevenoways_sdk::models::sandbox::OutboxMessage;
use sevenoways_sdk::models::schedules::{CreateScheduleRequest, Schedule};
use sevenoways_sdk::models::webhooks::{Event, EventData, MessageEvent};
use sevenoways_sdk::{ChannelId, Content, InstanceId, NewsletterJid, QueueId, ScheduleId};
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};
use sqlx::{Row, SqliteConnection, SqlitePool};
use tokio::sync::{mpsc, oneshot};

use super::*;

static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("./migrations/sqlite");

/// A [`Store`] on an SQLite file.
#[derive(Clone)]
pub struct SqliteStore {
    read: SqlitePool,
    write: SqlitePool,
    enqueue_tx: mpsc::Sender<EnqueueJob>,
}

type EnqueueJob = (Vec<NewEntry>, oneshot::Sender<StoreResult<Vec<QueueId>>>);

/// Most entries one group commit writes; enough to amortise the fsync, small enough to
/// keep each transaction short.
const MAX_BATCH_ENTRIES: usize = 2048;

impl SqliteStore {
    /// Opens (creating if needed) `dir/sevenoways.db` and runs the migrations.
    pub async fn open(dir: &Path) -> StoreResult<Self> {
        std::fs::create_dir_all(dir).map_err(|e| {
            StoreError::Corrupt(format!("cannot create data dir {}: {e}", dir.display()))
        })?;
        let options = SqliteConnectOptions::new()
            .filename(dir.join("sevenoways.db"))
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Full)
            .busy_timeout(Duration::from_secs(10))
            .foreign_keys(false);
        let write = SqlitePoolOptions::new()
            .max_connections(1)
            .connect_with(options.clone())
            .await?;
        MIGRATOR
            .run(&write)
            .await
            .map_err(|e| StoreError::Database(e.into()))?;
        let read = SqlitePoolOptions::new()
            .max_connections(4)
            .connect_with(options.read_only(true))
            .await?;
        let (enqueue_tx, rx) = mpsc::channel(4096);
        let conn = write.acquire().await?.detach();
        tokio::spawn(group_commit(conn, rx));
        Ok(Self {
            read,
            write,
            enqueue_tx,
        })
    }
}

/// The group-commit loop: take every job waiting, write them in one transaction, answer
/// each. Runs on its own connection so queue writes never wait behind a slow request.
async fn group_commit(mut conn: SqliteConnection, mut rx: mpsc::Receiver<EnqueueJob>) {
    let mut jobs: Vec<EnqueueJob> = Vec::new();
    while let Some(first) = rx.recv().await {
        let mut entries = first.0.len();
        jobs.push(first);
        while entries < MAX_BATCH_ENTRIES {
            match rx.try_recv() {
                Ok(job) => {
                    entries += job.0.len();
                    jobs.push(job);
                }
                Err(_) => break,
            }
        }
        match insert_batch(&mut conn, &jobs).await {
            Ok(mut ids) => {
                for (entries, reply) in jobs.drain(..).rev() {
                    let mine = ids.split_off(ids.len() - entries.len());
                    let _ = reply.send(Ok(mine));
                }
            }
            Err(e) => {
                let msg = e.to_string();
                for (_, reply) in jobs.drain(..) {
                    let _ = reply.send(Err(StoreError::Corrupt(format!(
                        "queue write failed: {msg}"
                    ))));
                }
            }
        }
    }
}

async fn insert_batch(
    conn: &mut SqliteConnection,
    jobs: &[EnqueueJob],
) -> Result<Vec<QueueId>, sqlx::Error> {
    let now = millis(Utc::now());
    let mut tx = sqlx::Connection::begin(conn).await?;
    let mut ids = Vec::with_capacity(jobs.iter().map(|j| j.0.len()).sum());
    for entry in jobs.iter().flat_map(|j| &j.0) {
        let content = serde_json::to_string(&entry.content).expect("content serialises");
        let id: i64 = sqlx::query_scalar(
            "INSERT INTO queue (account_id, instance_id, recipient, recipient_kind, content, status,
                                next_attempt_at, schedule_id, created_at, updated_at)
             VALUES (?, ?, ?, ?, ?, 'queued', ?, ?, ?, ?) RETURNING id",
        )
        .bind(entry.account_id)
        .bind(entry.instance_id.as_str())
        .bind(&entry.to)
        .bind(entry.kind.as_str())
        .bind(content)
        .bind(now)
        .bind(entry.schedule_id.as_ref().map(|s| s.as_str()))
        .bind(now)
        .bind(now)
        .fetch_one(&mut *tx)
        .await?;
        ids.push(QueueId(id as u64));
    }
    tx.commit().await?;
    Ok(ids)
}

pub(crate) fn millis(t: DateTime<Utc>) -> i64 {
    t.timestamp_millis()
}

pub(crate) fn from_millis(ms: i64) -> DateTime<Utc> {
    Utc.timestamp_millis_opt(ms).single().unwrap_or_default()
}

fn opt_time(ms: Option<i64>) -> Option<DateTime<Utc>> {
    ms.map(from_millis)
}

fn corrupt(what: &str, e: impl std::fmt::Display) -> StoreError {
    StoreError::Corrupt(format!("{what}: {e}"))
}

fn instance_id(s: String) -> StoreResult<InstanceId> {
    InstanceId::new(&s).map_err(|e| corrupt("instance id", e))
}

fn parse_status(s: &str) -> InstanceStatus {
    serde_json::from_value(serde_json::Value::String(s.to_owned()))
        .unwrap_or(InstanceStatus::Unknown)
}

fn instance_row(row: &sqlx::sqlite::SqliteRow) -> StoreResult<Instance> {
    Ok(Instance {
        instance_id: instance_id(row.try_get("instance_id")?)?,
        label: row.try_get("label")?,
        status: parse_status(row.try_get::<&str, _>("status")?),
        phone: row.try_get("phone")?,
        created_at: from_millis(row.try_get("created_at")?),
    })
}

fn channel_row(row: &sqlx::sqlite::SqliteRow) -> StoreResult<Channel> {
    Ok(Channel {
        id: ChannelId::new(row.try_get::<&str, _>("id")?).map_err(|e| corrupt("channel id", e))?,
        channel_jid: NewsletterJid::new(row.try_get::<&str, _>("jid")?)
            .map_err(|e| corrupt("jid", e))?,
        name: row.try_get("name")?,
        description: row.try_get("description")?,
        subscribers: row.try_get::<i64, _>("subscribers")? as u64,
        is_admin: row.try_get("is_admin")?,
        invite_link: row.try_get("invite_link")?,
        instance_id: instance_id(row.try_get("instance_id")?)?,
    })
}

fn content(raw: &str) -> StoreResult<Content> {
    serde_json::from_str(raw).map_err(|e| corrupt("queue content", e))
}

fn queue_status(s: &str) -> QueueStatus {
    serde_json::from_value(serde_json::Value::String(s.to_owned())).unwrap_or(QueueStatus::Unknown)
}

fn schedule_row(row: &sqlx::sqlite::SqliteRow) -> StoreResult<Schedule> {
    Ok(Schedule {
        id: ScheduleId::new(row.try_get::<&str, _>("id")?)
            .map_err(|e| corrupt("schedule id", e))?,
        spec: serde_json::from_str(row.try_get::<&str, _>("spec")?)
            .map_err(|e| corrupt("schedule spec", e))?,
        next_run_at: opt_time(row.try_get("next_run_at")?),
        last_run_at: opt_time(row.try_get("last_run_at")?),
        created_at: from_millis(row.try_get("created_at")?),
    })
}

/// Random id with a prefix: `evt_` + 24 hex digits.
pub(crate) fn random_id(prefix: &str) -> String {
    let mut bytes = [0u8; 12];
    getrandom::fill(&mut bytes).expect("OS randomness");
    format!("{prefix}{}", hex::encode(bytes))
}

#[async_trait]
impl Store for SqliteStore {
    async fn create_account(
        &self,
        name: &str,
        plan: &str,
        key_hash: &[u8; 32],
    ) -> StoreResult<AccountId> {
        let id = sqlx::query_scalar("INSERT INTO accounts (name, plan, key_hash, created_at) VALUES (?, ?, ?, ?) RETURNING id")
            .bind(name)
            .bind(plan)
            .bind(&key_hash[..])
            .bind(millis(Utc::now()))
            .fetch_one(&self.write)
            .await?;
        Ok(id)
    }

    async fn account_by_key_hash(&self, key_hash: &[u8; 32]) -> StoreResult<Option<Account>> {
        let row = sqlx::query("SELECT id, name, plan, key_hash FROM accounts WHERE key_hash = ?")
            .bind(&key_hash[..])
            .fetch_optional(&self.read)
            .await?;
        let Some(row) = row else { return Ok(None) };
        // The index lookup already matched; compare again in constant time so the answer
        // never depends on where two hashes differ.
        let stored: Vec<u8> = row.try_get("key_hash")?;
        if !bool::from(subtle::ConstantTimeEq::ct_eq(&stored[..], &key_hash[..])) {
            return Ok(None);
        }
        Ok(Some(Account {
            id: row.try_get("id")?,
            name: row.try_get("name")?,
            plan: row.try_get("plan")?,
        }))
    }

    async fn count_accounts(&self) -> StoreResult<i64> {
        Ok(sqlx::query_scalar("SELECT COUNT(*) FROM accounts")
            .fetch_one(&self.read)
            .await?)
    }

    async fn server_secret(&self) -> StoreResult<Vec<u8>> {
        let mut fresh = [0u8; 32];
        getrandom::fill(&mut fresh).expect("OS randomness");
        sqlx::query("INSERT OR IGNORE INTO meta (key, value) VALUES ('server_secret', ?)")
            .bind(&fresh[..])
            .execute(&self.write)
            .await?;
        Ok(
            sqlx::query_scalar("SELECT value FROM meta WHERE key = 'server_secret'")
                .fetch_one(&self.write)
                .await?,
        )
    }

    async fn list_instances(&self, account: AccountId) -> StoreResult<Vec<Instance>> {
        sqlx::query("SELECT * FROM instances WHERE account_id = ? ORDER BY created_at, instance_id")
            .bind(account)
            .fetch_all(&self.read)
            .await?
            .iter()
            .map(instance_row)
            .collect()
    }

    async fn get_instance(
        &self,
        account: AccountId,
        id: &InstanceId,
    ) -> StoreResult<Option<Instance>> {
        sqlx::query("SELECT * FROM instances WHERE account_id = ? AND instance_id = ?")
            .bind(account)
            .bind(id.as_str())
            .fetch_optional(&self.read)
            .await?
            .as_ref()
            .map(instance_row)
            .transpose()
    }

    async fn create_instance(
        &self,
        account: AccountId,
        id: &InstanceId,
        label: &str,
    ) -> StoreResult<Instance> {
        let now = Utc::now();
        let result = sqlx::query(
            "INSERT INTO instances (account_id, instance_id, label, status, created_at) VALUES (?, ?, ?, 'pairing', ?)
             ON CONFLICT DO NOTHING",
        )
        .bind(account)
        .bind(id.as_str())
        .bind(label)
        .bind(millis(now))
        .execute(&self.write)
        .await?;
        if result.rows_affected() == 0 {
            return Err(StoreError::Conflict(format!(
                "instance {id:?} already exists"
            )));
        }
        Ok(Instance {
            instance_id: id.clone(),
            label: label.to_owned(),
            status: InstanceStatus::Pairing,
            phone: None,
            created_at: from_millis(millis(now)),
        })
    }

    async fn delete_instance(&self, account: AccountId, id: &InstanceId) -> StoreResult<bool> {
        let now = millis(Utc::now());
        let mut tx = self.write.begin().await?;
        let deleted = sqlx::query("DELETE FROM instances WHERE account_id = ? AND instance_id = ?")
            .bind(account)
            .bind(id.as_str())
            .execute(&mut *tx)
            .await?
            .rows_affected();
        if deleted == 0 {
            return Ok(false);
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
        // Accepted sends are never silently dropped: they end as failed, with the reason.
        sqlx::query(
            "UPDATE queue SET status = 'failed', error = 'instance deleted before the message was sent',
                    lease_until = NULL, updated_at = ?
             WHERE account_id = ? AND instance_id = ? AND status IN ('queued', 'sending')",
        )
        .bind(now)
        .bind(account)
        .bind(id.as_str())
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(true)
    }

    async fn set_instance_status(
        &self,
        account: AccountId,
        id: &InstanceId,
        status: InstanceStatus,
        phone: Option<&str>,
        event: Option<NewEvent>,
    ) -> StoreResult<bool> {
        let mut tx = self.write.begin().await?;
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
        tx.commit().await?;
        Ok(true)
    }

    async fn list_groups(&self, account: AccountId, id: &InstanceId) -> StoreResult<Vec<Group>> {
        sqlx::query(
            "SELECT group_id, name, participants FROM groups WHERE account_id = ? AND instance_id = ?
             ORDER BY name_lower, group_id",
        )
        .bind(account)
        .bind(id.as_str())
        .fetch_all(&self.read)
        .await?
        .iter()
        .map(|row| {
            Ok(Group {
                id: sevenoways_sdk::GroupId::new(row.try_get::<&str, _>("group_id")?)
                    .map_err(|e| corrupt("group id", e))?,
                name: row.try_get("name")?,
                participants: row.try_get::<i64, _>("participants")? as u32,
            })
        })
        .collect()
    }

    async fn upsert_group(
        &self,
        account: AccountId,
        id: &InstanceId,
        group: &Group,
    ) -> StoreResult<()> {
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
        .execute(&self.write)
        .await?;
        Ok(())
    }

    async fn list_channels(&self, account: AccountId) -> StoreResult<Vec<Channel>> {
        sqlx::query("SELECT * FROM channels WHERE account_id = ? ORDER BY created_at, id")
            .bind(account)
            .fetch_all(&self.read)
            .await?
            .iter()
            .map(channel_row)
            .collect()
    }

    async fn save_channel(&self, account: AccountId, c: &Channel) -> StoreResult<Channel> {
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
        .fetch_one(&self.write)
        .await?;
        channel_row(&row)
    }

    async fn delete_channel(&self, account: AccountId, id: &ChannelId) -> StoreResult<bool> {
        Ok(
            sqlx::query("DELETE FROM channels WHERE account_id = ? AND id = ?")
                .bind(account)
                .bind(id.as_str())
                .execute(&self.write)
                .await?
                .rows_affected()
                > 0,
        )
    }

    async fn channel_by_jid(
        &self,
        account: AccountId,
        instance: &InstanceId,
        jid: &NewsletterJid,
    ) -> StoreResult<Option<Channel>> {
        sqlx::query("SELECT * FROM channels WHERE account_id = ? AND instance_id = ? AND jid = ?")
            .bind(account)
            .bind(instance.as_str())
            .bind(jid.as_str())
            .fetch_optional(&self.read)
            .await?
            .as_ref()
            .map(channel_row)
            .transpose()
    }

    async fn enqueue(&self, entries: Vec<NewEntry>) -> StoreResult<Vec<QueueId>> {
        if entries.is_empty() {
            return Ok(Vec::new());
        }
        let (reply, rx) = oneshot::channel();
        self.enqueue_tx
            .send((entries, reply))
            .await
            .map_err(|_| StoreError::Corrupt("queue writer stopped".into()))?;
        rx.await
            .map_err(|_| StoreError::Corrupt("queue writer stopped".into()))?
    }

    async fn get_entry(&self, account: AccountId, id: QueueId) -> StoreResult<Option<QueueEntry>> {
        let Ok(raw_id) = i64::try_from(id.0) else {
            return Ok(None);
        };
        let row = sqlx::query("SELECT * FROM queue WHERE account_id = ? AND id = ?")
            .bind(account)
            .bind(raw_id)
            .fetch_optional(&self.read)
            .await?;
        let Some(row) = row else { return Ok(None) };
        Ok(Some(QueueEntry {
            queue_id: id,
            instance_id: instance_id(row.try_get("instance_id")?)?,
            to: row.try_get("recipient")?,
            status: queue_status(row.try_get::<&str, _>("status")?),
            attempts: row.try_get::<i64, _>("attempts")? as u32,
            error: row.try_get("error")?,
            content: content(row.try_get::<&str, _>("content")?)?,
            created_at: from_millis(row.try_get("created_at")?),
            updated_at: from_millis(row.try_get("updated_at")?),
            sent_at: opt_time(row.try_get("sent_at")?),
            delivered_at: opt_time(row.try_get("delivered_at")?),
            read_at: opt_time(row.try_get("read_at")?),
        }))
    }

    async fn claim(
        &self,
        now: DateTime<Utc>,
        lease_until: DateTime<Utc>,
        pacing: Pacing,
        limit: u32,
    ) -> StoreResult<Vec<Claimed>> {
        let now_ms = millis(now);
        let mut tx = self.write.begin().await?;
        // Expired leases (a worker died mid-send) are due again.
        sqlx::query("UPDATE queue SET status = 'queued', lease_until = NULL WHERE status = 'sending' AND lease_until < ?")
            .bind(now_ms)
            .execute(&mut *tx)
            .await?;
        // The oldest due entry of each number whose pacing slot is free.
        let rows = sqlx::query(
            "UPDATE queue SET status = 'sending', lease_until = ?, attempts = attempts + 1, updated_at = ?
             WHERE id IN (
                SELECT MIN(q.id) FROM queue q
                JOIN instances i ON i.account_id = q.account_id AND i.instance_id = q.instance_id
                WHERE q.status = 'queued' AND q.next_attempt_at <= ? AND i.next_send_at <= ?
                GROUP BY q.account_id, q.instance_id
                LIMIT ?)
             RETURNING id, account_id, instance_id, recipient, recipient_kind, content, attempts",
        )
        .bind(millis(lease_until))
        .bind(now_ms)
        .bind(now_ms)
        .bind(now_ms)
        .bind(limit as i64)
        .fetch_all(&mut *tx)
        .await?;
        let mut claimed = Vec::with_capacity(rows.len());
        for row in &rows {
            let account_id: AccountId = row.try_get("account_id")?;
            let instance: String = row.try_get("instance_id")?;
            let gap = pacing.min_gap_ms
                + if pacing.jitter_ms > 0 {
                    fastrand::i64(0..=pacing.jitter_ms)
                } else {
                    0
                };
            sqlx::query(
                "UPDATE instances SET next_send_at = ? WHERE account_id = ? AND instance_id = ?",
            )
            .bind(now_ms + gap)
            .bind(account_id)
            .bind(&instance)
            .execute(&mut *tx)
            .await?;
            let kind: String = row.try_get("recipient_kind")?;
            claimed.push(Claimed {
                id: QueueId(row.try_get::<i64, _>("id")? as u64),
                account_id,
                instance_id: instance_id(instance)?,
                to: row.try_get("recipient")?,
                kind: RecipientKind::parse(&kind)
                    .ok_or_else(|| corrupt("recipient kind", &kind))?,
                content: content(row.try_get::<&str, _>("content")?)?,
                attempts: row.try_get::<i64, _>("attempts")? as u32,
            });
        }
        tx.commit().await?;
        Ok(claimed)
    }

    async fn mark_sent(&self, id: QueueId, now: DateTime<Utc>, event: NewEvent) -> StoreResult<()> {
        let mut tx = self.write.begin().await?;
        sqlx::query(
            "UPDATE queue SET status = 'sent', sent_at = ?, updated_at = ?, lease_until = NULL, error = NULL
             WHERE id = ?",
        )
        .bind(millis(now))
        .bind(millis(now))
        .bind(id.0 as i64)
        .execute(&mut *tx)
        .await?;
        insert_event_for(&mut tx, event.account_id, event).await?;
        tx.commit().await?;
        Ok(())
    }

    async fn mark_retry(&self, id: QueueId, at: DateTime<Utc>, reason: &str) -> StoreResult<()> {
        sqlx::query(
            "UPDATE queue SET status = 'queued', next_attempt_at = ?, error = ?, lease_until = NULL, updated_at = ?
             WHERE id = ?",
        )
        .bind(millis(at))
        .bind(reason)
        .bind(millis(Utc::now()))
        .bind(id.0 as i64)
        .execute(&self.write)
        .await?;
        Ok(())
    }

    async fn mark_failed(
        &self,
        id: QueueId,
        now: DateTime<Utc>,
        reason: &str,
        event: NewEvent,
    ) -> StoreResult<()> {
        let mut tx = self.write.begin().await?;
        sqlx::query("UPDATE queue SET status = 'failed', error = ?, lease_until = NULL, updated_at = ? WHERE id = ?")
            .bind(reason)
            .bind(millis(now))
            .bind(id.0 as i64)
            .execute(&mut *tx)
            .await?;
        insert_event_for(&mut tx, event.account_id, event).await?;
        tx.commit().await?;
        Ok(())
    }

    async fn release_leases(&self, ids: &[QueueId]) -> StoreResult<()> {
        let mut tx = self.write.begin().await?;
        for id in ids {
            sqlx::query(
                "UPDATE queue SET status = 'queued', lease_until = NULL, attempts = MAX(attempts - 1, 0)
                 WHERE id = ? AND status = 'sending'",
            )
            .bind(id.0 as i64)
            .execute(&mut *tx)
            .await?;
        }
        tx.commit().await?;
        Ok(())
    }

    async fn advance_receipts(
        &self,
        now: DateTime<Utc>,
        delivered_before: DateTime<Utc>,
        read_before: DateTime<Utc>,
    ) -> StoreResult<u64> {
        let mut tx = self.write.begin().await?;
        let mut changed = 0;
        // Only people and groups send receipts; channels and communities stop at `sent`.
        for (from, to, column, before, make) in [
            (
                "delivered",
                "read",
                "read_at",
                read_before,
                EventData::MessageRead as fn(MessageEvent) -> EventData,
            ),
            (
                "sent",
                "delivered",
                "delivered_at",
                delivered_before,
                EventData::MessageDelivered,
            ),
        ] {
            let time_column = if from == "sent" {
                "sent_at"
            } else {
                "delivered_at"
            };
            let rows = sqlx::query(&format!(
                "UPDATE queue SET status = '{to}', {column} = ?, updated_at = ?
                 WHERE status = '{from}' AND recipient_kind IN ('group', 'phone') AND {time_column} <= ?
                 RETURNING id, account_id, instance_id, recipient, content"
            ))
            .bind(millis(now))
            .bind(millis(now))
            .bind(millis(before))
            .fetch_all(&mut *tx)
            .await?;
            for row in &rows {
                let account: AccountId = row.try_get("account_id")?;
                let kind = content(row.try_get::<&str, _>("content")?)?.kind();
                let event = NewEvent {
                    account_id: account,
                    instance_id: instance_id(row.try_get("instance_id")?)?,
                    data: make(MessageEvent {
                        queue_id: QueueId(row.try_get::<i64, _>("id")? as u64),
                        to: row.try_get("recipient")?,
                        kind: Some(kind.to_owned()),
                    }),
                };
                insert_event_for(&mut tx, account, event).await?;
            }
            changed += rows.len() as u64;
        }
        tx.commit().await?;
        Ok(changed)
    }

    async fn record_outbox(&self, m: &OutboxMessage, account: AccountId) -> StoreResult<()> {
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
        .execute(&self.write)
        .await?;
        Ok(())
    }

    async fn list_outbox(
        &self,
        account: AccountId,
        id: &InstanceId,
    ) -> StoreResult<Vec<OutboxMessage>> {
        sqlx::query(
            "SELECT * FROM outbox WHERE account_id = ? AND instance_id = ? ORDER BY queue_id",
        )
        .bind(account)
        .bind(id.as_str())
        .fetch_all(&self.read)
        .await?
        .iter()
        .map(|row| {
            Ok(OutboxMessage {
                queue_id: QueueId(row.try_get::<i64, _>("queue_id")? as u64),
                instance_id: instance_id(row.try_get("instance_id")?)?,
                to: row.try_get("recipient")?,
                content: content(row.try_get::<&str, _>("content")?)?,
                sent_at: from_millis(row.try_get("sent_at")?),
            })
        })
        .collect()
    }

    async fn record_event(&self, event: NewEvent) -> StoreResult<()> {
        let mut tx = self.write.begin().await?;
        insert_event_for(&mut tx, event.account_id, event).await?;
        tx.commit().await?;
        Ok(())
    }

    async fn create_schedule(
        &self,
        account: AccountId,
        id: &ScheduleId,
        spec: &CreateScheduleRequest,
        next_run_at: Option<DateTime<Utc>>,
        now: DateTime<Utc>,
    ) -> StoreResult<Schedule> {
        sqlx::query(
            "INSERT INTO schedules (id, account_id, instance_id, spec, next_run_at, created_at) VALUES (?, ?, ?, ?, ?, ?)",
        )
        .bind(id.as_str())
        .bind(account)
        .bind(spec.instance_id.as_str())
        .bind(serde_json::to_string(spec).expect("spec serialises"))
        .bind(next_run_at.map(millis))
        .bind(millis(now))
        .execute(&self.write)
        .await?;
        Ok(Schedule {
            id: id.clone(),
            spec: spec.clone(),
            next_run_at: next_run_at.map(|t| from_millis(millis(t))),
            last_run_at: None,
            created_at: from_millis(millis(now)),
        })
    }

    async fn list_schedules(&self, account: AccountId) -> StoreResult<Vec<Schedule>> {
        sqlx::query("SELECT * FROM schedules WHERE account_id = ? ORDER BY created_at, id")
            .bind(account)
            .fetch_all(&self.read)
            .await?
            .iter()
            .map(schedule_row)
            .collect()
    }

    async fn delete_schedule(&self, account: AccountId, id: &ScheduleId) -> StoreResult<bool> {
        Ok(
            sqlx::query("DELETE FROM schedules WHERE account_id = ? AND id = ?")
                .bind(account)
                .bind(id.as_str())
                .execute(&self.write)
                .await?
                .rows_affected()
                > 0,
        )
    }

    async fn claim_due_schedules(
        &self,
        now: DateTime<Utc>,
        next: for<'s> fn(&'s CreateScheduleRequest, DateTime<Utc>) -> Option<DateTime<Utc>>,
    ) -> StoreResult<Vec<DueSchedule>> {
        let mut tx = self.write.begin().await?;
        let rows = sqlx::query("SELECT * FROM schedules WHERE next_run_at IS NOT NULL AND next_run_at <= ? ORDER BY next_run_at")
            .bind(millis(now))
            .fetch_all(&mut *tx)
            .await?;
        let mut due = Vec::with_capacity(rows.len());
        for row in &rows {
            let account_id: AccountId = row.try_get("account_id")?;
            let mut schedule = schedule_row(row)?;
            let next_run = next(&schedule.spec, now);
            sqlx::query("UPDATE schedules SET next_run_at = ?, last_run_at = ? WHERE id = ?")
                .bind(next_run.map(millis))
                .bind(millis(now))
                .bind(schedule.id.as_str())
                .execute(&mut *tx)
                .await?;
            schedule.next_run_at = next_run;
            schedule.last_run_at = Some(now);
            due.push(DueSchedule {
                account_id,
                schedule,
            });
        }
        tx.commit().await?;
        Ok(due)
    }
}

/// Inserts an event row inside the caller's transaction. The payload is serialised here,
/// once: these bytes are what is signed and sent.
async fn insert_event_for(
    conn: &mut SqliteConnection,
    account: AccountId,
    event: NewEvent,
) -> StoreResult<()> {
    let now = Utc::now();
    let event = Event {
        id: random_id("evt_"),
        timestamp: from_millis(millis(now)),
        instance_id: event.instance_id,
        data: event.data,
    };
    let payload = serde_json::to_vec(&event).expect("events serialise");
    sqlx::query(
        "INSERT INTO events (id, seq, account_id, event_type, payload, created_at)
         VALUES (?, (SELECT COALESCE(MAX(seq), 0) + 1 FROM events), ?, ?, ?, ?)",
    )
    .bind(&event.id)
    .bind(account)
    .bind(event.event_type())
    .bind(payload)
    .bind(millis(now))
    .execute(conn)
    .await?;
    Ok(())
}

impl FromStr for RecipientKind {
    type Err = ();
    fn from_str(s: &str) -> Result<Self, ()> {
        Self::parse(s).ok_or(())
    }
}
