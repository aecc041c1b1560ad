//! Webhooks: the events the server POSTs, and the subscriptions that say where.
//!
//! The wire shape of every event is
//! `{"id":"evt_…","event":"message.sent","timestamp":"…","instanceId":"…","data":{…}}`;
//! see [`Event`]. To verify and parse a delivery use [`crate::signature::Verifier`].

use chrono::{DateTime, Utc};
use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::endpoint::{Answer, Endpoint, Link, Method, body_endpoint, fill_route, path_endpoint};
use crate::ids::{DeliveryId, EventId, InstanceId, QueueId, WebhookId};
use crate::models::common::Empty;
use crate::page::{Cursor, list_endpoint, page_of};
use crate::secret::WebhookSecret;
use crate::validation::{Validate, ValidationError};

/// The seven documented event names.
pub const EVENT_TYPES: [&str; 7] = [
    "message.sent",
    "message.failed",
    "message.received",
    "message.delivered",
    "message.read",
    "instance.online",
    "instance.offline",
];

/// A webhook event: common fields plus the event's own [`EventData`].
///
/// ```
/// use sevenoways_sdk::models::webhooks::{Event, EventData};
/// let body = r#"{"id":"evt_1","event":"message.read","timestamp":"2026-11-24T09:00:00Z","instanceId":"number2","data":{"queueId":142,"to":"971501234567"}}"#;
/// let event: Event = serde_json::from_str(body)?;
/// assert!(matches!(event.data, EventData::MessageRead(ref m) if m.queue_id.0 == 142));
/// // Serialising gives back the same bytes: the server signs exactly these.
/// assert_eq!(serde_json::to_string(&event)?, body);
/// # Ok::<(), serde_json::Error>(())
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct Event {
    /// Unique per event; the same on every retry, so receivers can deduplicate.
    pub id: EventId,
    /// When it happened.
    pub timestamp: DateTime<Utc>,
    /// The instance it concerns.
    pub instance_id: InstanceId,
    /// What happened.
    pub data: EventData,
}

impl Event {
    /// The event's name (`message.sent`, ...), or the unknown name as received.
    pub fn event_type(&self) -> &str {
        self.data.event_type()
    }
}

/// What happened, by event type. Events added after this SDK version arrive as
/// [`EventData::Unknown`] with their name and raw `data` kept.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum EventData {
    /// `message.sent`: WhatsApp accepted the message.
    MessageSent(MessageEvent),
    /// `message.failed`: the message will not be sent.
    MessageFailed(MessageFailed),
    /// `message.received`: someone wrote to the number.
    MessageReceived(MessageReceived),
    /// `message.delivered`: it reached the recipient's phone.
    MessageDelivered(MessageEvent),
    /// `message.read`: the recipient read it.
    MessageRead(MessageEvent),
    /// `instance.online`: the number connected.
    InstanceOnline(InstanceEvent),
    /// `instance.offline`: the number disconnected.
    InstanceOffline(InstanceEvent),
    /// `webhook.disabled`: one of the account's webhooks failed for too long and was
    /// disabled (see [`WEBHOOK_DISABLED_EVENT`]).
    WebhookDisabled(WebhookDisabled),
    /// An event this SDK version does not know.
    Unknown {
        /// Its name.
        event: String,
        /// Its `data`, untouched.
        data: serde_json::Value,
    },
}

impl EventData {
    /// The event's name.
    pub fn event_type(&self) -> &str {
        match self {
            Self::MessageSent(_) => "message.sent",
            Self::MessageFailed(_) => "message.failed",
            Self::MessageReceived(_) => "message.received",
            Self::MessageDelivered(_) => "message.delivered",
            Self::MessageRead(_) => "message.read",
            Self::InstanceOnline(_) => "instance.online",
            Self::InstanceOffline(_) => "instance.offline",
            Self::WebhookDisabled(_) => WEBHOOK_DISABLED_EVENT,
            Self::Unknown { event, .. } => event,
        }
    }
}

