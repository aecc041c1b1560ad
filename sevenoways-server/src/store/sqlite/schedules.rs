//! Schedules: create, list, delete, resume, and firing the due ones.

use std::collections::HashMap;
use std::collections::hash_map::Entry;

use chrono::{DateTime, Utc};
use sevenoways_sdk::models::groups::Group;
use sevenoways_sdk::models::schedules::{
    CreateScheduleRequest, SCHEDULE_PAUSED_EVENT, SCHEDULE_SKIPPED_EVENT, Schedule, ScheduleEvent,
};
use sevenoways_sdk::models::webhooks::{EventData, MessageFailed};
use sevenoways_sdk::{InstanceId, ScheduleId};
use sqlx::Row;

use super::idempotency::commit_answering;
use super::limits::{count_messages, read_counters};
use super::queue::{insert_entry, insert_queued};
use super::webhooks::insert_event_for;
use super::*;
use crate::limits;
use crate::store::plan::{FiringUsage, PlannedRun, needs_groups, plan_run};

pub(super) fn schedule_row(row: &sqlx::sqlite::SqliteRow) -> StoreResult<Schedule> {
    Ok(Schedule {
        id: ScheduleId::new(row.try_get::<&str, _>("id")?)
            .map_err(|e| corrupt("schedule id", e))?,
        spec: serde_json::from_str(row.try_get::<&str, _>("spec")?)
            .map_err(|e| corrupt("schedule spec", e))?,
        next_run_at: opt_time(row.try_get("next_run_at")?),
        last_run_at: opt_time(row.try_get("last_run_at")?),
        created_at: from_millis(row.try_get("created_at")?),
        skipped_runs: row.try_get::<i64, _>("skipped_runs")?.max(0) as u32,
        paused_at: opt_time(row.try_get("paused_at")?),
        pause_reason: row.try_get("pause_reason")?,
    })
}

pub(super) async fn create_schedule(
    store: &SqliteStore,
    account: AccountId,
    id: &ScheduleId,
    spec: &CreateScheduleRequest,
    next_run_at: Option<DateTime<Utc>>,
    now: DateTime<Utc>,
    max: u32,
) -> StoreResult<Schedule> {
    let schedule = Schedule {
        id: id.clone(),
        spec: spec.clone(),
        next_run_at: next_run_at.map(stored),
        last_run_at: None,
        created_at: stored(now),
        skipped_runs: 0,
        paused_at: None,
        pause_reason: None,
    };
    let spec = serde_json::to_string(spec).expect("spec serialises");
    // One statement counts against the quota and inserts: SQLite runs it whole under the
    // write lock, so a burst of creates still stops at exactly `max`. Without an
    // idempotency key to record beside it, it is its own transaction: one trip to the
    // connection's thread, where BEGIN, the count, the insert and COMMIT made four.
    let insert = sqlx::query(
        "INSERT INTO schedules (id, account_id, instance_id, spec, next_run_at, created_at)
         SELECT ?1, ?2, ?3, ?4, ?5, ?6
         WHERE ?7 = 0 OR (SELECT COUNT(*) FROM schedules WHERE account_id = ?2) < ?7",
    )
    .bind(id.as_str())
    .bind(account)
    .bind(schedule.spec.instance_id.as_str())
    .bind(spec)
    .bind(next_run_at.map(millis))
    .bind(millis(now))
    .bind(i64::from(max));
    let over_quota = || {
        StoreError::QuotaExceeded(QuotaExceeded {
            resource: Resource::Schedules,
            max,
        })
    };
    if crate::idempotency::current().is_none() {
        let mut conn = store.write.conn().await?;
        if insert.execute(&mut *conn).await?.rows_affected() == 0 {
            return Err(over_quota());
        }
        return Ok(schedule);
    }
    let mut tx = store.write.begin_with("BEGIN IMMEDIATE").await?;
    if insert.execute(&mut *tx).await?.rows_affected() == 0 {
        return Err(over_quota());
    }
    commit_answering(tx, &schedule).await?;
    Ok(schedule)
}

