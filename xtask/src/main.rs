//! The benchmark harness: `cargo run --release -p xtask -- bench`.
//!
//! Builds the server, then in one run measures each figure of `docs/benchmarks.md`
//! ("Measured against references") next to its reference, on this machine, and writes
//! the table there. Performance claims are ratios against references measured in the
//! same run, because the machines are shared and noisy. The references are small
//! programs in this file, run as separate processes (`xtask ref-bare`, `xtask ref-naive`):
//!
//! - **bare**: an axum handler that parses and validates the same send-number JSON and
//!   answers, no storage: the ceiling for any HTTP accept path;
//! - **naive durable**: the same plus one SQLite commit per request (WAL,
//!   `synchronous=FULL`), the obvious way to make an accept durable;
//! - **naive Postgres** (`xtask ref-naive-pg`, with `--database-url`): the same with one
//!   Postgres commit per request, beside the relay on the same Postgres.
//!
//! Load: `wrk` (closed loop, max throughput; the harness says so and uses its own
//! closed-loop client when `wrk` is not installed) and an open-loop client here that
//! sends at a fixed rate and times each request from when it was *due*, so a stalled
//! server is not hidden by requests that were never sent (no coordinated omission).
//!
//! `--smoke` runs every step for a moment on debug builds and writes nothing: CI runs it
//! so the harness does not rot. It asserts nothing about speed.

use std::fmt::Write as _;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use axum::Json;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::routing::post;
use clap::{Args, Parser, Subcommand};
use sevenoways_sdk::models::messages::SendNumberRequest;
use sevenoways_sdk::validation::Validate;

#[derive(Parser)]
#[command(name = "xtask", about = "Project tasks: the benchmark harness")]
struct Cli {
    #[command(subcommand)]
    command: Task,
}

#[derive(Subcommand)]
enum Task {
    /// Run the benchmarks and write the table to docs/benchmarks.md.
    Bench(BenchArgs),
    /// The bare reference server (used by `bench`).
    RefBare {
        #[arg(long)]
        listen: SocketAddr,
    },
    /// The naive durable reference server (used by `bench`).
    RefNaive {
        #[arg(long)]
        listen: SocketAddr,
        #[arg(long)]
        data_dir: PathBuf,
    },
    /// The naive Postgres reference server (used by `bench --database-url`).
    RefNaivePg {
        #[arg(long)]
        listen: SocketAddr,
        #[arg(long)]
        database_url: String,
    },
}

#[derive(Args, Clone)]
struct BenchArgs {
    /// A few seconds in all, on whatever build this is; writes nothing (for CI).
    #[arg(long)]
    smoke: bool,
    /// Seconds of each closed-loop and open-loop run.
    #[arg(long, default_value_t = 10)]
    secs: u64,
    /// Concurrent connections of the closed-loop runs.
    #[arg(long, default_value_t = 64)]
    connections: usize,
    /// Requests per second of the open-loop run.
    #[arg(long, default_value_t = 5000)]
    rate: u64,
    /// Do not write docs/benchmarks.md, only print the table.
    #[arg(long)]
    no_write: bool,
    /// Also measure the accept path on Postgres: a URL whose role may create databases
    /// (the harness makes two and drops them).
    #[arg(long, env = "SEVENOWAYS_BENCH_DATABASE_URL", hide_env_values = true)]
    database_url: Option<String>,
    /// Measure one figure alone and print it (writes nothing): `fan-out`, `scheduler`,
    /// `sdk` (SDK sequential sends against raw reqwest), `verify` (webhook verification
    /// against raw HMAC), `open-loop` or `accept` (the closed loop beside its references,
    /// on Postgres too with `--database-url`); the last two with the group commit's batch
    /// sizes and times from `/metrics`.
    /// For working on one path without the whole run.
    #[arg(long, value_parser = ["fan-out", "scheduler", "sdk", "open-loop", "accept", "verify"])]
    only: Option<String>,
    /// With `--only`: measure this `sevenoways-server` binary instead of building one, to
    /// compare two builds back to back (copy each out of `target/release` first).
    #[arg(long, requires = "only")]
    server_bin: Option<PathBuf>,
}

fn main() -> Result<(), String> {
    let cli = Cli::parse();
    let rt = tokio::runtime::Runtime::new().map_err(|e| e.to_string())?;
    match cli.command {
        Task::Bench(args) => rt.block_on(bench(args)),
        Task::RefBare { listen } => rt.block_on(ref_bare(listen)),
        Task::RefNaive { listen, data_dir } => rt.block_on(ref_naive(listen, &data_dir)),
        Task::RefNaivePg {
            listen,
            database_url,
        } => rt.block_on(ref_naive_pg(listen, &database_url)),
    }
}

// ---------------------------------------------------------------- references

/// What both references answer, shaped like the server's answer.
fn queued(id: i64) -> Json<serde_json::Value> {
    Json(serde_json::json!({"success": true, "queued": true, "queueId": id}))
}

/// Parses and validates the body as the server does (the SDK's own request type).
fn parse(headers: &HeaderMap, body: &[u8]) -> Result<SendNumberRequest, StatusCode> {
    if headers.get("x-api-key").is_none_or(|k| k.is_empty()) {
        return Err(StatusCode::UNAUTHORIZED);
    }
    let request: SendNumberRequest =
        serde_json::from_slice(body).map_err(|_| StatusCode::BAD_REQUEST)?;
    request.validate().map_err(|_| StatusCode::BAD_REQUEST)?;
    Ok(request)
}

async fn ref_bare(listen: SocketAddr) -> Result<(), String> {
    let next = Arc::new(AtomicU64::new(1));
    let app =
        axum::Router::new().route(
            "/api/send-number",
            post(
                |State(next): State<Arc<AtomicU64>>,
                 headers: HeaderMap,
                 body: axum::body::Bytes| async move {
                    parse(&headers, &body)?;
                    Ok::<_, StatusCode>(queued(next.fetch_add(1, Ordering::Relaxed) as i64))
                },
            ),
        );
    let listener = tokio::net::TcpListener::bind(listen)
        .await
        .map_err(|e| e.to_string())?;
    axum::serve(listener, app.with_state(next))
        .await
        .map_err(|e| e.to_string())
}

async fn ref_naive(listen: SocketAddr, data_dir: &Path) -> Result<(), String> {
    use sqlx::sqlite::{
        SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous,
    };
    std::fs::create_dir_all(data_dir).map_err(|e| e.to_string())?;
    let options = SqliteConnectOptions::new()
        .filename(data_dir.join("naive.db"))
        .create_if_missing(true)
        .journal_mode(SqliteJournalMode::Wal)
        .synchronous(SqliteSynchronous::Full)
        .busy_timeout(Duration::from_secs(10));
    let pool = SqlitePoolOptions::new()
        .max_connections(4)
        .connect_with(options)
        .await
        .map_err(|e| e.to_string())?;
    sqlx::query(
        "CREATE TABLE IF NOT EXISTS queue (id INTEGER PRIMARY KEY AUTOINCREMENT,
            instance_id TEXT NOT NULL, recipient TEXT NOT NULL, content TEXT NOT NULL,
            created_at INTEGER NOT NULL)",
    )
    .execute(&pool)
    .await
    .map_err(|e| e.to_string())?;
    let app =
        axum::Router::new().route(
            "/api/send-number",
            post(
                |State(pool): State<sqlx::SqlitePool>,
                 headers: HeaderMap,
                 body: axum::body::Bytes| async move {
                    let request = parse(&headers, &body)?;
                    // One statement, one implicit transaction, one commit (fsync) per request.
                    let id: i64 = sqlx::query_scalar(
                        "INSERT INTO queue (instance_id, recipient, content, created_at)
                     VALUES (?, ?, ?, ?) RETURNING id",
                    )
                    .bind(request.instance_id.as_str())
                    .bind(serde_json::to_string(&request.phone).unwrap_or_default())
                    .bind(serde_json::to_string(&request.message).unwrap_or_default())
                    .bind(chrono::Utc::now().timestamp_millis())
                    .fetch_one(&pool)
                    .await
                    .map_err(|_| StatusCode::SERVICE_UNAVAILABLE)?;
                    Ok::<_, StatusCode>(queued(id))
                },
            ),
        );
    let listener = tokio::net::TcpListener::bind(listen)
        .await
        .map_err(|e| e.to_string())?;
    axum::serve(listener, app.with_state(pool))
        .await
        .map_err(|e| e.to_string())
}

async fn ref_naive_pg(listen: SocketAddr, url: &str) -> Result<(), String> {
    let pool = sqlx::postgres::PgPoolOptions::new()
        .max_connections(16)
        .connect(url)
        .await
        .map_err(|e| e.to_string())?;
    sqlx::query(
        "CREATE TABLE IF NOT EXISTS queue (id BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY,
            instance_id TEXT NOT NULL, recipient TEXT NOT NULL, content TEXT NOT NULL,
            created_at BIGINT NOT NULL)",
    )
    .execute(&pool)
    .await
    .map_err(|e| e.to_string())?;
    let app = axum::Router::new().route(
        "/api/send-number",
        post(
            |State(pool): State<sqlx::PgPool>, headers: HeaderMap, body: axum::body::Bytes| async move {
                let request = parse(&headers, &body)?;
                // One statement, one implicit transaction, one commit (WAL flush) per request.
                let id: i64 = sqlx::query_scalar(
                    "INSERT INTO queue (instance_id, recipient, content, created_at)
                     VALUES ($1, $2, $3, $4) RETURNING id",
                )
                .bind(request.instance_id.as_str())
                .bind(serde_json::to_string(&request.phone).unwrap_or_default())
                .bind(serde_json::to_string(&request.message).unwrap_or_default())
                .bind(chrono::Utc::now().timestamp_millis())
                .fetch_one(&pool)
                .await
                .map_err(|_| StatusCode::SERVICE_UNAVAILABLE)?;
                Ok::<_, StatusCode>(queued(id))
            },
        ),
    );
    let listener = tokio::net::TcpListener::bind(listen)
        .await
        .map_err(|e| e.to_string())?;
    axum::serve(listener, app.with_state(pool))
        .await
        .map_err(|e| e.to_string())
}

/// A new, empty database `name_<role>` on the server of `admin` (dropped first if a run
/// left it); its URL. The role is in the name because only a database's owner may drop
/// it: two roles benchmarking on one server each get their own.
async fn fresh_database(admin: &str, name: &str) -> Result<String, String> {
    use sqlx::{ConnectOptions, Connection};
    let mut conn = admin
        .parse::<sqlx::postgres::PgConnectOptions>()
        .map_err(|_| "--database-url is not a postgres:// URL".to_owned())?
        .connect()
        .await
        .map_err(|e| format!("connecting to --database-url: {e}"))?;
    let role: String = sqlx::query_scalar("SELECT current_user::text")
        .fetch_one(&mut conn)
        .await
        .map_err(|e| format!("reading the role: {e}"))?;
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
    let name = format!("{name}_{role}");
    for sql in [
        format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"),
        format!("CREATE DATABASE {name}"),
    ] {
        sqlx::query(&sql)
            .execute(&mut conn)
            .await
            .map_err(|e| format!("{sql}: {e}"))?;
    }
    let _ = conn.close().await;
    let (head, _) = admin
        .rsplit_once('/')
        .ok_or("--database-url has no database")?;
    Ok(format!("{head}/{name}"))
}

// ---------------------------------------------------------------- processes

/// A child process, killed on drop.
struct Proc(Child);

