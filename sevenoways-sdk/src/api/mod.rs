//! One handle per resource, borrowed from a [`crate::Client`]:
//! `client.messages().send_number(&req)`, `client.channels().list()`, ...
//!
//! Each method is a thin wrapper over [`crate::Client::call`] with the operation's
//! [`Endpoint`](crate::Endpoint) type (`client.instances().delete(&id)` is
//! `client.call(&DeleteInstance { id })`), kept because a handle reads better and lists
//! what a resource can do in one place. A handle's `POST` goes with a fresh
//! `Idempotency-Key`; to choose the key, send the request with `Client::call`:
//! `client.call(&req).idempotency_key("order-1234").await`.

mod channels;
mod communities;
mod groups;
mod instances;
mod messages;
mod queue;
mod sandbox;
mod schedules;
mod usage;
mod webhooks;

pub use channels::ChannelsApi;
pub use communities::CommunitiesApi;
pub use groups::GroupsApi;
pub use instances::InstancesApi;
pub use messages::MessagesApi;
pub use queue::QueueApi;
pub use sandbox::SandboxApi;
pub use schedules::SchedulesApi;
pub use usage::UsageApi;
pub use webhooks::WebhooksApi;

use crate::Client;

macro_rules! handles {
    ($($(#[$doc:meta])* $method:ident => $api:ident),* $(,)?) => {
        impl Client {
            $(
                $(#[$doc])*
                pub fn $method(&self) -> $api<'_> {
                    $api { client: self }
                }
            )*
        }
    };
}

handles! {
    /// `/api/instances`: list, create, delete, QR codes.
    instances => InstancesApi,
    /// `/api/instances/{id}/groups`.
    groups => GroupsApi,
    /// `/api/send*` and `/api/send-number*`.
    messages => MessagesApi,
    /// `/api/send-*community`.
    communities => CommunitiesApi,
    /// `/api/channels` and `/api/send-*channel`.
    channels => ChannelsApi,
    /// `/api/schedules`.
    schedules => SchedulesApi,
    /// `/api/queue/{id}`.
    queue => QueueApi,
    /// `/api/webhooks`.
    webhooks => WebhooksApi,
    /// `/api/usage`: rate limit and message caps.
    usage => UsageApi,
    /// `/api/sandbox/*`, on a server running the sandbox transport.
    sandbox => SandboxApi,
}
