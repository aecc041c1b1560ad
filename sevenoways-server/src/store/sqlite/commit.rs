//! The group commit: the sends that arrive together are written in one transaction, and
//! each caller is answered once that transaction is on disk.
//!
//! It runs on a thread of its own, on a connection of its own driven through rusqlite
//! (the SQLite library sqlx links, not a second copy). sqlx runs each statement as a
//! round trip to its connection's thread and back to the task, which then waits for a
//! turn on the runtime behind request tasks. A batch is five to nine statements, and
//! those round trips, not SQLite's work or the fsync, were most of a commit's time
//! (docs/benchmarks.md, "Where a group commit's time goes"); a request that arrives
//! during a commit waits for it and then for its own, so the commit's length is the
//! accept path's latency tail. Here a batch costs one wake-up: the thread takes every job
//! waiting, runs the statements back to back, commits and answers.
//!
//! The rate limit and caps are checked inside the same transaction as the queue insert,
//! rather than in a transaction of their own per request: a burst of sends costs one
//! commit (one fsync) for the whole batch instead of two per request, and the check and
//! the insert cannot disagree (no admitted-but-not-queued request after a crash). The jobs
//! of a batch are admitted one after another inside the transaction, and transactions
//! are serialised by SQLite's write lock (`BEGIN IMMEDIATE`), so concurrent requests, and
//! other processes on the same database, see each other's admissions: 200 simultaneous
//! requests let exactly the allowance through.
//!
//! After a failed batch the connection is replaced and the failure reported, so a full
//! disk costs the sends made while it is full (answered 503), and sends succeed again as
//! soon as there is space.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Instant;

use chrono::Utc;
use rusqlite::{Connection, OpenFlags, Statement, ToSql, TransactionBehavior};
use sevenoways_sdk::QueueId;
use tokio::sync::mpsc;

use super::idempotency;
use super::limits::admit_batch;
use super::ops::{WriteHealth, sqlite_condition};
use super::queue::{EnqueueJob, ROWS_PER_INSERT, insert_queued_sql};
use super::writer::Writer;
use super::*;

/// Most entries one group commit writes; enough to amortise the fsync, small enough to
/// keep each transaction short.
const MAX_BATCH_ENTRIES: usize = 2048;

/// Statements kept prepared. A batch's statements differ in how many rows they carry, and
/// preparing one costs about what running it does.
const CACHED_STATEMENTS: usize = 128;

/// Opens the group commit's connection to the database at `path`, set as the pools' are
/// ([`super::pragmas`]).
///
/// Not with `SQLITE_OPEN_CREATE`: the pools make and migrate the database first, and a
/// file deleted since must fail here rather than come back empty, without its tables.
pub(super) fn open(path: &Path) -> rusqlite::Result<Connection> {
    let conn = Connection::open_with_flags(
        path,
        OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )?;
    conn.busy_timeout(super::BUSY_TIMEOUT)?;
    for (name, value) in super::pragmas() {
        conn.execute_batch(&format!("PRAGMA {name} = {value}"))?;
    }
    conn.set_prepared_statement_cache_capacity(CACHED_STATEMENTS);
    Ok(conn)
}

/// Starts the group commit on a thread of its own, writing the jobs `rx` receives on
/// `conn` (reopened from `path` after a failure). It ends when every sender is dropped.
pub(super) fn spawn(
    conn: Connection,
    path: PathBuf,
    rx: mpsc::Receiver<EnqueueJob>,
    health: Arc<WriteHealth>,
    writer: Writer,
) -> std::io::Result<()> {
    std::thread::Builder::new()
        .name("sevenoways-commit".into())
        .spawn(move || run(conn, &path, rx, &health, &writer))
        .map(drop)
}

