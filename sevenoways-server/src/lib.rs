//! # sevenoways-server
//!
//! The Sevenoways Relay API on the SDK's own types: API keys, a durable send queue with
//! per-number pacing, schedules, webhook events, QR pairing, and a persistent sandbox
//! transport to develop against offline.
//!
//! Layout (after svix-server and atuin): [`routes`] is the HTTP surface, one module per
//! resource; [`store`] is storage behind the [`store::Store`] trait (SQLite by default);
//! [`worker`] runs the queue and the sandbox's receipt clock; [`scheduler`] fires cron
//! schedules; [`webhooks`] fans events out and delivers them, signed; [`limits`] is the
//! per-key rate limit, per-plan caps and quotas; [`recipients`] resolves group targets;
//! [`ssrf`] guards the URLs the server requests;
//! [`account`], [`engine`], [`ids`] and [`time`] are the leaf types everything else
//! shares; [`transport`] is the WhatsApp side; [`bootstrap`] seeds a development server's
//! first start. [`serve`] is the HTTP listener and its limits on slow and numerous
//! clients; [`health`] supervises the background loops and answers `/readyz`; [`logging`]
//! is a log that never panics. [`launch`] takes a bound listener, so tests run it on port
//! 0; the `testing` module (feature `testing`) is the harness the server's and the CLI's
//! tests share.
//!
//! ```no_run
//! # async fn run() -> Result<(), Box<dyn std::error::Error>> {
//! let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
//! let config = sevenoways_server::Config { data_dir: "/tmp/svw".into(), ..Default::default() };
//! let server = sevenoways_server::launch(config, listener).await?;
//! let key = server.create_key("test", "default").await?;
//! println!("{} {key}", server.base_url());
//! server.shutdown().await;
//! # Ok(()) }
//! ```

pub mod account;
pub mod auth;
pub mod bootstrap;
pub mod cli;
pub mod config;
pub mod console;
pub mod cron;
pub mod engine;
pub mod error;
pub mod extract;
pub mod health;
pub mod idempotency;
pub mod ids;
pub mod limits;
pub mod logging;
pub mod recipients;
pub mod routes;
pub mod scheduler;
pub mod secrets;
pub mod serve;
pub mod ssrf;
pub mod store;
pub mod telemetry;
#[cfg(feature = "testing")]
pub mod testing;
pub mod time;
pub mod transport;
pub mod webhooks;
pub mod worker;

use std::net::SocketAddr;
use std::sync::Arc;

use tokio::net::TcpListener;
use tokio::sync::{Notify, watch};
use tokio::task::JoinSet;

pub use config::Config;
use store::sqlite::SqliteStore;
use store::{Store, StoreError};
use transport::Engines;
use transport::meta::MetaEngine;
use transport::sandbox::SandboxEngine;
use transport::waha::WahaEngine;

/// What every handler can reach, behind one `Arc`: axum clones the state for every
/// request and every middleware layer, and one reference count is cheaper than one per
/// field (a profile of the send path showed the per-field clones and drops at ~3 %).
/// Fields are reached through `Deref` (`state.store`).
#[derive(Clone)]
pub struct AppState(Arc<Shared>);

impl std::ops::Deref for AppState {
    type Target = Shared;

    fn deref(&self) -> &Shared {
        &self.0
    }
}

/// The fields of [`AppState`].
pub struct Shared {
    /// Behind the trait, so handlers never see SQL (a test can hand in another backend).
    pub store: Arc<dyn Store>,
    /// With `network.allow_loopback` settled (see [`launch_with_store`]).
    pub config: Arc<Config>,
    /// The base URL for links (QR pages), without a trailing slash.
    pub public_url: Arc<str>,
    /// Wakes the queue worker after a send is committed.
    pub queue_wake: Arc<Notify>,
    /// Signs QR links.
    pub qr_secret: Arc<[u8]>,
    /// Recently authenticated keys.
    pub keys: Arc<auth::KeyCache>,
    /// The plans keys are limited by.
    pub plans: Arc<limits::Plans>,
    /// The engines that serve numbers, by kind (the sandbox, and WAHA and Meta when
    /// configured).
    pub engines: Arc<Engines>,
    /// The background loops' state and the write probe, for `/readyz`.
    pub health: Arc<health::Health>,
    /// Sends refused until a known instant, answered before any work
    /// ([`limits::RefusalCache`]).
    pub refusals: Arc<limits::RefusalCache>,
}

