//! Operations on Postgres: the `/metrics` queue depth and the server-wide secret (the
//! readiness write probe goes through the group commit, in `queue`).
//!
//! Errors that pass (the database restarting or unreachable, a full disk, no free
//! connection) become [`StoreError::Degraded`] in the one conversion both backends share,
//! the SQLite store's `ops::passing_condition`.

use super::*;

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

/// Databases for this backend's own tests, one per test, made through
/// `SEVENOWAYS_TEST_DATABASE_URL` (a role with `CREATEDB`); the tests are skipped, saying
/// so, when it is not set. Several [`PgStore`]s on one database stand for several replicas.
#[cfg(test)]
pub(super) mod testing {
    use sqlx::Connection;

    use super::*;

    /// A store on a database of its own, and that database (dropped with it); `None` when
    /// Postgres tests are not wanted.
    pub(in crate::store::postgres) async fn store() -> Option<(Fresh, PgStore)> {
        let db = fresh().await?;
        let store = db.replica().await;
        Some((db, store))
    }

    /// A new account with a random key hash.
    pub(in crate::store::postgres) async fn account(store: &PgStore) -> (AccountId, [u8; 32]) {
        let mut hash = [0u8; 32];
        getrandom::fill(&mut hash).expect("OS randomness");
        let id = store
            .create_account("test", "default", &hash)
            .await
            .expect("an account");
        (id, hash)
    }

    /// An empty database; `None` (with a note on stderr) without the test URL.
    pub(in crate::store::postgres) async fn fresh() -> Option<Fresh> {
        let var = crate::testing::matrix::URL_VAR;
        let Ok(admin) = std::env::var(var) else {
            eprintln!("skipped: set {var} to a postgres:// URL to run the Postgres store's tests");
            return None;
        };
        // The matrix's prefix: one a killed run leaves behind goes with the next matrix run.
        let name = format!(
            "{}core_{}",
            crate::testing::matrix::DATABASE_PREFIX,
            crate::ids::random_hex(6)
        );
        let mut conn = sqlx::PgConnection::connect(&admin)
            .await
            .expect("the test database server answers");
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

    /// A database made by [`fresh`], dropped (with `FORCE`, closing the test's
    /// connections) when this goes, also when the test fails.
    pub(in crate::store::postgres) struct Fresh {
        admin: String,
        name: String,
        url: String,
    }

    impl Fresh {
        /// One more replica on the database.
        pub(in crate::store::postgres) async fn replica(&self) -> PgStore {
            PgStore::open(&self.url).await.expect("the store opens")
        }
    }

    impl Drop for Fresh {
        fn drop(&mut self) {
            let (admin, name) = (self.admin.clone(), self.name.clone());
            // A runtime of its own on a thread of its own: `drop` cannot await.
            let dropped = std::thread::spawn(move || {
                tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                    .expect("a runtime")
                    .block_on(async move {
                        let mut conn = sqlx::PgConnection::connect(&admin).await?;
                        crate::testing::matrix::drop_database(&mut conn, &name).await
                    })
            })
            .join();
            if !matches!(dropped, Ok(Ok(_))) {
                eprintln!("could not drop the test database {}", self.name);
            }
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
            replicas.push(fresh.replica().await);
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
    }

    #[tokio::test]
    async fn the_write_probe_and_queue_depth_answer() {
        let Some((_db, store)) = testing::store().await else {
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
