//! API keys on Postgres: creation with the account, lookup, rotation and revocation, as
//! in the SQLite store's module of the same name (read it for the why of each step).
//!
//! SQLite's `BEGIN IMMEDIATE` made a rotation or revocation one step for every other
//! writer. Here the account's row lock (`SELECT … FOR UPDATE`, or the revoking `UPDATE`)
//! serialises the two with each other, and revocation also takes the account's advisory
//! lock, so a send batch on another replica either commits before it (and its entries are
//! failed with the reason) or sees the account's keys gone.

use chrono::{DateTime, Utc};
use sqlx::{PgConnection, Row};

use super::*;

pub(super) async fn create_account(
    store: &PgStore,
    name: &str,
    plan: &str,
    key_hash: &[u8; 32],
) -> StoreResult<AccountId> {
    let now = millis(Utc::now());
    let mut tx = store.pool.begin().await?;
    let id: AccountId = sqlx::query_scalar(
        "INSERT INTO accounts (name, plan, key_hash, created_at) VALUES ($1, $2, $3, $4)
         RETURNING id",
    )
    .bind(name)
    .bind(plan)
    .bind(&key_hash[..])
    .bind(now)
    .fetch_one(&mut *tx)
    .await?;
    insert_key(&mut tx, id, key_hash, now).await?;
    tx.commit().await?;
    Ok(id)
}

/// The first account, only while there is none. `NOT EXISTS` alone would let two
/// replicas starting on an empty database both insert (each reads before the other
/// commits); the table lock makes the check and the insert one step. It is taken only
/// while the table looks empty, so at most on the first starts.
pub(super) async fn create_first_account(
    store: &PgStore,
    name: &str,
    plan: &str,
    key_hash: &[u8; 32],
) -> StoreResult<Option<AccountId>> {
    // Every start of every replica asks; once there is an account, no lock is needed.
    let any: bool = sqlx::query_scalar("SELECT EXISTS(SELECT 1 FROM accounts)")
        .fetch_one(&store.pool)
        .await?;
    if any {
        return Ok(None);
    }
    let now = millis(Utc::now());
    let mut tx = store.pool.begin().await?;
    // SHARE ROW EXCLUSIVE conflicts with itself and with every insert, not with reads.
    sqlx::query("LOCK TABLE accounts IN SHARE ROW EXCLUSIVE MODE")
        .execute(&mut *tx)
        .await?;
    let id: Option<AccountId> = sqlx::query_scalar(
        "INSERT INTO accounts (name, plan, key_hash, created_at)
         SELECT $1, $2, $3, $4 WHERE NOT EXISTS (SELECT 1 FROM accounts)
         RETURNING id",
    )
    .bind(name)
    .bind(plan)
    .bind(&key_hash[..])
    .bind(now)
    .fetch_optional(&mut *tx)
    .await?;
    if let Some(id) = id {
        insert_key(&mut tx, id, key_hash, now).await?;
    }
    tx.commit().await?;
    Ok(id)
}

async fn insert_key(
    conn: &mut PgConnection,
    account: AccountId,
    key_hash: &[u8; 32],
    now: i64,
) -> Result<(), sqlx::Error> {
    sqlx::query("INSERT INTO api_keys (account_id, key_hash, created_at) VALUES ($1, $2, $3)")
        .bind(account)
        .bind(&key_hash[..])
        .bind(now)
        .execute(&mut *conn)
        .await?;
    Ok(())
}

async fn bump_generation(conn: &mut PgConnection) -> Result<(), sqlx::Error> {
    sqlx::query("UPDATE key_generation SET generation = generation + 1 WHERE id = 1")
        .execute(&mut *conn)
        .await?;
    Ok(())
}

pub(super) async fn key_generation(store: &PgStore) -> StoreResult<i64> {
    Ok(
        sqlx::query_scalar("SELECT generation FROM key_generation WHERE id = 1")
            .fetch_one(&store.pool)
            .await?,
    )
}

