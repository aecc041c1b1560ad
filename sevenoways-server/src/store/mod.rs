//! Storage behind one trait, so handlers and workers never see SQL.
//!
//! Everything two replicas would need to share lives here (queue leases, pacing slots,
//! schedule claims, events), never only in a process's memory; a Postgres backend is one
//! more module beside [`sqlite`] implementing [`Store`].

pub mod sqlite;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use sevenoways_sdk::models::channels::Channel;
use sevenoways_sdk::models::groups::Group;
use sevenoways_sdk::models::instances::{Instance, InstanceStatus};
use sevenoways_sdk::models::queue::QueueEntry;
use sevenoways_sdk::models::sandbox::OutboxMessage;
use sevenoways_sdk::models::schedules::{CreateScheduleRequest, Schedule};
use sevenoways_sdk::{
    ChannelId, Content, EventData, InstanceId, NewsletterJid, QueueId, ScheduleId,
};

/// An account: one API key and everything created with it.
pub type AccountId = i64;

/// What a storage call can fail with. Only `Conflict` is the caller's doing; the rest
/// are logged and answered as 500 or 503.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// A row with that key exists already.
    #[error("{0}")]
    Conflict(String),
    /// The database failed.
    #[error("database error: {0}")]
    Database(#[from] sqlx::Error),
    /// Stored data did not decode (a bug or a hand-edited database).
    #[error("corrupt row: {0}")]
    Corrupt(String),
}

/// Shorthand.
pub type StoreResult<T> = Result<T, StoreError>;

/// The account an API key belongs to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Account {
    /// Its id.
    pub id: AccountId,
    /// A name for people.
    pub name: String,
    /// Its plan (rate limit and caps).
    pub plan: String,
}

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
    /// Owner.
    pub account_id: AccountId,
    /// Sender.
    pub instance_id: InstanceId,
    /// Recipient address.
    pub to: String,
    /// Recipient kind.
    pub kind: RecipientKind,
    /// What to send.
    pub content: Content,
    /// The schedule that fired it, if any.
    pub schedule_id: Option<ScheduleId>,
}

/// A queue entry a worker holds a lease on.
#[derive(Debug, Clone)]
pub struct Claimed {
    /// The entry.
    pub id: QueueId,
    /// Owner.
    pub account_id: AccountId,
    /// Sender.
    pub instance_id: InstanceId,
    /// Recipient address.
    pub to: String,
    /// Recipient kind.
    pub kind: RecipientKind,
    /// What to send.
    pub content: Content,
    /// Attempts including this one.
    pub attempts: u32,
}

/// A webhook event to record with the change that raised it.
#[derive(Debug, Clone)]
pub struct NewEvent {
    /// Owner.
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

/// A schedule that is due, claimed and already advanced to its next run.
#[derive(Debug, Clone)]
pub struct DueSchedule {
    /// Owner.
    pub account_id: AccountId,
    /// The schedule.
    pub schedule: Schedule,
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
    /// Marks an entry sent and records `message.sent`.
    async fn mark_sent(&self, id: QueueId, now: DateTime<Utc>, event: NewEvent) -> StoreResult<()>;
    /// Puts an entry back for another attempt at `at`.
    async fn mark_retry(&self, id: QueueId, at: DateTime<Utc>, reason: &str) -> StoreResult<()>;
    /// Marks an entry failed for good and records `message.failed`.
    async fn mark_failed(
        &self,
        id: QueueId,
        now: DateTime<Utc>,
        reason: &str,
        event: NewEvent,
    ) -> StoreResult<()>;
    /// Releases every lease this process holds (graceful shutdown) so another worker
    /// picks the entries up at once.
    async fn release_leases(&self, ids: &[QueueId]) -> StoreResult<()>;
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
    /// Claims schedules due at `now` and advances each to `next(spec, now)` in the same
    /// transaction, so two processes never fire one run twice.
    async fn claim_due_schedules(
        &self,
        now: DateTime<Utc>,
        next: for<'s> fn(&'s CreateScheduleRequest, DateTime<Utc>) -> Option<DateTime<Utc>>,
    ) -> StoreResult<Vec<DueSchedule>>;
}