impl Drop for Proc {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

impl Proc {
    fn pid(&self) -> u32 {
        self.0.id()
    }
}

fn free_addr() -> SocketAddr {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a loopback port")
}

async fn wait_listening(addr: SocketAddr, child: &mut Proc) -> Result<(), String> {
    let deadline = Instant::now() + Duration::from_secs(60);
    while tokio::net::TcpStream::connect(addr).await.is_err() {
        if let Ok(Some(status)) = child.0.try_wait() {
            return Err(format!("exited at start: {status}"));
        }
        if Instant::now() > deadline {
            return Err(format!("nothing listens on {addr} after 60 s"));
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    Ok(())
}

fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("xtask is in the workspace")
        .to_owned()
}

/// The binaries the harness measures: the server and `svw`.
struct Binaries {
    server: PathBuf,
    svw: PathBuf,
}

/// Builds the server and `svw` with this harness's own profile, in one cargo invocation
/// with the harness itself: exactly what `benches/run` builds first, so that run finds
/// all of it fresh. (Cargo unifies features across the packages of one invocation: leave
/// any of the three out and crates they share are compiled again with the other set,
/// the server's own crate included, about 2.5 minutes here.) Under `cargo run -p xtask`,
/// which built the harness alone, this compiles the shared crates once more.
///
/// Only the two binaries are built: `xtask` is in the package list for its features, but
/// its own binary, this running process, must not be relinked under it (the reference
/// servers are started from this executable's path).
fn build(release: bool) -> Result<Binaries, String> {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let mut command = Command::new(cargo);
    command.current_dir(workspace()).args([
        "build",
        "-p",
        "xtask",
        "-p",
        "sevenoways-server",
        "-p",
        "sevenoways-cli",
        "--bin",
        "sevenoways-server",
        "--bin",
        "svw",
    ]);
    // What `cargo run` sets for this process; build scripts that watch these variables
    // would otherwise rebuild part of the tree on every run.
    for (name, _) in std::env::vars_os() {
        let name = name.to_string_lossy();
        if name.starts_with("CARGO_") && name != "CARGO_HOME" && name != "CARGO_TARGET_DIR" {
            command.env_remove(&*name);
        }
    }
    if release {
        command.arg("--release");
    }
    let status = command.status().map_err(|e| format!("cargo: {e}"))?;
    if !status.success() {
        return Err("building the server and svw failed".into());
    }
    let dir = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| workspace().join("target"))
        .join(if release { "release" } else { "debug" });
    Ok(Binaries {
        server: dir.join("sevenoways-server"),
        svw: dir.join("svw"),
    })
}

/// A relay server on a fresh data directory with an unlimited plan, a key and a paired
/// sandbox instance `bench`.
struct Relay {
    proc: Proc,
    base: String,
    key: String,
    /// The database and configuration, for more keys.
    data: PathBuf,
    config: PathBuf,
    database_url: Option<String>,
    _dir: tempfile::TempDir,
}

async fn start_relay(bin: &Path, extra_config: &str) -> Result<Relay, String> {
    start_relay_on(bin, extra_config, None, None).await
}

/// [`start_relay`] on Postgres at `database_url` when given, with its data directory in
/// `parent` when given (the system's temporary directory otherwise).
async fn start_relay_on(
    bin: &Path,
    extra_config: &str,
    database_url: Option<&str>,
    parent: Option<&Path>,
) -> Result<Relay, String> {
    let dir = match parent {
        Some(parent) => tempfile::tempdir_in(parent),
        None => tempfile::tempdir(),
    }
    .map_err(|e| e.to_string())?;
    let config = dir.path().join("bench.toml");
    std::fs::write(
        &config,
        format!(
            "[[plans]]\nname = \"bench\"\nrequests_per_minute = 0\ndaily_cap = 0\nmonthly_cap = 0\nmax_schedules = 0\n{extra_config}"
        ),
    )
    .map_err(|e| e.to_string())?;
    let data = dir.path().join("data");
    let key = create_key(bin, &data, &config, database_url, "bench")?;
    let (proc, base) = spawn_server(bin, &data, &config, database_url).await?;
    let client = sdk_client(&base, &key)?;
    let id: sevenoways_sdk::InstanceId = "bench".parse().map_err(|e| format!("{e}"))?;
    client
        .instances()
        .create(&sevenoways_sdk::models::instances::CreateInstanceRequest::new(id.clone(), "bench"))
        .await
        .map_err(|e| format!("creating the instance: {e}"))?;
    client
        .sandbox()
        .pair(&id)
        .await
        .map_err(|e| format!("pairing the instance: {e}"))?;
    Ok(Relay {
        proc,
        base,
        key,
        data,
        config,
        database_url: database_url.map(str::to_owned),
        _dir: dir,
    })
}

/// The server on `data` with `config`, on a free loopback port, once it listens; its
/// base URL.
async fn spawn_server(
    bin: &Path,
    data: &Path,
    config: &Path,
    database_url: Option<&str>,
) -> Result<(Proc, String), String> {
    let addr = free_addr();
    let mut proc = Proc(
        store_args(
            Command::new(bin).arg("--listen").arg(addr.to_string()),
            data,
            config,
            database_url,
        )
        .env("RUST_LOG", "warn")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::inherit())
        .spawn()
        .map_err(|e| format!("{}: {e}", bin.display()))?,
    );
    wait_listening(addr, &mut proc).await?;
    Ok((proc, format!("http://{addr}")))
}

impl Relay {
    /// Stops this SQLite relay and starts it again on a copy of its data in the system's
    /// temporary directory: what was written where commits are cheap (tmpfs), served
    /// from where they are not.
    async fn reopen_on_disk(self, bin: &Path) -> Result<Relay, String> {
        let Relay {
            proc,
            key,
            data: old_data,
            config: old_config,
            database_url,
            _dir: old_dir,
            ..
        } = self;
        if database_url.is_some() {
            return Err("only an SQLite relay moves".into());
        }
        // Killed, not stopped: what it committed is in its files (the log included),
        // which is all a restart reads.
        drop(proc);
        let dir = tempfile::tempdir().map_err(|e| e.to_string())?;
        let (data, config) = (dir.path().join("data"), dir.path().join("bench.toml"));
        std::fs::copy(&old_config, &config).map_err(|e| e.to_string())?;
        // Owner-only, as the server asks of its data directory.
        std::os::unix::fs::DirBuilderExt::mode(&mut std::fs::DirBuilder::new(), 0o700)
            .create(&data)
            .map_err(|e| e.to_string())?;
        for entry in std::fs::read_dir(&old_data).map_err(|e| e.to_string())? {
            let entry = entry.map_err(|e| e.to_string())?;
            if entry.file_type().map_err(|e| e.to_string())?.is_file() {
                std::fs::copy(entry.path(), data.join(entry.file_name()))
                    .map_err(|e| format!("copying {}: {e}", entry.path().display()))?;
            }
        }
        drop(old_dir);
        let (proc, base) = spawn_server(bin, &data, &config, None).await?;
        Ok(Relay {
            proc,
            base,
            key,
            data,
            config,
            database_url: None,
            _dir: dir,
        })
    }
}

/// `cmd` told where a relay's database and configuration are.
fn store_args<'c>(
    cmd: &'c mut Command,
    data: &Path,
    config: &Path,
    database_url: Option<&str>,
) -> &'c mut Command {
    cmd.arg("--data-dir").arg(data).arg("--config").arg(config);
    if let Some(url) = database_url {
        cmd.args(["--database-url", url]);
    }
    cmd
}

/// `keys create` on a relay's database with `plan`; the key.
fn create_key(
    bin: &Path,
    data: &Path,
    config: &Path,
    database_url: Option<&str>,
    plan: &str,
) -> Result<String, String> {
    let out = store_args(
        Command::new(bin).args(["keys", "create", "--name", "bench", "--plan", plan]),
        data,
        config,
        database_url,
    )
    .env("RUST_LOG", "off")
    .output()
    .map_err(|e| format!("{}: {e}", bin.display()))?;
    if !out.status.success() {
        return Err(format!(
            "keys create failed: {}",
            String::from_utf8_lossy(&out.stderr)
        ));
    }
    let key = String::from_utf8_lossy(&out.stdout)
        .lines()
        .last()
        .unwrap_or_default()
        .trim()
        .to_owned();
    Ok(key)
}

fn sdk_client(base: &str, key: &str) -> Result<sevenoways_sdk::Client, String> {
    sevenoways_sdk::Client::builder()
        .api_key(key)
        .base_url(base)
        .max_retries(0)
        .build()
        .map_err(|e| e.to_string())
}

async fn start_ref(kind: &str, dir: &Path) -> Result<(Proc, String), String> {
    start_ref_with(kind, dir, &[]).await
}

/// [`start_ref`] with more arguments.
async fn start_ref_with(kind: &str, dir: &Path, args: &[&str]) -> Result<(Proc, String), String> {
    let addr = free_addr();
    let exe = std::env::current_exe().map_err(|e| e.to_string())?;
    let mut command = Command::new(exe);
    command
        .arg(kind)
        .arg("--listen")
        .arg(addr.to_string())
        .args(args);
    if kind == "ref-naive" {
        command.arg("--data-dir").arg(dir.join("naive"));
    }
    let mut proc = Proc(
        command
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .spawn()
            .map_err(|e| e.to_string())?,
    );
    wait_listening(addr, &mut proc).await?;
    Ok((proc, format!("http://{addr}")))
}

/// The resident set of `pid`, in MiB.
fn rss_mib(pid: u32) -> Option<f64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let kb: f64 = status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))?
        .trim()
        .trim_end_matches("kB")
        .trim()
        .parse()
        .ok()?;
    Some(kb / 1024.0)
}

// ---------------------------------------------------------------- load

const BODY: &str =
    r#"{"instanceId":"bench","phone":"971501234567","message":"Hello from the benchmark"}"#;

/// A closed-loop result.
#[derive(Clone, Copy, Default)]
struct Throughput {
    per_sec: f64,
    p50_ms: f64,
    p99_ms: f64,
    errors: u64,
}

fn wrk_path() -> Option<PathBuf> {
    std::env::var_os("PATH").and_then(|paths| {
        std::env::split_paths(&paths)
            .map(|p| p.join("wrk"))
            .find(|p| p.is_file())
    })
}

/// Max throughput with `connections` concurrent callers for `secs`: wrk when installed,
/// else this harness's own client.
async fn closed_loop(
    base: &str,
    key: &str,
    connections: usize,
    secs: u64,
    dir: &Path,
) -> Result<Throughput, String> {
    match wrk_path() {
        Some(wrk) => run_wrk(&wrk, base, key, connections, secs, dir),
        None => Ok(own_closed_loop(base, key, connections, secs).await),
    }
}

fn run_wrk(
    wrk: &Path,
    base: &str,
    key: &str,
    connections: usize,
    secs: u64,
    dir: &Path,
) -> Result<Throughput, String> {
    let script = dir.join("post.lua");
    std::fs::write(
        &script,
        format!(
            "wrk.method = \"POST\"\nwrk.body = '{BODY}'\nwrk.headers[\"Content-Type\"] = \"application/json\"\nwrk.headers[\"x-api-key\"] = \"{key}\"\n"
        ),
    )
    .map_err(|e| e.to_string())?;
    let out = Command::new(wrk)
        .args([
            "-t1",
            &format!("-c{connections}"),
            &format!("-d{secs}s"),
            "--latency",
            "-s",
        ])
        .arg(&script)
        .arg(format!("{base}/api/send-number"))
        .output()
        .map_err(|e| format!("wrk: {e}"))?;
    let text = String::from_utf8_lossy(&out.stdout);
    if !out.status.success() {
        return Err(format!("wrk failed: {text}"));
    }
    let field = |prefix: &str| {
        text.lines()
            .find_map(|l| l.trim().strip_prefix(prefix).map(|v| v.trim().to_owned()))
    };
    let per_sec = field("Requests/sec:")
        .and_then(|v| v.parse().ok())
        .ok_or_else(|| format!("no Requests/sec in wrk's output: {text}"))?;
    let percentile = |p: &str| field(p).map(|v| wrk_ms(&v)).unwrap_or(f64::NAN);
    let errors = field("Non-2xx or 3xx responses:")
        .and_then(|v| v.parse().ok())
        .unwrap_or(0);
    Ok(Throughput {
        per_sec,
        p50_ms: percentile("50%"),
        p99_ms: percentile("99%"),
        errors,
    })
}

