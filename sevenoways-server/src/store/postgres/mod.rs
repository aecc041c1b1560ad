//! Postgres: the backend for several replicas on one database (`--database-url`).
//!
//! The same tables and columns as [`super::sqlite`] (migrations/postgres), and the same
//! guarantees, kept across processes instead of by SQLite's single writer:
//! - sends are committed before they are answered, through a group commit (many requests,
//!   one transaction);
//! - claims (queue entries, webhook deliveries, due schedules) take rows with
//!   `FOR UPDATE SKIP LOCKED`, so each is held by one replica at a time, under a lease;
//! - what SQLite serialised with `BEGIN IMMEDIATE` (a quota's count and its insert, a
//!   send's limit check and its insert) takes a transaction-scoped advisory lock on the
//!   account (`lock_account`), so the check and the write are one step for every replica;
//! - migrations run under sqlx's advisory lock: of several replicas starting at once one
//!   migrates and the others wait.

mod accounts;
mod console;
mod engines;
mod idempotency;
mod keys;
mod limits;
mod ops;
mod queue;
mod schedules;
mod webhooks;

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
use sqlx::postgres::{PgConnectOptions, PgPool, PgPoolOptions, PgRow};
use sqlx::{PgConnection, Row};

use super::*;
use crate::time::{from_millis, millis};

/// A [`Store`] on a Postgres database, shared by any number of server processes.
#[derive(Clone)]
pub struct PgStore {
    pool: PgPool,
    /// This process's group commit, where sends are written (see [`queue`]).
    writer: queue::Writer,
    /// Seals webhook and engine secrets at rest, when configured (see [`crate::secrets`]).
    secrets_key: Option<Arc<crate::secrets::SecretsKey>>,
    /// Rung when any replica commits events ([`Store::events_committed`]).
    events: Arc<tokio::sync::Notify>,
    /// The task that listens for them; stopped with the last clone of the store.
    _listening: Arc<AbortOnDrop>,
}

/// The channel the `events_committed` trigger notifies (migration 0004).
const EVENTS_CHANNEL: &str = "sevenoways_events";

/// Aborts a task when dropped.
struct AbortOnDrop(tokio::task::AbortHandle);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// Rings `events` whenever a transaction that inserted events commits, on any replica,
/// on a connection of its own (sqlx's `PgListener` reconnects by itself; notifications
/// sent while it is away are lost, and the delivery loop's poll finds those events).
async fn listen_for_events(options: PgConnectOptions, events: Arc<tokio::sync::Notify>) {
    let pool = PgPoolOptions::new()
        .max_connections(1)
        .max_lifetime(None)
        .idle_timeout(None)
        .connect_lazy_with(options);
    let mut failing = false;
    loop {
        let listened = async {
            let mut listener = sqlx::postgres::PgListener::connect_with(&pool).await?;
            listener.listen(EVENTS_CHANNEL).await?;
            if failing {
                tracing::info!("listening for committed events again");
                failing = false;
            }
            loop {
                listener.recv().await?;
                events.notify_one();
            }
        };
        let Err::<std::convert::Infallible, sqlx::Error>(e) = listened.await;
        if !failing {
            tracing::warn!(error = %e, "cannot listen for committed events; webhooks wait for the poll meanwhile");
            failing = true;
        }
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
}

impl std::fmt::Debug for PgStore {
    // The pool's options hold the password: never printed.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PgStore").finish_non_exhaustive()
    }
}

/// Connections per process unless configured (`[database] max_connections`): the group
/// commit holds one, workers and handlers share the rest.
const POOL_SIZE: u32 = 16;

/// The fewest connections a pool gets, whatever is configured: one for the group commit
/// and two for everything else (handlers, workers, the scheduler, `/readyz`).
const MIN_POOL_SIZE: u32 = 3;

impl PgStore {
    /// Connects to `url` (`postgres://user:password@host/db`) and applies the migrations.
    /// Several processes may do this at once: one migrates, the others wait for it.
    pub async fn open(url: &str) -> StoreResult<Self> {
        Self::open_pool(url, POOL_SIZE).await
    }

