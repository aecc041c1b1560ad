//! The `sevenoways-server` command: run the relay, manage its API keys, or back its
//! database up.
//!
//! It lives in the library, and `src/main.rs` only calls [`main`], so that the code the
//! command runs is compiled once, here. In `main.rs`, a release build compiled much of
//! the library's async code a second time inside the binary's own crate: 30 s of a cold
//! build, at the end of its critical path (docs/benchmarks.md, "The binary's crate").

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

use crate::bootstrap::{self, FirstStart};
use crate::config::DatabaseUrl;
use crate::config::EngineKind;
use crate::logging::{LogFormat, eprint_line};
use crate::store::{AccountId, KeyInfo, Store};
use crate::{Config, auth};
use clap::{Args, Parser, Subcommand};
use sevenoways_sdk::models::messages::SendNumberRequest;
use sevenoways_sdk::models::sandbox::GetOutbox;
use sevenoways_sdk::{Endpoint, env};

/// The Sevenoways Relay server, with its sandbox transport.
#[derive(Debug, Parser)]
#[command(name = "sevenoways-server", version, about)]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
    #[command(flatten)]
    serve: ServeArgs,
    /// Log lines as human-readable text (for a terminal) or one JSON object each.
    #[arg(long, global = true, env = "SEVENOWAYS_LOG_FORMAT", value_enum, default_value_t = LogFormat::Text)]
    log_format: LogFormat,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run the server (the default).
    Serve(ServeArgs),
    /// Manage API keys.
    #[command(subcommand)]
    Keys(KeysCommand),
    /// Apply the database migrations and exit. `serve` applies them too; several servers
    /// starting at once on one Postgres database are safe (one migrates, the others wait).
    Migrate {
        #[command(flatten)]
        store: StoreArgs,
    },
    /// Write a consistent copy of the database to FILE, while the server runs.
    ///
    /// Restore by stopping the server and putting the copy in place as
    /// `<data_dir>/sevenoways.db` (see docs/operations.md).
    Backup {
        /// The backup file to write.
        #[arg(long, value_name = "FILE")]
        to: PathBuf,
        /// Replace FILE if it exists.
        #[arg(long)]
        force: bool,
        #[command(flatten)]
        store: StoreArgs,
    },
}

/// Where the database is: `--database-url` (Postgres), else `--data-dir`, else the config
/// file's `database_url` or `data_dir`, else `./sevenoways-data`.
#[derive(Debug, Args, Clone)]
struct StoreArgs {
    /// Where the SQLite database lives [default: data_dir from --config, else ./sevenoways-data].
    #[arg(long, env = env::DATA_DIR)]
    data_dir: Option<PathBuf>,
    /// A Postgres database instead: postgres://user:password@host/db.
    #[arg(long, env = env::DATABASE_URL, hide_env_values = true, value_name = "URL")]
    database_url: Option<DatabaseUrl>,
    /// The server's TOML configuration (for data_dir and the plans).
    #[arg(long, env = env::CONFIG)]
    config: Option<PathBuf>,
}

impl StoreArgs {
    fn config(&self) -> Result<Config, String> {
        let mut config = match &self.config {
            Some(path) => Config::from_toml_file(path)?,
            None => Config::default(),
        };
        if let Some(dir) = &self.data_dir {
            config.data_dir = dir.clone();
        }
        if let Some(url) = &self.database_url {
            config.database_url = Some(url.clone());
        }
        Ok(config)
    }
}

#[derive(Debug, Args, Clone)]
struct ServeArgs {
    /// Address to listen on [default: 127.0.0.1:8080].
    #[arg(long, env = env::LISTEN)]
    listen: Option<SocketAddr>,
    /// Where the SQLite database lives [default: ./sevenoways-data].
    #[arg(long, env = env::DATA_DIR)]
    data_dir: Option<PathBuf>,
    /// Run on Postgres instead of SQLite: postgres://user:password@host/db. Several
    /// servers may share one database. The password is never printed or logged.
    #[arg(long, env = env::DATABASE_URL, hide_env_values = true, value_name = "URL")]
    database_url: Option<DatabaseUrl>,
    /// A TOML configuration file; flags and env override it.
    #[arg(long, env = env::CONFIG)]
    config: Option<PathBuf>,
}