pub(super) async fn key_lookup(
    store: &PgStore,
    key_hash: &[u8; 32],
    now: DateTime<Utc>,
) -> StoreResult<KeyLookup> {
    let row = sqlx::query(
        "SELECT k.id, k.key_hash, k.expires_at, k.revoked_at AS key_revoked_at, k.last_used_at,
                a.id AS account_id, a.name, a.plan, a.revoked_at AS account_revoked_at
         FROM api_keys k JOIN accounts a ON a.id = k.account_id
         WHERE k.key_hash = $1",
    )
    .bind(&key_hash[..])
    .fetch_optional(&store.pool)
    .await?;
    let Some(row) = row else {
        return Ok(KeyLookup::Unknown);
    };
    // As on SQLite: the index matched; compare again in constant time.
    let stored: Vec<u8> = row.try_get("key_hash")?;
    if !bool::from(subtle::ConstantTimeEq::ct_eq(&stored[..], &key_hash[..])) {
        return Ok(KeyLookup::Unknown);
    }
    let key_revoked: Option<i64> = row.try_get("key_revoked_at")?;
    let account_revoked: Option<i64> = row.try_get("account_revoked_at")?;
    if key_revoked.is_some() || account_revoked.is_some() {
        return Ok(KeyLookup::Revoked);
    }
    let expires_at = opt_time(row.try_get("expires_at")?);
    if expires_at.is_some_and(|at| at <= now) {
        return Ok(KeyLookup::Expired);
    }
    Ok(KeyLookup::Valid {
        key: KeyId(row.try_get("id")?),
        account: Account {
            id: row.try_get("account_id")?,
            name: row.try_get("name")?,
            plan: row.try_get("plan")?,
        },
        expires_at,
        last_used_at: opt_time(row.try_get("last_used_at")?),
    })
}

pub(super) async fn account_of_key(
    store: &PgStore,
    key_hash: &[u8; 32],
) -> StoreResult<Option<AccountId>> {
    Ok(
        sqlx::query_scalar("SELECT account_id FROM api_keys WHERE key_hash = $1")
            .bind(&key_hash[..])
            .fetch_optional(&store.pool)
            .await?,
    )
}

pub(super) async fn touch_key(store: &PgStore, key: KeyId, now: DateTime<Utc>) -> StoreResult<()> {
    let now = millis(now);
    // At most one write a minute per key, whatever the request rate (on every replica).
    sqlx::query(
        "UPDATE api_keys SET last_used_at = $1
         WHERE id = $2 AND (last_used_at IS NULL OR last_used_at < $3)",
    )
    .bind(now)
    .bind(key.0)
    .bind(now - 60_000)
    .execute(&store.pool)
    .await?;
    Ok(())
}

pub(super) async fn list_keys(store: &PgStore) -> StoreResult<Vec<KeyInfo>> {
    sqlx::query(
        "SELECT k.id, k.account_id, a.name, a.plan, k.created_at, k.last_used_at, k.expires_at,
                COALESCE(k.revoked_at, a.revoked_at) AS revoked_at
         FROM api_keys k JOIN accounts a ON a.id = k.account_id
         ORDER BY k.account_id, k.id",
    )
    .fetch_all(&store.pool)
    .await?
    .iter()
    .map(|row| {
        Ok(KeyInfo {
            key: KeyId(row.try_get("id")?),
            account_id: row.try_get("account_id")?,
            name: row.try_get("name")?,
            plan: row.try_get("plan")?,
            created_at: from_millis(row.try_get("created_at")?),
            last_used_at: opt_time(row.try_get("last_used_at")?),
            expires_at: opt_time(row.try_get("expires_at")?),
            revoked_at: opt_time(row.try_get("revoked_at")?),
        })
    })
    .collect()
}

pub(super) async fn rotate_key(
    store: &PgStore,
    account: AccountId,
    new_key_hash: &[u8; 32],
    old_expires_at: DateTime<Utc>,
    now: DateTime<Utc>,
) -> StoreResult<bool> {
    let mut tx = store.pool.begin().await?;
    // The row lock orders this rotation after (or before) any other rotation or a
    // revocation of the account, on any replica.
    let live: Option<i64> = sqlx::query_scalar(
        "SELECT 1::BIGINT FROM accounts WHERE id = $1 AND revoked_at IS NULL FOR UPDATE",
    )
    .bind(account)
    .fetch_optional(&mut *tx)
    .await?;
    if live.is_none() {
        return Ok(false);
    }
    // A key already on its way out keeps the earlier of its two ends.
    sqlx::query(
        "UPDATE api_keys SET expires_at = LEAST(COALESCE(expires_at, $1), $1)
         WHERE account_id = $2 AND revoked_at IS NULL",
    )
    .bind(millis(old_expires_at.max(now)))
    .bind(account)
    .execute(&mut *tx)
    .await?;
    insert_key(&mut tx, account, new_key_hash, millis(now)).await?;
    bump_generation(&mut tx).await?;
    tx.commit().await?;
    Ok(true)
}

