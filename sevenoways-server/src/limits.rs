//! Send limits: the per-key request rate and the per-plan message caps.
//!
//! # The rate limit is a sliding window log, not a token bucket
//!
//! The documentation promises "60 requests per minute", and the acceptance test is a
//! script that sends 61 requests within a minute and must see exactly one 429, however
//! the script spaces them. A GCRA (or token bucket) with a burst of 60 cannot promise
//! that: it refills one request per second, so 61 requests spread over two seconds all
//! pass, and over a whole minute it lets ~119 through. A fixed window lets 120 through
//! across a minute boundary. A sliding window *log* is exact: a request is admitted iff
//! fewer than `limit` requests were admitted in the 60 seconds before it, so no 60-second
//! interval ever holds more than `limit` admitted requests, and each slot frees exactly
//! 60 s after it was used. The cost is at most `limit` timestamps per key, kept in the
//! database (`rate_window`), so every replica sharing the database sees the same window.
//!
//! Refused requests do not use a slot, and neither do requests refused for a cap or for
//! bad input (those never reach the admission step).
//!
//! # Caps count messages
//!
//! A send to three groups is one request and three messages. Daily and monthly counters
//! live in `usage_counters`, keyed by the period in the plan's time zone. A send that
//! would take a counter past its cap is refused whole: nothing is queued.
//!
//! The decisions are pure functions here, tested with injected instants; the store
//! calls them inside the write transaction that queues the send.
//!
//! # Refused keys cost nothing
//!
//! The store's decision is the only one that admits a send. A refusal it makes often
//! holds for every send until a known instant: a full rate window until its oldest slot
//! frees, a cap with nothing left until the period ends. [`RefusalCache`] remembers
//! those, per process, so the send handler answers the same 429 before it resolves
//! groups, looks up media hosts or touches the database. That cannot refuse a send the
//! store would admit (slots only free with time, counters only grow within a period),
//! and it admits nothing itself, so the store's exact count stands.
//!
//! # Quotas count what an account keeps
//!
//! Each plan also bounds how many instances, channels, schedules and webhooks a key may
//! keep, and how many groups one instance may have ([`Quotas`]). The store checks the
//! count in the transaction that inserts, so concurrent creates cannot overshoot.

use std::collections::HashMap;

use chrono::{DateTime, Datelike, NaiveDate, Utc};
use chrono_tz::Tz;

/// The window the rate limit counts over.
pub const WINDOW_MS: i64 = 60_000;

/// The limits of one plan. `0` means unlimited.
#[derive(Debug, Clone, PartialEq)]
pub struct PlanLimits {
    /// The plan's name.
    pub name: String,
    /// Send requests per sliding minute.
    pub requests_per_minute: u32,
    /// Messages per day.
    pub daily_cap: u64,
    /// Messages per calendar month.
    pub monthly_cap: u64,
    /// Where days and months begin.
    pub timezone: Tz,
    /// How many of each resource a key may keep.
    pub quotas: Quotas,
    /// Runs in a row a schedule may skip for a cap before it is paused (`0`: never).
    pub schedule_pause_after: u32,
}

impl PlanLimits {
    /// The built-in `default` plan: the documented 60 requests a minute, 1000 messages a
    /// day and 20000 a month, reset at UTC midnight and on the 1st of the month; the
    /// [`Quotas::BUILTIN`] quotas; schedules paused after 5 skipped runs in a row.
    pub fn builtin_default() -> Self {
        Self {
            name: "default".into(),
            requests_per_minute: 60,
            daily_cap: 1000,
            monthly_cap: 20_000,
            timezone: Tz::UTC,
            quotas: Quotas::BUILTIN,
            schedule_pause_after: 5,
        }
    }
}

/// How many of each resource one API key may keep under a plan. `0` means unlimited.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Quotas {
    /// Instances (numbers) per key.
    pub instances: u32,
    /// Saved channels per key.
    pub channels: u32,
    /// Schedules per key.
    pub schedules: u32,
    /// Webhook subscriptions per key.
    pub webhooks: u32,
    /// Groups per instance.
    pub groups_per_instance: u32,
}

impl Quotas {
    /// The built-in plan's quotas: 20 instances, 100 channels, 100 schedules, 25 webhooks
    /// and 1000 groups per instance.
    pub const BUILTIN: Quotas = Quotas {
        instances: 20,
        channels: 100,
        schedules: 100,
        webhooks: 25,
        groups_per_instance: 1000,
    };

