//! The embedded default: SQLite in WAL mode under the data directory.
//!
//! Reads go through a small pool; writes through one connection (SQLite has one writer
//! anyway). Queue inserts, the hot path, go through a group-commit task: concurrent sends
//! are written in one transaction and each caller is answered once that commit is on
//! disk (`synchronous = FULL`), so a reply always means durable.

mod accounts;
mod idempotency;
mod limits;
mod queue;
mod schedules;
mod webhooks;

use std::path::Path;
use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use sevenoways_sdk::models::channels::Channel;
use sevenoways_sdk::models::groups::Group;
use sevenoways_sdk::models::instances::{Instance, InstanceStatus};
use sevenoways_sdk::models::queue::{QueueEntry, QueueStatus};
use sevenoways_sdk::models::sandbox::OutboxMessage;
use sevenoways_sdk::models::schedules::{CreateScheduleRequest, Schedule};
use sevenoways_sdk::{ChannelId, Content, InstanceId, NewsletterJid, QueueId, ScheduleId};
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};
use sqlx::{Row, SqlitePool};
use tokio::sync::mpsc;

use super::*;
use crate::ids::Generate;
use crate::time::{from_millis, millis, stored};
use queue::{EnqueueJob, group_commit};
use schedules::schedule_row;
use webhooks::{insert_event_for, webhook_row};

static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("./migrations/sqlite");

/// A [`Store`] on an SQLite file.
#[derive(Clone)]
pub struct SqliteStore {
    read: SqlitePool,
    write: SqlitePool,
    enqueue_tx: mpsc::Sender<EnqueueJob>,
}

impl SqliteStore {
    /// Deletes the account's row `id` from `table`; `false` when the account has none.
    /// The account condition is what makes another key's ids a 404.
    async fn delete_owned(
        &self,
        table: &'static str,
        account: AccountId,
        id: &str,
    ) -> StoreResult<bool> {
        let sql = format!("DELETE FROM {table} WHERE account_id = ? AND id = ?");
        let result = sqlx::query(&sql)
            .bind(account)
            .bind(id)
            .execute(&self.write)
            .await?;
        Ok(result.rows_affected() > 0)
    }
}

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
            .map_err(|e| StoreError::Backend(Box::new(e)))?;
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

impl From<sqlx::Error> for StoreError {
    fn from(e: sqlx::Error) -> Self {
        Self::Backend(Box::new(e))
    }
}

// An account id is an `INTEGER` column; the impls live here so `crate::account` stays
// free of the backend.
impl sqlx::Type<sqlx::Sqlite> for AccountId {
    fn type_info() -> sqlx::sqlite::SqliteTypeInfo {
        <i64 as sqlx::Type<sqlx::Sqlite>>::type_info()
    }
}

impl<'q> sqlx::Encode<'q, sqlx::Sqlite> for AccountId {
    fn encode_by_ref(
        &self,
        buf: &mut <sqlx::Sqlite as sqlx::Database>::ArgumentBuffer<'q>,
    ) -> Result<sqlx::encode::IsNull, sqlx::error::BoxDynError> {
        <i64 as sqlx::Encode<'q, sqlx::Sqlite>>::encode_by_ref(&self.0, buf)
    }
}

