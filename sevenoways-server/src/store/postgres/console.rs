//! The web console's rows on Postgres: sessions, failed sign-ins, and the queue page's
//! recent entries, as in the SQLite store's module of the same name.

use std::time::Duration;

use chrono::{DateTime, Utc};
use sevenoways_sdk::QueueId;
use sevenoways_sdk::models::queue::QueueEntry;
use sqlx::Row;
use sqlx::postgres::PgRow;

use super::*;

pub(super) async fn create_session(
    store: &PgStore,
    token_hash: &[u8; 32],
    account: AccountId,
    sealed_key: &[u8],
    now: DateTime<Utc>,
    expires_at: DateTime<Utc>,
    max_per_account: u32,
) -> StoreResult<()> {
    let now_ms = millis(now);
    let mut tx = store.pool.begin().await?;
    if max_per_account > 0 {
        // Sign-ins of one account on several replicas at once trim in turn, so the
        // account never keeps more than `max_per_account` (SQLite's one writer did this).
        lock_account(&mut tx, account).await?;
    }
    sqlx::query("DELETE FROM console_sessions WHERE expires_at <= $1")
        .bind(now_ms)
        .execute(&mut *tx)
        .await?;
    sqlx::query(
        "INSERT INTO console_sessions (token_hash, account_id, sealed_key, created_at, expires_at)
         VALUES ($1, $2, $3, $4, $5)",
    )
    .bind(&token_hash[..])
    .bind(account)
    .bind(sealed_key)
    .bind(now_ms)
    .bind(millis(expires_at))
    .execute(&mut *tx)
    .await?;
    if max_per_account > 0 {
        // The newest `max_per_account` stay (see the SQLite store's `create_session`).
        sqlx::query(
            "DELETE FROM console_sessions WHERE account_id = $1 AND token_hash NOT IN
             (SELECT token_hash FROM console_sessions WHERE account_id = $1
              ORDER BY created_at DESC, token_hash LIMIT $2)",
        )
        .bind(account)
        .bind(i64::from(max_per_account))
        .execute(&mut *tx)
        .await?;
    }
    tx.commit().await?;
    Ok(())
}

pub(super) async fn session(
    store: &PgStore,
    token_hash: &[u8; 32],
    now: DateTime<Utc>,
) -> StoreResult<Option<ConsoleSessionRow>> {
    let row = sqlx::query(
        "SELECT account_id, sealed_key, expires_at FROM console_sessions
         WHERE token_hash = $1 AND expires_at > $2",
    )
    .bind(&token_hash[..])
    .bind(millis(now))
    .fetch_optional(&store.pool)
    .await?;
    row.map(|row| {
        Ok(ConsoleSessionRow {
            account_id: row.try_get("account_id")?,
            sealed_key: row.try_get("sealed_key")?,
            expires_at: from_millis(row.try_get("expires_at")?),
        })
    })
    .transpose()
}

pub(super) async fn delete_session(store: &PgStore, token_hash: &[u8; 32]) -> StoreResult<()> {
    sqlx::query("DELETE FROM console_sessions WHERE token_hash = $1")
        .bind(&token_hash[..])
        .execute(&store.pool)
        .await?;
    Ok(())
}

pub(super) async fn sign_in_wait(
    store: &PgStore,
    client: &str,
    now: DateTime<Utc>,
    per_minute: u32,
) -> StoreResult<Option<Duration>> {
    if per_minute == 0 {
        return Ok(None);
    }
    let now_ms = millis(now);
    let recent: Vec<i64> = sqlx::query_scalar(
        "SELECT at FROM console_sign_in_failures WHERE client = $1 AND at > $2
         ORDER BY at DESC LIMIT $3",
    )
    .bind(client)
    .bind(now_ms - 60_000)
    .bind(i64::from(per_minute))
    .fetch_all(&store.pool)
    .await?;
    if recent.len() < per_minute as usize {
        return Ok(None);
    }
    // Checked again once the oldest of the last `per_minute` failures leaves the minute.
    let oldest = recent.last().copied().unwrap_or(now_ms);
    Ok(Some(Duration::from_millis(
        (oldest + 60_000 - now_ms).max(1) as u64,
    )))
}

