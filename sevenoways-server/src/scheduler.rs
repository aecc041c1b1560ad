//! The schedule loop: fires due schedules through the durable queue.
//!
//! Each wake-up (at the earliest due instant, or after `scheduler.tick_ms` at most) calls
//! [`Store::fire_due_schedules`], which plans the due runs from a read
//! snapshot (recipients and next run, holding no lock), then claims the schedules still
//! due, advances them and queues their messages in short write transactions (see its
//! docs for why that makes each firing happen exactly once, with one process or
//! several, and why no schedule can hold the database's write lock for long). Next runs
//! come from [`crate::cron::next_run`], computed from the firing instant: a schedule whose
//! run was missed while the server was down fires once at start-up and then continues on
//! its cron, rather than once per missed tick.
//!
//! Recipients are resolved at each run, against the instance's groups then: a renamed
//! group is still found by id, a group name now matches the groups that have it now.
//! A name matching nothing is recorded as a failed queue entry with a `message.failed`
//! event, never dropped silently. A run over the plan's message cap queues nothing and
//! writes one `schedule.skipped` event (no row per recipient); after the plan's
//! `schedule_pause_after` such runs in a row the schedule is paused (`schedule.paused`,
//! and `pausedAt`/`pauseReason` in `GET /api/schedules`) until
//! `POST /api/schedules/{id}/resume`.

use std::sync::Arc;
use std::time::Duration;

use chrono::Utc;
use tokio::sync::{Notify, watch};

use crate::config::Config;
use crate::limits::Plans;
use crate::store::Store;

/// Due schedules planned per round (read, then fired in write transactions of at most
/// 2,048 queue rows each); more are fired in the next round of the same wake-up.
const BATCH: u32 = 500;

pub use crate::store::plan::{PlannedRun, plan_run};

/// Fires due schedules every `scheduler.tick_ms` until `shutdown` turns true.
pub async fn run(
    store: Arc<dyn Store>,
    config: Arc<Config>,
    plans: Arc<Plans>,
    queue_wake: Arc<Notify>,
    mut shutdown: watch::Receiver<bool>,
) {
    let tick = Duration::from_millis(config.scheduler.tick_ms.max(10));
    while !*shutdown.borrow() {
        let mut failed = false;
        loop {
            let fired = match store
                .fire_due_schedules(Utc::now(), &plans, crate::cron::next_run, BATCH)
                .await
            {
                Ok(fired) => fired,
                Err(e) => {
                    tracing::warn!(error = %e, "firing schedules failed; retrying next tick");
                    failed = true;
                    break;
                }
            };
            let fired_at = Utc::now();
            for f in &fired {
                crate::telemetry::schedule_fired(
                    (fired_at - f.due_at).to_std().unwrap_or_default(),
                );
                if f.paused {
                    tracing::info!(schedule = %f.schedule_id, "schedule paused: runs over the plan's cap");
                } else if f.skipped.is_some() {
                    tracing::info!(schedule = %f.schedule_id, "schedule run skipped: over the plan's cap");
                } else {
                    tracing::info!(
                        schedule = %f.schedule_id,
                        queued = f.queued.len(),
                        failed = f.failed.len(),
                        next_run_at = ?f.next_run_at,
                        "schedule fired"
                    );
                }
            }
            if fired.iter().any(|f| !f.queued.is_empty()) {
                queue_wake.notify_one();
            }
            if fired.len() < BATCH as usize {
                break;
            }
        }
        let wake = if failed {
            tick
        } else {
            until_next_due(store.as_ref(), tick).await
        };
        tokio::select! {
            _ = tokio::time::sleep(wake) => {}
            _ = shutdown.changed() => {}
        }
    }
}

/// How long to sleep before firing again: until the earliest schedule is due, so a run
/// fires at its instant rather than up to a tick late, and never longer than `tick`, so a
/// schedule created meanwhile (here or on another replica) waits one tick at most.
///
/// Rows due already but not fired (another replica is firing them) get a short pause, not
/// a busy loop.
async fn until_next_due(store: &dyn Store, tick: Duration) -> Duration {
    const DUE_ELSEWHERE: Duration = Duration::from_millis(50);
    match store.next_schedule_due().await {
        Ok(Some(at)) => match (at - Utc::now()).to_std() {
            Ok(wait) if !wait.is_zero() => wait.min(tick),
            _ => DUE_ELSEWHERE.min(tick),
        },
        Ok(None) | Err(_) => tick,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::{AccountId, RecipientKind};
    use sevenoways_sdk::models::groups::Group;
    use sevenoways_sdk::models::schedules::{CreateScheduleRequest, Schedule, ScheduleTarget};
    use sevenoways_sdk::{Content, GroupId};
    use sevenoways_sdk::{GroupTarget, Target};

    fn group(id: &str, name: &str) -> Group {
        Group {
            id: GroupId::new(id).unwrap(),
            name: name.into(),
            participants: 3,
        }
    }

    fn schedule(target: Target) -> Schedule {
        let target = ScheduleTarget::try_from(target).unwrap();
        let spec = CreateScheduleRequest::new(
            "n1".parse().unwrap(),
            "daily",
            "0 9 * * *".parse().unwrap(),
            "Asia/Dubai".parse().unwrap(),
            target,
            Content::Text {
                message: "Good morning ☀️".try_into().unwrap(),
            },
        )
        .unwrap();
        Schedule {
            id: "sch_1".parse().unwrap(),
            spec,
            next_run_at: None,
            last_run_at: None,
            created_at: Utc::now(),
            skipped_runs: 0,
            paused_at: None,
            pause_reason: None,
        }
    }

    const A: &str = "120363000000000001@g.us";
    const B: &str = "120363000000000002@g.us";

    #[test]
    fn resolves_ids_names_all_and_phones_at_run_time() {
        let groups = [group(A, "Team A"), group(B, "Team B")];
        let tos = |run: &PlannedRun| run.entries.iter().map(|e| e.to.clone()).collect::<Vec<_>>();

        let run = plan_run(
            AccountId(1),
            &schedule(Target::Groups(GroupTarget::All)),
            &groups,
        )
        .unwrap();
        assert_eq!(tos(&run), [A, B]);
        assert!(
            run.entries
                .iter()
                .all(|e| e.schedule_id.as_ref().unwrap().as_str() == "sch_1")
        );

        let by_name = GroupTarget::names(["team b", "TEAM A"]).unwrap();
        let run = plan_run(AccountId(1), &schedule(Target::Groups(by_name)), &groups).unwrap();
        assert_eq!(tos(&run), [B, A]);

        let mixed = GroupTarget::ids([A])
            .unwrap()
            .and_names(["Team A", "Gone"])
            .unwrap();
        let run = plan_run(AccountId(1), &schedule(Target::Groups(mixed)), &groups).unwrap();
        assert_eq!(tos(&run), [A]);
        assert_eq!(run.unresolved.len(), 1);
        assert_eq!(run.unresolved[0].0.to, "Gone");
        assert!(run.unresolved[0].1.contains("no group named \"Gone\""));

        let run = plan_run(
            AccountId(1),
            &schedule(Target::Groups(GroupTarget::All)),
            &[],
        )
        .unwrap();
        assert!(run.entries.is_empty());
        assert!(run.unresolved[0].1.contains("has no groups"));

        let phone = Target::Phone("971501234567".parse().unwrap());
        let run = plan_run(AccountId(1), &schedule(phone), &[]).unwrap();
        assert_eq!(tos(&run), ["971501234567"]);
        assert_eq!(run.entries[0].kind, RecipientKind::Phone);
    }
}
