//! The queue on Postgres: the group-commit writer, claims, outcomes and receipts (see the
//! SQLite store's module of the same name for what each step is for).
//!
//! What changes with several replicas on one database:
//! - each process runs its own group commit; a batch locks its accounts ([`lock_account`],
//!   ascending) before the idempotency and limit checks, so the rate window, the caps and
//!   the recorded keys another replica commits are seen before this batch decides;
//! - queue ids come from the identity sequence, not from "one writer numbers them in
//!   order": a batch takes its ids first and inserts them explicitly, so each caller gets
//!   its own ids in its entries' order;
//! - a claim locks the instance rows whose pacing slot it takes (`FOR UPDATE SKIP
//!   LOCKED`), so two replicas never send from one number within its gap.

use std::collections::BTreeSet;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use sevenoways_sdk::QueueId;
use sevenoways_sdk::models::queue::QueueEntry;
use sevenoways_sdk::models::webhooks::{EventData, MessageEvent};
use sqlx::pool::PoolConnection;
use sqlx::{PgConnection, Postgres, Row};
use tokio::sync::{mpsc, oneshot};

use super::idempotency;
use super::limits::admit_batch;
use super::webhooks::insert_event_for;
use super::*;
use crate::idempotency::{Claim, Outcome};

/// One caller's entries, admitted under its plan first when `admission` is set; a job
/// with neither is a write probe (as the SQLite store's `EnqueueJob`).
pub(super) struct EnqueueJob {
    pub(super) entries: Vec<NewEntry>,
    pub(super) admission: Option<Admission>,
    pub(super) reply: oneshot::Sender<StoreResult<Result<Vec<QueueId>, Refusal>>>,
    /// The request's Idempotency-Key, recorded in the batch's transaction.
    pub(super) claim: Option<Arc<Claim>>,
}

impl EnqueueJob {
    fn is_probe(&self) -> bool {
        self.entries.is_empty() && self.admission.is_none()
    }
}

/// How long a failed group commit keeps [`Writer::recent_failure`] answering, unless a
/// send succeeds before.
const FAILURE_MEMORY: Duration = Duration::from_secs(10);

/// The handle on this process's group commit: where jobs go, and how the last batches
/// went (for [`Store::probe_write`]).
#[derive(Clone)]
pub(super) struct Writer {
    jobs: mpsc::Sender<EnqueueJob>,
    last_failure: Arc<Mutex<Option<(Instant, &'static str)>>>,
}

impl Writer {
    /// Starts the group-commit task on `pool`; it ends when every handle is dropped.
    pub(super) fn start(pool: PgPool) -> Self {
        let (jobs, rx) = mpsc::channel(4096);
        let writer = Self {
            jobs,
            last_failure: Arc::default(),
        };
        tokio::spawn(group_commit(pool, rx, writer.last_failure.clone()));
        writer
    }

    /// Why the group commit failed in the last few seconds, if it did and no send has
    /// been stored since.
    pub(super) fn recent_failure(&self) -> Option<&'static str> {
        let last = self.last_failure.lock().unwrap_or_else(|e| e.into_inner());
        last.filter(|(at, _)| at.elapsed() < FAILURE_MEMORY)
            .map(|(_, reason)| reason)
    }
}

/// Most entries one group commit writes: as on SQLite.
const MAX_BATCH_ENTRIES: usize = 2048;

impl PgStore {
    /// Hands `entries` to the group commit and waits for its commit (an empty job without
    /// admission is a write probe, as on SQLite).
    pub(super) async fn send_job(
        &self,
        entries: Vec<NewEntry>,
        admission: Option<Admission>,
    ) -> StoreResult<Result<Vec<QueueId>, Refusal>> {
        let (reply, rx) = oneshot::channel();
        // The writer is another task: the request's key travels with the job. A probe
        // answers no request, so it never carries one.
        let claim = if entries.is_empty() && admission.is_none() {
            None
        } else {
            crate::idempotency::current()
        };
        self.writer
            .jobs
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
            Some(claim) if claim.outcome() == Outcome::Taken => Err(idempotency::taken(&claim)),
            _ => result,
        }
    }
}

