//! Test support, behind the `testing` feature: a real server in-process on port 0 over a
//! temporary data directory, with timings short enough for tests, and an SDK client for it.
//!
//! The server's own tests and the CLI's tests share this one harness (as svix's tests share
//! `get_default_test_config` and `start_svix_server_with_cfg`), so a change to [`Config`]
//! is made in one place. [`start`] is the default, [`start_with`] changes the
//! configuration first, and [`launch`] runs a server over a directory the test keeps
//! (restarts, two servers on one database).
//!
//! Functions here panic on failure: they set up tests, where a panic is the failure report.
//!
//! The backend is SQLite in the temporary directory, or, in the Postgres half of the test
//! matrix ([`matrix`]), a Postgres database of the directory's own: the same tests, run
//! on both.
//!
//! ```no_run
//! # async fn run() {
//! use sevenoways_server::testing;
//!
//! let t = testing::start_with(|c| c.scheduler.tick_ms = 25).await;
//! let client = t.client();
//! let number = testing::paired_instance(&client, "n1").await; // with TEAM_A and TEAM_B
//! assert_eq!(client.groups().list(&number).await.unwrap().groups.len(), 2);
//! t.shutdown().await;
//! # }
//! ```

pub mod fake_meta;
pub mod fake_waha;
pub mod matrix;
pub mod webhook_sink;

use std::future::Future;
use std::path::Path;
use std::str::FromStr;
use std::time::Duration;

use chrono::{DateTime, Utc};
use sevenoways_sdk::models::instances::CreateInstanceRequest;
use sevenoways_sdk::models::sandbox::SandboxGroupRequest;
use sevenoways_sdk::{BodyEncoding, Client, GroupId, InstanceId};
use tempfile::TempDir;

use crate::config::{
    MetaConfig, PacingConfig, QueueConfig, SandboxConfig, WahaConfig, WebhookConfig,
};
use crate::engine::EngineSecret;
use crate::{Config, Server};

/// The id of the group "Team A" that [`paired_instance`] gives every number.
pub const TEAM_A: &str = "120363000000000001@g.us";
/// The id of the group "Team B" that [`paired_instance`] gives every number.
pub const TEAM_B: &str = "120363000000000002@g.us";

/// A running server, its data directory and one account's key.
///
/// The directory is deleted when this is dropped; stop the server first
/// ([`TestServer::shutdown`], or `t.server.shutdown()` to keep the directory a while).
pub struct TestServer {
    /// The server, listening on `127.0.0.1` on a port of its own.
    pub server: Server,
    /// The data directory (the SQLite database).
    pub dir: TempDir,
    /// The API key of the account [`start`] created, plan `default`.
    pub key: String,
}

/// [`Config::default`] with no pacing, receipts after 100 ms and quick queue retries, over
/// `dir` (and, in the Postgres half of the matrix, over the database of `dir`: see
/// [`matrix::database_for`]).
pub fn fast_config(dir: &Path) -> Config {
    Config {
        data_dir: dir.to_owned(),
        database_url: matrix::database_for(dir),
        // Test servers run several at once on one Postgres: a few connections each.
        database: crate::config::DatabaseConfig {
            max_connections: 6,
            ..Default::default()
        },
        pacing: PacingConfig {
            min_gap_ms: 0,
            jitter_ms: 0,
        },
        queue: QueueConfig {
            lease_secs: 5,
            max_attempts: 3,
            retry_base_ms: 50,
            poll_ms: 20,
        },
        sandbox: SandboxConfig {
            delivered_after_ms: 100,
            read_after_ms: 100,
        },
        ..Config::default()
    }
}

/// Lifts the `default` plan's rate limit and caps, for tests that send a lot.
pub fn unlimited(config: &mut Config) {
    config.plans = vec![crate::config::PlanConfig {
        name: "default".into(),
        requests_per_minute: 0,
        daily_cap: 0,
        monthly_cap: 0,
        ..crate::config::PlanConfig::default()
    }];
}

/// Runs `config` on `127.0.0.1:0`.
pub async fn launch(config: Config) -> Server {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("a loopback port");
    crate::launch(config, listener)
        .await
        .expect("the server starts")
}

/// A server on [`fast_config`] in a new temporary directory, with one account.
pub async fn start() -> TestServer {
    start_with(|_| {}).await
}

/// [`start`], with `tweak` applied to the configuration first.
pub async fn start_with(tweak: impl FnOnce(&mut Config)) -> TestServer {
    start_at(|config, _| tweak(config)).await
}

