//! The fair claim of webhook deliveries, shared by both backends: which due deliveries a
//! claim takes when there are more than it has room for.

use std::collections::{HashMap, VecDeque};

use super::AccountId;

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