/// `1.23ms`, `456.00us`, `1.02s` in milliseconds.
fn wrk_ms(v: &str) -> f64 {
    let (number, factor) = if let Some(n) = v.strip_suffix("us") {
        (n, 0.001)
    } else if let Some(n) = v.strip_suffix("ms") {
        (n, 1.0)
    } else if let Some(n) = v.strip_suffix('s') {
        (n, 1000.0)
    } else {
        (v, f64::NAN)
    };
    number.parse::<f64>().map_or(f64::NAN, |n| n * factor)
}

fn http_client() -> reqwest::Client {
    reqwest::Client::builder()
        .pool_max_idle_per_host(1024)
        .timeout(Duration::from_secs(30))
        .build()
        .expect("a client")
}

fn post_send(client: &reqwest::Client, url: &str, key: &str) -> reqwest::RequestBuilder {
    client
        .post(url)
        .header("content-type", "application/json")
        .header("x-api-key", key)
        .body(BODY)
}

async fn own_closed_loop(base: &str, key: &str, connections: usize, secs: u64) -> Throughput {
    let client = http_client();
    let url = format!("{base}/api/send-number");
    let stop = Arc::new(AtomicBool::new(false));
    let mut tasks = tokio::task::JoinSet::new();
    for _ in 0..connections {
        let (client, url, key, stop) = (client.clone(), url.clone(), key.to_owned(), stop.clone());
        tasks.spawn(async move {
            let (mut latencies, mut errors) = (Vec::new(), 0u64);
            while !stop.load(Ordering::Relaxed) {
                let started = Instant::now();
                match post_send(&client, &url, &key).send().await {
                    Ok(r) if r.status().is_success() => {
                        let _ = r.bytes().await;
                        latencies.push(started.elapsed());
                    }
                    _ => errors += 1,
                }
            }
            (latencies, errors)
        });
    }
    let started = Instant::now();
    tokio::time::sleep(Duration::from_secs(secs)).await;
    stop.store(true, Ordering::Relaxed);
    let (mut all, mut errors) = (Vec::new(), 0);
    while let Some(Ok((latencies, e))) = tasks.join_next().await {
        all.extend(latencies);
        errors += e;
    }
    let elapsed = started.elapsed().as_secs_f64();
    all.sort();
    Throughput {
        per_sec: all.len() as f64 / elapsed,
        p50_ms: ms(percentile(&all, 0.50)),
        p99_ms: ms(percentile(&all, 0.99)),
        errors,
    }
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    let i = ((sorted.len() as f64 * p).ceil() as usize).clamp(1, sorted.len()) - 1;
    sorted[i]
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

/// An open-loop result: latency measured from each request's due time.
#[derive(Clone, Copy, Default)]
struct Latency {
    achieved: f64,
    p50_ms: f64,
    p99_ms: f64,
    p999_ms: f64,
    max_ms: f64,
    errors: u64,
}

impl Latency {
    /// Percentiles over `results` (ok, latency from the due time) sent over `elapsed` s.
    fn of(results: &[(bool, Duration)], elapsed: f64) -> Self {
        let errors = results.iter().filter(|(ok, _)| !ok).count() as u64;
        let mut latencies: Vec<Duration> = results.iter().map(|(_, d)| *d).collect();
        latencies.sort();
        Latency {
            achieved: (results.len() as u64 - errors) as f64 / elapsed,
            p50_ms: ms(percentile(&latencies, 0.50)),
            p99_ms: ms(percentile(&latencies, 0.99)),
            p999_ms: ms(percentile(&latencies, 0.999)),
            max_ms: ms(latencies.last().copied().unwrap_or_default()),
            errors,
        }
    }
}

/// Sends at `rate` per second for `secs`, each request at its due instant however the
/// earlier ones fare, and times each from that instant.
async fn open_loop(base: &str, key: &str, rate: u64, secs: u64) -> Latency {
    let (results, elapsed) = open_loop_slice(&http_client(), base, key, rate, secs as f64).await;
    Latency::of(&results, elapsed)
}

/// [`open_loop`]'s sends for `secs` on `client`: each request's (ok, latency from its
/// due time), and the seconds they took.
///
/// The pacing is a thread of its own sleeping to each instant: tokio's timer wakes on
/// whole milliseconds, which at thousands a second would send in bursts and add up to a
/// millisecond of the harness's own to every request.
async fn open_loop_slice(
    client: &reqwest::Client,
    base: &str,
    key: &str,
    rate: u64,
    secs: f64,
) -> (Vec<(bool, Duration)>, f64) {
    let url = format!("{base}/api/send-number");
    let total = (rate as f64 * secs) as u64;
    let interval = Duration::from_secs_f64(1.0 / rate as f64);
    let start = Instant::now() + Duration::from_millis(50);
    let runtime = tokio::runtime::Handle::current();
    let (done, mut finished) = tokio::sync::mpsc::unbounded_channel::<(bool, Duration)>();
    let (client, key) = (client.clone(), key.to_owned());
    let pacer = std::thread::spawn(move || {
        for i in 0..total {
            let due = start + interval.mul_f64(i as f64);
            if let Some(wait) = due.checked_duration_since(Instant::now()) {
                std::thread::sleep(wait);
            }
            let (client, url, key, done) = (client.clone(), url.clone(), key.clone(), done.clone());
            runtime.spawn(async move {
                let ok = match post_send(&client, &url, &key).send().await {
                    Ok(r) => r.status().is_success() && r.bytes().await.is_ok(),
                    Err(_) => false,
                };
                let _ = done.send((ok, due.elapsed()));
            });
        }
    });
    // The channel closes when the pacer and every request it started are done.
    let mut results: Vec<(bool, Duration)> = Vec::with_capacity(total as usize);
    while let Some(result) = finished.recv().await {
        results.push(result);
    }
    let _ = pacer.join();
    (results, start.elapsed().as_secs_f64())
}

/// Open loops at `rate` against each of `targets` (base URL, key), `secs` each, taken in
/// turns: up to five rounds in which every target gets its share in a rotating order.
/// Each figure is over all of its target's rounds. The host these run on is shared, and
/// its slow patches come and go in seconds: taken one after another, a figure and its
/// reference could each meet a different patch; in turns, every one meets them alike.
async fn open_loop_in_turns(targets: &[(&str, &str)], rate: u64, secs: u64) -> Vec<Latency> {
    let rounds = secs.clamp(1, 5) as usize;
    let slice = secs as f64 / rounds as f64;
    // One client per target for all its rounds: its connections stay open between them.
    let clients: Vec<reqwest::Client> = targets.iter().map(|_| http_client()).collect();
    let mut samples: Vec<(Vec<(bool, Duration)>, f64)> = vec![(Vec::new(), 0.0); targets.len()];
    for round in 0..rounds {
        for turn in 0..targets.len() {
            let t = (round + turn) % targets.len();
            let (base, key) = targets[t];
            let (results, elapsed) = open_loop_slice(&clients[t], base, key, rate, slice).await;
            samples[t].0.extend(results);
            samples[t].1 += elapsed;
        }
    }
    samples.iter().map(|(r, e)| Latency::of(r, *e)).collect()
}

/// What the open loop's latency is read against, measured in the same run: the HTTP and
/// load-generator floor, the software's own share, and the disk's.
struct OpenLoopRefs {
    /// The bare reference (no storage) at the same rate.
    bare: Latency,
    /// This server with its data directory on tmpfs, where a commit's fsync is free.
    tmpfs: Option<Latency>,
    /// The data directory's disk: one 4 KB append and `fdatasync`, the durable part of a
    /// group commit, timed sequentially: (p50, p99) in ms.
    fsync_ms: Option<(f64, f64)>,
}

/// The open loop at `rate` on `relay` for `secs`, and its [`OpenLoopRefs`]: bare and
/// this server on tmpfs are started beside it and the three are measured in turns
/// ([`open_loop_in_turns`]); the disk's fsync after.
async fn open_loop_with_refs(
    bin: &Path,
    relay: &Relay,
    rate: u64,
    secs: u64,
    dir: &Path,
) -> Result<(Latency, OpenLoopRefs), String> {
    let (bare_proc, bare_url) = start_ref("ref-bare", dir).await?;
    let tmpfs = match tmpfs_dir() {
        Some(shm) => Some(start_relay_on(bin, "", None, Some(&shm)).await?),
        None => {
            println!("NOTE: no tmpfs at /dev/shm: the open loop is not measured without the disk.");
            None
        }
    };
    let mut targets = vec![
        (relay.base.as_str(), relay.key.as_str()),
        (bare_url.as_str(), "k"),
    ];
    if let Some(t) = &tmpfs {
        targets.push((t.base.as_str(), t.key.as_str()));
    }
    let measured = open_loop_in_turns(&targets, rate, secs).await;
    drop((bare_proc, tmpfs));
    let fsync_ms = fsync_latency(&std::env::temp_dir(), 2000)
        .map_err(|e| println!("NOTE: could not time fsync in the temporary directory: {e}"))
        .ok();
    Ok((
        measured[0],
        OpenLoopRefs {
            bare: measured[1],
            tmpfs: measured.get(2).copied(),
            fsync_ms,
        },
    ))
}

/// `/dev/shm` when it is a writable tmpfs.
fn tmpfs_dir() -> Option<PathBuf> {
    let mounts = std::fs::read_to_string("/proc/mounts").ok()?;
    let shm = mounts.lines().any(|l| {
        let mut f = l.split_whitespace();
        (f.nth(1), f.next()) == (Some("/dev/shm"), Some("tmpfs"))
    });
    let dir = PathBuf::from("/dev/shm");
    (shm && tempfile::tempdir_in(&dir).is_ok()).then_some(dir)
}

/// `n` appends of 4 KB to a new file in `dir`, each followed by `fdatasync`: (p50, p99)
/// of the sync, in ms.
fn fsync_latency(dir: &Path, n: usize) -> std::io::Result<(f64, f64)> {
    use std::io::Write as _;
    let mut file = tempfile::tempfile_in(dir)?;
    let page = [0x5Au8; 4096];
    let mut times = Vec::with_capacity(n);
    for _ in 0..n {
        file.write_all(&page)?;
        let started = Instant::now();
        file.sync_data()?;
        times.push(started.elapsed());
    }
    times.sort();
    Ok((ms(percentile(&times, 0.50)), ms(percentile(&times, 0.99))))
}

/// The references of the open-loop row, as a table cell.
fn open_loop_refs_cell(refs: &OpenLoopRefs) -> String {
    let mut cell = format!(
        "bare at the same rate: p50 {} ms, p99 {} ms",
        f2(refs.bare.p50_ms),
        f2(refs.bare.p99_ms)
    );
    if let Some(t) = &refs.tmpfs {
        let _ = write!(
            cell,
            "; this server on tmpfs (no disk wait): p50 {} ms, p99 {} ms",
            f2(t.p50_ms),
            f2(t.p99_ms)
        );
    }
    if let Some((p50, p99)) = refs.fsync_ms {
        let _ = write!(
            cell,
            "; the disk's fsync of 4 KB alone: p50 {} ms, p99 {} ms",
            f2(p50),
            f2(p99)
        );
    }
    cell
}

// ---------------------------------------------------------------- webhook fan-out

/// A webhook fan-out result.
#[derive(Clone, Copy, Default)]
struct FanOut {
    hooks: usize,
    sends: usize,
    /// Deliveries a second offered (sends a second × events per send × webhooks).
    offered: f64,
    /// Deliveries that arrived, of `expected`.
    deliveries: usize,
    expected: usize,
    /// Deliveries a second that arrived while sends were being made (after the first
    /// second, which only fills the pipe).
    per_sec: f64,
    p50_ms: f64,
    p99_ms: f64,
    /// The server's CPU time per delivery that arrived, in µs: everything the run made
    /// it do (the sends, their events, the fan-out and the attempts). The load is offered
    /// at a fixed rate, so this compares two builds where the latency, at the mercy of
    /// the shared machine, often cannot.
    cpu_us: f64,
}

/// Paired sandbox instances the fan-out's sends are spread over.
const FAN_OUT_INSTANCES: usize = 8;

/// Events each send raises: `message.sent`, then the sandbox's `delivered` and `read`.
const EVENTS_PER_SEND: usize = 3;

/// Fan-out on a server set for it: no pacing (one number sends as fast as the sandbox
/// takes it) and room for many deliveries in flight for one account.
async fn fan_out_figure(bin: &Path, smoke: bool, postgres: Option<&str>) -> Result<FanOut, String> {
    let database = match postgres {
        Some(admin) => Some(fresh_database(admin, "sevenoways_bench_fan_out").await?),
        None => None,
    };
    let relay = start_relay_on(
        bin,
        "[pacing]\nmin_gap_ms = 0\njitter_ms = 0\n[sandbox]\ndelivered_after_ms = 50\nread_after_ms = 50\n[webhooks]\npoll_ms = 50\nmax_in_flight = 512\n\
         max_in_flight_per_account = 512\nmax_in_flight_per_endpoint = 32\n",
        database.as_deref(),
        None,
    )
    .await?;
    if smoke {
        fan_out(&relay, 4, 60.0, 2).await
    } else {
        // 10 % over the 5,000 a second of the target, so keeping up shows as ≥ 5,000.
        fan_out(&relay, 20, 5_500.0, 10).await
    }
}

/// Subscribes `hooks` webhooks to a receiver in this process, then sends at a fixed rate
/// for `secs` so that `offered` deliveries a second are raised (each send raises
/// [`EVENTS_PER_SEND`] events, each going to every webhook), and counts deliveries until
/// all arrived or none arrive for 3 s. Latency is from the event's `timestamp` to its
/// arrival, so a backlog shows in it.
async fn fan_out(relay: &Relay, hooks: usize, offered: f64, secs: u64) -> Result<FanOut, String> {
    use std::sync::Mutex;
    let arrivals: Arc<Mutex<Vec<(Instant, f64)>>> = Arc::default();
    let receiver = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .map_err(|e| e.to_string())?;
    let addr = receiver.local_addr().map_err(|e| e.to_string())?;
    let recorded = arrivals.clone();
    let app = axum::Router::new().route(
        "/hook/{n}",
        post(move |body: axum::body::Bytes| {
            let recorded = recorded.clone();
            async move {
                let now = chrono::Utc::now();
                let lag = serde_json::from_slice::<serde_json::Value>(&body)
                    .ok()
                    .and_then(|e| {
                        e["timestamp"]
                            .as_str()?
                            .parse::<chrono::DateTime<chrono::Utc>>()
                            .ok()
                    })
                    .map_or(f64::NAN, |t| {
                        (now - t).num_microseconds().unwrap_or(0) as f64 / 1000.0
                    });
                recorded
                    .lock()
                    .expect("not poisoned")
                    .push((Instant::now(), lag));
                "ok"
            }
        }),
    );
    let server = tokio::spawn(async move { axum::serve(receiver, app).await });
    let client = sdk_client(&relay.base, &relay.key)?;
    // Several numbers to send from: one number sends one message at a time (each a
    // round trip to its engine), which would cap the events raised, not the fan-out.
    let mut instances = Vec::with_capacity(FAN_OUT_INSTANCES);
    for n in 0..FAN_OUT_INSTANCES {
        let id: sevenoways_sdk::InstanceId =
            format!("fan{n}").parse().map_err(|e| format!("{e}"))?;
        client
            .instances()
            .create(
                &sevenoways_sdk::models::instances::CreateInstanceRequest::new(
                    id.clone(),
                    "fan-out",
                ),
            )
            .await
            .map_err(|e| format!("creating instance {id}: {e}"))?;
        client
            .sandbox()
            .pair(&id)
            .await
            .map_err(|e| format!("pairing instance {id}: {e}"))?;
        instances.push(id);
    }
    for n in 0..hooks {
        client
            .webhooks()
            .create(&sevenoways_sdk::models::webhooks::CreateWebhookRequest {
                url: format!("http://{addr}/hook/{n}"),
                // The message events only: the numbers' `instance.online` from pairing
                // them just now may be fanned out after some webhooks exist, which made
                // 4 to 140 arrivals more than the sends raised, varying with timing.
                events: ["message.sent", "message.delivered", "message.read"]
                    .map(String::from)
                    .to_vec(),
                secret: None,
            })
            .await
            .map_err(|e| format!("creating webhook {n}: {e}"))?;
    }
    let http = http_client();
    let url = format!("{}/api/send-number", relay.base);
    let sends_per_sec = offered / (EVENTS_PER_SEND * hooks) as f64;
    let sends = (sends_per_sec * secs as f64).round().max(1.0) as usize;
    let interval = Duration::from_secs_f64(1.0 / sends_per_sec);
    let cpu_before = cpu_secs(relay.proc.pid());
    let begin = Instant::now();
    let start = tokio::time::Instant::now();
    let mut tasks = tokio::task::JoinSet::new();
    for i in 0..sends {
        tokio::time::sleep_until(start + interval.mul_f64(i as f64)).await;
        let body = format!(
            r#"{{"instanceId":"{}","phone":"97150{:07}","message":"Hello from the benchmark"}}"#,
            instances[i % instances.len()],
            i
        );
        let request = http
            .post(&url)
            .header("content-type", "application/json")
            .header("x-api-key", &relay.key)
            .body(body);
        tasks.spawn(async move {
            let _ = request.send().await;
        });
        while tasks.try_join_next().is_some() {}
    }
    while tasks.join_next().await.is_some() {}
    let sent_for = begin.elapsed();
    let expected = sends * EVENTS_PER_SEND * hooks;
    let deadline = Instant::now() + Duration::from_secs(60 + 2 * secs);
    let mut last_count = 0;
    let mut quiet_since = Instant::now();
    while Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(100)).await;
        let count = arrivals.lock().expect("not poisoned").len();
        if count >= expected {
            break;
        }
        if count != last_count {
            last_count = count;
            quiet_since = Instant::now();
        } else if quiet_since.elapsed() > Duration::from_secs(3) {
            break;
        }
    }
    server.abort();
    let cpu = cpu_secs(relay.proc.pid())
        .zip(cpu_before)
        .map_or(f64::NAN, |(after, before)| after - before);
    let arrivals = arrivals.lock().expect("not poisoned").clone();
    if arrivals.is_empty() {
        return Err("no webhook delivery arrived".into());
    }
    // The rate while sends went on, past the first second (which only fills the pipe).
    let from = begin + Duration::from_secs(1).min(sent_for / 2);
    let to = begin + sent_for;
    let steady = arrivals
        .iter()
        .filter(|(at, _)| *at >= from && *at < to)
        .count();
    let mut lags: Vec<f64> = arrivals
        .iter()
        .map(|(_, l)| *l)
        .filter(|l| !l.is_nan())
        .collect();
    lags.sort_by(f64::total_cmp);
    let pick = |p: f64| {
        lags.get(((lags.len() as f64 * p).ceil() as usize).clamp(1, lags.len().max(1)) - 1)
            .copied()
            .unwrap_or(f64::NAN)
    };
    Ok(FanOut {
        hooks,
        sends,
        offered,
        deliveries: arrivals.len(),
        expected,
        per_sec: steady as f64 / (to - from).as_secs_f64().max(1e-3),
        p50_ms: pick(0.5),
        p99_ms: pick(0.99),
        cpu_us: cpu * 1e6 / arrivals.len() as f64,
    })
}

