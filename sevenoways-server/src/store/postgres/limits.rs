//! Storage for the limits on Postgres: the rate window and the usage counters (see the
//! SQLite store's module of the same name).
//!
//! Every function that decides or counts runs in a transaction holding the account's lock
//! ([`lock_account`]): the group commit and the schedule runs take it before their first
//! read, so what is read here is what every replica has committed, and nothing changes it
//! until the decision is written back.

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use sqlx::PgConnection;

use super::queue::EnqueueJob;
use super::*;
use crate::limits;

/// One account's limits state inside a batch: read once, decided in memory job by job,
/// written back once (as on SQLite).
#[derive(Default)]
struct AccountLimits {
    /// Admission times in the last minute, loaded when a plan has a rate limit.
    window: Option<Vec<i64>>,
    /// Times admitted in this batch, to insert.
    admitted: Vec<i64>,
    /// Message counters by period, and whether this batch changed them.
    counters: HashMap<String, (u64, bool)>,
}

/// The rate limit, then the caps, for each job in arrival order (see [`crate::limits`]).
/// The caller holds the lock of every account with an admission.
pub(super) async fn admit_batch(
    conn: &mut PgConnection,
    jobs: &[&EnqueueJob],
) -> Result<Vec<Result<(), Refusal>>, sqlx::Error> {
    let mut accounts: HashMap<AccountId, AccountLimits> = HashMap::new();
    let mut verdicts = Vec::with_capacity(jobs.len());
    for job in jobs {
        let Some(admission) = &job.admission else {
            verdicts.push(Ok(()));
            continue;
        };
        let state = accounts.entry(admission.account_id).or_default();
        verdicts.push(admit_one(conn, state, admission, job.entries.len() as u64).await?);
    }
    for (account, state) in &accounts {
        if let Some(&latest) = state.admitted.iter().max() {
            sqlx::query("DELETE FROM rate_window WHERE account_id = $1 AND at <= $2")
                .bind(account)
                .bind(latest - limits::WINDOW_MS)
                .execute(&mut *conn)
                .await?;
            sqlx::query(
                "INSERT INTO rate_window (account_id, at) SELECT $1, at FROM unnest($2::BIGINT[]) AS t(at)",
            )
            .bind(account)
            .bind(&state.admitted)
            .execute(&mut *conn)
            .await?;
        }
        for (period, (count, changed)) in &state.counters {
            if *changed {
                sqlx::query(
                    "INSERT INTO usage_counters (account_id, period, count) VALUES ($1, $2, $3)
                     ON CONFLICT (account_id, period) DO UPDATE SET count = excluded.count",
                )
                .bind(account)
                .bind(period)
                .bind(*count as i64)
                .execute(&mut *conn)
                .await?;
            }
        }
    }
    Ok(verdicts)
}

async fn admit_one(
    conn: &mut PgConnection,
    state: &mut AccountLimits,
    admission: &Admission,
    messages: u64,
) -> Result<Result<(), Refusal>, sqlx::Error> {
    let account = admission.account_id;
    let now = millis(admission.now);
    let limit = admission.limits.requests_per_minute;
    if limit > 0 {
        if state.window.is_none() {
            state.window = Some(
                sqlx::query_scalar("SELECT at FROM rate_window WHERE account_id = $1 AND at > $2")
                    .bind(account)
                    .bind(now - limits::WINDOW_MS)
                    .fetch_all(&mut *conn)
                    .await?,
            );
        }
        let window = state.window.as_deref().unwrap_or_default();
        if let Err(retry_at) = limits::admit_request(window, now, limit) {
            return Ok(Err(Refusal::RateLimited {
                limit,
                retry_at: from_millis(retry_at),
            }));
        }
    }
    let periods = limits::periods(admission.now, admission.limits.timezone);
    let mut counts = [0u64; 2];
    for (i, period) in [&periods.day, &periods.month].into_iter().enumerate() {
        if !state.counters.contains_key(period.as_str()) {
            let n: Option<i64> = sqlx::query_scalar(
                "SELECT count FROM usage_counters WHERE account_id = $1 AND period = $2",
            )
            .bind(account)
            .bind(period)
            .fetch_optional(&mut *conn)
            .await?;
            state
                .counters
                .insert(period.clone(), (n.unwrap_or(0).max(0) as u64, false));
        }
        counts[i] = state.counters.get(period.as_str()).map_or(0, |c| c.0);
    }
    if let Err(refusal) =
        limits::check_caps(&admission.limits, &periods, counts[0], counts[1], messages)
    {
        return Ok(Err(refusal));
    }
    if limit > 0 {
        state.window.get_or_insert_with(Vec::new).push(now);
        state.admitted.push(now);
    }
    for period in [&periods.day, &periods.month] {
        if let Some(entry) = state.counters.get_mut(period.as_str()) {
            *entry = (entry.0 + messages, true);
        }
    }
    Ok(Ok(()))
}

/// The account's day and month message counts.
pub(super) async fn read_counters(
    conn: &mut PgConnection,
    account: AccountId,
    periods: &Periods,
) -> Result<(u64, u64), sqlx::Error> {
    let mut counts = [0u64; 2];
    for (i, period) in [&periods.day, &periods.month].into_iter().enumerate() {
        let n: Option<i64> = sqlx::query_scalar(
            "SELECT count FROM usage_counters WHERE account_id = $1 AND period = $2",
        )
        .bind(account)
        .bind(period)
        .fetch_optional(&mut *conn)
        .await?;
        counts[i] = n.unwrap_or(0).max(0) as u64;
    }
    Ok((counts[0], counts[1]))
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
    for period in [&periods.day, &periods.month] {
        sqlx::query(
            "INSERT INTO usage_counters (account_id, period, count) VALUES ($1, $2, $3)
             ON CONFLICT (account_id, period)
             DO UPDATE SET count = usage_counters.count + excluded.count",
        )
        .bind(account)
        .bind(period)
        .bind(messages as i64)
        .execute(&mut *conn)
        .await?;
    }
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