/// A running server. Dropping it does not stop it; call [`Server::shutdown`].
pub struct Server {
    addr: SocketAddr,
    metrics_addr: Option<SocketAddr>,
    state: AppState,
    shutdown: watch::Sender<bool>,
    tasks: JoinSet<()>,
}

/// Why the server could not start.
#[derive(Debug, thiserror::Error)]
pub enum LaunchError {
    /// The store failed to open or migrate.
    #[error("cannot open the database: {0}")]
    Store(#[from] StoreError),
    /// The listener is unusable.
    #[error("listener: {0}")]
    Io(#[from] std::io::Error),
    /// The configuration is invalid.
    #[error("invalid configuration: {0}")]
    Config(String),
    /// The webhook secrets in the database cannot be read with the configured key (or
    /// without one); see [`secrets`].
    #[error("webhook secrets: {0}")]
    Secrets(String),
}

/// Opens the store (Postgres at `config.database_url`, else SQLite under
/// `config.data_dir`), starts the workers and serves on `listener`.
pub async fn launch(config: Config, listener: TcpListener) -> Result<Server, LaunchError> {
    let store = open_store(&config).await.map_err(|e| match e {
        StoreError::Secrets(message) => LaunchError::Secrets(message),
        other => LaunchError::Store(other),
    })?;
    launch_with_store(config, listener, store).await
}

/// The store `config` names, migrated, with its secrets checked against the configured
/// key: Postgres when `database_url` is set, else SQLite in `data_dir`.
pub async fn open_store(config: &Config) -> Result<Arc<dyn Store>, StoreError> {
    let (key, previous) = (
        config.secrets_key.clone(),
        config.secrets_key_previous.as_ref(),
    );
    Ok(match &config.database_url {
        Some(url) => Arc::new(
            store::postgres::PgStore::open_with_secrets(
                url.expose(),
                config.database.max_connections,
                key,
                previous,
            )
            .await?,
        ),
        None => Arc::new(SqliteStore::open_with_secrets(&config.data_dir, key, previous).await?),
    })
}

/// [`launch`] on a store of the caller's choosing.
///
/// An unset `[network] allow_loopback` is settled here: allowed only on a development
/// server ([`Config::is_development`]) that listens on loopback.
pub async fn launch_with_store(
    config: Config,
    listener: TcpListener,
    store: Arc<dyn Store>,
) -> Result<Server, LaunchError> {
    let addr = listener.local_addr()?;
    let plans = Arc::new(limits::Plans::from_config(&config.plans).map_err(LaunchError::Config)?);
    config.idempotency.check().map_err(LaunchError::Config)?;
    let mut config = config;
    // Loopback targets are allowed by default only on a development server that is itself
    // local; a production server behind a local reverse proxy listens on loopback too.
    let local_development = config.is_development() && addr.ip().is_loopback();
    config
        .network
        .allow_loopback
        .get_or_insert(local_development);
    if let Err(why) = config.engine_configured(config.default_engine) {
        tracing::warn!("default_engine: {why}; creating instances without an engine fails");
    }
    config.validate_engines().map_err(LaunchError::Config)?;
    let config = Arc::new(config);
    // Bound before anything starts, so an address in use fails the start cleanly.
    let metrics_listener = match config.metrics.listen.filter(|_| config.metrics.enabled()) {
        Some(addr) => Some(
            TcpListener::bind(addr)
                .await
                .map_err(|e| LaunchError::Config(format!("metrics.listen {addr}: {e}")))?,
        ),
        None => None,
    };
    let qr_secret: Arc<[u8]> = store.server_secret().await?.into();
    let public_url: Arc<str> = config.public_url(addr).into();
    let engines = Arc::new(engines(&config, &store, &qr_secret, &public_url));
    let state = AppState(Arc::new(Shared {
        plans: plans.clone(),
        qr_secret,
        public_url,
        store: store.clone(),
        config: config.clone(),
        queue_wake: Arc::new(Notify::new()),
        keys: Arc::default(),
        engines: engines.clone(),
        health: Arc::default(),
        refusals: Arc::default(),
    }));
    let (shutdown, rx) = watch::channel(false);
    let mut tasks = JoinSet::new();
    let transport = engines;
    let health = state.health.clone();
    {
        let (store, config, wake, rx) = (
            store.clone(),
            config.clone(),
            state.queue_wake.clone(),
            rx.clone(),
        );
        health::supervise(&mut tasks, health.clone(), "queue", rx.clone(), move || {
            worker::run_queue(
                store.clone(),
                transport.clone(),
                config.clone(),
                wake.clone(),
                rx.clone(),
            )
        });
    }
    {
        let (store, config, rx) = (store.clone(), config.clone(), rx.clone());
        health::supervise(
            &mut tasks,
            health.clone(),
            "receipts",
            rx.clone(),
            move || worker::run_receipts(store.clone(), config.clone(), rx.clone()),
        );
    }
    {
        let (store, config, wake, rx) = (
            store.clone(),
            config.clone(),
            state.queue_wake.clone(),
            rx.clone(),
        );
        health::supervise(
            &mut tasks,
            health.clone(),
            "scheduler",
            rx.clone(),
            move || {
                scheduler::run(
                    store.clone(),
                    config.clone(),
                    plans.clone(),
                    wake.clone(),
                    rx.clone(),
                )
            },
        );
    }
    {
        let (store, config, rx) = (store.clone(), config.clone(), rx.clone());
        health::supervise(
            &mut tasks,
            health.clone(),
            "webhooks",
            rx.clone(),
            move || webhooks::run(store.clone(), config.clone(), rx.clone()),
        );
    }
    // With retention off the loop has nothing to do and returns at once.
    if config.retention_days > 0 {
        let (store, config, rx) = (store.clone(), config.clone(), rx.clone());
        health::supervise(
            &mut tasks,
            health.clone(),
            "retention",
            rx.clone(),
            move || worker::run_retention(store.clone(), config.clone(), rx.clone()),
        );
    }
    if config.database.checkpoint_secs > 0 {
        let (store, config, rx) = (store.clone(), config.clone(), rx.clone());
        health::supervise(
            &mut tasks,
            health.clone(),
            "checkpoint",
            rx.clone(),
            move || worker::run_checkpoints(store.clone(), config.clone(), rx.clone()),
        );
    }
    {
        let (store, rx) = (store.clone(), rx.clone());
        health::supervise(
            &mut tasks,
            health.clone(),
            "engine-pruning",
            rx.clone(),
            move || worker::run_engine_pruning(store.clone(), rx.clone()),
        );
    }
    {
        let (store, keys, rx) = (store.clone(), state.keys.clone(), rx.clone());
        health::supervise(&mut tasks, health.clone(), "keys", rx.clone(), move || {
            auth::watch_revocations(store.clone(), keys.clone(), rx.clone())
        });
    }
    {
        let (store, rx) = (store.clone(), rx.clone());
        health::supervise(
            &mut tasks,
            health.clone(),
            "idempotency",
            rx.clone(),
            move || worker::run_idempotency_pruning(store.clone(), rx.clone()),
        );
    }

    let metrics = if config.metrics.enabled() {
        telemetry::install()
    } else {
        None
    };
    let mut app = routes::router(state.clone());
    if let Some(handle) = &metrics
        && config.metrics.on_public_listener()
    {
        app = app.merge(telemetry::router(
            handle.clone(),
            store.clone(),
            &config.metrics,
        ));
    }
    let app = app
        // A client that stops sending its body mid-way would otherwise hold a connection
        // and a task forever; the answer is still the error envelope.
        .layer(tower_http::timeout::TimeoutLayer::with_status_code(
            axum::http::StatusCode::REQUEST_TIMEOUT,
            std::time::Duration::from_secs(config.request_timeout_secs.max(1)),
        ))
        .layer(axum::middleware::map_response(error::envelope_empty_errors))
        .layer(axum::middleware::from_fn(telemetry::http_metrics))
        .layer(
            tower_http::trace::TraceLayer::new_for_http()
                // Never log headers: x-api-key is one of them. The request id is set (or
                // checked) by the layer outside this one.
                .make_span_with(|req: &axum::http::Request<_>| {
                    let id = req.headers().get(&telemetry::REQUEST_ID);
                    let id = id.and_then(|v| v.to_str().ok()).unwrap_or_default();
                    tracing::info_span!("http", method = %req.method(), path = %req.uri().path(), request_id = %id)
                }),
        )
        .layer(axum::middleware::from_fn(telemetry::request_id));
    let mut metrics_addr = None;
    if let Some(handle) = metrics {
        if let Some(listener) = metrics_listener {
            metrics_addr = Some(listener.local_addr()?);
            let app = telemetry::router(handle.clone(), store.clone(), &config.metrics)
                .layer(axum::middleware::from_fn(telemetry::request_id));
            // A scraper or two: a small cap keeps it from taking descriptors.
            tasks.spawn(serve::run(listener, app, config.http, 16, rx.clone()));
        }
        tasks.spawn(telemetry::upkeep(handle, rx.clone()));
    }
    let max_connections = serve::effective_max_connections(
        config.http.max_connections,
        config.webhooks.max_in_flight,
    );
    if max_connections < config.http.max_connections {
        tracing::warn!(
            configured = config.http.max_connections,
            max_connections,
            "http.max_connections lowered to fit the open-file limit (raise LimitNOFILE / ulimit -n)"
        );
    }
    tasks.spawn(serve::run(
        listener,
        app,
        config.http,
        max_connections,
        rx.clone(),
    ));
    Ok(Server {
        addr,
        metrics_addr,
        state,
        shutdown,
        tasks,
    })
}

/// The engines `config` turns on. An engine whose table is there but incomplete (a secret
/// or `public_url` missing) is left out, with a warning; creating its instances is a 400
/// that says what is missing.
fn engines(
    config: &Config,
    store: &Arc<dyn Store>,
    secret: &Arc<[u8]>,
    public_url: &str,
) -> Engines {
    use config::EngineKind;
    let usable = |kind: EngineKind| match config.engine_configured(kind) {
        Ok(()) => true,
        Err(why) => {
            if kind == EngineKind::Waha && config.engines.waha.is_some()
                || kind == EngineKind::Meta && config.engines.meta.is_some()
            {
                tracing::warn!("engine {kind} is off: {why}");
            }
            false
        }
    };
    let waha = config
        .engines
        .waha
        .as_ref()
        .filter(|_| usable(EngineKind::Waha))
        .map(|c| WahaEngine::new(store.clone(), c, public_url, secret));
    let meta = config
        .engines
        .meta
        .as_ref()
        .filter(|_| usable(EngineKind::Meta))
        .map(|c| MetaEngine::new(store.clone(), c));
    let sandbox = Arc::new(SandboxEngine::new(store.clone(), secret.clone()));
    Engines::new(store.clone(), sandbox, waha, meta)
}

impl Server {
    /// The bound address.
    pub fn local_addr(&self) -> SocketAddr {
        self.addr
    }

    /// The bound address of the separate metrics listener (`[metrics] listen`), if any.
    pub fn metrics_addr(&self) -> Option<SocketAddr> {
        self.metrics_addr
    }

    /// The base URL clients use (`http://127.0.0.1:PORT` unless `public_url` is set).
    pub fn base_url(&self) -> String {
        self.state.public_url.to_string()
    }

    /// The store, for set-up in tests and tools.
    pub fn store(&self) -> Arc<dyn Store> {
        self.state.store.clone()
    }

    /// The background loops' state and the write probe (what `/readyz` reports).
    pub fn health(&self) -> Arc<health::Health> {
        self.state.health.clone()
    }

    /// Creates an account and returns its new API key.
    pub async fn create_key(&self, name: &str, plan: &str) -> Result<String, StoreError> {
        auth::create_key(&*self.state.store, name, plan)
            .await
            .map(|(_, key)| key)
    }

    /// Stops accepting connections, finishes in-flight requests and sends, releases
    /// leased queue entries, and returns when all of that is done. Connections still
    /// open `http.shutdown_timeout_secs` after the call are dropped, so a stuck client
    /// cannot hold the shutdown up.
    pub async fn shutdown(mut self) {
        let _ = self.shutdown.send(true);
        while self.tasks.join_next().await.is_some() {}
    }

    /// Runs until `signal` completes, then shuts down gracefully.
    pub async fn run_until(self, signal: impl std::future::Future<Output = ()>) {
        signal.await;
        self.shutdown().await;
    }
}
