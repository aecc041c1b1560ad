//! The queue: the group-commit writer, claims, outcomes and receipts.

use std::str::FromStr;
use std::sync::Arc;

use chrono::{DateTime, Utc};
use sevenoways_sdk::QueueId;
use sevenoways_sdk::models::queue::QueueEntry;
use sevenoways_sdk::models::webhooks::{EventData, MessageEvent};
use sqlx::{Row, SqliteConnection};
use tokio::sync::{mpsc, oneshot};

use super::idempotency;
use super::limits::admit_batch;
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
    fn is_probe(&self) -> bool {
        self.entries.is_empty() && self.admission.is_none()
    }
}

/// What the group-commit loop needs to come back from a failed batch.
pub(super) struct Recovery {
    /// To open a connection in place of one that failed.
    pub(super) options: sqlx::sqlite::SqliteConnectOptions,
    /// Where failures and successes are reported.
    pub(super) health: std::sync::Arc<super::ops::WriteHealth>,
    /// Set when the connection inserts an event (see `super::writer::Signals`).
    pub(super) raised: std::sync::Arc<std::sync::atomic::AtomicBool>,
}

impl Recovery {
    /// A fresh connection, or `None` if one cannot be opened now (the next batch tries
    /// again).
    ///
    /// Why a failed connection is replaced rather than reused: on `SQLITE_FULL` (or an
    /// I/O error) SQLite rolls the transaction back by itself, so sqlx's `ROLLBACK` fails
    /// and its transaction depth stays at 1; every later `BEGIN IMMEDIATE` on that
    /// connection is then refused, and sends fail until a restart even after the disk is
    /// freed. A new connection has none of that state, whatever the error was.
    async fn reopen(&self, old: Option<SqliteConnection>) -> Option<SqliteConnection> {
        if let Some(old) = old {
            let _ = sqlx::Connection::close(old).await;
        }
        let conn = async {
            let mut conn = sqlx::ConnectOptions::connect(&self.options).await?;
            super::writer::watch_events(&mut conn, self.raised.clone()).await?;
            Ok::<_, sqlx::Error>(conn)
        };
        match conn.await {
            Ok(conn) => Some(conn),
            Err(e) => {
                tracing::warn!(error = %e, "cannot reopen the queue's connection; will retry");
                None
            }
        }
    }
}

/// Most entries one group commit writes; enough to amortise the fsync, small enough to
/// keep each transaction short.
const MAX_BATCH_ENTRIES: usize = 2048;