pub(super) async fn resume_schedule(
    store: &SqliteStore,
    account: AccountId,
    id: &ScheduleId,
    next: NextRunFn,
    now: DateTime<Utc>,
) -> StoreResult<Option<Schedule>> {
    // IMMEDIATE: read, then write; a run claimed meanwhile cannot interleave.
    let mut tx = store.write.begin_with("BEGIN IMMEDIATE").await?;
    let row = sqlx::query("SELECT * FROM schedules WHERE account_id = ? AND id = ?")
        .bind(account)
        .bind(id.as_str())
        .fetch_optional(&mut *tx)
        .await?;
    let Some(row) = row else { return Ok(None) };
    let mut schedule = schedule_row(&row)?;
    if !schedule.is_paused() {
        // Nothing to change, but the answer is recorded all the same: a keyed request
        // that answers 2xx always has its answer kept.
        commit_answering(tx, &schedule).await?;
        return Ok(Some(schedule));
    }
    let next_run = next(&schedule.spec, now);
    sqlx::query(
        "UPDATE schedules SET paused_at = NULL, pause_reason = NULL, skipped_runs = 0, next_run_at = ?
         WHERE account_id = ? AND id = ?",
    )
    .bind(next_run.map(millis))
    .bind(account)
    .bind(id.as_str())
    .execute(&mut *tx)
    .await?;
    schedule.paused_at = None;
    schedule.pause_reason = None;
    schedule.skipped_runs = 0;
    schedule.next_run_at = next_run.map(stored);
    commit_answering(tx, &schedule).await?;
    Ok(Some(schedule))
}

impl Due {
    /// The queue rows its run may insert.
    fn entries(&self) -> usize {
        self.planned
            .as_ref()
            .map_or(0, |(_, run, _)| run.entries.len() + run.unresolved.len())
    }
}

/// A due schedule as the snapshot read it, with its run planned.
struct Due {
    account_id: AccountId,
    /// The row's id, as stored (also when the row does not decode).
    raw_id: String,
    /// Its `next_run_at` as read: the claim succeeds only if it is still that.
    due_at: i64,
    plan: String,
    /// The planned run and the next run after it, or why the row can never run.
    planned: Result<(Schedule, PlannedRun, Option<DateTime<Utc>>), String>,
}

pub(super) async fn fire_due_schedules(
    store: &SqliteStore,
    now: DateTime<Utc>,
    plans: &Plans,
    next: NextRunFn,
    limit: u32,
) -> StoreResult<Vec<FiredSchedule>> {
    let due = plan_due(store, now, next, limit).await?;
    // One transaction per chunk of runs, so the write lock is held for a bounded number
    // of inserts however many schedules are due at once (one run alone is bounded by the
    // group limits).
    let mut fired = Vec::with_capacity(due.len());
    let mut chunk: Vec<Due> = Vec::new();
    let mut entries = 0;
    for d in due {
        let n = d.entries();
        if !chunk.is_empty() && entries + n > MAX_ENTRIES_PER_TRANSACTION {
            fired.extend(claim_and_queue(store, now, plans, std::mem::take(&mut chunk)).await?);
            entries = 0;
        }
        entries += n;
        chunk.push(d);
    }
    if !chunk.is_empty() {
        fired.extend(claim_and_queue(store, now, plans, chunk).await?);
    }
    Ok(fired)
}

/// Queue rows one firing transaction inserts at most (beyond one run's own): like the
/// group commit's batch, enough to amortise the commit, small enough to be short.
const MAX_ENTRIES_PER_TRANSACTION: usize = 2048;

/// The earliest `next_run_at`, from the schedules' due index.
pub(super) async fn next_schedule_due(store: &SqliteStore) -> StoreResult<Option<DateTime<Utc>>> {
    let at: Option<i64> =
        sqlx::query_scalar("SELECT MIN(next_run_at) FROM schedules WHERE next_run_at IS NOT NULL")
            .fetch_one(&store.read)
            .await?;
    Ok(at.map(crate::time::from_millis))
}

