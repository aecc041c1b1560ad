//! What one run of a schedule queues. Pure, and here rather than in
//! [`crate::scheduler`], because the store plans runs between reading its snapshot of due
//! schedules and claiming them: the scheduler depends on the store, never the other way
//! round. Group names are resolved by [`crate::recipients`], as for a send.

use sevenoways_sdk::Target;
use sevenoways_sdk::models::groups::Group;
use sevenoways_sdk::models::schedules::Schedule;

use super::{AccountId, NewEntry, RecipientKind};

/// A run's queue entries.
#[derive(Debug, Clone)]
pub struct PlannedRun {
    /// One per recipient, deduplicated, in the schedule's order.
    pub entries: Vec<NewEntry>,
    /// Recipients that cannot be resolved now, with the reason; recorded as failed.
    pub unresolved: Vec<(NewEntry, String)>,
}

/// Whether planning a run of `schedule` needs its instance's groups (names or `sendAll`);
/// ids and phone numbers are queued as they are.
pub fn needs_groups(schedule: &Schedule) -> bool {
    let spec = &schedule.spec;
    spec.send_all || !spec.groups.is_empty()
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
    match target {
        Target::Phone(phone) => entries.push(entry(phone.as_str(), RecipientKind::Phone)),
        Target::Groups(target) => {
            let resolved = crate::recipients::resolve_for_run(groups, &target);
            if resolved.no_groups {
                unresolved.push((
                    entry("(all groups)", RecipientKind::Group),
                    format!("instance {instance:?} has no groups to send to"),
                ));
            }
            entries.extend(
                resolved
                    .ids
                    .iter()
                    .map(|id| entry(id, RecipientKind::Group)),
            );
            for name in &resolved.unmatched {
                unresolved.push((
                    entry(name.as_str(), RecipientKind::Group),
                    format!(
                        "no group named {:?} on instance {instance:?} at run time",
                        name.as_str()
                    ),
                ));
            }
        }
        _ => return Err("schedules send to groups or a phone number".into()),
    }
    Ok(PlannedRun {
        entries,
        unresolved,
    })
}

/// An account's cap counters in a schedule-firing transaction: as read at its start, and
/// the messages queued since. Read once per transaction and written once at its end, as
/// the send path's group commit does: a minute's runs of one account are many, and each
/// statement is a round trip.
pub(crate) struct FiringUsage {
    pub periods: crate::limits::Periods,
    day: u64,
    month: u64,
    /// Messages queued in this transaction, to add to both counters at its end.
    pub added: u64,
}

impl FiringUsage {
    pub fn new(periods: crate::limits::Periods, day: u64, month: u64) -> Self {
        Self {
            periods,
            day,
            month,
            added: 0,
        }
    }

    /// The day's and month's counts with this transaction's messages.
    pub fn so_far(&self) -> (u64, u64) {
        (self.day + self.added, self.month + self.added)
    }
}
