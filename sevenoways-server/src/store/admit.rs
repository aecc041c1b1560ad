//! The admission of a group commit's sends, decided the same way by both stores: the
//! limits state of every account in the batch is read at once (one statement for the
//! rate windows, one for the counters), each send is decided in arrival order in memory
//! (see [`crate::limits`] for the rules), and what changed is written back at once. A
//! batch costs the same few statements however many sends and accounts it holds; each
//! statement is a round trip to the database (to SQLite's connection thread, or over the
//! network to Postgres), and those round trips, not the rows, bound the accept path.
//!
//! So nothing is read that cannot refuse: a counter is read only for a period whose plan
//! caps it, a window only for a plan with a rate limit, and the counters are written back
//! as increments (`count = count + added`), which need no read. An uncapped plan's batch
//! then reads nothing here at all and writes one statement.
//!
//! The stores hold the lock that makes this exact (SQLite's write lock, Postgres's account
//! locks) from before the reads until the writes commit.

use std::collections::{BTreeSet, HashMap};

use chrono::{DateTime, Utc};
use chrono_tz::Tz;

use super::AccountId;
use crate::limits::{self, Admission, Periods, Refusal};
use crate::time::{from_millis, millis};

/// A batch's admission between its reads and its decision: what to read, and each job's
/// part in the decision.
pub(super) struct Admit<'a> {
    /// Per job: its admission, its message count and its periods; `None` for a job that is
    /// admitted unchecked (an internal enqueue).
    jobs: Vec<Option<(&'a Admission, u64, Periods)>>,
    /// Accounts whose plan limits the request rate: their windows are read.
    pub(super) windows: Vec<AccountId>,
    /// Window rows at or before this instant (Unix ms) are outside every job's window.
    pub(super) since: i64,
    /// The day and month counters the jobs are checked against: only those of a period
    /// the job's plan caps.
    pub(super) counters: Vec<(AccountId, String)>,
}

/// What a batch's admission writes back.
#[derive(Debug, Default, PartialEq)]
pub(super) struct Writes {
    /// Rate-window rows to insert: one per admitted request of a rate-limited plan.
    pub(super) admitted: Vec<(AccountId, i64)>,
    /// Per account, the instant (Unix ms) at or before which its window rows are outside
    /// every later window, to delete.
    pub(super) expired: Vec<(AccountId, i64)>,
    /// Counters the batch changed, with the messages it added to each (written as
    /// increments: a counter that was not read is still counted).
    pub(super) counters: Vec<(AccountId, String, i64)>,
}

