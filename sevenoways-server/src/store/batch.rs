//! What both stores' group commits decide the same way about the instances a batch sends
//! from: which to look up, and how a missing one answers its job.

use std::collections::HashSet;

use sevenoways_sdk::InstanceId;

use super::{AccountId, NewEntry};
use crate::limits::{Admission, Refusal};

/// The distinct `(account, instance)` pairs the admitted jobs of a batch send from. Only
/// admitted jobs (API sends) are checked: a probe or an internal enqueue names no
/// instance a caller is waiting to hear about.
pub(super) fn sending_instances<'a>(
    jobs: impl IntoIterator<Item = (Option<&'a Admission>, &'a [NewEntry])>,
) -> HashSet<(AccountId, &'a InstanceId)> {
    jobs.into_iter()
        .filter(|(admission, _)| admission.is_some())
        .flat_map(|(_, entries)| entries.iter().map(|e| (e.account_id, &e.instance_id)))
        .collect()
}

/// Whether every instance `entries` send from is present (always, for a job without
/// admission).
pub(super) fn all_present(
    admission: Option<&Admission>,
    entries: &[NewEntry],
    missing: &HashSet<(AccountId, &InstanceId)>,
) -> bool {
    admission.is_none()
        || !entries
            .iter()
            .any(|e| missing.contains(&(e.account_id, &e.instance_id)))
}

/// One verdict per job: [`Refusal::InstanceNotFound`] where `present` is false, else the
/// next of `admitted` (the admission's verdicts of the present jobs, in order).
pub(super) fn verdicts(
    present: &[bool],
    admitted: Vec<Result<(), Refusal>>,
) -> Result<Vec<Result<(), Refusal>>, &'static str> {
    let mut admitted = admitted.into_iter();
    present
        .iter()
        .map(|&present| {
            if present {
                admitted.next().ok_or("the admission lost a job's verdict")
            } else {
                Ok(Err(Refusal::InstanceNotFound))
            }
        })
        .collect()
}