/// [`start_with`], where `tweak` also gets the server's base URL before it starts
/// (`http://127.0.0.1:PORT`): for engines, which post back to `public_url`.
pub async fn start_at(tweak: impl FnOnce(&mut Config, &str)) -> TestServer {
    let dir = tempfile::tempdir().expect("a temporary directory");
    let mut config = fast_config(dir.path());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("a loopback port");
    let base = format!("http://{}", listener.local_addr().expect("an address"));
    tweak(&mut config, &base);
    let server = crate::launch(config, listener)
        .await
        .expect("the server starts");
    let key = server
        .create_key("test", "default")
        .await
        .expect("an API key");
    TestServer { server, dir, key }
}

impl TestServer {
    /// `http://127.0.0.1:PORT`.
    pub fn base(&self) -> String {
        self.server.base_url()
    }

    /// A client with this account's key that sends JSON.
    pub fn client(&self) -> Client {
        client(&self.base(), &self.key, BodyEncoding::Json)
    }

    /// A client with this account's key that sends form bodies.
    pub fn form_client(&self) -> Client {
        client(&self.base(), &self.key, BodyEncoding::Form)
    }

    /// A client for another, new account on the same server.
    pub async fn other_client(&self) -> Client {
        let key = self
            .server
            .create_key("other", "default")
            .await
            .expect("an API key");
        client(&self.base(), &key, BodyEncoding::Json)
    }

    /// The account of [`TestServer::key`], for tests that reach into the store.
    pub async fn account_id(&self) -> crate::account::AccountId {
        self.server
            .store()
            .account_by_key_hash(&crate::auth::hash_key(&self.key))
            .await
            .expect("the store answers")
            .expect("the key's account exists")
            .id
    }

    /// Stops the server gracefully, then deletes its directory.
    pub async fn shutdown(self) {
        self.server.shutdown().await;
    }

    /// The single number `sql` (a `SELECT COUNT(*) …`) reads from the server's database,
    /// on a read-only connection of its own: for asserting what was written (one queue
    /// entry, no second event) where no endpoint shows it.
    pub async fn count(&self, sql: &str) -> i64 {
        count(self.dir.path(), sql).await
    }
}

/// The store of `dir`'s database, opened beside any server running on it (as
/// `sevenoways-server keys …` would be): SQLite in `dir`, or `dir`'s Postgres database.
pub async fn open_store(dir: &Path) -> std::sync::Arc<dyn crate::store::Store> {
    crate::open_store(&fast_config(dir))
        .await
        .expect("the store opens")
}

/// The arguments that put the `sevenoways-server` binary on `dir`'s database:
/// `--data-dir DIR`, and `--database-url URL` in the Postgres half of the matrix.
pub fn store_args(dir: &Path) -> Vec<std::ffi::OsString> {
    let mut args = vec!["--data-dir".into(), dir.as_os_str().to_owned()];
    if let Some(url) = matrix::database_for(dir) {
        args.extend(["--database-url".into(), url.expose().into()]);
    }
    args
}

/// Whether `needle` is anywhere in `dir`'s database as plain bytes: in any file under
/// `dir` (SQLite's database and its logs), or in any row of any table of `dir`'s Postgres
/// database (text as it is, bytea as the hex Postgres shows it). For "never stored in the
/// clear" checks.
pub async fn on_disk(dir: &Path, needle: &str) -> bool {
    use sqlx::ConnectOptions;
    let Some(url) = matrix::database_for(dir) else {
        return in_files(dir, needle.as_bytes());
    };
    let mut conn = sqlx::postgres::PgConnectOptions::from_str(url.expose())
        .expect("a database URL")
        .connect()
        .await
        .expect("the database opens");
    let tables: Vec<String> =
        sqlx::query_scalar("SELECT tablename::text FROM pg_tables WHERE schemaname = 'public'")
            .fetch_all(&mut conn)
            .await
            .expect("the tables");
    for table in tables {
        // Table names come from the catalogue, never input.
        let found: bool = sqlx::query_scalar(&format!(
            "SELECT EXISTS (SELECT 1 FROM \"{table}\" t
                WHERE strpos(t::text, $1) > 0 OR strpos(t::text, $2) > 0)"
        ))
        .bind(needle)
        .bind(hex::encode(needle))
        .fetch_one(&mut conn)
        .await
        .expect("a row search");
        if found {
            return true;
        }
    }
    false
}