#[derive(Debug, Subcommand)]
enum KeysCommand {
    /// Create an account and print its new API key as the last line of stdout.
    Create {
        /// A name for the key's owner.
        #[arg(long)]
        name: String,
        /// The plan (rate limit and caps): `default` or a `[[plans]]` name of --config.
        #[arg(long, default_value = "default")]
        plan: String,
        #[command(flatten)]
        store: StoreArgs,
    },
    /// List every key: account, name, plan, created, last used, and whether it is active,
    /// expiring after a rotation, expired or revoked. Never the key or its hash.
    List {
        #[command(flatten)]
        store: StoreArgs,
    },
    /// Revoke an account's keys for good. Running servers refuse them within a second;
    /// the account's unsent messages fail, its schedules stop and its webhook
    /// subscriptions are removed.
    Revoke {
        /// The account id (from `keys list`), or the key itself (`svw_…`).
        account: String,
        #[command(flatten)]
        store: StoreArgs,
    },
    /// Give an account a new key, printed as the last line of stdout. The new key works
    /// at once; the old one keeps working for the grace period, then is refused.
    Rotate {
        /// The account id (from `keys list`), or the current key itself (`svw_…`).
        account: String,
        /// How long the old key keeps working: e.g. `0`, `90s`, `30m`, `24h`, `7d`.
        #[arg(long, default_value = "24h", value_parser = parse_grace)]
        grace: chrono::Duration,
        #[command(flatten)]
        store: StoreArgs,
    },
}

/// `0`, or a whole number with `s`, `m`, `h` or `d`; at most 365 days.
fn parse_grace(s: &str) -> Result<chrono::Duration, String> {
    let s = s.trim();
    if s == "0" {
        return Ok(chrono::Duration::zero());
    }
    let expected = || format!("expected 0 or a number with s, m, h or d (like 24h), got {s:?}");
    let (number, unit) = s.split_at(s.len().saturating_sub(1));
    let n: i64 = number.parse().map_err(|_| expected())?;
    let secs = match unit {
        "s" => n,
        "m" => n.saturating_mul(60),
        "h" => n.saturating_mul(3600),
        "d" => n.saturating_mul(86_400),
        _ => return Err(expected()),
    };
    if !(0..=365 * 86_400).contains(&secs) {
        return Err(format!("at most 365d, got {s:?}"));
    }
    Ok(chrono::Duration::seconds(secs))
}

fn load_config(args: &ServeArgs) -> Result<Config, String> {
    let mut config = match &args.config {
        Some(path) => Config::from_toml_file(path)?,
        None => Config::default(),
    };
    if let Some(listen) = args.listen {
        config.listen = listen;
    }
    if let Some(dir) = &args.data_dir {
        config.data_dir = dir.clone();
    }
    if let Some(url) = &args.database_url {
        config.database_url = Some(url.clone());
    }
    // From the environment only: a flag would show the key in `ps`.
    config.secrets_key = secrets_key_from_env(env::SECRETS_KEY)?;
    config.secrets_key_previous = secrets_key_from_env(env::SECRETS_KEY_PREVIOUS)?;
    // Engine secrets may come from the environment rather than the file.
    config.apply_env_secrets(|name| std::env::var(name).ok());
    config.metrics.apply_env(|name| std::env::var(name).ok());
    Ok(config)
}

fn secrets_key_from_env(var: &str) -> Result<Option<crate::secrets::SecretsKey>, String> {
    let Some(key) = std::env::var_os(var).filter(|k| !k.is_empty()) else {
        return Ok(None);
    };
    let key = key
        .to_str()
        .ok_or_else(|| format!("{var}: expected hex or base64 text"))?;
    crate::secrets::SecretsKey::parse(key)
        .map(Some)
        .map_err(|e| e.replacen(env::SECRETS_KEY, var, 1))
}

/// Runs the command line this process was started with.
pub fn main() -> ExitCode {
    one_c_heap();
    tokio::runtime::Runtime::new()
        .expect("the runtime starts")
        .block_on(run())
}

/// SQLite allocates with the C library's `malloc`, not the Rust allocator, and each
/// SQLite connection runs on a thread of its own. glibc gives each such thread an arena
/// of its own (up to 8 per core), each keeping free space of its own: ~0.2 MB less at
/// idle with one, measured side by side, and no arena's leftovers after a burst.
/// SQLite's allocations are few and small beside its page reads, so one lock is enough.
fn one_c_heap() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: `mallopt` only sets a tunable; it is called before any other thread runs.
    unsafe {
        libc::mallopt(libc::M_ARENA_MAX, 1);
    }
}

