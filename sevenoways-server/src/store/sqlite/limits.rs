//! Storage for the limits: the rate window and the usage counters.

use std::collections::HashSet;

use chrono::{DateTime, Utc};
use sevenoways_sdk::InstanceId;
use sqlx::SqliteConnection;

use super::commit::{Failure, Params};
use super::queue::EnqueueJob;
use super::*;
use crate::limits;
use crate::store::admit::{self, Admit, Writes};
use crate::store::batch;

/// For each job in arrival order: its instances' presence, then the rate limit, then the
/// caps; read, decided and written back for the whole batch at once (see
/// [`admit`](crate::store::admit)). A job sending from an instance that is gone is
/// answered [`Refusal::InstanceNotFound`](crate::limits::Refusal) and counts nothing.
///
/// Everything the decision needs (the instances, the rate windows, the counters) is
/// read in one statement ([`read_state`]). (This was a hop to sqlx's connection thread
/// per statement when the group commit ran on sqlx; on its own thread a statement costs
/// only SQLite's work, but one still costs less than three.)
pub(super) fn admit_batch(
    conn: &rusqlite::Connection,
    jobs: &[&EnqueueJob],
) -> Result<Vec<Result<(), limits::Refusal>>, Failure> {
    fn checked<'a>(job: &&'a EnqueueJob) -> Option<(&'a limits::Admission, u64)> {
        job.admission
            .as_ref()
            .map(|a| (a, job.entries.len() as u64))
    }
    let pairs: Vec<_> =
        batch::sending_instances(jobs.iter().map(|j| (j.admission.as_ref(), &j.entries[..])))
            .into_iter()
            .collect();
    // What every job would need; a job whose instance is gone is then left out of the
    // decision, and what was read for it alone is ignored.
    let wanted = Admit::new(jobs.iter().map(checked));
    let state = read_state(conn, &pairs, &wanted)?;
    let missing = pairs
        .into_iter()
        .filter(|(account, instance)| {
            !state
                .found
                .contains(&(*account, instance.as_str().to_owned()))
        })
        .collect();
    let present: Vec<bool> = jobs
        .iter()
        .map(|job| batch::all_present(job.admission.as_ref(), &job.entries, &missing))
        .collect();
    let admit = Admit::new(
        jobs.iter()
            .zip(&present)
            .filter(|(_, present)| **present)
            .map(|(job, _)| checked(job)),
    );
    let (verdicts, writes) = admit.decide(state.windows, state.counters);
    write_back(conn, &writes)?;
    batch::verdicts(&present, verdicts).map_err(Failure::broken)
}

/// What a batch's admission reads.
#[derive(Default)]
struct State {
    /// The `(account, instance)` pairs asked about that exist.
    found: HashSet<(AccountId, String)>,
    /// `(account, at)` of the rate windows.
    windows: Vec<(AccountId, i64)>,
    /// `(account, period, count)` of the counters that exist.
    counters: Vec<(AccountId, String, i64)>,
}

/// Rows of each kind per statement: 500 × 2 parameters at most for each of the three
/// parts keeps a statement near [`MAX_PARAMS`]. A batch needing more (more than 500
/// distinct numbers, accounts or counters) takes one statement per 500.
const ROWS_PER_PART: usize = 500;