fn in_files(dir: &Path, needle: &[u8]) -> bool {
    std::fs::read_dir(dir).expect("the directory").any(|entry| {
        let path = entry.expect("an entry").path();
        if path.is_dir() {
            return in_files(&path, needle);
        }
        let bytes = std::fs::read(&path).unwrap_or_default();
        bytes.windows(needle.len()).any(|w| w == needle)
    })
}

/// The `(text, bytes)` rows `sql` reads from `dir`'s database (e.g. `SELECT event_type,
/// payload FROM events ORDER BY seq`), on either backend.
pub async fn rows(dir: &Path, sql: &str) -> Vec<(String, Vec<u8>)> {
    use sqlx::ConnectOptions;
    if let Some(url) = matrix::database_for(dir) {
        let mut conn = sqlx::postgres::PgConnectOptions::from_str(url.expose())
            .expect("a database URL")
            .connect()
            .await
            .expect("the database opens");
        return sqlx::query_as(sql)
            .fetch_all(&mut conn)
            .await
            .expect("rows");
    }
    let mut conn = sqlx::sqlite::SqliteConnectOptions::new()
        .filename(dir.join("sevenoways.db"))
        .read_only(true)
        .connect()
        .await
        .expect("the database opens");
    sqlx::query_as(sql)
        .fetch_all(&mut conn)
        .await
        .expect("rows")
}

/// [`TestServer::count`] on the database of `dir`.
pub async fn count(dir: &Path, sql: &str) -> i64 {
    use sqlx::ConnectOptions;
    if let Some(url) = matrix::database_for(dir) {
        let mut conn = sqlx::postgres::PgConnectOptions::from_str(url.expose())
            .expect("a database URL")
            .connect()
            .await
            .expect("the database opens");
        return sqlx::query_scalar(sql)
            .fetch_one(&mut conn)
            .await
            .expect("a count");
    }
    let mut conn = sqlx::sqlite::SqliteConnectOptions::new()
        .filename(dir.join("sevenoways.db"))
        .read_only(true)
        .connect()
        .await
        .expect("the database opens");
    sqlx::query_scalar(sql)
        .fetch_one(&mut conn)
        .await
        .expect("a count")
}

/// `[engines.waha]` for a [`fake_waha::FakeWaha`] at `url`, with calls limited to 1.5 s
/// (the fake's lost answers never come).
pub fn waha_config(url: &str) -> WahaConfig {
    WahaConfig {
        url: url.to_owned(),
        api_key: Some(EngineSecret::new(fake_waha::API_KEY)),
        timeout_ms: 1500,
    }
}

/// `[engines.meta]` for a [`fake_meta::FakeMeta`] at `graph_url`, with calls limited to
/// 1.5 s.
pub fn meta_config(graph_url: &str) -> MetaConfig {
    MetaConfig {
        graph_url: graph_url.to_owned(),
        access_token: Some(EngineSecret::new(fake_meta::ACCESS_TOKEN)),
        app_secret: Some(EngineSecret::new(fake_meta::APP_SECRET)),
        verify_token: Some(EngineSecret::new(fake_meta::VERIFY_TOKEN)),
        timeout_ms: 1500,
    }
}

/// Webhook delivery in milliseconds and one at a time, so a test's receiver gets events
/// soon and in the order they were raised.
pub fn ordered_webhooks(config: &mut Config) {
    config.webhooks = WebhookConfig {
        timeout_ms: 3_000,
        retry_base_ms: 40,
        retry_max_ms: 250,
        poll_ms: 10,
        max_in_flight: 1,
        ..WebhookConfig::default()
    };
}

/// A server whose `[engines.waha]` is `waha` (a fake's URL) and whose `public_url` is its
/// own address, so WAHA's events reach it; `default_engine` stays the sandbox, webhooks
/// are [`ordered_webhooks`].
pub async fn start_with_waha(waha: &str) -> TestServer {
    start_at(|config, base| {
        config.public_url = Some(base.to_owned());
        config.engines.waha = Some(waha_config(waha));
        ordered_webhooks(config);
    })
    .await
}

/// A server whose `[engines.meta]` points at `graph_url` (a fake's), with
/// [`ordered_webhooks`].
pub async fn start_with_meta(graph_url: &str) -> TestServer {
    start_at(|config, base| {
        config.public_url = Some(base.to_owned());
        config.engines.meta = Some(meta_config(graph_url));
        ordered_webhooks(config);
    })
    .await
}

