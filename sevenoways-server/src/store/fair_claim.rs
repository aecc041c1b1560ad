//! The fair claim of webhook deliveries, shared by both backends: which due deliveries a
//! claim takes when there are more than it has room for, and what the leased rows become.

use std::collections::{HashMap, VecDeque};

use sevenoways_sdk::{DeliveryId, EventId, WebhookId, WebhookSecret};

use super::{AccountId, ClaimedDelivery, StoreError, StoreResult};
use crate::time::from_millis;

/// A delivery the claim leased, as its UPDATE returns it: (id, webhook, account, event,
/// attempts, give_up_at).
pub(super) type Leased = (String, String, AccountId, String, i64, i64);

/// A webhook's URL and secrets (current, and the previous one while it still signs), or
/// `None` when a secret cannot be read: its deliveries are then left to their leases.
pub(super) type Target = Option<(String, WebhookSecret, Option<WebhookSecret>)>;

/// What a claim's leased rows come to.
pub(super) struct Assembled<'a> {
    /// Ready to attempt, in the fair pick's order.
    pub claimed: Vec<ClaimedDelivery>,
    /// Deliveries whose webhook or event went away between the fan-out and now: to be
    /// marked failed.
    pub gone: Vec<&'a str>,
}

/// Turns `rows` into attempts, with each webhook's `targets` and each event's (payload,
/// type) read once for the batch, ordered as `picked` (RETURNING's order is not
/// guaranteed).
pub(super) fn assemble<'a>(
    rows: &'a [Leased],
    targets: &HashMap<String, Target>,
    events: &HashMap<String, (Vec<u8>, String)>,
    picked: &[String],
    lease: i64,
) -> StoreResult<Assembled<'a>> {
    let corrupt =
        |what: &str, e: &dyn std::fmt::Display| StoreError::Corrupt(format!("{what}: {e}"));
    let mut claimed = Vec::with_capacity(rows.len());
    let mut gone = Vec::new();
    for (id, webhook_id, account_id, event_id, attempts, give_up_at) in rows {
        let (Some(target), Some((payload, event_type))) =
            (targets.get(webhook_id), events.get(event_id))
        else {
            gone.push(id.as_str());
            continue;
        };
        let Some((url, secret, previous_secret)) = target else {
            continue;
        };
        claimed.push(ClaimedDelivery {
            id: DeliveryId::new(id).map_err(|e| corrupt("delivery id", &e))?,
            webhook_id: WebhookId::new(webhook_id).map_err(|e| corrupt("webhook id", &e))?,
            account_id: *account_id,
            url: url.clone(),
            secret: secret.clone(),
            previous_secret: previous_secret.clone(),
            event_id: EventId::new(event_id).map_err(|e| corrupt("event id", &e))?,
            event_type: event_type.clone(),
            payload: payload.clone(),
            attempt: (*attempts).clamp(0, i64::from(u32::MAX)) as u32,
            give_up_at: from_millis(*give_up_at),
            lease,
        });
    }
    let order: HashMap<&str, usize> = picked
        .iter()
        .enumerate()
        .map(|(i, id)| (id.as_str(), i))
        .collect();
    claimed.sort_by_key(|d| order.get(d.id.as_str()).copied().unwrap_or(usize::MAX));
    Ok(Assembled { claimed, gone })
}

/// A webhook with due deliveries, as the fair claim sees it.
#[derive(Debug)]
pub(super) struct Candidate {
    pub account: AccountId,
    /// When it was last served (Unix ms): the one served longest ago goes first.
    pub last_claimed_at: i64,
    /// Its oldest due deliveries, as many as it has room for in flight.
    pub due: VecDeque<String>,
}

/// Picks up to `total` deliveries round-robin: one per account in turn (the account
/// served longest ago first), and within an account one per webhook in turn, each account
/// up to its room in `account_room`. Each candidate's `due` is already cut to its own room.
pub(super) fn fair_pick(
    candidates: Vec<(String, Candidate)>,
    account_room: &HashMap<AccountId, u32>,
    total: usize,
) -> Vec<String> {
    let mut accounts: Vec<(AccountId, i64, VecDeque<Candidate>)> = Vec::new();
    let mut sorted = candidates;
    sorted.sort_by(|a, b| (a.1.last_claimed_at, &a.0).cmp(&(b.1.last_claimed_at, &b.0)));
    for (_, c) in sorted {
        match accounts.iter_mut().find(|(a, _, _)| *a == c.account) {
            Some((_, last, queue)) => {
                *last = (*last).max(c.last_claimed_at);
                queue.push_back(c);
            }
            None => accounts.push((c.account, c.last_claimed_at, VecDeque::from([c]))),
        }
    }
    accounts.sort_by_key(|(account, last, _)| (*last, account.0));
    let mut room: Vec<u32> = accounts
        .iter()
        .map(|(a, _, _)| account_room.get(a).copied().unwrap_or(0))
        .collect();
    let mut picked = Vec::with_capacity(total);
    loop {
        let mut progress = false;
        for ((_, _, webhooks), room) in accounts.iter_mut().zip(room.iter_mut()) {
            if picked.len() == total {
                return picked;
            }
            if *room == 0 {
                continue;
            }
            // The account's next webhook in turn that still has something due.
            while let Some(mut webhook) = webhooks.pop_front() {
                if let Some(id) = webhook.due.pop_front() {
                    picked.push(id);
                    *room -= 1;
                    progress = true;
                    if !webhook.due.is_empty() {
                        webhooks.push_back(webhook);
                    }
                    break;
                }
            }
        }
        if !progress || picked.len() == total {
            return picked;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn leased(id: &str, webhook: &str, event: &str) -> Leased {
        (
            id.into(),
            webhook.into(),
            AccountId(1),
            event.into(),
            2,
            1_800_000_000_000,
        )
    }

    /// What a claim hands its worker: deliveries in the fair pick's order, none whose
    /// webhook or event went away (those are to be failed), and none whose secret cannot be
    /// read (left to their leases, never signed with a wrong key).
    #[test]
    fn assembled_in_pick_order_without_the_gone_or_the_unreadable() {
        let secret = WebhookSecret::new("whsec_test");
        let targets: HashMap<String, Target> = HashMap::from([
            (
                "wh_a".into(),
                Some(("https://a.example/h".into(), secret, None)),
            ),
            ("wh_sealed".into(), None),
        ]);
        let events = HashMap::from([("evt_1".into(), (b"{}".to_vec(), "message.sent".into()))]);
        let rows = [
            leased("dlv_1", "wh_a", "evt_1"),
            leased("dlv_2", "wh_deleted", "evt_1"),
            leased("dlv_3", "wh_a", "evt_pruned"),
            leased("dlv_4", "wh_sealed", "evt_1"),
            leased("dlv_5", "wh_a", "evt_1"),
        ];
        let picked: Vec<String> = ["dlv_5", "dlv_4", "dlv_3", "dlv_2", "dlv_1"]
            .map(String::from)
            .to_vec();
        let Assembled { claimed, gone } = assemble(&rows, &targets, &events, &picked, 42).unwrap();
        let ids: Vec<&str> = claimed.iter().map(|d| d.id.as_str()).collect();
        assert_eq!(ids, ["dlv_5", "dlv_1"]);
        assert_eq!(gone, ["dlv_2", "dlv_3"]);
        let first = &claimed[0];
        assert_eq!(
            (first.attempt, first.lease, first.url.as_str()),
            (2, 42, "https://a.example/h")
        );
        assert_eq!(first.payload, b"{}");
    }
}