impl SqliteStore {
    pub(super) async fn send_job(
        &self,
        entries: Vec<NewEntry>,
        admission: Option<Admission>,
    ) -> StoreResult<Result<Vec<QueueId>, Refusal>> {
        let (reply, rx) = oneshot::channel();
        // The writer is another task: the request's key travels with the job. A write
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
///
/// After a failed batch the connection is replaced ([`Recovery::reopen`]) and the failure
/// reported, so a full disk costs the sends made while it is full (answered 503), and
/// sends succeed again as soon as there is space.
pub(super) async fn group_commit(
    conn: SqliteConnection,
    mut rx: mpsc::Receiver<EnqueueJob>,
    recovery: Recovery,
    writer: super::Writer,
) {
    let mut conn = Some(conn);
    let mut jobs: Vec<EnqueueJob> = Vec::new();
    while let Some(first) = rx.recv().await {
        let mut entries = first.entries.len();
        jobs.push(first);
        if conn.is_none() {
            conn = recovery.reopen(None).await;
        }
        // Sends that arrive while another write has the turn join this batch.
        let turn = writer.turn().await;
        while entries < MAX_BATCH_ENTRIES {
            match rx.try_recv() {
                Ok(job) => {
                    entries += job.entries.len();
                    jobs.push(job);
                }
                Err(_) => break,
            }
        }
        let started = std::time::Instant::now();
        let result = match conn.as_mut() {
            Some(c) => insert_batch(c, &jobs).await,
            None => Err(sqlx::Error::Io(std::io::Error::other(
                "the queue's database connection could not be reopened",
            ))),
        };
        drop(turn);
        match result {
            Ok(results) => {
                if entries > 0 {
                    crate::telemetry::group_commit(entries, started.elapsed());
                }
                if jobs.iter().any(|j| !j.is_probe()) {
                    recovery.health.stored();
                }
                for (job, result) in jobs.drain(..).zip(results) {
                    let _ = job.reply.send(Ok(result));
                }
            }
            Err(e) => {
                let reason = super::ops::passing_condition(&e);
                recovery
                    .health
                    .failed(reason.unwrap_or("the database failed"));
                // One failure answers every job of the batch; the error is not `Clone`.
                let msg = e.to_string();
                for job in jobs.drain(..) {
                    let source = format!("queue write failed: {msg}").into();
                    let _ = job.reply.send(Err(match reason {
                        Some(reason) => StoreError::Degraded { reason, source },
                        None => StoreError::Backend(source),
                    }));
                }
                conn = recovery.reopen(conn.take()).await;
            }
        }
    }
}

async fn insert_batch(
    conn: &mut SqliteConnection,
    jobs: &[EnqueueJob],
) -> Result<Vec<Result<Vec<QueueId>, Refusal>>, sqlx::Error> {
    let at = Utc::now();
    let now = millis(at);
    // IMMEDIATE: the admission reads before it writes; a deferred transaction could not
    // upgrade to a write after another connection committed (SQLITE_BUSY_SNAPSHOT).
    let mut tx = sqlx::Connection::begin_with(conn, "BEGIN IMMEDIATE").await?;
    // A send whose Idempotency-Key is already recorded is a replay: it is not admitted
    // (no count against the rate limit or the caps) and queues nothing.
    let replays = idempotency::replays(&mut tx, jobs, at).await?;
    let fresh: Vec<&EnqueueJob> = jobs
        .iter()
        .zip(&replays)
        .filter(|(_, replay)| !**replay)
        .map(|(job, _)| job)
        .collect();
    // Each send's instance must still be there (the handler may not have read it, see
    // `routes::messages::send_message`, and a delete may have come first): checked with
    // the admission's reads.
    let verdicts = admit_batch(&mut tx, &fresh).await?;
    let entries: Vec<&NewEntry> = fresh
        .iter()
        .zip(&verdicts)
        .filter(|(_, verdict)| verdict.is_ok())
        .flat_map(|(job, _)| &job.entries)
        .collect();
    let ids = insert_queued(&mut tx, &entries, now).await?;
    if jobs.iter().any(EnqueueJob::is_probe) {
        sqlx::query(
            "INSERT INTO meta (key, value) VALUES ('heartbeat', ?)
             ON CONFLICT (key) DO UPDATE SET value = excluded.value",
        )
        .bind(now)
        .execute(&mut *tx)
        .await?;
    }
    let mut ids = ids.into_iter();
    let results: Vec<Result<Vec<QueueId>, Refusal>> = fresh
        .iter()
        .zip(verdicts)
        .map(|(job, verdict)| verdict.map(|()| ids.by_ref().take(job.entries.len()).collect()))
        .collect();
    let recorded = idempotency::record_sends(&mut tx, &fresh, &results, at).await?;
    tx.commit().await?;
    for (claim, answer) in recorded {
        claim.committed(answer);
    }
    let mut results = results.into_iter();
    Ok(jobs
        .iter()
        .zip(replays)
        .map(|(job, replay)| match (&job.claim, replay) {
            (Some(claim), true) => {
                claim.taken();
                Ok(Vec::new())
            }
            _ => results.next().expect("one result per fresh job"),
        })
        .collect())
}

/// Inserts `queued` entries with multi-row INSERTs; returns their ids in order.
pub(super) async fn insert_queued(
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