pub(super) async fn record_sign_in_failure(
    store: &PgStore,
    client: &str,
    now: DateTime<Utc>,
) -> StoreResult<()> {
    let now_ms = millis(now);
    let mut tx = store.pool.begin().await?;
    sqlx::query("INSERT INTO console_sign_in_failures (client, at) VALUES ($1, $2)")
        .bind(client)
        .bind(now_ms)
        .execute(&mut *tx)
        .await?;
    // At most a minute of rows, whoever left them.
    sqlx::query("DELETE FROM console_sign_in_failures WHERE at <= $1")
        .bind(now_ms - 60_000)
        .execute(&mut *tx)
        .await?;
    tx.commit().await?;
    Ok(())
}

pub(super) async fn recent_entries(
    store: &PgStore,
    account: AccountId,
    filter: &QueueFilter,
    limit: u32,
) -> StoreResult<Vec<QueueEntry>> {
    let before = filter
        .before
        .and_then(|QueueId(id)| i64::try_from(id).ok())
        .unwrap_or(i64::MAX);
    // The inner query walks `queue_by_account` backwards and stops after QUEUE_SCAN rows,
    // so a filter that matches nothing costs a bounded read, not the account's history.
    let rows = sqlx::query(
        "SELECT * FROM (SELECT * FROM queue WHERE account_id = $1 AND id < $2
                        ORDER BY id DESC LIMIT $3) AS scanned
         WHERE ($4::TEXT IS NULL OR instance_id = $4) AND ($5::TEXT IS NULL OR status = $5)
         ORDER BY id DESC LIMIT $6",
    )
    .bind(account)
    .bind(before)
    .bind(i64::from(QUEUE_SCAN))
    .bind(filter.instance.as_ref().map(|i| i.as_str()))
    .bind(filter.status.map(|s| s.as_str()))
    .bind(i64::from(limit))
    .fetch_all(&store.pool)
    .await?;
    rows.iter().map(entry_row).collect()
}

/// A `queue` row as the API shows it (the same reading as the queue module's).
fn entry_row(row: &PgRow) -> StoreResult<QueueEntry> {
    let attempts: i64 = row.try_get("attempts")?;
    Ok(QueueEntry {
        queue_id: QueueId(row.try_get::<i64, _>("id")? as u64),
        instance_id: instance_id(row.try_get("instance_id")?)?,
        to: row.try_get("recipient")?,
        status: queue_status(row.try_get::<&str, _>("status")?),
        attempts: u32::try_from(attempts).map_err(|e| corrupt("queue attempts", e))?,
        error: row.try_get("error")?,
        content: content(row.try_get::<&str, _>("content")?)?,
        created_at: from_millis(row.try_get("created_at")?),
        updated_at: from_millis(row.try_get("updated_at")?),
        sent_at: opt_time(row.try_get("sent_at")?),
        delivered_at: opt_time(row.try_get("delivered_at")?),
        read_at: opt_time(row.try_get("read_at")?),
    })
}

#[cfg(test)]
mod tests {
    use super::super::ops::testing;
    use super::*;
    use sevenoways_sdk::InstanceId;
    use sevenoways_sdk::models::queue::QueueStatus;

