//! The request, response and event types of every endpoint, one module per resource.
//!
//! These compile without the HTTP client (`default-features = false`), so the server
//! parses and answers with exactly the types the client sends and decodes.

pub mod channels;
pub mod common;
pub mod communities;
pub mod de;
pub mod groups;
pub mod instances;
pub mod messages;
pub mod queue;
pub mod sandbox;
pub mod schedules;
pub mod usage;
pub mod webhooks;

use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::validation::Validate;

/// A `POST` endpoint with a body: its path and what it answers.
///
/// The client and the server's router both take the path from here, so they cannot drift.
pub trait Endpoint: Serialize + DeserializeOwned + Validate {
    /// The documented path, e.g. `/api/send-number`.
    const PATH: &'static str;
    /// The success body, inside the `{"success":true,…}` envelope.
    type Response: Serialize + DeserializeOwned;
}
