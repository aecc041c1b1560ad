//! Storage behind one trait, so handlers and workers never see SQL.
//!
//! Everything two replicas would need to share lives here (queue leases, pacing slots,
//! schedule claims, events), never only in a process's memory: [`sqlite`] is the embedded
//! default, [`postgres`] the backend for several replicas on one database.

mod admit;
mod batch;
mod fair_claim;
mod migrations;
pub mod page;
pub mod plan;
pub mod postgres;
mod recorded;
mod sealing;
pub mod sqlite;
mod streaks;

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
use crate::engine::{EngineKind, EngineSecret};
use crate::limits::{Admission, Periods, Plans, QuotaExceeded, Refusal, Resource};
pub use page::{After, ListKind, Page, PageRequest};
use sevenoways_sdk::models::webhooks::MessageReceived;

/// What a storage call can fail with, whatever the backend. Only `Conflict` is the
/// caller's doing; `Unavailable` and `Degraded` heal on their own and are answered 503
/// with `Retry-After`; the rest are logged and answered as 500.
///
/// Each backend converts its own errors into [`StoreError::Backend`] or, for conditions
/// that pass (a full disk, an I/O error, a lock held too long),
/// [`StoreError::Degraded`] (`store/sqlite` has `From<sqlx::Error>`), so nothing above
/// the store names a database crate.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// A row with that key exists already.
    #[error("{0}")]
    Conflict(String),
    /// The plan's quota for this resource is used up; nothing was written.
    #[error("{}", .0.message())]
    QuotaExceeded(QuotaExceeded),
    /// The store cannot take requests now (its writer task stopped).
    #[error("store unavailable: {0}")]
    Unavailable(&'static str),
    /// Stored data did not decode (a bug or a hand-edited database).
    #[error("corrupt row: {0}")]
    Corrupt(String),
    /// The backend failed: I/O, the database engine, a migration.
    #[error("database error: {0}")]
    Backend(#[source] Box<dyn std::error::Error + Send + Sync>),
    /// The storage cannot take writes for now (the disk is full, an I/O error, the
    /// database locked past its busy timeout) and nothing was written. The condition is
    /// outside the request and passes: freeing disk space heals it without a restart.
    #[error("storage degraded ({reason}): {source}")]
    Degraded {
        /// What is wrong, for people ("the disk is full").
        reason: &'static str,
        /// The backend's error, for the log.
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
    },
    /// Sealed webhook secrets cannot be read: no `SEVENOWAYS_SECRETS_KEY`, or not the key
    /// they were sealed with (see [`crate::secrets`]). The message says which.
    #[error("{0}")]
    Secrets(String),
}

impl StoreError {
    /// Seconds a client should wait before retrying, for errors that pass on their own;
    /// `None` for the others.
    pub fn retry_after_secs(&self) -> Option<u64> {
        match self {
            Self::Unavailable(_) => Some(5),
            // A lock clears in moments; a full disk needs someone to free space.
            Self::Degraded { reason, .. } if *reason == LOCKED => Some(1),
            Self::Degraded { .. } => Some(10),
            _ => None,
        }
    }
}

/// The [`StoreError::Degraded`] reason for a database locked by another writer past the
/// busy timeout.
pub const LOCKED: &str = "the database is locked by another writer";

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

/// An instance with what the server keeps about it beyond what the API shows.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InstanceRecord {
    /// Whose instance it is.
    pub account_id: AccountId,
    /// As the API shows it.
    pub instance: Instance,
    /// What serves its number; chosen at creation, never changed.
    pub engine: EngineKind,
    /// 128 random bits in hex, made with the instance: what its QR links name instead of
    /// the account, and sign over, so they die with it (see [`crate::auth::qr_token`]).
    pub qr_ref: String,
    /// How its engine names the number: the WAHA session, or the Meta phone number id.
    /// `None` for the sandbox (and until [`Store::bind_engine`]).
    pub engine_ref: Option<String>,
}

/// An instance found by its engine's name for it, with the secret its engine's webhooks
/// are verified with (WAHA's per-session HMAC key; `None` for Meta, whose app secret is
/// the server's).
#[derive(Debug, Clone)]
pub struct EngineInstance {
    /// The instance.
    pub record: InstanceRecord,
    /// The per-instance webhook key (redacted in `Debug`).
    pub secret: Option<EngineSecret>,
}

