//! Every operation of the API as a type that knows its method, route and answer.
//!
//! A route is written once, as an [`Endpoint::ROUTE`] constant. The client builds request
//! paths from it ([`crate::Client::call`]), the server registers it with its router, and
//! the server's OpenAPI document lists [`OPERATIONS`], so none of the three can name a
//! path the others do not. This follows async-stripe's one-type-per-operation design:
//! `DeleteInstance { id }`, `GetQr { id }`, `ListDeliveries { id }`; a request body type
//! such as [`SendRequest`] is its own endpoint.
//!
//! Nothing here needs the HTTP client, so the server uses it with
//! `default-features = false`.
//!
//! ```
//! use sevenoways_sdk::Endpoint;
//! use sevenoways_sdk::endpoint::Method;
//! use sevenoways_sdk::models::instances::GetQr;
//!
//! let op = GetQr { id: "number2".parse()? };
//! assert_eq!((GetQr::METHOD, GetQr::ROUTE), (Method::Get, "/api/instances/{id}/qr"));
//! assert_eq!(op.path(), "/api/instances/number2/qr");
//! # Ok::<(), sevenoways_sdk::ValidationError>(())
//! ```

use std::borrow::Cow;
use std::fmt;

use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::validation::ValidationError;

/// The HTTP methods the API uses.
///
/// The SDK's own type rather than `http::Method`, so the shared types need no HTTP
/// library; the client and the server map it onto theirs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Method {
    /// `GET`: reads; retried after a 5xx or a timeout.
    Get,
    /// `POST`: creates or sends; retried with its `Idempotency-Key`, so never acted on
    /// twice.
    Post,
    /// `DELETE`: removes; retried like `GET`.
    Delete,
}

impl Method {
    /// `GET`, `POST` or `DELETE`.
    pub const fn as_str(self) -> &'static str {
        match self {
            Method::Get => "GET",
            Method::Post => "POST",
            Method::Delete => "DELETE",
        }
    }

    /// Whether repeating the request as it is cannot do its work twice (`GET`, `DELETE`).
    /// A `POST` can be repeated safely only with the `Idempotency-Key` of its first
    /// attempt, which the client sends on every retry.
    pub const fn is_idempotent(self) -> bool {
        !matches!(self, Method::Post)
    }
}

impl fmt::Display for Method {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// `schemars::JsonSchema` with the `schema` feature, nothing without it.
///
/// [`Endpoint`]'s body and answer are bound by it so the server's OpenAPI document can
/// describe any endpoint, while the client does not pull schemars in.
#[cfg(feature = "schema")]
pub trait MaybeJsonSchema: schemars::JsonSchema {}
#[cfg(feature = "schema")]
impl<T: schemars::JsonSchema + ?Sized> MaybeJsonSchema for T {}

/// `schemars::JsonSchema` with the `schema` feature, nothing without it.
///
/// [`Endpoint`]'s body and answer are bound by it so the server's OpenAPI document can
/// describe any endpoint, while the client does not pull schemars in.
#[cfg(not(feature = "schema"))]
pub trait MaybeJsonSchema {}
#[cfg(not(feature = "schema"))]
impl<T: ?Sized> MaybeJsonSchema for T {}

/// One operation: its method, its route template, how a value of it becomes a request,
/// and what the success answer holds.
///
/// The success body is `{"success":true,…}` with [`Endpoint::Response`]'s fields;
/// errors are the [`ErrorBody`](crate::ErrorBody) envelope.
pub trait Endpoint {
    /// The HTTP method.
    const METHOD: Method;
    /// The route template, in axum 0.8's syntax (`/api/instances/{id}/qr`): the one
    /// place the path is written.
    const ROUTE: &'static str;
    /// What is POSTed ([`NoBody`] for `GET` and `DELETE`).
    type Body: Serialize + MaybeJsonSchema;
    /// The fields of the success answer.
    type Response: Serialize + DeserializeOwned + MaybeJsonSchema;

    /// The request path: [`Endpoint::ROUTE`] with its `{…}` parameters filled in and
    /// percent-encoded.
    fn path(&self) -> Cow<'_, str> {
        Cow::Borrowed(Self::ROUTE)
    }

