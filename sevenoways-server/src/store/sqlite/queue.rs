//! The queue: sends handed to the group commit (`commit.rs`), claims, outcomes and
//! receipts.

use std::str::FromStr;
use std::sync::Arc;

use chrono::{DateTime, Utc};
use sevenoways_sdk::QueueId;
use sevenoways_sdk::models::queue::QueueEntry;
use sevenoways_sdk::models::webhooks::{EventData, MessageEvent};
use sqlx::{Row, SqliteConnection};
use tokio::sync::oneshot;

use super::webhooks::insert_event_for;
use super::*;
use crate::idempotency::{Claim, Outcome};

/// One caller's entries, admitted under its plan first when `admission` is set.
///
/// A job with no entries and no admission is a write probe ([`Store::probe_write`]): its
/// batch also records a heartbeat, proving the path sends take can write now.
pub(super) struct EnqueueJob {
    pub(super) entries: Vec<NewEntry>,
    pub(super) admission: Option<Admission>,
    pub(super) reply: oneshot::Sender<StoreResult<Result<Vec<QueueId>, Refusal>>>,
    /// The request's Idempotency-Key, whose answer is recorded in the batch's transaction
    /// (see `idempotency::replays` and `record_sends`).
    pub(super) claim: Option<Arc<Claim>>,
}

impl EnqueueJob {
    pub(super) fn is_probe(&self) -> bool {
        self.entries.is_empty() && self.admission.is_none()
    }
}

impl SqliteStore {
    pub(super) async fn send_job(
        &self,
        entries: Vec<NewEntry>,
        admission: Option<Admission>,
    ) -> StoreResult<Result<Vec<QueueId>, Refusal>> {
        let (reply, rx) = oneshot::channel();
        // The writer is another thread: the request's key travels with the job. A write
        // probe answers no request, so it never carries one (it would record nothing, but
        // a probe must not be taken for the request's effect).
        let claim = if entries.is_empty() && admission.is_none() {
            None
        } else {
            crate::idempotency::current()
        };
        self.enqueue_tx
            .send(EnqueueJob {
                entries,
                admission,
                reply,
                claim: claim.clone(),
            })
            .await
            .map_err(|_| StoreError::Unavailable("queue writer stopped"))?;
        let result = rx
            .await
            .map_err(|_| StoreError::Unavailable("queue writer stopped"))?;
        match claim {
            Some(claim) if claim.outcome() == Outcome::Taken => Err(StoreError::Conflict(format!(
                "Idempotency-Key {:?} was used by another request that finished first",
                claim.key.as_str()
            ))),
            _ => result,
        }
    }
}

/// Rows per queue INSERT: 9 parameters each stays well under SQLite's 32766-parameter
/// limit.
pub(super) const ROWS_PER_INSERT: usize = 500;

/// The multi-row INSERT of `rows` queued entries, for [`insert_queued`] and the group
/// commit's own: each row binds the account, instance, recipient, recipient kind, content
/// (JSON), next attempt, schedule, creation and update times.
pub(super) fn insert_queued_sql(rows: usize) -> String {
    let mut sql = String::from(
        "INSERT INTO queue (account_id, instance_id, recipient, recipient_kind, content, status,
                            next_attempt_at, schedule_id, created_at, updated_at) VALUES ",
    );
    for i in 0..rows {
        sql.push_str(if i == 0 {
            "(?, ?, ?, ?, ?, 'queued', ?, ?, ?, ?)"
        } else {
            ", (?, ?, ?, ?, ?, 'queued', ?, ?, ?, ?)"
        });
    }
    sql
}

