//! `svw`'s integration tests, one binary (as uv does): every module links the dependency
//! graph once instead of once per file.
//!
//! The command modules (`send`, `bulk`, `resources`, `webhooks`, `config`, `exit_codes`)
//! run the real `svw` binary against wiremock; `server` runs it against a real server
//! in-process (`sevenoways_server::testing`); `help` pins the help text of every
//! subcommand in snapshots. Run one module with `cargo test -p sevenoways-cli --test it send`.

mod common;

mod bulk;
mod config;
mod exit_codes;
mod help;
mod resources;
mod send;
mod server;
mod webhooks;
