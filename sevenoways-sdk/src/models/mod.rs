//! The request, response and event types of every endpoint, one module per resource.
//!
//! These compile without the HTTP client (`default-features = false`), so the server
//! parses and answers with exactly the types the client sends and decodes.

pub mod channels;
pub mod common;
pub mod communities;
pub(crate) mod de;
pub mod groups;
pub mod instances;
pub mod messages;
pub mod queue;
pub mod sandbox;
pub mod schedules;
pub mod usage;
pub mod webhooks;

pub use crate::endpoint::Endpoint;