/// Take every job waiting, write them in one transaction, answer each.
fn run(
    conn: Connection,
    path: &Path,
    mut rx: mpsc::Receiver<EnqueueJob>,
    health: &WriteHealth,
    writer: &Writer,
) {
    let mut conn = Ok(conn);
    let mut jobs: Vec<EnqueueJob> = Vec::new();
    while let Some(first) = rx.blocking_recv() {
        let mut entries = first.entries.len();
        jobs.push(first);
        if conn.is_err() {
            conn = reopen(path);
        }
        // Sends that arrive while another write has the turn join this batch.
        let turn = writer.blocking_turn();
        while entries < MAX_BATCH_ENTRIES {
            match rx.try_recv() {
                Ok(job) => {
                    entries += job.entries.len();
                    jobs.push(job);
                }
                Err(_) => break,
            }
        }
        let started = Instant::now();
        let result = match conn.as_mut() {
            // A panic would be a bug here, but it must not take sends down until a
            // restart: it fails its batch like an error (the transaction rolls back as
            // it unwinds; nothing after the commit can panic) and the loop goes on with
            // a fresh connection.
            Ok(c) => {
                std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| insert_batch(c, &jobs)))
                    .unwrap_or_else(|_| Err(Failure::broken("the group commit panicked")))
            }
            Err(e) => Err(Failure::from(&*e).context("the queue's database cannot be reopened")),
        };
        drop(turn);
        match result {
            Ok(results) => {
                if entries > 0 {
                    crate::telemetry::group_commit(entries, started.elapsed());
                }
                if jobs.iter().any(|j| !j.is_probe()) {
                    health.stored();
                }
                for (job, result) in jobs.drain(..).zip(results) {
                    let _ = job.reply.send(Ok(result));
                }
            }
            Err(failure) => {
                health.failed(failure.reason.unwrap_or("the database failed"));
                for job in jobs.drain(..) {
                    let source = format!("queue write failed: {}", failure.message).into();
                    let _ = job.reply.send(Err(match failure.reason {
                        Some(reason) => StoreError::Degraded { reason, source },
                        None => StoreError::Backend(source),
                    }));
                }
                // A fresh connection holds nothing of the failed one's state, whatever
                // the error was (SQLite rolls a transaction back by itself on
                // `SQLITE_FULL`). If it cannot be opened now, or it was the reopening that
                // failed, the next batch tries again.
                if conn.is_ok() {
                    conn = reopen(path);
                }
            }
        }
    }
}

/// [`open`] in place of a connection that failed, saying so when it cannot be done.
fn reopen(path: &Path) -> rusqlite::Result<Connection> {
    let conn = open(path);
    if let Err(e) = &conn {
        tracing::warn!(error = %e, "cannot reopen the queue's connection; will retry");
    }
    conn
}

/// Why a batch failed, as each of its callers is told.
pub(super) struct Failure {
    /// A condition that passes (answered 503), or `None`.
    reason: Option<&'static str>,
    message: String,
}

impl Failure {
    /// A failure of the batch's own making: nothing commits, and every caller may retry.
    pub(super) fn broken(message: impl Into<String>) -> Self {
        Self {
            reason: None,
            message: message.into(),
        }
    }

    fn context(self, what: &str) -> Self {
        Self {
            message: format!("{what}: {}", self.message),
            ..self
        }
    }
}

impl From<&rusqlite::Error> for Failure {
    fn from(e: &rusqlite::Error) -> Self {
        let reason = match e {
            rusqlite::Error::SqliteFailure(code, _) => sqlite_condition(code.extended_code),
            _ => None,
        };
        Self {
            reason,
            message: e.to_string(),
        }
    }
}

impl From<rusqlite::Error> for Failure {
    fn from(e: rusqlite::Error) -> Self {
        Self::from(&e)
    }
}