/// The group-commit loop: take every job waiting, write them in one transaction, answer
/// each (as the SQLite store's `group_commit`). It holds one pooled connection; after a
/// failed batch that connection is closed and the next batch takes a fresh one, so a lost
/// connection or a restarted database costs the sends of that moment (answered 503) and
/// nothing after.
async fn group_commit(
    pool: PgPool,
    mut rx: mpsc::Receiver<EnqueueJob>,
    last_failure: Arc<Mutex<Option<(Instant, &'static str)>>>,
) {
    let mut conn: Option<PoolConnection<Postgres>> = None;
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
        if conn.is_none() {
            conn = match pool.acquire().await {
                Ok(c) => Some(c),
                Err(e) => {
                    tracing::warn!(error = %e, "no database connection for the queue; will retry");
                    None
                }
            };
        }
        let started = Instant::now();
        let result = match conn.as_mut() {
            Some(c) => write_batch(c, &jobs).await,
            None => Err(sqlx::Error::PoolTimedOut),
        };
        match result {
            Ok(results) => {
                if entries > 0 {
                    crate::telemetry::group_commit(entries, started.elapsed());
                }
                if jobs.iter().any(|j| !j.is_probe()) {
                    *last_failure.lock().unwrap_or_else(|e| e.into_inner()) = None;
                }
                for (job, result) in jobs.drain(..).zip(results) {
                    let _ = job.reply.send(Ok(result));
                }
            }
            Err(e) => {
                let msg = e.to_string();
                let reason = match StoreError::from(e) {
                    StoreError::Degraded { reason, .. } => Some(reason),
                    _ => None,
                };
                *last_failure.lock().unwrap_or_else(|e| e.into_inner()) =
                    Some((Instant::now(), reason.unwrap_or("the database failed")));
                for job in jobs.drain(..) {
                    let source = format!("queue write failed: {msg}").into();
                    let _ = job.reply.send(Err(match reason {
                        Some(reason) => StoreError::Degraded { reason, source },
                        None => StoreError::Backend(source),
                    }));
                }
                // Whatever state the failure left the connection in, the next batch does
                // not inherit it.
                if let Some(c) = conn.take() {
                    let _ = c.close().await;
                }
            }
        }
    }
}

/// [`insert_batch`], once more when the batch lost a race for an Idempotency-Key to a
/// request another path recorded meanwhile: the second try finds that key recorded and
/// answers its job as a replay, instead of failing every caller of the batch.
async fn write_batch(
    conn: &mut PgConnection,
    jobs: &[EnqueueJob],
) -> Result<Vec<Result<Vec<QueueId>, Refusal>>, sqlx::Error> {
    match insert_batch(conn, jobs).await {
        Err(e) if idempotency::is_key_race(&e) => insert_batch(conn, jobs).await,
        other => other,
    }
}

async fn insert_batch(
    conn: &mut PgConnection,
    jobs: &[EnqueueJob],
) -> Result<Vec<Result<Vec<QueueId>, Refusal>>, sqlx::Error> {
    let at = Utc::now();
    let now = millis(at);
    let mut tx = sqlx::Connection::begin(conn).await?;
    // Every account the batch checks or records for, locked in ascending order before the
    // first read: from here on no other replica's batch (or quota insert) of these
    // accounts runs until this one commits, and every statement below sees what theirs
    // committed.
    let accounts: BTreeSet<AccountId> = jobs
        .iter()
        .flat_map(|job| {
            job.admission
                .as_ref()
                .map(|a| a.account_id)
                .into_iter()
                .chain(job.claim.as_ref().map(|c| c.account))
        })
        .collect();
    for account in &accounts {
        lock_account(&mut tx, *account).await?;
    }
    let replays = idempotency::replays(&mut tx, jobs, at).await?;
    let fresh: Vec<&EnqueueJob> = jobs
        .iter()
        .zip(&replays)
        .filter(|(_, replay)| !**replay)
        .map(|(job, _)| job)
        .collect();
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
            "INSERT INTO meta (key, value) VALUES ('heartbeat', $1)
             ON CONFLICT (key) DO UPDATE SET value = excluded.value",
        )
        .bind(now.to_string().into_bytes())
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
    let mut answers = Vec::with_capacity(jobs.len());
    for (job, replay) in jobs.iter().zip(replays) {
        answers.push(match (&job.claim, replay) {
            (Some(claim), true) => {
                claim.taken();
                Ok(Vec::new())
            }
            _ => results.next().ok_or_else(|| {
                sqlx::Error::Protocol("the group commit lost a job's result".into())
            })?,
        });
    }
    Ok(answers)
}