/// One line for a fan-out figure.
fn print_fan_out(label: &str, fan: &FanOut) {
    println!(
        "{label}: {} of {} deliveries, {:.0}/s of {:.0} offered, p50 {:.1} ms, p99 {:.1} ms, {:.1} µs of server CPU each",
        fan.deliveries, fan.expected, fan.per_sec, fan.offered, fan.p50_ms, fan.p99_ms, fan.cpu_us
    );
}

// ---------------------------------------------------------------- noisy neighbour

/// One tenant's accept latency at a steady rate, alone and beside a neighbour flooding
/// the server past its plan's limit.
struct Neighbour {
    rate: u64,
    alone: Latency,
    noisy: Latency,
    /// The neighbour's requests a second (nearly all refused with 429).
    flood_per_sec: f64,
}

async fn noisy_neighbour(
    bin: &Path,
    rate: u64,
    secs: u64,
    flood_connections: usize,
) -> Result<Neighbour, String> {
    let relay = start_relay(bin, "").await?;
    // The neighbour: the built-in plan (60 sends a minute), hammering from another process.
    let noisy_key = create_key(
        bin,
        &relay.data,
        &relay.config,
        relay.database_url.as_deref(),
        "default",
    )?;
    let alone = open_loop(&relay.base, &relay.key, rate, secs).await;
    let (base, dir) = (relay.base.clone(), relay._dir.path().to_owned());
    let flood = tokio::task::spawn_blocking(move || match wrk_path() {
        Some(wrk) => run_wrk(&wrk, &base, &noisy_key, flood_connections, secs + 1, &dir),
        None => Err("wrk is not installed".into()),
    });
    let flood = match wrk_path() {
        // The harness's own flood would share this process's runtime with the measured
        // tenant's client; only a separate process is a fair neighbour.
        None => {
            flood.abort();
            None
        }
        Some(_) => Some(flood),
    };
    let noisy = open_loop(&relay.base, &relay.key, rate, secs).await;
    let flood_per_sec = match flood {
        Some(f) => f
            .await
            .map_err(|e| e.to_string())?
            .map(|t| t.per_sec)
            .unwrap_or(f64::NAN),
        None => f64::NAN,
    };
    Ok(Neighbour {
        rate,
        alone,
        noisy,
        flood_per_sec,
    })
}

// ---------------------------------------------------------------- the scheduler

/// The scheduler with many schedules: what an idle server costs, and how late the
/// schedules due at one minute fire.
struct SchedulerFigures {
    schedules: usize,
    /// Schedules due at the minute measured.
    due: u64,
    /// CPU the server used while none was due, in percent of one core.
    idle_cpu_pct: f64,
    /// Runs fired at the minute measured.
    fired: u64,
    /// Upper bounds of the fire-lag buckets holding the median and the 99th percentile
    /// (`sevenoways_schedule_fire_lag_seconds`).
    lag_p50_s: f64,
    lag_p99_s: f64,
}

/// CPU seconds `pid` has used (user and system).
fn cpu_secs(pid: u32) -> Option<f64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // Fields after the command's closing parenthesis; utime and stime are the 12th and
    // 13th of them, in clock ticks (100 a second on Linux).
    let rest = stat.rsplit_once(')')?.1;
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let ticks: f64 = fields.get(11)?.parse::<f64>().ok()? + fields.get(12)?.parse::<f64>().ok()?;
    Some(ticks / 100.0)
}