/// The instances of `pairs` that exist, the rate windows and the counters `admit` asks
/// for, in one `UNION ALL` statement per [`ROWS_PER_PART`] of each; each row says which
/// part it answers in its first column. Each part is a lookup in a primary key or index
/// per key, driven by the keys (as `VALUES`).
fn read_state(
    conn: &rusqlite::Connection,
    pairs: &[(AccountId, &InstanceId)],
    admit: &Admit<'_>,
) -> rusqlite::Result<State> {
    let mut state = State::default();
    let statements = [pairs.len(), admit.windows.len(), admit.counters.len()]
        .into_iter()
        .map(|n| n.div_ceil(ROWS_PER_PART))
        .max()
        .unwrap_or(0);
    for i in 0..statements {
        let part = |len: usize| (i * ROWS_PER_PART).min(len)..((i + 1) * ROWS_PER_PART).min(len);
        let pairs = &pairs[part(pairs.len())];
        let windows = &admit.windows[part(admit.windows.len())];
        let counters = &admit.counters[part(admit.counters.len())];
        let mut parts = Vec::with_capacity(3);
        if !pairs.is_empty() {
            parts.push(format!(
                "SELECT 0, i.account_id, i.instance_id, NULL FROM (VALUES {}) AS k
                 JOIN instances AS i ON i.account_id = k.column1 AND i.instance_id = k.column2",
                tuples(pairs.len(), 2)
            ));
        }
        if !windows.is_empty() {
            parts.push(format!(
                "SELECT 1, account_id, at, NULL FROM rate_window
                 WHERE at > ? AND account_id IN ({})",
                vec!["?"; windows.len()].join(", ")
            ));
        }
        if !counters.is_empty() {
            parts.push(format!(
                "SELECT 2, u.account_id, u.period, u.count FROM (VALUES {}) AS k
                 JOIN usage_counters AS u ON u.account_id = k.column1 AND u.period = k.column2",
                tuples(counters.len(), 2)
            ));
        }
        if parts.is_empty() {
            continue;
        }
        let mut stmt = conn.prepare_cached(&parts.join(" UNION ALL "))?;
        let mut params = Params::new(&mut stmt);
        for (account, instance) in pairs {
            params.bind(*account)?.bind(instance.as_str())?;
        }
        if !windows.is_empty() {
            params.bind(admit.since)?;
            for account in windows {
                params.bind(*account)?;
            }
        }
        for (account, period) in counters {
            params.bind(*account)?.bind(period)?;
        }
        let mut rows = stmt.raw_query();
        while let Some(row) = rows.next()? {
            let account: AccountId = row.get(1)?;
            match row.get::<_, i64>(0)? {
                0 => {
                    state.found.insert((account, row.get(2)?));
                }
                1 => state.windows.push((account, row.get(2)?)),
                _ => state.counters.push((account, row.get(2)?, row.get(3)?)),
            }
        }
    }
    Ok(state)
}

/// Parameters per statement: well under SQLite's 32,766.
const MAX_PARAMS: usize = 3_000;

/// Accounts per rate-window DELETE: its `OR` of one term per account is a chain as deep as
/// its terms, and SQLite refuses expressions deeper than 1,000 ("Expression tree is too
/// large"), which would fail the whole batch.
const MAX_OR_TERMS: usize = 250;

/// `(?, ?), (?, ?), …`: `rows` tuples of `width` placeholders.
fn tuples(rows: usize, width: usize) -> String {
    let tuple = format!("({})", vec!["?"; width].join(", "));
    vec![tuple; rows].join(", ")
}

/// The counts of `keys` (account, period) that exist, in one statement per chunk.
async fn read_counter_rows(
    conn: &mut SqliteConnection,
    keys: &[(AccountId, String)],
) -> Result<Vec<(AccountId, String, i64)>, sqlx::Error> {
    let mut rows = Vec::new();
    for chunk in keys.chunks(MAX_PARAMS / 2) {
        // The keys drive the join, each one a lookup in the primary key.
        let sql = format!(
            "SELECT u.account_id, u.period, u.count FROM (VALUES {}) AS k
             JOIN usage_counters AS u ON u.account_id = k.column1 AND u.period = k.column2",
            tuples(chunk.len(), 2)
        );
        let mut query = sqlx::query_as(&sql);
        for (account, period) in chunk {
            query = query.bind(account).bind(period);
        }
        rows.extend(query.fetch_all(&mut *conn).await?);
    }
    Ok(rows)
}

fn write_back(conn: &rusqlite::Connection, writes: &Writes) -> rusqlite::Result<()> {
    for chunk in writes.expired.chunks(MAX_OR_TERMS) {
        // One indexed range per account (SQLite's OR optimisation).
        let sql = format!(
            "DELETE FROM rate_window WHERE {}",
            vec!["(account_id = ? AND at <= ?)"; chunk.len()].join(" OR ")
        );
        let mut stmt = conn.prepare_cached(&sql)?;
        let mut params = Params::new(&mut stmt);
        for (account, before) in chunk {
            params.bind(account)?.bind(before)?;
        }
        stmt.raw_execute()?;
    }
    for chunk in writes.admitted.chunks(MAX_PARAMS / 2) {
        let sql = format!(
            "INSERT INTO rate_window (account_id, at) VALUES {}",
            tuples(chunk.len(), 2)
        );
        let mut stmt = conn.prepare_cached(&sql)?;
        let mut params = Params::new(&mut stmt);
        for (account, at) in chunk {
            params.bind(account)?.bind(at)?;
        }
        stmt.raw_execute()?;
    }
    for chunk in writes.counters.chunks(MAX_PARAMS / 3) {
        let sql = format!(
            "INSERT INTO usage_counters (account_id, period, count) VALUES {}
             ON CONFLICT (account_id, period) DO UPDATE SET count = count + excluded.count",
            tuples(chunk.len(), 3)
        );
        let mut stmt = conn.prepare_cached(&sql)?;
        let mut params = Params::new(&mut stmt);
        for (account, period, count) in chunk {
            params.bind(account)?.bind(period)?.bind(count)?;
        }
        stmt.raw_execute()?;
    }
    Ok(())
}

