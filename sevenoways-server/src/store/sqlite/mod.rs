//! The embedded default: SQLite in WAL mode under the data directory.
//!
//! Reads go through a small pool; writes through one connection (SQLite has one writer
//! anyway), taking turns (`writer.rs`). Queue inserts, the hot path, go through the group
//! commit, a thread with a connection of its own (`commit.rs`): concurrent sends are
//! written in one transaction and each caller is answered once that commit is on disk
//! (`synchronous = FULL`), so a reply always means durable.

mod accounts;
mod commit;
mod console;
mod engines;
mod idempotency;
mod keys;
mod limits;
mod ops;
mod queue;
mod schedules;
mod webhooks;
mod writer;

pub use ops::{BackupReport, DB_FILE, backup};

use std::path::Path;
use std::sync::Arc;
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
use sqlx::sqlite::{SqliteConnectOptions, SqlitePoolOptions};
use sqlx::{Row, SqlitePool};
use tokio::sync::mpsc;

use super::*;
use crate::ids::Generate;
use crate::time::{from_millis, millis, stored};
use ops::WriteHealth;
use queue::EnqueueJob;
use schedules::schedule_row;
use webhooks::{WEBHOOK_COLUMNS, insert_event_for, webhook_row};
use writer::{WriteTx, Writer};

/// Each connection's page cache at most, in KiB (six connections: the group commit's,
/// the write pool's, four readers).
const CACHE_KIB: u32 = 16 * 1024;

/// How long a write waits for another process's lock (the key commands, a backup).
const BUSY_TIMEOUT: Duration = Duration::from_secs(10);

/// Every connection's settings, the pools' (sqlx) and the group commit's (rusqlite) alike.
fn pragmas() -> [(&'static str, String); 5] {
    [
        ("journal_mode", "WAL".into()),
        // A reply means durable: every commit is synced.
        ("synchronous", "FULL".into()),
        // After a checkpoint resets the log, a log grown past this by a burst is
        // truncated back to it rather than kept at its largest size.
        ("journal_size_limit", ops::JOURNAL_SIZE_LIMIT.to_string()),
        // Pages cached per connection, at most (negative: KiB), filled only as used.
        // SQLite's 2 MiB default is smaller than the delivery and queue indexes of a
        // busy day, and every page past it is a read() from the OS.
        ("cache_size", format!("-{CACHE_KIB}")),
        ("foreign_keys", "OFF".into()),
    ]
}

/// A [`Store`] on an SQLite file.
#[derive(Clone)]
pub struct SqliteStore {
    read: SqlitePool,
    /// Every write of this process takes its turn here, the group commit's included.
    write: Writer,
    enqueue_tx: mpsc::Sender<EnqueueJob>,
    /// The group commit's last failure, for [`Store::probe_write`].
    write_health: Arc<WriteHealth>,
    /// Rung when a write that raised events has committed ([`Store::events_committed`]).
    events: Arc<tokio::sync::Notify>,
    /// Seals webhook secrets at rest, when configured (see [`crate::secrets`]).
    secrets_key: Option<std::sync::Arc<crate::secrets::SecretsKey>>,
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
            .execute(&mut *self.write.conn().await?)
            .await?;
        Ok(result.rows_affected() > 0)
    }
}