    /// The quota of `resource`; `0` is unlimited.
    pub fn get(&self, resource: Resource) -> u32 {
        match resource {
            Resource::Instances => self.instances,
            Resource::Channels => self.channels,
            Resource::Schedules => self.schedules,
            Resource::Webhooks => self.webhooks,
            Resource::GroupsPerInstance => self.groups_per_instance,
        }
    }
}

/// What a quota counts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Resource {
    /// Instances of a key.
    Instances,
    /// Saved channels of a key.
    Channels,
    /// Schedules of a key.
    Schedules,
    /// Webhook subscriptions of a key.
    Webhooks,
    /// Groups of one instance.
    GroupsPerInstance,
}

impl Resource {
    /// The `[[plans]]` key that sets it.
    pub fn config_key(self) -> &'static str {
        match self {
            Self::Instances => "max_instances",
            Self::Channels => "max_channels",
            Self::Schedules => "max_schedules",
            Self::Webhooks => "max_webhooks",
            Self::GroupsPerInstance => "max_groups_per_instance",
        }
    }

    fn counted(self) -> &'static str {
        match self {
            Self::Instances => "instances per API key",
            Self::Channels => "saved channels per API key",
            Self::Schedules => "schedules per API key",
            Self::Webhooks => "webhooks per API key",
            Self::GroupsPerInstance => "groups per instance",
        }
    }
}

/// A create refused because the key's plan allows no more of `resource`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct QuotaExceeded {
    /// What ran out.
    pub resource: Resource,
    /// The plan's quota.
    pub max: u32,
}

impl QuotaExceeded {
    /// The error message: the quota, the plan key that sets it and what to do.
    pub fn message(&self) -> String {
        format!(
            "quota reached: this API key's plan allows at most {} {} ({}); delete one first",
            self.max,
            self.resource.counted(),
            self.resource.config_key()
        )
    }
}

/// Every plan of the configuration, plus the built-in `default`. Built from the TOML's
/// `[[plans]]` by [`Plans::from_config`] (in [`crate::config`], which checks them).
#[derive(Debug, Clone)]
pub struct Plans {
    by_name: HashMap<String, PlanLimits>,
}

impl Plans {
    /// The built-in `default` plan and `plans`; a plan named `default` replaces the
    /// built-in one, and a later plan of the same name replaces an earlier one.
    pub fn new(plans: impl IntoIterator<Item = PlanLimits>) -> Self {
        let mut by_name = HashMap::new();
        by_name.insert("default".to_owned(), PlanLimits::builtin_default());
        for plan in plans {
            by_name.insert(plan.name.clone(), plan);
        }
        Self { by_name }
    }

    /// Whether a plan of this name exists (`default` always does).
    pub fn contains(&self, plan: &str) -> bool {
        self.by_name.contains_key(plan)
    }

    /// The plans' names, sorted.
    pub fn names(&self) -> Vec<&str> {
        let mut names: Vec<&str> = self.by_name.keys().map(String::as_str).collect();
        names.sort_unstable();
        names
    }

    /// The limits of `plan`. A key whose plan is not configured (the config changed
    /// after the key was made) gets the `default` plan rather than no sending at all.
    pub fn get(&self, plan: &str) -> &PlanLimits {
        self.by_name.get(plan).unwrap_or_else(|| {
            tracing::warn!(plan, "API key has an unknown plan; using the default plan");
            &self.by_name["default"]
        })
    }
}

impl Default for Plans {
    fn default() -> Self {
        Self::new([])
    }
}

/// Why a send was refused. The limits answer 429 with `Retry-After`; a missing instance
/// answers 404.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Refusal {
    /// The send's instance is not there when the group commit looks: deleted since the
    /// request began, or never read by the handler (the send path leaves the existence
    /// check to the group commit when nothing else needs the instance's record).
    InstanceNotFound,
    /// Too many send requests in the last minute.
    RateLimited {
        /// The plan's requests per minute.
        limit: u32,
        /// When the oldest counted request leaves the window.
        retry_at: DateTime<Utc>,
    },
    /// The send would take a message cap past its limit.
    Cap {
        /// Which cap.
        period: CapPeriod,
        /// The plan's name.
        plan: String,
        /// The cap.
        cap: u64,
        /// Messages already counted in this period.
        used: u64,
        /// Messages this send needs.
        requested: u64,
        /// When the period ends.
        resets_at: DateTime<Utc>,
        /// The zone the period is read in.
        timezone: Tz,
    },
}