/// `data` of `message.sent`, `message.delivered` and `message.read`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(rename_all = "camelCase")]
pub struct MessageEvent {
    /// The queue entry.
    pub queue_id: QueueId,
    /// The recipient.
    pub to: String,
    /// `text`, `image` or `document`, where known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kind: Option<String>,
}

/// `data` of `message.failed`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(rename_all = "camelCase")]
pub struct MessageFailed {
    /// The queue entry.
    pub queue_id: QueueId,
    /// The recipient.
    pub to: String,
    /// Why.
    pub error: String,
    /// Attempts made.
    pub attempts: u32,
}

/// `data` of `message.received`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(rename_all = "camelCase")]
pub struct MessageReceived {
    /// The WhatsApp message id.
    pub message_id: String,
    /// The sender's number (digits, country code first).
    pub from: String,
    /// The chat it came in: the sender's number or a group id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub chat: Option<String>,
    /// The text.
    pub message: String,
}

/// `data` of `instance.online` and `instance.offline`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(rename_all = "camelCase")]
pub struct InstanceEvent {
    /// `online` or `offline`.
    pub status: String,
    /// The paired number, when known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub phone: Option<String>,
}

/// `data` of `webhook.disabled`. The URL is left out on purpose: it may carry a token, and
/// this event goes to the account's other endpoints.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(rename_all = "camelCase")]
pub struct WebhookDisabled {
    /// The webhook that was disabled; enable it with `POST /api/webhooks/:id/enable`.
    pub webhook_id: WebhookId,
    /// Why, in words (the failure streak and the last error).
    pub reason: String,
    /// Consecutive failed attempts.
    pub failure_streak: u32,
    /// When the first of them was made.
    pub failing_since: DateTime<Utc>,
}

#[derive(Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
struct WireEvent<D> {
    id: EventId,
    event: String,
    timestamp: DateTime<Utc>,
    instance_id: InstanceId,
    data: D,
}

impl Serialize for Event {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        fn wire<S: Serializer, D: Serialize>(e: &Event, data: &D, s: S) -> Result<S::Ok, S::Error> {
            WireEvent {
                id: e.id.clone(),
                event: e.event_type().to_owned(),
                timestamp: e.timestamp,
                instance_id: e.instance_id.clone(),
                data,
            }
            .serialize(s)
        }
        match &self.data {
            EventData::MessageSent(d)
            | EventData::MessageDelivered(d)
            | EventData::MessageRead(d) => wire(self, d, s),
            EventData::MessageFailed(d) => wire(self, d, s),
            EventData::MessageReceived(d) => wire(self, d, s),
            EventData::InstanceOnline(d) | EventData::InstanceOffline(d) => wire(self, d, s),
            EventData::WebhookDisabled(d) => wire(self, d, s),
            EventData::Unknown { data, .. } => wire(self, data, s),
        }
    }
}

impl<'de> Deserialize<'de> for Event {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        use serde::de::Error;
        let w = WireEvent::<serde_json::Value>::deserialize(d)?;
        fn parse<T: serde::de::DeserializeOwned, E: Error>(v: serde_json::Value) -> Result<T, E> {
            serde_json::from_value(v).map_err(|e| E::custom(format!("data: {e}")))
        }
        let data = match w.event.as_str() {
            "message.sent" => EventData::MessageSent(parse(w.data)?),
            "message.failed" => EventData::MessageFailed(parse(w.data)?),
            "message.received" => EventData::MessageReceived(parse(w.data)?),
            "message.delivered" => EventData::MessageDelivered(parse(w.data)?),
            "message.read" => EventData::MessageRead(parse(w.data)?),
            "instance.online" => EventData::InstanceOnline(parse(w.data)?),
            "instance.offline" => EventData::InstanceOffline(parse(w.data)?),
            WEBHOOK_DISABLED_EVENT => EventData::WebhookDisabled(parse(w.data)?),
            _ => EventData::Unknown {
                event: w.event,
                data: w.data,
            },
        };
        Ok(Event {
            id: w.id,
            timestamp: w.timestamp,
            instance_id: w.instance_id,
            data,
        })
    }
}