    /// [`PgStore::open`] with at most `max_connections` connections.
    pub async fn open_pool(url: &str, max_connections: u32) -> StoreResult<Self> {
        // The parse error would quote the URL, password and all: say what is wrong only.
        let options: PgConnectOptions = url.parse().map_err(|_| {
            StoreError::Backend("the database URL is not a valid postgres:// URL".into())
        })?;
        let pool = PgPoolOptions::new()
            .max_connections(max_connections.max(MIN_POOL_SIZE))
            .acquire_timeout(Duration::from_secs(10))
            .connect_with(options.clone())
            .await?;
        super::migrations::postgres()
            .await
            .map_err(|e| StoreError::Backend(Box::new(e)))?
            .run(&pool)
            .await
            .map_err(|e| StoreError::Backend(Box::new(e)))?;
        let events = Arc::new(tokio::sync::Notify::new());
        let listening = tokio::spawn(listen_for_events(options, events.clone()));
        Ok(Self {
            writer: queue::Writer::start(pool.clone()),
            pool,
            secrets_key: None,
            events,
            _listening: Arc::new(AbortOnDrop(listening.abort_handle())),
        })
    }

    /// [`PgStore::open`] for a server: checks `key` against the secrets stored and seals
    /// those written before a key was configured, as [`super::sqlite::SqliteStore::open_with_secrets`].
    pub async fn open_with_secrets(
        url: &str,
        max_connections: u32,
        key: Option<crate::secrets::SecretsKey>,
        previous: Option<&crate::secrets::SecretsKey>,
    ) -> StoreResult<Self> {
        let mut store = Self::open_pool(url, max_connections).await?;
        let sealed = webhooks::prepare_secrets(&store, key.as_ref(), previous).await?;
        if sealed > 0 {
            tracing::info!(
                rows = sealed,
                "sealed webhook secrets (and recorded answers showing them) with the current secrets key"
            );
        }
        store.secrets_key = key.map(Arc::new);
        Ok(store)
    }

    /// Deletes the account's row `id` from `table`; `false` when the account has none.
    async fn delete_owned(
        &self,
        table: &'static str,
        account: AccountId,
        id: &str,
    ) -> StoreResult<bool> {
        let sql = format!("DELETE FROM {table} WHERE account_id = $1 AND id = $2");
        let result = sqlx::query(&sql)
            .bind(account)
            .bind(id)
            .execute(&self.pool)
            .await?;
        Ok(result.rows_affected() > 0)
    }

    /// One page of the account's rows of `table`, oldest first (see the SQLite store's).
    async fn page_by_created<T>(
        &self,
        (table, columns, id_column): (&str, &str, &str),
        account: AccountId,
        page: &PageRequest,
        item: impl Fn(&PgRow) -> StoreResult<T>,
    ) -> StoreResult<Page<T>> {
        let (t, id) = match &page.after {
            Some(After::Created(t, id)) => (*t, id.clone()),
            _ => (i64::MIN, String::new()),
        };
        let rows = sqlx::query(&format!(
            "SELECT {columns} FROM {table}
             WHERE account_id = $1 AND (created_at, {id_column}) > ($2, $3)
             ORDER BY created_at, {id_column} LIMIT $4"
        ))
        .bind(account)
        .bind(t)
        .bind(id)
        .bind(page.fetch())
        .fetch_all(&self.pool)
        .await?;
        Page::from_rows(
            page,
            rows,
            |r| {
                After::Created(
                    r.try_get("created_at").unwrap_or_default(),
                    r.try_get(id_column).unwrap_or_default(),
                )
            },
            |r| item(&r),
        )
    }
}

/// Takes the account's transaction-scoped advisory lock: held until `conn`'s transaction
/// ends, by one transaction on any replica at a time. What SQLite's `BEGIN IMMEDIATE`
/// gave for free: a count and the insert it allows (quotas), a limit check and the sends
/// it admits, are one step. Several accounts are locked in ascending order (callers sort),
/// so two transactions never wait on each other.
async fn lock_account(conn: &mut PgConnection, account: AccountId) -> Result<(), sqlx::Error> {
    // Namespace 1 in the two-key form, so other advisory locks (sqlx's migration lock uses
    // the one-key form) never collide with an account's.
    sqlx::query("SELECT pg_advisory_xact_lock(1, $1::int)")
        .bind(account.0 as i32)
        .execute(&mut *conn)
        .await?;
    Ok(())
}