/// Step one: reads the due schedules and the groups they name from the read pool and
/// plans each run, holding no write lock however many names and groups there are.
async fn plan_due(
    store: &SqliteStore,
    now: DateTime<Utc>,
    next: NextRunFn,
    limit: u32,
) -> StoreResult<Vec<Due>> {
    let rows = sqlx::query(
        "SELECT s.*, a.plan AS plan FROM schedules s JOIN accounts a ON a.id = s.account_id
         WHERE s.next_run_at IS NOT NULL AND s.next_run_at <= ?
         ORDER BY s.next_run_at, s.id LIMIT ?",
    )
    .bind(millis(now))
    .bind(limit as i64)
    .fetch_all(&store.read)
    .await?;
    let mut groups: HashMap<(AccountId, InstanceId), Vec<Group>> = HashMap::new();
    let mut due = Vec::with_capacity(rows.len());
    for row in &rows {
        let account_id: AccountId = row.try_get("account_id")?;
        let planned = match schedule_row(row) {
            Ok(schedule) => {
                let key = (account_id, schedule.spec.instance_id.clone());
                if needs_groups(&schedule) && !groups.contains_key(&key) {
                    let list = accounts::list_groups(store, account_id, &key.1).await?;
                    groups.insert(key.clone(), list);
                }
                let instance_groups = groups.get(&key).map(Vec::as_slice).unwrap_or_default();
                plan_run(account_id, &schedule, instance_groups).map(|run| {
                    let next_run = next(&schedule.spec, now);
                    (schedule, run, next_run)
                })
            }
            Err(e) => Err(e.to_string()),
        };
        due.push(Due {
            account_id,
            raw_id: row.try_get("id")?,
            due_at: row.try_get("next_run_at")?,
            plan: row.try_get("plan")?,
            planned,
        });
    }
    Ok(due)
}

