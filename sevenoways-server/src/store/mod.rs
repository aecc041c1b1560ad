//! Storage behind one trait, so handlers and workers never see SQL.
//!
//! Everything two replicas would need to share lives here (queue leases, pacing slots,
//! schedule claims, events), never only in a process's memory; a Postgres backend is one
//! more module beside [`sqlite`] implementing [`Store`].

pub mod plan;
pub mod sqlite;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use sevenoways_sdk::models::channels::Channel;
use sevenoways_sdk::models::groups::Group;
use sevenoways_sdk::models::instances::{Instance, InstanceStatus};
use sevenoways_sdk::models::queue::QueueEntry;
use sevenoways_sdk::models::sandbox::OutboxMessage;
use sevenoways_sdk::models::schedules::{CreateScheduleRequest, Schedule};
use sevenoways_sdk::models::webhooks::{Delivery, DeliveryDetail, Webhook};
use sevenoways_sdk::{
    ChannelId, Content, DeliveryId, EventData, EventId, IdempotencyKey, InstanceId, NewsletterJid,
    QueueId, ScheduleId, WebhookId, WebhookSecret,
};

pub use crate::account::{Account, AccountId};
use crate::idempotency::Recorded;
use crate::limits::{Admission, Periods, Plans, Refusal};

/// What a storage call can fail with, whatever the backend. Only `Conflict` is the
/// caller's doing; the rest are logged and answered as 500.
///
/// Each backend converts its own errors into [`StoreError::Backend`] (`store/sqlite` has
/// `From<sqlx::Error>`), so nothing above the store names a database crate.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// A row with that key exists already.
    #[error("{0}")]
    Conflict(String),
    /// The store cannot take requests now (its writer task stopped).
    #[error("store unavailable: {0}")]
    Unavailable(&'static str),
    /// Stored data did not decode (a bug or a hand-edited database).
    #[error("corrupt row: {0}")]
    Corrupt(String),
    /// The backend failed: I/O, the database engine, a migration.
    #[error("database error: {0}")]
    Backend(#[source] Box<dyn std::error::Error + Send + Sync>),
}

/// What every [`Store`] method returns.
pub type StoreResult<T> = Result<T, StoreError>;

/// The kind of recipient of a queue entry, which decides how the transport addresses it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RecipientKind {
    /// A group id.
    Group,
    /// A phone number.
    Phone,
    /// A community JID.
    Community,
    /// A channel JID.
    Channel,
}

impl RecipientKind {
    /// The stored name.
    pub fn as_str(&self) -> &'static str {
        match self {
            Self::Group => "group",
            Self::Phone => "phone",
            Self::Community => "community",
            Self::Channel => "channel",
        }
    }

    /// Reads the stored name.
    pub fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "group" => Self::Group,
            "phone" => Self::Phone,
            "community" => Self::Community,
            "channel" => Self::Channel,
            _ => return None,
        })
    }
}

/// A message to queue for one recipient.
#[derive(Debug, Clone)]
pub struct NewEntry {
    /// Whose send it is: listed, limited and capped under this account.
    pub account_id: AccountId,
    /// The number that sends it.
    pub instance_id: InstanceId,
    /// As the transport addresses it: a group id, a phone number's digits or a JID.
    pub to: String,
    /// Which of those `to` is.
    pub kind: RecipientKind,
    /// What to send.
    pub content: Content,
    /// The schedule that fired it, if any.
    pub schedule_id: Option<ScheduleId>,
}

/// A queue entry a worker holds a lease on.
#[derive(Debug, Clone)]
pub struct Claimed {
    pub id: QueueId,
    pub account_id: AccountId,
    /// The number that sends it.
    pub instance_id: InstanceId,
    /// As the transport addresses it: a group id, a phone number's digits or a JID.
    pub to: String,
    /// Which of those `to` is.
    pub kind: RecipientKind,
    /// What to send.
    pub content: Content,
    /// Attempts including this one.
    pub attempts: u32,
    /// The lease this claim holds (Unix ms), also its token: the outcome is recorded only
    /// while the entry is still `sending` under this lease, so a worker that lost its lease
    /// (it was too slow, or the instance was deleted) cannot overwrite a newer state.
    pub lease: i64,
}

/// A webhook event to record with the change that raised it.
#[derive(Debug, Clone)]
pub struct NewEvent {
    /// Whose webhooks receive it.
    pub account_id: AccountId,
    /// The instance it concerns.
    pub instance_id: InstanceId,
    /// What happened.
    pub data: EventData,
}

/// How the worker's claim paces each number.
#[derive(Debug, Clone, Copy)]
pub struct Pacing {
    /// Minimum gap between two sends from one number, in milliseconds.
    pub min_gap_ms: i64,
    /// Up to this much more, at random, so sends do not look machine-timed.
    pub jitter_ms: i64,
}