async fn run() -> ExitCode {
    let cli = Cli::parse();
    crate::logging::init(cli.log_format);
    let result = match cli.command {
        Some(Command::Keys(command)) => keys(command).await,
        Some(Command::Migrate { store }) => migrate(&store).await,
        Some(Command::Backup { to, force, store }) => backup(&store, &to, force).await,
        Some(Command::Serve(args)) => serve(&args).await,
        None => serve(&cli.serve).await,
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            crate::logging::eprint_error(format_args!("error: {e}"));
            ExitCode::FAILURE
        }
    }
}

/// Prints to stdout; a closed stdout is an error, not a panic.
macro_rules! out {
    ($($arg:tt)*) => {{
        use std::io::Write as _;
        writeln!(std::io::stdout(), $($arg)*).map_err(|e| format!("cannot write to stdout: {e}"))
    }};
}

async fn keys(command: KeysCommand) -> Result<(), String> {
    match command {
        KeysCommand::Create { name, plan, store } => {
            let config = store.config()?;
            let plans = crate::limits::Plans::from_config(&config.plans)?;
            if !plans.contains(&plan) {
                return Err(format!(
                    "--plan: no plan named {plan:?}; the plans are {} (add [[plans]] to the file given with --config)",
                    plans.names().join(", ")
                ));
            }
            let store = open(&config).await?;
            let (_, key) = auth::create_key(&*store, &name, &plan)
                .await
                .map_err(|e| e.to_string())?;
            out!("Created an API key for {name:?} (plan {plan}). It is shown only now:")?;
            out!("{key}")
        }
        KeysCommand::List { store } => {
            let store = open_existing(&store.config()?).await?;
            let keys = store.list_keys().await.map_err(|e| e.to_string())?;
            print_keys(&keys)
        }
        KeysCommand::Revoke { account, store } => {
            let store = open_existing(&store.config()?).await?;
            let (id, name) = find_account(&*store, &account).await?;
            let now = chrono::Utc::now();
            let revoked = store
                .revoke_account(id, now, "API key revoked before the message was sent")
                .await
                .map_err(|e| e.to_string())?
                .ok_or_else(|| format!("account {id} ({name:?}) is already revoked"))?;
            out!(
                "Revoked account {id} ({name:?}): {} key(s) refused from now on by every server on this database (within a second).",
                revoked.keys
            )?;
            out!(
                "{} unsent message(s) failed, {} schedule(s) stopped, {} webhook subscription(s) removed{}",
                revoked.failed_entries,
                revoked.schedules,
                revoked.webhooks.len(),
                if revoked.webhooks.is_empty() {
                    "."
                } else {
                    ":"
                }
            )?;
            for (hook, url) in &revoked.webhooks {
                out!("  {hook}  {url}")?;
            }
            Ok(())
        }
        KeysCommand::Rotate {
            account,
            grace,
            store,
        } => {
            let store = open_existing(&store.config()?).await?;
            let (id, name) = find_account(&*store, &account).await?;
            let key = auth::generate_key();
            let now = chrono::Utc::now();
            let until = now + grace;
            if !store
                .rotate_key(id, &auth::hash_key(&key), until, now)
                .await
                .map_err(|e| e.to_string())?
            {
                return Err(format!("account {id} ({name:?}) is revoked"));
            }
            if grace.is_zero() {
                out!(
                    "Rotated the key of account {id} ({name:?}); the old key is refused from now on."
                )?;
            } else {
                out!(
                    "Rotated the key of account {id} ({name:?}); the old key works until {}.",
                    until.format("%Y-%m-%d %H:%M:%S UTC")
                )?;
            }
            out!("The new key works now. It is shown only this once:")?;
            out!("{key}")
        }
    }
}

/// The store of an existing database: a mistyped `--data-dir` is an error, not a new,
/// empty database. (A Postgres database exists or the connection fails.)
async fn open_existing(config: &Config) -> Result<Arc<dyn Store>, String> {
    if config.database_url.is_some() {
        return open(config).await;
    }
    let db = config.data_dir.join(crate::store::sqlite::DB_FILE);
    if !db.exists() {
        return Err(format!(
            "no database at {} (set --data-dir, or data_dir in --config)",
            db.display()
        ));
    }
    open(config).await
}

async fn open(config: &Config) -> Result<Arc<dyn Store>, String> {
    crate::open_store(config)
        .await
        .map_err(|e| format!("{}: {e}", data_location(config)))
}