    /// Query parameters, unencoded.
    fn query(&self) -> Vec<(&'static str, &str)> {
        Vec::new()
    }

    /// The body to send, for a `POST`.
    fn body(&self) -> Option<&Self::Body>;

    /// Checks the request before it is sent; the server checks it again. A request that
    /// is its own body runs its [`Validate`](crate::Validate) impl; the default accepts
    /// everything, since path parameters are typed and so valid once built. (Not named
    /// `validate`, so it never clashes with [`Validate::validate`](crate::Validate).)
    fn check(&self) -> Result<(), ValidationError> {
        Ok(())
    }

    /// What the operation can answer besides `200` and what the OpenAPI document works
    /// out from its shape: `401`, `408` and `500` (every operation), `400`, `413` and `415`
    /// (every `POST`: it reads a body) and `404` (a `{…}` in the route names something
    /// that may not exist). Declare here a `404` for an id inside the body, `409`, `429`
    /// ([`RATE_LIMITED`]), a `400` for query parameters, and any new status. An entry for
    /// a status the document already lists replaces its generic description.
    const ANSWERS: &'static [Answer] = &[];

    /// Media types the success answer can come in besides JSON (the QR code as a PNG).
    const ALSO_ANSWERS_AS: &'static [MediaType] = &[];

    /// Request bodies as the published documentation shows them (its placeholders
    /// filled in), for the OpenAPI document; a test parses and validates each.
    const EXAMPLES: &'static [Example] = &[];

    /// Operations that take an id from this one's answer (OpenAPI `links`).
    const LINKS: &'static [Link] = &[];

    /// Who may call it.
    const AUTH: Auth = Auth::ApiKey;

    /// The schemas of the route's `{…}` parameters, in order (`None`: plain strings).
    #[cfg(feature = "schema")]
    fn path_schemas(generator: &mut schemars::SchemaGenerator) -> Option<Vec<schemars::Schema>> {
        let _ = generator;
        None
    }

    /// The query parameters the server reads, as the schema of an object whose
    /// properties are the parameters (`None`: it reads none).
    #[cfg(feature = "schema")]
    fn query_schema(generator: &mut schemars::SchemaGenerator) -> Option<schemars::Schema> {
        let _ = generator;
        None
    }
}

/// How a caller proves who it is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Auth {
    /// The `x-api-key` header.
    ApiKey,
    /// The `x-api-key` header, or the `?token=` of a QR link for the instance in the path
    /// (the pairing page, opened from a shared link, has no header to send).
    ApiKeyOrQrToken,
    /// The `x-api-key` header, or the sandbox pairing token of the instance in the path
    /// (the `#pair=` of the create answer's `sandboxPairUrl`, which the QR page's scan
    /// button sends as `x-sandbox-pair-token`).
    ApiKeyOrPairToken,
}

/// A status an operation can answer, and when.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Answer {
    /// The HTTP status.
    pub status: u16,
    /// When it is answered, for people reading the document.
    pub when: &'static str,
}

impl Answer {
    /// `status`, answered `when`.
    pub const fn new(status: u16, when: &'static str) -> Self {
        Self { status, when }
    }
}

/// The send rate limit and message caps: `429` with `Retry-After` (seconds), and for the
/// rate limit exactly the documented message
/// ([`RATE_LIMIT_MESSAGE`](crate::models::common::RATE_LIMIT_MESSAGE)).
pub const RATE_LIMITED: Answer = Answer::new(
    429,
    "Over the send rate limit (60 requests per sliding minute per API key) or the plan's \
     daily or monthly message cap; nothing was queued. Retry-After says when to try again.",
);

/// A media type an answer can come in, and what selects it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MediaType {
    /// `image/png`, `text/html`, ...
    pub mime: &'static str,
    /// What the client does to get it.
    pub when: &'static str,
    /// Whether the answer is bytes rather than text.
    pub binary: bool,
}

/// A request body from the published documentation.
#[derive(Debug, Clone, Copy)]
pub struct Example {
    /// What it shows.
    pub summary: &'static str,
    /// The JSON body.
    pub json: &'static str,
    check: fn(&str) -> Result<(), ValidationError>,
}