impl<'r> sqlx::Decode<'r, sqlx::Sqlite> for AccountId {
    fn decode(value: sqlx::sqlite::SqliteValueRef<'r>) -> Result<Self, sqlx::error::BoxDynError> {
        <i64 as sqlx::Decode<'r, sqlx::Sqlite>>::decode(value).map(AccountId)
    }
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
        accounts::account_by_key_hash(self, key_hash).await
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
        accounts::create_instance(self, account, id, label).await
    }

    async fn delete_instance(&self, account: AccountId, id: &InstanceId) -> StoreResult<bool> {
        accounts::delete_instance(self, account, id).await
    }

    async fn set_instance_status(
        &self,
        account: AccountId,
        id: &InstanceId,
        status: InstanceStatus,
        phone: Option<&str>,
        event: Option<NewEvent>,
    ) -> StoreResult<bool> {
        accounts::set_instance_status(self, account, id, status, phone, event).await
    }

    async fn list_groups(&self, account: AccountId, id: &InstanceId) -> StoreResult<Vec<Group>> {
        accounts::list_groups(self, account, id).await
    }

    async fn upsert_group(
        &self,
        account: AccountId,
        id: &InstanceId,
        group: &Group,
    ) -> StoreResult<()> {
        accounts::upsert_group(self, account, id, group).await
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
        accounts::save_channel(self, account, c).await
    }

    async fn delete_channel(&self, account: AccountId, id: &ChannelId) -> StoreResult<bool> {
        self.delete_owned("channels", account, id.as_str()).await
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
        match self.send_job(entries, None).await? {
            Ok(ids) => Ok(ids),
            Err(_) => Err(StoreError::Corrupt("unlimited enqueue was refused".into())),
        }
    }

    async fn enqueue_admitted(
        &self,
        admission: Admission,
        entries: Vec<NewEntry>,
    ) -> StoreResult<Result<Vec<QueueId>, Refusal>> {
        self.send_job(entries, Some(admission)).await
    }

    async fn get_entry(&self, account: AccountId, id: QueueId) -> StoreResult<Option<QueueEntry>> {
        queue::get_entry(self, account, id).await
    }

    async fn claim(
        &self,
        now: DateTime<Utc>,
        lease_until: DateTime<Utc>,
        pacing: Pacing,
        limit: u32,
    ) -> StoreResult<Vec<Claimed>> {
        queue::claim(self, now, lease_until, pacing, limit).await
    }

    async fn mark_sent(
        &self,
        entry: &Claimed,
        now: DateTime<Utc>,
        event: NewEvent,
    ) -> StoreResult<bool> {
        queue::mark_sent(self, entry, now, event).await
    }

    async fn mark_retry(
        &self,
        entry: &Claimed,
        at: DateTime<Utc>,
        reason: &str,
    ) -> StoreResult<bool> {
        queue::mark_retry(self, entry, at, reason).await
    }

    async fn mark_failed(
        &self,
        entry: &Claimed,
        now: DateTime<Utc>,
        reason: &str,
        event: NewEvent,
    ) -> StoreResult<bool> {
        queue::mark_failed(self, entry, now, reason, event).await
    }

    async fn prune(&self, now: DateTime<Utc>, before: DateTime<Utc>) -> StoreResult<u64> {
        let cutoff = millis(before);
        let day = before.format("d%Y-%m-%d").to_string();
        let month = before.format("m%Y-%m").to_string();
        let mut tx = self.write.begin_with("BEGIN IMMEDIATE").await?;
        let mut deleted = 0;
        for (sql, binds) in [
            (
                "DELETE FROM webhook_attempts WHERE delivery_id IN (
                    SELECT id FROM webhook_deliveries WHERE status != 'pending' AND updated_at < ?)",
                vec![cutoff.to_string()],
            ),
            (
                "DELETE FROM webhook_deliveries WHERE status != 'pending' AND updated_at < ?",
                vec![cutoff.to_string()],
            ),
            (
                "DELETE FROM events WHERE dispatched = 1 AND created_at < ? AND NOT EXISTS (
                    SELECT 1 FROM webhook_deliveries d WHERE d.event_id = events.id)",
                vec![cutoff.to_string()],
            ),
            // Periods sort as text within their kind: `d2026-03-29`, `m2026-03`.
            (
                "DELETE FROM usage_counters WHERE (period LIKE 'd%' AND period < ?)
                    OR (period LIKE 'm%' AND period < ?)",
                vec![day, month],
            ),
            (
                "DELETE FROM rate_window WHERE at < ?",
                vec![(millis(now) - 2 * crate::limits::WINDOW_MS).to_string()],
            ),
        ] {
            let mut query = sqlx::query(sql);
            for b in binds {
                // Integers go in as integers: SQLite would compare text with numbers wrongly.
                query = match b.parse::<i64>() {
                    Ok(n) => query.bind(n),
                    Err(_) => query.bind(b),
                };
            }
            deleted += query.execute(&mut *tx).await?.rows_affected();
        }
        tx.commit().await?;
        Ok(deleted)
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
        queue::advance_receipts(self, now, delivered_before, read_before).await
    }

    async fn record_outbox(&self, m: &OutboxMessage, account: AccountId) -> StoreResult<()> {
        accounts::record_outbox(self, m, account).await
    }

    async fn list_outbox(
        &self,
        account: AccountId,
        id: &InstanceId,
    ) -> StoreResult<Vec<OutboxMessage>> {
        accounts::list_outbox(self, account, id).await
    }

    async fn record_event(&self, event: NewEvent) -> StoreResult<()> {
        let mut tx = self.write.begin().await?;
        insert_event_for(&mut tx, event.account_id, event).await?;
        idempotency::commit_answering(tx, &()).await
    }

    async fn create_schedule(
        &self,
        account: AccountId,
        id: &ScheduleId,
        spec: &CreateScheduleRequest,
        next_run_at: Option<DateTime<Utc>>,
        now: DateTime<Utc>,
    ) -> StoreResult<Schedule> {
        schedules::create_schedule(self, account, id, spec, next_run_at, now).await
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
        self.delete_owned("schedules", account, id.as_str()).await
    }

    async fn fire_due_schedules(
        &self,
        now: DateTime<Utc>,
        plans: &Plans,
        next: NextRunFn,
        limit: u32,
    ) -> StoreResult<Vec<FiredSchedule>> {
        schedules::fire_due_schedules(self, now, plans, next, limit).await
    }

    async fn usage(
        &self,
        account: AccountId,
        periods: &Periods,
        now: DateTime<Utc>,
    ) -> StoreResult<UsageSnapshot> {
        limits::usage(self, account, periods, now).await
    }

    async fn create_webhook(
        &self,
        account: AccountId,
        webhook: &Webhook,
        secret: &WebhookSecret,
    ) -> StoreResult<()> {
        let mut tx = self.write.begin().await?;
        sqlx::query(
            "INSERT INTO webhooks (id, account_id, url, events, secret, created_at) VALUES (?, ?, ?, ?, ?, ?)",
        )
        .bind(webhook.id.as_str())
        .bind(account)
        .bind(&webhook.url)
        .bind(serde_json::to_string(&webhook.events).expect("strings serialise"))
        .bind(secret.expose())
        .bind(millis(webhook.created_at))
        .execute(&mut *tx)
        .await?;
        idempotency::commit_answering(tx, &()).await
    }

    async fn list_webhooks(&self, account: AccountId) -> StoreResult<Vec<Webhook>> {
        sqlx::query(
            "SELECT id, url, events, created_at FROM webhooks WHERE account_id = ? ORDER BY created_at, id",
        )
        .bind(account)
        .fetch_all(&self.read)
        .await?
        .iter()
        .map(webhook_row)
        .collect()
    }

    async fn delete_webhook(&self, account: AccountId, id: &WebhookId) -> StoreResult<bool> {
        webhooks::delete_webhook(self, account, id).await
    }

    async fn queue_test_event(
        &self,
        account: AccountId,
        id: &WebhookId,
        event: NewEvent,
        now: DateTime<Utc>,
        give_up_at: DateTime<Utc>,
    ) -> StoreResult<bool> {
        webhooks::queue_test_event(self, account, id, event, now, give_up_at).await
    }

    async fn dispatch_events(
        &self,
        now: DateTime<Utc>,
        give_up_at: DateTime<Utc>,
        limit: u32,
    ) -> StoreResult<u64> {
        webhooks::dispatch_events(self, now, give_up_at, limit).await
    }

    async fn claim_deliveries(
        &self,
        now: DateTime<Utc>,
        lease_until: DateTime<Utc>,
        limit: u32,
    ) -> StoreResult<Vec<ClaimedDelivery>> {
        webhooks::claim_deliveries(self, now, lease_until, limit).await
    }

    async fn record_attempt(&self, record: &AttemptRecord) -> StoreResult<()> {
        webhooks::record_attempt(self, record).await
    }

    async fn release_deliveries(&self, ids: &[DeliveryId]) -> StoreResult<()> {
        let mut tx = self.write.begin().await?;
        for id in ids {
            sqlx::query(
                "UPDATE webhook_deliveries SET lease_until = NULL, attempts = MAX(attempts - 1, 0)
                 WHERE id = ? AND status = 'pending' AND lease_until IS NOT NULL",
            )
            .bind(id.as_str())
            .execute(&mut *tx)
            .await?;
        }
        tx.commit().await?;
        Ok(())
    }

    async fn list_deliveries(
        &self,
        account: AccountId,
        id: &WebhookId,
        limit: u32,
    ) -> StoreResult<Option<Vec<Delivery>>> {
        webhooks::list_deliveries(self, account, id, limit).await
    }

    async fn get_delivery(
        &self,
        account: AccountId,
        id: &WebhookId,
        delivery_id: &DeliveryId,
    ) -> StoreResult<Option<DeliveryDetail>> {
        webhooks::get_delivery(self, account, id, delivery_id).await
    }

    async fn redeliver(
        &self,
        account: AccountId,
        id: &WebhookId,
        delivery_id: &DeliveryId,
        now: DateTime<Utc>,
        give_up_at: DateTime<Utc>,
    ) -> StoreResult<bool> {
        webhooks::redeliver(self, account, id, delivery_id, now, give_up_at).await
    }

    async fn idempotent_answer(
        &self,
        account: AccountId,
        key: &IdempotencyKey,
        now: DateTime<Utc>,
    ) -> StoreResult<Option<Recorded>> {
        idempotency::recorded(self, account, key, now).await
    }

    async fn prune_idempotency_keys(&self, now: DateTime<Utc>, limit: u32) -> StoreResult<u64> {
        idempotency::prune(self, now, limit).await
    }
}
