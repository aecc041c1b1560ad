//! When a schedule runs next: five-field cron read in an IANA time zone, correct across
//! daylight saving.
//!
//! croner finds the wall-clock (naive local) times that match an expression; this module
//! maps them to instants with the classic cron rules (Vixie cron, and what people
//! expect from "every day at 09:00"):
//!
//! - **Fixed-time jobs** (neither the minute nor the hour field has `*` or `/`, e.g.
//!   `0 9 * * *`, `0 8,17 * * 1-5`): a time that falls in a spring-forward gap runs
//!   once, at the first instant after the gap; a time that occurs twice in a fall-back
//!   overlap runs once, at its first occurrence.
//! - **Interval jobs** (`*/30 * * * *`, `0 * * * *`): they run on the wall clock as it
//!   is: times that do not exist are skipped (no burst after the gap), and the repeated
//!   hour of a fall-back runs again, so "every 30 minutes" stays every 30 real minutes.
//!
//! The answer is always strictly after the given instant, whatever the zone does; this
//! matters because croner alone, asked from inside a fall-back overlap, can answer the
//! first (already past) occurrence of an ambiguous time.
//!
//! Everything here is a pure function of its inputs, so it is tested with chosen
//! instants rather than a clock.

use chrono::{DateTime, LocalResult, NaiveDateTime, TimeDelta, TimeZone as _, Timelike, Utc};
use chrono_tz::Tz;
use sevenoways_sdk::CronExpr;
use sevenoways_sdk::models::schedules::CreateScheduleRequest;

/// Longer than any daylight-saving shift, so an overlap's second pass is never missed.
const MARGIN: TimeDelta = TimeDelta::hours(3);
/// Bounds the search; `* * * * *` needs about 2 × 180 steps.
const MAX_STEPS: usize = 2000;

/// The first run of a schedule strictly after `after`.
pub fn next_run(spec: &CreateScheduleRequest, after: DateTime<Utc>) -> Option<DateTime<Utc>> {
    next_after(&spec.cron_expr, spec.timezone.tz(), after)
}

/// The first run of `expr` in `tz` strictly after `after`; `None` if it never runs again.
pub fn next_after(expr: &CronExpr, tz: Tz, after: DateTime<Utc>) -> Option<DateTime<Utc>> {
    let cron = expr.schedule();
    let fixed = is_fixed_time(expr);
    // Walk wall-clock matches from a little before `after`'s wall-clock time (an overlap
    // can put later instants at earlier wall-clock times), keeping the earliest instant
    // after `after`, until wall-clock time is safely past it.
    // Whole seconds: croner keeps a start's fraction of a second in what it returns.
    let start = after.with_timezone(&tz).naive_local() - MARGIN;
    let mut cursor = start.with_nanosecond(0).unwrap_or(start);
    let mut best: Option<DateTime<Utc>> = None;
    for _ in 0..MAX_STEPS {
        let naive = cron
            .find_next_occurrence(&Utc.from_utc_datetime(&cursor), false)
            .ok()?
            .naive_utc();
        if let Some(b) = best
            && naive > b.with_timezone(&tz).naive_local() + MARGIN
        {
            break;
        }
        for instant in instants(tz, naive, fixed) {
            if instant > after && best.is_none_or(|b| instant < b) {
                best = Some(instant);
            }
        }
        cursor = naive;
    }
    best
}

/// Fixed-time per Vixie cron: no `*` and no step in the minute and hour fields.
pub fn is_fixed_time(expr: &CronExpr) -> bool {
    let mut fields = expr.as_str().split(' ');
    fields
        .by_ref()
        .take(2)
        .all(|f| !f.contains('*') && !f.contains('/'))
}

/// The instants a matching wall-clock time runs at.
fn instants(tz: Tz, naive: NaiveDateTime, fixed: bool) -> Vec<DateTime<Utc>> {
    match tz.from_local_datetime(&naive) {
        LocalResult::Single(t) => vec![t.with_timezone(&Utc)],
        LocalResult::Ambiguous(first, second) if !fixed => {
            vec![first.with_timezone(&Utc), second.with_timezone(&Utc)]
        }
        LocalResult::Ambiguous(first, _) => vec![first.with_timezone(&Utc)],
        LocalResult::None if fixed => vec![local_to_utc(tz, naive)],
        LocalResult::None => Vec::new(),
    }
}