/// A schedule run: claimed, advanced and queued in one transaction.
#[derive(Debug, Clone)]
pub struct FiredSchedule {
    pub account_id: AccountId,
    pub schedule_id: ScheduleId,
    /// Entries queued for sending.
    pub queued: Vec<QueueId>,
    /// Entries recorded as failed at once (a group name that matches nothing, a cap),
    /// each with a `message.failed` event.
    pub failed: Vec<QueueId>,
    /// Its next run; `None` once the expression never matches again.
    pub next_run_at: Option<DateTime<Utc>>,
}

/// How the next run is computed (see [`crate::cron::next_run`]); a parameter so the
/// store stays free of time-zone rules.
pub type NextRunFn = for<'s> fn(&'s CreateScheduleRequest, DateTime<Utc>) -> Option<DateTime<Utc>>;

/// What an account has used, read at one instant.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct UsageSnapshot {
    /// Admission times (Unix ms) of the send requests in the rate window.
    pub window: Vec<i64>,
    /// Messages counted in the current day.
    pub day: u64,
    /// Messages counted in the current month.
    pub month: u64,
}

/// A webhook delivery a worker holds a lease on, with what it needs to make the attempt.
#[derive(Debug, Clone)]
pub struct ClaimedDelivery {
    pub id: DeliveryId,
    pub webhook_id: WebhookId,
    /// Where to POST; checked against [`crate::ssrf`] again at each attempt.
    pub url: String,
    /// The signing key (redacted in `Debug`).
    pub secret: WebhookSecret,
    /// The event's id (`X-Webhook-Id`).
    pub event_id: EventId,
    /// `message.sent`, ..., or `webhook.test`.
    pub event_type: String,
    /// The exact bytes to sign and send.
    pub payload: Vec<u8>,
    /// This attempt's number, from 1.
    pub attempt: u32,
    /// No attempt after this (3 days after the event, by default).
    pub give_up_at: DateTime<Utc>,
}

/// What became of a delivery after an attempt.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AttemptOutcome {
    /// The receiver answered 2xx.
    Succeeded,
    /// Try again then.
    RetryAt(DateTime<Utc>),
    /// No more attempts.
    GaveUp,
}

/// One attempt, as recorded.
#[derive(Debug, Clone)]
pub struct AttemptRecord {
    pub delivery_id: DeliveryId,
    /// From 1.
    pub attempt: u32,
    /// When it started.
    pub started_at: DateTime<Utc>,
    /// The receiver's HTTP status, if it answered.
    pub response_code: Option<u16>,
    /// From sending the request to the answer, or to the failure.
    pub latency_ms: u64,
    /// What went wrong, if anything.
    pub error: Option<String>,
    /// Whether the delivery is done, due again, or given up.
    pub outcome: AttemptOutcome,
}

