//! The server's integration tests, one binary (as uv and svix do): axum, sqlx and reqwest
//! are linked once, not once per file.
//!
//! - `e2e_*`: a real server in-process on port 0 (`sevenoways_server::testing`), driven
//!   through the SDK and raw HTTP, one module per subject (svix's naming).
//! - `kill_restart`, `keys_cli`: the real `sevenoways-server` binary.
//! - `store_limits`, `queue_leases`: the SQLite store directly, with injected instants.
//! - `openapi`: the committed OpenAPI snapshot.
//!
//! Run one module with `cargo test -p sevenoways-server --test it e2e_webhooks`.

mod e2e_api_endpoints;
mod e2e_api_errors;
mod e2e_api_forms;
mod e2e_isolation;
mod e2e_rate_limits;
mod e2e_restart;
mod e2e_retention;
mod e2e_schedules;
mod e2e_slow_clients;
mod e2e_ssrf;
mod e2e_webhooks;
mod keys_cli;
mod kill_restart;
mod openapi;
mod openapi_conformance;
mod queue_leases;
mod store_limits;
