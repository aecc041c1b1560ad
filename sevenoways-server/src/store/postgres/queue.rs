//! The queue on Postgres: the group-commit writer, claims, outcomes and receipts (see the
//! SQLite store's module of the same name for what each step is for).
//!
//! What changes with several replicas on one database:
//! - each process runs its own group commit; a batch holds its accounts' locks (the
//!   keys of [`lock_account`], only tried: a busy account's jobs wait for the next batch)
//!   before the idempotency and limit checks, so the rate window, the caps and the
//!   recorded keys another replica commits are seen before this batch decides;
//! - queue ids come from the identity sequence, not from "one writer numbers them in
//!   order": a batch takes its ids first and inserts them explicitly, so each caller gets
//!   its own ids in its entries' order;
//! - a claim locks the instance rows whose pacing slot it takes (`FOR UPDATE SKIP
//!   LOCKED`), so two replicas never send from one number within its gap.

use std::collections::{BTreeSet, HashSet};
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
use crate::store::batch;

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

    /// The accounts whose locks writing this job needs: the one it is admitted for and
    /// the one its key is recorded for.
    fn accounts(&self) -> impl Iterator<Item = AccountId> + '_ {
        self.admission
            .as_ref()
            .map(|a| a.account_id)
            .into_iter()
            .chain(self.claim.as_ref().map(|c| c.account))
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
            Some(claim) if claim.outcome() == Outcome::Taken => {
                Err(crate::store::recorded::taken(&claim))
            }
            _ => result,
        }
    }
}

/// How soon jobs left waiting for an account's lock are tried again when no new job
/// comes first.
const RETRY_BUSY: Duration = Duration::from_millis(5);