/// The storage the server runs on.
#[async_trait]
pub trait Store: Send + Sync + 'static {
    // Accounts and keys.

    /// Creates an account for a key hash.
    async fn create_account(
        &self,
        name: &str,
        plan: &str,
        key_hash: &[u8; 32],
    ) -> StoreResult<AccountId>;
    /// The account whose key hashes to `key_hash`.
    async fn account_by_key_hash(&self, key_hash: &[u8; 32]) -> StoreResult<Option<Account>>;
    /// How many accounts exist (zero on first start).
    async fn count_accounts(&self) -> StoreResult<i64>;
    /// A server-wide secret (for signing QR links), created on first use.
    async fn server_secret(&self) -> StoreResult<Vec<u8>>;

    // Instances and groups.

    /// The account's instances, oldest first.
    async fn list_instances(&self, account: AccountId) -> StoreResult<Vec<Instance>>;
    /// One instance.
    async fn get_instance(
        &self,
        account: AccountId,
        id: &InstanceId,
    ) -> StoreResult<Option<Instance>>;
    /// Creates an instance in `pairing` state; `Conflict` if the id is taken.
    async fn create_instance(
        &self,
        account: AccountId,
        id: &InstanceId,
        label: &str,
    ) -> StoreResult<Instance>;
    /// Deletes an instance, its groups and channels, and fails its unsent queue entries.
    async fn delete_instance(&self, account: AccountId, id: &InstanceId) -> StoreResult<bool>;
    /// Changes an instance's status, recording `event` in the same transaction.
    async fn set_instance_status(
        &self,
        account: AccountId,
        id: &InstanceId,
        status: InstanceStatus,
        phone: Option<&str>,
        event: Option<NewEvent>,
    ) -> StoreResult<bool>;
    /// The instance's groups, by name.
    async fn list_groups(&self, account: AccountId, id: &InstanceId) -> StoreResult<Vec<Group>>;
    /// Adds or renames a group.
    async fn upsert_group(
        &self,
        account: AccountId,
        id: &InstanceId,
        group: &Group,
    ) -> StoreResult<()>;

    // Channels.

    /// Saved channels, oldest first.
    async fn list_channels(&self, account: AccountId) -> StoreResult<Vec<Channel>>;
    /// Saves (or refreshes) a channel; returns it as stored.
    async fn save_channel(&self, account: AccountId, channel: &Channel) -> StoreResult<Channel>;
    /// Removes a saved channel.
    async fn delete_channel(&self, account: AccountId, id: &ChannelId) -> StoreResult<bool>;
    /// A saved channel by the instance and JID.
    async fn channel_by_jid(
        &self,
        account: AccountId,
        instance: &InstanceId,
        jid: &NewsletterJid,
    ) -> StoreResult<Option<Channel>>;

    // The send queue.

    /// Queues entries; they are durable when this returns. Concurrent calls share commits.
    async fn enqueue(&self, entries: Vec<NewEntry>) -> StoreResult<Vec<QueueId>>;
    /// One entry of the account.
    async fn get_entry(&self, account: AccountId, id: QueueId) -> StoreResult<Option<QueueEntry>>;
    /// Leases due entries (at most one per number, honouring its pacing slot) until
    /// `lease_until`, counting an attempt; expired leases are due again.
    async fn claim(
        &self,
        now: DateTime<Utc>,
        lease_until: DateTime<Utc>,
        pacing: Pacing,
        limit: u32,
    ) -> StoreResult<Vec<Claimed>>;
    /// Marks a claimed entry sent and records `message.sent`. `false` (nothing written)
    /// when the claim's lease was lost.
    async fn mark_sent(
        &self,
        entry: &Claimed,
        now: DateTime<Utc>,
        event: NewEvent,
    ) -> StoreResult<bool>;
    /// Puts a claimed entry back for another attempt at `at`.
    async fn mark_retry(
        &self,
        entry: &Claimed,
        at: DateTime<Utc>,
        reason: &str,
    ) -> StoreResult<bool>;
    /// Marks a claimed entry failed for good and records `message.failed`.
    async fn mark_failed(
        &self,
        entry: &Claimed,
        now: DateTime<Utc>,
        reason: &str,
        event: NewEvent,
    ) -> StoreResult<bool>;
    /// Releases every lease this process holds (graceful shutdown) so another worker
    /// picks the entries up at once.
    async fn release_leases(&self, ids: &[QueueId]) -> StoreResult<()>;
    /// Deletes bookkeeping nobody can need again: webhook deliveries (and their attempts)
    /// finished before `before`, events older than `before` with no delivery still pending,
    /// cap counters of days and months before `before`, and rate-window rows older than a
    /// minute before `now`. Queue entries, schedules and the outbox are kept. Returns the
    /// number of rows deleted.
    async fn prune(&self, now: DateTime<Utc>, before: DateTime<Utc>) -> StoreResult<u64>;
    /// Moves sent entries to `delivered` and delivered ones to `read` once they are old
    /// enough, recording the events; returns how many changed.
    async fn advance_receipts(
        &self,
        now: DateTime<Utc>,
        delivered_before: DateTime<Utc>,
        read_before: DateTime<Utc>,
    ) -> StoreResult<u64>;

    // Sandbox transport.

    /// Records what the sandbox transport sent.
    async fn record_outbox(&self, message: &OutboxMessage, account: AccountId) -> StoreResult<()>;
    /// The outbox of an instance, oldest first.
    async fn list_outbox(
        &self,
        account: AccountId,
        id: &InstanceId,
    ) -> StoreResult<Vec<OutboxMessage>>;
    /// Records an event that changes no other row (an inbound message).
    async fn record_event(&self, event: NewEvent) -> StoreResult<()>;

    // Schedules.

    /// Saves a schedule with its first run.
    async fn create_schedule(
        &self,
        account: AccountId,
        id: &ScheduleId,
        spec: &CreateScheduleRequest,
        next_run_at: Option<DateTime<Utc>>,
        now: DateTime<Utc>,
    ) -> StoreResult<Schedule>;
    /// The account's schedules, oldest first.
    async fn list_schedules(&self, account: AccountId) -> StoreResult<Vec<Schedule>>;
    /// Deletes a schedule.
    async fn delete_schedule(&self, account: AccountId, id: &ScheduleId) -> StoreResult<bool>;
    /// Fires up to `limit` schedules due at `now`: in one write transaction it claims
    /// each, advances it to `next(spec, now)` (from `now`, not from the missed run, so a
    /// schedule missed while the server was down fires once), resolves its recipients
    /// and queues them under the plan's caps. A crash before the commit leaves the run
    /// due; after it, the run is queued and the schedule advanced: never lost, never
    /// doubled, also with several processes on one database.
    async fn fire_due_schedules(
        &self,
        now: DateTime<Utc>,
        plans: &Plans,
        next: NextRunFn,
        limit: u32,
    ) -> StoreResult<Vec<FiredSchedule>>;

    // Rate limit and caps.

    /// Admits one send request under `admission`'s plan (the rate limit, then the message
    /// caps, counting one message per entry) and queues its entries, all in the one
    /// write transaction the queue insert uses; `Err(Refusal)` writes nothing.
    async fn enqueue_admitted(
        &self,
        admission: Admission,
        entries: Vec<NewEntry>,
    ) -> StoreResult<Result<Vec<QueueId>, Refusal>>;
    /// The account's rate window and the cap counters of `periods`.
    async fn usage(
        &self,
        account: AccountId,
        periods: &Periods,
        now: DateTime<Utc>,
    ) -> StoreResult<UsageSnapshot>;

    // Webhooks.

    /// Saves a subscription with its signing secret.
    async fn create_webhook(
        &self,
        account: AccountId,
        webhook: &Webhook,
        secret: &WebhookSecret,
    ) -> StoreResult<()>;
    /// The account's subscriptions, oldest first (never their secrets).
    async fn list_webhooks(&self, account: AccountId) -> StoreResult<Vec<Webhook>>;
    /// Deletes a subscription with its deliveries.
    async fn delete_webhook(&self, account: AccountId, id: &WebhookId) -> StoreResult<bool>;
    /// Records `event` and one delivery of it to this subscription only; `false` if the
    /// subscription is not the account's.
    async fn queue_test_event(
        &self,
        account: AccountId,
        id: &WebhookId,
        event: NewEvent,
        now: DateTime<Utc>,
        give_up_at: DateTime<Utc>,
    ) -> StoreResult<bool>;
    /// Fans undispatched events out: one pending delivery per matching subscription, and
    /// the events marked dispatched, in one transaction. Returns deliveries created.
    async fn dispatch_events(
        &self,
        now: DateTime<Utc>,
        give_up_at: DateTime<Utc>,
        limit: u32,
    ) -> StoreResult<u64>;
    /// Leases due deliveries until `lease_until`, counting an attempt.
    async fn claim_deliveries(
        &self,
        now: DateTime<Utc>,
        lease_until: DateTime<Utc>,
        limit: u32,
    ) -> StoreResult<Vec<ClaimedDelivery>>;
    /// Records an attempt and its outcome, releasing the lease.
    async fn record_attempt(&self, record: &AttemptRecord) -> StoreResult<()>;
    /// Releases leases (graceful shutdown) without counting the attempt.
    async fn release_deliveries(&self, ids: &[DeliveryId]) -> StoreResult<()>;
    /// The subscription's latest `limit` deliveries, newest first; `None` if the
    /// subscription is not the account's.
    async fn list_deliveries(
        &self,
        account: AccountId,
        id: &WebhookId,
        limit: u32,
    ) -> StoreResult<Option<Vec<Delivery>>>;
    /// One delivery with all its attempts.
    async fn get_delivery(
        &self,
        account: AccountId,
        id: &WebhookId,
        delivery_id: &DeliveryId,
    ) -> StoreResult<Option<DeliveryDetail>>;
    /// Makes a delivery pending again, due now, with a fresh retry budget.
    async fn redeliver(
        &self,
        account: AccountId,
        id: &WebhookId,
        delivery_id: &DeliveryId,
        now: DateTime<Utc>,
        give_up_at: DateTime<Utc>,
    ) -> StoreResult<bool>;

    // Idempotency keys (see `crate::idempotency`). Answers are not written through a
    // method of their own: every method above that is a request's effect (the queue insert
    // of `enqueue_admitted`, `create_instance`, `save_channel`, `create_schedule`,
    // `create_webhook`, `queue_test_event`, `redeliver`, `set_instance_status`,
    // `upsert_group`, `record_event`) records the current request's answer in its own
    // transaction, and fails with `Conflict` (committing nothing) when another request
    // recorded the key first. A backend must keep that rule.

    /// The answer recorded under `key` for `account`, unless it expired by `now`.
    async fn idempotent_answer(
        &self,
        account: AccountId,
        key: &IdempotencyKey,
        now: DateTime<Utc>,
    ) -> StoreResult<Option<Recorded>>;
    /// Deletes the keys that expired by `now`, `limit` per transaction; returns how many.
    async fn prune_idempotency_keys(&self, now: DateTime<Utc>, limit: u32) -> StoreResult<u64>;
}