/// Inserts `queued` entries; returns their ids in `entries`' order.
///
/// The ids are taken from the identity's sequence first and inserted explicitly: other
/// replicas draw from the same sequence at the same time, so a multi-row INSERT's ids are
/// neither consecutive nor (by any guarantee) returned in row order. Sorted, they keep
/// each caller's entries in the order they were sent, as the claim's oldest-first expects.
/// The rows go in as arrays, so one statement takes any number of them.
pub(super) async fn insert_queued(
    conn: &mut PgConnection,
    entries: &[&NewEntry],
    now: i64,
) -> Result<Vec<QueueId>, sqlx::Error> {
    if entries.is_empty() {
        return Ok(Vec::new());
    }
    let mut ids: Vec<i64> = sqlx::query_scalar(
        "SELECT nextval(pg_get_serial_sequence('queue', 'id')) FROM generate_series(1, $1)",
    )
    .bind(entries.len() as i64)
    .fetch_all(&mut *conn)
    .await?;
    if ids.len() != entries.len() {
        return Err(sqlx::Error::Protocol(format!(
            "the queue sequence gave {} ids for {} entries",
            ids.len(),
            entries.len()
        )));
    }
    ids.sort_unstable();
    let mut accounts = Vec::with_capacity(entries.len());
    let mut instances = Vec::with_capacity(entries.len());
    let mut recipients = Vec::with_capacity(entries.len());
    let mut kinds = Vec::with_capacity(entries.len());
    let mut contents = Vec::with_capacity(entries.len());
    let mut schedules = Vec::with_capacity(entries.len());
    for entry in entries {
        accounts.push(entry.account_id.0);
        instances.push(entry.instance_id.as_str());
        recipients.push(entry.to.as_str());
        kinds.push(entry.kind.as_str());
        contents.push(content_json(&entry.content)?);
        schedules.push(entry.schedule_id.as_ref().map(|s| s.as_str()));
    }
    sqlx::query(
        "INSERT INTO queue (id, account_id, instance_id, recipient, recipient_kind, content,
                            status, next_attempt_at, schedule_id, created_at, updated_at)
         SELECT q.id, q.account_id, q.instance_id, q.recipient, q.recipient_kind, q.content,
                'queued', $7, q.schedule_id, $7, $7
         FROM unnest($1::BIGINT[], $2::BIGINT[], $3::TEXT[], $4::TEXT[], $5::TEXT[], $6::TEXT[],
                     $8::TEXT[])
              AS q(id, account_id, instance_id, recipient, recipient_kind, content, schedule_id)",
    )
    .bind(&ids)
    .bind(&accounts)
    .bind(&instances)
    .bind(&recipients)
    .bind(&kinds)
    .bind(&contents)
    .bind(now)
    .bind(&schedules)
    .execute(&mut *conn)
    .await?;
    Ok(ids.into_iter().map(|id| QueueId(id as u64)).collect())
}

/// An entry's content as stored.
fn content_json(content: &Content) -> Result<String, sqlx::Error> {
    serde_json::to_string(content).map_err(|e| sqlx::Error::Encode(Box::new(e)))
}

/// Inserts one queue entry: `queued`, or `failed` with `error`.
pub(super) async fn insert_entry(
    conn: &mut PgConnection,
    entry: &NewEntry,
    error: Option<&str>,
    now: i64,
) -> Result<QueueId, sqlx::Error> {
    let id: i64 = sqlx::query_scalar(
        "INSERT INTO queue (account_id, instance_id, recipient, recipient_kind, content, status,
                            error, next_attempt_at, schedule_id, created_at, updated_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $8, $8) RETURNING id",
    )
    .bind(entry.account_id)
    .bind(entry.instance_id.as_str())
    .bind(&entry.to)
    .bind(entry.kind.as_str())
    .bind(content_json(&entry.content)?)
    .bind(if error.is_some() { "failed" } else { "queued" })
    .bind(error)
    .bind(now)
    .bind(entry.schedule_id.as_ref().map(|s| s.as_str()))
    .fetch_one(&mut *conn)
    .await?;
    Ok(QueueId(id as u64))
}