pub(super) async fn revoke_account(
    store: &PgStore,
    account: AccountId,
    now: DateTime<Utc>,
    reason: &str,
) -> StoreResult<Option<Revoked>> {
    let now = millis(now);
    let mut tx = store.pool.begin().await?;
    // Send batches admit entries under this lock: one on another replica either commits
    // before this transaction (and its entries are failed below) or waits for it, as
    // behind SQLite's single writer.
    lock_account(&mut tx, account).await?;
    let revoked =
        sqlx::query("UPDATE accounts SET revoked_at = $1 WHERE id = $2 AND revoked_at IS NULL")
            .bind(now)
            .bind(account)
            .execute(&mut *tx)
            .await?
            .rows_affected();
    if revoked == 0 {
        return Ok(None);
    }
    let keys = sqlx::query(
        "UPDATE api_keys SET revoked_at = $1 WHERE account_id = $2 AND revoked_at IS NULL",
    )
    .bind(now)
    .bind(account)
    .execute(&mut *tx)
    .await?
    .rows_affected();
    // As on SQLite: an entry a worker holds may still go out, unrecorded.
    let failed_entries = sqlx::query(
        "UPDATE queue SET status = 'failed', error = $1, lease_until = NULL, updated_at = $2
         WHERE account_id = $3 AND status IN ('queued', 'sending')",
    )
    .bind(reason)
    .bind(now)
    .bind(account)
    .execute(&mut *tx)
    .await?
    .rows_affected();
    let schedules = sqlx::query(
        "UPDATE schedules SET next_run_at = NULL
         WHERE account_id = $1 AND next_run_at IS NOT NULL",
    )
    .bind(account)
    .execute(&mut *tx)
    .await?
    .rows_affected();
    // A revoked key may be a stolen one: the subscriptions go with their deliveries.
    // The subscriptions first: a fan-out on another replica holds them `FOR SHARE` until
    // it commits, so this waits for it, and the deliveries it raised are then seen (and
    // deleted) by the statements below rather than left behind.
    let mut hooks: Vec<(String, String, i64)> =
        sqlx::query_as("DELETE FROM webhooks WHERE account_id = $1 RETURNING id, url, created_at")
            .bind(account)
            .fetch_all(&mut *tx)
            .await?;
    // In the order the account's webhook list shows them.
    hooks.sort_by(|a, b| (a.2, &a.0).cmp(&(b.2, &b.0)));
    sqlx::query(
        "DELETE FROM webhook_attempts WHERE delivery_id IN
            (SELECT id FROM webhook_deliveries WHERE account_id = $1)",
    )
    .bind(account)
    .execute(&mut *tx)
    .await?;
    for table in ["webhook_deliveries", "webhook_manual_calls"] {
        sqlx::query(&format!("DELETE FROM {table} WHERE account_id = $1"))
            .bind(account)
            .execute(&mut *tx)
            .await?;
    }
    bump_generation(&mut tx).await?;
    tx.commit().await?;
    let webhooks = hooks
        .into_iter()
        .map(|(id, url, _)| {
            WebhookId::new(&id)
                .map(|id| (id, url))
                .map_err(|e| corrupt("webhook id", e))
        })
        .collect::<StoreResult<_>>()?;
    Ok(Some(Revoked {
        keys,
        failed_entries,
        schedules,
        webhooks,
    }))
}

#[cfg(test)]
mod tests {
    use super::super::ops::testing;
    use super::*;

    #[tokio::test]
    async fn of_replicas_starting_on_an_empty_database_exactly_one_creates_the_first_account() {
        let Some(fresh) = testing::fresh().await else {
            return;
        };
        let mut replicas = Vec::new();
        for _ in 0..4 {
            replicas.push(fresh.replica().await);
        }
        let mut starts = tokio::task::JoinSet::new();
        for (i, r) in replicas.iter().cycle().take(8).enumerate() {
            let r = r.clone();
            starts.spawn(async move {
                let hash = [i as u8 + 1; 32];
                r.create_first_account("first", "default", &hash).await
            });
        }
        let created: Vec<_> = starts
            .join_all()
            .await
            .into_iter()
            .filter_map(|r| r.expect("no error"))
            .collect();
        assert_eq!(created.len(), 1, "{created:?}");
        assert_eq!(replicas[0].count_accounts().await.expect("count"), 1);
        assert_eq!(replicas[0].list_keys().await.expect("keys").len(), 1);
    }