/// A cap's period.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CapPeriod {
    /// The calendar day.
    Daily,
    /// The calendar month.
    Monthly,
}

impl Refusal {
    /// The error message. For the documented 60/minute limit it is exactly
    /// [`sevenoways_sdk::RATE_LIMIT_MESSAGE`].
    pub fn message(&self) -> String {
        match self {
            Self::InstanceNotFound => "instance not found".into(),
            Self::RateLimited { limit, .. } => rate_limit_message(*limit),
            Self::Cap {
                period,
                plan,
                cap,
                used,
                requested,
                resets_at,
                timezone,
            } => {
                let (name, per, reset) = match period {
                    CapPeriod::Daily => ("Daily", "day", "at midnight"),
                    CapPeriod::Monthly => ("Monthly", "month", "on the 1st of the month"),
                };
                // Nothing left: no send of any size fits, so this send's size is beside the
                // point (and unknown when the answer comes from the RefusalCache).
                if used >= cap {
                    return format!(
                        "{name} message cap reached: plan {plan:?} allows {cap} messages per {per} and \
                         all are used. The cap resets at {} ({reset} {timezone}).",
                        resets_at.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
                    );
                }
                format!(
                    "{name} message cap reached: plan {plan:?} allows {cap} messages per {per} and {used} \
                     are used, this send needs {requested}. The cap resets at {} ({reset} {timezone}).",
                    resets_at.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
                )
            }
        }
    }

    /// The instant before which every send of the account is refused the same way, when
    /// there is one: a full rate window until a slot frees, a cap with nothing left until
    /// it resets. `None` when a smaller send could still pass.
    pub fn refuses_every_send_until(&self) -> Option<DateTime<Utc>> {
        match self {
            Self::InstanceNotFound => None,
            Self::RateLimited { retry_at, .. } => Some(*retry_at),
            Self::Cap {
                cap,
                used,
                resets_at,
                ..
            } => (used >= cap).then_some(*resets_at),
        }
    }

    /// Whole seconds until a retry can succeed, at least 1.
    pub fn retry_after_secs(&self, now: DateTime<Utc>) -> u64 {
        let at = match self {
            Self::InstanceNotFound => now,
            Self::RateLimited { retry_at, .. } => *retry_at,
            Self::Cap { resets_at, .. } => *resets_at,
        };
        let ms = (at - now).num_milliseconds().max(0) as u64;
        ms.div_ceil(1000).max(1)
    }
}

/// The documented message with the plan's number in it.
pub fn rate_limit_message(limit: u32) -> String {
    format!("Send rate limit exceeded \u{2014} max {limit} requests/minute per API key.")
}

/// Whether one more send request is admitted at `now` (Unix ms), given the times of the
/// requests admitted before it (any order; older ones are ignored). `Err` carries the
/// instant (Unix ms) a retry is admitted. `limit == 0` admits everything.
pub fn admit_request(window: &[i64], now: i64, limit: u32) -> Result<(), i64> {
    if limit == 0 {
        return Ok(());
    }
    let mut recent: Vec<i64> = window
        .iter()
        .copied()
        .filter(|&t| t > now - WINDOW_MS)
        .collect();
    if recent.len() < limit as usize {
        return Ok(());
    }
    recent.sort_unstable();
    // `len - limit + 1` requests must leave the window; the last of them is at this index.
    let must_leave = recent[recent.len() - limit as usize];
    Err(must_leave + WINDOW_MS)
}

/// The rate-limit view of a window at `now`: (used, remaining, next slot, full reset).
pub fn window_status(
    window: &[i64],
    now: i64,
    limit: u32,
) -> (u32, Option<u32>, Option<i64>, Option<i64>) {
    let recent: Vec<i64> = window
        .iter()
        .copied()
        .filter(|&t| t > now - WINDOW_MS)
        .collect();
    let used = recent.len() as u32;
    if limit == 0 {
        return (used, None, None, None);
    }
    let next_slot = admit_request(&recent, now, limit).err();
    let reset = recent.iter().max().map(|t| t + WINDOW_MS);
    (used, Some(limit.saturating_sub(used)), next_slot, reset)
}

/// The day and month a moment falls in, in a zone, and when each ends.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Periods {
    /// `d2026-03-29`.
    pub day: String,
    /// The next local midnight.
    pub day_resets_at: DateTime<Utc>,
    /// `m2026-03`.
    pub month: String,
    /// The next local 1st of the month, 00:00.
    pub month_resets_at: DateTime<Utc>,
}

