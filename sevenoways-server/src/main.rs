//! `sevenoways-server`: run the relay, or manage its API keys.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Args, Parser, Subcommand};
use sevenoways_sdk::models::messages::SendNumberRequest;
use sevenoways_sdk::models::sandbox::GetOutbox;
use sevenoways_sdk::{Endpoint, env};
use sevenoways_server::bootstrap::{self, FirstStart};
use sevenoways_server::config::EngineKind;
use sevenoways_server::store::sqlite::SqliteStore;
use sevenoways_server::{Config, auth};

/// The Sevenoways Relay server, with its sandbox transport.
#[derive(Debug, Parser)]
#[command(name = "sevenoways-server", version, about)]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
    #[command(flatten)]
    serve: ServeArgs,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run the server (the default).
    Serve(ServeArgs),
    /// Manage API keys.
    #[command(subcommand)]
    Keys(KeysCommand),
}

#[derive(Debug, Args, Clone)]
struct ServeArgs {
    /// Address to listen on [default: 127.0.0.1:8080].
    #[arg(long, env = env::LISTEN)]
    listen: Option<SocketAddr>,
    /// Where the database lives [default: ./sevenoways-data].
    #[arg(long, env = env::DATA_DIR)]
    data_dir: Option<PathBuf>,
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
        /// The plan (rate limit and caps).
        #[arg(long, default_value = "default")]
        plan: String,
        /// Where the database lives [default: ./sevenoways-data].
        #[arg(long, env = env::DATA_DIR)]
        data_dir: Option<PathBuf>,
    },
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
    // Engine secrets may come from the environment rather than the file.
    config.apply_env_secrets(|name| std::env::var(name).ok());
    Ok(config)
}

#[tokio::main]
async fn main() -> ExitCode {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| "info,sqlx=warn,tower_http=warn".into()),
        )
        .with_writer(std::io::stderr)
        .init();
    let cli = Cli::parse();
    let result = match cli.command {
        Some(Command::Keys(KeysCommand::Create {
            name,
            plan,
            data_dir,
        })) => {
            let mut config = Config::default();
            if let Some(dir) = data_dir {
                config.data_dir = dir;
            }
            keys_create(&config, &name, &plan).await
        }
        Some(Command::Serve(args)) => serve(&args).await,
        None => serve(&cli.serve).await,
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}

async fn keys_create(config: &Config, name: &str, plan: &str) -> Result<(), String> {
    let store = SqliteStore::open(&config.data_dir)
        .await
        .map_err(|e| e.to_string())?;
    let (_, key) = auth::create_key(&store, name, plan)
        .await
        .map_err(|e| e.to_string())?;
    println!("Created an API key for {name:?} (plan {plan}). It is shown only now:");
    println!("{key}");
    Ok(())
}

async fn serve(args: &ServeArgs) -> Result<(), String> {
    let config = load_config(args)?;
    let listener = tokio::net::TcpListener::bind(config.listen)
        .await
        .map_err(|e| format!("cannot listen on {}: {e}", config.listen))?;
    let data_dir = config.data_dir.clone();
    let engine = config.default_engine;
    let engine_missing = config.engine_configured(engine).err();
    let server = sevenoways_server::launch(config, listener)
        .await
        .map_err(|e| e.to_string())?;
    let base = server.base_url();
    let first = bootstrap::first_start(&*server.store(), engine)
        .await
        .map_err(|e| e.to_string())?;
    // Straight to stdout, never through the log: the key must not end up in log files
    // or a log pipeline's index, and a failed write (stdout closed) must not panic.
    let text = match first {
        FirstStart::Seeded { key } => welcome(&base, &key, &data_dir),
        FirstStart::NoAccount => production_welcome(&base, engine, engine_missing, &data_dir),
        FirstStart::NotFirst => format!(
            "Sevenoways Relay listening on {base} (default engine {engine}, data in {dir})\n\
             Create another API key: sevenoways-server keys create --name NAME --data-dir {dir}\n\
             Stop with Ctrl-C.\n",
            dir = data_dir.display()
        ),
    };
    let _ = std::io::Write::write_all(&mut std::io::stdout().lock(), text.as_bytes());
    server.run_until(shutdown_signal()).await;
    eprintln!("stopped cleanly");
    Ok(())
}

/// A development server's first start: the key, once, and commands to try.
fn welcome(base: &str, key: &str, data_dir: &std::path::Path) -> String {
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

Stop with Ctrl-C.
"#,
        dir = data_dir.display(),
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
    data_dir: &std::path::Path,
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

    sevenoways-server keys create --name NAME --data-dir {dir}

Stop with Ctrl-C.
"#,
        dir = data_dir.display(),
    )
}

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        if let Ok(mut s) = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
        {
            s.recv().await;
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        _ = ctrl_c => {}
        _ = term => {}
    }
}