/// What an engine said about a message we sent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Receipt {
    /// The engine's server has it (WAHA ack 1, Meta `sent`). Raises nothing, since the
    /// send's answer raised `message.sent`; it proves the message went out, so a retry
    /// after a lost answer does not send it twice.
    Sent,
    /// It reached the phone: `message.delivered`.
    Delivered,
    /// It was read (or played): `message.read`, after `message.delivered` if that never
    /// came.
    Read,
    /// WhatsApp gave up on it after accepting it: `message.failed` with this reason.
    Failed(String),
}

/// A change an engine reported through its webhook, applied by
/// [`Store::apply_engine_update`].
#[derive(Debug, Clone)]
pub enum EngineUpdate {
    /// The number's connection: `instance.online` when it comes online, `instance.offline`
    /// when it stops being online, nothing otherwise.
    Status {
        /// The new status.
        status: InstanceStatus,
        /// The paired number, when the engine says.
        phone: Option<String>,
    },
    /// A receipt for a message we sent.
    Receipt {
        /// The ids the engine's receipt may name the message by, best first (at most 4
        /// are looked at): WAHA's serialized id holds the bare id among other segments.
        provider_ids: Vec<String>,
        /// What happened.
        receipt: Receipt,
        /// The queue id the engine echoed back (Meta's `biz_opaque_callback_data`), used
        /// only for an entry of this instance.
        queue_hint: Option<QueueId>,
    },
    /// Someone wrote to the number: `message.received`.
    Received(MessageReceived),
}

/// The engine's id of an entry sent before (a lost answer, a retry).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LinkedMessage {
    /// The id the engine knows the message by.
    pub provider_id: String,
    /// Whether the engine reported anything for it: then it has the message, and sending
    /// again would send it twice.
    pub engine_has_it: bool,
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

/// A schedule run: planned from a snapshot, then claimed, advanced and queued in one
/// transaction.
#[derive(Debug, Clone)]
pub struct FiredSchedule {
    pub account_id: AccountId,
    pub schedule_id: ScheduleId,
    /// Entries queued for sending.
    pub queued: Vec<QueueId>,
    /// Entries recorded as failed at once (a group name that matches nothing), each with a
    /// `message.failed` event.
    pub failed: Vec<QueueId>,
    /// Why the run queued nothing at all, when the plan's cap refused it: one
    /// `schedule.skipped` (or `schedule.paused`) event was written instead of any row.
    pub skipped: Option<String>,
    /// Whether this run paused the schedule (the plan's `schedule_pause_after` runs in a
    /// row were skipped).
    pub paused: bool,
    /// Its next run; `None` once the expression never matches again, or once paused.
    pub next_run_at: Option<DateTime<Utc>>,
    /// When this run was due (its fire lag is the time from this to the firing).
    pub due_at: DateTime<Utc>,
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
    /// Whose webhook it is.
    pub account_id: AccountId,
    /// Where to POST; checked against [`crate::ssrf`] again at each attempt.
    pub url: String,
    /// The signing key (redacted in `Debug`).
    pub secret: WebhookSecret,
    /// The key before the last rotation, while it still signs too.
    pub previous_secret: Option<WebhookSecret>,
    /// The event's id (`X-Webhook-Id`, `webhook-id`).
    pub event_id: EventId,
    /// `message.sent`, ..., or `webhook.test`.
    pub event_type: String,
    /// The exact bytes to sign and send.
    pub payload: Vec<u8>,
    /// This attempt's number, from 1.
    pub attempt: u32,
    /// No attempt after this (3 days after the event, by default).
    pub give_up_at: DateTime<Utc>,
    /// The lease this claim holds (Unix ms), also its token: the attempt is recorded only
    /// while the delivery is still pending under this lease (as [`Claimed::lease`]).
    pub lease: i64,
}

/// How many attempts a claim may start, and the caps that keep one tenant from taking
/// them all. The caps count attempts in flight in every process on the database.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ClaimLimits {
    /// Attempts to start now (the free slots of this process).
    pub total: u32,
    /// Attempts in flight per account.
    pub per_account: u32,
    /// Attempts in flight per webhook.
    pub per_endpoint: u32,
    /// A webhook with at least this many consecutive failures is half-open: one attempt
    /// at a time.
    pub half_open_after: u32,
}

/// The circuit breaker's thresholds, applied as each attempt is recorded (see
/// [`crate::config::WebhookConfig`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BreakerPolicy {
    /// Consecutive failures that open the breaker.
    pub open_after: u32,
    /// The first rest, in milliseconds; it doubles with each further failure.
    pub base_pause_ms: i64,
    /// The longest rest, in milliseconds.
    pub max_pause_ms: i64,
    /// Consecutive failures before the webhook is disabled (0: never)...
    pub disable_after_failures: u32,
    /// ...spanning at least this many milliseconds.
    pub disable_after_ms: i64,
}