/// Inserts `queued` entries with multi-row INSERTs; returns their ids in order.
pub(super) async fn insert_queued(
    conn: &mut SqliteConnection,
    entries: &[&NewEntry],
    now: i64,
) -> Result<Vec<QueueId>, sqlx::Error> {
    let mut ids = Vec::with_capacity(entries.len());
    for chunk in entries.chunks(ROWS_PER_INSERT) {
        let sql = insert_queued_sql(chunk.len());
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
pub(super) async fn insert_entry(
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

pub(super) async fn get_entry(
    store: &SqliteStore,
    account: AccountId,
    id: QueueId,
) -> StoreResult<Option<QueueEntry>> {
    let Ok(raw_id) = i64::try_from(id.0) else {
        return Ok(None);
    };
    let row = sqlx::query("SELECT * FROM queue WHERE account_id = ? AND id = ?")
        .bind(account)
        .bind(raw_id)
        .fetch_optional(&store.read)
        .await?;
    row.as_ref().map(queue_entry_row).transpose()
}

/// A `queue` row as the API shows it.
pub(super) fn queue_entry_row(row: &sqlx::sqlite::SqliteRow) -> StoreResult<QueueEntry> {
    Ok(QueueEntry {
        queue_id: QueueId(row.try_get::<i64, _>("id")? as u64),
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
    })
}

pub(super) async fn claim(
    store: &SqliteStore,
    now: DateTime<Utc>,
    lease_until: DateTime<Utc>,
    pacing: Pacing,
    limit: u32,
) -> StoreResult<Vec<Claimed>> {
    let now_ms = millis(now);
    // Most polls find nothing to claim: an idle server has nothing due, and a busy one
    // has its backlog's numbers inside their pacing gaps. One read says so without a
    // writer's turn and its transaction: a `queue_due` probe first (an idle server stops
    // there), then one `queue_next` probe per number whose slot is free, as the claim
    // below makes (the ORDER BY is what steers the planner to `queue_next`: without it,
    // it probes `queue_due`, which reads the whole backlog).
    let anything: bool = sqlx::query_scalar(
        "SELECT (EXISTS (SELECT 1 FROM queue WHERE status = 'queued' AND next_attempt_at <= ?1)
                 AND EXISTS (SELECT 1 FROM instances i WHERE i.next_send_at <= ?1 AND (
                     SELECT q.id FROM queue q
                     WHERE q.status = 'queued' AND q.account_id = i.account_id
                       AND q.instance_id = i.instance_id AND q.next_attempt_at <= ?1
                     ORDER BY q.id LIMIT 1) IS NOT NULL))
             OR EXISTS (SELECT 1 FROM queue WHERE status = 'sending' AND lease_until < ?1)",
    )
    .bind(now_ms)
    .fetch_one(&store.read)
    .await?;
    if !anything {
        return Ok(Vec::new());
    }
    let mut tx = store.write.begin().await?;
    // Expired leases (a worker died mid-send) are due again.
    sqlx::query("UPDATE queue SET status = 'queued', lease_until = NULL WHERE status = 'sending' AND lease_until < ?")
        .bind(now_ms)
        .execute(&mut *tx)
        .await?;
    // The oldest due entry of each number whose pacing slot is free, the numbers that
    // waited longest first (without pacing, the same few would otherwise win every
    // round). Driven by the numbers, one `queue_next` probe each, so its cost does not
    // grow with the backlog.
    let rows = sqlx::query(
        "UPDATE queue SET status = 'sending', lease_until = ?1, attempts = attempts + 1, updated_at = ?2
         WHERE id IN (
            SELECT id FROM (
                SELECT (SELECT q.id FROM queue q
                        WHERE q.status = 'queued' AND q.account_id = i.account_id
                          AND q.instance_id = i.instance_id AND q.next_attempt_at <= ?2
                        ORDER BY q.id LIMIT 1) AS id,
                       i.next_send_at AS ready
                FROM instances i WHERE i.next_send_at <= ?2)
            WHERE id IS NOT NULL ORDER BY ready LIMIT ?3)
         RETURNING id, account_id, instance_id, recipient, recipient_kind, content, attempts",
    )
    .bind(millis(lease_until))
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
            kind: RecipientKind::parse(&kind).ok_or_else(|| corrupt("recipient kind", &kind))?,
            content: content(row.try_get::<&str, _>("content")?)?,
            attempts: row.try_get::<i64, _>("attempts")? as u32,
            lease: millis(lease_until),
        });
    }
    tx.commit().await?;
    Ok(claimed)
}

pub(super) async fn mark_sent(
    store: &SqliteStore,
    entry: &Claimed,
    now: DateTime<Utc>,
    event: NewEvent,
) -> StoreResult<bool> {
    let mut tx = store.write.begin().await?;
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

pub(super) async fn mark_retry(
    store: &SqliteStore,
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
    .execute(&mut *store.write.conn().await?)
    .await?
    .rows_affected()
        == 1)
}

pub(super) async fn mark_failed(
    store: &SqliteStore,
    entry: &Claimed,
    now: DateTime<Utc>,
    reason: &str,
    event: NewEvent,
) -> StoreResult<bool> {
    let mut tx = store.write.begin().await?;
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

pub(super) async fn advance_receipts(
    store: &SqliteStore,
    now: DateTime<Utc>,
    delivered_before: DateTime<Utc>,
    read_before: DateTime<Utc>,
) -> StoreResult<u64> {
    // An idle server's tick finds nothing: one read says so without a writer's turn.
    let anything: bool = sqlx::query_scalar(&format!(
        "SELECT EXISTS ({}) OR EXISTS ({})",
        crate::store::awaiting_receipt("sent", "sent_at", "?1", "1"),
        crate::store::awaiting_receipt("delivered", "delivered_at", "?2", "1"),
    ))
    .bind(millis(delivered_before))
    .bind(millis(read_before))
    .fetch_one(&store.read)
    .await?;
    if !anything {
        return Ok(0);
    }
    let mut tx = store.write.begin().await?;
    let mut changed = 0;
    // Only people and groups send receipts; channels and communities stop at `sent`. This
    // is the sandbox's clock: entries of instances another engine serves move only on that
    // engine's own receipts (`store::sqlite::engines`).
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
            "UPDATE queue SET status = '{to}', {column} = ?1, updated_at = ?1
             WHERE id IN ({})
             RETURNING id, account_id, instance_id, recipient, content",
            crate::store::awaiting_receipt(from, time_column, "?2", "?3"),
        ))
        .bind(millis(now))
        .bind(millis(before))
        .bind(crate::store::RECEIPT_BATCH)
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

impl FromStr for RecipientKind {
    type Err = ();
    fn from_str(s: &str) -> Result<Self, ()> {
        Self::parse(s).ok_or(())
    }
}
