//! Storage for the limits: the rate window and the usage counters.

use chrono::{DateTime, Utc};
use sqlx::SqliteConnection;

use super::queue::EnqueueJob;
use super::*;
use crate::limits;
use crate::store::admit::{self, Admit, Writes};

/// The rate limit, then the caps, for each job in arrival order: read, decided and
/// written back for the whole batch at once (see [`admit`](crate::store::admit)).
pub(super) async fn admit_batch(
    conn: &mut SqliteConnection,
    jobs: &[&EnqueueJob],
) -> Result<Vec<Result<(), Refusal>>, sqlx::Error> {
    let admit = Admit::new(jobs.iter().map(|job| {
        job.admission
            .as_ref()
            .map(|a| (a, job.entries.len() as u64))
    }));
    let windows = read_windows(conn, &admit.windows, admit.since).await?;
    let counters = read_counter_rows(conn, &admit.counters).await?;
    let (verdicts, writes) = admit.decide(windows, counters);
    write_back(conn, &writes).await?;
    Ok(verdicts)
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

async fn read_windows(
    conn: &mut SqliteConnection,
    accounts: &[AccountId],
    since: i64,
) -> Result<Vec<(AccountId, i64)>, sqlx::Error> {
    let mut rows = Vec::new();
    for chunk in accounts.chunks(MAX_PARAMS) {
        let sql = format!(
            "SELECT account_id, at FROM rate_window WHERE at > ? AND account_id IN ({})",
            vec!["?"; chunk.len()].join(", ")
        );
        let mut query = sqlx::query_as::<_, (AccountId, i64)>(&sql).bind(since);
        for account in chunk {
            query = query.bind(account);
        }
        rows.extend(query.fetch_all(&mut *conn).await?);
    }
    Ok(rows)
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

async fn write_back(conn: &mut SqliteConnection, writes: &Writes) -> Result<(), sqlx::Error> {
    for chunk in writes.expired.chunks(MAX_OR_TERMS) {
        // One indexed range per account (SQLite's OR optimisation).
        let sql = format!(
            "DELETE FROM rate_window WHERE {}",
            vec!["(account_id = ? AND at <= ?)"; chunk.len()].join(" OR ")
        );
        let mut query = sqlx::query(&sql);
        for (account, before) in chunk {
            query = query.bind(account).bind(before);
        }
        query.execute(&mut *conn).await?;
    }
    for chunk in writes.admitted.chunks(MAX_PARAMS / 2) {
        let sql = format!(
            "INSERT INTO rate_window (account_id, at) VALUES {}",
            tuples(chunk.len(), 2)
        );
        let mut query = sqlx::query(&sql);
        for (account, at) in chunk {
            query = query.bind(account).bind(at);
        }
        query.execute(&mut *conn).await?;
    }
    for chunk in writes.counters.chunks(MAX_PARAMS / 3) {
        let sql = format!(
            "INSERT INTO usage_counters (account_id, period, count) VALUES {}
             ON CONFLICT (account_id, period) DO UPDATE SET count = excluded.count",
            tuples(chunk.len(), 3)
        );
        let mut query = sqlx::query(&sql);
        for (account, period, count) in chunk {
            query = query.bind(account).bind(period).bind(count);
        }
        query.execute(&mut *conn).await?;
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
    use sqlx::Connection;

    use super::*;

    /// A batch of many tenants at once: more accounts than one statement's `OR` chain or
    /// parameter list may hold, each with a window row to expire, a row to add and a
    /// counter to write.
    #[tokio::test]
    async fn a_batch_of_thousands_of_accounts_is_written_back_and_read_again() {
        let mut conn = SqliteConnection::connect("sqlite::memory:").await.unwrap();
        MIGRATOR.run(&mut conn).await.unwrap();
        let accounts: Vec<AccountId> = (1..=2_100).map(AccountId).collect();
        for account in &accounts {
            sqlx::query("INSERT INTO rate_window (account_id, at) VALUES (?, 1000)")
                .bind(account)
                .execute(&mut conn)
                .await
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
        write_back(&mut conn, &writes).await.unwrap();
        let windows = read_windows(&mut conn, &accounts, 0).await.unwrap();
        assert_eq!(
            windows.len(),
            accounts.len(),
            "one row each: the old one expired"
        );
        assert!(windows.iter().all(|&(_, at)| at == 70_000));
        let keys: Vec<_> = accounts
            .iter()
            .map(|&a| (a, "d2026-12-02".to_owned()))
            .collect();
        let counters = read_counter_rows(&mut conn, &keys).await.unwrap();
        assert_eq!(counters.len(), accounts.len());
        assert!(counters.iter().all(|c| c.2 == 3));
    }
}
