//! The test matrix: the same tests on SQLite and on Postgres.
//!
//! A test run is on SQLite unless [`BACKEND_VAR`] is `postgres`; then every server the
//! harness configures ([`super::fast_config`]) runs on a Postgres database of its own,
//! created through [`URL_VAR`]. The `postgres_matrix` test of the server's suite sets both
//! and runs the suite again in a child process when `SEVENOWAYS_TEST_DATABASE_URL` is set,
//! so one `cargo test --workspace` runs both halves, and says it skipped the Postgres half
//! when the variable is unset.

use std::path::Path;

use sha2::{Digest, Sha256};

use crate::config::DatabaseUrl;

/// `postgres` selects the Postgres half of the matrix for this process.
pub const BACKEND_VAR: &str = "SEVENOWAYS_TEST_BACKEND";
/// A Postgres URL whose role may `CREATE DATABASE`: the tests' databases are made
/// through it, one per test server, named [`DATABASE_PREFIX`]`<hash>`.
pub const URL_VAR: &str = "SEVENOWAYS_TEST_DATABASE_URL";
/// The name every test database starts with (and the matrix test drops when done).
pub const DATABASE_PREFIX: &str = "svw_test_";

/// The admin URL when this process runs the Postgres half of the matrix.
pub fn postgres() -> Option<String> {
    if std::env::var(BACKEND_VAR).ok()? != "postgres" {
        return None;
    }
    Some(std::env::var(URL_VAR).unwrap_or_else(|_| {
        panic!("{BACKEND_VAR}=postgres needs {URL_VAR} (a postgres:// URL with CREATEDB)")
    }))
}

/// In the Postgres half, the database that belongs to `dir`, created if it is not there
/// yet; `None` on SQLite. Named after the directory, so two servers (or a restart) over
/// one directory share one database, as they share the SQLite file.
pub fn database_for(dir: &Path) -> Option<DatabaseUrl> {
    let admin = postgres()?;
    let digest = Sha256::digest(dir.as_os_str().as_encoded_bytes());
    let name = format!("{DATABASE_PREFIX}{}", hex::encode(&digest[..8]));
    let mut url = url::Url::parse(&admin).expect("SEVENOWAYS_TEST_DATABASE_URL is a URL");
    url.set_path(&name);
    // `fast_config` is synchronous and may be called on a runtime: a thread of its own
    // with a runtime of its own runs the statement.
    let create = std::thread::spawn(move || {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("a runtime")
            .block_on(create_database(&admin, &name))
    });
    create.join().expect("the database is created");
    Some(url.as_str().parse().expect("a postgres URL"))
}

async fn create_database(admin: &str, name: &str) {
    use sqlx::{ConnectOptions, Connection};
    let mut conn = admin
        .parse::<sqlx::postgres::PgConnectOptions>()
        .expect("a postgres URL")
        .connect()
        .await
        .expect("the test database server answers");
    let exists: bool =
        sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM pg_database WHERE datname = $1)")
            .bind(name)
            .fetch_one(&mut conn)
            .await
            .expect("pg_database is readable");
    if !exists {
        // `name` is ours (a prefix and hex digits), never input: safe to splice.
        match sqlx::query(&format!("CREATE DATABASE {name}"))
            .execute(&mut conn)
            .await
        {
            Ok(_) => {}
            // Two servers over one directory may race to create it.
            Err(sqlx::Error::Database(e)) if e.code().as_deref() == Some("42P04") => {}
            Err(e) => panic!("CREATE DATABASE {name}: {e}"),
        }
    }
    let _ = conn.close().await;
}

/// Drops database `name` if it exists, ending the sessions still in it.
///
/// For a role that is not a superuser, `WITH (FORCE)` is refused (42501: "must be a member
/// of the role whose process is being terminated" up to PostgreSQL 15, "permission denied
/// to terminate process" after) while an autovacuum worker is in the
/// database, which happens after a test wrote enough rows; the worker is gone a moment
/// later, so this tries again for up to ten seconds before giving up.
pub async fn drop_database(conn: &mut sqlx::PgConnection, name: &str) -> Result<(), sqlx::Error> {
    let sql = format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)");
    let mut tries = 0;
    loop {
        let err = match sqlx::query(&sql).execute(&mut *conn).await {
            Ok(_) => return Ok(()),
            Err(e) => e,
        };
        // 42501 is also "must be owner", which waiting does not cure: ten seconds bound it.
        let passing = err
            .as_database_error()
            .is_some_and(|d| matches!(d.code().as_deref(), Some("55006" | "42501")));
        if !passing || tries == 50 {
            return Err(err);
        }
        tries += 1;
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    }
}

/// Drops every test database on the server of `admin` (after a run, or one a crashed
/// run left); returns how many.
pub async fn drop_test_databases(admin: &str) -> usize {
    use sqlx::{ConnectOptions, Connection};
    let mut conn = admin
        .parse::<sqlx::postgres::PgConnectOptions>()
        .expect("a postgres URL")
        .connect()
        .await
        .expect("the test database server answers");
    let names: Vec<String> =
        // Only this role's: another role's databases (another user's run) are not ours to drop.
        sqlx::query_scalar(
            "SELECT datname FROM pg_database
             WHERE starts_with(datname, $1) AND pg_get_userbyid(datdba) = current_user",
        )
            .bind(DATABASE_PREFIX)
            .fetch_all(&mut conn)
            .await
            .expect("pg_database is readable");
    for name in &names {
        drop_database(&mut conn, name)
            .await
            .expect("a test database drops");
    }
    let _ = conn.close().await;
    names.len()
}

/// A new, empty database `<prefix>name_<role>` on the server of `admin` (dropped first if a
/// crashed run left it): for tests that run several real server processes on one
/// database. Dropped with the others by [`drop_test_databases`].
pub async fn fresh_database(admin: &str, name: &str) -> DatabaseUrl {
    use sqlx::{ConnectOptions, Connection};
    assert!(
        name.bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_'),
        "a test database name is [a-z0-9_]"
    );
    let mut conn = admin
        .parse::<sqlx::postgres::PgConnectOptions>()
        .expect("a postgres URL")
        .connect()
        .await
        .expect("the test database server answers");
    // The role in the name: only its owner may drop a database, and two roles testing on
    // one server (a developer's and CI's) must not trip over each other's.
    let role: String = sqlx::query_scalar("SELECT current_user::text")
        .fetch_one(&mut conn)
        .await
        .expect("the role's name");
    let role: String = role
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() {
                c.to_ascii_lowercase()
            } else {
                '_'
            }
        })
        .collect();
    let name = format!("{DATABASE_PREFIX}{name}_{role}");
    drop_database(&mut conn, &name)
        .await
        .expect("an old test database drops");
    sqlx::query(&format!("CREATE DATABASE {name}"))
        .execute(&mut conn)
        .await
        .expect("the test database is created");
    let _ = conn.close().await;
    let mut url = url::Url::parse(admin).expect("a URL");
    url.set_path(&name);
    url.as_str().parse().expect("a postgres URL")
}