/// A wall-clock time as an instant: the earlier one if it occurs twice, the first instant
/// after the gap if it does not occur.
pub fn local_to_utc(tz: Tz, naive: NaiveDateTime) -> DateTime<Utc> {
    let mut probe = naive;
    // Gaps are whole minutes and at most a day (Samoa, 2011).
    for _ in 0..=(26 * 60) {
        if let Some(t) = tz.from_local_datetime(&probe).earliest() {
            return t.with_timezone(&Utc);
        }
        probe += TimeDelta::minutes(1);
    }
    // Unreachable with the IANA database; answer something sane rather than panic.
    Utc.from_utc_datetime(&naive)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(s: &str) -> DateTime<Utc> {
        s.parse().unwrap()
    }

    fn cron(s: &str) -> CronExpr {
        s.parse().unwrap()
    }

    fn tz(s: &str) -> Tz {
        s.parse().unwrap()
    }

    /// The next `n` runs after `from`, each computed from the previous one, as the
    /// scheduler does after each firing.
    fn runs(expr: &str, zone: &str, from: &str, n: usize) -> Vec<String> {
        let (expr, zone) = (cron(expr), tz(zone));
        let mut at = t(from);
        (0..n)
            .map(|_| {
                at = next_after(&expr, zone, at).expect("runs again");
                at.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
            })
            .collect()
    }

    #[test]
    fn every_line_of_the_documentation_cron_table_in_dubai() {
        // Asia/Dubai is UTC+4 all year: no daylight saving.
        // 2026-11-24 is a Tuesday.
        let from = "2026-11-24T12:00:00Z"; // 16:00 in Dubai
        let cases: [(&str, &[&str]); 7] = [
            (
                "0 9 * * *",
                &["2026-11-25T05:00:00Z", "2026-11-26T05:00:00Z"],
            ),
            (
                "0 9 * * 1",
                &["2026-11-30T05:00:00Z", "2026-12-07T05:00:00Z"],
            ),
            (
                "0 9 * * 1-5",
                &[
                    "2026-11-25T05:00:00Z",
                    "2026-11-26T05:00:00Z",
                    "2026-11-27T05:00:00Z",
                    "2026-11-30T05:00:00Z",
                ],
            ),
            (
                "0 8,17 * * *",
                &[
                    "2026-11-24T13:00:00Z",
                    "2026-11-25T04:00:00Z",
                    "2026-11-25T13:00:00Z",
                ],
            ),
            (
                "*/30 * * * *",
                &[
                    "2026-11-24T12:30:00Z",
                    "2026-11-24T13:00:00Z",
                    "2026-11-24T13:30:00Z",
                ],
            ),
            (
                "0 9 1 * *",
                &["2026-12-01T05:00:00Z", "2027-01-01T05:00:00Z"],
            ),
            (
                "0 9 * * 5",
                &["2026-11-27T05:00:00Z", "2026-12-04T05:00:00Z"],
            ),
        ];
        for (expr, want) in cases {
            assert_eq!(
                runs(expr, "Asia/Dubai", from, want.len()),
                want.to_vec(),
                "{expr}"
            );
        }
        // The same table in UTC and New York (a Monday 09:00 is 14:00Z in winter).
        assert_eq!(runs("0 9 * * 1", "UTC", from, 1), ["2026-11-30T09:00:00Z"]);
        assert_eq!(
            runs("0 9 * * 1", "America/New_York", from, 1),
            ["2026-11-30T14:00:00Z"]
        );
        assert_eq!(
            runs("0 9 1 * *", "Europe/London", from, 1),
            ["2026-12-01T09:00:00Z"]
        );
    }

    #[test]
    fn strictly_after_the_given_instant() {
        let (expr, zone) = (cron("0 9 * * *"), tz("Asia/Dubai"));
        let nine = t("2026-11-25T05:00:00Z");
        assert_eq!(
            next_after(&expr, zone, nine - TimeDelta::milliseconds(1)),
            Some(nine)
        );
        assert_eq!(
            next_after(&expr, zone, nine),
            Some(t("2026-11-26T05:00:00Z"))
        );
    }

    #[test]
    fn london_spring_forward_gap_runs_once_right_after_the_gap() {
        // 2026-03-29: 01:00 GMT becomes 02:00 BST; 01:00–01:59 do not exist.
        assert_eq!(
            runs("30 1 * * *", "Europe/London", "2026-03-28T12:00:00Z", 3),
            [
                "2026-03-29T01:00:00Z",
                "2026-03-30T00:30:00Z",
                "2026-03-31T00:30:00Z"
            ]
        );
        // Two times in the gap still run once.
        assert_eq!(
            runs("0,30 1 * * *", "Europe/London", "2026-03-29T00:40:00Z", 2),
            ["2026-03-29T01:00:00Z", "2026-03-30T00:00:00Z"]
        );
        // An interval job skips the missing hour: no burst after the gap.
        assert_eq!(
            runs("*/30 * * * *", "Europe/London", "2026-03-29T00:15:00Z", 3),
            [
                "2026-03-29T00:30:00Z",
                "2026-03-29T01:00:00Z",
                "2026-03-29T01:30:00Z"
            ]
        );
    }

    #[test]
    fn london_fall_back_overlap_runs_once() {
        // 2026-10-25: 02:00 BST becomes 01:00 GMT; 01:00–01:59 happen twice.
        assert_eq!(
            runs("30 1 * * *", "Europe/London", "2026-10-24T12:00:00Z", 2),
            ["2026-10-25T00:30:00Z", "2026-10-26T01:30:00Z"]
        );
        // Asked from inside the second pass (after the run), it does not run again.
        assert_eq!(
            runs("30 1 * * *", "Europe/London", "2026-10-25T01:10:00Z", 1),
            ["2026-10-26T01:30:00Z"]
        );
        // Every 30 minutes stays every 30 real minutes through the repeated hour.
        assert_eq!(
            runs("*/30 * * * *", "Europe/London", "2026-10-24T23:45:00Z", 5),
            [
                "2026-10-25T00:00:00Z",
                "2026-10-25T00:30:00Z",
                "2026-10-25T01:00:00Z",
                "2026-10-25T01:30:00Z",
                "2026-10-25T02:00:00Z"
            ]
        );
        // A daily job outside the overlap is unaffected, on either side of it.
        assert_eq!(
            runs("0 9 * * *", "Europe/London", "2026-10-24T12:00:00Z", 2),
            ["2026-10-25T09:00:00Z", "2026-10-26T09:00:00Z"]
        );
    }

    #[test]
    fn new_york_spring_forward_and_fall_back() {
        // 2026-03-08: 02:00 EST becomes 03:00 EDT.
        assert_eq!(
            runs("30 2 * * *", "America/New_York", "2026-03-07T12:00:00Z", 3),
            [
                "2026-03-08T07:00:00Z",
                "2026-03-09T06:30:00Z",
                "2026-03-10T06:30:00Z"
            ]
        );
        // 2026-11-01: 02:00 EDT becomes 01:00 EST.
        assert_eq!(
            runs("30 1 * * *", "America/New_York", "2026-10-31T12:00:00Z", 2),
            ["2026-11-01T05:30:00Z", "2026-11-02T06:30:00Z"]
        );
        assert_eq!(
            runs("0 * * * *", "America/New_York", "2026-11-01T04:30:00Z", 3),
            [
                "2026-11-01T05:00:00Z",
                "2026-11-01T06:00:00Z",
                "2026-11-01T07:00:00Z"
            ]
        );
        // Weekdays at 09:00 across the change keep 09:00 local.
        assert_eq!(
            runs("0 9 * * 1-5", "America/New_York", "2026-03-06T15:00:00Z", 2),
            ["2026-03-09T13:00:00Z", "2026-03-10T13:00:00Z"]
        );
    }

    #[test]
    fn dubai_has_no_daylight_saving() {
        // The nights London and New York change clocks are ordinary nights in Dubai.
        for from in [
            "2026-03-28T12:00:00Z",
            "2026-10-24T12:00:00Z",
            "2026-11-01T00:00:00Z",
        ] {
            let got = runs("30 1 * * *", "Asia/Dubai", from, 3);
            let first: DateTime<Utc> = got[0].parse().unwrap();
            for (i, r) in got.iter().enumerate() {
                let r: DateTime<Utc> = r.parse().unwrap();
                assert_eq!(r - first, TimeDelta::days(i as i64), "{from}: {got:?}");
                assert_eq!(r.format("%H:%M").to_string(), "21:30");
            }
        }
        assert_eq!(
            runs("*/30 * * * *", "Asia/Dubai", "2026-03-29T00:45:00Z", 2),
            ["2026-03-29T01:00:00Z", "2026-03-29T01:30:00Z"]
        );
    }

    #[test]
    fn fixed_or_interval() {
        for (expr, fixed) in [
            ("0 9 * * *", true),
            ("0 8,17 * * *", true),
            ("0 9-17 * * 1-5", true),
            ("*/30 * * * *", false),
            ("0 * * * *", false),
            ("0 */2 * * *", false),
            ("5/15 9 * * *", false),
        ] {
            assert_eq!(is_fixed_time(&cron(expr)), fixed, "{expr}");
        }
    }

    #[test]
    fn a_time_that_never_comes_is_none() {
        assert_eq!(
            next_after(&cron("0 0 30 2 *"), Tz::UTC, t("2026-01-01T00:00:00Z")),
            None
        );
    }
}
