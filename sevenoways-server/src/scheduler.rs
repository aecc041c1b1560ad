//! The schedule loop: fires due schedules through the durable queue.
//!
//! Each tick calls [`Store::fire_due_schedules`], which claims the due schedules,
//! advances them and queues their messages in one write transaction (see its docs for
//! why that makes each firing happen exactly once, with one process or several). Next
//! runs come from [`crate::cron::next_run`], computed from the firing instant: a
//! schedule whose run was missed while the server was down fires once at start-up and
//! then continues on its cron, rather than once per missed tick.
//!
//! Recipients are resolved at each run, against the instance's groups then: a renamed
//! group is still found by id, a group name now matches the groups that have it now.
//! A name matching nothing, or a run over the plan's message cap, is recorded as a
//! failed queue entry with a `message.failed` event, never dropped silently.

use std::sync::Arc;
use std::time::Duration;

use chrono::Utc;
use sevenoways_sdk::models::groups::Group;
use sevenoways_sdk::models::schedules::Schedule;
use sevenoways_sdk::{GroupTarget, Target};
use tokio::sync::{Notify, watch};

use crate::config::Config;
use crate::limits::Plans;
use crate::store::{AccountId, NewEntry, RecipientKind, Store};

/// Schedules fired per transaction; more are fired in the same tick.
const BATCH: u32 = 100;

/// A run's queue entries.
#[derive(Debug, Clone)]
pub struct PlannedRun {
    /// One per recipient, deduplicated, in the schedule's order.
    pub entries: Vec<NewEntry>,
    /// Recipients that cannot be resolved now, with the reason; recorded as failed.
    pub unresolved: Vec<(NewEntry, String)>,
}

/// The entries one run of `schedule` queues, given the instance's groups now.
/// `Err` only for a schedule that could never run (its stored spec is invalid).
pub fn plan_run(
    account: AccountId,
    schedule: &Schedule,
    groups: &[Group],
) -> Result<PlannedRun, String> {
    let spec = &schedule.spec;
    let target = spec.target().map_err(|e| e.to_string())?;
    let content = spec.content().map_err(|e| e.to_string())?;
    let instance = spec.instance_id.as_str();
    let entry = |to: &str, kind| NewEntry {
        account_id: account,
        instance_id: spec.instance_id.clone(),
        to: to.to_owned(),
        kind,
        content: content.clone(),
        schedule_id: Some(schedule.id.clone()),
    };
    let mut entries: Vec<NewEntry> = Vec::new();
    let mut unresolved = Vec::new();
    let push = |entries: &mut Vec<NewEntry>, id: &str| {
        if !entries.iter().any(|e| e.to == id) {
            entries.push(entry(id, RecipientKind::Group));
        }
    };
    match target {
        Target::Phone(phone) => entries.push(entry(phone.as_str(), RecipientKind::Phone)),
        Target::Groups(GroupTarget::All) => {
            if groups.is_empty() {
                unresolved.push((
                    entry("(all groups)", RecipientKind::Group),
                    format!("instance {instance:?} has no groups to send to"),
                ));
            }
            for g in groups {
                push(&mut entries, g.id.as_str());
            }
        }
        Target::Groups(GroupTarget::Groups { ids, names }) => {
            // Ids are queued as they are: the transport reports a group the number has
            // left as a failed send, with the reason.
            for id in &ids {
                push(&mut entries, id.as_str());
            }
            for name in &names {
                let mut matched = groups.iter().filter(|g| name.matches(&g.name)).peekable();
                if matched.peek().is_none() {
                    unresolved.push((
                        entry(name.as_str(), RecipientKind::Group),
                        format!(
                            "no group named {:?} on instance {instance:?} at run time",
                            name.as_str()
                        ),
                    ));
                }
                for g in matched {
                    push(&mut entries, g.id.as_str());
                }
            }
        }
        _ => return Err("schedules send to groups or a phone number".into()),
    }
    Ok(PlannedRun {
        entries,
        unresolved,
    })
}

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
        loop {
            let fired = match store
                .fire_due_schedules(Utc::now(), &plans, crate::cron::next_run, BATCH)
                .await
            {
                Ok(fired) => fired,
                Err(e) => {
                    tracing::warn!(error = %e, "firing schedules failed; retrying next tick");
                    break;
                }
            };
            for f in &fired {
                tracing::info!(
                    schedule = %f.schedule_id,
                    queued = f.queued.len(),
                    failed = f.failed.len(),
                    next_run_at = ?f.next_run_at,
                    "schedule fired"
                );
            }
            if fired.iter().any(|f| !f.queued.is_empty()) {
                queue_wake.notify_one();
            }
            if fired.len() < BATCH as usize {
                break;
            }
        }
        tokio::select! {
            _ = tokio::time::sleep(tick) => {}
            _ = shutdown.changed() => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use sevenoways_sdk::models::schedules::{CreateScheduleRequest, ScheduleTarget};
    use sevenoways_sdk::{Content, GroupId};

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
        }
    }

    const A: &str = "120363000000000001@g.us";
    const B: &str = "120363000000000002@g.us";

    #[test]
    fn resolves_ids_names_all_and_phones_at_run_time() {
        let groups = [group(A, "Team A"), group(B, "Team B")];
        let tos = |run: &PlannedRun| run.entries.iter().map(|e| e.to.clone()).collect::<Vec<_>>();

        let run = plan_run(1, &schedule(Target::Groups(GroupTarget::All)), &groups).unwrap();
        assert_eq!(tos(&run), [A, B]);
        assert!(
            run.entries
                .iter()
                .all(|e| e.schedule_id.as_ref().unwrap().as_str() == "sch_1")
        );

        let by_name = GroupTarget::names(["team b", "TEAM A"]).unwrap();
        let run = plan_run(1, &schedule(Target::Groups(by_name)), &groups).unwrap();
        assert_eq!(tos(&run), [B, A]);

        let mixed = GroupTarget::ids([A])
            .unwrap()
            .and_names(["Team A", "Gone"])
            .unwrap();
        let run = plan_run(1, &schedule(Target::Groups(mixed)), &groups).unwrap();
        assert_eq!(tos(&run), [A]);
        assert_eq!(run.unresolved.len(), 1);
        assert_eq!(run.unresolved[0].0.to, "Gone");
        assert!(run.unresolved[0].1.contains("no group named \"Gone\""));

        let run = plan_run(1, &schedule(Target::Groups(GroupTarget::All)), &[]).unwrap();
        assert!(run.entries.is_empty());
        assert!(run.unresolved[0].1.contains("has no groups"));

        let phone = Target::Phone("971501234567".parse().unwrap());
        let run = plan_run(1, &schedule(phone), &[]).unwrap();
        assert_eq!(tos(&run), ["971501234567"]);
        assert_eq!(run.entries[0].kind, RecipientKind::Phone);
    }
}