pub(super) async fn get_entry(
    store: &PgStore,
    account: AccountId,
    id: QueueId,
) -> StoreResult<Option<QueueEntry>> {
    let Ok(raw_id) = i64::try_from(id.0) else {
        return Ok(None);
    };
    let row = sqlx::query("SELECT * FROM queue WHERE account_id = $1 AND id = $2")
        .bind(account)
        .bind(raw_id)
        .fetch_optional(&store.pool)
        .await?;
    row.as_ref().map(queue_entry_row).transpose()
}

/// A `queue` row as the API shows it.
pub(super) fn queue_entry_row(row: &PgRow) -> StoreResult<QueueEntry> {
    Ok(QueueEntry {
        queue_id: QueueId(row.try_get::<i64, _>("id")? as u64),
        instance_id: instance_id(row.try_get("instance_id")?)?,
        to: row.try_get("recipient")?,
        status: queue_status(row.try_get::<&str, _>("status")?),
        attempts: row.try_get::<i64, _>("attempts")?.max(0) as u32,
        error: row.try_get("error")?,
        content: content(row.try_get::<&str, _>("content")?)?,
        created_at: from_millis(row.try_get("created_at")?),
        updated_at: from_millis(row.try_get("updated_at")?),
        sent_at: opt_time(row.try_get("sent_at")?),
        delivered_at: opt_time(row.try_get("delivered_at")?),
        read_at: opt_time(row.try_get("read_at")?),
    })
}

/// Claims the oldest due entry of each number whose pacing slot is free, at most `limit`.
///
/// The numbers are taken first, their instance rows locked `FOR UPDATE SKIP LOCKED`: a
/// number another replica is claiming from right now is left to it, and once that
/// replica commits its `next_send_at` the number is no longer due here either. Only the
/// holder of a number's row takes its entries, so a number never sends twice within its
/// gap however many replicas claim. Least recently paced numbers go first, so a busy
/// tenant's many numbers do not keep another's waiting when `limit` is reached.
pub(super) async fn claim(
    store: &PgStore,
    now: DateTime<Utc>,
    lease_until: DateTime<Utc>,
    pacing: Pacing,
    limit: u32,
) -> StoreResult<Vec<Claimed>> {
    let now_ms = millis(now);
    let lease = millis(lease_until);
    let mut tx = store.pool.begin().await?;
    // Expired leases (a worker died mid-send) are due again.
    sqlx::query(
        "UPDATE queue SET status = 'queued', lease_until = NULL
         WHERE status = 'sending' AND lease_until < $1",
    )
    .bind(now_ms)
    .execute(&mut *tx)
    .await?;
    let numbers: Vec<(AccountId, String)> = sqlx::query_as(
        "SELECT i.account_id, i.instance_id FROM instances i
         WHERE i.next_send_at <= $1 AND EXISTS (
            SELECT 1 FROM queue q WHERE q.account_id = i.account_id
                AND q.instance_id = i.instance_id AND q.status = 'queued'
                AND q.next_attempt_at <= $1)
         ORDER BY i.next_send_at LIMIT $2
         FOR UPDATE OF i SKIP LOCKED",
    )
    .bind(now_ms)
    .bind(i64::from(limit))
    .fetch_all(&mut *tx)
    .await?;
    if numbers.is_empty() {
        tx.commit().await?;
        return Ok(Vec::new());
    }
    let (accounts, instances): (Vec<i64>, Vec<String>) =
        numbers.into_iter().map(|(a, i)| (a.0, i)).unzip();
    let rows = sqlx::query(
        "UPDATE queue SET status = 'sending', lease_until = $1, attempts = attempts + 1,
                          updated_at = $2
         WHERE status = 'queued' AND id IN (
            SELECT MIN(q.id) FROM queue q
            JOIN unnest($3::BIGINT[], $4::TEXT[]) AS n(account_id, instance_id)
              ON n.account_id = q.account_id AND n.instance_id = q.instance_id
            WHERE q.status = 'queued' AND q.next_attempt_at <= $2
            GROUP BY q.account_id, q.instance_id)
         RETURNING id, account_id, instance_id, recipient, recipient_kind, content, attempts",
    )
    .bind(lease)
    .bind(now_ms)
    .bind(&accounts)
    .bind(&instances)
    .fetch_all(&mut *tx)
    .await?;
    let mut claimed = Vec::with_capacity(rows.len());
    let mut paced_accounts = Vec::with_capacity(rows.len());
    let mut paced_instances = Vec::with_capacity(rows.len());
    let mut next_send = Vec::with_capacity(rows.len());
    for row in &rows {
        let account_id: AccountId = row.try_get("account_id")?;
        let instance: String = row.try_get("instance_id")?;
        let gap = pacing.min_gap_ms
            + if pacing.jitter_ms > 0 {
                fastrand::i64(0..=pacing.jitter_ms)
            } else {
                0
            };
        paced_accounts.push(account_id.0);
        paced_instances.push(instance.clone());
        next_send.push(now_ms + gap);
        let kind: String = row.try_get("recipient_kind")?;
        claimed.push(Claimed {
            id: QueueId(row.try_get::<i64, _>("id")? as u64),
            account_id,
            instance_id: instance_id(instance)?,
            to: row.try_get("recipient")?,
            kind: RecipientKind::parse(&kind).ok_or_else(|| corrupt("recipient kind", &kind))?,
            content: content(row.try_get::<&str, _>("content")?)?,
            attempts: row.try_get::<i64, _>("attempts")?.max(0) as u32,
            lease,
        });
    }
    sqlx::query(
        "UPDATE instances i SET next_send_at = n.next_send_at
         FROM unnest($1::BIGINT[], $2::TEXT[], $3::BIGINT[])
              AS n(account_id, instance_id, next_send_at)
         WHERE i.account_id = n.account_id AND i.instance_id = n.instance_id",
    )
    .bind(&paced_accounts)
    .bind(&paced_instances)
    .bind(&next_send)
    .execute(&mut *tx)
    .await?;
    tx.commit().await?;
    Ok(claimed)
}