/// A client for `base` with `key`: no retries, so a test sees every answer as it came.
pub fn client(base: &str, key: &str, encoding: BodyEncoding) -> Client {
    Client::builder()
        .api_key(key)
        .base_url(base)
        .encoding(encoding)
        .max_retries(0)
        .timeout(Duration::from_secs(10))
        .build()
        .expect("a valid client")
}

/// The account of `key` on `server`, for set-up through the store.
pub async fn account_of(server: &Server, key: &str) -> crate::store::AccountId {
    server
        .store()
        .account_by_key_hash(&crate::auth::hash_key(key))
        .await
        .expect("the store answers")
        .expect("the key exists")
        .id
}

/// A `[[plans]]` entry named `name`: the built-in plan's numbers, changed by `tweak`.
pub fn plan(
    name: &str,
    tweak: impl FnOnce(&mut crate::config::PlanConfig),
) -> crate::config::PlanConfig {
    let mut plan = crate::config::PlanConfig {
        name: name.into(),
        ..Default::default()
    };
    tweak(&mut plan);
    plan
}

/// `s` as an instance id.
pub fn id(s: &str) -> InstanceId {
    s.parse().expect("a valid instance id")
}

/// An RFC 3339 instant, for tests that drive the store with an injected clock.
pub fn at(s: &str) -> DateTime<Utc> {
    s.parse().expect("an RFC 3339 instant")
}

/// Creates the instance `name` (labelled "`name` label"), pairs it and gives it the
/// groups "Team A" ([`TEAM_A`]) and "Team B" ([`TEAM_B`]).
pub async fn paired_instance(client: &Client, name: &str) -> InstanceId {
    let id = id(name);
    client
        .instances()
        .create(&CreateInstanceRequest::new(
            id.clone(),
            format!("{name} label"),
        ))
        .await
        .expect("the instance is created");
    client
        .sandbox()
        .pair(&id)
        .await
        .expect("the instance pairs");
    for (gid, gname) in [(TEAM_A, "Team A"), (TEAM_B, "Team B")] {
        client
            .sandbox()
            .add_group(
                &id,
                &SandboxGroupRequest {
                    name: gname.into(),
                    id: Some(GroupId::new(gid).expect("a valid group id")),
                },
            )
            .await
            .expect("the group is added");
    }
    id
}

/// A request [`LossyProxy`] forwarded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProxiedRequest {
    /// `POST /api/send-number`.
    pub request_line: String,
    /// Its `Idempotency-Key`, if it had one.
    pub idempotency_key: Option<String>,
    /// Whether its answer reached the client (`false`: the proxy hung up instead).
    pub answered: bool,
}

/// A `Fn(n) -> bool` saying whether the answer to the `n`th request (from 1) is lost.
type LoseRule = Box<dyn Fn(usize) -> bool + Send>;

/// An HTTP/1.1 proxy in front of a server that loses answers: it forwards each request,
/// reads the server's whole answer, and then, for the requests its rule picks, closes the
/// client's connection instead of relaying it. The request was acted on; the client saw
/// a dropped connection. How a retry meets a request that was processed, without timing.
pub struct LossyProxy {
    /// `http://127.0.0.1:PORT`.
    pub url: String,
    rule: std::sync::Arc<std::sync::Mutex<LoseRule>>,
    requests: std::sync::Arc<std::sync::Mutex<Vec<ProxiedRequest>>>,
}

impl LossyProxy {
    /// A proxy to `upstream` that loses the answers `lose` picks (by request number, from 1).
    pub async fn start(
        upstream: std::net::SocketAddr,
        lose: impl Fn(usize) -> bool + Send + 'static,
    ) -> Self {
        use std::sync::{Arc, Mutex};
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("a loopback port");
        let url = format!("http://{}", listener.local_addr().expect("bound"));
        let rule: Arc<Mutex<LoseRule>> = Arc::new(Mutex::new(Box::new(lose)));
        let requests = Arc::new(Mutex::new(Vec::new()));
        let (r, seen) = (rule.clone(), requests.clone());
        tokio::spawn(async move {
            while let Ok((client, _)) = listener.accept().await {
                let (r, seen) = (r.clone(), seen.clone());
                tokio::spawn(async move {
                    let Ok(server) = tokio::net::TcpStream::connect(upstream).await else {
                        return;
                    };
                    proxy_connection(client, server, r, seen).await;
                });
            }
        });
        Self {
            url,
            rule,
            requests,
        }
    }

