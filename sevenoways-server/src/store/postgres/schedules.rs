//! Schedules on Postgres: create, resume, and firing the due ones (see the SQLite store's
//! module of the same name).
//!
//! Firing with several replicas: each plans from a snapshot, then, in one transaction per
//! chunk, takes the planned runs' account locks in ascending order (their caps are read and
//! raised as one step with the group commit's), claims the due rows `FOR UPDATE SKIP
//! LOCKED`, and advances each schedule only if it is still due as read, so a run fires
//! once however many replicas fire at the same moment.

use std::collections::hash_map::Entry;
use std::collections::{BTreeSet, HashMap, HashSet};

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
use super::queue::{insert_entry, insert_queued, lock_accounts};
use super::webhooks::insert_event_for;
use super::*;
use crate::limits;
use crate::store::plan::{FiringUsage, PlannedRun, needs_groups, plan_run};
use crate::time::stored;

pub(super) fn schedule_row(row: &PgRow) -> StoreResult<Schedule> {
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
    store: &PgStore,
    account: AccountId,
    id: &ScheduleId,
    spec: &CreateScheduleRequest,
    next_run_at: Option<DateTime<Utc>>,
    now: DateTime<Utc>,
    max: u32,
) -> StoreResult<Schedule> {
    let spec_json = serde_json::to_string(spec).map_err(|e| corrupt("schedule spec", e))?;
    let mut tx = store.pool.begin().await?;
    // Takes the account's lock: the count and the insert are one step.
    check_quota(&mut tx, Resource::Schedules, max, account, None).await?;
    sqlx::query(
        "INSERT INTO schedules (id, account_id, instance_id, spec, next_run_at, created_at)
         VALUES ($1, $2, $3, $4, $5, $6)",
    )
    .bind(id.as_str())
    .bind(account)
    .bind(spec.instance_id.as_str())
    .bind(spec_json)
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
        skipped_runs: 0,
        paused_at: None,
        pause_reason: None,
    };
    commit_answering(tx, &schedule).await?;
    Ok(schedule)
}