/// The group-commit loop: take every job waiting, write them in one transaction, answer
/// each (as the SQLite store's, `store/sqlite/commit.rs`). It holds one pooled connection; after a
/// failed batch that connection is closed and the next batch takes a fresh one, so a lost
/// connection or a restarted database costs the sends of that moment (answered 503) and
/// nothing after.
///
/// A batch only *tries* its accounts' locks ([`insert_batch`]): the jobs of an account
/// some other transaction holds (its schedules firing, another replica's batch) stay out
/// of it and wait here, holding nothing, for the next batch, which comes with the next
/// job or after [`RETRY_BUSY`]. So one tenant's long transaction makes that tenant wait
/// and no one else, and no lock is ever held while waiting for another.
async fn group_commit(
    pool: PgPool,
    mut rx: mpsc::Receiver<EnqueueJob>,
    last_failure: Arc<Mutex<Option<(Instant, &'static str)>>>,
) {
    let mut conn: Option<PoolConnection<Postgres>> = None;
    // The next batch's jobs: first those left waiting for a lock, then new ones.
    let mut jobs: Vec<EnqueueJob> = Vec::new();
    let mut closed = false;
    loop {
        let waiting = jobs.len();
        if jobs.is_empty() {
            match rx.recv().await {
                Some(job) => jobs.push(job),
                None => break,
            }
        } else if closed {
            tokio::time::sleep(RETRY_BUSY).await;
        } else {
            tokio::select! {
                job = rx.recv() => match job {
                    Some(job) => jobs.push(job),
                    None => closed = true,
                },
                _ = tokio::time::sleep(RETRY_BUSY) => {}
            }
        }
        // Only the jobs taken now count against the batch's size: jobs left waiting for a
        // busy account must not keep everyone else's out of the next batch.
        let mut entries: usize = jobs[waiting..].iter().map(|j| j.entries.len()).sum();
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
                let written: usize = jobs
                    .iter()
                    .zip(&results)
                    .filter(|(_, r)| r.is_some())
                    .map(|(j, _)| j.entries.len())
                    .sum();
                if written > 0 {
                    crate::telemetry::group_commit(written, started.elapsed());
                }
                if jobs
                    .iter()
                    .zip(&results)
                    .any(|(j, r)| r.is_some() && !j.is_probe())
                {
                    *last_failure.lock().unwrap_or_else(|e| e.into_inner()) = None;
                }
                let mut waiting = Vec::new();
                for (job, result) in jobs.drain(..).zip(results) {
                    match result {
                        Some(result) => {
                            let _ = job.reply.send(Ok(result));
                        }
                        None => waiting.push(job),
                    }
                }
                jobs = waiting;
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

/// Takes the locks of several accounts ([`lock_account`]), in ascending order of the
/// lock's key, in one statement: a batch of many tenants' sends costs one round trip for
/// its locks, not one per account. Every transaction that holds more than one account's
/// lock takes them through here, so two of them never wait on each other in a cycle.
pub(super) async fn lock_accounts(
    conn: &mut PgConnection,
    accounts: &BTreeSet<AccountId>,
) -> Result<(), sqlx::Error> {
    match accounts.len() {
        0 => Ok(()),
        1 => {
            let account = accounts.iter().next().copied().unwrap_or(AccountId(0));
            lock_account(conn, account).await
        }
        _ => {
            // The key `lock_account` uses; rows leave the sorted subquery in order and
            // each is locked as it comes out, so the locks are taken in that order.
            let mut keys: Vec<i32> = accounts.iter().map(|a| a.0 as i32).collect();
            keys.sort_unstable();
            keys.dedup();
            sqlx::query(
                "SELECT pg_advisory_xact_lock(1, k.key)
                 FROM (SELECT key FROM unnest($1::INT[]) AS u(key) ORDER BY key) AS k",
            )
            .bind(&keys)
            .execute(&mut *conn)
            .await?;
            Ok(())
        }
    }
}

/// Tries the locks of several accounts ([`lock_account`]) without waiting for any;
/// returns the accounts another transaction holds. Try-locks never wait, so the order
/// they are taken in cannot make a cycle.
async fn try_lock_accounts(
    conn: &mut PgConnection,
    accounts: &BTreeSet<AccountId>,
) -> Result<HashSet<AccountId>, sqlx::Error> {
    if accounts.is_empty() {
        return Ok(HashSet::new());
    }
    let keys: Vec<i32> = accounts.iter().map(|a| a.0 as i32).collect();
    let busy: Vec<i32> = sqlx::query_scalar(
        "SELECT key FROM unnest($1::INT[]) AS u(key) WHERE NOT pg_try_advisory_xact_lock(1, key)",
    )
    .bind(&keys)
    .fetch_all(&mut *conn)
    .await?;
    Ok(accounts
        .iter()
        .copied()
        .filter(|a| busy.contains(&(a.0 as i32)))
        .collect())
}

/// A batch's answers in its jobs' order: `None` for a job left unwritten because another
/// transaction held its account's lock.
type BatchAnswers = Vec<Option<Result<Vec<QueueId>, Refusal>>>;

/// [`insert_batch`], once more when the batch lost a race for an Idempotency-Key to a
/// request another path recorded meanwhile: the second try finds that key recorded and
/// answers its job as a replay, instead of failing every caller of the batch.
async fn write_batch(
    conn: &mut PgConnection,
    jobs: &[EnqueueJob],
) -> Result<BatchAnswers, sqlx::Error> {
    match insert_batch(conn, jobs).await {
        Err(e) if idempotency::is_key_race(&e) => insert_batch(conn, jobs).await,
        other => other,
    }
}

async fn insert_batch(
    conn: &mut PgConnection,
    all: &[EnqueueJob],
) -> Result<BatchAnswers, sqlx::Error> {
    let at = Utc::now();
    let now = millis(at);
    let mut tx = sqlx::Connection::begin(conn).await?;
    // Every account the batch checks or records for, locked before the first read: from
    // here on no other replica's batch (or quota insert) of these accounts runs until this
    // one commits, and every statement below sees what theirs committed. The locks are
    // only tried: the jobs of an account another transaction holds stay out of this batch
    // (see `group_commit`).
    let accounts: BTreeSet<AccountId> = all.iter().flat_map(EnqueueJob::accounts).collect();
    let busy = try_lock_accounts(&mut tx, &accounts).await?;
    let ready = |job: &EnqueueJob| !job.accounts().any(|a| busy.contains(&a));
    let jobs: Vec<&EnqueueJob> = all.iter().filter(|job| ready(job)).collect();
    if jobs.is_empty() {
        tx.rollback().await?;
        return Ok(all.iter().map(|_| None).collect());
    }
    let replays = idempotency::replays(&mut tx, &jobs, at).await?;
    let fresh: Vec<&EnqueueJob> = jobs
        .iter()
        .zip(&replays)
        .filter(|(_, replay)| !**replay)
        .map(|(job, _)| *job)
        .collect();
    // Each send's instance must still be there: the handler may not have read it (see
    // `routes::messages::send_message`), and a delete may have come first.
    let missing = missing_instances(&mut tx, &fresh).await?;
    let present: Vec<bool> = fresh
        .iter()
        .map(|job| batch::all_present(job.admission.as_ref(), &job.entries, &missing))
        .collect();
    let admitted: Vec<&EnqueueJob> = fresh
        .iter()
        .zip(&present)
        .filter(|(_, present)| **present)
        .map(|(job, _)| *job)
        .collect();
    let verdicts = batch::verdicts(&present, admit_batch(&mut tx, &admitted).await?)
        .map_err(|e| sqlx::Error::Protocol(e.into()))?;
    let entries: Vec<&NewEntry> = fresh
        .iter()
        .zip(&verdicts)
        .filter(|(_, verdict)| verdict.is_ok())
        .flat_map(|(job, _)| &job.entries)
        .collect();
    let ids = insert_queued(&mut tx, &entries, now).await?;
    if jobs.iter().any(|j| j.is_probe()) {
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
    let mut replays = replays.into_iter();
    let mut answers = Vec::with_capacity(all.len());
    for job in all {
        if !ready(job) {
            answers.push(None);
            continue;
        }
        let replay = replays.next().unwrap_or(false);
        answers.push(Some(match (&job.claim, replay) {
            (Some(claim), true) => {
                claim.taken();
                Ok(Vec::new())
            }
            _ => results.next().ok_or_else(|| {
                sqlx::Error::Protocol("the group commit lost a job's result".into())
            })?,
        }));
    }
    Ok(answers)
}

/// The `(account, instance)` pairs the admitted jobs send from that have no instance row,
/// in one statement for the whole batch.
async fn missing_instances<'a>(
    conn: &mut PgConnection,
    jobs: &[&'a EnqueueJob],
) -> Result<HashSet<(AccountId, &'a InstanceId)>, sqlx::Error> {
    let wanted =
        batch::sending_instances(jobs.iter().map(|j| (j.admission.as_ref(), &j.entries[..])));
    if wanted.is_empty() {
        return Ok(HashSet::new());
    }
    let (accounts, instances): (Vec<i64>, Vec<&str>) =
        wanted.iter().map(|(a, i)| (a.0, i.as_str())).unzip();
    let found: HashSet<(i64, String)> = sqlx::query_as(
        "SELECT account_id, instance_id FROM instances
         WHERE (account_id, instance_id) IN (SELECT * FROM unnest($1::BIGINT[], $2::TEXT[]))",
    )
    .bind(&accounts)
    .bind(&instances)
    .fetch_all(&mut *conn)
    .await?
    .into_iter()
    .collect();
    Ok(wanted
        .into_iter()
        .filter(|(a, i)| !found.contains(&(a.0, i.as_str().to_owned())))
        .collect())
}

/// Inserts `queued` entries; returns their ids in `entries`' order.
///
/// The ids are drawn from the identity's sequence, sorted, and given to the entries in
/// order, in the same statement as the insert: other replicas draw from the same sequence
/// at the same time, so a plain multi-row INSERT's ids are neither consecutive nor (by any
/// guarantee) given in row order. Sorted, they keep each caller's entries in the order
/// they were sent, as the claim's oldest-first expects. The rows go in as arrays, so one
/// statement (one round trip) takes any number of them.
pub(super) async fn insert_queued(
    conn: &mut PgConnection,
    entries: &[&NewEntry],
    now: i64,
) -> Result<Vec<QueueId>, sqlx::Error> {
    if entries.is_empty() {
        return Ok(Vec::new());
    }
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
    // A CTE calling a volatile function is evaluated once, so `ids` draws exactly one id
    // per entry; the n-th smallest goes to the n-th entry.
    let mut ids: Vec<i64> = sqlx::query_scalar(
        "WITH ids AS (
             SELECT nextval(pg_get_serial_sequence('queue', 'id')) AS id
             FROM generate_series(1, cardinality($1::BIGINT[]))
         ), ordered AS (
             SELECT id, row_number() OVER (ORDER BY id) AS n FROM ids
         )
         INSERT INTO queue (id, account_id, instance_id, recipient, recipient_kind, content,
                            status, next_attempt_at, schedule_id, created_at, updated_at)
         SELECT o.id, q.account_id, q.instance_id, q.recipient, q.recipient_kind, q.content,
                'queued', $6, q.schedule_id, $6, $6
         FROM unnest($1::BIGINT[], $2::TEXT[], $3::TEXT[], $4::TEXT[], $5::TEXT[], $7::TEXT[])
              WITH ORDINALITY AS q(account_id, instance_id, recipient, recipient_kind, content,
                                   schedule_id, n)
         JOIN ordered AS o USING (n)
         RETURNING id",
    )
    .bind(&accounts)
    .bind(&instances)
    .bind(&recipients)
    .bind(&kinds)
    .bind(&contents)
    .bind(now)
    .bind(&schedules)
    .fetch_all(&mut *conn)
    .await?;
    if ids.len() != entries.len() {
        return Err(sqlx::Error::Protocol(format!(
            "the queue insert gave {} ids for {} entries",
            ids.len(),
            entries.len()
        )));
    }
    // RETURNING gives no order; the n-th smallest id is the n-th entry's.
    ids.sort_unstable();
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
            SELECT first.id FROM unnest($3::BIGINT[], $4::TEXT[]) AS n(account_id, instance_id)
            CROSS JOIN LATERAL (
                SELECT q.id FROM queue q
                WHERE q.status = 'queued' AND q.account_id = n.account_id
                  AND q.instance_id = n.instance_id AND q.next_attempt_at <= $2
                ORDER BY q.id LIMIT 1) AS first)
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
             WHERE id IN ({}) AND status = '{from}'
             RETURNING id, account_id, instance_id, recipient, content",
            crate::store::awaiting_receipt(from, time_column, "$2", "$3"),
        ))
        .bind(millis(now))
        .bind(millis(before))
        .bind(i64::from(crate::store::RECEIPT_BATCH))
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

/// A database of its own for each test of this backend, on the server named by
/// `SEVENOWAYS_TEST_DATABASE_URL` (a role with CREATEDB); the tests skip, saying so,
/// without it.
#[cfg(test)]
pub(super) mod test_db {
    use sqlx::{ConnectOptions, Connection, PgConnection};

    use crate::account::AccountId;

    /// A database created for one test; [`TestDb::drop`] removes it.
    pub(crate) struct TestDb {
        admin: String,
        name: String,
        /// Where the test's stores connect.
        pub(crate) url: String,
    }

    async fn admin_connection(admin: &str) -> PgConnection {
        admin
            .parse::<sqlx::postgres::PgConnectOptions>()
            .expect("SEVENOWAYS_TEST_DATABASE_URL is a postgres:// URL")
            .connect()
            .await
            .expect("the test database server answers")
    }

    /// A fresh database, or `None` (after saying why on stderr) when no server is set.
    pub(crate) async fn create(test: &str) -> Option<TestDb> {
        let Ok(admin) = std::env::var(crate::testing::matrix::URL_VAR) else {
            eprintln!(
                "{test}: SKIPPED: set {}=postgres://USER:PASSWORD@HOST/DB (a role with CREATEDB) to run it",
                crate::testing::matrix::URL_VAR
            );
            return None;
        };
        let mut suffix = [0u8; 8];
        getrandom::fill(&mut suffix).expect("OS randomness");
        // The matrix's prefix: a run that dies before `drop` leaves nothing the next
        // matrix run does not remove.
        let name = format!(
            "{}{}",
            crate::testing::matrix::DATABASE_PREFIX,
            hex::encode(suffix)
        );
        let mut conn = admin_connection(&admin).await;
        sqlx::query(&format!("CREATE DATABASE {name}"))
            .execute(&mut conn)
            .await
            .expect("CREATE DATABASE");
        let _ = conn.close().await;
        let mut url = url::Url::parse(&admin).expect("a URL");
        url.set_path(&name);
        Some(TestDb {
            admin,
            name,
            url: url.to_string(),
        })
    }

    impl TestDb {
        /// Drops the database, closing whatever connections the test's stores still hold.
        pub(crate) async fn drop(self) {
            let mut conn = admin_connection(&self.admin).await;
            crate::testing::matrix::drop_database(&mut conn, &self.name)
                .await
                .expect("DROP DATABASE");
            let _ = conn.close().await;
        }
    }

    /// An account on `plan` with one sandbox number per name in `numbers`, written
    /// directly (account creation is not what these tests are about).
    pub(crate) async fn account(store: &super::PgStore, plan: &str, numbers: &[&str]) -> AccountId {
        let mut key = [0u8; 32];
        getrandom::fill(&mut key).expect("OS randomness");
        let id: i64 = sqlx::query_scalar(
            "INSERT INTO accounts (name, plan, key_hash, created_at) VALUES ('t', $1, $2, 0)
             RETURNING id",
        )
        .bind(plan)
        .bind(&key[..])
        .fetch_one(&store.pool)
        .await
        .expect("account inserted");
        for number in numbers {
            sqlx::query(
                "INSERT INTO instances (account_id, instance_id, label, status, created_at, qr_ref)
                 VALUES ($1, $2, '', 'online', 0, $3)",
            )
            .bind(id)
            .bind(*number)
            .bind(format!("{id}-{number}"))
            .execute(&store.pool)
            .await
            .expect("instance inserted");
        }
        AccountId(id)
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;
    use std::sync::Arc;

    use chrono::{Duration, TimeZone, Utc};
    use sevenoways_sdk::{Content, IdempotencyKey, InstanceId};

    use super::test_db::{self, TestDb};
    use super::*;
    use crate::idempotency::{Claim, Outcome};
    use crate::limits::{Admission, PlanLimits, Plans};

    fn entries(account: AccountId, number: &str, n: usize) -> Vec<NewEntry> {
        (0..n)
            .map(|i| NewEntry {
                account_id: account,
                instance_id: InstanceId::new(number).expect("a number id"),
                to: format!("9715000000{i:02}"),
                kind: RecipientKind::Phone,
                content: Content::Text {
                    message: format!("message {i}")
                        .as_str()
                        .try_into()
                        .expect("a message"),
                },
                schedule_id: None,
            })
            .collect()
    }

    /// Three stores on one database: three replicas, each with its own group commit.
    async fn replicas(db: &TestDb) -> Vec<PgStore> {
        let mut stores = Vec::new();
        for _ in 0..3 {
            stores.push(PgStore::open(&db.url).await.expect("the store opens"));
        }
        stores
    }

    fn admission(account: AccountId, limits: &PlanLimits) -> Admission {
        Admission {
            account_id: account,
            limits: limits.clone(),
            now: Utc.with_ymd_and_hms(2026, 5, 10, 10, 0, 0).unwrap(),
        }
    }

    #[tokio::test]
    async fn the_rate_limit_is_exact_across_replicas() {
        let Some(db) = test_db::create("the_rate_limit_is_exact_across_replicas").await else {
            return;
        };
        let stores = replicas(&db).await;
        let account = test_db::account(&stores[0], "default", &["n1"]).await;
        let limits = Plans::default().get("default").clone();
        assert_eq!(limits.requests_per_minute, 60);
        // 200 requests at once, spread over three replicas.
        let mut sends = tokio::task::JoinSet::new();
        for i in 0..200 {
            let store = stores[i % 3].clone();
            let admission = admission(account, &limits);
            sends.spawn(async move {
                store
                    .enqueue_admitted(admission, entries(account, "n1", 1))
                    .await
            });
        }
        let (mut admitted, mut limited) = (0, 0);
        while let Some(result) = sends.join_next().await {
            match result
                .expect("the send task ends")
                .expect("the store answers")
            {
                Ok(ids) => {
                    assert_eq!(ids.len(), 1);
                    admitted += 1;
                }
                Err(Refusal::RateLimited { limit, .. }) => {
                    assert_eq!(limit, 60);
                    limited += 1;
                }
                Err(other) => panic!("refused for {other:?}"),
            }
        }
        assert_eq!((admitted, limited), (60, 140));
        let queued: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM queue")
            .fetch_one(&stores[0].pool)
            .await
            .unwrap();
        assert_eq!(queued, 60, "a refused send queues nothing");
        let usage = stores[1]
            .usage(
                account,
                &crate::limits::periods(admission(account, &limits).now, limits.timezone),
                admission(account, &limits).now,
            )
            .await
            .unwrap();
        assert_eq!((usage.window.len(), usage.day, usage.month), (60, 60, 60));
        drop(stores);
        db.drop().await;
    }

    #[tokio::test]
    async fn many_tenants_sending_at_once_each_get_exactly_their_allowance() {
        let Some(db) = test_db::create("many_tenants_each_get_their_allowance").await else {
            return;
        };
        let stores = replicas(&db).await;
        let mut accounts = Vec::new();
        for _ in 0..6 {
            accounts.push(test_db::account(&stores[0], "default", &["n1"]).await);
        }
        let limits = Plans::default().get("default").clone();
        // Interleaved, so each replica's batches hold several tenants' sends and lock
        // several accounts at once, as the other replicas' batches do.
        let mut sends = tokio::task::JoinSet::new();
        for i in 0..480 {
            let store = stores[i % 3].clone();
            let account = accounts[i % accounts.len()];
            let admission = admission(account, &limits);
            sends.spawn(async move {
                let result = store
                    .enqueue_admitted(admission, entries(account, "n1", 1))
                    .await;
                (account, result)
            });
        }
        let mut admitted: HashMap<AccountId, usize> = HashMap::new();
        while let Some(result) = sends.join_next().await {
            let (account, result) = result.expect("the send task ends");
            if result.expect("the store answers").is_ok() {
                *admitted.entry(account).or_default() += 1;
            }
        }
        for account in &accounts {
            assert_eq!(admitted.get(account), Some(&60), "{account:?}");
        }
        drop(stores);
        db.drop().await;
    }

    #[tokio::test]
    async fn the_daily_cap_is_exact_across_replicas() {
        let Some(db) = test_db::create("the_daily_cap_is_exact_across_replicas").await else {
            return;
        };
        let stores = replicas(&db).await;
        let account = test_db::account(&stores[0], "capped", &["n1"]).await;
        let limits = PlanLimits {
            name: "capped".into(),
            requests_per_minute: 0,
            daily_cap: 100,
            ..PlanLimits::builtin_default()
        };
        // 90 requests of 3 messages: 33 fit under 100 (99 messages), and then only a
        // 1-message request could, so none of the rest does.
        let mut sends = tokio::task::JoinSet::new();
        for i in 0..90 {
            let store = stores[i % 3].clone();
            let admission = admission(account, &limits);
            sends.spawn(async move {
                store
                    .enqueue_admitted(admission, entries(account, "n1", 3))
                    .await
            });
        }
        let mut admitted = 0;
        while let Some(result) = sends.join_next().await {
            if result.unwrap().unwrap().is_ok() {
                admitted += 1;
            }
        }
        assert_eq!(admitted, 33);
        let now = admission(account, &limits).now;
        let usage = stores[2]
            .usage(account, &crate::limits::periods(now, limits.timezone), now)
            .await
            .unwrap();
        assert_eq!(usage.day, 99);
        drop(stores);
        db.drop().await;
    }

    #[tokio::test]
    async fn a_callers_entries_keep_their_order_and_read_back() {
        let Some(db) = test_db::create("a_callers_entries_keep_their_order_and_read_back").await
        else {
            return;
        };
        let stores = replicas(&db).await;
        let account = test_db::account(&stores[0], "default", &["n1"]).await;
        let other = test_db::account(&stores[0], "default", &["n1"]).await;
        let mut sends = tokio::task::JoinSet::new();
        for i in 0..30 {
            let store = stores[i % 3].clone();
            sends.spawn(async move { store.enqueue(entries(account, "n1", 5)).await });
        }
        while let Some(result) = sends.join_next().await {
            let ids = result.unwrap().unwrap();
            assert_eq!(ids.len(), 5);
            assert!(ids.windows(2).all(|w| w[0].0 < w[1].0), "{ids:?}");
            for (i, id) in ids.iter().enumerate() {
                let entry = stores[0]
                    .get_entry(account, *id)
                    .await
                    .unwrap()
                    .expect("the entry");
                assert_eq!(entry.to, format!("9715000000{i:02}"));
                assert_eq!(entry.status, QueueStatus::Queued);
                assert_eq!(entry.attempts, 0);
                // Another account's key does not see it.
                assert!(stores[1].get_entry(other, *id).await.unwrap().is_none());
            }
        }
        drop(stores);
        db.drop().await;
    }

    #[tokio::test]
    async fn replicas_claiming_at_once_take_each_entry_once_and_keep_the_pacing() {
        let Some(db) = test_db::create("replicas_claim_once").await else {
            return;
        };
        let stores = replicas(&db).await;
        let account = test_db::account(&stores[0], "default", &["n1", "n2"]).await;
        stores[0].enqueue(entries(account, "n1", 10)).await.unwrap();
        stores[0].enqueue(entries(account, "n2", 10)).await.unwrap();
        // A gap of an hour: within one instant, one send per number in all.
        let pacing = Pacing {
            min_gap_ms: 3_600_000,
            jitter_ms: 0,
        };
        let now = Utc::now();
        let lease = now + Duration::hours(2);
        let mut claims = tokio::task::JoinSet::new();
        for i in 0..12 {
            let store = stores[i % 3].clone();
            claims.spawn(async move { store.claim(now, lease, pacing, 10).await });
        }
        let mut claimed = Vec::new();
        while let Some(result) = claims.join_next().await {
            claimed.extend(result.unwrap().unwrap());
        }
        let mut numbers: Vec<&str> = claimed.iter().map(|c| c.instance_id.as_str()).collect();
        numbers.sort_unstable();
        assert_eq!(numbers, ["n1", "n2"], "one entry per number: {claimed:?}");
        // The oldest of each number, first attempt.
        for c in &claimed {
            assert_eq!((c.to.as_str(), c.attempts), ("971500000000", 1));
        }
        // Within the gap nothing more is due, on any replica.
        let later = now + Duration::minutes(59);
        for store in &stores {
            assert!(
                store
                    .claim(later, lease, pacing, 10)
                    .await
                    .unwrap()
                    .is_empty()
            );
        }
        // The outcome is recorded once, under the claim's lease.
        let event = |c: &Claimed| NewEvent {
            account_id: c.account_id,
            instance_id: c.instance_id.clone(),
            data: EventData::MessageSent(MessageEvent {
                queue_id: c.id,
                to: c.to.clone(),
                kind: Some("text".into()),
            }),
        };
        let first = &claimed[0];
        assert!(stores[1].mark_sent(first, now, event(first)).await.unwrap());
        assert!(!stores[2].mark_sent(first, now, event(first)).await.unwrap());
        assert!(
            !stores[0]
                .mark_failed(first, now, "late", event(first))
                .await
                .unwrap()
        );
        let sent = stores[0]
            .get_entry(account, first.id)
            .await
            .unwrap()
            .unwrap();
        assert_eq!(sent.status, QueueStatus::Sent);
        let events: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM events")
            .fetch_one(&stores[0].pool)
            .await
            .unwrap();
        assert_eq!(events, 1);
        drop(stores);
        db.drop().await;
    }

    #[tokio::test]
    async fn an_expired_lease_is_claimed_again_and_the_old_holder_loses_it() {
        let Some(db) = test_db::create("an_expired_lease_is_claimed_again").await else {
            return;
        };
        let stores = replicas(&db).await;
        let account = test_db::account(&stores[0], "default", &["n1"]).await;
        let ids = stores[0].enqueue(entries(account, "n1", 1)).await.unwrap();
        let pacing = Pacing {
            min_gap_ms: 0,
            jitter_ms: 0,
        };
        let now = Utc::now();
        let first = stores[0]
            .claim(now, now + Duration::seconds(1), pacing, 10)
            .await
            .unwrap();
        assert_eq!(first.len(), 1);
        // Still leased: not due.
        let soon = now + Duration::milliseconds(500);
        assert!(
            stores[1]
                .claim(soon, soon, pacing, 10)
                .await
                .unwrap()
                .is_empty()
        );
        // Expired: another replica takes it, as the second attempt.
        let later = now + Duration::seconds(2);
        let second = stores[1]
            .claim(later, later + Duration::seconds(60), pacing, 10)
            .await
            .unwrap();
        assert_eq!(second.len(), 1);
        assert_eq!((second[0].id, second[0].attempts), (ids[0], 2));
        // The first holder's outcome no longer counts.
        assert!(
            !stores[0]
                .mark_retry(&first[0], later, "late")
                .await
                .unwrap()
        );
        // Given back unsent by a stopping worker: due at once, the attempt not counted.
        stores[1].release_leases(&[second[0].id]).await.unwrap();
        let entry = stores[2].get_entry(account, ids[0]).await.unwrap().unwrap();
        assert_eq!((entry.status, entry.attempts), (QueueStatus::Queued, 1));
        let third = stores[2]
            .claim(later, later + Duration::seconds(60), pacing, 10)
            .await
            .unwrap();
        assert_eq!((third[0].id, third[0].attempts), (ids[0], 2));
        assert!(
            stores[2]
                .mark_retry(&third[0], later, "busy")
                .await
                .unwrap()
        );
        let entry = stores[0].get_entry(account, ids[0]).await.unwrap().unwrap();
        assert_eq!(
            (entry.status, entry.error.as_deref()),
            (QueueStatus::Queued, Some("busy"))
        );
        drop(stores);
        db.drop().await;
    }

    #[tokio::test]
    async fn one_idempotency_key_on_three_replicas_queues_once() {
        let Some(db) = test_db::create("one_idempotency_key_on_three_replicas_queues_once").await
        else {
            return;
        };
        let stores = replicas(&db).await;
        let account = test_db::account(&stores[0], "default", &["n1"]).await;
        let limits = Plans::default().get("default").clone();
        let claims: Vec<Arc<Claim>> = (0..9)
            .map(|_| {
                Arc::new(Claim::new(
                    account,
                    IdempotencyKey::new("same-key").expect("a key"),
                    "POST",
                    "/messages/send",
                    [1; 32],
                    Duration::hours(24),
                ))
            })
            .collect();
        let mut sends = tokio::task::JoinSet::new();
        for (i, claim) in claims.iter().enumerate() {
            let store = stores[i % 3].clone();
            let admission = admission(account, &limits);
            let claim = claim.clone();
            sends.spawn(crate::idempotency::scope(claim, async move {
                crate::idempotency::answer_with(
                    |ids: &Vec<QueueId>| serde_json::json!({ "queued": ids.len() }),
                );
                store
                    .enqueue_admitted(admission, entries(account, "n1", 2))
                    .await
            }));
        }
        let mut queued = 0;
        let mut conflicts = 0;
        while let Some(result) = sends.join_next().await {
            match result.unwrap() {
                Ok(Ok(ids)) => {
                    assert_eq!(ids.len(), 2);
                    queued += 1;
                }
                Err(StoreError::Conflict(_)) => conflicts += 1,
                other => panic!("unexpected {other:?}"),
            }
        }
        assert_eq!((queued, conflicts), (1, 8));
        let committed: Vec<_> = claims
            .iter()
            .filter_map(|c| match c.outcome() {
                Outcome::Committed(answer) => Some(answer),
                _ => None,
            })
            .collect();
        assert_eq!(committed.len(), 1);
        let rows: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM queue")
            .fetch_one(&stores[0].pool)
            .await
            .unwrap();
        assert_eq!(rows, 2);
        // A replay is not counted against the limits.
        let now = admission(account, &limits).now;
        let usage = stores[0]
            .usage(account, &crate::limits::periods(now, limits.timezone), now)
            .await
            .unwrap();
        assert_eq!((usage.window.len(), usage.day), (1, 2));
        let recorded = stores[1]
            .idempotent_answer(account, &IdempotencyKey::new("same-key").unwrap(), now)
            .await
            .unwrap()
            .expect("the answer is recorded");
        assert_eq!(recorded.answer, committed[0]);
        assert!(String::from_utf8_lossy(&recorded.answer.body).contains(r#""queued":2"#));
        drop(stores);
        db.drop().await;
    }

    #[tokio::test]
    async fn a_tenant_whose_lock_is_held_does_not_hold_up_another() {
        let Some(db) = test_db::create("a_tenant_whose_lock_is_held").await else {
            return;
        };
        let store = PgStore::open(&db.url).await.unwrap();
        let busy = test_db::account(&store, "default", &["n1"]).await;
        let quiet = test_db::account(&store, "default", &["n1"]).await;
        let limits = Plans::default().get("default").clone();
        // A long transaction holds the busy account's lock, as a storm of its schedules
        // firing (or another replica's batch) does.
        let mut holder = store.pool.begin().await.unwrap();
        lock_account(&mut holder, busy).await.unwrap();
        let waiting = tokio::spawn({
            let (store, admission) = (store.clone(), admission(busy, &limits));
            async move {
                store
                    .enqueue_admitted(admission, entries(busy, "n1", 1))
                    .await
            }
        });
        tokio::task::yield_now().await;
        for i in 0..5 {
            let sent = tokio::time::timeout(
                std::time::Duration::from_secs(10),
                store.enqueue_admitted(admission(quiet, &limits), entries(quiet, "n1", 1)),
            )
            .await
            .unwrap_or_else(|_| panic!("the quiet tenant's send {i} waited for another's lock"));
            assert_eq!(sent.unwrap().unwrap().len(), 1);
        }
        assert!(
            !waiting.is_finished(),
            "a send waits for its own account's lock"
        );
        holder.commit().await.unwrap();
        let ids = waiting.await.unwrap().unwrap().unwrap();
        assert_eq!(ids.len(), 1, "and is written once the lock is free");
        let usage = store
            .usage(
                busy,
                &crate::limits::periods(admission(busy, &limits).now, limits.timezone),
                admission(busy, &limits).now,
            )
            .await
            .unwrap();
        assert_eq!((usage.window.len(), usage.day), (1, 1), "admitted once");
        drop(store);
        db.drop().await;
    }

    #[tokio::test]
    async fn the_write_probe_and_a_lost_connection_heal_without_a_restart() {
        let Some(db) = test_db::create("the_write_probe_and_a_lost_connection_heal").await else {
            return;
        };
        let store = PgStore::open(&db.url).await.unwrap();
        let account = test_db::account(&store, "default", &["n1"]).await;
        // An empty job is a write probe: it writes the heartbeat.
        assert_eq!(store.send_job(Vec::new(), None).await.unwrap(), Ok(vec![]));
        // The database ends every session (a restart, a failover): the group commit's
        // connection is gone. The first batch after may fail; the next ones succeed.
        sqlx::query(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity
             WHERE datname = current_database() AND pid <> pg_backend_pid()",
        )
        .execute(&store.pool)
        .await
        .unwrap();
        let _ = store.enqueue(entries(account, "n1", 1)).await;
        let ids = store.enqueue(entries(account, "n1", 1)).await.unwrap();
        assert_eq!(ids.len(), 1);
        assert!(store.writer.recent_failure().is_none());
        drop(store);
        db.drop().await;
    }

    #[tokio::test]
    async fn receipts_advance_once_and_prune_keeps_what_is_unfinished() {
        let Some(db) = test_db::create("receipts_advance_once").await else {
            return;
        };
        let stores = replicas(&db).await;
        let account = test_db::account(&stores[0], "default", &["n1"]).await;
        let ids = stores[0].enqueue(entries(account, "n1", 3)).await.unwrap();
        let now = Utc::now();
        let pacing = Pacing {
            min_gap_ms: 0,
            jitter_ms: 0,
        };
        // Two sent, one still queued.
        for _ in 0..2 {
            let c = stores[0]
                .claim(now, now + Duration::seconds(60), pacing, 1)
                .await
                .unwrap();
            let event = NewEvent {
                account_id: account,
                instance_id: c[0].instance_id.clone(),
                data: EventData::MessageSent(MessageEvent {
                    queue_id: c[0].id,
                    to: c[0].to.clone(),
                    kind: None,
                }),
            };
            assert!(stores[0].mark_sent(&c[0], now, event).await.unwrap());
        }
        let later = now + Duration::seconds(10);
        let mut advances = tokio::task::JoinSet::new();
        for store in &stores {
            let store = store.clone();
            advances.spawn(async move { store.advance_receipts(later, later, now).await });
        }
        let mut advanced = 0;
        while let Some(n) = advances.join_next().await {
            advanced += n.unwrap().unwrap();
        }
        assert_eq!(advanced, 2, "each sent entry is delivered once");
        let delivered: i64 = sqlx::query_scalar(
            "SELECT COUNT(*) FROM events WHERE event_type = 'message.delivered'",
        )
        .fetch_one(&stores[0].pool)
        .await
        .unwrap();
        assert_eq!(delivered, 2);
        // Everything older than a moment from now: the finished entries go, the queued stays.
        stores[1]
            .prune(later, later + Duration::seconds(1))
            .await
            .unwrap();
        assert!(
            stores[0]
                .get_entry(account, ids[0])
                .await
                .unwrap()
                .is_none()
        );
        assert!(
            stores[0]
                .get_entry(account, ids[2])
                .await
                .unwrap()
                .is_some()
        );
        drop(stores);
        db.drop().await;
    }
}
