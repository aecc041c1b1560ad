//! The embedded default: SQLite in WAL mode under the data directory.
//!
//! Reads go through a small pool; writes through one connection (SQLite has one writer
//! anyway). Queue inserts, the hot path, go through a group-commit task: concurrent sends
//! are written in one transaction and each caller is answered once that commit is on
//! disk (`synchronous = FULL`), so a reply always means durable.

use std::collections::HashMap;
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
use sevenoways_sdk::models::webhooks::{
    DeliveryAttempt, Event, EventData, InstanceEvent, MessageEvent, MessageFailed,
};
use sevenoways_sdk::{ChannelId, Content, InstanceId, NewsletterJid, QueueId, ScheduleId};
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};
use sqlx::{Row, SqliteConnection, SqlitePool};
use tokio::sync::{mpsc, oneshot};

use super::*;
use crate::limits;

static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("./migrations/sqlite");

/// A [`Store`] on an SQLite file.
#[derive(Clone)]
pub struct SqliteStore {
    read: SqlitePool,
    write: SqlitePool,
    enqueue_tx: mpsc::Sender<EnqueueJob>,
}

/// One caller's entries, admitted under its plan first when `admission` is set.
struct EnqueueJob {
    entries: Vec<NewEntry>,
    admission: Option<Admission>,
    reply: oneshot::Sender<StoreResult<Result<Vec<QueueId>, Refusal>>>,
}

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

impl SqliteStore {
    async fn send_job(
        &self,
        entries: Vec<NewEntry>,
        admission: Option<Admission>,
    ) -> StoreResult<Result<Vec<QueueId>, Refusal>> {
        let (reply, rx) = oneshot::channel();
        self.enqueue_tx
            .send(EnqueueJob {
                entries,
                admission,
                reply,
            })
            .await
            .map_err(|_| StoreError::Corrupt("queue writer stopped".into()))?;
        rx.await
            .map_err(|_| StoreError::Corrupt("queue writer stopped".into()))?
    }
}