/// The relay's `/metrics` page (its `[metrics]` token is `bench`).
/// [`closed_loop`] against the process `pid`, with the CPU it spent per request, in µs
/// (`/proc/<pid>/stat`). Both the server and the bare reference are CPU-bound on the core
/// the load generator leaves them, so their ratio follows this.
async fn closed_loop_cpu(
    pid: u32,
    url: &str,
    key: &str,
    conns: usize,
    secs: u64,
    dir: &Path,
) -> Result<(Throughput, f64), String> {
    let before = cpu_secs(pid);
    let run = closed_loop(url, key, conns, secs, dir).await?;
    let spent = cpu_secs(pid).zip(before).map_or(f64::NAN, |(b, a)| b - a);
    let per_request = spent * 1e6 / (run.per_sec * secs as f64);
    Ok((run, per_request))
}

/// The accept path on Postgres beside one commit per request on the same Postgres, each
/// on a fresh database made through `admin`: (this server, naive), with this server still
/// running so its `/metrics` can be read.
async fn postgres_accept(
    bin: &Path,
    admin: &str,
    extra_config: &str,
    dir: &Path,
    conns: usize,
    secs: u64,
) -> Result<(Throughput, Throughput, Relay), String> {
    let naive_db = fresh_database(admin, "sevenoways_bench_naive").await?;
    let (proc, url) = start_ref_with("ref-naive-pg", dir, &["--database-url", &naive_db]).await?;
    let naive = closed_loop(&url, "k", conns, secs, dir).await?;
    drop(proc);
    let relay_db = fresh_database(admin, "sevenoways_bench_relay").await?;
    let relay = start_relay_on(bin, extra_config, Some(&relay_db), None).await?;
    let ours = closed_loop(&relay.base, &relay.key, conns, secs, dir).await?;
    Ok((ours, naive, relay))
}

/// Prints the group commit's batch sizes and commit times from the relay's `/metrics`.
async fn print_group_commit(relay: &Relay) -> Result<(), String> {
    let page = metrics_page(relay).await?;
    for (name, unit) in [
        ("sevenoways_group_commit_batch_size", "entries"),
        ("sevenoways_group_commit_duration_seconds", "s"),
    ] {
        let (p50, batches) = histogram_quantile(&page, name, 0.5);
        let (p99, _) = histogram_quantile(&page, name, 0.99);
        println!("{name}: {batches} batches, p50 ≤ {p50} {unit}, p99 ≤ {p99} {unit}");
    }
    // A commit's tail is rare and long (a checkpoint, a slow fsync): every request that
    // arrives meanwhile waits behind it, so a few such commits make the requests' p99
    // while the commits' own p99 does not show them. Counted here.
    let name = "sevenoways_group_commit_duration_seconds";
    let over =
        |bound: f64| histogram_over(&page, name, bound).map_or("—".into(), |n| n.to_string());
    println!(
        "group commits over 5 ms: {}, over 10 ms: {}, over 25 ms: {}",
        over(0.005),
        over(0.01),
        over(0.025)
    );
    Ok(())
}

/// How many observations of the histogram `name` on a Prometheus page are above the
/// bucket bound `bound` (`None` without such a bucket).
fn histogram_over(page: &str, name: &str, bound: f64) -> Option<u64> {
    let bucket = format!("{name}_bucket{{le=\"");
    let mut total = None;
    let mut under = None;
    for line in page.lines().filter_map(|l| l.strip_prefix(&bucket)) {
        let (le, rest) = line.split_once('"')?;
        let count: u64 = rest.rsplit(' ').next()?.parse().ok()?;
        if le == "+Inf" {
            total = Some(count);
        } else if le.parse::<f64>().ok() == Some(bound) {
            under = Some(count);
        }
    }
    Some(total? - under?)
}

async fn metrics_page(relay: &Relay) -> Result<String, String> {
    http_client()
        .get(format!("{}/metrics", relay.base))
        .header("authorization", "Bearer bench")
        .send()
        .await
        .map_err(|e| e.to_string())?
        .text()
        .await
        .map_err(|e| e.to_string())
}

/// `le` bucket bound holding quantile `q` of the histogram `name` on a Prometheus page,
/// and the histogram's count.
fn histogram_quantile(page: &str, name: &str, q: f64) -> (f64, u64) {
    let bucket = format!("{name}_bucket{{le=\"");
    let buckets: Vec<(f64, u64)> = page
        .lines()
        .filter_map(|l| l.strip_prefix(&bucket))
        .filter_map(|l| {
            let (le, rest) = l.split_once('"')?;
            let count = rest.rsplit(' ').next()?.parse().ok()?;
            let le = if le == "+Inf" {
                f64::INFINITY
            } else {
                le.parse().ok()?
            };
            Some((le, count))
        })
        .collect();
    let total = buckets.last().map_or(0, |b| b.1);
    let want = (total as f64 * q).ceil() as u64;
    let le = buckets
        .iter()
        .find(|(_, c)| *c >= want.max(1))
        .map_or(f64::NAN, |b| b.0);
    (le, total)
}

/// The scheduler figure: 100,000 schedules (120 in smoke mode, without waiting for a
/// due minute).
async fn scheduler_figure(bin: &Path, smoke: bool) -> Result<SchedulerFigures, String> {
    scheduler_setup(bin, smoke).await?.finish().await
}

/// The scheduler row's server, holding all its schedules but the first due minute's.
struct SchedulerSetup {
    relay: Relay,
    count: usize,
    /// Schedules created so far.
    created: u64,
    /// The other schedules are due from a minute after this.
    base: chrono::DateTime<chrono::Utc>,
    idle: Duration,
    wait_for_fire: bool,
}

/// The start of `t`'s minute.
fn minute_of(t: chrono::DateTime<chrono::Utc>) -> Result<chrono::DateTime<chrono::Utc>, String> {
    use chrono::Timelike;
    t.with_second(0)
        .and_then(|t| t.with_nanosecond(0))
        .ok_or_else(|| "a minute".into())
}

/// Step one of the scheduler row: creates all but the first due minute's schedules,
/// spread over the minutes of the next hour.
///
/// They are created on tmpfs when there is one with room, and the server then restarted
/// on a copy on disk, which serves the rest of the row: the row measures a server holding
/// them, not one durable commit per creation (86–117 s of the run on disk, one commit each; a
/// durable commit's cost is the accept rows' figure).
async fn scheduler_setup(bin: &Path, smoke: bool) -> Result<SchedulerSetup, String> {
    let (count, idle_secs, wait_for_fire) = if smoke {
        (120, 1, false)
    } else {
        (100_000, 10, true)
    };
    // A database of 100,000 schedules is ~40 MB with its log; a small /dev/shm (Docker's
    // is 64 MB) would fill up and fail the row, so it has to have room to spare.
    let tmpfs = tmpfs_dir().filter(|dir| {
        rustix::fs::statvfs(dir).is_ok_and(|fs| fs.f_bavail * fs.f_frsize >= 512 << 20)
    });
    let relay = start_relay_on(
        bin,
        "[metrics]\ntoken = \"bench\"\n[pacing]\nmin_gap_ms = 0\njitter_ms = 0\n",
        None,
        tmpfs.as_deref(),
    )
    .await?;
    // Minutes 1..59 of the hour after `base`: none is due for the next ten minutes, ample
    // for creating them, the rows run while waiting (`spare`) and the first minute's.
    let base = minute_of(chrono::Utc::now() + chrono::Duration::minutes(10))?;
    let rest: Vec<usize> = (0..count).filter(|i| i % 60 != 0).collect();
    let began = Instant::now();
    let created = create_schedules(&relay, &rest, |i| {
        base + chrono::Duration::minutes((i % 60) as i64)
    })
    .await;
    let relay = if tmpfs.is_some() {
        relay.reopen_on_disk(bin).await?
    } else {
        relay
    };
    eprintln!(
        "scheduler: {created} schedules created in {:.1} s{}",
        began.elapsed().as_secs_f64(),
        if tmpfs.is_some() {
            " on tmpfs, and the server restarted on a copy on disk"
        } else {
            ""
        }
    );
    Ok(SchedulerSetup {
        relay,
        count,
        created,
        base,
        idle: Duration::from_secs(idle_secs),
        wait_for_fire,
    })
}

impl SchedulerSetup {
    /// How long other rows may run before [`SchedulerSetup::finish`] without it waiting
    /// any longer for its minute: the time until the next minute boundary, less the
    /// `finish` needs before one (1,667 creations and the idle window, with a margin),
    /// modulo a minute. Run then, a row costs the run nothing.
    fn spare(&self) -> Duration {
        let into_minute = chrono::Utc::now().timestamp_millis().rem_euclid(60_000) as u64;
        let to_boundary = 60_000 - into_minute;
        let lead = (self.idle + Duration::from_secs(8)).as_millis() as u64;
        Duration::from_millis((to_boundary + 60_000 - lead % 60_000) % 60_000)
    }

    /// Step two: creates the first due minute's schedules, due at the next minute
    /// boundary at least 5 s away, measures the idle server's CPU while none is due,
    /// waits for that minute and reads its fire lag from `/metrics`.
    ///
    /// The first due minute's schedules are created last, once the others are in: that
    /// minute is then the next one, so the run does not wait for a minute guessed before
    /// knowing how long creating the rest takes. The idle window goes before it when
    /// there is room, after its fire when not (nothing else is due for a minute then).
    async fn finish(self) -> Result<SchedulerFigures, String> {
        let SchedulerSetup {
            relay,
            count,
            created,
            base,
            idle,
            wait_for_fire,
        } = self;
        // Creating the first minute's 1,667 schedules takes about a second.
        let first = minute_of(chrono::Utc::now() + chrono::Duration::seconds(65))?;
        if first > base {
            return Err(
                "creating the schedules took over eight minutes: too slow to measure".into(),
            );
        }
        let firsts: Vec<usize> = (0..count).filter(|i| i % 60 == 0).collect();
        let created = created + create_schedules(&relay, &firsts, |_| first).await;
        let schedules = created as usize;
        if schedules < count {
            return Err(format!(
                "only {schedules} of {count} schedules were created"
            ));
        }
        let pid = relay.proc.pid();
        let idle_cpu = || async {
            let before = cpu_secs(pid).unwrap_or(f64::NAN);
            tokio::time::sleep(idle).await;
            let after = cpu_secs(pid).unwrap_or(f64::NAN);
            (after - before) / idle.as_secs_f64() * 100.0
        };
        // Idle: nothing is due until `first`; measured in a whole window that ends 5 s
        // before it when there is room for one, after the fire otherwise (below; NaN,
        // "not measured", if neither).
        let until_first = (first - chrono::Utc::now()).to_std().unwrap_or_default();
        let mut idle_cpu_pct = if until_first >= idle + Duration::from_secs(5) {
            idle_cpu().await
        } else {
            f64::NAN
        };
        let due = firsts.len() as u64;
        if !wait_for_fire {
            return Ok(SchedulerFigures {
                schedules,
                due: 0,
                idle_cpu_pct,
                fired: 0,
                lag_p50_s: f64::NAN,
                lag_p99_s: f64::NAN,
            });
        }
        // The first due minute, then up to 10 s for its runs to fire: the lag histogram
        // is read a few times a second and the wait ends once every due run is in it.
        let until = (first - chrono::Utc::now()).to_std().unwrap_or_default();
        tokio::time::sleep(until).await;
        let name = "sevenoways_schedule_fire_lag_seconds";
        let deadline = Instant::now() + Duration::from_secs(10);
        let page = loop {
            let page = metrics_page(&relay).await?;
            if histogram_quantile(&page, name, 0.5).1 >= due || Instant::now() >= deadline {
                break page;
            }
            tokio::time::sleep(Duration::from_millis(250)).await;
        };
        if idle_cpu_pct.is_nan() {
            // Nothing else is due for a minute after `first` (the others start a minute
            // after `base`); 5 s lets the fired runs' sends drain first.
            tokio::time::sleep(Duration::from_secs(5)).await;
            idle_cpu_pct = idle_cpu().await;
        }
        let (lag_p50_s, fired) = histogram_quantile(&page, name, 0.5);
        let (lag_p99_s, _) = histogram_quantile(&page, name, 0.99);
        Ok(SchedulerFigures {
            schedules,
            due,
            idle_cpu_pct,
            fired,
            lag_p50_s,
            lag_p99_s,
        })
    }
}