    /// From now on, lose the answers `lose` picks (request numbers keep counting).
    pub fn set_rule(&self, lose: impl Fn(usize) -> bool + Send + 'static) {
        *self.rule.lock().expect("not poisoned") = Box::new(lose);
    }

    /// Every request forwarded so far, in order.
    pub fn requests(&self) -> Vec<ProxiedRequest> {
        self.requests.lock().expect("not poisoned").clone()
    }
}

/// Relays requests on one client connection until either side closes it or an answer is
/// lost.
async fn proxy_connection(
    mut client: tokio::net::TcpStream,
    mut server: tokio::net::TcpStream,
    rule: std::sync::Arc<std::sync::Mutex<LoseRule>>,
    seen: std::sync::Arc<std::sync::Mutex<Vec<ProxiedRequest>>>,
) {
    use tokio::io::AsyncWriteExt;
    loop {
        let Some((head, request)) = read_message(&mut client).await else {
            return;
        };
        let n = {
            let mut seen = seen.lock().expect("not poisoned");
            seen.push(ProxiedRequest {
                request_line: head.lines().next().unwrap_or_default().to_owned(),
                idempotency_key: head.lines().find_map(|l| {
                    let (name, value) = l.split_once(':')?;
                    name.eq_ignore_ascii_case("idempotency-key")
                        .then(|| value.trim().to_owned())
                }),
                answered: false,
            });
            seen.len()
        };
        if server.write_all(&request).await.is_err() {
            return;
        }
        let Some((_, answer)) = read_message(&mut server).await else {
            return;
        };
        if (rule.lock().expect("not poisoned"))(n) {
            return; // Both connections close: the answer is lost.
        }
        if client.write_all(&answer).await.is_err() {
            return;
        }
        seen.lock().expect("not poisoned")[n - 1].answered = true;
    }
}

/// One HTTP/1.1 message with a `Content-Length` body (or none): its head as text and all
/// its bytes; `None` when the connection closes first.
async fn read_message(stream: &mut tokio::net::TcpStream) -> Option<(String, Vec<u8>)> {
    use tokio::io::AsyncReadExt;
    let mut bytes = Vec::new();
    let mut chunk = [0u8; 8192];
    loop {
        if let Some(end) = bytes.windows(4).position(|w| w == b"\r\n\r\n") {
            let head = String::from_utf8_lossy(&bytes[..end]).into_owned();
            let length: usize = head
                .lines()
                .find_map(|l| {
                    let (name, value) = l.split_once(':')?;
                    name.eq_ignore_ascii_case("content-length")
                        .then(|| value.trim().parse().expect("a length"))
                })
                .unwrap_or(0);
            if bytes.len() >= end + 4 + length {
                return Some((head, bytes));
            }
        }
        let n = stream.read(&mut chunk).await.ok()?;
        if n == 0 {
            return None;
        }
        bytes.extend_from_slice(&chunk[..n]);
    }
}

/// An environment variable for tests of the real binary: when a request with this
/// `Idempotency-Key` has committed its effect and its answer, the server prints
/// [`HALTED_AFTER_COMMIT`] and the key on stderr and never answers, so the test can
/// `kill -9` it in the one window a crash is hardest on: after the commit, before the
/// answer. Only a build with the `testing` feature reads it.
pub const HALT_AFTER_COMMIT_ENV: &str = "SEVENOWAYS_TEST_HALT_AFTER_COMMIT";
/// What the server prints on stderr when it halts (see [`HALT_AFTER_COMMIT_ENV`]).
pub const HALTED_AFTER_COMMIT: &str = "halted after commit:";

/// Stops the request for ever if [`HALT_AFTER_COMMIT_ENV`] names `key`.
pub(crate) async fn halt_after_commit(key: &str) {
    if std::env::var(HALT_AFTER_COMMIT_ENV).is_ok_and(|k| k == key) {
        eprintln!("{HALTED_AFTER_COMMIT} {key}");
        std::future::pending::<()>().await;
    }
}

/// Polls `check` every 20 ms until it returns `Some`, for at most `secs` seconds: the way
/// to wait for the queue, the scheduler or a webhook without sleeping a guessed time.
///
/// # Panics
///
/// When `secs` pass without `Some`.
pub async fn eventually<T, F, Fut>(secs: u64, mut check: F) -> T
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Option<T>>,
{
    let deadline = tokio::time::Instant::now() + Duration::from_secs(secs);
    loop {
        if let Some(v) = check().await {
            return v;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "condition not met within {secs}s"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}
