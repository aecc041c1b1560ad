//! Operations on Postgres: the readiness write probe, the `/metrics` queue depth and the
//! server-wide secret.
//!
//! Errors that pass (the database restarting or unreachable, a full disk, no free
//! connection) become [`StoreError::Degraded`] in the one conversion both backends share,
//! the SQLite store's `ops::passing_condition`.

use super::*;

/// The `meta` row [`probe_write`] rewrites.
const PROBE_KEY: &str = "write_probe";

/// A small durable write: one row of `meta` rewritten and committed. Every replica has its
/// own pool, so this proves this process can write now (a full disk, a read-only standby
/// after a failover and a lost connection all fail it as `Degraded`).
pub(super) async fn probe_write(store: &PgStore) -> StoreResult<()> {
    let mut stamp = [0u8; 8];
    getrandom::fill(&mut stamp).map_err(|e| StoreError::Backend(e.to_string().into()))?;
    sqlx::query(
        "INSERT INTO meta (key, value) VALUES ($1, $2)
         ON CONFLICT (key) DO UPDATE SET value = excluded.value",
    )
    .bind(PROBE_KEY)
    .bind(&stamp[..])
    .execute(&store.pool)
    .await?;
    Ok(())
}

/// Created by the first replica that asks; every other one reads that value.
pub(super) async fn server_secret(store: &PgStore) -> StoreResult<Vec<u8>> {
    let mut fresh = [0u8; 32];
    getrandom::fill(&mut fresh).map_err(|e| StoreError::Backend(e.to_string().into()))?;
    // Of two first inserts the second waits for the first to commit and then does nothing;
    // the SELECT, a statement of its own, sees the row that won.
    sqlx::query(
        "INSERT INTO meta (key, value) VALUES ('server_secret', $1) ON CONFLICT (key) DO NOTHING",
    )
    .bind(&fresh[..])
    .execute(&store.pool)
    .await?;
    Ok(
        sqlx::query_scalar("SELECT value FROM meta WHERE key = 'server_secret'")
            .fetch_one(&store.pool)
            .await?,
    )
}

/// Unfinished entries by state, one count each (served by the `queue_due` index).
pub(super) async fn queue_depth(store: &PgStore) -> StoreResult<Vec<(&'static str, u64)>> {
    let mut depth = vec![("queued", 0), ("sending", 0)];
    for (state, n) in &mut depth {
        let count: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM queue WHERE status = $1")
            .bind(*state)
            .fetch_one(&store.pool)
            .await?;
        *n = count.max(0) as u64;
    }
    Ok(depth)
}

/// Stores for this backend's own tests, on the database `SEVENOWAYS_TEST_DATABASE_URL`
/// names. Tests make accounts of their own there, so they share it; a test that needs an
/// empty database asks for [`fresh`](testing::fresh).
#[cfg(test)]
pub(super) mod testing {
    use super::*;

    /// The URL, or `None` (with a note on stderr) when Postgres tests are not wanted.
    pub(in crate::store::postgres) fn url() -> Option<String> {
        let url = std::env::var(crate::testing::matrix::URL_VAR).ok();
        if url.is_none() {
            eprintln!(
                "skipped: set {} to a postgres:// URL to run the Postgres store's tests",
                crate::testing::matrix::URL_VAR
            );
        }
        url
    }

    /// A store on the shared test database; `None` without one.
    pub(in crate::store::postgres) async fn store() -> Option<PgStore> {
        Some(
            PgStore::open(&url()?)
                .await
                .expect("the test database opens"),
        )
    }

    /// A new account with a random key hash, for a test of its own.
    pub(in crate::store::postgres) async fn account(store: &PgStore) -> (AccountId, [u8; 32]) {
        let mut hash = [0u8; 32];
        getrandom::fill(&mut hash).expect("OS randomness");
        let id = store
            .create_account("test", "default", &hash)
            .await
            .expect("an account");
        (id, hash)
    }

    /// An empty database of its own (dropped by [`Fresh::drop_database`]); `None` without
    /// the test URL.
    pub(in crate::store::postgres) async fn fresh() -> Option<Fresh> {
        let admin = url()?;
        let name = format!("svw_pgtest_{}", crate::ids::random_hex(6));
        let mut conn: sqlx::PgConnection = sqlx::Connection::connect(&admin)
            .await
            .expect("admin connection");
        sqlx::query(&format!("CREATE DATABASE {name}"))
            .execute(&mut conn)
            .await
            .expect("CREATE DATABASE");
        let mut url = url::Url::parse(&admin).expect("a URL");
        url.set_path(&name);
        Some(Fresh {
            admin,
            name,
            url: url.to_string(),
        })
    }

    /// A database made by [`fresh`].
    pub(in crate::store::postgres) struct Fresh {
        admin: String,
        name: String,
        pub url: String,
    }

    impl Fresh {
        pub async fn drop_database(self) {
            let mut conn: sqlx::PgConnection = sqlx::Connection::connect(&self.admin)
                .await
                .expect("admin connection");
            sqlx::query(&format!(
                "DROP DATABASE IF EXISTS {} WITH (FORCE)",
                self.name
            ))
            .execute(&mut conn)
            .await
            .expect("DROP DATABASE");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::testing;
    use super::*;

    #[tokio::test]
    async fn the_server_secret_is_one_value_for_every_replica() {
        let Some(fresh) = testing::fresh().await else {
            return;
        };
        let mut replicas = Vec::new();
        for _ in 0..3 {
            replicas.push(PgStore::open(&fresh.url).await.expect("opens"));
        }
        let mut calls = tokio::task::JoinSet::new();
        for r in replicas.iter().chain(replicas.iter()) {
            let r = r.clone();
            calls.spawn(async move { r.server_secret().await });
        }
        let secrets: Vec<_> = calls.join_all().await;
        let first = secrets[0].as_ref().expect("a secret").clone();
        assert_eq!(first.len(), 32);
        for s in &secrets {
            assert_eq!(s.as_ref().expect("a secret"), &first);
        }
        for r in replicas {
            r.pool.close().await;
        }
        fresh.drop_database().await;
    }

    #[tokio::test]
    async fn the_write_probe_and_queue_depth_answer() {
        let Some(store) = testing::store().await else {
            return;
        };
        store
            .probe_write()
            .await
            .expect("the database takes writes");
        store.checkpoint().await.expect("a no-op");
        let depth = store.queue_depth().await.expect("depth");
        assert_eq!(
            depth.iter().map(|(s, _)| *s).collect::<Vec<_>>(),
            ["queued", "sending"]
        );
    }
}