/// `POST /api/webhooks`: subscribe a URL to events.
///
/// The documentation configures webhooks in a dashboard; this API is our addition.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(rename_all = "camelCase")]
pub struct CreateWebhookRequest {
    /// Where events are POSTed (http or https).
    #[cfg_attr(feature = "schema", schemars(with = "crate::MediaUrl"))]
    pub url: String,
    /// Event names to send; empty means all.
    #[serde(
        default,
        deserialize_with = "super::de::one_or_many",
        skip_serializing_if = "Vec::is_empty"
    )]
    #[cfg_attr(feature = "schema", schemars(with = "super::de::OneOrMany<EventName>"))]
    pub events: Vec<String>,
    /// The signing secret (16 to 256 characters); the server generates one when omitted.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "schema", schemars(with = "Option<SecretText>"))]
    pub secret: Option<WebhookSecret>,
}

/// The schema of a secret a subscriber chooses ([`CreateWebhookRequest::validate`]).
#[cfg(feature = "schema")]
struct SecretText;

#[cfg(feature = "schema")]
impl schemars::JsonSchema for SecretText {
    fn schema_name() -> std::borrow::Cow<'static, str> {
        "WebhookSecretText".into()
    }
    fn json_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
        schemars::json_schema!({"type": "string", "minLength": 16, "maxLength": 256, "writeOnly": true})
    }
}

/// The schema of an event name a subscription may ask for: one of [`SUBSCRIBABLE_EVENTS`].
#[cfg(feature = "schema")]
struct EventName;

#[cfg(feature = "schema")]
impl schemars::JsonSchema for EventName {
    fn schema_name() -> std::borrow::Cow<'static, str> {
        "EventName".into()
    }
    fn json_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
        schemars::json_schema!({"type": "string", "enum": SUBSCRIBABLE_EVENTS})
    }
}

impl Validate for CreateWebhookRequest {
    fn validate(&self) -> Result<(), ValidationError> {
        // The URL is listed back by `GET /api/webhooks`: a password in it would leak there.
        let authority = self.url.split("://").nth(1).unwrap_or("");
        if authority
            .split(['/', '?', '#'])
            .next()
            .unwrap_or("")
            .contains('@')
        {
            return Err(ValidationError::new(
                "url",
                "expected a URL without a user name or password: receivers authenticate \
                 deliveries by their X-Webhook-Signature",
            ));
        }
        super::common::MediaUrl::exact(&self.url)
            .map_err(|e| ValidationError::new("url", e.reason().to_owned()))?;
        for (i, e) in self.events.iter().enumerate() {
            if !SUBSCRIBABLE_EVENTS.contains(&e.as_str()) {
                return Err(ValidationError::new(
                    format!("events[{i}]"),
                    format!(
                        "expected one of {}, got {e:?}",
                        SUBSCRIBABLE_EVENTS.join(", ")
                    ),
                ));
            }
        }
        validate_secret(self.secret.as_ref())
    }
}

/// A caller's secret is 16 to 256 characters (a generated one is 256 bits), as
/// [`SecretText`]'s schema says.
fn validate_secret(secret: Option<&WebhookSecret>) -> Result<(), ValidationError> {
    match secret {
        Some(s) if s.expose().chars().count() < 16 => Err(ValidationError::new(
            "secret",
            "expected a secret of at least 16 characters",
        )),
        Some(s) if s.expose().chars().count() > 256 => Err(ValidationError::new(
            "secret",
            "expected a secret of at most 256 characters",
        )),
        _ => Ok(()),
    }
}