/// Where the data is, for messages: the SQLite directory, or the Postgres URL with its
/// password as `***`.
fn data_location(config: &Config) -> String {
    match &config.database_url {
        Some(url) => format!("Postgres at {url}"),
        None => config.data_dir.display().to_string(),
    }
}

/// The flag that names this database in a `keys` command, for the hints we print; never
/// the password.
fn store_flag(config: &Config) -> String {
    match &config.database_url {
        Some(_) => format!("--database-url \"${}\"", env::DATABASE_URL),
        None => format!("--data-dir {}", config.data_dir.display()),
    }
}

async fn migrate(store: &StoreArgs) -> Result<(), String> {
    let config = store.config()?;
    open(&config).await?;
    out!("The database ({}) is migrated.", data_location(&config))
}

/// The account `arg` names: an account id, or a key (`svw_…`) of it.
async fn find_account(store: &dyn Store, arg: &str) -> Result<(AccountId, String), String> {
    let arg = arg.trim();
    let id = if arg.starts_with(auth::KEY_PREFIX) {
        store
            .account_of_key(&auth::hash_key(arg))
            .await
            .map_err(|e| e.to_string())?
            .ok_or("no account has this key")?
    } else {
        arg.parse::<AccountId>().map_err(|_| {
            format!(
                "expected an account id (a number from `keys list`) or a key (svw_…), got {arg:?}"
            )
        })?
    };
    let keys = store.list_keys().await.map_err(|e| e.to_string())?;
    let name = keys
        .iter()
        .find(|k| k.account_id == id)
        .map(|k| k.name.clone())
        .ok_or_else(|| format!("no account {id}"))?;
    Ok((id, name))
}

fn print_keys(keys: &[KeyInfo]) -> Result<(), String> {
    let when = |t: chrono::DateTime<chrono::Utc>| t.format("%Y-%m-%d %H:%M UTC").to_string();
    let now = chrono::Utc::now();
    let rows: Vec<[String; 7]> = keys
        .iter()
        .map(|k| {
            let status = match (k.revoked_at, k.expires_at) {
                (Some(at), _) => format!("revoked {}", when(at)),
                (None, Some(at)) if at <= now => format!("expired {}", when(at)),
                (None, Some(at)) => format!("active, expires {}", when(at)),
                (None, None) => "active".to_owned(),
            };
            [
                k.account_id.to_string(),
                k.key.0.to_string(),
                k.name.clone(),
                k.plan.clone(),
                when(k.created_at),
                k.last_used_at.map(when).unwrap_or_else(|| "never".into()),
                status,
            ]
        })
        .collect();
    let header = [
        "ACCOUNT",
        "KEY",
        "NAME",
        "PLAN",
        "CREATED",
        "LAST USED",
        "STATUS",
    ];
    let mut widths = header.map(str::len);
    for row in &rows {
        for (w, cell) in widths.iter_mut().zip(row) {
            *w = (*w).max(cell.chars().count());
        }
    }
    let line = |cells: &[String]| {
        cells
            .iter()
            .zip(widths)
            .map(|(c, w)| format!("{c:<w$}"))
            .collect::<Vec<_>>()
            .join("  ")
            .trim_end()
            .to_owned()
    };
    out!("{}", line(&header.map(String::from)))?;
    for row in &rows {
        out!("{}", line(row))?;
    }
    Ok(())
}

async fn backup(store: &StoreArgs, to: &std::path::Path, force: bool) -> Result<(), String> {
    let config = store.config()?;
    if config.database_url.is_some() {
        return Err(
            "backup copies the SQLite database; back a Postgres database up with pg_dump or your provider's snapshots"
                .into(),
        );
    }
    let report = crate::store::sqlite::backup(&config.data_dir, to, force)
        .await
        .map_err(|e| e.to_string())?;
    out!(
        "Backed up {} to {} ({} bytes, checked).",
        config
            .data_dir
            .join(crate::store::sqlite::DB_FILE)
            .display(),
        report.path.display(),
        report.bytes
    )
}