/// The periods of `now` in `tz`. Midnight in a daylight-saving gap (some zones change
/// at 00:00) resets at the first instant after the gap.
pub fn periods(now: DateTime<Utc>, tz: Tz) -> Periods {
    let local = now.with_timezone(&tz).date_naive();
    let tomorrow = local.succ_opt().unwrap_or(local);
    let first_next_month = if local.month() == 12 {
        NaiveDate::from_ymd_opt(local.year() + 1, 1, 1)
    } else {
        NaiveDate::from_ymd_opt(local.year(), local.month() + 1, 1)
    }
    .unwrap_or(tomorrow);
    let midnight = |d: NaiveDate| {
        crate::cron::local_to_utc(tz, d.and_hms_opt(0, 0, 0).expect("midnight exists"))
    };
    Periods {
        day: format!("d{}", local.format("%Y-%m-%d")),
        day_resets_at: midnight(tomorrow),
        month: format!("m{}", local.format("%Y-%m")),
        month_resets_at: midnight(first_next_month),
    }
}

/// Whether `requested` more messages fit the plan's caps, given the counts so far.
pub fn check_caps(
    limits: &PlanLimits,
    periods: &Periods,
    used_day: u64,
    used_month: u64,
    requested: u64,
) -> Result<(), Refusal> {
    let refuse = |period, cap, used, resets_at| Refusal::Cap {
        period,
        plan: limits.name.clone(),
        cap,
        used,
        requested,
        resets_at,
        timezone: limits.timezone,
    };
    if limits.daily_cap > 0 && used_day.saturating_add(requested) > limits.daily_cap {
        return Err(refuse(
            CapPeriod::Daily,
            limits.daily_cap,
            used_day,
            periods.day_resets_at,
        ));
    }
    if limits.monthly_cap > 0 && used_month.saturating_add(requested) > limits.monthly_cap {
        return Err(refuse(
            CapPeriod::Monthly,
            limits.monthly_cap,
            used_month,
            periods.month_resets_at,
        ));
    }
    Ok(())
}

/// The store's recent refusals that hold for every send of an account until a known
/// instant (see the module docs): consulted before any work, so a key over its limit is
/// answered at once. Derived, disposable and per process, like the API-key cache; the
/// store's admission stays the only one that counts.
#[derive(Debug, Default)]
pub struct RefusalCache {
    entries: std::sync::Mutex<HashMap<crate::account::AccountId, Blocked>>,
}

#[derive(Debug, Clone)]
struct Blocked {
    /// The plan the refusal was made under; a key moved to another plan is decided anew.
    plan: String,
    until: DateTime<Utc>,
    refusal: Refusal,
}

impl RefusalCache {
    /// Accounts remembered at most; past this the expired ones go, then all.
    const CAPACITY: usize = 10_000;

    /// The refusal any send by `account` (on `plan`) gets at `now`, if one is known.
    pub fn check(
        &self,
        account: crate::account::AccountId,
        plan: &str,
        now: DateTime<Utc>,
    ) -> Option<Refusal> {
        let mut entries = self.entries.lock().unwrap_or_else(|e| e.into_inner());
        match entries.get(&account) {
            Some(b) if b.plan == plan && now < b.until => Some(b.refusal.clone()),
            Some(_) => {
                entries.remove(&account);
                None
            }
            None => None,
        }
    }

    /// Remembers a refusal the store made for `account`, if it holds for every send.
    pub fn record(&self, account: crate::account::AccountId, plan: &str, refusal: &Refusal) {
        let Some(until) = refusal.refuses_every_send_until() else {
            return;
        };
        let mut entries = self.entries.lock().unwrap_or_else(|e| e.into_inner());
        if entries.len() >= Self::CAPACITY {
            let now = Utc::now();
            entries.retain(|_, b| b.until > now);
            if entries.len() >= Self::CAPACITY {
                entries.clear();
            }
        }
        entries.insert(
            account,
            Blocked {
                plan: plan.to_owned(),
                until,
                refusal: refusal.clone(),
            },
        );
    }
}

/// What the store needs to admit one send: whose, under which limits, when.
#[derive(Debug, Clone)]
pub struct Admission {
    /// The sending account.
    pub account_id: crate::account::AccountId,
    /// Its plan's limits.
    pub limits: PlanLimits,
    /// The request's time (injected in tests).
    pub now: DateTime<Utc>,
}