impl<'a> Admit<'a> {
    /// The jobs of a batch in arrival order, each with its admission (if checked) and the
    /// number of messages it queues.
    pub(super) fn new(jobs: impl IntoIterator<Item = Option<(&'a Admission, u64)>>) -> Self {
        let mut periods = PeriodsCache::default();
        let jobs: Vec<_> = jobs
            .into_iter()
            .map(|job| {
                job.map(|(admission, messages)| {
                    let periods = periods.get(admission.now, admission.limits.timezone);
                    (admission, messages, periods)
                })
            })
            .collect();
        let mut windows = BTreeSet::new();
        let mut counters = BTreeSet::new();
        let mut since = i64::MAX;
        for (admission, _, periods) in jobs.iter().flatten() {
            let account = admission.account_id;
            if admission.limits.requests_per_minute > 0 {
                windows.insert(account);
                since = since.min(millis(admission.now) - limits::WINDOW_MS);
            }
            if admission.limits.daily_cap > 0 {
                counters.insert((account, periods.day.clone()));
            }
            if admission.limits.monthly_cap > 0 {
                counters.insert((account, periods.month.clone()));
            }
        }
        Self {
            jobs,
            windows: windows.into_iter().collect(),
            since,
            counters: counters.into_iter().collect(),
        }
    }

    /// Decides every job from the rows read (`windows`: `(account, at)` of the rate
    /// windows after [`Admit::since`]; `counters`: `(account, period, count)`, absent
    /// counters being zero): one verdict per job in order, and the writes. A refused job
    /// counts nothing; an admitted one takes a window slot (if its plan has a rate limit)
    /// and adds its messages to its day and month.
    pub(super) fn decide(
        self,
        windows: Vec<(AccountId, i64)>,
        counters: Vec<(AccountId, String, i64)>,
    ) -> (Vec<Result<(), Refusal>>, Writes) {
        let mut window: HashMap<AccountId, Vec<i64>> = HashMap::new();
        for (account, at) in windows {
            window.entry(account).or_default().push(at);
        }
        // (used, added by this batch) by account and period; `used` is right only for the
        // counters read, which are all those a cap is checked against.
        let mut counts: HashMap<(AccountId, String), (u64, u64)> =
            self.counters.into_iter().map(|key| (key, (0, 0))).collect();
        for (account, period, count) in counters {
            if let Some(entry) = counts.get_mut(&(account, period)) {
                entry.0 = count.max(0) as u64;
            }
        }
        let mut writes = Writes::default();
        let mut latest: HashMap<AccountId, i64> = HashMap::new();
        let mut verdicts = Vec::with_capacity(self.jobs.len());
        for job in self.jobs {
            let Some((admission, messages, periods)) = job else {
                verdicts.push(Ok(()));
                continue;
            };
            let account = admission.account_id;
            let now = millis(admission.now);
            let limit = admission.limits.requests_per_minute;
            if limit > 0 {
                let log = window.entry(account).or_default();
                if let Err(retry_at) = limits::admit_request(log, now, limit) {
                    verdicts.push(Err(Refusal::RateLimited {
                        limit,
                        retry_at: from_millis(retry_at),
                    }));
                    continue;
                }
            }
            let day = (account, periods.day.clone());
            let month = (account, periods.month.clone());
            let used = |key| counts.get(key).map_or(0, |c: &(u64, u64)| c.0);
            let (used_day, used_month) = (used(&day), used(&month));
            if let Err(refusal) =
                limits::check_caps(&admission.limits, &periods, used_day, used_month, messages)
            {
                verdicts.push(Err(refusal));
                continue;
            }
            if limit > 0 {
                window.entry(account).or_default().push(now);
                writes.admitted.push((account, now));
                let last = latest.entry(account).or_insert(now);
                *last = (*last).max(now);
            }
            for key in [day, month] {
                let entry = counts.entry(key).or_insert((0, 0));
                *entry = (entry.0 + messages, entry.1 + messages);
            }
            verdicts.push(Ok(()));
        }
        let mut expired: Vec<_> = latest
            .into_iter()
            .map(|(account, latest)| (account, latest - limits::WINDOW_MS))
            .collect();
        expired.sort_unstable();
        writes.expired = expired;
        let mut changed: Vec<_> = counts
            .into_iter()
            .filter(|(_, (_, added))| *added > 0)
            .map(|((account, period), (_, added))| (account, period, added as i64))
            .collect();
        changed.sort_unstable();
        writes.counters = changed;
        (verdicts, writes)
    }
}

/// The counter keys of an account's day and month, for a read outside a batch (a
/// schedule's run): read with the batch's counter statement, then [`day_and_month`].
pub(super) fn counter_keys(account: AccountId, periods: &Periods) -> [(AccountId, String); 2] {
    [
        (account, periods.day.clone()),
        (account, periods.month.clone()),
    ]
}

/// The day's and the month's counts among `rows` (`(account, period, count)`); an
/// absent counter is zero.
pub(super) fn day_and_month(rows: &[(AccountId, String, i64)], periods: &Periods) -> (u64, u64) {
    let count = |period: &str| {
        rows.iter()
            .find(|row| row.1 == period)
            .map_or(0, |row| row.2.max(0) as u64)
    };
    (count(&periods.day), count(&periods.month))
}

/// The periods of the last instant asked for, reused while later instants fall in the
/// same local day: a batch's sends are mostly one zone's same day, and formatting the
/// period names per send showed in the accept path's profile.
#[derive(Default)]
struct PeriodsCache {
    last: Option<(Tz, DateTime<Utc>, Periods)>,
}

impl PeriodsCache {
    fn get(&mut self, now: DateTime<Utc>, tz: Tz) -> Periods {
        match &self.last {
            Some((zone, from, periods))
                if *zone == tz && *from <= now && now < periods.day_resets_at =>
            {
                periods.clone()
            }
            _ => {
                let periods = limits::periods(now, tz);
                self.last = Some((tz, now, periods.clone()));
                periods
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::limits::{CapPeriod, PlanLimits};

    fn admission(account: i64, plan: PlanLimits, now: &str) -> Admission {
        Admission {
            account_id: AccountId(account),
            limits: plan,
            now: now.parse().unwrap(),
        }
    }

    fn plan(rate: u32, daily: u64) -> PlanLimits {
        PlanLimits {
            requests_per_minute: rate,
            daily_cap: daily,
            monthly_cap: 0,
            ..PlanLimits::builtin_default()
        }
    }

    #[test]
    fn a_batch_reads_each_account_once_and_writes_back_what_changed() {
        let a = admission(1, plan(2, 0), "2026-12-02T10:00:00Z");
        let b = admission(2, plan(0, 5), "2026-12-02T10:00:00Z");
        let jobs = [
            Some((&a, 1)),
            Some((&b, 3)),
            None,
            Some((&a, 1)),
            Some((&a, 1)),
            Some((&b, 3)),
        ];
        let admit = Admit::new(jobs);
        // Only the rate-limited account's window is read, and only the counter a cap is
        // checked against (account 2's day): nothing else can refuse.
        assert_eq!(admit.windows, vec![AccountId(1)]);
        assert_eq!(admit.since, millis(a.now) - limits::WINDOW_MS);
        assert_eq!(admit.counters, vec![(AccountId(2), "d2026-12-02".into())]);
        // Account 1 used one slot 30 s ago; account 2 sent one message today already.
        let earlier = millis(a.now) - 30_000;
        let (verdicts, writes) = admit.decide(
            vec![(AccountId(1), earlier)],
            vec![(AccountId(2), "d2026-12-02".into(), 1)],
        );
        let refused: Vec<bool> = verdicts.iter().map(Result::is_err).collect();
        // Account 1: one slot left of two, so its second and third sends are refused;
        // account 2: 1 + 3 fits its 5 a day, 1 + 3 + 3 does not; the unchecked job passes.
        assert_eq!(refused, [false, false, false, true, true, true]);
        assert!(matches!(
            verdicts[3],
            Err(Refusal::RateLimited { limit: 2, .. })
        ));
        assert!(matches!(
            verdicts[5],
            Err(Refusal::Cap {
                period: CapPeriod::Daily,
                used: 4,
                ..
            })
        ));
        assert_eq!(writes.admitted, vec![(AccountId(1), millis(a.now))]);
        assert_eq!(
            writes.expired,
            vec![(AccountId(1), millis(a.now) - limits::WINDOW_MS)]
        );
        // What the batch added, written as increments: counted whether read or not.
        assert_eq!(
            writes.counters,
            vec![
                (AccountId(1), "d2026-12-02".into(), 1),
                (AccountId(1), "m2026-12".into(), 1),
                (AccountId(2), "d2026-12-02".into(), 3),
                (AccountId(2), "m2026-12".into(), 3),
            ]
        );
    }

    #[test]
    fn a_batch_across_midnight_counts_each_send_in_its_own_day() {
        let plan = plan(0, 1);
        let before = admission(1, plan.clone(), "2026-12-02T23:59:59.900Z");
        let after = admission(1, plan, "2026-12-03T00:00:00.100Z");
        let (verdicts, writes) =
            Admit::new([Some((&before, 1)), Some((&after, 1))]).decide(vec![], vec![]);
        // A daily cap of one admits one send on each side of midnight.
        assert!(verdicts.iter().all(Result::is_ok));
        let days: Vec<&str> = writes.counters.iter().map(|c| c.1.as_str()).collect();
        assert_eq!(days, ["d2026-12-02", "d2026-12-03", "m2026-12"]);
        assert_eq!(writes.counters[2].2, 2);
    }

    #[test]
    fn nothing_refused_or_unchecked_is_written() {
        let full = admission(1, plan(0, 2), "2026-12-02T10:00:00Z");
        let (verdicts, writes) = Admit::new([Some((&full, 3)), None])
            .decide(vec![], vec![(AccountId(1), "d2026-12-02".into(), 0)]);
        assert!(verdicts[0].is_err() && verdicts[1].is_ok());
        assert_eq!(writes, Writes::default());
    }
}
