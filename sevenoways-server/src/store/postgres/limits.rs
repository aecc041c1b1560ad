//! Storage for the limits on Postgres: the rate window and the usage counters (see the
//! SQLite store's module of the same name).
//!
//! Every function that decides or counts runs in a transaction holding the account's lock
//! ([`lock_account`]): the group commit and the schedule runs take it before their first
//! read, so what is read here is what every replica has committed, and nothing changes it
//! until the decision is written back.

use chrono::{DateTime, Utc};
use sqlx::PgConnection;

use super::queue::EnqueueJob;
use super::*;
use crate::limits;
use crate::store::admit::{self, Admit, Writes};

/// The rate limit, then the caps, for each job in arrival order: read, decided and
/// written back for the whole batch at once (see [`admit`](crate::store::admit)). The
/// caller holds the lock of every account with an admission.
pub(super) async fn admit_batch(
    conn: &mut PgConnection,
    jobs: &[&EnqueueJob],
) -> Result<Vec<Result<(), Refusal>>, sqlx::Error> {
    let admit = Admit::new(jobs.iter().map(|job| {
        job.admission
            .as_ref()
            .map(|a| (a, job.entries.len() as u64))
    }));
    let windows = if admit.windows.is_empty() {
        Vec::new()
    } else {
        let accounts: Vec<i64> = admit.windows.iter().map(|a| a.0).collect();
        sqlx::query_as(
            "SELECT account_id, at FROM rate_window WHERE account_id = ANY($1) AND at > $2",
        )
        .bind(&accounts)
        .bind(admit.since)
        .fetch_all(&mut *conn)
        .await?
    };
    let counters = read_counter_rows(conn, &admit.counters).await?;
    let (verdicts, writes) = admit.decide(windows, counters);
    write_back(conn, &writes).await?;
    Ok(verdicts)
}

/// The counts of `keys` (account, period) that exist, in one statement.
async fn read_counter_rows(
    conn: &mut PgConnection,
    keys: &[(AccountId, String)],
) -> Result<Vec<(AccountId, String, i64)>, sqlx::Error> {
    if keys.is_empty() {
        return Ok(Vec::new());
    }
    let (accounts, periods): (Vec<i64>, Vec<&str>) =
        keys.iter().map(|(a, p)| (a.0, p.as_str())).unzip();
    sqlx::query_as(
        "SELECT u.account_id, u.period, u.count
         FROM unnest($1::BIGINT[], $2::TEXT[]) AS k(account_id, period)
         JOIN usage_counters AS u USING (account_id, period)",
    )
    .bind(&accounts)
    .bind(&periods)
    .fetch_all(&mut *conn)
    .await
}

async fn write_back(conn: &mut PgConnection, writes: &Writes) -> Result<(), sqlx::Error> {
    if !writes.expired.is_empty() {
        let (accounts, before): (Vec<i64>, Vec<i64>) =
            writes.expired.iter().map(|(a, at)| (a.0, *at)).unzip();
        sqlx::query(
            "DELETE FROM rate_window AS r USING unnest($1::BIGINT[], $2::BIGINT[]) AS k(a, upto)
             WHERE r.account_id = k.a AND r.at <= k.upto",
        )
        .bind(&accounts)
        .bind(&before)
        .execute(&mut *conn)
        .await?;
    }
    if !writes.admitted.is_empty() {
        let (accounts, at): (Vec<i64>, Vec<i64>) =
            writes.admitted.iter().map(|(a, at)| (a.0, *at)).unzip();
        sqlx::query(
            "INSERT INTO rate_window (account_id, at)
             SELECT * FROM unnest($1::BIGINT[], $2::BIGINT[])",
        )
        .bind(&accounts)
        .bind(&at)
        .execute(&mut *conn)
        .await?;
    }
    if !writes.counters.is_empty() {
        let mut accounts = Vec::with_capacity(writes.counters.len());
        let mut periods = Vec::with_capacity(writes.counters.len());
        let mut counts = Vec::with_capacity(writes.counters.len());
        for (account, period, count) in &writes.counters {
            accounts.push(account.0);
            periods.push(period.as_str());
            counts.push(*count);
        }
        // Each (account, period) once: `decide` keys its counters by them.
        sqlx::query(
            "INSERT INTO usage_counters (account_id, period, count)
             SELECT * FROM unnest($1::BIGINT[], $2::TEXT[], $3::BIGINT[])
             ON CONFLICT (account_id, period) DO UPDATE SET count = usage_counters.count + excluded.count",
        )
        .bind(&accounts)
        .bind(&periods)
        .bind(&counts)
        .execute(&mut *conn)
        .await?;
    }
    Ok(())
}

/// The account's day and month message counts.
pub(super) async fn read_counters(
    conn: &mut PgConnection,
    account: AccountId,
    periods: &Periods,
) -> Result<(u64, u64), sqlx::Error> {
    let rows = read_counter_rows(conn, &admit::counter_keys(account, periods)).await?;
    Ok(admit::day_and_month(&rows, periods))
}

/// Adds `messages` to the account's day and month counts.
pub(super) async fn count_messages(
    conn: &mut PgConnection,
    account: AccountId,
    periods: &Periods,
    messages: u64,
) -> Result<(), sqlx::Error> {
    if messages == 0 {
        return Ok(());
    }
    // The day and the month in one statement: two different keys, so no row is hit twice.
    sqlx::query(
        "INSERT INTO usage_counters (account_id, period, count) VALUES ($1, $2, $4), ($1, $3, $4)
         ON CONFLICT (account_id, period)
         DO UPDATE SET count = usage_counters.count + excluded.count",
    )
    .bind(account)
    .bind(&periods.day)
    .bind(&periods.month)
    .bind(messages as i64)
    .execute(&mut *conn)
    .await?;
    Ok(())
}

/// What the account has used: its rate window and its day and month counts. Read without
/// the lock: a snapshot for people (`GET /usage`), not a decision.
pub(super) async fn usage(
    store: &PgStore,
    account: AccountId,
    periods: &Periods,
    now: DateTime<Utc>,
) -> StoreResult<UsageSnapshot> {
    let mut conn = store.pool.acquire().await?;
    let window: Vec<i64> =
        sqlx::query_scalar("SELECT at FROM rate_window WHERE account_id = $1 AND at > $2")
            .bind(account)
            .bind(millis(now) - limits::WINDOW_MS)
            .fetch_all(&mut *conn)
            .await?;
    let (day, month) = read_counters(&mut conn, account, periods).await?;
    Ok(UsageSnapshot { window, day, month })
}