/// The account's day and month message counts.
pub(super) async fn read_counters(
    conn: &mut SqliteConnection,
    account: AccountId,
    periods: &Periods,
) -> Result<(u64, u64), sqlx::Error> {
    let rows = read_counter_rows(conn, &admit::counter_keys(account, periods)).await?;
    Ok(admit::day_and_month(&rows, periods))
}

pub(super) async fn count_messages(
    conn: &mut SqliteConnection,
    account: AccountId,
    periods: &Periods,
    messages: u64,
) -> Result<(), sqlx::Error> {
    if messages == 0 {
        return Ok(());
    }
    // The day and the month in one statement: two different keys, so no row is hit twice.
    sqlx::query(
        "INSERT INTO usage_counters (account_id, period, count) VALUES (?1, ?2, ?4), (?1, ?3, ?4)
         ON CONFLICT (account_id, period) DO UPDATE SET count = count + excluded.count",
    )
    .bind(account)
    .bind(&periods.day)
    .bind(&periods.month)
    .bind(messages as i64)
    .execute(&mut *conn)
    .await?;
    Ok(())
}

pub(super) async fn usage(
    store: &SqliteStore,
    account: AccountId,
    periods: &Periods,
    now: DateTime<Utc>,
) -> StoreResult<UsageSnapshot> {
    let mut conn = store.read.acquire().await?;
    let window: Vec<i64> =
        sqlx::query_scalar("SELECT at FROM rate_window WHERE account_id = ? AND at > ?")
            .bind(account)
            .bind(millis(now) - limits::WINDOW_MS)
            .fetch_all(&mut *conn)
            .await?;
    let (day, month) = read_counters(&mut conn, account, periods).await?;
    Ok(UsageSnapshot { window, day, month })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A batch of many tenants at once: more accounts than one statement's `OR` chain or
    /// parameter list may hold, each with a window row to expire, a row to add and a
    /// counter to write.
    #[tokio::test]
    async fn a_batch_of_thousands_of_accounts_is_written_back_and_read_again() {
        let dir = tempfile::tempdir().unwrap();
        // Made and migrated by the store, then written as its group commit writes.
        SqliteStore::open(dir.path()).await.unwrap();
        let conn = super::super::commit::open(&dir.path().join(DB_FILE)).unwrap();
        let accounts: Vec<AccountId> = (1..=2_100).map(AccountId).collect();
        for account in &accounts {
            conn.execute(
                "INSERT INTO rate_window (account_id, at) VALUES (?, 1000)",
                [account],
            )
            .unwrap();
        }
        let writes = Writes {
            admitted: accounts.iter().map(|&a| (a, 70_000)).collect(),
            expired: accounts.iter().map(|&a| (a, 10_000)).collect(),
            counters: accounts
                .iter()
                .map(|&a| (a, "d2026-12-02".into(), 3))
                .collect(),
        };
        write_back(&conn, &writes).unwrap();
        // Read back as a batch's admission reads: more accounts, counters and numbers
        // than one statement holds.
        let admissions: Vec<limits::Admission> = accounts
            .iter()
            .map(|&account_id| limits::Admission {
                account_id,
                limits: limits::PlanLimits::builtin_default(),
                now: "2026-12-02T10:00:00Z".parse().unwrap(),
            })
            .collect();
        let mut admit = Admit::new(admissions.iter().map(|a| Some((a, 1))));
        admit.since = 0;
        let numbers: Vec<InstanceId> = (0..600)
            .map(|i| InstanceId::new(format!("n{i}")).unwrap())
            .collect();
        let pairs: Vec<_> = numbers.iter().map(|n| (AccountId(1), n)).collect();
        let state = read_state(&conn, &pairs, &admit).unwrap();
        assert!(state.found.is_empty(), "no instance rows were made");
        let windows = state.windows;
        assert_eq!(
            windows.len(),
            accounts.len(),
            "one row each: the old one expired"
        );
        assert!(windows.iter().all(|&(_, at)| at == 70_000));
        // The day's counters were written; the months' were not, and read as absent.
        let counters = state.counters;
        assert_eq!(counters.len(), accounts.len());
        assert!(counters.iter().all(|c| c.1 == "d2026-12-02"));
        assert!(counters.iter().all(|c| c.2 == 3));
    }
}