    #[tokio::test]
    async fn a_rotated_key_works_until_it_expires_and_revocation_ends_every_key() {
        let Some((_db, store)) = testing::store().await else {
            return;
        };
        let (account, old) = testing::account(&store).await;
        let now = Utc::now();
        let generation = store.key_generation().await.expect("generation");
        let new = [0xA5; 32].map(|b: u8| b ^ old[0]);
        assert!(
            store
                .rotate_key(account, &new, now + chrono::Duration::hours(1), now)
                .await
                .expect("rotates")
        );
        assert!(store.key_generation().await.expect("generation") > generation);
        let KeyLookup::Valid { expires_at, .. } = store.key_lookup(&old, now).await.expect("old")
        else {
            panic!("the old key works during the grace period");
        };
        assert!(expires_at.is_some());
        assert!(matches!(
            store.key_lookup(&new, now).await.expect("new"),
            KeyLookup::Valid {
                expires_at: None,
                ..
            }
        ));
        assert!(matches!(
            store
                .key_lookup(&old, now + chrono::Duration::hours(2))
                .await
                .expect("old later"),
            KeyLookup::Expired
        ));
        // Rotating again never lengthens the old key's life.
        let newer = new.map(|b| b ^ 0x5A);
        store
            .rotate_key(account, &newer, now + chrono::Duration::days(9), now)
            .await
            .expect("rotates");
        assert!(matches!(
            store
                .key_lookup(&old, now + chrono::Duration::hours(2))
                .await
                .expect("old later"),
            KeyLookup::Expired
        ));
        assert_eq!(store.account_of_key(&new).await.expect("of"), Some(account));

        let suffix = crate::ids::random_hex(4);
        for (n, at) in [("b", 1), ("a", 1), ("c", 0)] {
            sqlx::query(
                "INSERT INTO webhooks (id, account_id, url, events, secret, created_at)
                 VALUES ($1, $2, $3, '[]', 's', $4)",
            )
            .bind(format!("wh_{n}{suffix}"))
            .bind(account)
            .bind(format!("https://example.com/{n}"))
            .bind(at)
            .execute(&store.pool)
            .await
            .expect("a webhook");
        }
        sqlx::query(
            "INSERT INTO webhook_deliveries (id, webhook_id, account_id, event_id, status,
                                             give_up_at, created_at, updated_at)
             VALUES ($1, $2, $3, 'ev', 'pending', 0, 0, 0)",
        )
        .bind(format!("dl_{suffix}"))
        .bind(format!("wh_a{suffix}"))
        .bind(account)
        .execute(&store.pool)
        .await
        .expect("a delivery");
        let revoked = store
            .revoke_account(account, now, "key leaked")
            .await
            .expect("revokes")
            .expect("was live");
        assert_eq!(revoked.keys, 3);
        assert_eq!(
            revoked
                .webhooks
                .iter()
                .map(|(id, _)| id.as_str().to_owned())
                .collect::<Vec<_>>(),
            ["c", "a", "b"].map(|n| format!("wh_{n}{suffix}"))
        );
        let deliveries: i64 =
            sqlx::query_scalar("SELECT COUNT(*) FROM webhook_deliveries WHERE account_id = $1")
                .bind(account)
                .fetch_one(&store.pool)
                .await
                .expect("count");
        assert_eq!(deliveries, 0);
        for key in [&old, &new, &newer] {
            assert!(matches!(
                store.key_lookup(key, now).await.expect("lookup"),
                KeyLookup::Revoked
            ));
        }
        assert!(
            store
                .account_by_key_hash(&new)
                .await
                .expect("by hash")
                .is_none()
        );
        assert!(
            store
                .revoke_account(account, now, "again")
                .await
                .expect("answers")
                .is_none()
        );
        assert!(
            !store
                .rotate_key(account, &[7; 32], now, now)
                .await
                .expect("answers")
        );
    }

    #[tokio::test]
    async fn a_key_in_use_is_touched_at_most_once_a_minute() {
        let Some((_db, store)) = testing::store().await else {
            return;
        };
        let (_, hash) = testing::account(&store).await;
        let now = Utc::now();
        let KeyLookup::Valid { key, .. } = store.key_lookup(&hash, now).await.expect("lookup")
        else {
            panic!("a new key works");
        };
        let last_used = |store: PgStore| async move {
            match store.key_lookup(&hash, now).await.expect("lookup") {
                KeyLookup::Valid { last_used_at, .. } => last_used_at,
                _ => panic!("still valid"),
            }
        };
        store.touch_key(key, now).await.expect("touch");
        let first = last_used(store.clone()).await.expect("touched");
        store
            .touch_key(key, now + chrono::Duration::seconds(30))
            .await
            .expect("touch");
        assert_eq!(last_used(store.clone()).await, Some(first));
        store
            .touch_key(key, now + chrono::Duration::seconds(61))
            .await
            .expect("touch");
        assert!(last_used(store.clone()).await > Some(first));
        let listed = store.list_keys().await.expect("keys");
        assert!(
            listed
                .iter()
                .any(|k| k.key == key && k.last_used_at.is_some())
        );
    }
}