/// How many of `resource` the account keeps (per instance for groups).
async fn count_owned(
    conn: &mut PgConnection,
    resource: Resource,
    account: AccountId,
    instance: Option<&InstanceId>,
) -> StoreResult<u64> {
    let sql = match resource {
        Resource::Instances => "SELECT COUNT(*) FROM instances WHERE account_id = $1",
        Resource::Channels => "SELECT COUNT(*) FROM channels WHERE account_id = $1",
        Resource::Schedules => "SELECT COUNT(*) FROM schedules WHERE account_id = $1",
        Resource::Webhooks => "SELECT COUNT(*) FROM webhooks WHERE account_id = $1",
        Resource::GroupsPerInstance => {
            "SELECT COUNT(*) FROM groups WHERE account_id = $1 AND instance_id = $2"
        }
    };
    let mut query = sqlx::query_scalar::<_, i64>(sql).bind(account);
    if resource == Resource::GroupsPerInstance {
        query = query.bind(instance.map(InstanceId::as_str).unwrap_or_default());
    }
    Ok(query.fetch_one(&mut *conn).await?.max(0) as u64)
}

/// `QuotaExceeded` when the account already keeps `max` of `resource` (`0`: no quota).
/// Takes the account's lock first ([`lock_account`]), so the count and the caller's
/// insert are one step for every other transaction on any replica.
async fn check_quota(
    conn: &mut PgConnection,
    resource: Resource,
    max: u32,
    account: AccountId,
    instance: Option<&InstanceId>,
) -> StoreResult<()> {
    if max == 0 {
        return Ok(());
    }
    lock_account(conn, account).await?;
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

fn instance_row(row: &PgRow) -> StoreResult<Instance> {
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

fn instance_record_row(row: &PgRow) -> StoreResult<InstanceRecord> {
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

fn channel_row(row: &PgRow) -> StoreResult<Channel> {
    Ok(Channel {
        id: ChannelId::new(row.try_get::<&str, _>("id")?).map_err(|e| corrupt("channel id", e))?,
        channel_jid: NewsletterJid::new(row.try_get::<&str, _>("jid")?)
            .map_err(|e| corrupt("jid", e))?,
        name: row.try_get("name")?,
        description: row.try_get("description")?,
        subscribers: row.try_get::<i64, _>("subscribers")? as u64,
        is_admin: row.try_get::<i64, _>("is_admin")? != 0,
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

// An account id is a `BIGINT` column.
impl sqlx::Type<sqlx::Postgres> for AccountId {
    fn type_info() -> sqlx::postgres::PgTypeInfo {
        <i64 as sqlx::Type<sqlx::Postgres>>::type_info()
    }
}

impl<'q> sqlx::Encode<'q, sqlx::Postgres> for AccountId {
    fn encode_by_ref(
        &self,
        buf: &mut <sqlx::Postgres as sqlx::Database>::ArgumentBuffer<'q>,
    ) -> Result<sqlx::encode::IsNull, sqlx::error::BoxDynError> {
        <i64 as sqlx::Encode<'q, sqlx::Postgres>>::encode_by_ref(&self.0, buf)
    }
}

impl<'r> sqlx::Decode<'r, sqlx::Postgres> for AccountId {
    fn decode(value: sqlx::postgres::PgValueRef<'r>) -> Result<Self, sqlx::error::BoxDynError> {
        <i64 as sqlx::Decode<'r, sqlx::Postgres>>::decode(value).map(AccountId)
    }
}

#[async_trait]
impl Store for PgStore {
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
            .fetch_one(&self.pool)
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
        ops::server_secret(self).await
    }

    async fn list_instances(
        &self,
        account: AccountId,
        page: &PageRequest,
    ) -> StoreResult<Page<Instance>> {
        accounts::list_instances(self, account, page).await
    }

    async fn get_instance(
        &self,
        account: AccountId,
        id: &InstanceId,
    ) -> StoreResult<Option<Instance>> {
        accounts::get_instance(self, account, id).await
    }

    async fn create_instance(
        &self,
        account: AccountId,
        id: &InstanceId,
        label: &str,
        engine: EngineKind,
        max: u32,
    ) -> StoreResult<InstanceRecord> {
        accounts::create_instance(self, account, id, label, engine, max).await
    }

    async fn instance_record(
        &self,
        account: AccountId,
        id: &InstanceId,
    ) -> StoreResult<Option<InstanceRecord>> {
        accounts::instance_record(self, account, id).await
    }

    async fn instance_by_qr_ref(
        &self,
        id: &InstanceId,
        qr_ref: &str,
    ) -> StoreResult<Option<InstanceRecord>> {
        accounts::instance_by_qr_ref(self, id, qr_ref).await
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
        accounts::list_channels(self, account, page).await
    }

    async fn save_channel(
        &self,
        account: AccountId,
        channel: &Channel,
        max: u32,
    ) -> StoreResult<Channel> {
        accounts::save_channel(self, account, channel, max).await
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
        accounts::channel_by_jid(self, account, instance, jid).await
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

    async fn release_leases(&self, ids: &[QueueId]) -> StoreResult<()> {
        queue::release_leases(self, ids).await
    }

    async fn prune(&self, now: DateTime<Utc>, before: DateTime<Utc>) -> StoreResult<u64> {
        queue::prune(self, now, before).await
    }

    async fn advance_receipts(
        &self,
        now: DateTime<Utc>,
        delivered_before: DateTime<Utc>,
        read_before: DateTime<Utc>,
    ) -> StoreResult<u64> {
        queue::advance_receipts(self, now, delivered_before, read_before).await
    }

    async fn record_outbox(&self, message: &OutboxMessage, account: AccountId) -> StoreResult<()> {
        accounts::record_outbox(self, message, account).await
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
        let mut tx = self.pool.begin().await?;
        webhooks::insert_event_for(&mut tx, event.account_id, event).await?;
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
        self.page_by_created(
            ("schedules", "*", "id"),
            account,
            page,
            schedules::schedule_row,
        )
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

    async fn enqueue_admitted(
        &self,
        admission: Admission,
        entries: Vec<NewEntry>,
    ) -> StoreResult<Result<Vec<QueueId>, Refusal>> {
        self.send_job(entries, Some(admission)).await
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
            ("webhooks", webhooks::WEBHOOK_COLUMNS, "id"),
            account,
            page,
            webhooks::webhook_row,
        )
        .await
    }

    async fn count_owned(&self, account: AccountId, resource: Resource) -> StoreResult<u64> {
        let mut conn = self.pool.acquire().await?;
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
        // As on SQLite: a recent failure of the send path, else a heartbeat through it
        // (the group commit, its connection and a commit on the database).
        if let Some(reason) = self.writer.recent_failure() {
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
        // Postgres checkpoints and recycles its own write-ahead log; nothing to do here.
        Ok(())
    }

    fn events_committed(&self) -> Option<Arc<tokio::sync::Notify>> {
        Some(self.events.clone())
    }

    async fn queue_depth(&self) -> StoreResult<Vec<(&'static str, u64)>> {
        ops::queue_depth(self).await
    }

    async fn key_lookup(&self, key_hash: &[u8; 32], now: DateTime<Utc>) -> StoreResult<KeyLookup> {
        keys::key_lookup(self, key_hash, now).await
    }

    async fn key_generation(&self) -> StoreResult<i64> {
        keys::key_generation(self).await
    }

    async fn touch_key(&self, key: KeyId, now: DateTime<Utc>) -> StoreResult<()> {
        keys::touch_key(self, key, now).await
    }

    async fn list_keys(&self) -> StoreResult<Vec<KeyInfo>> {
        keys::list_keys(self).await
    }

    async fn account_of_key(&self, key_hash: &[u8; 32]) -> StoreResult<Option<AccountId>> {
        keys::account_of_key(self, key_hash).await
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
    ) -> StoreResult<Option<std::time::Duration>> {
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
