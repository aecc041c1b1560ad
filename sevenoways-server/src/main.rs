//! `sevenoways-server`: run the relay, or manage its API keys.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Args, Parser, Subcommand};
use sevenoways_sdk::models::groups::Group;
use sevenoways_sdk::models::instances::InstanceStatus;
use sevenoways_sdk::models::messages::SendNumberRequest;
use sevenoways_sdk::models::sandbox::GetOutbox;
use sevenoways_sdk::{Endpoint, GroupId, InstanceId, env};
use sevenoways_server::store::Store;
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
    // From the environment only: a flag would show the key in `ps`.
    config.secrets_key = secrets_key_from_env(env::SECRETS_KEY)?;
    config.secrets_key_previous = secrets_key_from_env(env::SECRETS_KEY_PREVIOUS)?;
    Ok(config)
}

fn secrets_key_from_env(
    var: &str,
) -> Result<Option<sevenoways_server::secrets::SecretsKey>, String> {
    let Some(key) = std::env::var_os(var).filter(|k| !k.is_empty()) else {
        return Ok(None);
    };
    let key = key
        .to_str()
        .ok_or_else(|| format!("{var}: expected hex or base64 text"))?;
    sevenoways_server::secrets::SecretsKey::parse(key)
        .map(Some)
        .map_err(|e| e.replacen(env::SECRETS_KEY, var, 1))
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
    let server = sevenoways_server::launch(config, listener)
        .await
        .map_err(|e| e.to_string())?;
    let base = server.base_url();
    let store = server.store();
    if store.count_accounts().await.map_err(|e| e.to_string())? == 0 {
        let key = server
            .create_key("default", "default")
            .await
            .map_err(|e| e.to_string())?;
        let account = store
            .account_by_key_hash(&auth::hash_key(&key))
            .await
            .map_err(|e| e.to_string())?
            .ok_or("the new key was not found")?;
        seed_sandbox(&*store, account.id)
            .await
            .map_err(|e| e.to_string())?;
        print_welcome(&base, &key, &data_dir);
    } else {
        println!(
            "Sevenoways Relay listening on {base} (data in {})",
            data_dir.display()
        );
        println!(
            "Create another API key: sevenoways-server keys create --name NAME --data-dir {}",
            data_dir.display()
        );
    }
    server.run_until(shutdown_signal()).await;
    eprintln!("stopped cleanly");
    Ok(())
}

/// A paired sandbox number with one group, so the first curl command works as printed.
async fn seed_sandbox(
    store: &dyn Store,
    account: sevenoways_server::store::AccountId,
) -> Result<(), sevenoways_server::store::StoreError> {
    let id = InstanceId::new("sandbox").expect("valid id");
    store
        .create_instance(account, &id, "Sandbox number")
        .await?;
    store
        .set_instance_status(
            account,
            &id,
            InstanceStatus::Online,
            Some("971500000000"),
            None,
        )
        .await?;
    let group = Group {
        id: GroupId::new("120363000000000001@g.us").expect("valid id"),
        name: "Team A".into(),
        participants: 3,
    };
    store.upsert_group(account, &id, &group).await
}

fn print_welcome(base: &str, key: &str, data_dir: &std::path::Path) {
    println!(
        r#"
Sevenoways Relay is running on {base} (sandbox transport, data in {dir}).

Your API key, shown only this once (only its hash is stored):

    {key}

A paired sandbox number "sandbox" with the group "Team A" is ready. Try:

    curl -X POST {base}{send_number} \
      -H "x-api-key: {key}" -H "Content-Type: application/json" \
      -d '{{"instanceId":"sandbox","phone":"971501234567","message":"Hello from Sevenoways 👋"}}'

    curl "{base}{outbox}?instanceId=sandbox" -H "x-api-key: {key}"

or with the CLI:

    export {api_key_var}={key} {base_url_var}={base} {instance_var}=sandbox
    svw send --group "team a" --message "Hi 👋"

Stop with Ctrl-C.
"#,
        dir = data_dir.display(),
        send_number = SendNumberRequest::ROUTE,
        outbox = GetOutbox::ROUTE,
        api_key_var = env::API_KEY,
        base_url_var = env::BASE_URL,
        instance_var = env::INSTANCE,
    );
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