impl Example {
    /// The body `json` of a `T` request.
    pub const fn of<T: DeserializeOwned + crate::Validate>(
        summary: &'static str,
        json: &'static str,
    ) -> Self {
        Self {
            summary,
            json,
            check: check_example::<T>,
        }
    }

    /// Whether the server would accept the example: it parses and validates.
    pub fn check(&self) -> Result<(), ValidationError> {
        (self.check)(self.json)
    }
}

fn check_example<T: DeserializeOwned + crate::Validate>(json: &str) -> Result<(), ValidationError> {
    crate::body::from_json::<T>(json.as_bytes())?.validate()
}

/// An OpenAPI link: the operation `method route` takes its parameters from this
/// operation's request or answer, as runtime expressions
/// (`("id", "$response.body#/instance/instanceId")`, `("id", "$request.path.id")`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Link {
    /// The method of the operation linked to.
    pub method: Method,
    /// Its route.
    pub route: &'static str,
    /// Its parameters (a `{…}` of the route, or a query parameter) and where each comes from.
    pub parameters: &'static [(&'static str, &'static str)],
}

impl Link {
    /// `E` takes `parameters` from this operation.
    pub const fn to<E: Endpoint>(parameters: &'static [(&'static str, &'static str)]) -> Self {
        Self {
            method: E::METHOD,
            route: E::ROUTE,
            parameters,
        }
    }
}

/// The body of an operation that sends none (`GET`, `DELETE`). It has no values.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum NoBody {}

#[cfg(feature = "schema")]
impl schemars::JsonSchema for NoBody {
    fn schema_name() -> Cow<'static, str> {
        "NoBody".into()
    }
    fn json_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
        schemars::json_schema!(false)
    }
}

/// Fills `route`'s `{…}` segments with `params`, in order, each percent-encoded as one
/// path segment (a typed id is URL-safe already; this keeps a hand-made one from
/// changing the path).
///
/// ```
/// use sevenoways_sdk::endpoint::fill_route;
/// assert_eq!(
///     fill_route("/api/webhooks/{id}/deliveries/{deliveryId}", &["wh_1", "dlv 2"]),
///     "/api/webhooks/wh_1/deliveries/dlv%202"
/// );
/// ```
pub fn fill_route(route: &str, params: &[&str]) -> String {
    let mut out =
        String::with_capacity(route.len() + params.iter().map(|p| p.len()).sum::<usize>());
    let mut params = params.iter();
    for (i, segment) in route.split('/').enumerate() {
        if i > 0 {
            out.push('/');
        }
        if segment.starts_with('{') && segment.ends_with('}') {
            let value = params.next().expect("one value per route parameter");
            out.extend(percent_encoding::utf8_percent_encode(value, SEGMENT));
        } else {
            out.push_str(segment);
        }
    }
    debug_assert!(params.next().is_none(), "more values than route parameters");
    out
}

/// Everything but unreserved characters (RFC 3986), so a value is always one segment.
const SEGMENT: &percent_encoding::AsciiSet = &percent_encoding::NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'.')
    .remove(b'_')
    .remove(b'~');

/// An endpoint whose request is its own body (`SendRequest`, `CreateInstanceRequest`, ...),
/// with optional metadata: `{ answers: [..], examples: [..], links: [..] }` (see
/// [`Endpoint::ANSWERS`], [`Endpoint::EXAMPLES`], [`Endpoint::LINKS`]).
macro_rules! body_endpoint {
    ($name:ty => POST $route:literal -> $response:ty $({ $($meta:tt)* })?) => {
        impl $crate::endpoint::Endpoint for $name {
            const METHOD: $crate::endpoint::Method = $crate::endpoint::Method::Post;
            const ROUTE: &'static str = $route;
            type Body = Self;
            type Response = $response;

            fn body(&self) -> Option<&Self> {
                Some(self)
            }

            fn check(&self) -> Result<(), $crate::ValidationError> {
                $crate::Validate::validate(self)
            }

            $( $crate::endpoint::endpoint_meta!($($meta)*); )?
        }
    };
}