/// The group-commit loop: take every job waiting, write them in one transaction, answer
/// each. Runs on its own connection so queue writes never wait behind a slow request.
///
/// The rate limit and caps are checked here, inside the same transaction as the queue
/// insert, rather than in a transaction of their own per request: a burst of sends then
/// costs one commit (one fsync) for the whole batch instead of two per request, and the
/// check and the insert cannot disagree (no admitted-but-not-queued request after a
/// crash). The jobs of a batch are admitted one after another inside the transaction,
/// and transactions are serialised by SQLite's write lock (`BEGIN IMMEDIATE`), so
/// concurrent requests, and other processes on the same database, see each other's
/// admissions: 200 simultaneous requests let exactly the allowance through.
async fn group_commit(mut conn: SqliteConnection, mut rx: mpsc::Receiver<EnqueueJob>) {
    let mut jobs: Vec<EnqueueJob> = Vec::new();
    while let Some(first) = rx.recv().await {
        let mut entries = first.entries.len();
        jobs.push(first);
        while entries < MAX_BATCH_ENTRIES {
            match rx.try_recv() {
                Ok(job) => {
                    entries += job.entries.len();
                    jobs.push(job);
                }
                Err(_) => break,
            }
        }
        match insert_batch(&mut conn, &jobs).await {
            Ok(results) => {
                for (job, result) in jobs.drain(..).zip(results) {
                    let _ = job.reply.send(Ok(result));
                }
            }
            Err(e) => {
                let msg = e.to_string();
                for job in jobs.drain(..) {
                    let _ = job.reply.send(Err(StoreError::Corrupt(format!(
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
) -> Result<Vec<Result<Vec<QueueId>, Refusal>>, sqlx::Error> {
    let now = millis(Utc::now());
    // IMMEDIATE: the admission reads before it writes; a deferred transaction could not
    // upgrade to a write after another connection committed (SQLITE_BUSY_SNAPSHOT).
    let mut tx = sqlx::Connection::begin_with(conn, "BEGIN IMMEDIATE").await?;
    let verdicts = admit_batch(&mut tx, jobs).await?;
    let entries: Vec<&NewEntry> = jobs
        .iter()
        .zip(&verdicts)
        .filter(|(_, verdict)| verdict.is_ok())
        .flat_map(|(job, _)| &job.entries)
        .collect();
    let ids = insert_queued(&mut tx, &entries, now).await?;
    tx.commit().await?;
    let mut ids = ids.into_iter();
    Ok(jobs
        .iter()
        .zip(verdicts)
        .map(|(job, verdict)| verdict.map(|()| ids.by_ref().take(job.entries.len()).collect()))
        .collect())
}

/// Inserts `queued` entries with multi-row INSERTs; returns their ids in order.
async fn insert_queued(
    conn: &mut SqliteConnection,
    entries: &[&NewEntry],
    now: i64,
) -> Result<Vec<QueueId>, sqlx::Error> {
    /// Rows per INSERT: 9 parameters each stays well under SQLite's 32766-parameter limit.
    const ROWS_PER_STATEMENT: usize = 500;
    let mut ids = Vec::with_capacity(entries.len());
    for chunk in entries.chunks(ROWS_PER_STATEMENT) {
        let mut sql = String::from(
            "INSERT INTO queue (account_id, instance_id, recipient, recipient_kind, content, status,
                                next_attempt_at, schedule_id, created_at, updated_at) VALUES ",
        );
        for i in 0..chunk.len() {
            sql.push_str(if i == 0 {
                "(?, ?, ?, ?, ?, 'queued', ?, ?, ?, ?)"
            } else {
                ", (?, ?, ?, ?, ?, 'queued', ?, ?, ?, ?)"
            });
        }
        let mut query = sqlx::query(&sql);
        for entry in chunk {
            query = query
                .bind(entry.account_id)
                .bind(entry.instance_id.as_str())
                .bind(&entry.to)
                .bind(entry.kind.as_str())
                .bind(serde_json::to_string(&entry.content).expect("content serialises"))
                .bind(now)
                .bind(entry.schedule_id.as_ref().map(|s| s.as_str()))
                .bind(now)
                .bind(now);
        }
        let last = query.execute(&mut *conn).await?.last_insert_rowid();
        // One writer holds the database for the whole transaction and the table is
        // AUTOINCREMENT, so a multi-row INSERT takes consecutive ids ending at `last`.
        // (RETURNING would give them too, but in no guaranteed order.)
        let first = last - chunk.len() as i64 + 1;
        ids.extend((first..=last).map(|id| QueueId(id as u64)));
    }
    Ok(ids)
}

/// Inserts one queue entry: `queued`, or `failed` with `error`.
async fn insert_entry(
    conn: &mut SqliteConnection,
    entry: &NewEntry,
    error: Option<&str>,
    now: i64,
) -> Result<QueueId, sqlx::Error> {
    let content = serde_json::to_string(&entry.content).expect("content serialises");
    let id: i64 = sqlx::query_scalar(
        "INSERT INTO queue (account_id, instance_id, recipient, recipient_kind, content, status,
                            error, next_attempt_at, schedule_id, created_at, updated_at)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING id",
    )
    .bind(entry.account_id)
    .bind(entry.instance_id.as_str())
    .bind(&entry.to)
    .bind(entry.kind.as_str())
    .bind(content)
    .bind(if error.is_some() { "failed" } else { "queued" })
    .bind(error)
    .bind(now)
    .bind(entry.schedule_id.as_ref().map(|s| s.as_str()))
    .bind(now)
    .bind(now)
    .fetch_one(&mut *conn)
    .await?;
    Ok(QueueId(id as u64))
}

/// One account's limits state inside a batch: read from the database once, decided
/// in memory job by job, written back once. A hot account costs a handful of statements
/// per group commit rather than several per request, which is what lets the accept path
/// keep up with tens of thousands of sends a second.
#[derive(Default)]
struct AccountLimits {
    /// Admission times in the last minute, loaded when a plan has a rate limit.
    window: Option<Vec<i64>>,
    /// Times admitted in this batch, to insert.
    admitted: Vec<i64>,
    /// Message counters by period, and whether this batch changed them.
    counters: HashMap<String, (u64, bool)>,
}

/// The rate limit, then the caps, for each job in arrival order (see [`crate::limits`]
/// for the rules; this is only their storage). A refused job counts nothing; admitted
/// jobs count one request and one message per entry.
async fn admit_batch(
    conn: &mut SqliteConnection,
    jobs: &[EnqueueJob],
) -> Result<Vec<Result<(), Refusal>>, sqlx::Error> {
    let mut accounts: HashMap<AccountId, AccountLimits> = HashMap::new();
    let mut verdicts = Vec::with_capacity(jobs.len());
    for job in jobs {
        let Some(admission) = &job.admission else {
            verdicts.push(Ok(()));
            continue;
        };
        let state = accounts.entry(admission.account_id).or_default();
        verdicts.push(admit_one(conn, state, admission, job.entries.len() as u64).await?);
    }
    for (account, state) in &accounts {
        if let Some(&latest) = state.admitted.iter().max() {
            sqlx::query("DELETE FROM rate_window WHERE account_id = ? AND at <= ?")
                .bind(account)
                .bind(latest - limits::WINDOW_MS)
                .execute(&mut *conn)
                .await?;
            for chunk in state.admitted.chunks(400) {
                let mut sql =
                    String::from("INSERT INTO rate_window (account_id, at) VALUES (?, ?)");
                for _ in 1..chunk.len() {
                    sql.push_str(", (?, ?)");
                }
                let mut query = sqlx::query(&sql);
                for at in chunk {
                    query = query.bind(account).bind(at);
                }
                query.execute(&mut *conn).await?;
            }
        }
        for (period, (count, changed)) in &state.counters {
            if *changed {
                sqlx::query(
                    "INSERT INTO usage_counters (account_id, period, count) VALUES (?, ?, ?)
                     ON CONFLICT (account_id, period) DO UPDATE SET count = excluded.count",
                )
                .bind(account)
                .bind(period)
                .bind(*count as i64)
                .execute(&mut *conn)
                .await?;
            }
        }
    }
    Ok(verdicts)
}

async fn admit_one(
    conn: &mut SqliteConnection,
    state: &mut AccountLimits,
    admission: &Admission,
    messages: u64,
) -> Result<Result<(), Refusal>, sqlx::Error> {
    let account = admission.account_id;
    let now = millis(admission.now);
    let limit = admission.limits.requests_per_minute;
    if limit > 0 {
        if state.window.is_none() {
            state.window = Some(
                sqlx::query_scalar("SELECT at FROM rate_window WHERE account_id = ? AND at > ?")
                    .bind(account)
                    .bind(now - limits::WINDOW_MS)
                    .fetch_all(&mut *conn)
                    .await?,
            );
        }
        let window = state.window.as_deref().unwrap_or_default();
        if let Err(retry_at) = limits::admit_request(window, now, limit) {
            return Ok(Err(Refusal::RateLimited {
                limit,
                retry_at: from_millis(retry_at),
            }));
        }
    }
    let periods = limits::periods(admission.now, admission.limits.timezone);
    let mut counts = [0u64; 2];
    for (i, period) in [&periods.day, &periods.month].into_iter().enumerate() {
        if !state.counters.contains_key(period.as_str()) {
            let n: Option<i64> = sqlx::query_scalar(
                "SELECT count FROM usage_counters WHERE account_id = ? AND period = ?",
            )
            .bind(account)
            .bind(period)
            .fetch_optional(&mut *conn)
            .await?;
            state
                .counters
                .insert(period.clone(), (n.unwrap_or(0).max(0) as u64, false));
        }
        counts[i] = state.counters[period.as_str()].0;
    }
    if let Err(refusal) =
        limits::check_caps(&admission.limits, &periods, counts[0], counts[1], messages)
    {
        return Ok(Err(refusal));
    }
    if limit > 0 {
        state.window.get_or_insert_with(Vec::new).push(now);
        state.admitted.push(now);
    }
    for period in [&periods.day, &periods.month] {
        if let Some(entry) = state.counters.get_mut(period.as_str()) {
            *entry = (entry.0 + messages, true);
        }
    }
    Ok(Ok(()))
}

async fn read_counters(
    conn: &mut SqliteConnection,
    account: AccountId,
    periods: &Periods,
) -> Result<(u64, u64), sqlx::Error> {
    let mut counts = [0u64; 2];
    for (i, period) in [&periods.day, &periods.month].into_iter().enumerate() {
        let n: Option<i64> = sqlx::query_scalar(
            "SELECT count FROM usage_counters WHERE account_id = ? AND period = ?",
        )
        .bind(account)
        .bind(period)
        .fetch_optional(&mut *conn)
        .await?;
        counts[i] = n.unwrap_or(0).max(0) as u64;
    }
    Ok((counts[0], counts[1]))
}

async fn count_messages(
    conn: &mut SqliteConnection,
    account: AccountId,
    periods: &Periods,
    messages: u64,
) -> Result<(), sqlx::Error> {
    if messages == 0 {
        return Ok(());
    }
    for period in [&periods.day, &periods.month] {
        sqlx::query(
            "INSERT INTO usage_counters (account_id, period, count) VALUES (?, ?, ?)
             ON CONFLICT (account_id, period) DO UPDATE SET count = count + excluded.count",
        )
        .bind(account)
        .bind(period)
        .bind(messages as i64)
        .execute(&mut *conn)
        .await?;
    }
    Ok(())
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
                "instance \"{id}\" already exists"
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

    async fn set_instance_status(
        &self,
        account: AccountId,
        id: &InstanceId,
        status: InstanceStatus,
        phone: Option<&str>,
        event: Option<NewEvent>,
    ) -> StoreResult<bool> {
        // IMMEDIATE: this reads before it writes (see `insert_batch`).
        let mut tx = self.write.begin_with("BEGIN IMMEDIATE").await?;
        let before: Option<String> = sqlx::query_scalar(
            "SELECT status FROM instances WHERE account_id = ? AND instance_id = ?",
        )
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
                lease: millis(lease_until),
            });
        }
        tx.commit().await?;
        Ok(claimed)
    }

    async fn mark_sent(
        &self,
        entry: &Claimed,
        now: DateTime<Utc>,
        event: NewEvent,
    ) -> StoreResult<bool> {
        let mut tx = self.write.begin().await?;
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
        if held {
            insert_event_for(&mut tx, event.account_id, event).await?;
        }
        tx.commit().await?;
        Ok(held)
    }

    async fn mark_retry(
        &self,
        entry: &Claimed,
        at: DateTime<Utc>,
        reason: &str,
    ) -> StoreResult<bool> {
        Ok(sqlx::query(
            "UPDATE queue SET status = 'queued', next_attempt_at = ?, error = ?, lease_until = NULL, updated_at = ?
             WHERE id = ? AND status = 'sending' AND lease_until = ?",
        )
        .bind(millis(at))
        .bind(reason)
        .bind(millis(Utc::now()))
        .bind(entry.id.0 as i64)
        .bind(entry.lease)
        .execute(&self.write)
        .await?
        .rows_affected()
            == 1)
    }

    async fn mark_failed(
        &self,
        entry: &Claimed,
        now: DateTime<Utc>,
        reason: &str,
        event: NewEvent,
    ) -> StoreResult<bool> {
        let mut tx = self.write.begin().await?;
        let held = sqlx::query(
            "UPDATE queue SET status = 'failed', error = ?, lease_until = NULL, updated_at = ?
             WHERE id = ? AND status = 'sending' AND lease_until = ?",
        )
        .bind(reason)
        .bind(millis(now))
        .bind(entry.id.0 as i64)
        .bind(entry.lease)
        .execute(&mut *tx)
        .await?
        .rows_affected()
            == 1;
        if held {
            insert_event_for(&mut tx, event.account_id, event).await?;
        }
        tx.commit().await?;
        Ok(held)
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

    async fn fire_due_schedules(
        &self,
        now: DateTime<Utc>,
        plans: &Plans,
        next: NextRunFn,
        limit: u32,
    ) -> StoreResult<Vec<FiredSchedule>> {
        let now_ms = millis(now);
        // A cheap look first, so idle ticks never take the write lock.
        let any: bool = sqlx::query_scalar(
            "SELECT EXISTS(SELECT 1 FROM schedules WHERE next_run_at IS NOT NULL AND next_run_at <= ?)",
        )
        .bind(now_ms)
        .fetch_one(&self.read)
        .await?;
        if !any {
            return Ok(Vec::new());
        }
        // IMMEDIATE: this claims (reads, then writes); with several processes on one
        // database the second waits for the first's commit and then sees the schedule
        // already advanced.
        let mut tx = self.write.begin_with("BEGIN IMMEDIATE").await?;
        let rows = sqlx::query(
            "SELECT s.*, a.plan AS plan FROM schedules s JOIN accounts a ON a.id = s.account_id
             WHERE s.next_run_at IS NOT NULL AND s.next_run_at <= ?
             ORDER BY s.next_run_at, s.id LIMIT ?",
        )
        .bind(now_ms)
        .bind(limit as i64)
        .fetch_all(&mut *tx)
        .await?;
        let mut fired = Vec::with_capacity(rows.len());
        for row in &rows {
            let account_id: AccountId = row.try_get("account_id")?;
            let raw_id: String = row.try_get("id")?;
            let plan: String = row.try_get("plan")?;
            let planned = match schedule_row(row) {
                Ok(schedule) => {
                    let groups = groups_of(&mut tx, account_id, &schedule.spec.instance_id).await?;
                    crate::scheduler::plan_run(account_id, &schedule, &groups)
                        .map(|run| (schedule, run))
                        .map_err(|e| corrupt("schedule", e))
                }
                Err(e) => Err(e),
            };
            let (schedule, run) = match planned {
                Ok(planned) => planned,
                Err(e) => {
                    // A row that cannot run (hand-edited) must not block the others.
                    tracing::warn!(schedule = %raw_id, error = %e, "schedule cannot run; disabled");
                    sqlx::query("UPDATE schedules SET next_run_at = NULL WHERE id = ?")
                        .bind(&raw_id)
                        .execute(&mut *tx)
                        .await?;
                    continue;
                }
            };
            let next_run = next(&schedule.spec, now);
            sqlx::query("UPDATE schedules SET next_run_at = ?, last_run_at = ? WHERE id = ?")
                .bind(next_run.map(millis))
                .bind(now_ms)
                .bind(schedule.id.as_str())
                .execute(&mut *tx)
                .await?;
            // Caps count scheduled messages too; the rate limit is for API requests.
            let limits = plans.get(&plan);
            let periods = limits::periods(now, limits.timezone);
            let (day, month) = read_counters(&mut tx, account_id, &periods).await?;
            let refusal =
                limits::check_caps(limits, &periods, day, month, run.entries.len() as u64).err();
            let mut queued = Vec::new();
            let mut failed: Vec<(QueueId, NewEntry, String)> = Vec::new();
            match &refusal {
                None => {
                    count_messages(&mut tx, account_id, &periods, run.entries.len() as u64).await?;
                    for entry in &run.entries {
                        queued.push(insert_entry(&mut tx, entry, None, now_ms).await?);
                    }
                }
                Some(refusal) => {
                    let reason = refusal.message();
                    for entry in run.entries {
                        let id = insert_entry(&mut tx, &entry, Some(&reason), now_ms).await?;
                        failed.push((id, entry, reason.clone()));
                    }
                }
            }
            for (entry, reason) in run.unresolved {
                let id = insert_entry(&mut tx, &entry, Some(&reason), now_ms).await?;
                failed.push((id, entry, reason));
            }
            let mut failed_ids = Vec::with_capacity(failed.len());
            for (queue_id, entry, reason) in failed {
                let event = NewEvent {
                    account_id,
                    instance_id: entry.instance_id.clone(),
                    data: EventData::MessageFailed(MessageFailed {
                        queue_id,
                        to: entry.to,
                        error: reason,
                        attempts: 0,
                    }),
                };
                insert_event_for(&mut tx, account_id, event).await?;
                failed_ids.push(queue_id);
            }
            fired.push(FiredSchedule {
                account_id,
                schedule_id: schedule.id,
                queued,
                failed: failed_ids,
                next_run_at: next_run,
            });
        }
        tx.commit().await?;
        Ok(fired)
    }

    async fn usage(
        &self,
        account: AccountId,
        periods: &Periods,
        now: DateTime<Utc>,
    ) -> StoreResult<UsageSnapshot> {
        let mut conn = self.read.acquire().await?;
        let window: Vec<i64> =
            sqlx::query_scalar("SELECT at FROM rate_window WHERE account_id = ? AND at > ?")
                .bind(account)
                .bind(millis(now) - limits::WINDOW_MS)
                .fetch_all(&mut *conn)
                .await?;
        let (day, month) = read_counters(&mut conn, account, periods).await?;
        Ok(UsageSnapshot { window, day, month })
    }

    async fn create_webhook(
        &self,
        account: AccountId,
        webhook: &Webhook,
        secret: &WebhookSecret,
    ) -> StoreResult<()> {
        sqlx::query(
            "INSERT INTO webhooks (id, account_id, url, events, secret, created_at) VALUES (?, ?, ?, ?, ?, ?)",
        )
        .bind(webhook.id.as_str())
        .bind(account)
        .bind(&webhook.url)
        .bind(serde_json::to_string(&webhook.events).expect("strings serialise"))
        .bind(secret.expose())
        .bind(millis(webhook.created_at))
        .execute(&self.write)
        .await?;
        Ok(())
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
        let mut tx = self.write.begin().await?;
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

    async fn queue_test_event(
        &self,
        account: AccountId,
        id: &WebhookId,
        event: NewEvent,
        now: DateTime<Utc>,
        give_up_at: DateTime<Utc>,
    ) -> StoreResult<bool> {
        let mut tx = self.write.begin_with("BEGIN IMMEDIATE").await?;
        let exists: Option<i64> =
            sqlx::query_scalar("SELECT 1 FROM webhooks WHERE account_id = ? AND id = ?")
                .bind(account)
                .bind(id.as_str())
                .fetch_optional(&mut *tx)
                .await?;
        if exists.is_none() {
            return Ok(false);
        }
        let event_id = insert_event_for(&mut tx, account, event).await?;
        // Already fanned out: to this subscription only.
        sqlx::query("UPDATE events SET dispatched = 1 WHERE id = ?")
            .bind(&event_id)
            .execute(&mut *tx)
            .await?;
        insert_delivery(&mut tx, id.as_str(), account, &event_id, now, give_up_at).await?;
        tx.commit().await?;
        Ok(true)
    }

    async fn dispatch_events(
        &self,
        now: DateTime<Utc>,
        give_up_at: DateTime<Utc>,
        limit: u32,
    ) -> StoreResult<u64> {
        let any: bool =
            sqlx::query_scalar("SELECT EXISTS(SELECT 1 FROM events WHERE dispatched = 0)")
                .fetch_one(&self.read)
                .await?;
        if !any {
            return Ok(0);
        }
        let mut tx = self.write.begin_with("BEGIN IMMEDIATE").await?;
        let events: Vec<(String, i64, AccountId, String)> = sqlx::query_as(
            "SELECT id, seq, account_id, event_type FROM events WHERE dispatched = 0 ORDER BY seq LIMIT ?",
        )
        .bind(limit as i64)
        .fetch_all(&mut *tx)
        .await?;
        let Some(last_seq) = events.last().map(|e| e.1) else {
            return Ok(0);
        };
        let mut hooks: std::collections::HashMap<AccountId, Vec<Webhook>> = Default::default();
        let mut created = 0;
        for (event_id, _, account, event_type) in &events {
            if !hooks.contains_key(account) {
                let rows = sqlx::query(
                    "SELECT id, url, events, created_at FROM webhooks WHERE account_id = ? ORDER BY created_at, id",
                )
                .bind(account)
                .fetch_all(&mut *tx)
                .await?;
                let list = rows
                    .iter()
                    .map(webhook_row)
                    .collect::<StoreResult<Vec<_>>>()?;
                hooks.insert(*account, list);
            }
            for hook in &hooks[account] {
                if hook.events.is_empty() || hook.events.iter().any(|e| e == event_type) {
                    insert_delivery(
                        &mut tx,
                        hook.id.as_str(),
                        *account,
                        event_id,
                        now,
                        give_up_at,
                    )
                    .await?;
                    created += 1;
                }
            }
        }
        sqlx::query("UPDATE events SET dispatched = 1 WHERE dispatched = 0 AND seq <= ?")
            .bind(last_seq)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(created)
    }

    async fn claim_deliveries(
        &self,
        now: DateTime<Utc>,
        lease_until: DateTime<Utc>,
        limit: u32,
    ) -> StoreResult<Vec<ClaimedDelivery>> {
        let now_ms = millis(now);
        let any: bool = sqlx::query_scalar(
            "SELECT EXISTS(SELECT 1 FROM webhook_deliveries WHERE status = 'pending'
                AND next_attempt_at <= ? AND (lease_until IS NULL OR lease_until < ?))",
        )
        .bind(now_ms)
        .bind(now_ms)
        .fetch_one(&self.read)
        .await?;
        if !any {
            return Ok(Vec::new());
        }
        let mut tx = self.write.begin_with("BEGIN IMMEDIATE").await?;
        let rows = sqlx::query(
            "UPDATE webhook_deliveries SET lease_until = ?, attempts = attempts + 1, updated_at = ?
             WHERE id IN (
                SELECT id FROM webhook_deliveries
                WHERE status = 'pending' AND next_attempt_at <= ?
                  AND (lease_until IS NULL OR lease_until < ?)
                ORDER BY next_attempt_at, created_at LIMIT ?)
             RETURNING id, webhook_id, event_id, attempts, give_up_at",
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
            let id: String = row.try_get("id")?;
            let webhook_id: String = row.try_get("webhook_id")?;
            let event_id: String = row.try_get("event_id")?;
            let target = sqlx::query(
                "SELECT w.url, w.secret, e.payload, e.event_type FROM webhooks w, events e
                 WHERE w.id = ? AND e.id = ?",
            )
            .bind(&webhook_id)
            .bind(&event_id)
            .fetch_optional(&mut *tx)
            .await?;
            let Some(target) = target else {
                // The subscription went away between the fan-out and now.
                sqlx::query("UPDATE webhook_deliveries SET status = 'failed', lease_until = NULL, last_error = 'webhook deleted' WHERE id = ?")
                    .bind(&id)
                    .execute(&mut *tx)
                    .await?;
                continue;
            };
            claimed.push(ClaimedDelivery {
                id,
                webhook_id: WebhookId::new(&webhook_id).map_err(|e| corrupt("webhook id", e))?,
                url: target.try_get("url")?,
                secret: WebhookSecret::new(target.try_get::<String, _>("secret")?),
                event_id,
                event_type: target.try_get("event_type")?,
                payload: target.try_get("payload")?,
                attempt: row.try_get::<i64, _>("attempts")? as u32,
                give_up_at: from_millis(row.try_get("give_up_at")?),
            });
        }
        tx.commit().await?;
        Ok(claimed)
    }

    async fn record_attempt(&self, record: &AttemptRecord) -> StoreResult<()> {
        let now = millis(Utc::now());
        let (status, next) = match record.outcome {
            AttemptOutcome::Succeeded => ("succeeded", None),
            AttemptOutcome::RetryAt(at) => ("pending", Some(millis(at))),
            AttemptOutcome::GaveUp => ("failed", None),
        };
        let mut tx = self.write.begin().await?;
        sqlx::query(
            "INSERT OR REPLACE INTO webhook_attempts (delivery_id, attempt, started_at, response_code, latency_ms, error)
             VALUES (?, ?, ?, ?, ?, ?)",
        )
        .bind(&record.delivery_id)
        .bind(record.attempt as i64)
        .bind(millis(record.started_at))
        .bind(record.response_code.map(i64::from))
        .bind(record.latency_ms as i64)
        .bind(&record.error)
        .execute(&mut *tx)
        .await?;
        sqlx::query(
            "UPDATE webhook_deliveries SET status = ?, next_attempt_at = COALESCE(?, next_attempt_at),
                    lease_until = NULL, response_code = ?, latency_ms = ?, last_error = ?, updated_at = ?
             WHERE id = ?",
        )
        .bind(status)
        .bind(next)
        .bind(record.response_code.map(i64::from))
        .bind(record.latency_ms as i64)
        .bind(&record.error)
        .bind(now)
        .bind(&record.delivery_id)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(())
    }

    async fn release_deliveries(&self, ids: &[String]) -> StoreResult<()> {
        let mut tx = self.write.begin().await?;
        for id in ids {
            sqlx::query(
                "UPDATE webhook_deliveries SET lease_until = NULL, attempts = MAX(attempts - 1, 0)
                 WHERE id = ? AND status = 'pending' AND lease_until IS NOT NULL",
            )
            .bind(id)
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
        let mut conn = self.read.acquire().await?;
        let exists: Option<i64> =
            sqlx::query_scalar("SELECT 1 FROM webhooks WHERE account_id = ? AND id = ?")
                .bind(account)
                .bind(id.as_str())
                .fetch_optional(&mut *conn)
                .await?;
        if exists.is_none() {
            return Ok(None);
        }
        sqlx::query(
            "SELECT d.*, e.event_type FROM webhook_deliveries d JOIN events e ON e.id = d.event_id
             WHERE d.account_id = ? AND d.webhook_id = ?
             ORDER BY d.created_at DESC, d.rowid DESC LIMIT ?",
        )
        .bind(account)
        .bind(id.as_str())
        .bind(limit as i64)
        .fetch_all(&mut *conn)
        .await?
        .iter()
        .map(delivery_row)
        .collect::<StoreResult<Vec<_>>>()
        .map(Some)
    }

    async fn get_delivery(
        &self,
        account: AccountId,
        id: &WebhookId,
        delivery_id: &str,
    ) -> StoreResult<Option<DeliveryDetail>> {
        let mut conn = self.read.acquire().await?;
        let row = sqlx::query(
            "SELECT d.*, e.event_type FROM webhook_deliveries d JOIN events e ON e.id = d.event_id
             WHERE d.account_id = ? AND d.webhook_id = ? AND d.id = ?",
        )
        .bind(account)
        .bind(id.as_str())
        .bind(delivery_id)
        .fetch_optional(&mut *conn)
        .await?;
        let Some(row) = row else { return Ok(None) };
        let delivery = delivery_row(&row)?;
        let attempts =
            sqlx::query("SELECT * FROM webhook_attempts WHERE delivery_id = ? ORDER BY attempt")
                .bind(delivery_id)
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

    async fn redeliver(
        &self,
        account: AccountId,
        id: &WebhookId,
        delivery_id: &str,
        now: DateTime<Utc>,
        give_up_at: DateTime<Utc>,
    ) -> StoreResult<bool> {
        Ok(sqlx::query(
            "UPDATE webhook_deliveries SET status = 'pending', next_attempt_at = ?, give_up_at = ?, updated_at = ?
             WHERE account_id = ? AND webhook_id = ? AND id = ?",
        )
        .bind(millis(now))
        .bind(millis(give_up_at))
        .bind(millis(now))
        .bind(account)
        .bind(id.as_str())
        .bind(delivery_id)
        .execute(&self.write)
        .await?
        .rows_affected()
            > 0)
    }
}

/// The groups of an instance, inside a transaction.
async fn groups_of(
    conn: &mut SqliteConnection,
    account: AccountId,
    instance: &InstanceId,
) -> StoreResult<Vec<Group>> {
    sqlx::query(
        "SELECT group_id, name, participants FROM groups WHERE account_id = ? AND instance_id = ?
         ORDER BY name_lower, group_id",
    )
    .bind(account)
    .bind(instance.as_str())
    .fetch_all(&mut *conn)
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

/// A pending delivery of an event to a subscription, due now.
async fn insert_delivery(
    conn: &mut SqliteConnection,
    webhook_id: &str,
    account: AccountId,
    event_id: &str,
    now: DateTime<Utc>,
    give_up_at: DateTime<Utc>,
) -> StoreResult<()> {
    sqlx::query(
        "INSERT INTO webhook_deliveries (id, webhook_id, account_id, event_id, status, attempts,
                                         next_attempt_at, give_up_at, created_at, updated_at)
         VALUES (?, ?, ?, ?, 'pending', 0, ?, ?, ?, ?)",
    )
    .bind(random_id("dlv_"))
    .bind(webhook_id)
    .bind(account)
    .bind(event_id)
    .bind(millis(now))
    .bind(millis(give_up_at))
    .bind(millis(now))
    .bind(millis(now))
    .execute(&mut *conn)
    .await?;
    Ok(())
}

fn webhook_row(row: &sqlx::sqlite::SqliteRow) -> StoreResult<Webhook> {
    Ok(Webhook {
        id: WebhookId::new(row.try_get::<&str, _>("id")?).map_err(|e| corrupt("webhook id", e))?,
        url: row.try_get("url")?,
        events: serde_json::from_str(row.try_get::<&str, _>("events")?)
            .map_err(|e| corrupt("webhook events", e))?,
        created_at: from_millis(row.try_get("created_at")?),
    })
}

fn delivery_row(row: &sqlx::sqlite::SqliteRow) -> StoreResult<Delivery> {
    let status: String = row.try_get("status")?;
    Ok(Delivery {
        id: row.try_get("id")?,
        event_id: row.try_get("event_id")?,
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
async fn insert_event_for(
    conn: &mut SqliteConnection,
    account: AccountId,
    event: NewEvent,
) -> StoreResult<String> {
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
    Ok(event.id)
}

impl FromStr for RecipientKind {
    type Err = ();
    fn from_str(s: &str) -> Result<Self, ()> {
        Self::parse(s).ok_or(())
    }
}