body_endpoint!(CreateWebhookRequest => POST "/api/webhooks" -> WebhookCreated {
    answers: [Answer::new(
        409,
        "The key has as many webhooks as its plan's max_webhooks allows: delete one first.",
    )],
    examples: [(
        "Sends and failures",
        r#"{"url":"https://example.com/webhooks/sevenoways","events":["message.sent","message.failed"]}"#
    )],
    links: [
        Link::to::<DeleteWebhook>(&[("id", WEBHOOK)]),
        Link::to::<TestWebhook>(&[("id", WEBHOOK)]),
        Link::to::<ListDeliveries>(&[("id", WEBHOOK)]),
        Link::to::<EnableWebhook>(&[("id", WEBHOOK)]),
        Link::to::<RotateWebhookSecret>(&[("id", WEBHOOK)]),
    ],
});

/// Where a created subscription's id is in the answer, for links.
const WEBHOOK: &str = "$response.body#/webhook/id";

list_endpoint! {
    /// `GET /api/webhooks`: the subscriptions, oldest first, never with their secrets, a
    /// page at a time.
    ListWebhooks {} => "/api/webhooks" -> WebhookList
}

path_endpoint! {
    /// `DELETE /api/webhooks/{id}`: the subscription and its deliveries.
    DeleteWebhook {
        /// The subscription's id (`wh_…`).
        id: WebhookId,
    } => Delete "/api/webhooks/{id}" -> Empty
}

path_endpoint! {
    /// `POST /api/webhooks/{id}/test`: queues a signed [`TEST_EVENT`] to this subscription
    /// only, whatever its event filter.
    TestWebhook {
        /// The subscription's id (`wh_…`).
        id: WebhookId,
    } => Post "/api/webhooks/{id}/test" -> Empty {
        answers: [MANUAL_CALL_DISABLED, MANUAL_CALLS_LIMITED],
    }
}

/// `test` and `redeliver` while the webhook is disabled.
const MANUAL_CALL_DISABLED: Answer = Answer::new(
    409,
    "The webhook is disabled: enable it first (POST /api/webhooks/{id}/enable).",
);

/// `test` and `redeliver` share a per-key allowance.
const MANUAL_CALLS_LIMITED: Answer = Answer::new(
    429,
    "Over the key's test and redeliver allowance (10 calls per sliding minute, the two \
     together, by default); nothing was queued. Retry-After says when to try again.",
);

list_endpoint! {
    /// `GET /api/webhooks/{id}/deliveries`: the deliveries, newest first, a page at a time.
    ListDeliveries {
        /// The subscription's id (`wh_…`).
        id: WebhookId,
    } => "/api/webhooks/{id}/deliveries" -> DeliveryList {
        links: [
            Link::to::<GetDelivery>(&[("id", "$request.path.id"), ("deliveryId", DELIVERY)]),
            Link::to::<Redeliver>(&[("id", "$request.path.id"), ("deliveryId", DELIVERY)]),
        ],
    }
}

/// The newest delivery's id in a delivery list, for links.
const DELIVERY: &str = "$response.body#/deliveries/0/id";

path_endpoint! {
    /// `GET /api/webhooks/{id}/deliveries/{deliveryId}`: one delivery with every attempt.
    GetDelivery {
        /// The subscription's id (`wh_…`).
        id: WebhookId,
        /// The delivery's id (`dlv_…`).
        delivery_id: DeliveryId,
    } => Get "/api/webhooks/{id}/deliveries/{deliveryId}" -> DeliveryDetail
}

path_endpoint! {
    /// `POST /api/webhooks/{id}/deliveries/{deliveryId}/redeliver`: pending again, due
    /// now, with a fresh retry budget; the receiver sees the same event id.
    Redeliver {
        /// The subscription's id (`wh_…`).
        id: WebhookId,
        /// The delivery's id (`dlv_…`).
        delivery_id: DeliveryId,
    } => Post "/api/webhooks/{id}/deliveries/{deliveryId}/redeliver" -> Empty {
        answers: [MANUAL_CALL_DISABLED, MANUAL_CALLS_LIMITED],
    }
}

