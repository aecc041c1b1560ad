//! The SDK's integration tests, one binary (as uv and svix do): every module links the
//! same dependency graph once instead of once per file.
//!
//! Resource modules (`channels`, `messages`, ...) drive `client.<resource>()` against
//! wiremock in JSON and form and snapshot the bodies; `client` is retries and error
//! mapping; `models` the documentation's own bodies; `signature` the webhook signature
//! vectors from OpenSSL and Node.js. Run one module with
//! `cargo test -p sevenoways-sdk --test it channels`.

mod common;

mod channels;
mod client;
mod communities;
mod instances;
mod messages;
mod models;
mod pages;
mod sandbox;
mod schedules;
mod send_message;
mod signature;
mod usage;
mod webhooks;