#[cfg(test)]
mod tests {
    use super::*;
    use sevenoways_sdk::RATE_LIMIT_MESSAGE;

    fn t(s: &str) -> DateTime<Utc> {
        s.parse().unwrap()
    }

    /// Admits requests at the given times (ms) against a log, like the store does.
    fn run(times: &[i64], limit: u32) -> Vec<bool> {
        let mut log = Vec::new();
        times
            .iter()
            .map(|&now| match admit_request(&log, now, limit) {
                Ok(()) => {
                    log.push(now);
                    true
                }
                Err(_) => false,
            })
            .collect()
    }

    #[test]
    fn the_61st_request_in_a_minute_is_refused_however_spaced() {
        // 61 requests spread evenly over 59 seconds: a token bucket would admit all.
        let times: Vec<i64> = (0..61).map(|i| i * 980).collect();
        let admitted = run(&times, 60);
        assert_eq!(admitted.iter().filter(|a| **a).count(), 60);
        assert!(!admitted[60]);
        // All at once: the same.
        let admitted = run(&[5_000; 61], 60);
        assert_eq!(admitted.iter().filter(|a| !**a).count(), 1);
    }

    #[test]
    fn a_slot_frees_exactly_a_minute_after_it_was_used() {
        let mut log: Vec<i64> = (0..60).map(|i| 1_000 + i * 10).collect();
        // Full: retry when the oldest (1000) leaves the window.
        assert_eq!(admit_request(&log, 30_000, 60), Err(61_000));
        assert_eq!(admit_request(&log, 60_999, 60), Err(61_000));
        assert_eq!(admit_request(&log, 61_000, 60), Ok(()));
        log.push(61_000);
        // The second-oldest (1010) is next.
        assert_eq!(admit_request(&log, 61_001, 60), Err(61_010));
        // After a full minute of silence everything is back.
        let (used, remaining, next, _) = window_status(&log, 200_000, 60);
        assert_eq!((used, remaining, next), (0, Some(60), None));
    }

    #[test]
    fn never_more_than_the_limit_in_any_minute_even_across_a_boundary() {
        // Someone hammering every 100 ms for five minutes.
        let times: Vec<i64> = (0..3000).map(|i| i * 100).collect();
        let mut log = Vec::new();
        for now in times {
            if admit_request(&log, now, 60).is_ok() {
                log.push(now);
            }
        }
        for (i, &start) in log.iter().enumerate() {
            let in_minute = log[i..].iter().filter(|&&t| t < start + WINDOW_MS).count();
            assert!(
                in_minute <= 60,
                "{in_minute} admitted in the minute from {start}"
            );
        }
        // And the allowance refills: about 60 per minute over five minutes.
        assert!(log.len() >= 290 && log.len() <= 300, "{}", log.len());
    }

    #[test]
    fn zero_means_unlimited() {
        assert!(run(&[0; 500], 0).iter().all(|a| *a));
    }

    #[test]
    fn the_documented_message_for_the_default_plan() {
        assert_eq!(rate_limit_message(60), RATE_LIMIT_MESSAGE);
        let r = Refusal::RateLimited {
            limit: 60,
            retry_at: t("2026-01-01T00:00:30.2Z"),
        };
        assert_eq!(r.message(), RATE_LIMIT_MESSAGE);
        assert_eq!(r.retry_after_secs(t("2026-01-01T00:00:00Z")), 31);
        assert_eq!(r.retry_after_secs(t("2026-01-01T00:01:00Z")), 1);
    }

    #[test]
    fn periods_in_utc_and_in_a_zone() {
        let p = periods(t("2026-03-31T23:59:59Z"), Tz::UTC);
        assert_eq!(p.day, "d2026-03-31");
        assert_eq!(p.day_resets_at, t("2026-04-01T00:00:00Z"));
        assert_eq!(p.month, "m2026-03");
        assert_eq!(p.month_resets_at, t("2026-04-01T00:00:00Z"));
        let p = periods(t("2026-12-31T12:00:00Z"), Tz::UTC);
        assert_eq!(p.month_resets_at, t("2027-01-01T00:00:00Z"));
        // Already the 1st of April in Dubai (UTC+4).
        let p = periods(t("2026-03-31T21:00:00Z"), chrono_tz::Asia::Dubai);
        assert_eq!(p.day, "d2026-04-01");
        assert_eq!(p.day_resets_at, t("2026-04-01T20:00:00Z"));
        assert_eq!(p.month_resets_at, t("2026-04-30T20:00:00Z"));
        // London's day that loses an hour still ends at local midnight (BST).
        let p = periods(t("2026-03-29T12:00:00Z"), chrono_tz::Europe::London);
        assert_eq!(p.day_resets_at, t("2026-03-29T23:00:00Z"));
        // Santiago moves clocks at midnight: a day starting in a gap starts after it.
        let p = periods(t("2026-09-05T12:00:00Z"), chrono_tz::America::Santiago);
        assert_eq!(p.day_resets_at, t("2026-09-06T04:00:00Z"));
    }