path_endpoint! {
    /// `POST /api/webhooks/{id}/enable`: turns a disabled webhook back on (or closes an
    /// open circuit breaker): its failure streak is cleared and its pending deliveries are
    /// due at once, with a fresh retry window.
    EnableWebhook {
        /// The subscription's id (`wh_…`).
        id: WebhookId,
    } => Post "/api/webhooks/{id}/enable" -> WebhookEnabled
}

/// `POST /api/webhooks/{id}/rotate-secret`: a new signing secret, shown once in the
/// answer. The old one keeps signing `webhook-signature` as well for 24 hours (see
/// [`SecretRotated::previous_secret_expires_at`]), so Standard Webhooks receivers switch
/// without a failed delivery. `X-Webhook-Signature` holds one signature, compared as a
/// string by the documented receiver, so it carries the new secret at once; a receiver
/// still on the old one fails until it has the new one, and those deliveries are retried.
///
/// ```
/// use sevenoways_sdk::Endpoint;
/// use sevenoways_sdk::models::webhooks::RotateWebhookSecret;
/// let op = RotateWebhookSecret::new("wh_1".parse()?);
/// assert_eq!(op.path(), "/api/webhooks/wh_1/rotate-secret");
/// # Ok::<(), sevenoways_sdk::ValidationError>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RotateWebhookSecret {
    /// The subscription's id (`wh_…`).
    pub id: WebhookId,
    /// The new secret, if the caller chooses it.
    pub request: RotateSecretRequest,
}

impl RotateWebhookSecret {
    /// Rotate to a secret the server generates.
    pub fn new(id: WebhookId) -> Self {
        Self {
            id,
            request: RotateSecretRequest::default(),
        }
    }
}

/// The body of `POST /api/webhooks/{id}/rotate-secret`: `{}` for a generated secret.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(rename_all = "camelCase")]
pub struct RotateSecretRequest {
    /// The new signing secret, 16 to 256 characters; the server generates one when
    /// omitted.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "schema", schemars(with = "Option<SecretText>"))]
    pub secret: Option<WebhookSecret>,
}

impl Validate for RotateSecretRequest {
    fn validate(&self) -> Result<(), ValidationError> {
        validate_secret(self.secret.as_ref())
    }
}

impl Endpoint for RotateWebhookSecret {
    const METHOD: Method = Method::Post;
    const ROUTE: &'static str = "/api/webhooks/{id}/rotate-secret";
    type Body = RotateSecretRequest;
    type Response = SecretRotated;

    fn path(&self) -> std::borrow::Cow<'_, str> {
        fill_route(Self::ROUTE, &[self.id.as_str()]).into()
    }

    fn body(&self) -> Option<&RotateSecretRequest> {
        Some(&self.request)
    }

    fn check(&self) -> Result<(), ValidationError> {
        self.request.validate()
    }

    const EXAMPLES: &'static [crate::endpoint::Example] = &[
        crate::endpoint::Example::of::<RotateSecretRequest>("A generated secret", "{}"),
        crate::endpoint::Example::of::<RotateSecretRequest>(
            "A secret of your own",
            r#"{"secret":"correct-horse-battery-staple"}"#,
        ),
    ];

    #[cfg(feature = "schema")]
    fn path_schemas(generator: &mut schemars::SchemaGenerator) -> Option<Vec<schemars::Schema>> {
        Some(vec![generator.subschema_for::<WebhookId>()])
    }
}