    #[tokio::test]
    async fn racing_sign_ins_keep_at_most_the_newest_sessions() {
        let Some((db, store)) = testing::store().await else {
            return;
        };
        let other = db.replica().await;
        let (account, _) = testing::account(&store).await;
        let now = Utc::now();
        let mut sign_ins = tokio::task::JoinSet::new();
        for n in 0..10u8 {
            let replica = if n % 2 == 0 { &store } else { &other }.clone();
            sign_ins.spawn(async move {
                let mut token = [n; 32];
                token[..8].copy_from_slice(&account.0.to_be_bytes());
                let at = now + chrono::Duration::milliseconds(i64::from(n));
                replica
                    .create_console_session(
                        &token,
                        account,
                        b"sealed",
                        at,
                        at + chrono::Duration::hours(1),
                        3,
                    )
                    .await
                    .map(|()| token)
            });
        }
        let tokens: Vec<[u8; 32]> = sign_ins
            .join_all()
            .await
            .into_iter()
            .map(|t| t.expect("signed in"))
            .collect();
        let mut live = 0;
        for token in &tokens {
            if let Some(row) = store.console_session(token, now).await.expect("read") {
                assert_eq!(row.account_id, account);
                assert_eq!(row.sealed_key, b"sealed");
                live += 1;
            }
        }
        assert_eq!(live, 3);
        let token = tokens
            .iter()
            .find(|t| t[8] == 9)
            .expect("the last sign-in's token");
        assert!(
            store
                .console_session(token, now)
                .await
                .expect("read")
                .is_some()
        );
        assert!(
            store
                .console_session(token, now + chrono::Duration::hours(2))
                .await
                .expect("read")
                .is_none(),
            "an expired session is no session"
        );
        store
            .delete_console_session(token)
            .await
            .expect("signed out");
        assert!(
            store
                .console_session(token, now)
                .await
                .expect("read")
                .is_none()
        );
    }

    #[tokio::test]
    async fn failed_sign_ins_past_the_limit_wait_for_the_oldest_to_leave_the_minute() {
        let Some((_db, store)) = testing::store().await else {
            return;
        };
        let client = format!("203.0.113.{}", crate::ids::random_hex(4));
        let now = Utc::now();
        for s in 0..3 {
            store
                .record_console_sign_in_failure(&client, now + chrono::Duration::seconds(s))
                .await
                .expect("recorded");
        }
        let later = now + chrono::Duration::seconds(10);
        assert_eq!(
            store
                .console_sign_in_wait(&client, later, 4)
                .await
                .expect("wait"),
            None
        );
        assert_eq!(
            store
                .console_sign_in_wait(&client, later, 3)
                .await
                .expect("wait"),
            Some(Duration::from_secs(50))
        );
        assert_eq!(
            store
                .console_sign_in_wait(&client, later, 0)
                .await
                .expect("wait"),
            None
        );
    }

    #[tokio::test]
    async fn recent_entries_filter_by_instance_and_status_newest_first() {
        let Some((_db, store)) = testing::store().await else {
            return;
        };
        let (account, _) = testing::account(&store).await;
        let now = millis(Utc::now());
        for (instance, status) in [
            ("n1", "queued"),
            ("n2", "sent"),
            ("n1", "sent"),
            ("n1", "failed"),
        ] {
            sqlx::query(
                "INSERT INTO queue (account_id, instance_id, recipient, recipient_kind, content,
                                    status, next_attempt_at, created_at, updated_at)
                 VALUES ($1, $2, '+15550002', 'phone', '{\"kind\":\"text\",\"message\":\"hi\"}',
                         $3, $4, $4, $4)",
            )
            .bind(account)
            .bind(instance)
            .bind(status)
            .bind(now)
            .execute(&store.pool)
            .await
            .expect("inserted");
        }
        let all = store
            .recent_queue_entries(account, &QueueFilter::default(), 10)
            .await
            .expect("entries");
        assert_eq!(all.len(), 4);
        assert!(all.windows(2).all(|w| w[0].queue_id.0 > w[1].queue_id.0));
        let n1 = InstanceId::new("n1").expect("an id");
        let n1_sent = store
            .recent_queue_entries(
                account,
                &QueueFilter {
                    instance: Some(n1.clone()),
                    status: Some(QueueStatus::Sent),
                    before: None,
                },
                10,
            )
            .await
            .expect("entries");
        assert_eq!(n1_sent.len(), 1);
        assert_eq!(n1_sent[0].instance_id, n1);
        assert_eq!(n1_sent[0].status, QueueStatus::Sent);
        let older = store
            .recent_queue_entries(
                account,
                &QueueFilter {
                    before: Some(all[1].queue_id),
                    ..QueueFilter::default()
                },
                1,
            )
            .await
            .expect("entries");
        assert_eq!(
            older.iter().map(|e| e.queue_id).collect::<Vec<_>>(),
            [all[2].queue_id]
        );
    }
}