/// What recording an attempt did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Recorded {
    /// Nothing: the claim's lease was lost (another worker took the delivery over).
    Stale,
    /// The attempt and the delivery's new state are on record.
    Recorded,
    /// Recorded, and the failure disabled the webhook (`webhook.disabled` raised).
    Disabled,
}

/// What a request about one subscription found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WebhookAction {
    /// Done.
    Done,
    /// No such subscription (or delivery) for this account.
    NotFound,
    /// The subscription is disabled: enable it first.
    Disabled,
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

impl AttemptOutcome {
    /// The delivery's stored status after it, and when it is due next (Unix ms) if it is
    /// to be tried again.
    pub fn columns(self) -> (&'static str, Option<i64>) {
        match self {
            AttemptOutcome::Succeeded => ("succeeded", None),
            AttemptOutcome::RetryAt(at) => ("pending", Some(crate::time::millis(at))),
            AttemptOutcome::GaveUp => ("failed", None),
        }
    }
}

/// One attempt, as recorded.
#[derive(Debug, Clone)]
pub struct AttemptRecord {
    pub delivery_id: DeliveryId,
    /// The claim's lease ([`ClaimedDelivery::lease`]).
    pub lease: i64,
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

/// One API key's row id. An account has one key, or two while a rotation's grace period
/// runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct KeyId(pub i64);

/// What a key hash is, at one instant (see [`Store::key_lookup`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KeyLookup {
    /// No key has this hash.
    Unknown,
    /// The key, or its whole account, was revoked.
    Revoked,
    /// The key was replaced by `keys rotate` and its grace period is over.
    Expired,
    /// The key works.
    Valid {
        /// Its row.
        key: KeyId,
        /// Its account.
        account: Account,
        /// When it stops working (a rotated key in its grace period).
        expires_at: Option<DateTime<Utc>>,
        /// When it was last used, as recorded (at most once a minute).
        last_used_at: Option<DateTime<Utc>>,
    },
}

/// One key, as `sevenoways-server keys list` shows it: never the key or its hash.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyInfo {
    /// The key's row.
    pub key: KeyId,
    /// Its account.
    pub account_id: AccountId,
    /// The account's name.
    pub name: String,
    /// The account's plan.
    pub plan: String,
    /// When the key was made.
    pub created_at: DateTime<Utc>,
    /// When it was last used (recorded at most once a minute per key).
    pub last_used_at: Option<DateTime<Utc>>,
    /// When it stops working, if it was rotated.
    pub expires_at: Option<DateTime<Utc>>,
    /// When it (or its account) was revoked.
    pub revoked_at: Option<DateTime<Utc>>,
}

/// What revoking an account stopped (see [`Store::revoke_account`]).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Revoked {
    /// Keys that stopped working.
    pub keys: u64,
    /// Unsent queue entries marked failed.
    pub failed_entries: u64,
    /// Schedules that will not run again.
    pub schedules: u64,
    /// Webhook subscriptions removed, with their URLs (shown to the operator only).
    pub webhooks: Vec<(WebhookId, String)>,
}

/// A web console session as stored (see [`crate::console`]).
#[derive(Clone, PartialEq, Eq)]
pub struct ConsoleSessionRow {
    /// Whose session it is.
    pub account_id: AccountId,
    /// The API key it signed in with, sealed under a key only the cookie gives.
    pub sealed_key: Vec<u8>,
    /// When it ends.
    pub expires_at: DateTime<Utc>,
}

impl std::fmt::Debug for ConsoleSessionRow {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ConsoleSessionRow")
            .field("account_id", &self.account_id)
            .field("sealed_key", &"<sealed>")
            .field("expires_at", &self.expires_at)
            .finish()
    }
}

/// Which of an account's recent queue entries the console's queue page lists.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct QueueFilter {
    /// Only this instance's entries.
    pub instance: Option<InstanceId>,
    /// Only entries in this status.
    pub status: Option<sevenoways_sdk::models::queue::QueueStatus>,
    /// Only entries older than this one (the next page).
    pub before: Option<QueueId>,
}

/// How many of an account's latest queue entries [`Store::recent_queue_entries`] looks
/// through for matches: a filter that matches rarely costs at most this many rows.
pub const QUEUE_SCAN: u32 = 5000;