fn insert_batch(
    conn: &mut Connection,
    jobs: &[EnqueueJob],
) -> Result<Vec<Result<Vec<QueueId>, Refusal>>, Failure> {
    let at = Utc::now();
    let now = millis(at);
    // IMMEDIATE: the admission reads before it writes; a deferred transaction could not
    // upgrade to a write after another connection committed (SQLITE_BUSY_SNAPSHOT).
    let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
    // A send whose Idempotency-Key is already recorded is a replay: it is not admitted
    // (no count against the rate limit or the caps) and queues nothing.
    let replays = idempotency::replays(&tx, jobs, at)?;
    let fresh: Vec<&EnqueueJob> = jobs
        .iter()
        .zip(&replays)
        .filter(|(_, replay)| !**replay)
        .map(|(job, _)| job)
        .collect();
    // Each send's instance must still be there (the handler may not have read it, see
    // `routes::messages::send_message`, and a delete may have come first): checked with
    // the admission's reads.
    let verdicts = admit_batch(&tx, &fresh)?;
    let entries: Vec<&NewEntry> = fresh
        .iter()
        .zip(&verdicts)
        .filter(|(_, verdict)| verdict.is_ok())
        .flat_map(|(job, _)| &job.entries)
        .collect();
    let ids = insert_queued(&tx, &entries, now)?;
    if jobs.iter().any(EnqueueJob::is_probe) {
        tx.prepare_cached(
            "INSERT INTO meta (key, value) VALUES ('heartbeat', ?)
             ON CONFLICT (key) DO UPDATE SET value = excluded.value",
        )?
        .execute([now])?;
    }
    let mut ids = ids.into_iter();
    let results: Vec<Result<Vec<QueueId>, Refusal>> = fresh
        .iter()
        .zip(verdicts)
        .map(|(job, verdict)| verdict.map(|()| ids.by_ref().take(job.entries.len()).collect()))
        .collect();
    let recorded = idempotency::record_sends(&tx, &fresh, &results, at)?;
    // Every answer is settled before the commit, so that nothing after it can fail: the
    // rows are on disk once it returns.
    let mut results = results.into_iter();
    let answers = replays
        .iter()
        .map(|&replay| match replay {
            true => Some(Ok(Vec::new())),
            false => results.next(),
        })
        .collect::<Option<Vec<_>>>()
        .ok_or_else(|| Failure::broken("the batch lost a job's result"))?;
    tx.commit()?;
    for (claim, answer) in recorded {
        claim.committed(answer);
    }
    for (job, _) in jobs.iter().zip(replays).filter(|(_, replay)| *replay) {
        if let Some(claim) = &job.claim {
            claim.taken();
        }
    }
    Ok(answers)
}

/// Inserts `queued` entries with multi-row INSERTs; returns their ids in order.
fn insert_queued(
    conn: &Connection,
    entries: &[&NewEntry],
    now: i64,
) -> rusqlite::Result<Vec<QueueId>> {
    let mut ids = Vec::with_capacity(entries.len());
    for chunk in entries.chunks(ROWS_PER_INSERT) {
        let mut stmt = conn.prepare_cached(&insert_queued_sql(chunk.len()))?;
        let mut params = Params::new(&mut stmt);
        for entry in chunk {
            params
                .bind(entry.account_id)?
                .bind(entry.instance_id.as_str())?
                .bind(&entry.to)?
                .bind(entry.kind.as_str())?
                .bind(serde_json::to_string(&entry.content).expect("content serialises"))?
                .bind(now)?
                .bind(entry.schedule_id.as_ref().map(|s| s.as_str()))?
                .bind(now)?
                .bind(now)?;
        }
        stmt.raw_execute()?;
        let last = conn.last_insert_rowid();
        // One writer holds the database for the whole transaction and the table is
        // AUTOINCREMENT, so a multi-row INSERT takes consecutive ids ending at `last`.
        // (RETURNING would give them too, but in no guaranteed order.)
        let first = last - chunk.len() as i64 + 1;
        ids.extend((first..=last).map(|id| QueueId(id as u64)));
    }
    Ok(ids)
}

/// Binds values to a statement's `?` parameters in the order they are given: the batch's
/// statements carry a row's values per tuple, as many tuples as rows.
pub(super) struct Params<'s, 'c> {
    stmt: &'s mut Statement<'c>,
    bound: usize,
}

impl<'s, 'c> Params<'s, 'c> {
    pub(super) fn new(stmt: &'s mut Statement<'c>) -> Self {
        Self { stmt, bound: 0 }
    }

    /// Binds the next parameter.
    pub(super) fn bind(&mut self, value: impl ToSql) -> rusqlite::Result<&mut Self> {
        self.bound += 1;
        self.stmt.raw_bind_parameter(self.bound, value)?;
        Ok(self)
    }
}