/// A webhook subscription.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(rename_all = "camelCase")]
pub struct Webhook {
    /// For `DELETE /api/webhooks/:id`.
    pub id: WebhookId,
    /// Where events go.
    pub url: String,
    /// The events sent; empty means all.
    pub events: Vec<String>,
    /// When it was created.
    pub created_at: DateTime<Utc>,
    /// Nothing is delivered to it: it failed for too long (see `disabledReason`). Enable
    /// it again with `POST /api/webhooks/:id/enable`.
    #[serde(default)]
    pub disabled: bool,
    /// Why it was disabled.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub disabled_reason: Option<String>,
    /// When it was disabled.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub disabled_at: Option<DateTime<Utc>>,
    /// Consecutive failed attempts; 0 after any success.
    #[serde(default)]
    pub failure_streak: u32,
    /// While its circuit breaker is open after repeated failures: no attempt before then.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub paused_until: Option<DateTime<Utc>>,
    /// After a rotation, the old secret signs as well until then.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub previous_secret_expires_at: Option<DateTime<Utc>>,
}

impl Webhook {
    /// A new subscription as the server stores it: enabled, no failures, one secret.
    pub fn new(id: WebhookId, url: String, events: Vec<String>, created_at: DateTime<Utc>) -> Self {
        Self {
            id,
            url,
            events,
            created_at,
            disabled: false,
            disabled_reason: None,
            disabled_at: None,
            failure_streak: 0,
            paused_until: None,
            previous_secret_expires_at: None,
        }
    }
}

/// `POST /api/webhooks/:id/enable` answer: the subscription as it is now.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct WebhookEnabled {
    /// The subscription, enabled.
    pub webhook: Webhook,
}

/// `POST /api/webhooks/:id/rotate-secret` answer: the new secret, shown only this once.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(rename_all = "camelCase")]
pub struct SecretRotated {
    /// The new signing secret.
    pub secret: WebhookSecret,
    /// Until then the old secret signs too, in `webhook-signature` (which carries both
    /// signatures); `X-Webhook-Signature` is made with the new secret from the start.
    pub previous_secret_expires_at: DateTime<Utc>,
}

/// `POST /api/webhooks` answer: the subscription and its secret, shown only this once.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct WebhookCreated {
    /// The subscription.
    pub webhook: Webhook,
    /// The signing secret.
    pub secret: WebhookSecret,
}

/// `GET /api/webhooks`: `{"success":true,"webhooks":[…]}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct WebhookList {
    /// Oldest first.
    pub webhooks: Vec<Webhook>,
    /// The next page's `?cursor=`; absent on the last page.
    #[serde(
        rename = "nextCursor",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub next_cursor: Option<Cursor>,
}

page_of!(WebhookList, webhooks: Webhook);

/// One delivery of one event to one subscription, with its attempts so far.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(rename_all = "camelCase")]
pub struct Delivery {
    /// For `POST /api/webhooks/:id/deliveries/:deliveryId/redeliver`.
    pub id: DeliveryId,
    /// The event's id (`X-Webhook-Id`).
    pub event_id: EventId,
    /// The event's name.
    pub event: String,
    /// `pending`, `succeeded` or `failed` (gave up).
    pub status: String,
    /// Attempts made.
    pub attempts: u32,
    /// The receiver's last HTTP status, if it answered.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub response_code: Option<u16>,
    /// How long the last attempt took, in milliseconds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub latency_ms: Option<u64>,
    /// The last error, if the last attempt failed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_error: Option<String>,
    /// When the next attempt is due, while pending.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub next_attempt_at: Option<DateTime<Utc>>,
    /// When the event was raised.
    pub created_at: DateTime<Utc>,
}

/// `GET /api/webhooks/:id/deliveries`: `{"success":true,"deliveries":[…]}`, newest first.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct DeliveryList {
    /// Newest first.
    pub deliveries: Vec<Delivery>,
    /// The next page's `?cursor=`; absent on the last page.
    #[serde(
        rename = "nextCursor",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub next_cursor: Option<Cursor>,
}

page_of!(DeliveryList, deliveries: Delivery);