/// `sent` (under the claim's lease only) and its event, in one transaction.
pub(super) async fn mark_sent(
    store: &PgStore,
    entry: &Claimed,
    now: DateTime<Utc>,
    event: NewEvent,
) -> StoreResult<bool> {
    let mut tx = store.pool.begin().await?;
    let held = sqlx::query(
        "UPDATE queue SET status = 'sent', sent_at = $1, updated_at = $1, lease_until = NULL,
                          error = NULL
         WHERE id = $2 AND status = 'sending' AND lease_until = $3",
    )
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
    store: &PgStore,
    entry: &Claimed,
    at: DateTime<Utc>,
    reason: &str,
) -> StoreResult<bool> {
    Ok(sqlx::query(
        "UPDATE queue SET status = 'queued', next_attempt_at = $1, error = $2, lease_until = NULL,
                          updated_at = $3
         WHERE id = $4 AND status = 'sending' AND lease_until = $5",
    )
    .bind(millis(at))
    .bind(reason)
    .bind(millis(Utc::now()))
    .bind(entry.id.0 as i64)
    .bind(entry.lease)
    .execute(&store.pool)
    .await?
    .rows_affected()
        == 1)
}

pub(super) async fn mark_failed(
    store: &PgStore,
    entry: &Claimed,
    now: DateTime<Utc>,
    reason: &str,
    event: NewEvent,
) -> StoreResult<bool> {
    let mut tx = store.pool.begin().await?;
    let held = sqlx::query(
        "UPDATE queue SET status = 'failed', error = $1, lease_until = NULL, updated_at = $2
         WHERE id = $3 AND status = 'sending' AND lease_until = $4",
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

/// Gives back claims a stopping worker did not send: due again at once, the attempt not
/// counted. Only entries still `sending` move.
pub(super) async fn release_leases(store: &PgStore, ids: &[QueueId]) -> StoreResult<()> {
    if ids.is_empty() {
        return Ok(());
    }
    let ids: Vec<i64> = ids
        .iter()
        .filter_map(|id| i64::try_from(id.0).ok())
        .collect();
    sqlx::query(
        "UPDATE queue SET status = 'queued', lease_until = NULL,
                          attempts = GREATEST(attempts - 1, 0)
         WHERE id = ANY($1) AND status = 'sending'",
    )
    .bind(&ids)
    .execute(&store.pool)
    .await?;
    Ok(())
}

/// Rows a retention statement deletes at most, as on SQLite.
const PRUNE_CHUNK: i64 = 5000;

/// Deletes history older than `before` (as the SQLite store's `prune`). Each statement
/// only deletes finished rows, so replicas pruning at once just find less to delete.
pub(super) async fn prune(
    store: &PgStore,
    now: DateTime<Utc>,
    before: DateTime<Utc>,
) -> StoreResult<u64> {
    let cutoff = millis(before);
    let day = before.format("d%Y-%m-%d").to_string();
    let month = before.format("m%Y-%m").to_string();
    let mut tx = store.pool.begin().await?;
    let mut deleted = 0;
    for sql in [
        "DELETE FROM webhook_attempts WHERE delivery_id IN (
            SELECT id FROM webhook_deliveries WHERE status != 'pending' AND updated_at < $1)",
        "DELETE FROM webhook_deliveries WHERE status != 'pending' AND updated_at < $1",
        "DELETE FROM events WHERE dispatched = 1 AND created_at < $1 AND NOT EXISTS (
            SELECT 1 FROM webhook_deliveries d WHERE d.event_id = events.id)",
    ] {
        deleted += sqlx::query(sql)
            .bind(cutoff)
            .execute(&mut *tx)
            .await?
            .rows_affected();
    }
    // Periods sort as text within their kind: `d2026-03-29`, `m2026-03`.
    deleted += sqlx::query(
        "DELETE FROM usage_counters WHERE (period LIKE 'd%' AND period < $1)
            OR (period LIKE 'm%' AND period < $2)",
    )
    .bind(day)
    .bind(month)
    .execute(&mut *tx)
    .await?
    .rows_affected();
    deleted += sqlx::query("DELETE FROM rate_window WHERE at < $1")
        .bind(millis(now) - 2 * crate::limits::WINDOW_MS)
        .execute(&mut *tx)
        .await?
        .rows_affected();
    tx.commit().await?;
    // Queue history and the outbox: a chunk per statement, each its own short transaction.
    for sql in [
        "DELETE FROM queue WHERE id IN (
            SELECT id FROM queue WHERE status IN ('sent', 'delivered', 'read', 'failed')
                AND updated_at < $1 LIMIT $2)",
        "DELETE FROM outbox WHERE queue_id IN (
            SELECT queue_id FROM outbox WHERE sent_at < $1 LIMIT $2)",
    ] {
        loop {
            let n = sqlx::query(sql)
                .bind(cutoff)
                .bind(PRUNE_CHUNK)
                .execute(&store.pool)
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

/// The sandbox's receipts (as the SQLite store's `advance_receipts`). Each UPDATE only
/// moves rows still in `from`, and under READ COMMITTED a replica that waited on another's
/// row re-reads it, so every step (and its event) happens once across replicas.
pub(super) async fn advance_receipts(
    store: &PgStore,
    now: DateTime<Utc>,
    delivered_before: DateTime<Utc>,
    read_before: DateTime<Utc>,
) -> StoreResult<u64> {
    let mut tx = store.pool.begin().await?;
    let mut changed = 0;
    for (from, to, column, time_column, before, make) in [
        (
            "delivered",
            "read",
            "read_at",
            "delivered_at",
            read_before,
            EventData::MessageRead as fn(MessageEvent) -> EventData,
        ),
        (
            "sent",
            "delivered",
            "delivered_at",
            "sent_at",
            delivered_before,
            EventData::MessageDelivered,
        ),
    ] {
        let rows = sqlx::query(&format!(
            "UPDATE queue SET status = '{to}', {column} = $1, updated_at = $1
             WHERE status = '{from}' AND recipient_kind IN ('group', 'phone') AND {time_column} <= $2
               AND NOT EXISTS (SELECT 1 FROM instances i WHERE i.account_id = queue.account_id
                               AND i.instance_id = queue.instance_id AND i.engine != 'sandbox')
             RETURNING id, account_id, instance_id, recipient, content"
        ))
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
