//! Which groups a [`GroupTarget`] reaches: ids, names (case-insensitive) and `sendAll`,
//! resolved against an instance's groups.
//!
//! The send handler and the scheduler both resolve here, in time linear in the request
//! and the instance's groups: the groups are indexed once (ids in a set, names
//! lowercased once into a map), each requested name is looked up once however often it
//! is repeated, and the result is de-duplicated with a set. The request's lists are
//! bounded too ([`sevenoways_sdk::models::messages::MAX_GROUPS_PER_REQUEST`]), and so is
//! an instance's group count (the plan's `max_groups_per_instance`), so no request can
//! make this expensive. (It once compared every name with every group, lowercasing both
//! each time, and de-duplicated with a linear scan: two requests held both cores for
//! 49 seconds.)

use std::collections::{HashMap, HashSet};

use sevenoways_sdk::models::groups::Group;
use sevenoways_sdk::{GroupId, GroupName, GroupTarget};

/// What a target resolves to.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Resolved {
    /// Group ids to send to: de-duplicated, ids first in request order, then each name's
    /// groups in the instance's order (by name).
    pub ids: Vec<String>,
    /// Requested ids the instance does not have, in request order (each once).
    pub unknown_ids: Vec<GroupId>,
    /// Requested names no group has, in request order (each once, as first written).
    pub unmatched: Vec<GroupName>,
    /// `sendAll` on an instance without groups.
    pub no_groups: bool,
}

/// The groups reached by `target` among `groups`, for a send: an id the instance does not
/// have is reported in `unknown_ids`, not sent to.
pub fn resolve(groups: &[Group], target: &GroupTarget) -> Resolved {
    resolve_with(groups, target, false)
}

/// The same for a schedule run: ids are queued as they are, known or not (the transport
/// reports a group the number has left as a failed send, with the reason).
pub fn resolve_for_run(groups: &[Group], target: &GroupTarget) -> Resolved {
    resolve_with(groups, target, true)
}

fn resolve_with(groups: &[Group], target: &GroupTarget, keep_unknown_ids: bool) -> Resolved {
    let mut out = Resolved::default();
    let mut seen: HashSet<&str> = HashSet::new();
    match target {
        GroupTarget::All => {
            out.no_groups = groups.is_empty();
            for g in groups {
                if seen.insert(g.id.as_str()) {
                    out.ids.push(g.id.as_str().to_owned());
                }
            }
        }
        GroupTarget::Groups { ids, names } => {
            let known: HashSet<&str> = groups.iter().map(|g| g.id.as_str()).collect();
            let mut reported: HashSet<&str> = HashSet::new();
            for id in ids {
                if !keep_unknown_ids && !known.contains(id.as_str()) {
                    if reported.insert(id.as_str()) {
                        out.unknown_ids.push(id.clone());
                    }
                    continue;
                }
                if seen.insert(id.as_str()) {
                    out.ids.push(id.as_str().to_owned());
                }
            }
            if names.is_empty() {
                return out;
            }
            let mut by_name: HashMap<String, Vec<&str>> = HashMap::new();
            for g in groups {
                by_name
                    .entry(fold(&g.name))
                    .or_default()
                    .push(g.id.as_str());
            }
            let mut asked: HashSet<String> = HashSet::new();
            for name in names {
                let key = fold(name.as_str());
                let Some(matched) = by_name.get(&key) else {
                    if asked.insert(key) {
                        out.unmatched.push(name.clone());
                    }
                    continue;
                };
                if !asked.insert(key) {
                    continue;
                }
                for &id in matched {
                    if seen.insert(id) {
                        out.ids.push(id.to_owned());
                    }
                }
            }
        }
    }
    out
}