/// The metadata items of [`body_endpoint!`] and [`path_endpoint!`], as associated consts.
macro_rules! endpoint_meta {
    () => {};
    (answers: [$($v:expr),* $(,)?] $(, $($rest:tt)*)?) => {
        const ANSWERS: &'static [$crate::endpoint::Answer] = &[$($v),*];
        $( $crate::endpoint::endpoint_meta!($($rest)*); )?
    };
    (also_answers_as: [$($v:expr),* $(,)?] $(, $($rest:tt)*)?) => {
        const ALSO_ANSWERS_AS: &'static [$crate::endpoint::MediaType] = &[$($v),*];
        $( $crate::endpoint::endpoint_meta!($($rest)*); )?
    };
    (examples: [$(($summary:expr, $json:expr)),* $(,)?] $(, $($rest:tt)*)?) => {
        const EXAMPLES: &'static [$crate::endpoint::Example] =
            &[$($crate::endpoint::Example::of::<Self>($summary, $json)),*];
        $( $crate::endpoint::endpoint_meta!($($rest)*); )?
    };
    (auth: $v:expr $(, $($rest:tt)*)?) => {
        const AUTH: $crate::endpoint::Auth = $v;
        $( $crate::endpoint::endpoint_meta!($($rest)*); )?
    };
    (links: [$($v:expr),* $(,)?] $(, $($rest:tt)*)?) => {
        const LINKS: &'static [$crate::endpoint::Link] = &[$($v),*];
        $( $crate::endpoint::endpoint_meta!($($rest)*); )?
    };
}