/// Step two, for a chunk of planned runs: one write transaction that claims each (if its
/// schedule is still due as read), advances the schedule and queues the run under the
/// plan's caps. Only inserts happen under the lock, their number bounded by the chunk.
async fn claim_and_queue(
    store: &SqliteStore,
    now: DateTime<Utc>,
    plans: &Plans,
    due: Vec<Due>,
) -> StoreResult<Vec<FiredSchedule>> {
    let now_ms = millis(now);
    // IMMEDIATE: with several processes on one database the second waits for the first's
    // commit and then finds the schedule advanced (its claim matches no row).
    let mut tx = store.write.begin_with("BEGIN IMMEDIATE").await?;
    let mut fired = Vec::with_capacity(due.len());
    // Each account's cap counters, read once per transaction and written once at its
    // end, as the send path's group commit does: a minute's runs of one account are
    // many, and each statement is a hop to the writer's thread.
    let mut usage: HashMap<AccountId, FiringUsage> = HashMap::new();
    for d in due {
        let (schedule, run, next_run) = match d.planned {
            Ok(planned) => planned,
            Err(e) => {
                // A row that cannot run (hand-edited) must not block the others.
                let claimed = sqlx::query(
                    "UPDATE schedules SET next_run_at = NULL WHERE id = ? AND next_run_at = ?",
                )
                .bind(&d.raw_id)
                .bind(d.due_at)
                .execute(&mut *tx)
                .await?
                .rows_affected();
                if claimed > 0 {
                    tracing::warn!(schedule = %d.raw_id, error = %e, "schedule cannot run; disabled");
                }
                continue;
            }
        };
        let skipped_before: Option<i64> = sqlx::query_scalar(
            "UPDATE schedules SET next_run_at = ?, last_run_at = ?
             WHERE id = ? AND next_run_at = ? AND paused_at IS NULL
             RETURNING skipped_runs",
        )
        .bind(next_run.map(millis))
        .bind(now_ms)
        .bind(schedule.id.as_str())
        .bind(d.due_at)
        .fetch_optional(&mut *tx)
        .await?;
        // Fired by another process, deleted, or resumed since the snapshot.
        let Some(skipped_before) = skipped_before else {
            continue;
        };
        let account_id = d.account_id;
        // Caps count scheduled messages too; the rate limit is for API requests.
        let limits = plans.get(&d.plan);
        let counted = match usage.entry(account_id) {
            Entry::Occupied(e) => e.into_mut(),
            Entry::Vacant(e) => {
                let periods = limits::periods(now, limits.timezone);
                let (day, month) = read_counters(&mut tx, account_id, &periods).await?;
                e.insert(FiringUsage::new(periods, day, month))
            }
        };
        let (day, month) = counted.so_far();
        let periods = &counted.periods;
        let wanted = run.entries.len() as u64;
        let mut result = FiredSchedule {
            account_id,
            schedule_id: schedule.id.clone(),
            queued: Vec::new(),
            failed: Vec::new(),
            skipped: None,
            paused: false,
            next_run_at: next_run,
            due_at: from_millis(d.due_at),
        };
        if let Err(refusal) = limits::check_caps(limits, periods, day, month, wanted) {
            // One summary event for the whole run, no row per recipient and no copy of
            // the content: a capped-out key's schedules cost a row per run, not per
            // recipient, and stop after `schedule_pause_after` runs.
            let skipped_runs = (skipped_before.max(0) as u32).saturating_add(1);
            let pause_after = limits.schedule_pause_after;
            let reason = refusal.message();
            result.paused = pause_after > 0 && skipped_runs >= pause_after;
            if result.paused {
                let why =
                    format!("paused after {skipped_runs} runs in a row were skipped: {reason}");
                sqlx::query(
                    "UPDATE schedules SET skipped_runs = ?, paused_at = ?, pause_reason = ?,
                        next_run_at = NULL WHERE id = ?",
                )
                .bind(skipped_runs as i64)
                .bind(now_ms)
                .bind(&why)
                .bind(schedule.id.as_str())
                .execute(&mut *tx)
                .await?;
                result.next_run_at = None;
            } else {
                sqlx::query("UPDATE schedules SET skipped_runs = ? WHERE id = ?")
                    .bind(skipped_runs as i64)
                    .bind(schedule.id.as_str())
                    .execute(&mut *tx)
                    .await?;
            }
            let data = ScheduleEvent {
                schedule_id: schedule.id.clone(),
                reason: reason.clone(),
                recipients: wanted,
                skipped_runs,
            };
            let event = NewEvent {
                account_id,
                instance_id: schedule.spec.instance_id.clone(),
                data: EventData::Unknown {
                    event: if result.paused {
                        SCHEDULE_PAUSED_EVENT
                    } else {
                        SCHEDULE_SKIPPED_EVENT
                    }
                    .into(),
                    data: serde_json::to_value(&data).expect("event data serialises"),
                },
            };
            insert_event_for(&mut tx, account_id, event).await?;
            result.skipped = Some(reason);
            fired.push(result);
            continue;
        }
        if skipped_before != 0 {
            sqlx::query("UPDATE schedules SET skipped_runs = 0 WHERE id = ?")
                .bind(schedule.id.as_str())
                .execute(&mut *tx)
                .await?;
        }
        counted.added += wanted;
        let entries: Vec<&NewEntry> = run.entries.iter().collect();
        result.queued = insert_queued(&mut tx, &entries, now_ms).await?;
        for (entry, reason) in run.unresolved {
            let queue_id = insert_entry(&mut tx, &entry, Some(&reason), now_ms).await?;
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
            result.failed.push(queue_id);
        }
        fired.push(result);
    }
    for (account_id, counted) in &usage {
        count_messages(&mut tx, *account_id, &counted.periods, counted.added).await?;
    }
    tx.commit().await?;
    Ok(fired)
}
