//! How a batch of recorded webhook attempts moves each webhook's failure streak: one plan
//! for both stores, which only run its steps.

use std::collections::HashMap;

use super::{AccountId, AttemptRecord};

/// `records`' indexes in rounds in which no delivery id comes twice, in order: a batch
/// holds an id once (one claim, one record), but a late record of an older claim could
/// share one with its successor, and each round is matched back by id.
pub(super) fn rounds_of_distinct_ids(records: &[AttemptRecord]) -> Vec<Vec<usize>> {
    let mut rounds: Vec<Vec<usize>> = Vec::new();
    let mut seen: HashMap<&str, usize> = HashMap::with_capacity(records.len());
    for (i, record) in records.iter().enumerate() {
        let round = seen.entry(record.delivery_id.as_str()).or_insert(0);
        if rounds.len() <= *round {
            rounds.push(Vec::new());
        }
        rounds[*round].push(i);
        *round += 1;
    }
    rounds
}

/// The outcomes an UPDATE … RETURNING (id, webhook, account) took, matched back to their
/// index in `records` by delivery id (ids are distinct within `round`; RETURNING cannot
/// name the index): (webhook, account, index), as [`streak_steps`] takes them.
pub(super) fn held_by_id(
    records: &[AttemptRecord],
    round: &[usize],
    updated: Vec<(String, String, AccountId)>,
) -> Vec<(String, AccountId, usize)> {
    let index: HashMap<&str, usize> = round
        .iter()
        .map(|&i| (records[i].delivery_id.as_str(), i))
        .collect();
    updated
        .into_iter()
        .filter_map(|(id, webhook, account)| Some((webhook, account, *index.get(id.as_str())?)))
        .collect()
}

/// One step on a webhook's failure streak.
#[derive(Debug, PartialEq, Eq)]
pub(super) enum StreakStep<'a> {
    /// A success came since the last step: the streak (and any rest) ends.
    Clear { webhook: &'a str },
    /// The attempt `records[index]` failed: the streak grows.
    Fail {
        webhook: &'a str,
        account: AccountId,
        index: usize,
    },
}

/// The steps for `held`, the attempts whose leases held, as (webhook, account, index in
/// the batch): each webhook's outcomes in the batch's order, a run of successes being
/// one clearing, made before the next failure or at the end. The webhooks come in id
/// order (`held` is sorted so), so two writers lock their rows in the same order.
pub(super) fn streak_steps<'a>(
    held: &'a mut [(String, AccountId, usize)],
    succeeded: impl Fn(usize) -> bool,
) -> Vec<StreakStep<'a>> {
    held.sort_by(|a, b| (&a.0, a.2).cmp(&(&b.0, b.2)));
    let held: &'a [(String, AccountId, usize)] = held;
    let mut steps = Vec::new();
    for group in held.chunk_by(|a, b| a.0 == b.0) {
        let webhook = group[0].0.as_str();
        let mut clear = false;
        for &(_, account, index) in group {
            if succeeded(index) {
                clear = true;
                continue;
            }
            if std::mem::take(&mut clear) {
                steps.push(StreakStep::Clear { webhook });
            }
            steps.push(StreakStep::Fail {
                webhook,
                account,
                index,
            });
        }
        if clear {
            steps.push(StreakStep::Clear { webhook });
        }
    }
    steps
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_webhook_in_id_order_its_outcomes_in_batch_order() {
        let a = AccountId(1);
        // Batch order: b fails, a succeeds, b succeeds, a fails, a succeeds, a succeeds.
        let mut held = vec![
            ("wh_b".to_owned(), a, 0),
            ("wh_a".to_owned(), a, 1),
            ("wh_b".to_owned(), a, 2),
            ("wh_a".to_owned(), a, 3),
            ("wh_a".to_owned(), a, 4),
            ("wh_a".to_owned(), a, 5),
        ];
        let failed = [0, 3];
        let steps = streak_steps(&mut held, |i| !failed.contains(&i));
        let fail = |webhook, index| StreakStep::Fail {
            webhook,
            account: a,
            index,
        };
        assert_eq!(
            steps,
            [
                StreakStep::Clear { webhook: "wh_a" },
                fail("wh_a", 3),
                StreakStep::Clear { webhook: "wh_a" },
                fail("wh_b", 0),
                StreakStep::Clear { webhook: "wh_b" },
            ]
        );
    }
}