/// An operation named by its path parameters alone: the struct (one field per `{…}` of
/// the route, in order; a unit struct when there are none) and its [`Endpoint`] impl.
/// `POST` ones send `{}` ([`NoFields`](crate::models::common::NoFields)); metadata as in
/// [`body_endpoint!`].
macro_rules! path_endpoint {
    (
        $(#[$doc:meta])*
        $name:ident { $( $(#[$fdoc:meta])* $field:ident : $ty:ty ),* $(,)? }
        => $method:ident $route:literal -> $response:ty $({ $($meta:tt)* })?
    ) => {
        $(#[$doc])*
        #[derive(Debug, Clone, PartialEq, Eq)]
        pub struct $name {
            $( $(#[$fdoc])* pub $field: $ty, )*
        }

        impl $crate::endpoint::Endpoint for $name {
            const METHOD: $crate::endpoint::Method = $crate::endpoint::Method::$method;
            const ROUTE: &'static str = $route;
            type Body = path_endpoint!(@body $method);
            type Response = $response;

            fn path(&self) -> std::borrow::Cow<'_, str> {
                std::borrow::Cow::Owned($crate::endpoint::fill_route(
                    Self::ROUTE,
                    &[$( AsRef::<str>::as_ref(&self.$field) ),*],
                ))
            }

            #[cfg(feature = "schema")]
            fn path_schemas(
                generator: &mut schemars::SchemaGenerator,
            ) -> Option<Vec<schemars::Schema>> {
                Some(vec![$( generator.subschema_for::<$ty>() ),*])
            }

            fn body(&self) -> Option<&Self::Body> {
                path_endpoint!(@body_value $method)
            }

            $( $crate::endpoint::endpoint_meta!($($meta)*); )?
        }
    };
    (
        $(#[$doc:meta])*
        $name:ident => $method:ident $route:literal -> $response:ty $({ $($meta:tt)* })?
    ) => {
        $(#[$doc])*
        #[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
        pub struct $name;

        impl $crate::endpoint::Endpoint for $name {
            const METHOD: $crate::endpoint::Method = $crate::endpoint::Method::$method;
            const ROUTE: &'static str = $route;
            type Body = path_endpoint!(@body $method);
            type Response = $response;

            fn body(&self) -> Option<&Self::Body> {
                path_endpoint!(@body_value $method)
            }

            $( $crate::endpoint::endpoint_meta!($($meta)*); )?
        }
    };
    (@body Post) => { $crate::models::common::NoFields };
    (@body $other:ident) => { $crate::endpoint::NoBody };
    (@body_value Post) => { Some(&$crate::models::common::NoFields {}) };
    (@body_value $other:ident) => { None };
}

pub(crate) use {body_endpoint, endpoint_meta, path_endpoint};

/// An operation as the OpenAPI document and the route tests list it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Operation {
    /// The endpoint type's name (`DeleteInstance`).
    pub name: &'static str,
    /// Its method.
    pub method: Method,
    /// Its route template.
    pub route: &'static str,
    /// The resource it belongs to, as `client.<resource>()` names it (`instances`).
    pub tag: &'static str,
    /// One line for people.
    pub summary: &'static str,
}

impl Operation {
    /// The operation of `E`.
    pub const fn of<E: Endpoint>(
        name: &'static str,
        tag: &'static str,
        summary: &'static str,
    ) -> Self {
        Self {
            name,
            method: E::METHOD,
            route: E::ROUTE,
            tag,
            summary,
        }
    }
}

/// Something that wants to see every endpoint type, e.g. to describe it.
pub trait Visitor {
    /// Called once per operation, in [`OPERATIONS`] order.
    fn visit<E: Endpoint>(&mut self, op: Operation);
}

macro_rules! operations {
    ($( $ty:ident : $tag:literal, $summary:literal; )*) => {
        /// Every operation of the API, in the order the OpenAPI document lists them.
        pub const OPERATIONS: &[Operation] = &[
            $( Operation::of::<$ty>(stringify!($ty), $tag, $summary), )*
        ];

        /// Shows `visitor` every endpoint type with its [`Operation`], in
        /// [`OPERATIONS`] order.
        pub fn visit_all<V: Visitor>(visitor: &mut V) {
            $( visitor.visit::<$ty>(Operation::of::<$ty>(stringify!($ty), $tag, $summary)); )*
        }
    };
}

use crate::models::channels::{
    AddChannelRequest, ListChannels, RemoveChannel, SendDocumentToChannelRequest,
    SendImageToChannelRequest, SendToChannelRequest,
};
use crate::models::communities::{
    SendDocumentToCommunityRequest, SendImageToCommunityRequest, SendToCommunityRequest,
};
use crate::models::groups::{ListGroups, RefreshGroups};
use crate::models::instances::{CreateInstanceRequest, DeleteInstance, GetQr, ListInstances};
use crate::models::messages::{
    SendDocumentRequest, SendImageRequest, SendNumberDocumentRequest, SendNumberImageRequest,
    SendNumberRequest, SendRequest,
};
use crate::models::queue::GetQueueEntry;
use crate::models::sandbox::{
    AddSandboxGroup, GetOutbox, PairSandboxInstance, SandboxInbound, UnpairSandboxInstance,
};
use crate::models::schedules::{
    CreateScheduleRequest, DeleteSchedule, ListSchedules, ResumeSchedule,
};
use crate::models::usage::GetUsage;
use crate::models::webhooks::{
    CreateWebhookRequest, DeleteWebhook, EnableWebhook, GetDelivery, ListDeliveries, ListWebhooks,
    Redeliver, RotateWebhookSecret, TestWebhook,
};

operations! {
    ListInstances: "instances", "List instances";
    CreateInstanceRequest: "instances", "Create an instance; open qrUrl to pair it";
    DeleteInstance: "instances", "Delete an instance";
    GetQr: "instances", "The pairing QR code: an HTML page in a browser (with ?token= from qrUrl); ?format=png|svg|json for programs";
    ListGroups: "groups", "List the groups of a number";
    RefreshGroups: "groups", "Read the number's groups from its engine again, and list them";

    SendRequest: "messages", "Send text to groups (groupIds, groups by name, or sendAll)";
    SendImageRequest: "messages", "Send an image to groups";
    SendDocumentRequest: "messages", "Send a document to groups";
    SendNumberRequest: "messages", "Send text to a phone number";
    SendNumberImageRequest: "messages", "Send an image to a phone number";
    SendNumberDocumentRequest: "messages", "Send a document to a phone number";
    SendToCommunityRequest: "communities", "Send text to a community";
    SendImageToCommunityRequest: "communities", "Send an image to a community";
    SendDocumentToCommunityRequest: "communities", "Send a document to a community";

    ListChannels: "channels", "List saved channels";
    AddChannelRequest: "channels", "Look a channel up by invite link, code or JID, and save it";
    RemoveChannel: "channels", "Remove a saved channel";
    SendToChannelRequest: "channels", "Send text to a channel";
    SendImageToChannelRequest: "channels", "Send an image to a channel";
    SendDocumentToChannelRequest: "channels", "Send a document to a channel";

    ListSchedules: "schedules", "List schedules with their next run";
    CreateScheduleRequest: "schedules", "Create a cron schedule in an IANA time zone";
    DeleteSchedule: "schedules", "Delete a schedule";
    ResumeSchedule: "schedules", "Resume a schedule paused after repeated runs over the plan's message cap";

    GetQueueEntry: "queue", "A queue entry's status, attempts, timestamps and failure reason";

    PairSandboxInstance: "sandbox", "Simulate the QR scan: the instance comes online";
    AddSandboxGroup: "sandbox", "Add a group to the number, or rename it";
    SandboxInbound: "sandbox", "Simulate an incoming message";
    GetOutbox: "sandbox", "What the sandbox transport sent (?instanceId=ID), oldest first";
    UnpairSandboxInstance: "sandbox", "Simulate the phone logging out: the instance goes offline";

    GetUsage: "usage", "This key's plan: requests this minute, messages today and this month, limits and reset times";

    ListWebhooks: "webhooks", "List webhook subscriptions (secrets are never shown again)";
    CreateWebhookRequest: "webhooks", "Subscribe a URL to events; the answer shows the signing secret once";
    DeleteWebhook: "webhooks", "Delete a subscription";
    TestWebhook: "webhooks", "Queue a signed webhook.test event to the subscription";
    ListDeliveries: "webhooks", "Recent deliveries, newest first: status, response code, latency, next attempt";
    GetDelivery: "webhooks", "One delivery with every attempt";
    Redeliver: "webhooks", "Send a delivery again now";
    EnableWebhook: "webhooks", "Enable a webhook that was disabled after failing for too long; its pending deliveries go at once";
    RotateWebhookSecret: "webhooks", "A new signing secret, shown once; the old one signs webhook-signature too for 24 hours";
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_operation_has_its_own_method_and_route() {
        let mut seen = std::collections::HashSet::new();
        for op in OPERATIONS {
            assert!(
                seen.insert((op.method, op.route)),
                "{} {} is defined twice",
                op.method,
                op.route
            );
            assert!(op.route.starts_with("/api/"), "{}", op.route);
        }
        assert_eq!(OPERATIONS.len(), 41);
    }

    /// The document's examples (the published documentation's bodies) are requests the
    /// server accepts.
    #[test]
    fn every_example_parses_and_validates() {
        struct Examples(Vec<String>);
        impl Visitor for Examples {
            fn visit<E: Endpoint>(&mut self, op: Operation) {
                for e in E::EXAMPLES {
                    if let Err(err) = e.check() {
                        panic!("{} example {:?}: {err}", op.name, e.summary);
                    }
                    self.0.push(op.name.to_owned());
                }
            }
        }
        let mut seen = Examples(Vec::new());
        visit_all(&mut seen);
        // Every operation that takes a body with fields has one.
        for name in [
            "CreateInstanceRequest",
            "SendRequest",
            "SendNumberDocumentRequest",
            "SendDocumentToChannelRequest",
            "AddChannelRequest",
            "CreateScheduleRequest",
            "CreateWebhookRequest",
            "AddSandboxGroup",
            "SandboxInbound",
            "RotateWebhookSecret",
        ] {
            assert!(seen.0.iter().any(|n| n == name), "{name} has no example");
        }
        assert_eq!(seen.0.len(), 24);
    }

    #[test]
    fn routes_are_filled_segment_by_segment() {
        assert_eq!(fill_route("/api/queue/{id}", &["142"]), "/api/queue/142");
        assert_eq!(
            fill_route("/api/channels/{id}", &["a/b?c d"]),
            "/api/channels/a%2Fb%3Fc%20d"
        );
        assert_eq!(fill_route("/api/usage", &[]), "/api/usage");
    }
}