/// Creates one schedule per index in `which` through the API (32 at a time), each due
/// daily at `at(i)`; how many were created.
async fn create_schedules(
    relay: &Relay,
    which: &[usize],
    at: impl Fn(usize) -> chrono::DateTime<chrono::Utc>,
) -> u64 {
    use chrono::Timelike;
    let http = http_client();
    let url = format!("{}/api/schedules", relay.base);
    let created = Arc::new(AtomicU64::new(0));
    let mut tasks = tokio::task::JoinSet::new();
    let workers = 32;
    for w in 0..workers {
        let bodies: Vec<serde_json::Value> = which
            .iter()
            .skip(w)
            .step_by(workers)
            .map(|&i| {
                let at = at(i);
                serde_json::json!({
                    "instanceId": "bench",
                    "cronExpr": format!("{} {} * * *", at.minute(), at.hour()),
                    "phone": "971501234567",
                    "message": format!("schedule {i}"),
                })
            })
            .collect();
        let (http, url, key, created) = (
            http.clone(),
            url.clone(),
            relay.key.clone(),
            created.clone(),
        );
        tasks.spawn(async move {
            for body in bodies {
                let ok = http
                    .post(&url)
                    .header("x-api-key", &key)
                    .json(&body)
                    .send()
                    .await
                    .is_ok_and(|r| r.status().is_success());
                if ok {
                    created.fetch_add(1, Ordering::Relaxed);
                }
            }
        });
    }
    while tasks.join_next().await.is_some() {}
    created.load(Ordering::Relaxed)
}

// ---------------------------------------------------------------- client-side figures

/// `svw send` and `curl` with the same request, `n` of each alternated; total seconds of
/// each, or `None` without curl.
fn svw_vs_curl(
    svw: &Path,
    relay: &Relay,
    n: usize,
    dir: &Path,
) -> Result<Option<(f64, f64)>, String> {
    let Some(curl) = std::env::var_os("PATH").and_then(|paths| {
        std::env::split_paths(&paths)
            .map(|p| p.join("curl"))
            .find(|p| p.is_file())
    }) else {
        println!("NOTE: curl is not installed: `svw send` vs curl is not measured");
        return Ok(None);
    };
    let url = format!("{}/api/send-number", relay.base);
    let (mut svw_secs, mut curl_secs) = (0.0, 0.0);
    for _ in 0..n {
        let started = Instant::now();
        let status = Command::new(svw)
            .args([
                "send",
                "--to",
                "971501234567",
                "--message",
                "Hello from the benchmark",
            ])
            .env("SEVENOWAYS_API_KEY", &relay.key)
            .env("SEVENOWAYS_BASE_URL", &relay.base)
            .env("SEVENOWAYS_INSTANCE", "bench")
            // No profile of the person running the benchmark.
            .env("HOME", dir)
            .env("XDG_CONFIG_HOME", dir)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .map_err(|e| format!("{}: {e}", svw.display()))?;
        svw_secs += started.elapsed().as_secs_f64();
        if !status.success() {
            return Err(format!("svw send failed: {status}"));
        }
        let started = Instant::now();
        let out = Command::new(&curl)
            .args([
                "-s",
                "-o",
                "/dev/null",
                "-w",
                "%{http_code}",
                "-X",
                "POST",
                &url,
            ])
            .args(["-H", "content-type: application/json"])
            .args(["-H", &format!("x-api-key: {}", relay.key)])
            .args(["-d", BODY])
            .output()
            .map_err(|e| format!("curl: {e}"))?;
        curl_secs += started.elapsed().as_secs_f64();
        if out.stdout != b"200" {
            return Err(format!("curl got {}", String::from_utf8_lossy(&out.stdout)));
        }
    }
    Ok(Some((svw_secs, curl_secs)))
}

/// Sequential sends through the SDK and through raw reqwest with the same requests,
/// alternated send by send so drift in the machine's load hits both alike. Returns the
/// seconds each took in all.
async fn sdk_vs_raw(base: &str, key: &str, n: usize) -> Result<(f64, f64), String> {
    let sdk = sdk_client(base, key)?;
    let raw = reqwest::Client::new();
    let url = format!("{base}/api/send-number");
    let request = SendNumberRequest::new(
        "bench".parse().map_err(|e| format!("{e}"))?,
        "971501234567".parse().map_err(|e| format!("{e}"))?,
        "Hello from the benchmark"
            .to_owned()
            .try_into()
            .map_err(|e| format!("{e}"))?,
    );
    let raw_request = async || -> Result<(), String> {
        // The same request as the SDK's, which names each POST with a fresh
        // Idempotency-Key (the server then records its answer): the figure is the SDK's
        // own cost, not the key's.
        let response = post_send(&raw, &url, key)
            .header(
                "idempotency-key",
                sevenoways_sdk::IdempotencyKey::generate().as_str(),
            )
            .send()
            .await
            .map_err(|e| format!("raw send: {e}"))?;
        if !response.status().is_success() {
            return Err(format!("raw send: {}", response.status()));
        }
        let _: serde_json::Value = response.json().await.map_err(|e| e.to_string())?;
        Ok(())
    };
    // Each send waits for a group commit's fsync, whose time on a shared disk swings by
    // tens of times from one moment to the next: so the two sides alternate send by send
    // (a slow patch falls on both alike), after a warm-up (connections, the server's
    // caches) that is not counted.
    let (mut sdk_secs, mut raw_secs) = (0.0, 0.0);
    let sdk_send = async || -> Result<f64, String> {
        let started = Instant::now();
        sdk.messages()
            .send_number(&request)
            .await
            .map_err(|e| format!("SDK send: {e}"))?;
        Ok(started.elapsed().as_secs_f64())
    };
    let raw_send = async || -> Result<f64, String> {
        let started = Instant::now();
        raw_request().await?;
        Ok(started.elapsed().as_secs_f64())
    };
    for i in 0..n + n / 10 {
        // Each goes first every other time, so neither always follows the other's commit.
        let (sdk_took, raw_took) = if i % 2 == 0 {
            let sdk_took = sdk_send().await?;
            (sdk_took, raw_send().await?)
        } else {
            let raw_took = raw_send().await?;
            (sdk_send().await?, raw_took)
        };
        if i >= n / 10 {
            sdk_secs += sdk_took;
            raw_secs += raw_took;
        }
    }
    Ok((sdk_secs, raw_secs))
}

/// The SDK's webhook check against a bare HMAC-SHA256 over the same bytes, compared in
/// constant time; seconds for `n` checks each.
fn verify_vs_hmac(n: usize) -> (f64, f64) {
    use hmac::{Hmac, Mac};
    use sevenoways_sdk::WebhookSecret;
    let body = serde_json::json!({
        "id": "evt_01JBENCH0000000000000000",
        "type": "message.sent",
        "createdAt": "2026-12-01T12:00:00.000Z",
        "data": {"queueId": 142, "to": "971501234567", "instanceId": "bench", "kind": "text"}
    })
    .to_string();
    let secret = WebhookSecret::new("a-webhook-secret-of-reasonable-length");
    let header = sevenoways_sdk::signature::sign(&secret, body.as_bytes());
    let verifier = sevenoways_sdk::signature::Verifier::new([secret]);
    let key = b"a-webhook-secret-of-reasonable-length";
    let mut ok = 0usize;
    let (mut sdk_secs, mut raw_secs) = (0.0, 0.0);
    // Alternated in rounds, so a slow patch of the shared machine falls on both; the
    // first round only warms up (caches, the CPU's clock) and is not counted.
    let rounds = 8;
    for round in 0..=rounds {
        if round == 1 {
            (sdk_secs, raw_secs) = (0.0, 0.0);
        }
        let started = Instant::now();
        for _ in 0..n / rounds {
            ok += verifier
                .verify_signature(std::hint::black_box(body.as_bytes()), Some(&header))
                .is_ok() as usize;
        }
        sdk_secs += started.elapsed().as_secs_f64();
        let started = Instant::now();
        for _ in 0..n / rounds {
            let hex_part = &header["sha256=".len()..];
            let mut given = [0u8; 32];
            let decoded = hex::decode_to_slice(hex_part, &mut given).is_ok();
            let mut mac = Hmac::<sha2::Sha256>::new_from_slice(key).expect("any key length");
            mac.update(std::hint::black_box(body.as_bytes()));
            ok += (decoded && mac.verify_slice(&given).is_ok()) as usize;
        }
        raw_secs += started.elapsed().as_secs_f64();
    }
    assert_eq!(
        ok,
        2 * (n / rounds) * (rounds + 1),
        "every signature checks"
    );
    (sdk_secs, raw_secs)
}

// ---------------------------------------------------------------- the run

struct Report {
    lines: Vec<String>,
}

impl Report {
    fn row(&mut self, cells: &[String]) {
        let line = format!("| {} |", cells.join(" | "));
        println!("{line}");
        self.lines.push(line);
    }
}

fn f0(v: f64) -> String {
    if v.is_nan() {
        "—".into()
    } else {
        let v = v.round() as i64;
        let s = v.abs().to_string();
        let mut out = String::new();
        for (i, c) in s.chars().enumerate() {
            if i > 0 && (s.len() - i) % 3 == 0 {
                out.push('\u{202f}');
            }
            out.push(c);
        }
        if v < 0 { format!("-{out}") } else { out }
    }
}

fn f2(v: f64) -> String {
    if v.is_nan() {
        "—".into()
    } else {
        format!("{v:.2}")
    }
}

fn verdict(ok: bool) -> &'static str {
    if ok { "met" } else { "**not met**" }
}

/// The rows that may run while the scheduler row waits for its minute.
#[derive(Clone, Copy)]
enum Row {
    FanOut,
    FanOutPostgres,
    Neighbour,
    Verify,
}

impl Row {
    /// About how long the row takes with `secs` per measurement, with a margin.
    fn takes(self, secs: u64) -> Duration {
        Duration::from_secs(match self {
            Row::FanOut | Row::FanOutPostgres => secs + 8,
            Row::Neighbour => 2 * secs + 4,
            Row::Verify => 2,
        })
    }
}

/// The figures of the [`Row`]s, as they run.
#[derive(Default)]
struct Later {
    fan: Option<FanOut>,
    fan_pg: Option<FanOut>,
    neighbour: Option<Neighbour>,
    /// Seconds for the verifier's checks and for raw HMAC's.
    verify: Option<(f64, f64)>,
}

