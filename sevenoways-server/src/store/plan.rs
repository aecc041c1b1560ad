//! What one run of a schedule queues. Pure, and here rather than in
//! [`crate::scheduler`], because the store calls it inside the transaction that claims
//! the schedule: the scheduler depends on the store, never the other way round.

use sevenoways_sdk::models::groups::Group;
use sevenoways_sdk::models::schedules::Schedule;
use sevenoways_sdk::{GroupTarget, Target};

use super::{AccountId, NewEntry, RecipientKind};

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