    #[test]
    fn caps_count_messages_and_refuse_whole_sends() {
        let limits = PlanLimits::builtin_default();
        let p = periods(t("2026-05-10T10:00:00Z"), Tz::UTC);
        assert!(check_caps(&limits, &p, 998, 998, 2).is_ok());
        let err = check_caps(&limits, &p, 998, 998, 3).unwrap_err();
        assert!(matches!(
            err,
            Refusal::Cap {
                period: CapPeriod::Daily,
                used: 998,
                requested: 3,
                ..
            }
        ));
        assert_eq!(
            err.message(),
            "Daily message cap reached: plan \"default\" allows 1000 messages per day and 998 are used, \
             this send needs 3. The cap resets at 2026-05-11T00:00:00Z (at midnight UTC)."
        );
        assert_eq!(err.retry_after_secs(t("2026-05-10T10:00:00Z")), 14 * 3600);
        let err = check_caps(&limits, &p, 0, 19_999, 2).unwrap_err();
        assert!(matches!(
            err,
            Refusal::Cap {
                period: CapPeriod::Monthly,
                ..
            }
        ));
        assert!(err.message().contains("on the 1st of the month UTC"));
        let unlimited = PlanLimits {
            daily_cap: 0,
            monthly_cap: 0,
            ..limits
        };
        assert!(check_caps(&unlimited, &p, u64::MAX, u64::MAX, 5).is_ok());
    }

    #[test]
    fn a_cap_with_nothing_left_says_so_without_the_send_size() {
        let limits = PlanLimits::builtin_default();
        let p = periods(t("2026-05-10T10:00:00Z"), Tz::UTC);
        let err = check_caps(&limits, &p, 1000, 1000, 7).unwrap_err();
        assert_eq!(
            err.message(),
            "Daily message cap reached: plan \"default\" allows 1000 messages per day and all are \
             used. The cap resets at 2026-05-11T00:00:00Z (at midnight UTC)."
        );
        assert_eq!(
            err.refuses_every_send_until(),
            Some(t("2026-05-11T00:00:00Z"))
        );
        // Room for a smaller send: not every send is refused.
        let err = check_caps(&limits, &p, 998, 998, 3).unwrap_err();
        assert_eq!(err.refuses_every_send_until(), None);
    }

    #[test]
    fn the_refusal_cache_holds_what_refuses_everything_until_it_lapses() {
        let cache = RefusalCache::default();
        let a = crate::account::AccountId(1);
        let now = t("2026-05-10T10:00:00Z");
        let full_window = Refusal::RateLimited {
            limit: 60,
            retry_at: t("2026-05-10T10:00:30Z"),
        };
        assert_eq!(cache.check(a, "default", now), None);
        cache.record(a, "default", &full_window);
        assert_eq!(cache.check(a, "default", now), Some(full_window.clone()));
        assert_eq!(
            cache.check(a, "default", t("2026-05-10T10:00:29.999Z")),
            Some(full_window.clone())
        );
        // Lapsed: the store decides again.
        assert_eq!(cache.check(a, "default", t("2026-05-10T10:00:30Z")), None);
        // Another account, or the key on another plan, is not refused by it.
        cache.record(a, "default", &full_window);
        assert_eq!(
            cache.check(crate::account::AccountId(2), "default", now),
            None
        );
        assert_eq!(cache.check(a, "pro", now), None);
        // A refusal a smaller send could pass is not remembered.
        let limits = PlanLimits::builtin_default();
        let p = periods(now, Tz::UTC);
        let partial = check_caps(&limits, &p, 998, 998, 3).unwrap_err();
        let b = crate::account::AccountId(3);
        cache.record(b, "default", &partial);
        assert_eq!(cache.check(b, "default", now), None);
    }
}