impl Later {
    async fn run(&mut self, row: Row, bin: &Path, args: &BenchArgs) -> Result<(), String> {
        match row {
            Row::FanOut => {
                let fan = fan_out_figure(bin, args.smoke, None).await?;
                println!(
                    "webhook fan-out: {} of {} deliveries, {:.0}/s of {:.0} offered, p50 {:.1} ms",
                    fan.deliveries, fan.expected, fan.per_sec, fan.offered, fan.p50_ms
                );
                self.fan = Some(fan);
            }
            Row::FanOutPostgres => {
                let admin = args.database_url.as_deref().ok_or("no database URL")?;
                let fan = fan_out_figure(bin, args.smoke, Some(admin)).await?;
                println!(
                    "webhook fan-out on Postgres: {:.0}/s, p50 {:.1} ms",
                    fan.per_sec, fan.p50_ms
                );
                self.fan_pg = Some(fan);
            }
            Row::Neighbour => {
                let rate = if args.smoke { 50 } else { 500 };
                let neighbour = noisy_neighbour(bin, rate, args.secs, 64).await?;
                println!(
                    "noisy neighbour: p99 alone {:.2} ms, beside a flood of {:.0} req/s {:.2} ms",
                    neighbour.alone.p99_ms, neighbour.flood_per_sec, neighbour.noisy.p99_ms
                );
                self.neighbour = Some(neighbour);
            }
            Row::Verify => {
                self.verify = Some(verify_vs_hmac(if args.smoke { 4000 } else { 400_000 }));
            }
        }
        Ok(())
    }
}