#[cfg(feature = "schema")]
impl schemars::JsonSchema for Event {
    fn schema_name() -> std::borrow::Cow<'static, str> {
        "Event".into()
    }

    fn json_schema(generator: &mut schemars::SchemaGenerator) -> schemars::Schema {
        let data = [
            generator.subschema_for::<MessageEvent>(),
            generator.subschema_for::<MessageFailed>(),
            generator.subschema_for::<MessageReceived>(),
            generator.subschema_for::<InstanceEvent>(),
            generator.subschema_for::<WebhookDisabled>(),
            generator.subschema_for::<crate::models::schedules::ScheduleEvent>(),
            // `webhook.test`: `{"webhookId":"wh_…","message":"…"}`.
            schemars::json_schema!({"type": "object", "required": ["webhookId", "message"],
                "properties": {"webhookId": {"type": "string"}, "message": {"type": "string"}}}),
        ];
        let mut names = SUBSCRIBABLE_EVENTS.to_vec();
        names.push(TEST_EVENT);
        schemars::json_schema!({
            "type": "object",
            "description": "A webhook delivery's body, signed with X-Webhook-Signature.",
            "required": ["id", "event", "timestamp", "instanceId", "data"],
            "properties": {
                "id": generator.subschema_for::<EventId>(),
                "event": { "type": "string", "enum": names },
                "timestamp": { "type": "string", "format": "date-time" },
                "instanceId": generator.subschema_for::<InstanceId>(),
                "data": { "anyOf": data }
            }
        })
    }
}

/// The event raised when a webhook is disabled after failing for too long. It is delivered
/// to the account's other webhooks that take every event or name it in their filter; its
/// `instanceId` is [`WEBHOOKS_INSTANCE`], since no instance is concerned.
pub const WEBHOOK_DISABLED_EVENT: &str = "webhook.disabled";

/// The `instanceId` of events about webhooks themselves (`webhook.disabled`).
pub const WEBHOOKS_INSTANCE: &str = "webhooks";

/// Event names a subscription's filter may list: the seven documented ones,
/// [`WEBHOOK_DISABLED_EVENT`] and the schedule events
/// ([`SCHEDULE_EVENT_TYPES`](crate::models::schedules::SCHEDULE_EVENT_TYPES)).
pub const SUBSCRIBABLE_EVENTS: [&str; 10] = [
    EVENT_TYPES[0],
    EVENT_TYPES[1],
    EVENT_TYPES[2],
    EVENT_TYPES[3],
    EVENT_TYPES[4],
    EVENT_TYPES[5],
    EVENT_TYPES[6],
    WEBHOOK_DISABLED_EVENT,
    crate::models::schedules::SCHEDULE_EVENT_TYPES[0],
    crate::models::schedules::SCHEDULE_EVENT_TYPES[1],
];

/// The event name of `POST /api/webhooks/:id/test` deliveries. Not one of the seven
/// documented events: receivers see it as [`EventData::Unknown`], with `data`
/// `{"webhookId":"wh_…","message":"…"}`, signed like every other delivery.
pub const TEST_EVENT: &str = "webhook.test";

/// One attempt of a delivery.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(rename_all = "camelCase")]
pub struct DeliveryAttempt {
    /// 1 for the first attempt.
    pub attempt: u32,
    /// When it started.
    pub started_at: DateTime<Utc>,
    /// The receiver's HTTP status, if it answered.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub response_code: Option<u16>,
    /// How long it took, in milliseconds.
    pub latency_ms: u64,
    /// What went wrong, if it failed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

/// `GET /api/webhooks/:id/deliveries/:deliveryId`: a delivery and every attempt at it,
/// oldest first.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct DeliveryDetail {
    /// The delivery.
    pub delivery: Delivery,
    /// Its attempts, oldest first.
    pub attempts: Vec<DeliveryAttempt>,
}