/// A group name as names are compared: trimmed and lowercased (as
/// [`GroupName::matches`] does, and as the `groups.name_lower` column stores it).
fn fold(name: &str) -> String {
    name.trim().to_lowercase()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn group(id: &str, name: &str) -> Group {
        Group {
            id: GroupId::new(id).unwrap(),
            name: name.into(),
            participants: 3,
        }
    }

    fn gid(n: usize) -> String {
        format!("120363{n:012}@g.us")
    }

    const A: &str = "120363000000000001@g.us";
    const B: &str = "120363000000000002@g.us";
    const C: &str = "120363000000000003@g.us";

    #[test]
    fn ids_then_names_deduplicated_in_request_order() {
        let groups = [group(A, "Team A"), group(B, "team a"), group(C, "Other")];
        let target = GroupTarget::ids([C, A, C])
            .unwrap()
            .and_names(["TEAM A", "team a ", "Nobody", "NOBODY"])
            .unwrap();
        let r = resolve(&groups, &target);
        assert_eq!(r.ids, [C, A, B]);
        assert!(r.unknown_ids.is_empty());
        assert_eq!(r.unmatched.len(), 1);
        assert_eq!(r.unmatched[0].as_str(), "Nobody");
        assert!(!r.no_groups);

        let r = resolve(
            &groups,
            &GroupTarget::ids([B, "120363999999999999@g.us"]).unwrap(),
        );
        assert_eq!(r.ids, [B]);
        assert_eq!(r.unknown_ids[0].as_str(), "120363999999999999@g.us");

        let r = resolve(&groups, &GroupTarget::All);
        assert_eq!(r.ids, [A, B, C]);
        assert!(resolve(&[], &GroupTarget::All).no_groups);
    }

    #[test]
    fn unknown_ids_are_kept_for_the_scheduler() {
        let groups = [group(A, "Team A")];
        let target = GroupTarget::ids([B, A])
            .unwrap()
            .and_names(["Team A"])
            .unwrap();
        let r = resolve_for_run(&groups, &target);
        assert_eq!(r.ids, [B, A]);
        assert!(r.unknown_ids.is_empty());
    }

    /// The audit's shape, far past what a request may carry: 50 000 groups of one name and
    /// 100 000 copies of it. The old code did 100 000 × 50 000 lowercasings and
    /// 100 000 × 50 000² / 2 comparisons (days of CPU); this is a few hash lookups per
    /// group and per name. A deadline far above any machine's time for that (it takes
    /// well under a second) turns a return of the quadratic code into a failure rather
    /// than a hung test run.
    #[test]
    fn many_duplicate_names_over_many_groups_resolve_in_linear_time() {
        let (done, finished) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            resolve_many();
            let _ = done.send(());
        });
        match finished.recv_timeout(std::time::Duration::from_secs(120)) {
            Ok(()) => {}
            Err(std::sync::mpsc::RecvTimeoutError::Disconnected) => {
                panic!("resolution panicked; see the output above")
            }
            Err(std::sync::mpsc::RecvTimeoutError::Timeout) => {
                panic!("resolution did not finish in 120 s: it is no longer linear")
            }
        }
    }

    fn resolve_many() {
        let groups: Vec<Group> = (0..50_000).map(|i| group(&gid(i), "Same Name")).collect();
        let names: Vec<GroupName> = (0..100_000)
            .map(|i| GroupName::new(if i % 2 == 0 { "same name" } else { "SAME NAME" }).unwrap())
            .collect();
        let ids: Vec<GroupId> = (0..50_000).map(|i| GroupId::new(gid(i)).unwrap()).collect();
        // Built directly: the per-request bound (256 of each) is not what is tested here.
        let target = GroupTarget::Groups { ids, names };
        let r = resolve(&groups, &target);
        assert_eq!(r.ids.len(), 50_000);
        assert_eq!(r.ids[0], gid(0));
        assert_eq!(r.ids[49_999], gid(49_999));
        assert!(r.unmatched.is_empty());
        let all = resolve(&groups, &GroupTarget::All);
        assert_eq!(all.ids.len(), 50_000);
    }
}
