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
//! per-key rate limit and per-plan caps; [`ssrf`] guards the URLs the server requests;
//! [`account`], [`ids`] and [`time`] are the leaf types everything else shares;
//! [`transport`] is the WhatsApp side. [`launch`] takes a bound listener, so tests run
//! it on port 0; the `testing` module (feature `testing`) is the harness the server's and
//! the CLI's tests share.
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
pub mod config;
pub mod cron;
pub mod error;
pub mod extract;
pub mod idempotency;
pub mod ids;
pub mod limits;
pub mod routes;
pub mod scheduler;
pub mod ssrf;
pub mod store;
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
use transport::sandbox::SandboxTransport;

/// What every handler can reach.
#[derive(Clone)]
pub struct AppState {
    /// Behind the trait, so handlers never see SQL (a test can hand in another backend).
    pub store: Arc<dyn Store>,
    /// With `network.allow_loopback` settled from the bound address.
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
}

/// A running server. Dropping it does not stop it; call [`Server::shutdown`].
pub struct Server {
    addr: SocketAddr,
    state: AppState,
    shutdown: watch::Sender<bool>,
    tasks: JoinSet<()>,
}

/// Why the server could not start.
#[derive(Debug, thiserror::Error)]
pub enum LaunchError {
    /// The store failed to open or migrate.
    #[error("cannot open the data directory: {0}")]
    Store(#[from] StoreError),
    /// The listener is unusable.
    #[error("listener: {0}")]
    Io(#[from] std::io::Error),
    /// The configuration is invalid.
    #[error("invalid configuration: {0}")]
    Config(String),
}

/// Opens the store under `config.data_dir`, starts the workers and serves on `listener`.
pub async fn launch(config: Config, listener: TcpListener) -> Result<Server, LaunchError> {
    let store: Arc<dyn Store> = Arc::new(SqliteStore::open(&config.data_dir).await?);
    launch_with_store(config, listener, store).await
}

/// [`launch`] on a store of the caller's choosing.
pub async fn launch_with_store(
    config: Config,
    listener: TcpListener,
    store: Arc<dyn Store>,
) -> Result<Server, LaunchError> {
    let addr = listener.local_addr()?;
    let plans = Arc::new(limits::Plans::from_config(&config.plans).map_err(LaunchError::Config)?);
    let mut config = config;
    // Loopback targets are allowed by default only while the server is itself local.
    config
        .network
        .allow_loopback
        .get_or_insert(addr.ip().is_loopback());
    let config = Arc::new(config);
    let state = AppState {
        plans: plans.clone(),
        qr_secret: store.server_secret().await?.into(),
        public_url: config.public_url(addr).into(),
        store: store.clone(),
        config: config.clone(),
        queue_wake: Arc::new(Notify::new()),
        keys: Arc::default(),
    };
    let (shutdown, rx) = watch::channel(false);
    let mut tasks = JoinSet::new();
    let transport = Arc::new(SandboxTransport::new(store.clone()));
    tasks.spawn(worker::run_queue(
        store.clone(),
        transport,
        config.clone(),
        state.queue_wake.clone(),
        rx.clone(),
    ));
    tasks.spawn(worker::run_receipts(
        store.clone(),
        config.clone(),
        rx.clone(),
    ));
    tasks.spawn(scheduler::run(
        store.clone(),
        config.clone(),
        plans,
        state.queue_wake.clone(),
        rx.clone(),
    ));
    tasks.spawn(webhooks::run(store.clone(), config.clone(), rx.clone()));
    tasks.spawn(worker::run_retention(
        store.clone(),
        config.clone(),
        rx.clone(),
    ));
    tasks.spawn(worker::run_idempotency_pruning(store.clone(), rx.clone()));

    let app = routes::router(state.clone())
        // A client that stops sending its body mid-way would otherwise hold a connection
        // and a task forever; the answer is still the error envelope.
        .layer(tower_http::timeout::TimeoutLayer::with_status_code(
            axum::http::StatusCode::REQUEST_TIMEOUT,
            std::time::Duration::from_secs(config.request_timeout_secs.max(1)),
        ))
        .layer(axum::middleware::map_response(error::envelope_empty_errors))
        .layer(
            tower_http::trace::TraceLayer::new_for_http()
                // Never log headers: x-api-key is one of them.
                .make_span_with(|req: &axum::http::Request<_>| {
                    tracing::info_span!("http", method = %req.method(), path = %req.uri().path())
                }),
        );
    let mut stop = rx.clone();
    tasks.spawn(async move {
        let serve = axum::serve(listener, app).with_graceful_shutdown(async move {
            let _ = stop.wait_for(|s| *s).await;
        });
        if let Err(e) = serve.await {
            tracing::error!(error = %e, "server stopped");
        }
    });
    Ok(Server {
        addr,
        state,
        shutdown,
        tasks,
    })
}

impl Server {
    /// The bound address.
    pub fn local_addr(&self) -> SocketAddr {
        self.addr
    }

    /// The base URL clients use (`http://127.0.0.1:PORT` unless `public_url` is set).
    pub fn base_url(&self) -> String {
        self.state.public_url.to_string()
    }

    /// The store, for set-up in tests and tools.
    pub fn store(&self) -> Arc<dyn Store> {
        self.state.store.clone()
    }

    /// Creates an account and returns its new API key.
    pub async fn create_key(&self, name: &str, plan: &str) -> Result<String, StoreError> {
        auth::create_key(&*self.state.store, name, plan)
            .await
            .map(|(_, key)| key)
    }

    /// Stops accepting connections, finishes in-flight requests and sends, releases
    /// leased queue entries, and returns when all of that is done.
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