pub(super) async fn resume_schedule(
    store: &PgStore,
    account: AccountId,
    id: &ScheduleId,
    next: NextRunFn,
    now: DateTime<Utc>,
) -> StoreResult<Option<Schedule>> {
    let mut tx = store.pool.begin().await?;
    // The row is locked from the read to the write: a run being fired finishes first (and
    // this reads its result), or waits for this.
    let row = sqlx::query("SELECT * FROM schedules WHERE account_id = $1 AND id = $2 FOR UPDATE")
        .bind(account)
        .bind(id.as_str())
        .fetch_optional(&mut *tx)
        .await?;
    let Some(row) = row else { return Ok(None) };
    let mut schedule = schedule_row(&row)?;
    if !schedule.is_paused() {
        // Nothing to change, but a keyed request that answers 2xx has its answer kept.
        commit_answering(tx, &schedule).await?;
        return Ok(Some(schedule));
    }
    let next_run = next(&schedule.spec, now);
    sqlx::query(
        "UPDATE schedules SET paused_at = NULL, pause_reason = NULL, skipped_runs = 0,
                              next_run_at = $1
         WHERE account_id = $2 AND id = $3",
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
    store: &PgStore,
    now: DateTime<Utc>,
    plans: &Plans,
    next: NextRunFn,
    limit: u32,
) -> StoreResult<Vec<FiredSchedule>> {
    let due = plan_due(store, now, next, limit).await?;
    // One transaction per chunk of runs, as on SQLite: each holds its locks for a bounded
    // number of inserts.
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

/// Queue rows one firing transaction inserts at most (beyond one run's own).
const MAX_ENTRIES_PER_TRANSACTION: usize = 2048;

/// The earliest `next_run_at`, from the schedules' due index.
pub(super) async fn next_schedule_due(store: &PgStore) -> StoreResult<Option<DateTime<Utc>>> {
    let at: Option<i64> =
        sqlx::query_scalar("SELECT MIN(next_run_at) FROM schedules WHERE next_run_at IS NOT NULL")
            .fetch_one(&store.pool)
            .await?;
    Ok(at.map(crate::time::from_millis))
}

/// Step one: reads the due schedules and the groups they name, and plans each run,
/// holding no lock.
async fn plan_due(
    store: &PgStore,
    now: DateTime<Utc>,
    next: NextRunFn,
    limit: u32,
) -> StoreResult<Vec<Due>> {
    let rows = sqlx::query(
        "SELECT s.*, a.plan AS plan FROM schedules s JOIN accounts a ON a.id = s.account_id
         WHERE s.next_run_at IS NOT NULL AND s.next_run_at <= $1
         ORDER BY s.next_run_at, s.id LIMIT $2",
    )
    .bind(millis(now))
    .bind(i64::from(limit))
    .fetch_all(&store.pool)
    .await?;
    let mut groups: HashMap<(AccountId, InstanceId), Vec<Group>> = HashMap::new();
    let mut due = Vec::with_capacity(rows.len());
    for row in &rows {
        let account_id: AccountId = row.try_get("account_id")?;
        let planned = match schedule_row(row) {
            Ok(schedule) => {
                let key = (account_id, schedule.spec.instance_id.clone());
                if needs_groups(&schedule) && !groups.contains_key(&key) {
                    let list = store.list_groups(account_id, &key.1).await?;
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

/// Step two, for a chunk of planned runs: one transaction that claims each (if its
/// schedule is still due as read), advances the schedule and queues the run under the
/// plan's caps.
async fn claim_and_queue(
    store: &PgStore,
    now: DateTime<Utc>,
    plans: &Plans,
    due: Vec<Due>,
) -> StoreResult<Vec<FiredSchedule>> {
    let now_ms = millis(now);
    let mut tx = store.pool.begin().await?;
    // The accounts' locks first, in ascending order, then the rows: the order every other
    // writer that takes both uses (a quota check, then its insert or delete), so firing
    // never waits in a cycle with them.
    let accounts: BTreeSet<AccountId> = due.iter().map(|d| d.account_id).collect();
    lock_accounts(&mut tx, &accounts).await?;
    let ids: Vec<&str> = due.iter().map(|d| d.raw_id.as_str()).collect();
    let held: HashSet<String> = sqlx::query_scalar(
        "SELECT id FROM schedules WHERE id = ANY($1) AND next_run_at IS NOT NULL
         FOR UPDATE SKIP LOCKED",
    )
    .bind(&ids)
    .fetch_all(&mut *tx)
    .await?
    .into_iter()
    .collect();
    let mut fired = Vec::with_capacity(due.len());
    // Each account's cap counters, read once and written once (its lock is held).
    let mut usage: HashMap<AccountId, FiringUsage> = HashMap::new();
    // A row being resumed or deleted right now is left for the next round.
    for d in due.into_iter().filter(|d| held.contains(&d.raw_id)) {
        let (schedule, run, next_run) = match d.planned {
            Ok(planned) => planned,
            Err(e) => {
                // A row that cannot run (hand-edited) must not block the others.
                let claimed = sqlx::query(
                    "UPDATE schedules SET next_run_at = NULL WHERE id = $1 AND next_run_at = $2",
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
            "UPDATE schedules SET next_run_at = $1, last_run_at = $2
             WHERE id = $3 AND next_run_at = $4 AND paused_at IS NULL
             RETURNING skipped_runs",
        )
        .bind(next_run.map(millis))
        .bind(now_ms)
        .bind(schedule.id.as_str())
        .bind(d.due_at)
        .fetch_optional(&mut *tx)
        .await?;
        // Fired by another replica, deleted, or resumed since the snapshot.
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
            // One summary event for the whole run, as on SQLite.
            let skipped_runs = (skipped_before.max(0) as u32).saturating_add(1);
            let pause_after = limits.schedule_pause_after;
            let reason = refusal.message();
            result.paused = pause_after > 0 && skipped_runs >= pause_after;
            if result.paused {
                let why =
                    format!("paused after {skipped_runs} runs in a row were skipped: {reason}");
                sqlx::query(
                    "UPDATE schedules SET skipped_runs = $1, paused_at = $2, pause_reason = $3,
                        next_run_at = NULL WHERE id = $4",
                )
                .bind(i64::from(skipped_runs))
                .bind(now_ms)
                .bind(&why)
                .bind(schedule.id.as_str())
                .execute(&mut *tx)
                .await?;
                result.next_run_at = None;
            } else {
                sqlx::query("UPDATE schedules SET skipped_runs = $1 WHERE id = $2")
                    .bind(i64::from(skipped_runs))
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
                    data: serde_json::to_value(&data).map_err(|e| corrupt("schedule event", e))?,
                },
            };
            insert_event_for(&mut tx, account_id, event).await?;
            result.skipped = Some(reason);
            fired.push(result);
            continue;
        }
        if skipped_before != 0 {
            sqlx::query("UPDATE schedules SET skipped_runs = 0 WHERE id = $1")
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

#[cfg(test)]
mod tests {
    use chrono::Duration;

    use super::super::queue::test_db;
    use super::*;
    use crate::limits::PlanLimits;

    fn spec(json: serde_json::Value) -> CreateScheduleRequest {
        serde_json::from_value(json).expect("a schedule")
    }

    fn every_minute_to_a_phone() -> CreateScheduleRequest {
        spec(serde_json::json!({
            "instanceId": "n1", "cronExpr": "* * * * *",
            "phone": "971500000001", "message": "hello"
        }))
    }

    async fn replicas(db: &test_db::TestDb) -> Vec<PgStore> {
        let mut stores = Vec::new();
        for _ in 0..3 {
            stores.push(PgStore::open(&db.url).await.expect("the store opens"));
        }
        stores
    }

    async fn count(store: &PgStore, sql: &str) -> i64 {
        sqlx::query_scalar(sql)
            .fetch_one(&store.pool)
            .await
            .expect("a count")
    }

    #[tokio::test]
    async fn a_due_schedule_fires_once_across_replicas() {
        let Some(db) = test_db::create("a_due_schedule_fires_once_across_replicas").await else {
            return;
        };
        let stores = replicas(&db).await;
        let account = test_db::account(&stores[0], "default", &["n1"]).await;
        let now = Utc::now();
        let id = ScheduleId::new("sch_once").unwrap();
        stores[0]
            .create_schedule(
                account,
                &id,
                &every_minute_to_a_phone(),
                Some(now - Duration::seconds(1)),
                now,
                0,
            )
            .await
            .unwrap();
        let plans = Plans::default();
        let mut fires = tokio::task::JoinSet::new();
        for i in 0..6 {
            let store = stores[i % 3].clone();
            let plans = plans.clone();
            fires.spawn(async move {
                store
                    .fire_due_schedules(now, &plans, crate::cron::next_run, 10)
                    .await
            });
        }
        let mut fired = Vec::new();
        while let Some(result) = fires.join_next().await {
            fired.extend(result.unwrap().unwrap());
        }
        assert_eq!(fired.len(), 1, "{fired:?}");
        assert_eq!(
            (fired[0].queued.len(), fired[0].skipped.as_ref()),
            (1, None)
        );
        assert_eq!(count(&stores[0], "SELECT COUNT(*) FROM queue").await, 1);
        // The run is counted against the caps, and the schedule moved to its next minute.
        let periods = crate::limits::periods(now, chrono_tz::UTC);
        assert_eq!(
            stores[1].usage(account, &periods, now).await.unwrap().day,
            1
        );
        let listed = stores[2]
            .list_schedules(account, &PageRequest::first(10))
            .await
            .unwrap();
        let schedule = &listed.items[0];
        assert!(schedule.next_run_at.expect("still scheduled") > now);
        assert!(schedule.last_run_at.is_some());
        drop(stores);
        db.drop().await;
    }

    #[tokio::test]
    async fn the_schedule_quota_holds_across_replicas() {
        let Some(db) = test_db::create("the_schedule_quota_holds_across_replicas").await else {
            return;
        };
        let stores = replicas(&db).await;
        let account = test_db::account(&stores[0], "default", &["n1"]).await;
        let mut creates = tokio::task::JoinSet::new();
        for i in 0..12 {
            let store = stores[i % 3].clone();
            creates.spawn(async move {
                let id = ScheduleId::new(format!("sch_{i}")).unwrap();
                store
                    .create_schedule(
                        account,
                        &id,
                        &every_minute_to_a_phone(),
                        None,
                        Utc::now(),
                        5,
                    )
                    .await
            });
        }
        let (mut created, mut refused) = (0, 0);
        while let Some(result) = creates.join_next().await {
            match result.unwrap() {
                Ok(_) => created += 1,
                Err(StoreError::QuotaExceeded(q)) => {
                    assert_eq!(q.max, 5);
                    refused += 1;
                }
                Err(e) => panic!("{e}"),
            }
        }
        assert_eq!((created, refused), (5, 7));
        // A deleted schedule frees its place, on any replica.
        let kept = stores[0]
            .list_schedules(account, &PageRequest::first(10))
            .await
            .unwrap()
            .items;
        assert_eq!(kept.len(), 5);
        assert!(
            stores[1]
                .delete_schedule(account, &kept[0].id)
                .await
                .unwrap()
        );
        assert!(
            !stores[1]
                .delete_schedule(account, &kept[0].id)
                .await
                .unwrap()
        );
        let id = ScheduleId::new("sch_again").unwrap();
        stores[2]
            .create_schedule(
                account,
                &id,
                &every_minute_to_a_phone(),
                None,
                Utc::now(),
                5,
            )
            .await
            .unwrap();
        drop(stores);
        db.drop().await;
    }

    #[tokio::test]
    async fn a_capped_schedule_skips_then_pauses_and_resumes() {
        let Some(db) = test_db::create("a_capped_schedule_skips_then_pauses_and_resumes").await
        else {
            return;
        };
        let stores = replicas(&db).await;
        let account = test_db::account(&stores[0], "tiny", &["n1"]).await;
        let plans = Plans::new([PlanLimits {
            name: "tiny".into(),
            daily_cap: 1,
            schedule_pause_after: 2,
            ..PlanLimits::builtin_default()
        }]);
        let two_groups = spec(serde_json::json!({
            "instanceId": "n1", "cronExpr": "* * * * *",
            "groupIds": ["1203630000001@g.us", "1203630000002@g.us"], "message": "hello"
        }));
        let id = ScheduleId::new("sch_capped").unwrap();
        let t0 = Utc::now();
        stores[0]
            .create_schedule(account, &id, &two_groups, Some(t0), t0, 0)
            .await
            .unwrap();
        // Two messages over a cap of one: the run is skipped, with one event.
        let first = stores[1]
            .fire_due_schedules(t0, &plans, crate::cron::next_run, 10)
            .await
            .unwrap();
        assert_eq!(first.len(), 1);
        assert!(first[0].skipped.is_some() && !first[0].paused);
        let next = first[0].next_run_at.expect("still scheduled");
        // The second skipped run in a row pauses it.
        let second = stores[2]
            .fire_due_schedules(next, &plans, crate::cron::next_run, 10)
            .await
            .unwrap();
        assert_eq!(second.len(), 1);
        assert!(second[0].paused && second[0].next_run_at.is_none());
        assert_eq!(count(&stores[0], "SELECT COUNT(*) FROM queue").await, 0);
        assert_eq!(
            count(
                &stores[0],
                "SELECT COUNT(*) FROM events WHERE event_type IN ('schedule.skipped', 'schedule.paused')"
            )
            .await,
            2
        );
        let later = next + Duration::minutes(5);
        assert!(
            stores[0]
                .fire_due_schedules(later, &plans, crate::cron::next_run, 10)
                .await
                .unwrap()
                .is_empty()
        );
        // Resumed: unpaused, counted from zero, due again.
        let resumed = stores[0]
            .resume_schedule(account, &id, crate::cron::next_run, later)
            .await
            .unwrap()
            .expect("the schedule");
        assert!(!resumed.is_paused());
        assert_eq!(resumed.skipped_runs, 0);
        assert!(resumed.next_run_at.expect("due again") > later);
        // Another key's resume finds nothing.
        let other = test_db::account(&stores[0], "default", &[]).await;
        assert!(
            stores[1]
                .resume_schedule(other, &id, crate::cron::next_run, later)
                .await
                .unwrap()
                .is_none()
        );
        drop(stores);
        db.drop().await;
    }
}