async fn serve(args: &ServeArgs) -> Result<(), String> {
    // Registered before the server serves anything: a SIGTERM while it starts (a deploy
    // that changes its mind, a test that stops it right after its first answer) ends it
    // cleanly, not by the signal's default action.
    let stop = shutdown_signal();
    crate::serve::raise_open_file_limit();
    let config = load_config(args)?;
    let listener = tokio::net::TcpListener::bind(config.listen)
        .await
        .map_err(|e| format!("cannot listen on {}: {e}", config.listen))?;
    let (location, flag) = (data_location(&config), store_flag(&config));
    let engine = config.default_engine;
    let engine_missing = config.engine_configured(engine).err();
    let console = config.console.enabled;
    let server = crate::launch(config, listener)
        .await
        .map_err(|e| e.to_string())?;
    let base = server.base_url();
    let first = bootstrap::first_start(&*server.store(), engine)
        .await
        .map_err(|e| e.to_string())?;
    // Straight to stdout, never through the log: the key must not end up in log files
    // or a log pipeline's index, and a failed write (stdout closed) must not panic.
    let text = match first {
        FirstStart::Seeded { key } => welcome(&base, &key, &location, console),
        FirstStart::NoAccount => {
            production_welcome(&base, engine, engine_missing, &location, &flag)
        }
        FirstStart::NotFirst => format!(
            "Sevenoways Relay listening on {base} (default engine {engine}, data in {location})\n\
             Create another API key: sevenoways-server keys create --name NAME {flag}\n\
             Stop with Ctrl-C.\n"
        ),
    };
    let _ = std::io::Write::write_all(&mut std::io::stdout().lock(), text.as_bytes());
    server.run_until(stop).await;
    eprint_line(format_args!("stopped cleanly"));
    Ok(())
}

/// A development server's first start: the key, once, and commands to try.
fn welcome(base: &str, key: &str, location: &str, console: bool) -> String {
    let console = if console {
        format!("\nor in a browser: {base}/console (sign in with the key above).\n")
    } else {
        String::new()
    };
    format!(
        r#"
Sevenoways Relay is running on {base}: a development server (sandbox engine), data in {dir}.

Your API key is shown only this once, here (only its hash is stored; make another with
`sevenoways-server keys create`). Paste this line into your shell:

    export {api_key_var}={key}

A paired sandbox number "{instance}" with the group "{group}" is ready. Try:

    curl -X POST {base}{send_number} \
      -H "x-api-key: ${api_key_var}" -H "Content-Type: application/json" \
      -d '{{"instanceId":"{instance}","phone":"971501234567","message":"Hello from Sevenoways 👋"}}'

    curl "{base}{outbox}?instanceId={instance}" -H "x-api-key: ${api_key_var}"

or with the CLI:

    export {base_url_var}={base} {instance_var}={instance}
    svw send --group "team a" --message "Hi 👋"
{console}
Stop with Ctrl-C.
"#,
        dir = location,
        instance = bootstrap::DEMO_INSTANCE,
        group = bootstrap::DEMO_GROUP,
        send_number = SendNumberRequest::ROUTE,
        outbox = GetOutbox::ROUTE,
        api_key_var = env::API_KEY,
        base_url_var = env::BASE_URL,
        instance_var = env::INSTANCE,
    )
}

/// A production server with no account: nothing was made; how to make a key.
fn production_welcome(
    base: &str,
    engine: EngineKind,
    engine_missing: Option<String>,
    location: &str,
    flag: &str,
) -> String {
    let warning = engine_missing
        .map(|why| format!("\nNote: default_engine: {why}; until then creating instances fails.\n"))
        .unwrap_or_default();
    format!(
        r#"
Sevenoways Relay is running on {base}: a production server (default engine {engine}), data in {dir}.
{warning}
No API key exists yet, and none is made for you. Create one (it is printed once, as the
last line):

    sevenoways-server keys create --name NAME {flag}

Stop with Ctrl-C.
"#,
        dir = location,
    )
}

/// Completes on Ctrl-C or SIGTERM. The handlers are installed when this is *called*, not
/// when the future is first polled.
fn shutdown_signal() -> impl std::future::Future<Output = ()> {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{Signal, SignalKind, signal};
        let term = signal(SignalKind::terminate()).ok();
        let int = signal(SignalKind::interrupt()).ok();
        let recv = |s: Option<Signal>| async move {
            match s {
                Some(mut s) => {
                    s.recv().await;
                }
                None => std::future::pending::<()>().await,
            }
        };
        async move {
            tokio::select! {
                _ = recv(term) => {}
                _ = recv(int) => {}
            }
        }
    }
    #[cfg(not(unix))]
    async {
        let _ = tokio::signal::ctrl_c().await;
    }
}
