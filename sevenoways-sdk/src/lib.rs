//! # sevenoways-sdk
//!
//! A typed async client for the [Sevenoways Relay](https://sevenoways.app) WhatsApp API,
//! the request, response and webhook types the API is made of, and a webhook signature
//! verifier.
//!
//! ```no_run
//! use sevenoways_sdk::{Client, Phone};
//! use sevenoways_sdk::models::messages::SendNumberRequest;
//!
//! # async fn run() -> Result<(), sevenoways_sdk::Error> {
//! let client = Client::from_env()?; // SEVENOWAYS_API_KEY, SEVENOWAYS_BASE_URL
//! let queued = client
//!     .messages()
//!     .send_number(&SendNumberRequest::new(
//!         "number2".parse()?,
//!         Phone::normalize("+971 50 123 4567")?,
//!         "Your order is ready 🎉".try_into()?,
//!     ))
//!     .await?;
//! println!("queued: {}", queued.queue_id);
//! # Ok(()) }
//! ```
//!
//! ## Retries, and when a send is safe to send again
//! Every `POST` the client makes carries an `Idempotency-Key`: a fresh UUID v4, or one you
//! choose with [`Call::idempotency_key`]. The server keeps the first answer to a key for 24
//! hours and answers a repeat with it instead of acting again. So the client retries a
//! send (with the same key, with backoff, honouring `Retry-After`) after a 429, a
//! 500/502/503/504, a timeout or a dropped connection, and a send the server had already
//! queued is not queued twice. An error for which [`Error::may_have_been_processed`] is
//! true means those retries ran out; sending again is safe only with the same key, so a
//! program that may send again later (after a restart, from a queue of its own) names
//! its requests:
//!
//! ```no_run
//! # use sevenoways_sdk::{Client, Phone};
//! # use sevenoways_sdk::models::messages::SendNumberRequest;
//! # async fn run(client: Client, order: u64) -> Result<(), sevenoways_sdk::Error> {
//! let req = SendNumberRequest::new(
//!     "number2".parse()?,
//!     Phone::normalize("+971 50 123 4567")?,
//!     format!("Order {order} is ready").try_into()?,
//! );
//! // However often this runs for this order, the customer gets one message.
//! client.call(&req).idempotency_key(format!("order-{order}-ready")).await?;
//! # Ok(()) }
//! ```
//!
//! The typed handles (`client.messages().send_number(&req)`) send a fresh key per call;
//! `client.call(&req)` is the same request with a key of your own.
//!
//! ## Features
//! - `client` (default): the HTTP [`Client`] (reqwest with rustls, tokio). Without it
//!   (`default-features = false`) the crate is the shared types, the form codec
//!   ([`body`]) and webhook signing ([`signature`]): what `sevenoways-server` uses.
//!
//! ## Receiving webhooks
//! Verify each delivery over the raw body bytes with [`signature::Verifier`]:
//! `verify_standard` checks the Standard Webhooks headers (`webhook-id`,
//! `webhook-timestamp`, `webhook-signature`) and refuses a delivery signed more than five
//! minutes away, so a recorded one cannot be replayed; `verify` checks the documented
//! `X-Webhook-Signature` alone. Give the verifier both secrets while rotating one.
//!
//! ```
//! use sevenoways_sdk::signature::{StandardHeaders, Verifier};
//! use sevenoways_sdk::WebhookSecret;
//! # let (body, received): (&[u8], Vec<(&str, &str)>) = (b"{}", vec![]);
//! let verifier = Verifier::new([WebhookSecret::new("whsec_...")]);
//! let headers = StandardHeaders::from_fn(|name| {
//!     received.iter().find(|(n, _)| n.eq_ignore_ascii_case(name)).map(|(_, v)| *v)
//! });
//! match verifier.verify_standard(body, &headers) {
//!     Ok(event) => println!("{} {}", event.event_type(), event.id),
//!     Err(e) => eprintln!("rejected: {e}"), // answer 401
//! }
//! ```
//!
//! ## Layout
//! [`models`] has one module per resource (instances, groups, messages, communities,
//! channels, schedules, queue, webhooks, usage, sandbox): its bodies, answers and one
//! [`Endpoint`] type per operation (see [`endpoint`] for the route table).
//! `client.<resource>()` returns the matching handle in [`api`]; any endpoint can also be
//! sent as it is with `Client::call`. Every value is validated when built, so an invalid phone
//! number or a 5000-character message is refused before a request is sent, with a
//! [`ValidationError`] naming the field.
#![warn(missing_docs)]

pub mod body;
pub mod endpoint;
pub mod env;
pub mod ids;
pub mod models;
pub mod page;
#[cfg(all(test, feature = "schema"))]
mod schema_agreement;
pub mod secret;
pub mod signature;
pub mod validation;

#[cfg(feature = "client")]
pub mod api;
#[cfg(feature = "client")]
mod client;
#[cfg(feature = "client")]
mod error;

#[cfg(feature = "client")]
pub use client::{BodyEncoding, Call, Client, ClientBuilder, DEFAULT_BASE_URL, Pages};
#[cfg(feature = "client")]
pub use error::{Error, Result};

pub use endpoint::Endpoint;
pub use ids::{
    ChannelId, DeliveryId, EventId, GroupId, GroupName, IdempotencyKey, InstanceId, NewsletterJid,
    Phone, PhoneNumberId, QueueId, ScheduleId, WebhookId,
};
pub use models::common::{
    CronExpr, Empty, ErrorBody, MediaUrl, MessageText, NoFields, RATE_LIMIT_MESSAGE, Success,
    TimeZone,
};
pub use models::messages::{Content, GroupTarget, Queued, SendMessage, Target};
pub use models::webhooks::{Event, EventData};
pub use page::{Cursor, PageParams, PageSize};
pub use secret::{ApiKey, WebhookSecret};
pub use validation::{Validate, ValidationError};

/// The workspace README's Rust quick start, compiled as a doc test so it cannot rot.
#[cfg(all(doctest, feature = "client"))]
#[doc = include_str!("../../README.md")]
pub struct ReadmeDoctests;