impl SqliteStore {
    /// Opens (creating if needed) `dir/sevenoways.db` and runs the migrations.
    ///
    /// The directory is created `0700` and the database `0600` (its `-wal` and `-shm`
    /// files take the database's mode): it holds webhook secrets, the QR signing secret,
    /// message text and phone numbers. Existing database files readable by others are
    /// narrowed to `0600`; an existing directory is left as it is, with a warning.
    pub async fn open(dir: &Path) -> StoreResult<Self> {
        let path = ops::prepare_files(dir)?;
        let options = pragmas().into_iter().fold(
            SqliteConnectOptions::new()
                .filename(&path)
                .create_if_missing(true)
                .busy_timeout(BUSY_TIMEOUT),
            |options, (name, value)| options.pragma(name, value),
        );
        let raised = Arc::new(std::sync::atomic::AtomicBool::new(false));
        let write = SqlitePoolOptions::new()
            .max_connections(1)
            .after_connect({
                let raised = raised.clone();
                move |conn, _| {
                    let raised = raised.clone();
                    Box::pin(async move { writer::watch_events(conn, raised).await })
                }
            })
            // A write that failed on a full disk leaves sqlx believing a transaction is
            // still open (SQLite already rolled it back, so sqlx's ROLLBACK fails and its
            // depth counter stays at 1), and every later `BEGIN IMMEDIATE` on that
            // connection is refused. Such a connection is closed on release and the pool
            // opens a fresh one.
            .after_release(|conn, _| {
                Box::pin(async move {
                    // A committed transaction has ended by now (the depth is counted
                    // before the commit answers); a dropped one has only queued its
                    // rollback, so wait for that to run before looking again.
                    if sqlx::Connection::is_in_transaction(&*conn) {
                        sqlx::Connection::ping(&mut *conn).await?;
                    }
                    Ok(!sqlx::Connection::is_in_transaction(&*conn))
                })
            })
            // A ping before each use is a round trip to the connection's thread that can
            // find nothing a statement would not: the database is in this process, with
            // no link to lose. (Each statement is such a trip; a write takes a few.)
            .test_before_acquire(false)
            .connect_with(options.clone())
            .await?;
        super::migrations::sqlite()
            .await
            .map_err(|e| StoreError::Backend(Box::new(e)))?
            .run(&write)
            .await
            .map_err(|e| StoreError::Backend(Box::new(e)))?;
        let read = SqlitePoolOptions::new()
            .max_connections(4)
            .test_before_acquire(false)
            .connect_with(options.clone().read_only(true))
            .await?;
        let (enqueue_tx, rx) = mpsc::channel(4096);
        let commit_conn = {
            let path = path.clone();
            tokio::task::spawn_blocking(move || commit::open(&path))
                .await
                .map_err(|e| StoreError::Backend(Box::new(e)))?
                .map_err(|e| StoreError::Backend(Box::new(e)))?
        };
        let events = Arc::new(tokio::sync::Notify::new());
        let signals = writer::Signals {
            raised,
            committed: events.clone(),
        };
        let write = Writer::new(write, Some(signals));
        let write_health = Arc::new(WriteHealth::default());
        commit::spawn(commit_conn, path, rx, write_health.clone(), write.clone())
            .map_err(|e| StoreError::Backend(Box::new(e)))?;
        Ok(Self {
            read,
            write,
            enqueue_tx,
            write_health,
            events,
            secrets_key: None,
        })
    }

    /// [`SqliteStore::open`] for a server: checks `key` against the webhook secrets stored
    /// and seals those written before a key was configured (see [`crate::secrets`]); secrets
    /// sealed with `previous` are sealed again with `key` (changing keys). Without a key, a
    /// database whose secrets are sealed is refused; so is a key that is not theirs. Either
    /// is [`StoreError::Secrets`], saying what to do.
    pub async fn open_with_secrets(
        dir: &Path,
        key: Option<crate::secrets::SecretsKey>,
        previous: Option<&crate::secrets::SecretsKey>,
    ) -> StoreResult<Self> {
        let mut store = Self::open(dir).await?;
        let sealed = webhooks::prepare_secrets(&store, key.as_ref(), previous).await?;
        if sealed > 0 {
            tracing::info!(
                rows = sealed,
                "sealed webhook secrets (and recorded answers showing them) with the current secrets key"
            );
        }
        store.secrets_key = key.map(std::sync::Arc::new);
        Ok(store)
    }
}

