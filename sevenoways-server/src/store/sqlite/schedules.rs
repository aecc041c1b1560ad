//! Schedules: create, list, delete, and firing the due ones.

use chrono::{DateTime, Utc};
use sevenoways_sdk::models::schedules::{CreateScheduleRequest, Schedule};
use sevenoways_sdk::models::webhooks::{EventData, MessageFailed};
use sevenoways_sdk::{QueueId, ScheduleId};
use sqlx::Row;

use super::accounts::groups_of;
use super::idempotency::commit_answering;
use super::limits::{count_messages, read_counters};
use super::queue::insert_entry;
use super::webhooks::insert_event_for;
use super::*;
use crate::limits;

pub(super) fn schedule_row(row: &sqlx::sqlite::SqliteRow) -> StoreResult<Schedule> {
    Ok(Schedule {
        id: ScheduleId::new(row.try_get::<&str, _>("id")?)
            .map_err(|e| corrupt("schedule id", e))?,
        spec: serde_json::from_str(row.try_get::<&str, _>("spec")?)
            .map_err(|e| corrupt("schedule spec", e))?,
        next_run_at: opt_time(row.try_get("next_run_at")?),
        last_run_at: opt_time(row.try_get("last_run_at")?),
        created_at: from_millis(row.try_get("created_at")?),
    })
}

pub(super) async fn create_schedule(
    store: &SqliteStore,
    account: AccountId,
    id: &ScheduleId,
    spec: &CreateScheduleRequest,
    next_run_at: Option<DateTime<Utc>>,
    now: DateTime<Utc>,
) -> StoreResult<Schedule> {
    let mut tx = store.write.begin().await?;
    sqlx::query(
        "INSERT INTO schedules (id, account_id, instance_id, spec, next_run_at, created_at) VALUES (?, ?, ?, ?, ?, ?)",
    )
    .bind(id.as_str())
    .bind(account)
    .bind(spec.instance_id.as_str())
    .bind(serde_json::to_string(spec).expect("spec serialises"))
    .bind(next_run_at.map(millis))
    .bind(millis(now))
    .execute(&mut *tx)
    .await?;
    let schedule = Schedule {
        id: id.clone(),
        spec: spec.clone(),
        next_run_at: next_run_at.map(stored),
        last_run_at: None,
        created_at: stored(now),
    };
    commit_answering(tx, &schedule).await?;
    Ok(schedule)
}

pub(super) async fn fire_due_schedules(
    store: &SqliteStore,
    now: DateTime<Utc>,
    plans: &Plans,
    next: NextRunFn,
    limit: u32,
) -> StoreResult<Vec<FiredSchedule>> {
    let now_ms = millis(now);
    // A cheap look first, so idle ticks never take the write lock.
    let any: bool = sqlx::query_scalar(
        "SELECT EXISTS(SELECT 1 FROM schedules WHERE next_run_at IS NOT NULL AND next_run_at <= ?)",
    )
    .bind(now_ms)
    .fetch_one(&store.read)
    .await?;
    if !any {
        return Ok(Vec::new());
    }
    // IMMEDIATE: this claims (reads, then writes); with several processes on one
    // database the second waits for the first's commit and then sees the schedule
    // already advanced.
    let mut tx = store.write.begin_with("BEGIN IMMEDIATE").await?;
    let rows = sqlx::query(
        "SELECT s.*, a.plan AS plan FROM schedules s JOIN accounts a ON a.id = s.account_id
         WHERE s.next_run_at IS NOT NULL AND s.next_run_at <= ?
         ORDER BY s.next_run_at, s.id LIMIT ?",
    )
    .bind(now_ms)
    .bind(limit as i64)
    .fetch_all(&mut *tx)
    .await?;
    let mut fired = Vec::with_capacity(rows.len());
    for row in &rows {
        let account_id: AccountId = row.try_get("account_id")?;
        let raw_id: String = row.try_get("id")?;
        let plan: String = row.try_get("plan")?;
        let planned = match schedule_row(row) {
            Ok(schedule) => {
                let groups = groups_of(&mut tx, account_id, &schedule.spec.instance_id).await?;
                crate::store::plan::plan_run(account_id, &schedule, &groups)
                    .map(|run| (schedule, run))
                    .map_err(|e| corrupt("schedule", e))
            }
            Err(e) => Err(e),
        };
        let (schedule, run) = match planned {
            Ok(planned) => planned,
            Err(e) => {
                // A row that cannot run (hand-edited) must not block the others.
                tracing::warn!(schedule = %raw_id, error = %e, "schedule cannot run; disabled");
                sqlx::query("UPDATE schedules SET next_run_at = NULL WHERE id = ?")
                    .bind(&raw_id)
                    .execute(&mut *tx)
                    .await?;
                continue;
            }
        };
        let next_run = next(&schedule.spec, now);
        sqlx::query("UPDATE schedules SET next_run_at = ?, last_run_at = ? WHERE id = ?")
            .bind(next_run.map(millis))
            .bind(now_ms)
            .bind(schedule.id.as_str())
            .execute(&mut *tx)
            .await?;
        // Caps count scheduled messages too; the rate limit is for API requests.
        let limits = plans.get(&plan);
        let periods = limits::periods(now, limits.timezone);
        let (day, month) = read_counters(&mut tx, account_id, &periods).await?;
        let refusal =
            limits::check_caps(limits, &periods, day, month, run.entries.len() as u64).err();
        let mut queued = Vec::new();
        let mut failed: Vec<(QueueId, NewEntry, String)> = Vec::new();
        match &refusal {
            None => {
                count_messages(&mut tx, account_id, &periods, run.entries.len() as u64).await?;
                for entry in &run.entries {
                    queued.push(insert_entry(&mut tx, entry, None, now_ms).await?);
                }
            }
            Some(refusal) => {
                let reason = refusal.message();
                for entry in run.entries {
                    let id = insert_entry(&mut tx, &entry, Some(&reason), now_ms).await?;
                    failed.push((id, entry, reason.clone()));
                }
            }
        }
        for (entry, reason) in run.unresolved {
            let id = insert_entry(&mut tx, &entry, Some(&reason), now_ms).await?;
            failed.push((id, entry, reason));
        }
        let mut failed_ids = Vec::with_capacity(failed.len());
        for (queue_id, entry, reason) in failed {
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
            failed_ids.push(queue_id);
        }
        fired.push(FiredSchedule {
            account_id,
            schedule_id: schedule.id,
            queued,
            failed: failed_ids,
            next_run_at: next_run,
        });
    }
    tx.commit().await?;
    Ok(fired)
}