async fn bench(args: BenchArgs) -> Result<(), String> {
    let release = !cfg!(debug_assertions);
    let mut args = args;
    if args.smoke {
        args.secs = 2;
        args.connections = 16;
        args.rate = 300;
        args.no_write = true;
    } else if !release {
        return Err(
            "benchmarks need release builds: cargo run --release -p xtask -- bench \
             (or --smoke for a quick check that the harness runs)"
                .into(),
        );
    }
    let generator = match wrk_path() {
        Some(p) => {
            let version = Command::new(&p)
                .arg("--version")
                .output()
                .map(|o| {
                    String::from_utf8_lossy(&o.stdout)
                        .lines()
                        .next()
                        .unwrap_or("")
                        .to_owned()
                })
                .unwrap_or_default();
            format!(
                "`wrk` ({}), -t1",
                version.split(" [").next().unwrap_or("wrk").trim()
            )
        }
        None => {
            println!(
                "NOTE: wrk is not installed (apt-get install wrk): the closed-loop figures use \
                 this harness's own client, which shares the cores with the server."
            );
            "the harness's own client (`wrk` not installed)".into()
        }
    };
    let (bin, svw) = match &args.server_bin {
        Some(bin) => (bin.clone(), None),
        None => {
            let built = build(release)?;
            (built.server, Some(built.svw))
        }
    };
    match args.only.as_deref() {
        Some("fan-out") => {
            if let Some(admin) = &args.database_url {
                let fan = fan_out_figure(&bin, args.smoke, Some(admin)).await?;
                print_fan_out("webhook fan-out on Postgres", &fan);
            }
            print_fan_out(
                "webhook fan-out",
                &fan_out_figure(&bin, args.smoke, None).await?,
            );
            return Ok(());
        }
        Some("open-loop") => {
            let relay = start_relay(&bin, "[metrics]\ntoken = \"bench\"\n").await?;
            let dir = tempfile::tempdir().map_err(|e| e.to_string())?;
            let (open, refs) =
                open_loop_with_refs(&bin, &relay, args.rate, args.secs, dir.path()).await?;
            println!(
                "open loop at {} req/s: p50 {:.2} ms, p99 {:.2} ms, p99.9 {:.2} ms, max {:.2} ms, {} errors",
                args.rate, open.p50_ms, open.p99_ms, open.p999_ms, open.max_ms, open.errors
            );
            print_group_commit(&relay).await?;
            drop(relay);
            println!("references: {}", open_loop_refs_cell(&refs));
            return Ok(());
        }
        Some("accept") => {
            let dir = tempfile::tempdir().map_err(|e| e.to_string())?;
            let (secs, conns) = (args.secs, args.connections);
            let (proc, url) = start_ref("ref-bare", dir.path()).await?;
            let (bare, bare_cpu) =
                closed_loop_cpu(proc.pid(), &url, "k", conns, secs, dir.path()).await?;
            drop(proc);
            let (proc, url) = start_ref("ref-naive", dir.path()).await?;
            let naive = closed_loop(&url, "k", conns, secs, dir.path()).await?;
            drop(proc);
            let metrics = "[metrics]\ntoken = \"bench\"\n";
            let relay = start_relay(&bin, metrics).await?;
            let (ours, cpu) = closed_loop_cpu(
                relay.proc.pid(),
                &relay.base,
                &relay.key,
                conns,
                secs,
                dir.path(),
            )
            .await?;
            println!(
                "accept: {:.0} req/s (p99 {:.1} ms, {cpu:.0} µs of CPU each), bare {:.0} ({bare_cpu:.0} µs each, {:.3}×), naive {:.0} ({:.2}×)",
                ours.per_sec,
                ours.p99_ms,
                bare.per_sec,
                ours.per_sec / bare.per_sec,
                naive.per_sec,
                ours.per_sec / naive.per_sec
            );
            print_group_commit(&relay).await?;
            drop(relay);
            if let Some(admin) = &args.database_url {
                let (ours, naive, relay) =
                    postgres_accept(&bin, admin, metrics, dir.path(), conns, secs).await?;
                println!(
                    "accept on Postgres: {:.0} req/s (p99 {:.1} ms), naive {:.0} ({:.2}×)",
                    ours.per_sec,
                    ours.p99_ms,
                    naive.per_sec,
                    ours.per_sec / naive.per_sec
                );
                print_group_commit(&relay).await?;
            }
            return Ok(());
        }
        Some("verify") => {
            let n = if args.smoke { 4000 } else { 400_000 };
            let (verify, hmac) = verify_vs_hmac(n);
            println!(
                "webhook verification: {:.0} checks/s, raw HMAC-SHA256 {:.0}/s, {:.2}×",
                n as f64 / verify,
                n as f64 / hmac,
                hmac / verify
            );
            return Ok(());
        }
        Some("sdk") => {
            let relay = start_relay(&bin, "").await?;
            let n = if args.smoke { 40 } else { 2000 };
            let (sdk, raw) = sdk_vs_raw(&relay.base, &relay.key, n).await?;
            println!(
                "SDK sequential sends: {:.0}/s, raw reqwest {:.0}/s, {:.2}×",
                n as f64 / sdk,
                n as f64 / raw,
                raw / sdk
            );
            return Ok(());
        }
        Some(_) => {
            let sched = scheduler_figure(&bin, args.smoke).await?;
            println!(
                "scheduler: {} schedules, idle CPU {:.2} %, {} of {} fired at the first due minute, lag p50 ≤ {} s, p99 ≤ {} s",
                sched.schedules,
                sched.idle_cpu_pct,
                sched.fired,
                sched.due,
                sched.lag_p50_s,
                sched.lag_p99_s
            );
            return Ok(());
        }
        None => {}
    }
    let svw = svw.ok_or("the whole run builds its own binaries (--server-bin is for --only)")?;
    let dir = tempfile::tempdir().map_err(|e| e.to_string())?;
    let (secs, conns) = (args.secs, args.connections);
    println!(
        "closed loop: {secs} s per run, {conns} connections; open loop: {} req/s for {secs} s",
        args.rate
    );

    // Closed loop, one process at a time: bare, naive, this server (and with /metrics on).
    let (bare_proc, bare_url) = start_ref("ref-bare", dir.path()).await?;
    let (bare, bare_cpu) =
        closed_loop_cpu(bare_proc.pid(), &bare_url, "k", conns, secs, dir.path()).await?;
    drop(bare_proc);
    println!(
        "bare: {:.0} req/s, {bare_cpu:.0} µs of CPU each",
        bare.per_sec
    );
    let (naive_proc, naive_url) = start_ref("ref-naive", dir.path()).await?;
    let naive = closed_loop(&naive_url, "k", conns, secs, dir.path()).await?;
    drop(naive_proc);
    println!("naive: {:.0} req/s", naive.per_sec);

    let relay = start_relay(&bin, "").await?;
    tokio::time::sleep(Duration::from_secs(if args.smoke { 1 } else { 3 })).await;
    let idle_rss = rss_mib(relay.proc.pid()).unwrap_or(f64::NAN);
    let (ours, cpu) = closed_loop_cpu(
        relay.proc.pid(),
        &relay.base,
        &relay.key,
        conns,
        secs,
        dir.path(),
    )
    .await?;
    println!("relay: {:.0} req/s, {cpu:.0} µs of CPU each", ours.per_sec);
    drop(relay);

    // The accept path on Postgres, beside one commit per request on the same Postgres.
    let postgres = match &args.database_url {
        None => {
            println!(
                "NOTE: no --database-url (or SEVENOWAYS_BENCH_DATABASE_URL): Postgres not measured."
            );
            None
        }
        Some(admin) => {
            let (ours_pg, naive_pg, relay) =
                postgres_accept(&bin, admin, "", dir.path(), conns, secs).await?;
            drop(relay);
            println!(
                "naive Postgres: {:.0} req/s; relay on Postgres: {:.0} req/s",
                naive_pg.per_sec, ours_pg.per_sec
            );
            Some((ours_pg, naive_pg))
        }
    };

    let with_metrics = if args.smoke {
        None
    } else {
        let relay = start_relay(&bin, "[metrics]\ntoken = \"bench\"\n").await?;
        let t = closed_loop(&relay.base, &relay.key, conns, secs, dir.path()).await?;
        println!("relay with /metrics on: {:.0} req/s", t.per_sec);
        Some(t)
    };

    // Open loop on a fresh server, in turns with its references.
    let relay = start_relay(&bin, "").await?;
    let (open, open_refs) = open_loop_with_refs(&bin, &relay, args.rate, secs, dir.path()).await?;
    println!(
        "open loop at {} req/s: p50 {:.2} ms, p99 {:.2} ms",
        args.rate, open.p50_ms, open.p99_ms
    );
    println!("open loop references: {}", open_loop_refs_cell(&open_refs));
    let sequential = if args.smoke { 40 } else { 2000 };
    let (sdk_secs, raw_secs) = sdk_vs_raw(&relay.base, &relay.key, sequential).await?;
    let processes = if args.smoke { 4 } else { 40 };
    let svw_curl = svw_vs_curl(&svw, &relay, processes, dir.path())?;
    drop(relay);

    // The scheduler row's schedules are created first; the rows after them run while
    // its server, idle, waits for a minute boundary, as many as fit the wait (see
    // `SchedulerSetup::spare`): the wait was half a minute on average, spent idle.
    let setup = scheduler_setup(&bin, args.smoke).await?;
    let mut later = Later::default();
    let mut pending = vec![Row::FanOut, Row::Neighbour, Row::Verify];
    if args.database_url.is_some() {
        pending.insert(1, Row::FanOutPostgres);
    }
    while let Some(i) = pending
        .iter()
        .position(|row| args.smoke || row.takes(secs) <= setup.spare())
    {
        later.run(pending.remove(i), &bin, &args).await?;
    }
    let sched = setup.finish().await?;
    println!(
        "scheduler: {} schedules, idle CPU {:.2} %, {} fired at the first due minute, lag p99 ≤ {} s",
        sched.schedules, sched.idle_cpu_pct, sched.fired, sched.lag_p99_s
    );
    for row in pending {
        later.run(row, &bin, &args).await?;
    }
    let (fan, neighbour, (verify_secs, hmac_secs)) = match later {
        Later {
            fan: Some(fan),
            neighbour: Some(neighbour),
            verify: Some(verify),
            ..
        } => (fan, neighbour, verify),
        _ => return Err("a row did not run".into()),
    };
    let fan_pg = later.fan_pg;
    let (hooks, fan_sends) = (fan.hooks, fan.sends);

    // The table.
    let commit = Command::new("git")
        .args(["describe", "--always", "--dirty"])
        .current_dir(workspace())
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_owned())
        .unwrap_or_default();
    let cpu = std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|c| {
            c.lines().find_map(|l| {
                l.strip_prefix("model name")
                    .map(|v| v.trim_start_matches([' ', '\t', ':']).to_owned())
            })
        })
        .unwrap_or_else(|| "unknown CPU".into());
    let cores = std::thread::available_parallelism().map_or(0, |n| n.get());
    let mem_gib = std::fs::read_to_string("/proc/meminfo")
        .ok()
        .and_then(|m| {
            m.lines()
                .find_map(|l| l.strip_prefix("MemTotal:"))
                .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<f64>().ok())
        })
        .map_or(f64::NAN, |kb| kb / 1024.0 / 1024.0);
    let load = std::fs::read_to_string("/proc/loadavg")
        .map(|l| l.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
        .unwrap_or_default();
    let date = chrono::Utc::now().format("%Y-%m-%d %H:%M UTC");

    let mut r = Report { lines: Vec::new() };
    let mut head = String::new();
    let _ = writeln!(
        head,
        "Run {date}, commit `{commit}`, {cores} cores ({cpu}), {mem_gib:.0} GiB, load average before the run {load}.\n\
         {} builds; closed loop: {generator}, {conns} connections, {secs} s per run; open loop: the harness's client \
         at a fixed {} req/s for {secs} s, latency from each request's due time, this server and its references in turns. Each \
         server ran alone (but the open loop's three, side by side), on a fresh data directory; \
         the load generator shares the cores with it.\n",
        if release {
            "Release"
        } else {
            "Debug (smoke: not figures)"
        },
        args.rate
    );
    println!("\n{head}");
    r.row(&[
        "figure".into(),
        "measured".into(),
        "reference".into(),
        "ratio".into(),
        "target".into(),
        "".into(),
    ]);
    r.row(&[
        "---".into(),
        "---:".into(),
        "---:".into(),
        "---:".into(),
        "---".into(),
        "---".into(),
    ]);
    let vs_bare = ours.per_sec / bare.per_sec;
    let vs_naive = ours.per_sec / naive.per_sec;
    r.row(&[
        "durable accept, `POST /api/send-number`, max throughput".into(),
        format!(
            "{} req/s (p50 {} ms, p99 {} ms)",
            f0(ours.per_sec),
            f2(ours.p50_ms),
            f2(ours.p99_ms)
        ),
        format!(
            "bare {} req/s (p99 {} ms)",
            f0(bare.per_sec),
            f2(bare.p99_ms)
        ),
        format!("{}×", f2(vs_bare)),
        "≥ 0.25× bare".into(),
        verdict(vs_bare >= 0.25).into(),
    ]);
    r.row(&[
        "".into(),
        "".into(),
        format!(
            "naive durable {} req/s (p99 {} ms)",
            f0(naive.per_sec),
            f2(naive.p99_ms)
        ),
        format!("{}×", f2(vs_naive)),
        "≥ 5× naive".into(),
        verdict(vs_naive >= 5.0).into(),
    ]);
    if let Some((ours_pg, naive_pg)) = postgres {
        let vs = ours_pg.per_sec / naive_pg.per_sec;
        r.row(&[
            "durable accept on Postgres, max throughput".into(),
            format!(
                "{} req/s (p50 {} ms, p99 {} ms)",
                f0(ours_pg.per_sec),
                f2(ours_pg.p50_ms),
                f2(ours_pg.p99_ms)
            ),
            format!(
                "naive Postgres {} req/s (p99 {} ms)",
                f0(naive_pg.per_sec),
                f2(naive_pg.p99_ms)
            ),
            format!("{}×", f2(vs)),
            "≥ 5× naive Postgres, ≥ 10,000 req/s".into(),
            verdict(vs >= 5.0 && ours_pg.per_sec >= 10_000.0).into(),
        ]);
    }
    if let Some(m) = with_metrics {
        r.row(&[
            "the same with `/metrics` on".into(),
            format!("{} req/s (p99 {} ms)", f0(m.per_sec), f2(m.p99_ms)),
            "this server, metrics off".into(),
            format!("{}×", f2(m.per_sec / ours.per_sec)),
            "—".into(),
            "".into(),
        ]);
    }
    r.row(&[
        format!("accept latency at a fixed {} req/s", args.rate),
        format!(
            "p50 {} ms, p99 {} ms, p99.9 {} ms, max {} ms ({} req/s achieved{})",
            f2(open.p50_ms),
            f2(open.p99_ms),
            f2(open.p999_ms),
            f2(open.max_ms),
            f0(open.achieved),
            if open.errors > 0 {
                format!(", {} errors", open.errors)
            } else {
                String::new()
            }
        ),
        open_loop_refs_cell(&open_refs),
        format!("p99 {}× bare's", f2(open.p99_ms / open_refs.bare.p99_ms)),
        "p99 < 5 ms".into(),
        verdict(open.p99_ms < 5.0 && open.errors == 0).into(),
    ]);
    let sdk_ratio = raw_secs / sdk_secs;
    r.row(&[
        format!("SDK sequential sends ({sequential})"),
        format!("{} sends/s", f0(sequential as f64 / sdk_secs)),
        format!("raw reqwest {} sends/s", f0(sequential as f64 / raw_secs)),
        format!("{}×", f2(sdk_ratio)),
        "≥ 0.95×".into(),
        verdict(sdk_ratio >= 0.95).into(),
    ]);
    let n_verify = if args.smoke { 4000 } else { 400_000 };
    let verify_ratio = hmac_secs / verify_secs;
    r.row(&[
        "webhook verification (`Verifier::verify_signature`)".into(),
        format!("{} checks/s", f0(n_verify as f64 / verify_secs)),
        format!(
            "raw HMAC-SHA256 {} checks/s",
            f0(n_verify as f64 / hmac_secs)
        ),
        format!("{}×", f2(verify_ratio)),
        "≥ 0.95×".into(),
        verdict(verify_ratio >= 0.95).into(),
    ]);
    match svw_curl {
        Some((svw_secs, curl_secs)) => r.row(&[
            format!("`svw send` one message, whole process ({processes} runs)"),
            format!("{} ms per run", f2(svw_secs * 1000.0 / processes as f64)),
            format!(
                "curl {} ms per run",
                f2(curl_secs * 1000.0 / processes as f64)
            ),
            format!("{}× curl's time", f2(svw_secs / curl_secs)),
            "≤ 1.2× curl's wall time".into(),
            verdict(svw_secs / curl_secs <= 1.2).into(),
        ]),
        None => r.row(&[
            "`svw send` one message, whole process".into(),
            "not measured (no curl)".into(),
            "—".into(),
            "—".into(),
            "≤ 1.2× curl's wall time".into(),
            "".into(),
        ]),
    }
    r.row(&[
        "server idle RSS (fresh start, 1 paired instance)".into(),
        format!("{} MiB", f2(idle_rss)),
        "—".into(),
        "—".into(),
        "≤ 20 MB".into(),
        verdict(idle_rss * 1.048_576 <= 20.0).into(),
    ]);
    r.row(&[
        format!(
            "webhook fan-out to a loopback receiver: {} deliveries/s offered ({fan_sends} sends × {EVENTS_PER_SEND} events × {hooks} webhooks)",
            f0(fan.offered)
        ),
        format!(
            "{} deliveries/s while offered; {} of {} arrived; event → delivery p50 {} ms, p99 {} ms; {} µs of server CPU per delivery",
            f0(fan.per_sec),
            fan.deliveries,
            fan.expected,
            f2(fan.p50_ms),
            f2(fan.p99_ms),
            f0(fan.cpu_us)
        ),
        "—".into(),
        "—".into(),
        "≥ 5,000 deliveries/s, p50 < 50 ms".into(),
        verdict(fan.per_sec >= 5000.0 && fan.p50_ms < 50.0 && fan.deliveries >= fan.expected)
            .into(),
    ]);
    if let Some(pg) = fan_pg {
        r.row(&[
            "the same fan-out on Postgres".into(),
            format!(
                "{} deliveries/s while offered; {} of {} arrived; event → delivery p50 {} ms, p99 {} ms; {} µs of the relay's CPU per delivery (the database's not counted)",
                f0(pg.per_sec),
                pg.deliveries,
                pg.expected,
                f2(pg.p50_ms),
                f2(pg.p99_ms),
                f0(pg.cpu_us)
            ),
            "the fan-out on SQLite".into(),
            format!("{}×", f2(pg.per_sec / fan.per_sec)),
            "—".into(),
            "".into(),
        ]);
    }
    r.row(&[
        format!(
            "one tenant's accept latency at {} req/s beside a neighbour flooding past its limit (wrk -c64, {} req/s, nearly all 429)",
            neighbour.rate,
            f0(neighbour.flood_per_sec)
        ),
        format!(
            "p50 {} ms, p99 {} ms ({} errors)",
            f2(neighbour.noisy.p50_ms),
            f2(neighbour.noisy.p99_ms),
            neighbour.noisy.errors
        ),
        format!(
            "the same tenant alone: p50 {} ms, p99 {} ms",
            f2(neighbour.alone.p50_ms),
            f2(neighbour.alone.p99_ms)
        ),
        format!("{}×", f2(neighbour.noisy.p99_ms / neighbour.alone.p99_ms)),
        "p99 < 50 ms (issue 9)".into(),
        verdict(neighbour.noisy.p99_ms < 50.0 && neighbour.noisy.errors == 0).into(),
    ]);
    r.row(&[
        format!(
            "scheduler: {} schedules due across an hour",
            sched.schedules
        ),
        format!(
            "idle CPU {} % of a core over 10 s; the first due minute: {} of {} due runs fired within 10 s, lag p50 ≤ {} s, p99 ≤ {} s (histogram bucket bounds)",
            f2(sched.idle_cpu_pct),
            sched.fired,
            sched.due,
            sched.lag_p50_s,
            sched.lag_p99_s
        ),
        "—".into(),
        "—".into(),
        "fire lag p99 < 1 s; idle CPU ≈ 0".into(),
        verdict(
            sched.lag_p99_s <= 1.0 && sched.idle_cpu_pct < 1.0 && sched.fired >= sched.due,
        )
        .into(),
    ]);
    if ours.errors + naive.errors + bare.errors > 0 {
        println!(
            "WARNING: non-2xx answers under load: relay {}, naive {}, bare {}",
            ours.errors, naive.errors, bare.errors
        );
    }
    if args.no_write {
        println!("\n(not written: --smoke or --no-write)");
        return Ok(());
    }
    let section = format!("{head}\n{}\n", r.lines.join("\n"));
    write_section(&section)
}

const BEGIN: &str = "<!-- xtask bench: begin -->";
const END: &str = "<!-- xtask bench: end -->";

/// Replaces the harness's section of docs/benchmarks.md (between its markers) with
/// `section`, keeping everything else.
fn write_section(section: &str) -> Result<(), String> {
    let path = workspace().join("docs/benchmarks.md");
    let doc = std::fs::read_to_string(&path).map_err(|e| format!("{}: {e}", path.display()))?;
    let (before, after) = match (doc.find(BEGIN), doc.find(END)) {
        (Some(b), Some(e)) if b < e => (&doc[..b], &doc[e + END.len()..]),
        _ => {
            return Err(format!(
                "{}: the markers {BEGIN} / {END} are missing",
                path.display()
            ));
        }
    };
    let doc = format!("{before}{BEGIN}\n{section}{END}{after}");
    std::fs::write(&path, doc).map_err(|e| format!("{}: {e}", path.display()))?;
    println!("\nwritten to {}", path.display());
    Ok(())
}