impl From<sqlx::Error> for StoreError {
    fn from(e: sqlx::Error) -> Self {
        match ops::passing_condition(&e) {
            Some(reason) => Self::Degraded {
                reason,
                source: Box::new(e),
            },
            None => Self::Backend(Box::new(e)),
        }
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

// The same for the group commit's connection (rusqlite).
impl rusqlite::ToSql for AccountId {
    fn to_sql(&self) -> rusqlite::Result<rusqlite::types::ToSqlOutput<'_>> {
        Ok(self.0.into())
    }
}

impl rusqlite::types::FromSql for AccountId {
    fn column_result(value: rusqlite::types::ValueRef<'_>) -> rusqlite::types::FromSqlResult<Self> {
        i64::column_result(value).map(AccountId)
    }
}

/// Rows a retention statement deletes at most: small enough that each statement's
/// transaction is short, large enough that pruning a day's history takes few of them.
const PRUNE_CHUNK: i64 = 5000;

/// The `(created_at, id)` a page starts after: before everything for the first page
/// (created_at is never negative).
fn after_created(page: &PageRequest) -> (i64, String) {
    match &page.after {
        Some(After::Created(t, id)) => (*t, id.clone()),
        _ => (i64::MIN, String::new()),
    }
}

/// The `(created_at, <id column>)` position of a row, for the next page's cursor.
fn created_key(row: &sqlx::sqlite::SqliteRow, id_column: &str) -> After {
    After::Created(
        row.try_get("created_at").unwrap_or_default(),
        row.try_get(id_column).unwrap_or_default(),
    )
}

impl SqliteStore {
    /// One page of the account's rows of `table`, oldest first: the keyset walk every
    /// `(created_at, id)`-ordered list shares (instances, channels, schedules, webhooks).
    /// `table`, `columns` and `id_column` are the callers' constants, never input.
    async fn page_by_created<T>(
        &self,
        (table, columns, id_column): (&str, &str, &str),
        account: AccountId,
        page: &PageRequest,
        item: impl Fn(&sqlx::sqlite::SqliteRow) -> StoreResult<T>,
    ) -> StoreResult<Page<T>> {
        let (t, id) = after_created(page);
        let rows = sqlx::query(&format!(
            "SELECT {columns} FROM {table}
             WHERE account_id = ? AND (created_at, {id_column}) > (?, ?)
             ORDER BY created_at, {id_column} LIMIT ?"
        ))
        .bind(account)
        .bind(t)
        .bind(id)
        .bind(page.fetch())
        .fetch_all(&self.read)
        .await?;
        Page::from_rows(page, rows, |r| created_key(r, id_column), |r| item(&r))
    }
}

/// How many of `resource` the account keeps (per instance for groups).
async fn count_owned(
    conn: &mut sqlx::SqliteConnection,
    resource: Resource,
    account: AccountId,
    instance: Option<&InstanceId>,
) -> StoreResult<u64> {
    let sql = match resource {
        Resource::Instances => "SELECT COUNT(*) FROM instances WHERE account_id = ?",
        Resource::Channels => "SELECT COUNT(*) FROM channels WHERE account_id = ?",
        Resource::Schedules => "SELECT COUNT(*) FROM schedules WHERE account_id = ?",
        Resource::Webhooks => "SELECT COUNT(*) FROM webhooks WHERE account_id = ?",
        Resource::GroupsPerInstance => {
            "SELECT COUNT(*) FROM groups WHERE account_id = ? AND instance_id = ?"
        }
    };
    let mut query = sqlx::query_scalar::<_, i64>(sql).bind(account);
    if resource == Resource::GroupsPerInstance {
        query = query.bind(instance.map(InstanceId::as_str).unwrap_or_default());
    }
    Ok(query.fetch_one(&mut *conn).await?.max(0) as u64)
}

/// `QuotaExceeded` when the account already keeps `max` of `resource` (`0`: no quota).
/// Called inside the inserting transaction, which must be `BEGIN IMMEDIATE` so that the
/// count and the insert are one step for every other writer.
async fn check_quota(
    conn: &mut sqlx::SqliteConnection,
    resource: Resource,
    max: u32,
    account: AccountId,
    instance: Option<&InstanceId>,
) -> StoreResult<()> {
    if max == 0 {
        return Ok(());
    }
    if count_owned(conn, resource, account, instance).await? >= u64::from(max) {
        return Err(StoreError::QuotaExceeded(QuotaExceeded { resource, max }));
    }
    Ok(())
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
    let engine: &str = row.try_get("engine")?;
    Ok(Instance {
        instance_id: instance_id(row.try_get("instance_id")?)?,
        label: row.try_get("label")?,
        status: parse_status(row.try_get::<&str, _>("status")?),
        engine: Some(
            crate::engine::EngineKind::parse(engine)
                .ok_or_else(|| corrupt("instance engine", engine))?
                .into(),
        ),
        phone: row.try_get("phone")?,
        created_at: from_millis(row.try_get("created_at")?),
    })
}

fn instance_record_row(row: &sqlx::sqlite::SqliteRow) -> StoreResult<InstanceRecord> {
    let engine: &str = row.try_get("engine")?;
    Ok(InstanceRecord {
        account_id: row.try_get("account_id")?,
        instance: instance_row(row)?,
        engine: crate::engine::EngineKind::parse(engine)
            .ok_or_else(|| corrupt("instance engine", engine))?,
        qr_ref: row.try_get("qr_ref")?,
        engine_ref: row.try_get("engine_ref")?,
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
        keys::create_account(self, name, plan, key_hash).await
    }

    async fn account_by_key_hash(&self, key_hash: &[u8; 32]) -> StoreResult<Option<Account>> {
        Ok(match keys::key_lookup(self, key_hash, Utc::now()).await? {
            KeyLookup::Valid { account, .. } => Some(account),
            _ => None,
        })
    }

    async fn count_accounts(&self) -> StoreResult<i64> {
        Ok(sqlx::query_scalar("SELECT COUNT(*) FROM accounts")
            .fetch_one(&self.read)
            .await?)
    }

    async fn create_first_account(
        &self,
        name: &str,
        plan: &str,
        key_hash: &[u8; 32],
    ) -> StoreResult<Option<AccountId>> {
        keys::create_first_account(self, name, plan, key_hash).await
    }

    async fn server_secret(&self) -> StoreResult<Vec<u8>> {
        let mut fresh = [0u8; 32];
        getrandom::fill(&mut fresh).expect("OS randomness");
        sqlx::query("INSERT OR IGNORE INTO meta (key, value) VALUES ('server_secret', ?)")
            .bind(&fresh[..])
            .execute(&mut *self.write.conn().await?)
            .await?;
        Ok(
            sqlx::query_scalar("SELECT value FROM meta WHERE key = 'server_secret'")
                .fetch_one(&mut *self.write.conn().await?)
                .await?,
        )
    }

    async fn list_instances(
        &self,
        account: AccountId,
        page: &PageRequest,
    ) -> StoreResult<Page<Instance>> {
        self.page_by_created(
            ("instances", "*", "instance_id"),
            account,
            page,
            instance_row,
        )
        .await
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
        engine: crate::engine::EngineKind,
        max: u32,
    ) -> StoreResult<InstanceRecord> {
        accounts::create_instance(self, account, id, label, engine, max).await
    }

    async fn instance_record(
        &self,
        account: AccountId,
        id: &InstanceId,
    ) -> StoreResult<Option<InstanceRecord>> {
        sqlx::query("SELECT * FROM instances WHERE account_id = ? AND instance_id = ?")
            .bind(account)
            .bind(id.as_str())
            .fetch_optional(&self.read)
            .await?
            .as_ref()
            .map(instance_record_row)
            .transpose()
    }

    async fn instance_by_qr_ref(
        &self,
        id: &InstanceId,
        qr_ref: &str,
    ) -> StoreResult<Option<InstanceRecord>> {
        sqlx::query("SELECT * FROM instances WHERE qr_ref = ? AND instance_id = ?")
            .bind(qr_ref)
            .bind(id.as_str())
            .fetch_optional(&self.read)
            .await?
            .as_ref()
            .map(instance_record_row)
            .transpose()
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

    async fn list_groups_page(
        &self,
        account: AccountId,
        id: &InstanceId,
        page: &PageRequest,
    ) -> StoreResult<Page<Group>> {
        accounts::list_groups_page(self, account, id, page).await
    }

    async fn upsert_group(
        &self,
        account: AccountId,
        id: &InstanceId,
        group: &Group,
        max: u32,
    ) -> StoreResult<()> {
        accounts::upsert_group(self, account, id, group, max).await
    }

    async fn list_channels(
        &self,
        account: AccountId,
        page: &PageRequest,
    ) -> StoreResult<Page<Channel>> {
        self.page_by_created(("channels", "*", "id"), account, page, channel_row)
            .await
    }

    async fn save_channel(
        &self,
        account: AccountId,
        c: &Channel,
        max: u32,
    ) -> StoreResult<Channel> {
        accounts::save_channel(self, account, c, max).await
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
        let mut deleted = 0;
        // Finished deliveries and their attempts, a chunk per transaction as the queue's
        // below: a busy day's million would otherwise hold the writer for seconds.
        loop {
            let mut tx = self.write.begin_with("BEGIN IMMEDIATE").await?;
            let ids: Vec<String> = sqlx::query_scalar(
                "SELECT id FROM webhook_deliveries WHERE status != 'pending' AND updated_at < ?
                 LIMIT ?",
            )
            .bind(cutoff)
            .bind(PRUNE_CHUNK)
            .fetch_all(&mut *tx)
            .await?;
            let list = serde_json::to_string(&ids).map_err(|e| StoreError::Backend(e.into()))?;
            for sql in [
                "DELETE FROM webhook_attempts WHERE delivery_id IN (SELECT value FROM json_each(?))",
                "DELETE FROM webhook_deliveries WHERE id IN (SELECT value FROM json_each(?))",
            ] {
                deleted += sqlx::query(sql)
                    .bind(&list)
                    .execute(&mut *tx)
                    .await?
                    .rows_affected();
            }
            tx.commit().await?;
            if (ids.len() as i64) < PRUNE_CHUNK {
                break;
            }
        }
        let mut tx = self.write.begin_with("BEGIN IMMEDIATE").await?;
        for (sql, binds) in [
            // `NOT IN` an uncorrelated list, read once: SQLite ran the `NOT EXISTS` form as
            // a scan of every delivery per old event (no index on `event_id`), which at
            // 10,000 events and 200,000 deliveries held the writer for over a minute,
            // against 0.12 s this way.
            (
                "DELETE FROM events WHERE dispatched = 1 AND created_at < ?
                    AND id NOT IN (SELECT event_id FROM webhook_deliveries)",
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
        // Queue history and the outbox can be millions of rows: deleted a chunk per
        // statement (each its own short transaction), so sends and workers interleave.
        // Only finished entries go; the WHERE repeats the `queue_finished` index's.
        for sql in [
            "DELETE FROM queue WHERE id IN (
                SELECT id FROM queue WHERE status IN ('sent', 'delivered', 'read', 'failed')
                    AND updated_at < ? LIMIT ?)",
            "DELETE FROM outbox WHERE queue_id IN (
                SELECT queue_id FROM outbox WHERE sent_at < ? LIMIT ?)",
        ] {
            loop {
                let n = sqlx::query(sql)
                    .bind(cutoff)
                    .bind(PRUNE_CHUNK)
                    .execute(&mut *self.write.conn().await?)
                    .await?
                    .rows_affected();
                deleted += n;
                if n < PRUNE_CHUNK as u64 {
                    break;
                }
            }
        }
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
        page: &PageRequest,
    ) -> StoreResult<Page<OutboxMessage>> {
        accounts::list_outbox(self, account, id, page).await
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
        max: u32,
    ) -> StoreResult<Schedule> {
        schedules::create_schedule(self, account, id, spec, next_run_at, now, max).await
    }

    async fn list_schedules(
        &self,
        account: AccountId,
        page: &PageRequest,
    ) -> StoreResult<Page<Schedule>> {
        self.page_by_created(("schedules", "*", "id"), account, page, schedule_row)
            .await
    }

    async fn delete_schedule(&self, account: AccountId, id: &ScheduleId) -> StoreResult<bool> {
        self.delete_owned("schedules", account, id.as_str()).await
    }

    async fn resume_schedule(
        &self,
        account: AccountId,
        id: &ScheduleId,
        next: NextRunFn,
        now: DateTime<Utc>,
    ) -> StoreResult<Option<Schedule>> {
        schedules::resume_schedule(self, account, id, next, now).await
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

    async fn next_schedule_due(&self) -> StoreResult<Option<DateTime<Utc>>> {
        schedules::next_schedule_due(self).await
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
        max: u32,
    ) -> StoreResult<()> {
        webhooks::create_webhook(self, account, webhook, secret, max).await
    }

    async fn list_webhooks(
        &self,
        account: AccountId,
        page: &PageRequest,
    ) -> StoreResult<Page<Webhook>> {
        self.page_by_created(
            ("webhooks", WEBHOOK_COLUMNS, "id"),
            account,
            page,
            webhook_row,
        )
        .await
    }

    async fn count_owned(&self, account: AccountId, resource: Resource) -> StoreResult<u64> {
        let mut conn = self.read.acquire().await?;
        count_owned(&mut conn, resource, account, None).await
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
    ) -> StoreResult<WebhookAction> {
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
        limits: ClaimLimits,
    ) -> StoreResult<Vec<ClaimedDelivery>> {
        webhooks::claim_deliveries(self, now, lease_until, limits).await
    }

    async fn record_attempts(
        &self,
        records: &[AttemptRecord],
        now: DateTime<Utc>,
        breaker: &BreakerPolicy,
    ) -> StoreResult<Vec<Recorded>> {
        webhooks::record_attempts(self, records, now, breaker).await
    }

    async fn release_deliveries(&self, claims: &[(DeliveryId, i64)]) -> StoreResult<()> {
        webhooks::release_deliveries(self, claims).await
    }

    async fn list_deliveries(
        &self,
        account: AccountId,
        id: &WebhookId,
        page: &PageRequest,
    ) -> StoreResult<Option<Page<Delivery>>> {
        webhooks::list_deliveries(self, account, id, page).await
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
    ) -> StoreResult<WebhookAction> {
        webhooks::redeliver(self, account, id, delivery_id, now, give_up_at).await
    }

    async fn queue_depth(&self) -> StoreResult<Vec<(&'static str, u64)>> {
        // `queue_due` (status, next_attempt_at) answers this without reading rows.
        let mut depth = vec![("queued", 0), ("sending", 0)];
        for (state, n) in &mut depth {
            let count: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM queue WHERE status = ?")
                .bind(*state)
                .fetch_one(&self.read)
                .await?;
            *n = count.max(0) as u64;
        }
        Ok(depth)
    }

    async fn idempotent_answer(
        &self,
        account: AccountId,
        key: &IdempotencyKey,
        now: DateTime<Utc>,
    ) -> StoreResult<Option<crate::idempotency::Recorded>> {
        idempotency::recorded(self, account, key, now).await
    }

    async fn record_answer(&self, result: &(dyn std::any::Any + Send + Sync)) -> StoreResult<()> {
        idempotency::record_alone(self, result).await
    }

    async fn prune_idempotency_keys(&self, now: DateTime<Utc>, limit: u32) -> StoreResult<u64> {
        idempotency::prune(self, now, limit).await
    }

    async fn probe_write(&self) -> StoreResult<()> {
        if let Some(reason) = self.write_health.recent_failure() {
            return Err(StoreError::Degraded {
                reason,
                source: "sends failed for this reason in the last few seconds".into(),
            });
        }
        match self.send_job(Vec::new(), None).await? {
            Ok(_) => Ok(()),
            Err(_) => Err(StoreError::Corrupt("the write probe was refused".into())),
        }
    }

    async fn checkpoint(&self) -> StoreResult<()> {
        ops::checkpoint(self).await
    }

    fn events_committed(&self) -> Option<Arc<tokio::sync::Notify>> {
        Some(self.events.clone())
    }

    async fn key_lookup(&self, key_hash: &[u8; 32], now: DateTime<Utc>) -> StoreResult<KeyLookup> {
        keys::key_lookup(self, key_hash, now).await
    }

    async fn key_generation(&self) -> StoreResult<i64> {
        Ok(
            sqlx::query_scalar("SELECT generation FROM key_generation WHERE id = 1")
                .fetch_one(&self.read)
                .await?,
        )
    }

    async fn touch_key(&self, key: KeyId, now: DateTime<Utc>) -> StoreResult<()> {
        keys::touch_key(self, key, now).await
    }

    async fn list_keys(&self) -> StoreResult<Vec<KeyInfo>> {
        keys::list_keys(self).await
    }

    async fn account_of_key(&self, key_hash: &[u8; 32]) -> StoreResult<Option<AccountId>> {
        Ok(
            sqlx::query_scalar("SELECT account_id FROM api_keys WHERE key_hash = ?")
                .bind(&key_hash[..])
                .fetch_optional(&self.read)
                .await?,
        )
    }

    async fn rotate_key(
        &self,
        account: AccountId,
        new_key_hash: &[u8; 32],
        old_expires_at: DateTime<Utc>,
        now: DateTime<Utc>,
    ) -> StoreResult<bool> {
        keys::rotate_key(self, account, new_key_hash, old_expires_at, now).await
    }

    async fn revoke_account(
        &self,
        account: AccountId,
        now: DateTime<Utc>,
        reason: &str,
    ) -> StoreResult<Option<Revoked>> {
        keys::revoke_account(self, account, now, reason).await
    }

    async fn enable_webhook(
        &self,
        account: AccountId,
        id: &WebhookId,
        now: DateTime<Utc>,
        give_up_at: DateTime<Utc>,
    ) -> StoreResult<Option<Webhook>> {
        webhooks::enable_webhook(self, account, id, now, give_up_at).await
    }

    async fn rotate_webhook_secret(
        &self,
        account: AccountId,
        id: &WebhookId,
        secret: &WebhookSecret,
        previous_expires_at: DateTime<Utc>,
    ) -> StoreResult<bool> {
        webhooks::rotate_webhook_secret(self, account, id, secret, previous_expires_at).await
    }

    async fn take_manual_call(
        &self,
        account: AccountId,
        now: DateTime<Utc>,
        per_minute: u32,
    ) -> StoreResult<Result<(), std::time::Duration>> {
        webhooks::take_manual_call(self, account, now, per_minute).await
    }

    async fn bind_engine(
        &self,
        account: AccountId,
        id: &InstanceId,
        engine_ref: &str,
        secret: Option<&EngineSecret>,
    ) -> StoreResult<bool> {
        engines::bind_engine(self, account, id, engine_ref, secret).await
    }

    async fn instance_by_engine_ref(
        &self,
        engine: EngineKind,
        engine_ref: &str,
    ) -> StoreResult<Option<EngineInstance>> {
        engines::instance_by_engine_ref(self, engine, engine_ref).await
    }

    async fn link_provider_message(&self, entry: &Claimed, provider_id: &str) -> StoreResult<()> {
        engines::link_provider_message(self, entry, provider_id).await
    }

    async fn linked_message(&self, entry: &Claimed) -> StoreResult<Option<LinkedMessage>> {
        engines::linked_message(self, entry).await
    }

    async fn mark_sent_with_id(
        &self,
        entry: &Claimed,
        now: DateTime<Utc>,
        event: NewEvent,
        provider_id: Option<&str>,
    ) -> StoreResult<bool> {
        engines::mark_sent_with_id(self, entry, now, event, provider_id).await
    }

    async fn apply_engine_update(
        &self,
        account: AccountId,
        instance: &InstanceId,
        event_key: Option<(EngineKind, &str)>,
        update: EngineUpdate,
        now: DateTime<Utc>,
    ) -> StoreResult<bool> {
        engines::apply_engine_update(self, account, instance, event_key, update, now).await
    }

    async fn replace_groups(
        &self,
        account: AccountId,
        id: &InstanceId,
        groups: &[Group],
    ) -> StoreResult<bool> {
        engines::replace_groups(self, account, id, groups).await
    }

    async fn prune_engine_state(&self, before: DateTime<Utc>) -> StoreResult<u64> {
        engines::prune_engine_state(self, before).await
    }

    async fn create_console_session(
        &self,
        token_hash: &[u8; 32],
        account: AccountId,
        sealed_key: &[u8],
        now: DateTime<Utc>,
        expires_at: DateTime<Utc>,
        max_per_account: u32,
    ) -> StoreResult<()> {
        console::create_session(
            self,
            token_hash,
            account,
            sealed_key,
            now,
            expires_at,
            max_per_account,
        )
        .await
    }

    async fn console_session(
        &self,
        token_hash: &[u8; 32],
        now: DateTime<Utc>,
    ) -> StoreResult<Option<ConsoleSessionRow>> {
        console::session(self, token_hash, now).await
    }

    async fn delete_console_session(&self, token_hash: &[u8; 32]) -> StoreResult<()> {
        console::delete_session(self, token_hash).await
    }

    async fn console_sign_in_wait(
        &self,
        client: &str,
        now: DateTime<Utc>,
        per_minute: u32,
    ) -> StoreResult<Option<Duration>> {
        console::sign_in_wait(self, client, now, per_minute).await
    }

    async fn record_console_sign_in_failure(
        &self,
        client: &str,
        now: DateTime<Utc>,
    ) -> StoreResult<()> {
        console::record_sign_in_failure(self, client, now).await
    }

    async fn recent_queue_entries(
        &self,
        account: AccountId,
        filter: &QueueFilter,
        limit: u32,
    ) -> StoreResult<Vec<QueueEntry>> {
        console::recent_entries(self, account, filter, limit).await
    }
}