/// The sandbox's receipts moved per step (`sent → delivered`, `delivered → read`) in one
/// [`Store::advance_receipts`] call: one transaction stays short after a long pause.
pub const RECEIPT_BATCH: u32 = 2_000;

/// The entries of sandbox numbers that wait for the receipt `from` (`sent` or
/// `delivered`) and whose `time_column` is at most the placeholder `before`, at most
/// `limit` of them: read through the `queue_awaiting_*` partial indexes, number by number,
/// so entries that never get one (channels, communities, another engine's) are not read
/// on every tick. `CROSS JOIN` keeps SQLite on that order (it otherwise chose the status
/// index); Postgres plans it as any join. Both stores' SQL, placeholders given in their
/// syntax.
pub(crate) fn awaiting_receipt(from: &str, time_column: &str, before: &str, limit: &str) -> String {
    format!(
        "SELECT q.id FROM instances i CROSS JOIN queue q
         WHERE q.account_id = i.account_id AND q.instance_id = i.instance_id
           AND i.engine = 'sandbox' AND q.status = '{from}'
           AND q.recipient_kind IN ('group', 'phone') AND q.{time_column} <= {before}
         LIMIT {limit}"
    )
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
    /// The account whose working key (not revoked, not expired) hashes to `key_hash`.
    async fn account_by_key_hash(&self, key_hash: &[u8; 32]) -> StoreResult<Option<Account>>;
    /// How many accounts exist (zero on first start).
    async fn count_accounts(&self) -> StoreResult<i64>;
    /// Creates an account only if none exists yet, in one statement: of several processes
    /// starting on one empty database, exactly one gets `Some` (and shows the key).
    async fn create_first_account(
        &self,
        name: &str,
        plan: &str,
        key_hash: &[u8; 32],
    ) -> StoreResult<Option<AccountId>>;
    /// A server-wide secret (for signing QR links), created on first use.
    async fn server_secret(&self) -> StoreResult<Vec<u8>>;

    // Instances and groups.

    /// A page of the account's instances, oldest first.
    async fn list_instances(
        &self,
        account: AccountId,
        page: &PageRequest,
    ) -> StoreResult<Page<Instance>>;
    /// One instance.
    async fn get_instance(
        &self,
        account: AccountId,
        id: &InstanceId,
    ) -> StoreResult<Option<Instance>>;
    /// Creates an instance in `pairing` state, served by `engine`, with a fresh
    /// [`InstanceRecord::qr_ref`]; `Conflict` if the id is taken, `QuotaExceeded` if the
    /// account has `max` already (`0`: no quota).
    async fn create_instance(
        &self,
        account: AccountId,
        id: &InstanceId,
        label: &str,
        engine: EngineKind,
        max: u32,
    ) -> StoreResult<InstanceRecord>;
    /// One instance with its engine and QR reference.
    async fn instance_record(
        &self,
        account: AccountId,
        id: &InstanceId,
    ) -> StoreResult<Option<InstanceRecord>>;
    /// The instance `id` whose QR reference is `qr_ref`, whatever its account: how a
    /// verified QR link finds its instance. `None` once that instance is deleted.
    async fn instance_by_qr_ref(
        &self,
        id: &InstanceId,
        qr_ref: &str,
    ) -> StoreResult<Option<InstanceRecord>>;
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
    /// Every group of the instance, by name (at most the plan's groups per instance), to
    /// resolve recipients.
    async fn list_groups(&self, account: AccountId, id: &InstanceId) -> StoreResult<Vec<Group>>;
    /// A page of the instance's groups, by name.
    async fn list_groups_page(
        &self,
        account: AccountId,
        id: &InstanceId,
        page: &PageRequest,
    ) -> StoreResult<Page<Group>>;
    /// Adds or renames a group; adding one is `QuotaExceeded` when the instance has `max`
    /// (`0`: no quota), renaming never is.
    async fn upsert_group(
        &self,
        account: AccountId,
        id: &InstanceId,
        group: &Group,
        max: u32,
    ) -> StoreResult<()>;

    // Channels.

    /// A page of the saved channels, oldest first.
    async fn list_channels(
        &self,
        account: AccountId,
        page: &PageRequest,
    ) -> StoreResult<Page<Channel>>;
    /// Saves (or refreshes) a channel; returns it as stored. Saving a new one is
    /// `QuotaExceeded` when the account has `max` (`0`: no quota); refreshing never is.
    async fn save_channel(
        &self,
        account: AccountId,
        channel: &Channel,
        max: u32,
    ) -> StoreResult<Channel>;
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
    /// Deletes bookkeeping nobody can need again: queue entries finished (sent,
    /// delivered, read or failed) and last changed before `before`, outbox rows sent
    /// before `before`, webhook deliveries (and their attempts) finished before `before`,
    /// events older than `before` with no delivery still pending, cap counters of days and
    /// months before `before`, and rate-window rows older than a minute before `now`.
    /// Queued and sending entries, pending deliveries and schedules are kept. Large
    /// deletions go in short transactions, so other writers are not held up. Returns the
    /// number of rows deleted.
    async fn prune(&self, now: DateTime<Utc>, before: DateTime<Utc>) -> StoreResult<u64>;
    /// Moves sent entries to `delivered` and delivered ones to `read` once they are old
    /// enough, recording the events; returns how many changed, at most
    /// [`RECEIPT_BATCH`] of each per call (a full batch means: call again now).
    async fn advance_receipts(
        &self,
        now: DateTime<Utc>,
        delivered_before: DateTime<Utc>,
        read_before: DateTime<Utc>,
    ) -> StoreResult<u64>;

    // Sandbox transport.

    /// Records what the sandbox transport sent.
    async fn record_outbox(&self, message: &OutboxMessage, account: AccountId) -> StoreResult<()>;
    /// A page of an instance's outbox, oldest first.
    async fn list_outbox(
        &self,
        account: AccountId,
        id: &InstanceId,
        page: &PageRequest,
    ) -> StoreResult<Page<OutboxMessage>>;
    /// Records an event that changes no other row (an inbound message).
    async fn record_event(&self, event: NewEvent) -> StoreResult<()>;

    // Schedules.

    /// Saves a schedule with its first run; `QuotaExceeded` when the account has `max`
    /// (`0`: no quota).
    async fn create_schedule(
        &self,
        account: AccountId,
        id: &ScheduleId,
        spec: &CreateScheduleRequest,
        next_run_at: Option<DateTime<Utc>>,
        now: DateTime<Utc>,
        max: u32,
    ) -> StoreResult<Schedule>;
    /// A page of the account's schedules, oldest first.
    async fn list_schedules(
        &self,
        account: AccountId,
        page: &PageRequest,
    ) -> StoreResult<Page<Schedule>>;
    /// Deletes a schedule.
    async fn delete_schedule(&self, account: AccountId, id: &ScheduleId) -> StoreResult<bool>;
    /// Runs a paused schedule again from `next(spec, now)`, its skipped runs forgotten;
    /// a schedule that is not paused is returned as it is. `None` if the account has no
    /// such schedule.
    async fn resume_schedule(
        &self,
        account: AccountId,
        id: &ScheduleId,
        next: NextRunFn,
        now: DateTime<Utc>,
    ) -> StoreResult<Option<Schedule>>;
    /// Fires up to `limit` schedules due at `now`, in two steps. First, from a read
    /// snapshot and holding no lock, it reads the due schedules and their instances'
    /// groups and plans each run: its recipients and `next(spec, now)` (from `now`, not
    /// from the missed run, so a schedule missed while the server was down fires once).
    /// Then, in short write transactions (about 2048 rows each at most), it claims each
    /// schedule only if it is still due as read (so another process, a delete or a resume
    /// in between wins), advances it and queues the run under the plan's caps. A run over a cap queues nothing and
    /// writes one `schedule.skipped` event; the plan's `schedule_pause_after` such runs
    /// in a row pause the schedule (`schedule.paused`). A crash before the commit leaves
    /// the run due; after it, the run is queued and the schedule advanced: never lost,
    /// never doubled, also with several processes on one database.
    async fn fire_due_schedules(
        &self,
        now: DateTime<Utc>,
        plans: &Plans,
        next: NextRunFn,
        limit: u32,
    ) -> StoreResult<Vec<FiredSchedule>>;
    /// When the earliest schedule is next due (`None` when none will run), so the
    /// scheduler wakes at that instant rather than on its next tick.
    async fn next_schedule_due(&self) -> StoreResult<Option<DateTime<Utc>>>;

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

    /// Saves a subscription with its signing secret; `QuotaExceeded` when the account has
    /// `max` (`0`: no quota).
    async fn create_webhook(
        &self,
        account: AccountId,
        webhook: &Webhook,
        secret: &WebhookSecret,
        max: u32,
    ) -> StoreResult<()>;
    /// A page of the account's subscriptions, oldest first (never their secrets).
    async fn list_webhooks(
        &self,
        account: AccountId,
        page: &PageRequest,
    ) -> StoreResult<Page<Webhook>>;
    /// How many of `resource` the account keeps now (not for
    /// [`Resource::GroupsPerInstance`], which is counted per instance): a cheap look before
    /// expensive work. The insert checks again, in its transaction.
    async fn count_owned(&self, account: AccountId, resource: Resource) -> StoreResult<u64>;
    /// Deletes a subscription with its deliveries.
    async fn delete_webhook(&self, account: AccountId, id: &WebhookId) -> StoreResult<bool>;
    /// Records `event` and one delivery of it to this subscription only, due now (an open
    /// circuit breaker lets it through as the next probe).
    async fn queue_test_event(
        &self,
        account: AccountId,
        id: &WebhookId,
        event: NewEvent,
        now: DateTime<Utc>,
        give_up_at: DateTime<Utc>,
    ) -> StoreResult<WebhookAction>;
    /// Fans undispatched events out: one pending delivery per matching subscription that
    /// is not disabled, and the events marked dispatched, in one transaction. Returns
    /// deliveries created.
    async fn dispatch_events(
        &self,
        now: DateTime<Utc>,
        give_up_at: DateTime<Utc>,
        limit: u32,
    ) -> StoreResult<u64>;
    /// Leases due deliveries until `lease_until`, counting an attempt: round-robin across
    /// accounts and, within one, across its webhooks, under `limits`; disabled webhooks
    /// and those whose circuit breaker rests are skipped.
    async fn claim_deliveries(
        &self,
        now: DateTime<Utc>,
        lease_until: DateTime<Utc>,
        limits: ClaimLimits,
    ) -> StoreResult<Vec<ClaimedDelivery>>;
    /// Records attempts and their outcomes in one transaction, each releasing its lease
    /// if its claim still holds it; updates each webhook's failure streak under `breaker`
    /// (which may disable it and raise `webhook.disabled`, in the same transaction), in
    /// the order given. What each record did, in the same order.
    async fn record_attempts(
        &self,
        records: &[AttemptRecord],
        now: DateTime<Utc>,
        breaker: &BreakerPolicy,
    ) -> StoreResult<Vec<Recorded>>;
    /// [`Store::record_attempts`] for one attempt.
    async fn record_attempt(
        &self,
        record: &AttemptRecord,
        now: DateTime<Utc>,
        breaker: &BreakerPolicy,
    ) -> StoreResult<Recorded> {
        let recorded = self
            .record_attempts(std::slice::from_ref(record), now, breaker)
            .await?;
        Ok(recorded.first().copied().unwrap_or(Recorded::Stale))
    }
    /// Releases leases (graceful shutdown) without counting the attempt; each only while
    /// the claim (id, lease) still holds it.
    async fn release_deliveries(&self, claims: &[(DeliveryId, i64)]) -> StoreResult<()>;
    /// A page of the subscription's deliveries, newest first; `None` if the
    /// subscription is not the account's.
    async fn list_deliveries(
        &self,
        account: AccountId,
        id: &WebhookId,
        page: &PageRequest,
    ) -> StoreResult<Option<Page<Delivery>>>;
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
    ) -> StoreResult<WebhookAction>;
    /// Enables a subscription: not disabled, no failure streak, breaker closed, and its
    /// pending deliveries due at `now` with at least until `give_up_at` to succeed. `None`
    /// if the subscription is not the account's.
    async fn enable_webhook(
        &self,
        account: AccountId,
        id: &WebhookId,
        now: DateTime<Utc>,
        give_up_at: DateTime<Utc>,
    ) -> StoreResult<Option<Webhook>>;
    /// Makes `secret` the subscription's signing secret; the current one becomes the
    /// previous secret, signing too until `previous_expires_at` (an older previous one is
    /// dropped). `false` if the subscription is not the account's.
    async fn rotate_webhook_secret(
        &self,
        account: AccountId,
        id: &WebhookId,
        secret: &WebhookSecret,
        previous_expires_at: DateTime<Utc>,
    ) -> StoreResult<bool>;

    // Idempotency keys (see `crate::idempotency`). Answers are not written through a
    // method of their own: every method above that is a request's effect (the queue insert
    // of `enqueue_admitted`, `create_instance`, `save_channel`, `create_schedule`,
    // `create_webhook`, `queue_test_event`, `redeliver`, `enable_webhook`,
    // `rotate_webhook_secret`, `resume_schedule`, `set_instance_status`, `upsert_group`,
    // `record_event`) records the current request's answer in its own
    // transaction, and fails with `Conflict` (committing nothing) when another request
    // recorded the key first. A backend must keep that rule.

    /// The answer recorded under `key` for `account`, unless it expired by `now`.
    async fn idempotent_answer(
        &self,
        account: AccountId,
        key: &IdempotencyKey,
        now: DateTime<Utc>,
    ) -> StoreResult<Option<crate::idempotency::Recorded>>;
    /// Records the current request's answer for `result` on its own, for an effect that
    /// ended outside the store ([`crate::idempotency::Done`]); nothing for a request without
    /// a key. `Conflict` when another request recorded the key first.
    async fn record_answer(&self, result: &(dyn std::any::Any + Send + Sync)) -> StoreResult<()>;
    /// Deletes the keys that expired by `now`, `limit` per transaction; returns how many.
    async fn prune_idempotency_keys(&self, now: DateTime<Utc>, limit: u32) -> StoreResult<u64>;

    // Operations: readiness, maintenance.

    /// Proves that sends can be stored now: a small durable write through the path sends
    /// take. Fails with [`StoreError::Degraded`] also when that path failed for a reason
    /// outside the request (a full disk) in the last few seconds, since a tiny write can
    /// fit where a send does not.
    async fn probe_write(&self) -> StoreResult<()>;
    /// Copies the write-ahead log into the database and truncates it, so the log does not
    /// stay at its largest size after a burst. A no-op for backends without one.
    async fn checkpoint(&self) -> StoreResult<()>;
    /// Notified after this process commits a write that raised events, so the webhook
    /// delivery loop fans them out at once instead of at its next poll. `None` where the
    /// store cannot tell (the loop then polls, as other replicas do for these events).
    fn events_committed(&self) -> Option<std::sync::Arc<tokio::sync::Notify>> {
        None
    }
    /// Queue entries not finished yet, by state (`queued`, `sending`): the
    /// `sevenoways_queue_depth` gauge of `/metrics`, read at each scrape.
    async fn queue_depth(&self) -> StoreResult<Vec<(&'static str, u64)>>;

    // API keys (`sevenoways-server keys ...`, and [`crate::auth`] on every request).

    /// What the key with this hash is at `now`.
    async fn key_lookup(&self, key_hash: &[u8; 32], now: DateTime<Utc>) -> StoreResult<KeyLookup>;
    /// A number every revocation and rotation increases, in any process on this store.
    /// Servers poll it to drop their cached keys (see [`crate::auth::KeyCache`]).
    async fn key_generation(&self) -> StoreResult<i64>;
    /// Records that the key was used at `now`.
    async fn touch_key(&self, key: KeyId, now: DateTime<Utc>) -> StoreResult<()>;
    /// Every key, by account then age.
    async fn list_keys(&self) -> StoreResult<Vec<KeyInfo>>;
    /// The account of the key that hashes to `key_hash`, whatever the key's state (to
    /// revoke the account of a leaked key).
    async fn account_of_key(&self, key_hash: &[u8; 32]) -> StoreResult<Option<AccountId>>;
    /// Gives `account` a new key and makes its current keys expire at `old_expires_at`
    /// (`now` ends them at once). `false` if the account does not exist or is revoked.
    async fn rotate_key(
        &self,
        account: AccountId,
        new_key_hash: &[u8; 32],
        old_expires_at: DateTime<Utc>,
        now: DateTime<Utc>,
    ) -> StoreResult<bool>;
    /// Revokes the account and every key of it, in one transaction: its unsent queue
    /// entries fail (`reason`, no events), its schedules stop, its webhook subscriptions
    /// and their pending deliveries are removed. `None` if there is no such account or it
    /// was revoked already.
    async fn revoke_account(
        &self,
        account: AccountId,
        now: DateTime<Utc>,
        reason: &str,
    ) -> StoreResult<Option<Revoked>>;
    /// Counts one `test` or `redeliver` call against the account's allowance of
    /// `per_minute` in any sliding minute (0: unlimited); over it, nothing is counted and
    /// the answer is how long until a call would be allowed.
    async fn take_manual_call(
        &self,
        account: AccountId,
        now: DateTime<Utc>,
        per_minute: u32,
    ) -> StoreResult<Result<(), std::time::Duration>>;

    // Engines (WAHA, Meta): see `crate::transport`.

    /// Records how the instance's engine names its number, with the secret that engine's
    /// webhooks for it are verified with. `Conflict` when another instance of that engine
    /// has the name already; `false` when the instance does not exist.
    async fn bind_engine(
        &self,
        account: AccountId,
        id: &InstanceId,
        engine_ref: &str,
        secret: Option<&EngineSecret>,
    ) -> StoreResult<bool>;
    /// The instance `engine` knows as `engine_ref`, whatever its account: how an engine's
    /// webhook finds its instance.
    async fn instance_by_engine_ref(
        &self,
        engine: EngineKind,
        engine_ref: &str,
    ) -> StoreResult<Option<EngineInstance>>;
    /// Records the engine's id of a claimed entry before it is sent (a pre-generated id),
    /// so a receipt that overtakes the send's answer, or follows a lost answer, finds it.
    async fn link_provider_message(&self, entry: &Claimed, provider_id: &str) -> StoreResult<()>;
    /// The engine's id of this entry from an earlier attempt, if any.
    async fn linked_message(&self, entry: &Claimed) -> StoreResult<Option<LinkedMessage>>;
    /// [`Store::mark_sent`], also recording the engine's id of the message and applying
    /// the receipts that arrived before the send was recorded (in order: `message.sent`,
    /// then `message.delivered`, `message.read`).
    async fn mark_sent_with_id(
        &self,
        entry: &Claimed,
        now: DateTime<Utc>,
        event: NewEvent,
        provider_id: Option<&str>,
    ) -> StoreResult<bool>;
    /// Applies what an engine reported about an instance, with its events, in one
    /// transaction. With `event_key`, an update already applied under that key (an
    /// engine's redelivery) changes nothing and returns `false`. Receipts move an entry
    /// forward only (`sent` → `delivered` → `read`), each event at most once.
    async fn apply_engine_update(
        &self,
        account: AccountId,
        instance: &InstanceId,
        event_key: Option<(EngineKind, &str)>,
        update: EngineUpdate,
        now: DateTime<Utc>,
    ) -> StoreResult<bool>;
    /// Makes the instance's groups exactly `groups` (as its engine lists them): new ones
    /// added, renamed ones renamed, the rest removed. `false` if the instance is gone.
    async fn replace_groups(
        &self,
        account: AccountId,
        id: &InstanceId,
        groups: &[Group],
    ) -> StoreResult<bool>;
    /// Deletes engine bookkeeping received before `before`: receipts never matched and
    /// event keys kept for deduplication. Returns the rows deleted.
    async fn prune_engine_state(&self, before: DateTime<Utc>) -> StoreResult<u64>;

    // The web console ([`crate::console`]).

    /// Saves a console session. In the same transaction every expired session is
    /// deleted, and the account's oldest ones past `max_per_account` (0: no limit), so
    /// the table stays bounded however often a key signs in.
    async fn create_console_session(
        &self,
        token_hash: &[u8; 32],
        account: AccountId,
        sealed_key: &[u8],
        now: DateTime<Utc>,
        expires_at: DateTime<Utc>,
        max_per_account: u32,
    ) -> StoreResult<()>;
    /// The session with this token hash, unless it has expired at `now`.
    async fn console_session(
        &self,
        token_hash: &[u8; 32],
        now: DateTime<Utc>,
    ) -> StoreResult<Option<ConsoleSessionRow>>;
    /// Ends a session ("Sign out"); ending one that is gone is not an error.
    async fn delete_console_session(&self, token_hash: &[u8; 32]) -> StoreResult<()>;
    /// How long `client` must wait before its next sign-in is even checked, once it has
    /// failed `per_minute` times in the last minute (0: never); `None` if it may try now.
    async fn console_sign_in_wait(
        &self,
        client: &str,
        now: DateTime<Utc>,
        per_minute: u32,
    ) -> StoreResult<Option<std::time::Duration>>;
    /// Records a failed sign-in of `client`; failures older than a minute are forgotten.
    async fn record_console_sign_in_failure(
        &self,
        client: &str,
        now: DateTime<Utc>,
    ) -> StoreResult<()>;
    /// The account's queue entries matching `filter`, newest first, at most `limit`, among
    /// its latest [`QUEUE_SCAN`] entries (older than `filter.before`).
    async fn recent_queue_entries(
        &self,
        account: AccountId,
        filter: &QueueFilter,
        limit: u32,
    ) -> StoreResult<Vec<QueueEntry>>;
}
