//! The server's integration tests, one binary (as uv and svix do): axum, sqlx and reqwest
//! are linked once, not once per file.
//!
//! - `e2e_*`: a real server in-process on port 0 (`sevenoways_server::testing`), driven
//!   through the SDK and raw HTTP, one module per subject (svix's naming).
//! - `e2e_metrics`: where `/metrics` is served and who may read it; `X-Request-Id`.
//! - `kill_restart`, `keys_cli`, `first_start`, `*_bin`: the real `sevenoways-server`
//!   binary (started through `server_process`).
//! - `store_*`, `queue_leases`: the SQLite store directly, with injected instants;
//!   `store_migrations`: a database an older version left, migrated.
//! - `openapi`: the committed OpenAPI snapshot.
//! - `engine_waha`, `engine_meta`: the real engines' adapters against fakes that follow
//!   WAHA's and Meta's published contracts (`sevenoways_server::testing::fake_*`).
//!
//! Run one module with `cargo test -p sevenoways-server --test it e2e_webhooks`.

/// Held by the two heaviest tests (the Postgres half of the matrix, which runs the suite
/// again in a child, and Schemathesis), so they do not run at the same time: on two cores,
/// both beside the rest of the suite starved timing-sensitive tests into failing.
pub static HEAVY: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

mod backup_bin;
mod console_browser;
mod console_http;
mod database_url_bin;
mod e2e_api_endpoints;
mod e2e_api_errors;
mod e2e_api_forms;
mod e2e_disk_full;
mod e2e_engines;
mod e2e_health;
mod e2e_idempotency;
mod e2e_isolation;
mod e2e_keys;
mod e2e_metrics;
mod e2e_noisy_neighbour;
mod e2e_qr;
mod e2e_rate_limits;
mod e2e_restart;
mod e2e_retention;
mod e2e_schedules;
mod e2e_slow_clients;
mod e2e_ssrf;
mod e2e_tenants;
mod e2e_webhook_fairness;
mod e2e_webhook_secrets;
mod e2e_webhooks;
mod engine_meta;
mod engine_waha;
mod first_start;
mod keys_cli;
mod kill_restart;
mod logging_bin;
mod metrics_bin;
mod openapi;
mod openapi_conformance;
mod postgres_matrix;
mod queue_leases;
mod replicas_bin;
mod server_process;
mod slow_clients_bin;
mod store_files;
mod store_keys;
mod store_limits;
mod store_migrations;
mod store_webhooks;
